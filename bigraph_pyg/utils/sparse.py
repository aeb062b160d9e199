r"""Sparse-graph utilities shared by the layers, the tests and the benchmarks.

Every graph a layer accepts (a ``[2, E]`` index tensor, a PyG
:class:`~torch_geometric.EdgeIndex`, a :mod:`torch.sparse` COO/CSR/CSC
``adj_t`` or a :class:`torch_sparse.SparseTensor`) is first reduced to one
canonical form, :class:`EdgeList`: source indices, target indices, one weight
per edge and the bipartite size ``(N_src, N_dst)``.  Row ``i`` of the paper's
adjacency :math:`\mathbf{A}` is the set of edges whose *target* is ``i``
(``edge_index[1] == i``), i.e. row ``i`` of ``adj_t``.
The reader of each format is in ``bigraph_pyg.utils._graph_formats``.

Functions here are pure (tensors in, tensors out); device and dtype follow the
inputs.  The batched products with a custom backward that the layers run
(:func:`~bigraph_pyg.utils.batched_spmm` and friends) are in
:mod:`bigraph_pyg.utils.spmm`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import Tensor
from torch_geometric.utils import is_torch_sparse_tensor, scatter

from bigraph_pyg.utils._graph_formats import (
    from_index,
    from_sparse_matrix,
    from_sparse_tensor,
    is_sparse_tensor,
)

__all__ = [
    "EdgeList",
    "unpack_graph",
    "check_edge_list",
    "row_normalize",
    "fold_batch",
    "unfold_batch",
    "to_dense_adjacency",
    "dense_row_normalize",
    "to_csr_adj_t",
    "crow_indices",
]


@dataclass(frozen=True)
class EdgeList:
    """A graph in canonical edge-list form.

    Attributes:
        src (Tensor): Source node of each edge, ``(E,)`` int64.
        dst (Tensor): Target node of each edge, ``(E,)`` int64.
        weight (Tensor or None): Weight of each edge, ``(E,)``; ``None``
            means every edge has weight 1.
        size (tuple[int, int]): ``(N_src, N_dst)``.
    """

    src: Tensor
    dst: Tensor
    weight: Tensor | None
    size: tuple[int, int]

    @property
    def num_edges(self) -> int:
        """Number of stored edges ``E``."""
        return int(self.src.numel())


def unpack_graph(
    edge_index: object,
    edge_weight: Tensor | None = None,
    size: tuple[int | None, int | None] | None = None,
) -> EdgeList:
    r"""Reduce any supported graph format to an :class:`EdgeList`.

    Args:
        edge_index: ``Tensor`` ``[2, E]`` (row 0 = source, row 1 = target),
            :class:`~torch_geometric.EdgeIndex`, a :mod:`torch.sparse`
            ``adj_t`` of shape ``(N_dst, N_src)`` (COO, CSR or CSC; its
            values are the edge weights), or a
            :class:`torch_sparse.SparseTensor` ``adj_t``.
        edge_weight (Tensor, optional): ``(E,)`` weights for an index
            tensor.  Must be ``None`` for sparse matrices, which carry their
            own values.
        size (tuple, optional): ``(N_src, N_dst)``; entries may be ``None``.

    Returns:
        EdgeList: edges in the order they are stored.  For sparse matrices
        that is row-major order (by target, then source), which is also the
        order of the graph builders in :mod:`bigraph_pyg.topology`.

    Raises:
        ValueError: for an unsupported type, a malformed index tensor, or
            weights given twice.
    """
    if is_torch_sparse_tensor(edge_index):
        parts = from_sparse_matrix(edge_index, edge_weight)
    elif is_sparse_tensor(edge_index):
        parts = from_sparse_tensor(edge_index, edge_weight)
    else:
        parts = from_index(edge_index, edge_weight, size)
    return EdgeList(*parts)


def check_edge_list(graph: EdgeList, *, check_weights: bool = True) -> None:
    r"""Validate indices and weights of an :class:`EdgeList`.

    Data-dependent (host syncs): the layers call it once per graph while
    :func:`~bigraph_pyg.nn.validation` is on (the default), never under
    ``validation(False)`` nor while :func:`torch.compile` traces.

    Args:
        graph (EdgeList): The graph to validate.
        check_weights (bool): Also check that every weight is finite and
            non-negative (ignored when ``graph.weight`` is ``None``).

    Raises:
        IndexError: if an index lies outside ``[0, N_src)`` / ``[0, N_dst)``.
        ValueError: if a weight is negative, NaN or infinite.
    """
    if torch.compiler.is_compiling():
        return
    n_src, n_dst = graph.size
    for name, idx, n in (
        ("source (edge_index[0])", graph.src, n_src),
        ("target (edge_index[1])", graph.dst, n_dst),
    ):
        if idx.numel() == 0:
            continue
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= n:
            raise IndexError(
                f"Expected every {name} index in [0, {n}) "
                f"(got values in [{lo}, {hi}])"
            )
    w = graph.weight
    if check_weights and w is not None and w.numel() > 0:
        if not bool(torch.isfinite(w).all()):
            bad = int((~torch.isfinite(w)).sum())
            raise ValueError(
                "Expected finite `edge_weight` values "
                f"(got {bad} NaN or infinite of {w.numel()})"
            )
        if bool((w < 0).any()):
            raise ValueError(
                "Expected non-negative `edge_weight` values "
                f"(got minimum {float(w.min()):.4g})"
            )


def row_normalize(
    dst: Tensor,
    weight: Tensor,
    num_nodes: int,
    eps: float = 1e-12,
) -> Tensor:
    r"""Row-normalise edge weights: :math:`\mathrm{RowNorm}(\mathbf{M})`.

    .. math::
        \hat{m}_{ij} = \frac{m_{ij}}{\max(\sum_{k} |m_{ik}|, \epsilon)}

    where row :math:`i` holds the edges whose target is :math:`i`.  While
    the weights are non-negative (every fixed adjacency, and the fusion
    graph at initialisation) the denominator is the plain row sum of the
    paper; dividing by the absolute sum keeps rows bounded if a learnable
    factor turns negative.  A row whose weights all vanish stays all-zero
    (no NaN): its node receives no message.

    Args:
        dst (Tensor): Target node of each edge, ``(E,)``.
        weight (Tensor): Edge weights, ``(E,)``.
        num_nodes (int): Number of target nodes ``N_dst``.
        eps (float): Lower bound of the denominator.

    Returns:
        Tensor: Normalised weights, ``(E,)``.

    Example:
        >>> dst = torch.tensor([0, 0, 1])
        >>> row_normalize(dst, torch.tensor([1.0, 3.0, 2.0]), 2)
        tensor([0.2500, 0.7500, 1.0000])
    """
    denom = scatter(weight.abs(), dst, 0, dim_size=num_nodes, reduce="sum")
    return weight / denom.clamp_min(eps)[dst]


def fold_batch(x: Tensor) -> Tensor:
    """Fold ``[B, N, C]`` into ``[N, B*C]`` (``[N, C]`` passes through).

    Args:
        x (Tensor): Node features, ``(N, C)`` or ``(B, N, C)``.

    Returns:
        Tensor: ``(N, B*C)``, column ``b*C + c`` holding channel ``c`` of
        sample ``b``; a 2-D ``x`` is returned unchanged.
    """
    if x.dim() == 2:
        return x
    b, n, c = x.shape
    return x.permute(1, 0, 2).reshape(n, b * c)


def unfold_batch(
    y: Tensor,
    batch_size: int | None,
    channels: int | None = None,
) -> Tensor:
    """Invert :func:`fold_batch`: ``[N, B*C]`` into ``[B, N, C]``.

    Args:
        y (Tensor): Folded features, ``(N, B*C)``.
        batch_size (int, optional): ``B``; ``None`` returns ``y``
            unchanged (the input was not batched).
        channels (int, optional): ``C``; needed only for an empty batch
            (``B = 0``), where it cannot be inferred.

    Returns:
        Tensor: A ``(B, N, C)`` view of ``y``, or ``y`` itself.
    """
    if batch_size is None:
        return y
    n = y.size(0)
    c = -1 if channels is None else channels
    return y.view(n, batch_size, c).permute(1, 0, 2)


def to_csr_adj_t(
    src: Tensor,
    dst: Tensor,
    weight: Tensor,
    size: tuple[int, int],
) -> tuple[Tensor, Tensor]:
    r"""Build the CSR ``adj_t`` (``(N_dst, N_src)``) of an edge list.

    Args:
        src (Tensor): ``(E,)`` source node of each edge.
        dst (Tensor): ``(E,)`` target node of each edge.
        weight (Tensor): ``(E,)`` values (may require grad).
        size (tuple[int, int]): ``(N_src, N_dst)``.

    Returns:
        tuple: ``(adj_t, perm)`` where ``perm`` sorts the edges row-major
        (``adj_t.values() == weight[perm]``).
    """
    n_src, n_dst = size
    perm = torch.argsort(dst * n_src + src, stable=True)
    crow = crow_indices(dst, n_dst)
    with warnings.catch_warnings():  # "CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        adj_t = torch.sparse_csr_tensor(
            crow,
            src[perm],
            weight[perm],
            (n_dst, n_src),
            check_invariants=False,
        )
    return adj_t, perm


def crow_indices(row: Tensor, num_rows: int) -> Tensor:
    """CSR row pointers ``(num_rows + 1,)`` of the row index of each entry.

    A scatter-add of ones and a cumulative sum: unlike
    :func:`torch.bincount` the output size does not depend on the values,
    so no device-to-host sync and a static shape for :func:`torch.compile`.
    """
    ones = torch.ones_like(row)
    counts = row.new_zeros(num_rows + 1).index_add_(0, row + 1, ones)
    return counts.cumsum(0)


def to_dense_adjacency(
    src: Tensor,
    dst: Tensor,
    weight: Tensor | None,
    size: tuple[int, int],
) -> Tensor:
    r"""Dense ``(N_dst, N_src)`` matrix :math:`\mathbf{A}` of an edge list.

    Duplicate edges are summed (as in every sparse product of the library).
    Differentiable with respect to ``weight``.  Used as the dense reference
    by tests and benchmarks, and by the dense propagation path.

    Args:
        src (Tensor): ``(E,)`` source node of each edge.
        dst (Tensor): ``(E,)`` target node of each edge.
        weight (Tensor, optional): ``(E,)`` edge weights; ``None`` gives
            every edge weight 1.
        size (tuple[int, int]): ``(N_src, N_dst)``.

    Returns:
        Tensor: :math:`\mathbf{A}`, ``(N_dst, N_src)``, with
        :math:`a_{ij}` the summed weight of the edges ``j -> i``.
    """
    n_src, n_dst = size
    if weight is None:
        weight = torch.ones(src.numel(), device=src.device)
    adj = weight.new_zeros(n_dst, n_src)
    return adj.index_put((dst, src), weight, accumulate=True)


def dense_row_normalize(adj: Tensor, eps: float = 1e-12) -> Tensor:
    r"""Dense :math:`\mathrm{RowNorm}`: divide each row by its absolute sum.

    Reference implementation of :func:`row_normalize` on a dense
    ``(N_dst, N_src)`` matrix (rows whose entries all vanish stay zero).

    Args:
        adj (Tensor): Dense matrix, ``(N_dst, N_src)`` (or any shape whose
            last dimension indexes the sources).
        eps (float): Lower bound of the denominator.

    Returns:
        Tensor: Row-normalised matrix, same shape as ``adj``.
    """
    return adj / adj.abs().sum(-1, keepdim=True).clamp_min(eps)

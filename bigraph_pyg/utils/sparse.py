r"""Sparse graphs: their formats, their checks, and every batched product.

The one module behind the conv layers' graph side.

**Formats.** Every graph a layer accepts (a ``[2, E]`` index tensor, a PyG
:class:`~torch_geometric.EdgeIndex`, a :mod:`torch.sparse` COO/CSR/CSC
``adj_t`` or a :class:`torch_sparse.SparseTensor`) is first reduced to one
canonical form, :class:`EdgeList`: source indices, target indices, one weight
per edge and the bipartite size ``(N_src, N_dst)`` (:func:`unpack_graph`,
one reader a format: :func:`from_index`, :func:`from_sparse_matrix`,
:func:`from_sparse_tensor`).  Row ``i`` of the paper's adjacency
:math:`\mathbf{A}` is the set of edges whose *target* is ``i``
(``edge_index[1] == i``), i.e. row ``i`` of ``adj_t``.

**Checks and normalisation.** :func:`check_edge_list` (indices in range,
weights finite and non-negative), :func:`row_normalize` (the paper's
``RowNorm``), the dense references :func:`to_dense_adjacency` and
:func:`dense_row_normalize`.

**Batched products.** The ``impl`` paths of
:class:`~bigraph_pyg.nn.conv.NormalizedGraphConv` and its subclasses compute
:math:`\mathbf{A}\mathbf{X}` here, as :mod:`torch.library` custom operators
(``bigraph_pyg::spmm``, ``bigraph_pyg::csr_mm``, ``bigraph_pyg::csr_sddmm``,
``bigraph_pyg::blocks_mm``) with fake kernels and registered backwards, so
``torch.compile(fullgraph=True)`` keeps each one whole instead of breaking
the graph.  The CSR structure of a graph (:func:`csr_structure`) is built
once by the caller and reused.

* ``sparse``: :func:`batched_spmm`, the CSR product of the whole batch
  (on the CPU one product of the batch's block-diagonal matrix, on a GPU
  folded into the channels, :func:`fold_batch`), whose backward reaches
  both the features and the edge weights without per-edge message
  tensors;
* ``blocks``: :func:`bipartite_blocks_matmul`, the union joint/vertex graph
  of :class:`~bigraph_pyg.nn.conv.BipartiteFusionConv` through its two dense
  bipartite blocks;
* ``torch_sparse``: :func:`torch_sparse_matmul`, the same contract as
  :func:`batched_spmm` through torch-sparse's ``SparseTensor``.

Functions here are pure (tensors in, tensors out); device and dtype follow
the inputs.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import Tensor
from torch_geometric import EdgeIndex
from torch_geometric.typing import SparseTensor
from torch_geometric.utils import is_torch_sparse_tensor, scatter

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
    "CSRStructure",
    "csr_structure",
    "batched_spmm",
    "bipartite_blocks_matmul",
    "torch_sparse_matmul",
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


# -- the graph formats unpack_graph reads -------------------------------


def is_sparse_tensor(obj: object) -> bool:
    """Whether ``obj`` is a :class:`torch_sparse.SparseTensor`."""
    return isinstance(obj, SparseTensor) and not isinstance(obj, Tensor)


def from_sparse_matrix(adj_t: Tensor, edge_weight: Tensor | None) -> tuple:
    """Edges of a :mod:`torch.sparse` ``adj_t``, in row-major order.

    Args:
        adj_t (Tensor): ``(N_dst, N_src)`` COO, CSR or CSC matrix.
        edge_weight (Tensor, optional): Must be ``None``.

    Returns:
        tuple: ``(src, dst, weight, (N_src, N_dst))``.
    """
    if edge_weight is not None:
        raise ValueError(
            "Expected `edge_weight=None` when the graph is a sparse "
            "matrix `adj_t` (its values are the edge weights), got an "
            f"`edge_weight` of shape {tuple(edge_weight.shape)}"
        )
    if adj_t.dim() != 2:
        raise ValueError(
            "Expected a 2-D sparse `adj_t` of shape (N_dst, N_src) "
            f"(got shape {tuple(adj_t.shape)})"
        )
    if adj_t.layout == torch.sparse_coo:
        adj_t = adj_t.coalesce()
        dst, src = adj_t.indices()
        values = adj_t.values()
    else:
        if adj_t.layout != torch.sparse_csr:
            adj_t = adj_t.to_sparse_csr()
        crow, col = adj_t.crow_indices(), adj_t.col_indices()
        counts = crow[1:] - crow[:-1]
        # output_size: no device->host sync for the result's length
        dst = torch.repeat_interleave(
            torch.arange(counts.numel(), device=crow.device),
            counts,
            output_size=col.numel(),
        )
        src = col
        values = adj_t.values()
    n_dst, n_src = adj_t.shape
    return src.long(), dst.long(), values, (n_src, n_dst)


def from_sparse_tensor(
    adj_t: SparseTensor, edge_weight: Tensor | None
) -> tuple:
    """Edges of a :class:`torch_sparse.SparseTensor` ``adj_t``.

    Args:
        adj_t (SparseTensor): ``(N_dst, N_src)`` matrix.
        edge_weight (Tensor, optional): Must be ``None``.

    Returns:
        tuple: ``(src, dst, weight, (N_src, N_dst))``.
    """
    if edge_weight is not None:
        raise ValueError(
            "Expected `edge_weight=None` when the graph is a "
            "`SparseTensor` (its values are the edge weights), got an "
            f"`edge_weight` of shape {tuple(edge_weight.shape)}"
        )
    dst, src, values = adj_t.coo()
    n_dst, n_src = adj_t.sparse_sizes()
    return src, dst, values, (int(n_src), int(n_dst))


def from_index(
    edge_index: object,
    edge_weight: Tensor | None,
    size: tuple[int | None, int | None] | None,
) -> tuple:
    """Edges of a ``[2, E]`` index tensor or an ``EdgeIndex``, as stored.

    Args:
        edge_index: Row 0 = source, row 1 = target.
        edge_weight (Tensor, optional): ``(E,)`` weights, on the device of
            ``edge_index``.
        size (tuple, optional): ``(N_src, N_dst)``; entries may be
            ``None`` (an ``EdgeIndex`` fills them from its own sizes).

    Returns:
        tuple: ``(src, dst, weight, (N_src, N_dst))``.
    """
    if not isinstance(edge_index, Tensor):
        raise ValueError(
            "Expected `edge_index` to be a Tensor [2, E], an EdgeIndex, a "
            "torch.sparse adj_t or a SparseTensor (got "
            f"{type(edge_index).__name__})"
        )
    if (
        edge_index.is_floating_point()
        or edge_index.is_complex()
        or edge_index.dtype == torch.bool
    ):
        raise ValueError(
            "Expected `edge_index` of an integer dtype "
            f"(got {edge_index.dtype})"
        )
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(
            "Expected `edge_index` of shape [2, E] "
            f"(got {list(edge_index.shape)})"
        )
    n_src, n_dst = (None, None) if size is None else size
    if isinstance(edge_index, EdgeIndex):
        n_src = n_src if n_src is not None else edge_index.num_rows
        n_dst = n_dst if n_dst is not None else edge_index.num_cols
        edge_index = edge_index.as_tensor()
    src, dst = edge_index[0].long(), edge_index[1].long()
    if edge_weight is not None:
        if edge_weight.dim() != 1 or edge_weight.numel() != src.numel():
            raise ValueError(
                f"Expected `edge_weight` of shape ({src.numel()},), one "
                "weight per edge of `edge_index` "
                f"(got {tuple(edge_weight.shape)})"
            )
        if edge_weight.device != src.device:
            raise ValueError(
                "Expected `edge_weight` on the device of `edge_index` "
                f"({src.device}) (got {edge_weight.device})"
            )
    return src, dst, edge_weight, (n_src, n_dst)


# -- batched products ------------------------------------------------------

# CPU sparse kernels (MKL) have no float16/bfloat16 version: the products
# below run in float32 there and cast the result back.
_CPU_UPCAST = (torch.float16, torch.bfloat16)


@dataclass(frozen=True)
class CSRStructure:
    r"""The index structure of an edge list as CSR ``adj_t`` and its transpose.

    Built once per graph (:func:`csr_structure`) and reused on every call
    while the graph is unchanged: a product then only gathers the edge
    weights into CSR order (``weight[perm]``).

    Attributes:
        crow (Tensor): ``(N_dst + 1,)`` row pointers of ``adj_t``.
        col (Tensor): ``(E,)`` source node of each CSR entry.
        perm (Tensor): ``(E,)`` edge of each CSR entry (values are
            ``weight[perm]``).
        crow_t (Tensor): ``(N_src + 1,)`` row pointers of ``adj_t``'s
            transpose (for the gradient of the features).
        col_t (Tensor): ``(E,)`` target node of each transposed entry.
        perm_t (Tensor): ``(E,)`` CSR entry of each transposed entry
            (transposed values are ``values[perm_t]``).
    """

    crow: Tensor
    col: Tensor
    perm: Tensor
    crow_t: Tensor
    col_t: Tensor
    perm_t: Tensor


def csr_structure(
    src: Tensor,
    dst: Tensor,
    size: tuple[int, int],
) -> CSRStructure:
    """Sort an edge list into :class:`CSRStructure` (two argsorts).

    No device-to-host sync and static shapes (traceable by
    :func:`torch.compile`).

    Args:
        src (Tensor): ``(E,)`` source node of each edge.
        dst (Tensor): ``(E,)`` target node of each edge.
        size (tuple[int, int]): ``(N_src, N_dst)``.

    Returns:
        CSRStructure: the structure of ``adj_t`` and of its transpose.
    """
    n_src, n_dst = size
    perm = torch.argsort(dst * n_src + src, stable=True)
    col = src[perm]
    row = dst[perm]
    perm_t = torch.argsort(col * n_dst + row, stable=True)
    return CSRStructure(
        crow_indices(dst, n_dst),
        col,
        perm,
        crow_indices(src, n_src),
        row[perm_t],
        perm_t,
    )


def _csr(
    crow: Tensor, col: Tensor, values: Tensor, shape: tuple[int, int]
) -> Tensor:
    with warnings.catch_warnings():  # "CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            crow, col, values, shape, check_invariants=False
        )


# -- custom operators (opaque to torch.compile, with fake kernels) ----------


def _block_diagonal(
    crow: Tensor, col: Tensor, batch: int, num_src: int
) -> tuple[Tensor, Tensor]:
    """CSR rows and columns of ``blockdiag(A, ..., A)``, ``batch`` copies."""
    e = col.size(0)
    offsets = torch.arange(batch, device=col.device)
    crow_b = torch.cat(
        [
            (crow[:-1] + offsets[:, None] * e).flatten(),
            crow.new_full((1,), batch * e),
        ]
    )
    return crow_b, (col + offsets[:, None] * num_src).flatten()


def _csr_mm_impl(
    crow: Tensor, col: Tensor, values: Tensor, x: Tensor
) -> Tensor:
    """``A @ x`` for ``x`` of ``(N, C)`` or, per sample, ``(B, N, C)``.

    A batch is one product of the block-diagonal ``blockdiag(A, ..., A)``
    (``B * E`` entries, built per call in well under a millisecond) with
    ``x`` viewed as ``(B * N, C)``: no ``[N, B*C]`` fold of ``x`` and its
    unfold (two transposed copies of the features that took 4/5 of the
    folded product's time on the CPU), and one kernel call instead of
    ``B``: 1.3-1.6x faster than a loop over the samples, bit for bit the
    same (N=1723, B=64, C=256; ``docs/benchmarks.md``).
    """
    n_dst = crow.size(0) - 1
    # In the dtype the caller chose (autocast would recast to half, which
    # the CPU kernel lacks).
    with torch.autocast(x.device.type, enabled=False):
        if x.dim() == 2:
            return torch.sparse.mm(
                _csr(crow, col, values, (n_dst, x.size(0))), x
            )
        b, n_src, c = x.shape
        crow_b, col_b = _block_diagonal(crow, col, b, n_src)
        adj = _csr(crow_b, col_b, values.repeat(b), (b * n_dst, b * n_src))
        out = x.new_empty(b, n_dst, c)
        flat = out.view(b * n_dst, c)
        torch.addmm(flat, adj, x.reshape(b * n_src, c), beta=0.0, out=flat)
        return out


@torch.library.custom_op("bigraph_pyg::csr_mm", mutates_args=())
def _csr_mm(crow: Tensor, col: Tensor, values: Tensor, x: Tensor) -> Tensor:
    """``CSR(crow, col, values) @ x`` for a 2-D ``x``."""
    return _csr_mm_impl(crow, col, values, x)


@_csr_mm.register_fake
def _(crow, col, values, x):
    return x.new_empty(*x.shape[:-2], crow.size(0) - 1, x.size(-1))


@torch.library.custom_op("bigraph_pyg::csr_sddmm", mutates_args=())
def _csr_sddmm(crow: Tensor, col: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """``(a @ b.T)`` sampled at the CSR entries, in CSR order: ``(E,)``.

    ``a``, ``b`` of ``(N, C)``, or ``(B, N, C)``: then summed over the
    samples (one sampled product on the block-diagonal pattern, then the
    samples' values added in order, as a loop over them would).
    """
    n_dst, e = crow.size(0) - 1, col.size(0)
    with torch.autocast(a.device.type, enabled=False):
        if a.dim() == 2:
            pattern = _csr(crow, col, a.new_zeros(e), (n_dst, b.size(0)))
            return (
                torch.sparse.sampled_addmm(pattern, a, b.t(), beta=0.0)
                .values()
                .clone()
            )
        batch, n_src, c = b.shape
        crow_b, col_b = _block_diagonal(crow, col, batch, n_src)
        pattern = _csr(
            crow_b,
            col_b,
            a.new_zeros(batch * e),
            (batch * n_dst, batch * n_src),
        )
        sampled = torch.sparse.sampled_addmm(
            pattern,
            a.reshape(batch * n_dst, c),
            b.reshape(batch * n_src, c).t(),
            beta=0.0,
        )
        out = a.new_zeros(e)
        for per_sample in sampled.values().view(batch, e):
            out += per_sample
        return out


@_csr_sddmm.register_fake
def _(crow, col, a, b):
    return a.new_empty(col.size(0))


@torch.library.custom_op("bigraph_pyg::spmm", mutates_args=())
def _spmm(
    crow: Tensor,
    col: Tensor,
    values: Tensor,
    crow_t: Tensor,
    col_t: Tensor,
    perm_t: Tensor,
    x: Tensor,
) -> Tensor:
    """Differentiable ``CSR(crow, col, values) @ x``."""
    return _csr_mm_impl(crow, col, values, x)


@_spmm.register_fake
def _(crow, col, values, crow_t, col_t, perm_t, x):
    return x.new_empty(*x.shape[:-2], crow.size(0) - 1, x.size(-1))


def _spmm_setup(ctx, inputs, output):
    crow, col, values, crow_t, col_t, perm_t, x = inputs
    ctx.save_for_backward(crow, col, values, crow_t, col_t, perm_t, x)


def _spmm_backward(ctx, grad):
    """``dX = A^T dOut``; ``dA_e = <dOut[row_e], X[col_e]>``.

    No per-edge message tensor is built.
    """
    crow, col, values, crow_t, col_t, perm_t, x = ctx.saved_tensors
    grad = grad.contiguous()
    grad_v = grad_x = None
    if ctx.needs_input_grad[6]:
        grad_x = _csr_mm(crow_t, col_t, values[perm_t], grad)
    if ctx.needs_input_grad[2]:
        grad_v = _csr_sddmm(crow, col, grad, x)
    return None, None, grad_v, None, None, None, grad_x


_spmm.register_autograd(_spmm_backward, setup_context=_spmm_setup)


def batched_spmm(
    src: Tensor,
    dst: Tensor,
    weight: Tensor,
    x: Tensor,
    num_dst: int,
    structure: CSRStructure | None = None,
) -> Tensor:
    r"""Weighted sparse aggregation for ``[N, C]`` or batched ``[B, N, C]``.

    .. math::
        \mathbf{X}'_{b} = \mathbf{A} \mathbf{X}_{b}, \qquad
        a_{ij} = \sum_{e: \mathrm{dst}_e = i, \mathrm{src}_e = j} w_e

    One custom operator (``bigraph_pyg::spmm``, which :func:`torch.compile`
    keeps whole) for the whole batch: on the CPU one product of the batch's
    block-diagonal matrix (no transposed copies), elsewhere folded into the
    channels
    (``[N, B*C]``, one kernel); gradients reach both ``x`` and
    ``weight`` without materialising ``B x E x C`` per-edge messages.
    float16/bfloat16 on CPU, which the sparse kernels lack, run in float32.

    Args:
        src (Tensor): ``(E,)`` source node of each edge.
        dst (Tensor): ``(E,)`` target node of each edge.
        weight (Tensor): ``(E,)`` edge weights.
        x (Tensor): ``(N_src, C)`` or ``(B, N_src, C)``.
        num_dst (int): ``N_dst``.
        structure (CSRStructure, optional): :func:`csr_structure` of the
            graph, when cached by the caller. (default: built here)

    Returns:
        Tensor: ``(N_dst, C)`` or ``(B, N_dst, C)``.
    """
    if structure is None:
        structure = csr_structure(src, dst, (x.size(-2), num_dst))
    dtype = x.dtype
    # On the CPU a batch is one block-diagonal product
    # (_csr_mm_impl); elsewhere it is folded into the channels, one product
    # for the whole batch (one kernel launch instead of B).
    fold = x.dim() == 3 and (x.device.type != "cpu" or x.size(0) == 0)
    batch = x.size(0) if fold else None
    xs = fold_batch(x) if fold else x
    if xs.device.type == "cpu" and dtype in _CPU_UPCAST:
        xs = xs.float()
    xs = xs.contiguous()
    values = weight.to(xs.dtype)[structure.perm]
    out = _spmm(
        structure.crow,
        structure.col,
        values,
        structure.crow_t,
        structure.col_t,
        structure.perm_t,
        xs,
    )
    return unfold_batch(out.to(dtype), batch, x.size(-1))


@torch.library.custom_op("bigraph_pyg::blocks_mm", mutates_args=())
def _blocks_mm(a_jv: Tensor, a_vj: Tensor, x: Tensor) -> Tensor:
    """``[A_jv X_v ; A_vj X_j]`` written into one allocation.

    No ``cat`` (on CPU every fresh 100 MB buffer costs as much as a GEMM
    here): the vertex rows through an ``out=`` view, the few joint rows by
    assignment (a batched product into a strided ``out=`` view of ``J``
    rows took 3x as long as the product and a copy, measured at J=12,
    V=431, B=64 on CPU).
    """
    # The blocks' gradient is the registered backward's; detached here, a
    # block that requires grad makes ``matmul`` skip its fold path and copy
    # ``x`` transposed in forward and again in backward (issue #26).
    a_jv, a_vj = a_jv.detach(), a_vj.detach()
    j = a_jv.size(0)
    out = torch.empty_like(x, memory_format=torch.contiguous_format)
    out[..., :j, :] = torch.matmul(a_jv, x[..., j:, :])
    torch.matmul(a_vj, x[..., :j, :], out=out[..., j:, :])
    return out


@_blocks_mm.register_fake
def _(a_jv, a_vj, x):
    return torch.empty_like(x, memory_format=torch.contiguous_format)


def _blocks_setup(ctx, inputs, output):
    ctx.save_for_backward(*inputs)


def _blocks_backward(ctx, grad):
    """The transposed blocks for ``x``; per-sample products for the blocks.

    Each block's gradient is a sum over the batch.
    """
    a_jv, a_vj, x = ctx.saved_tensors
    j = a_jv.size(0)
    g_j, g_v = grad[..., :j, :], grad[..., j:, :]
    grad_jv = grad_vj = grad_x = None
    if ctx.needs_input_grad[2]:
        grad_x = _blocks_mm(a_vj.t(), a_jv.t(), grad)
    if ctx.needs_input_grad[0]:
        grad_jv = g_j @ x[..., j:, :].transpose(-1, -2)
        grad_jv = grad_jv.sum(0) if grad_jv.dim() == 3 else grad_jv
    if ctx.needs_input_grad[1]:
        grad_vj = g_v @ x[..., :j, :].transpose(-1, -2)
        grad_vj = grad_vj.sum(0) if grad_vj.dim() == 3 else grad_vj
    return grad_jv, grad_vj, grad_x


_blocks_mm.register_autograd(_blocks_backward, setup_context=_blocks_setup)


def bipartite_blocks_matmul(a_jv: Tensor, a_vj: Tensor, x: Tensor) -> Tensor:
    r"""Multiply a union graph's two bipartite blocks with its features.

    For a union graph over ``J`` joints (nodes ``[0, J)``) and ``V`` vertices
    whose only edges join a joint and a vertex, the adjacency is
    :math:`\begin{pmatrix} 0 & A_{jv} \\ A_{vj} & 0 \end{pmatrix}` and

    .. math::
        \mathbf{A}\mathbf{X} = \begin{pmatrix} A_{jv} X_v \\
        A_{vj} X_j \end{pmatrix}

    at :math:`2 J V C` multiply-adds per sample instead of
    :math:`(J+V)^2 C`.  Runs as the custom operator
    ``bigraph_pyg::blocks_mm`` (one allocation for the result, opaque to
    :func:`torch.compile`).

    Args:
        a_jv (Tensor): ``(J, V)`` edges into the joints.
        a_vj (Tensor): ``(V, J)`` edges into the vertices.
        x (Tensor): ``(J+V, C)`` or ``(B, J+V, C)``, joints first.

    Returns:
        Tensor: same shape as ``x``.
    """
    return _blocks_mm(a_jv, a_vj, x)


def torch_sparse_matmul(
    src: Tensor,
    dst: Tensor,
    weight: Tensor,
    x: Tensor,
    num_src: int,
    num_dst: int,
) -> Tensor:
    r""":math:`\mathbf{A}\mathbf{X}` through torch-sparse's ``SparseTensor``.

    Same contract as :func:`batched_spmm` (batch folded into channels,
    gradients to ``x`` and ``weight``), computed by ``torch_sparse.matmul``.

    Args:
        src (Tensor): ``(E,)`` source node of each edge.
        dst (Tensor): ``(E,)`` target node of each edge.
        weight (Tensor): ``(E,)`` edge weights.
        x (Tensor): ``(N_src, C)`` or ``(B, N_src, C)``.
        num_src (int): ``N_src``.
        num_dst (int): ``N_dst``.

    Returns:
        Tensor: ``(N_dst, C)`` or ``(B, N_dst, C)``.

    Raises:
        ImportError: if torch-sparse is not installed.
    """
    import torch_sparse

    adj = torch_sparse.SparseTensor(
        row=dst, col=src, value=weight, sparse_sizes=(num_dst, num_src)
    )
    batch = x.size(0) if x.dim() == 3 else None
    return unfold_batch(torch_sparse.matmul(adj, fold_batch(x)), batch)

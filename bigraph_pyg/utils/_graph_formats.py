r"""Each graph format :func:`~bigraph_pyg.utils.unpack_graph` accepts, read.

One reader a format, each returning the parts of an
:class:`~bigraph_pyg.utils.EdgeList` -- ``(src, dst, weight, size)`` with
``size = (N_src, N_dst)`` -- and raising :class:`ValueError` on a malformed
graph or weights given twice:

* :func:`from_sparse_matrix`: a :mod:`torch.sparse` ``adj_t`` (COO, CSR or
  CSC) of shape ``(N_dst, N_src)``; its values are the weights.
* :func:`from_sparse_tensor`: a :class:`torch_sparse.SparseTensor` ``adj_t``.
* :func:`from_index`: a ``[2, E]`` index tensor or a PyG
  :class:`~torch_geometric.EdgeIndex`, with optional weights.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric import EdgeIndex
from torch_geometric.typing import SparseTensor


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

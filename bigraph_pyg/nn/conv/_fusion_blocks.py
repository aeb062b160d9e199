r"""Dense joint-vertex blocks of a union fusion graph (``impl="blocks"``).

On the paper's union graph (joints ``[0, J)``, then the ``V`` vertices)
every fusion edge joins a joint and a vertex, so :math:`\mathbf{A}_f` is
two dense blocks, :math:`J \times V` and :math:`V \times J`.
:class:`~bigraph_pyg.nn.BipartiteFusionConv` finds once per graph where
each edge weight goes in them (:func:`gather_if_complete`) and fills them
on every call (:func:`gather_block`).
"""

from __future__ import annotations

import torch
from torch import Tensor


def union_split(src: Tensor, dst: Tensor) -> int | None:
    """The ``J`` that splits a union graph in two sides, or :obj:`None`.

    Every edge must join a node of ``[0, J)`` and one of ``[J, N)``; one
    sync.

    Such a ``J`` exists iff the largest lower end of an edge lies below its
    smallest upper end; then ``J`` = that lower end + 1 (the paper's union
    graph: the number of joints).
    """
    if src.numel() == 0:
        return None
    low, high = torch.minimum(src, dst), torch.maximum(src, dst)
    split, first_high = torch.stack([low.max() + 1, high.min()]).tolist()
    return int(split) if split <= first_high else None


#: How a dense block is filled from the edge weights: ``("gather", order)``
#: or ``("scatter", flat position per edge)``.
Block = tuple[str, Tensor]


def gather_if_complete(flat: Tensor, numel: int) -> Block:
    """``("gather", order)`` if the block's edges hit each entry once."""
    in_block = flat < numel
    if int(in_block.sum()) == numel:
        edges = in_block.nonzero().view(-1)
        pos = flat[edges]
        order = torch.argsort(pos)
        if bool((pos[order] == torch.arange(numel, device=flat.device)).all()):
            return "gather", edges[order]
    return "scatter", flat


def gather_block(weight: Tensor, block: Block, rows: int, cols: int) -> Tensor:
    """A dense ``(rows, cols)`` block of the per-edge weights."""
    kind, index = block
    if kind == "gather":
        return weight.index_select(0, index).view(rows, cols)
    out = weight.new_zeros(rows * cols + 1).index_add(0, index, weight)
    return out[:-1].view(rows, cols)

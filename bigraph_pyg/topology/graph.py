"""Small frozen containers for the fixed graphs of the bilayer model."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["Graph", "sort_by_target"]


def sort_by_target(
    edge_index: Tensor, edge_weight: Tensor, num_src: int
) -> tuple[Tensor, Tensor]:
    r"""Sort edges by target (row 1), then by source (row 0).

    With this order the CSR matrix ``adj_t`` (rows = targets) stores the
    edges in the same order as ``edge_index``, so a per-edge parameter
    aligned with ``edge_index`` is also aligned with ``adj_t.values()``.

    Args:
        edge_index (Tensor): Edges :math:`(2, E)`, row 0 = source ``j``,
            row 1 = target ``i``.
        edge_weight (Tensor): Weights :math:`(E,)`.
        num_src (int): Number of source nodes.

    Returns:
        (Tensor, Tensor): the sorted ``edge_index`` and ``edge_weight``.
    """
    key = edge_index[1] * max(num_src, 1) + edge_index[0]
    perm = torch.argsort(key, stable=True)
    return edge_index[:, perm], edge_weight[perm]


@dataclass(frozen=True)
class Graph:
    r"""A fixed weighted graph, edges sorted by target then source.

    A layer computes :math:`x'_i = \sum_j A_{ij} x_j` where row ``i`` of
    :math:`\mathbf{A}` holds the edges whose target (``edge_index[1]``)
    is ``i``.

    Attributes:
        edge_index (Tensor): :math:`(2, E)` int64, row 0 = source, row 1 =
            target, sorted by target then source.
        edge_weight (Tensor): :math:`(E,)` raw (not normalised) weights.
        size (tuple[int, int]): ``(num_src, num_dst)`` as PyG's ``size``;
            both equal the number of nodes for a graph on one node set.
    """

    edge_index: Tensor
    edge_weight: Tensor
    size: tuple[int, int]

    @property
    def num_nodes(self) -> int:
        """Number of nodes (the target side for a bipartite graph)."""
        return self.size[1]

    @property
    def num_edges(self) -> int:
        """Number of edges ``E``."""
        return self.edge_index.size(1)

    def to(self, *args, **kwargs) -> Graph:
        """Move to a device (and cast the weights' float dtype).

        Accepts the arguments of :meth:`torch.Tensor.to`; ``edge_index``
        keeps its int64 dtype.
        """
        weight = self.edge_weight.to(*args, **kwargs)
        index = self.edge_index.to(device=weight.device)
        return dataclasses.replace(self, edge_index=index, edge_weight=weight)

    def adj_t(self) -> Tensor:
        r"""Sparse CSR matrix :math:`\mathbf{A}` of shape ``(N_dst, N_src)``.

        Row ``i`` holds the edges with target ``i``; values are stored in
        the order of ``edge_index``.
        """
        return torch.sparse_csr_tensor(
            self._crow(),
            self.edge_index[0],
            self.edge_weight,
            size=(self.size[1], self.size[0]),
            check_invariants=True,
        )

    def _crow(self) -> Tensor:
        counts = torch.bincount(self.edge_index[1], minlength=self.size[1])
        crow = torch.zeros(
            self.size[1] + 1, dtype=torch.int64, device=counts.device
        )
        crow[1:] = torch.cumsum(counts, 0)
        return crow

    def to_dense(self) -> Tensor:
        r"""Dense :math:`\\mathbf{A}` ``(N_dst, N_src)`` (a test reference)."""
        dense = self.edge_weight.new_zeros(self.size[1], self.size[0])
        dense.index_put_(
            (self.edge_index[1], self.edge_index[0]),
            self.edge_weight,
            accumulate=True,
        )
        return dense

"""Tiny graphs for tests and benchmarks, built independently of topology/.

Edges are returned sorted by target, then source (the library's canonical
order), as ``(edge_index [2, E], edge_weight (E,))``.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric import EdgeIndex
from torch_geometric.typing import WITH_TORCH_SPARSE, SparseTensor

__all__ = [
    "random_graph",
    "icosphere_graph",
    "complete_bipartite_graph",
    "graph_formats",
]


def _sorted(src: Tensor, dst: Tensor, n_src: int) -> Tensor:
    perm = torch.argsort(dst * n_src + src)
    return torch.stack([src[perm], dst[perm]])


def random_graph(
    num_nodes: int,
    num_edges: int,
    seed: int = 0,
    self_loops: bool = True,
    dtype: torch.dtype = torch.float32,
) -> tuple[Tensor, Tensor]:
    """A random directed graph with distinct edges and positive weights.

    Args:
        num_nodes (int): Number of nodes ``N``.
        num_edges (int): Number of distinct random edges drawn (at most
            ``N * N``).
        seed (int): Seed of the generator. (default: ``0``)
        self_loops (bool): Replace the drawn self-loops by exactly one
            self-loop per node, so ``E = num_edges - drawn loops + N``.
            (default: :obj:`True`)
        dtype (torch.dtype): Dtype of the weights.
            (default: :obj:`torch.float32`)

    Returns:
        tuple: ``(edge_index [2, E], edge_weight (E,))``, weights uniform
        in ``[0.1, 1.1)``.
    """
    g = torch.Generator().manual_seed(seed)
    flat = torch.randperm(num_nodes * num_nodes, generator=g)[:num_edges]
    src, dst = flat % num_nodes, flat // num_nodes
    if self_loops:
        loops = torch.arange(num_nodes)
        keep = src != dst
        src = torch.cat([src[keep], loops])
        dst = torch.cat([dst[keep], loops])
    edge_index = _sorted(src, dst, num_nodes)
    weight = torch.rand(edge_index.size(1), generator=g, dtype=dtype) + 0.1
    return edge_index, weight


def icosphere_graph(subdivisions: int = 1) -> tuple[Tensor, Tensor, Tensor]:
    """Mesh graph of a trimesh icosphere, built with trimesh's own edges.

    Edges are ``edges_unique`` in both directions plus self-loops, weight 1.

    Args:
        subdivisions (int): Subdivisions of the icosahedron (``1``: 42
            vertices). (default: ``1``)

    Returns:
        tuple: ``(vertices (N, 3), edge_index [2, E], edge_weight (E,))``.
    """
    import trimesh

    mesh = trimesh.creation.icosphere(subdivisions=subdivisions)
    e = torch.tensor(mesh.edges_unique, dtype=torch.long)
    n = len(mesh.vertices)
    loops = torch.arange(n)
    src = torch.cat([e[:, 0], e[:, 1], loops])
    dst = torch.cat([e[:, 1], e[:, 0], loops])
    edge_index = _sorted(src, dst, n)
    verts = torch.tensor(mesh.vertices, dtype=torch.float32)
    return verts, edge_index, torch.ones(edge_index.size(1))


def complete_bipartite_graph(
    num_joints: int,
    num_vertices: int,
    seed: int = 0,
) -> tuple[Tensor, Tensor, Tensor]:
    """Union fusion graph: every joint linked to every vertex, both ways.

    Nodes ``0..J-1`` are joints, ``J..J+V-1`` vertices; weights are the
    reciprocal distances between random joint and vertex positions.

    Args:
        num_joints (int): Number of joints ``J``.
        num_vertices (int): Number of vertices ``V``.
        seed (int): Seed of the random positions. (default: ``0``)

    Returns:
        tuple: ``(positions (J+V, 3), edge_index [2, 2JV], a_fs (2JV,))``.
    """
    g = torch.Generator().manual_seed(seed)
    pos = torch.randn(num_joints + num_vertices, 3, generator=g)
    j = torch.arange(num_joints).repeat_interleave(num_vertices)
    v = torch.arange(num_joints, num_joints + num_vertices).repeat(num_joints)
    n = num_joints + num_vertices
    edge_index = _sorted(torch.cat([j, v]), torch.cat([v, j]), n)
    a_fs = 1.0 / (pos[edge_index[0]] - pos[edge_index[1]]).norm(dim=-1)
    return pos, edge_index, a_fs


def graph_formats(
    edge_index: Tensor,
    edge_weight: Tensor | None,
    size: tuple[int, int],
) -> dict[str, tuple[object, Tensor | None]]:
    """The same graph in every format a layer accepts.

    Returns ``{name: (graph, edge_weight_or_None)}`` for ``edge_index``,
    ``EdgeIndex``, torch CSR / COO ``adj_t`` and, when torch-sparse is
    installed, ``SparseTensor``.  ``edge_index`` must be sorted by target,
    then source, so that storage orders agree.

    Args:
        edge_index (Tensor): ``[2, E]``, sorted by target, then source.
        edge_weight (Tensor, optional): ``(E,)`` weights; ``None`` means
            weight 1 in the sparse-matrix formats.
        size (tuple[int, int]): ``(N_src, N_dst)``.

    Returns:
        dict: ``{name: (graph, edge_weight_or_None)}``; the sparse-matrix
        formats (``(N_dst, N_src)`` ``adj_t``) carry the weights
        themselves and pair with ``None``.
    """
    n_src, n_dst = size
    w = (
        edge_weight
        if edge_weight is not None
        else torch.ones(edge_index.size(1), device=edge_index.device)
    )
    coo = torch.sparse_coo_tensor(
        edge_index.flip(0), w, (n_dst, n_src), check_invariants=True
    )
    formats: dict[str, tuple[object, Tensor | None]] = {
        "edge_index": (edge_index, edge_weight),
        "EdgeIndex": (
            EdgeIndex(edge_index, sparse_size=(n_src, n_dst)),
            edge_weight,
        ),
        "torch_coo": (coo.coalesce(), None),
        "torch_csr": (coo.to_sparse_csr(), None),
    }
    if WITH_TORCH_SPARSE:
        formats["SparseTensor"] = (
            SparseTensor(
                row=edge_index[1],
                col=edge_index[0],
                value=w,
                sparse_sizes=(n_dst, n_src),
            ),
            None,
        )
    return formats

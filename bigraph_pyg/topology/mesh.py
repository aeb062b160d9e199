r"""Mesh graph :math:`\mathbf{A}_m` from triangle faces (paper Sec. 4.3.1).

The mesh adjacency is the binary vertex connectivity of the triangles plus
self-loops, row-normalised by the layer (or here, with ``normalize=True``).
Everything is vectorised: no Python loop over vertices or faces.
"""

from __future__ import annotations

import torch
from torch import Tensor

from bigraph_pyg.topology.graph import Graph

__all__ = [
    "check_faces",
    "check_manifold",
    "mesh_edge_index",
    "mesh_graph",
    "num_connected_components",
]


def check_faces(
    faces: Tensor, num_vertices: int | None = None, name: str = "faces"
) -> Tensor:
    r"""Validate a triangle array and return it as int64.

    Args:
        faces (Tensor): Triangles :math:`(F, 3)`, integer vertex ids.
        num_vertices (int, optional): Number of vertices ``N``; if given,
            every id must lie in ``[0, N)``.
        name (str): Argument name used in error messages.

    Returns:
        Tensor: ``faces`` as int64 :math:`(F, 3)`.

    Raises:
        ValueError: wrong shape or dtype, no face, or a degenerate face (a
            vertex repeated within a triangle).
        IndexError: a vertex id outside ``[0, num_vertices)``.
    """
    faces = torch.as_tensor(faces)
    if faces.dim() != 2 or faces.size(1) != 3:
        raise ValueError(
            f"Expected '{name}' of shape (F, 3) (got {tuple(faces.shape)})"
        )
    if (
        faces.is_floating_point()
        or faces.is_complex()
        or (faces.dtype == torch.bool)
    ):
        raise ValueError(
            f"Expected '{name}' of an integer dtype (got {faces.dtype})"
        )
    if faces.size(0) == 0:
        raise ValueError(f"Expected '{name}' with at least one face (got 0)")
    faces = faces.long()
    lo, hi = int(faces.min()), int(faces.max())
    if lo < 0 or (num_vertices is not None and hi >= num_vertices):
        raise IndexError(
            f"Expected '{name}' ids in [0, {num_vertices}) "
            f"(got ids in [{lo}, {hi}])"
        )
    degenerate = (
        (faces[:, 0] == faces[:, 1])
        | (faces[:, 1] == faces[:, 2])
        | (faces[:, 0] == faces[:, 2])
    )
    if bool(degenerate.any()):
        bad = int(degenerate.nonzero()[0, 0])
        raise ValueError(
            f"Expected '{name}' with three distinct vertices per face "
            f"(got face {bad} = {faces[bad].tolist()})"
        )
    return faces


def _undirected_edges(faces: Tensor, num_vertices: int) -> Tensor:
    """Keys ``min * N + max`` of the 3F face edges (with repeats)."""
    e = torch.cat([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    lo = torch.minimum(e[:, 0], e[:, 1])
    hi = torch.maximum(e[:, 0], e[:, 1])
    return lo * num_vertices + hi


def check_manifold(
    faces: Tensor,
    vertices: Tensor | None = None,
    name: str = "faces",
    area_eps: float = 0.0,
) -> None:
    """Raise if a mesh is degenerate or has a non-manifold edge.

    An edge is non-manifold when more than two faces share it. With
    ``vertices``, faces of (near-)zero area are also rejected.

    Args:
        faces (Tensor): Triangles :math:`(F, 3)`.
        vertices (Tensor, optional): Positions :math:`(N, 3)`.
        name (str): Argument name used in error messages.
        area_eps (float): Faces with area ``<= area_eps`` are degenerate.

    Raises:
        ValueError: a degenerate face, a duplicated face or a non-manifold
            edge.
    """
    num_vertices = None if vertices is None else vertices.size(0)
    faces = check_faces(faces, num_vertices, name)
    n = int(faces.max()) + 1 if num_vertices is None else num_vertices
    keys = _undirected_edges(faces, n)
    uniq, counts = torch.unique(keys, return_counts=True)
    if bool((counts > 2).any()):
        k = int(uniq[counts > 2][0])
        raise ValueError(
            f"Expected a manifold mesh in '{name}', each edge shared by at "
            f"most 2 faces (got edge ({k // n}, {k % n}) in "
            f"{int(counts[counts > 2][0])} faces)"
        )
    tri = torch.sort(faces, dim=1).values
    tri_keys = (tri[:, 0] * n + tri[:, 1]) * n + tri[:, 2]
    if torch.unique(tri_keys).numel() != faces.size(0):
        raise ValueError(
            f"Expected '{name}' without duplicated faces (got "
            f"{faces.size(0) - torch.unique(tri_keys).numel()} duplicates)"
        )
    if vertices is not None:
        v = vertices[faces]
        area = torch.linalg.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
        area = 0.5 * area.norm(dim=-1)
        if bool((area <= area_eps).any()):
            bad = int((area <= area_eps).nonzero()[0, 0])
            raise ValueError(
                f"Expected faces of non-zero area in '{name}' (got face "
                f"{bad} = {faces[bad].tolist()} with area "
                f"{float(area[bad]):.3g})"
            )


def mesh_edge_index(faces: Tensor, num_vertices: int | None = None) -> Tensor:
    r"""Undirected edges of a triangle mesh, without self-loops.

    Both directions of every triangle edge, each once, sorted by target
    then source.

    Args:
        faces (Tensor): Triangles :math:`(F, 3)` int64.
        num_vertices (int, optional): Number of vertices ``N``
            (default: ``faces.max() + 1``).

    Returns:
        Tensor: ``edge_index`` :math:`(2, E)` int64.

    Example:
        >>> faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
        >>> mesh_edge_index(faces)
        tensor([[1, 2, 3, 0, 2, 0, 1, 3, 0, 2],
                [0, 0, 0, 1, 1, 2, 2, 2, 3, 3]])
    """
    faces = check_faces(faces, num_vertices)
    n = int(faces.max()) + 1 if num_vertices is None else num_vertices
    keys = torch.unique(_undirected_edges(faces, n))
    lo, hi = keys // n, keys % n
    src = torch.cat([lo, hi])
    dst = torch.cat([hi, lo])
    perm = torch.argsort(dst * n + src)
    return torch.stack([src[perm], dst[perm]])


def mesh_graph(
    faces: Tensor,
    num_vertices: int | None = None,
    self_loops: bool = True,
    normalize: bool = False,
    dtype: torch.dtype = torch.float32,
) -> Graph:
    r"""Mesh adjacency :math:`\mathbf{A}_m` (paper Sec. 4.3.1).

    Binary connectivity of the triangles, plus self-loops of weight 1 when
    ``self_loops``. With ``normalize=True`` the weights are divided by the
    sum over each target (row normalisation, :math:`\mathbf{D}^{-1}
    \mathbf{A}`); RowNorm is idempotent, so the layers may normalise
    again.

    Args:
        faces (Tensor): Triangles :math:`(F, 3)` int64.
        num_vertices (int, optional): Number of vertices ``N``
            (default: ``faces.max() + 1``).
        self_loops (bool): Add ``(i, i)`` edges of weight 1.
            (default: :obj:`True`)
        normalize (bool): Row-normalise the weights. (default: :obj:`False`)
        dtype (torch.dtype): Weight dtype. (default: :obj:`torch.float32`)

    Returns:
        Graph: edges sorted by target then source, ``size=(N, N)``.
    """
    faces = check_faces(faces, num_vertices)
    n = int(faces.max()) + 1 if num_vertices is None else num_vertices
    edge_index = mesh_edge_index(faces, n)
    if self_loops:
        loop = torch.arange(n, device=faces.device).expand(2, n)
        edge_index = torch.cat([edge_index, loop], dim=1)
        perm = torch.argsort(edge_index[1] * n + edge_index[0])
        edge_index = edge_index[:, perm]
    weight = torch.ones(edge_index.size(1), dtype=dtype, device=faces.device)
    if normalize:
        deg = torch.zeros(n, dtype=dtype, device=faces.device)
        deg.index_add_(0, edge_index[1], weight)
        weight = weight / deg.clamp_min(1)[edge_index[1]]
    return Graph(edge_index, weight, (n, n))


def num_connected_components(edge_index: Tensor, num_nodes: int) -> int:
    """Number of connected components of an (undirected) graph.

    Args:
        edge_index (Tensor): Edges :math:`(2, E)`.
        num_nodes (int): Number of nodes.

    Returns:
        int: the number of weakly connected components.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    ei = edge_index.detach().cpu().numpy()
    adj = coo_matrix(
        ([1] * ei.shape[1], (ei[0], ei[1])), shape=(num_nodes, num_nodes)
    )
    return int(connected_components(adj, directed=True, connection="weak")[0])

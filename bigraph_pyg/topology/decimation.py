r"""Mesh decimation and the sampling operators it yields.

Quadric-error decimation (``fast-simplification``) records its edge
collapses; :func:`decimate` replays them as half-edge collapses onto
original vertices, so the coarse vertices are a subset of the fine ones and
the downsampling operator :math:`\mathbf{D}` (:func:`downsampling_matrix`)
selects them (vertex selection, as in CoMA). The upsampling operator
:math:`\mathbf{U}` (:func:`upsampling_matrix`) writes each fine vertex as
barycentric weights of its closest point on the coarse surface (CoMA, Ranjan
et al. 2018; GraphCMR, Kolotouros et al. 2019).
:func:`~bigraph_pyg.topology.mesh_hierarchy` chains them level by level.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from bigraph_pyg.topology.mesh import check_faces, check_manifold

__all__ = [
    "decimate",
    "downsampling_matrix",
    "upsampling_matrix",
]


def _check_vertices(vertices: Tensor, name: str = "vertices") -> Tensor:
    vertices = torch.as_tensor(vertices)
    if vertices.dim() != 2 or vertices.size(1) != 3:
        raise ValueError(
            f"Expected '{name}' of shape (N, 3) (got {tuple(vertices.shape)})"
        )
    if not vertices.is_floating_point():
        raise ValueError(
            f"Expected '{name}' of a floating dtype (got {vertices.dtype})"
        )
    if not bool(torch.isfinite(vertices).all()):
        raise ValueError(f"Expected finite '{name}' (got NaN or inf)")
    return vertices


def decimate(
    vertices: Tensor,
    faces: Tensor,
    num_vertices: int,
    agg: float = 7.0,
    strict: bool = True,
) -> tuple[Tensor, Tensor]:
    r"""Quadric-error decimation to exactly ``num_vertices`` vertices.

    ``fast_simplification`` records its edge collapses; the first
    ``N - num_vertices`` of them are replayed as half-edge collapses onto
    original vertices, so the coarse vertices are a subset of the fine
    ones (vertex selection, as in CoMA) and the size is exact.

    Args:
        vertices (Tensor): Fine positions :math:`(N, 3)`.
        faces (Tensor): Fine triangles :math:`(F, 3)` int64, manifold.
        num_vertices (int): Target size ``M`` with ``4 <= M <= N``.
        agg (float): ``fast_simplification`` aggressiveness.
            (default: ``7.0``)
        strict (bool): Reject non-manifold and zero-area input (for a
            user's mesh). Quadric collapses do not check the link
            condition, so a decimated level may hold a few non-manifold
            edges; :func:`mesh_hierarchy` decimates those levels with
            ``strict=False``. (default: :obj:`True`)

    Returns:
        (Tensor, Tensor): ``keep`` :math:`(M,)` int64, the fine ids of the
        coarse vertices (sorted), and the coarse ``faces`` :math:`(F', 3)`
        int64 over ``0..M-1``.

    Raises:
        ValueError: bad shapes, a degenerate or non-manifold mesh, isolated
            vertices, or ``num_vertices`` out of ``[4, N]``.
    """
    import fast_simplification

    vertices, faces = _check_decimation_input(
        vertices, faces, num_vertices, strict
    )
    n = vertices.size(0)
    device = faces.device
    f_np = faces.cpu().numpy()
    if num_vertices == n:
        return torch.arange(n, device=device), faces
    v_np = vertices.detach().cpu().double().numpy()
    collapses = _record_collapses(
        fast_simplification.simplify, v_np, f_np, num_vertices, agg
    )
    parent, cf = _replay_to_size(collapses, n, f_np, num_vertices)
    keep = np.flatnonzero(parent == np.arange(n))
    new_id = np.full(n, -1, dtype=np.int64)
    new_id[keep] = np.arange(keep.size)
    cf = new_id[cf]
    return (
        torch.from_numpy(keep).to(device),
        torch.from_numpy(cf).to(device),
    )


def _check_decimation_input(
    vertices: Tensor, faces: Tensor, num_vertices: int, strict: bool
) -> tuple[Tensor, Tensor]:
    """Check :func:`decimate`'s mesh and target size; return the mesh.

    Raises:
        ValueError: as :func:`decimate`.
    """
    vertices = _check_vertices(vertices)
    n = vertices.size(0)
    faces = check_faces(faces, n)
    if strict:
        check_manifold(faces, vertices)
    if not 4 <= num_vertices <= n:
        raise ValueError(
            f"Expected 'num_vertices' in [4, {n}] (the mesh has {n} "
            f"vertices) (got {num_vertices})"
        )
    used = torch.zeros(n, dtype=torch.bool)
    used[faces.cpu().flatten()] = True
    if not bool(used.all()):
        raise ValueError(
            f"Expected every vertex in 'faces' (got {int((~used).sum())} "
            "isolated vertices)"
        )
    return vertices, faces


def _record_collapses(
    simplify, v_np: np.ndarray, f_np: np.ndarray, num_vertices: int, agg
) -> np.ndarray:
    """Quadric decimation's edge collapses, at least ``N - num_vertices``.

    The face-count target starts at 90% of the proportional one and is
    halved (up to 6 tries) until ``simplify`` records enough collapses.

    Args:
        simplify (callable): ``fast_simplification.simplify``.
        v_np (np.ndarray): :math:`(N, 3)` float64 positions.
        f_np (np.ndarray): :math:`(F, 3)` int64 triangles.
        num_vertices (int): Target size ``M``.
        agg (float): ``fast_simplification`` aggressiveness.

    Returns:
        np.ndarray: :math:`(C, 2)` int64 collapses, in order.

    Raises:
        ValueError: fewer than ``N - M`` collapses on every try.
    """
    n = v_np.shape[0]
    need = n - num_vertices
    target = max(int(f_np.shape[0] * num_vertices / n * 0.9), 1)
    for _ in range(6):
        _, _, collapses = simplify(
            v_np, f_np, target_count=target, agg=agg, return_collapses=True
        )
        if len(collapses) >= need:
            break
        target = max(target // 2, 1)
    else:
        raise ValueError(
            f"Expected a mesh decimable to {num_vertices} vertices (got "
            f"only {len(collapses)} of {need} collapses)"
        )
    return np.asarray(collapses, dtype=np.int64)


def _replay_to_size(
    collapses: np.ndarray, n: int, f_np: np.ndarray, num_vertices: int
) -> tuple[np.ndarray, np.ndarray]:
    """Replay a prefix of ``collapses`` that leaves exactly ``num_vertices``.

    Starts from the first ``n - num_vertices`` collapses and corrects the
    prefix length by the surplus of roots (orphans merged by
    :func:`_replay` can change it), up to 32 times.

    Returns:
        (np.ndarray, np.ndarray): the root of each vertex :math:`(n,)` and
        the coarse faces in fine ids.

    Raises:
        ValueError: no prefix gives exactly ``num_vertices`` roots.
    """
    edges = np.concatenate([f_np[:, [0, 1]], f_np[:, [1, 2]], f_np[:, [2, 0]]])
    edges = np.concatenate([edges, edges[:, ::-1]])
    k = n - num_vertices
    for _ in range(32):
        parent, cf = _replay(collapses[:k], n, f_np, edges)
        count = int((parent == np.arange(n)).sum())
        if count == num_vertices:
            break
        k += count - num_vertices
        if not 0 <= k <= len(collapses):
            break
    if count != num_vertices:
        raise ValueError(
            f"Expected a mesh decimable to exactly {num_vertices} vertices "
            f"(got {count})"
        )
    return parent, cf


def _replay(collapses, n, faces, edges):
    """Replay half-edge collapses; returns (root of each vertex, faces).

    Vertices left without a face are merged into a neighbouring root, so
    every root is referenced by the returned faces (in fine ids).
    """
    parent = np.arange(n)
    parent[collapses[:, 1]] = collapses[:, 0]
    while True:  # pointer jumping: O(log depth) vectorised passes
        nxt = parent[parent]
        if np.array_equal(nxt, parent):
            break
        parent = nxt
    cf = parent[faces]
    ok = (
        (cf[:, 0] != cf[:, 1]) & (cf[:, 1] != cf[:, 2]) & (cf[:, 0] != cf[:, 2])
    )
    cf = cf[ok]
    _, first = np.unique(np.sort(cf, axis=1), axis=0, return_index=True)
    cf = cf[np.sort(first)]
    for _ in range(8):
        used = np.zeros(n, dtype=bool)
        used[cf.reshape(-1)] = True
        orphan = (parent == np.arange(n)) & ~used
        if not orphan.any():
            break
        # Merge each orphan root into a used root adjacent to its cluster.
        src, dst = parent[edges[:, 0]], parent[edges[:, 1]]
        sel = orphan[src] & used[dst]
        target = np.full(n, -1)
        target[src[sel]] = dst[sel]
        roots = np.flatnonzero(orphan & (target >= 0))
        parent[roots] = target[roots]
        parent = parent[parent]
    return parent, cf


def _closest_barycentric(p, a, b, c):
    """Barycentric coordinates of the closest point of triangle abc to p.

    Vectorised form of Ericson, *Real-Time Collision Detection*, 5.1.5.
    All inputs are float64 arrays ``(..., 3)``; returns ``(..., 3)``.
    """

    def dot(x, y):
        return np.einsum("...i,...i->...", x, y)

    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = dot(ab, ap), dot(ac, ap)
    bp = p - b
    d3, d4 = dot(ab, bp), dot(ac, bp)
    cp = p - c
    d5, d6 = dot(ab, cp), dot(ac, cp)
    va = d3 * d6 - d5 * d4
    vb = d5 * d2 - d1 * d6
    vc = d1 * d4 - d3 * d2
    tiny = 1e-300
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = 1.0 / np.maximum(va + vb + vc, tiny)
        v_in, w_in = vb * denom, vc * denom
        t_ab = d1 / np.where(d1 - d3 == 0, tiny, d1 - d3)
        t_ac = d2 / np.where(d2 - d6 == 0, tiny, d2 - d6)
        e = (d4 - d3) + (d5 - d6)
        t_bc = (d4 - d3) / np.where(e == 0, tiny, e)
    one, zero = np.ones_like(d1), np.zeros_like(d1)
    cases = [  # (condition, barycentric), first true wins
        ((d1 <= 0) & (d2 <= 0), (one, zero, zero)),
        ((d3 >= 0) & (d4 <= d3), (zero, one, zero)),
        ((vc <= 0) & (d1 >= 0) & (d3 <= 0), (1 - t_ab, t_ab, zero)),
        ((d6 >= 0) & (d5 <= d6), (zero, zero, one)),
        ((vb <= 0) & (d2 >= 0) & (d6 <= 0), (1 - t_ac, zero, t_ac)),
        (
            (va <= 0) & ((d4 - d3) >= 0) & ((d5 - d6) >= 0),
            (zero, 1 - t_bc, t_bc),
        ),
    ]
    out = np.stack([1 - v_in - w_in, v_in, w_in], axis=-1)
    for cond, bary in reversed(cases):
        out = np.where(cond[..., None], np.stack(bary, axis=-1), out)
    return out


def upsampling_matrix(
    fine_vertices: Tensor,
    coarse_vertices: Tensor,
    coarse_faces: Tensor,
    num_candidates: int = 32,
) -> Tensor:
    r"""Upsampling operator :math:`\mathbf{U}` (CoMA / GraphCMR).

    Each fine vertex is projected onto the closest point of the coarse
    surface; its row of :math:`\mathbf{U}` holds the barycentric weights of
    that point in the coarse triangle (3 non-zeros, summing to 1).
    Candidate triangles are the ``num_candidates`` nearest by centroid.

    Args:
        fine_vertices (Tensor): :math:`(N, 3)`.
        coarse_vertices (Tensor): :math:`(M, 3)`.
        coarse_faces (Tensor): :math:`(F', 3)` int64 over ``0..M-1``.
        num_candidates (int): Triangles tested per vertex. (default: 32)

    Returns:
        Tensor: sparse COO :math:`\mathbf{U}` of shape ``(N, M)``,
        coalesced, dtype of ``fine_vertices``.
    """
    from scipy.spatial import cKDTree

    fine = _check_vertices(fine_vertices, "fine_vertices")
    coarse = _check_vertices(coarse_vertices, "coarse_vertices")
    faces = check_faces(coarse_faces, coarse.size(0), "coarse_faces")
    p = fine.detach().cpu().double().numpy()
    cv = coarse.detach().cpu().double().numpy()
    cf = faces.cpu().numpy()
    tri = cv[cf]  # (F', 3, 3)
    k = min(num_candidates, cf.shape[0])
    _, cand = cKDTree(tri.mean(axis=1)).query(p, k=k)
    cand = cand.reshape(p.shape[0], k)
    t = tri[cand]  # (N, k, 3, 3)
    bary = _closest_barycentric(p[:, None], t[:, :, 0], t[:, :, 1], t[:, :, 2])
    closest = np.einsum("nkj,nkjd->nkd", bary, t)
    dist = np.linalg.norm(closest - p[:, None], axis=-1)
    best = dist.argmin(axis=1)
    rows = np.arange(p.shape[0])
    face_id = cand[rows, best]
    w = bary[rows, best].clip(0.0, 1.0)
    w = w / w.sum(axis=1, keepdims=True)
    index = np.stack([np.repeat(rows, 3), cf[face_id].reshape(-1)])
    u = torch.sparse_coo_tensor(
        torch.from_numpy(index),
        torch.from_numpy(w.reshape(-1)),
        (p.shape[0], cv.shape[0]),
        check_invariants=True,
    ).coalesce()
    return u.to(dtype=fine.dtype, device=fine.device)


def downsampling_matrix(
    keep: Tensor, num_vertices: int, dtype: torch.dtype = torch.float32
) -> Tensor:
    r"""Vertex-selection operator :math:`\mathbf{D}` ``(M, N)``.

    Args:
        keep (Tensor): Fine ids of the coarse vertices :math:`(M,)`.
        num_vertices (int): Number of fine vertices ``N``.
        dtype (torch.dtype): Value dtype. (default: :obj:`torch.float32`)

    Returns:
        Tensor: sparse COO, one 1 per row at column ``keep[m]``.
    """
    m = keep.numel()
    index = torch.stack([torch.arange(m, device=keep.device), keep.long()])
    ones = torch.ones(m, dtype=dtype, device=keep.device)
    return torch.sparse_coo_tensor(
        index, ones, (m, num_vertices), check_invariants=True
    ).coalesce()

r"""Mesh hierarchies: decimation and the sampling operators.

:func:`mesh_hierarchy` decimates a mesh level by level and builds the
downsampling operator :math:`\mathbf{D}` (vertex selection) and the
upsampling operator :math:`\mathbf{U}` (barycentric weights on the coarse
surface) of each level with the functions of
``bigraph_pyg.topology.decimation`` (CoMA, Ranjan et al. 2018; GraphCMR,
Kolotouros et al. 2019, used by the paper's mesh branch, Sec. 4.3.1).
:class:`~bigraph_pyg.nn.MeshSampler` applies them to vertex features; it
also reads GraphCMR's own operators (``mesh_downsampling.npz``) through
:func:`~bigraph_pyg.topology.load_graphcmr_sampling`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from torch import Tensor

from bigraph_pyg.topology.decimation import (
    _check_vertices,
    decimate,
    downsampling_matrix,
    upsampling_matrix,
)
from bigraph_pyg.topology.mesh import check_faces

__all__ = [
    "MeshHierarchy",
    "default_sizes",
    "mesh_hierarchy",
]


def default_sizes(num_vertices: int, levels: int = 2, factor: int = 4):
    """Coarse sizes ``ceil(N / factor)``, applied ``levels`` times.

    For SMPL's 6890 vertices this gives GraphCMR's ``(1723, 431)``.

    Args:
        num_vertices (int): Number of fine vertices ``N``.
        levels (int): Number of coarse levels. (default: ``2``)
        factor (int): Reduction per level. (default: ``4``)

    Returns:
        tuple[int, ...]: the coarse sizes, finest first.

    Example:
        >>> default_sizes(6890)
        (1723, 431)
    """
    sizes, n = [], num_vertices
    for _ in range(levels):
        n = math.ceil(n / factor)
        sizes.append(n)
    return tuple(sizes)


@dataclass(frozen=True)
class MeshHierarchy:
    r"""A mesh at several resolutions with its sampling operators.

    Level 0 is the input mesh; level ``l + 1`` is obtained from level ``l``
    by :math:`\mathbf{V}_{l+1} = \mathbf{D}_l \mathbf{V}_l`.

    Attributes:
        vertices (tuple[Tensor, ...]): :math:`(N_l, 3)` per level.
        faces (tuple[Tensor, ...]): :math:`(F_l, 3)` int64 per level.
        down (tuple[Tensor, ...]): sparse :math:`\mathbf{D}_l`
            ``(N_{l+1}, N_l)``.
        up (tuple[Tensor, ...]): sparse :math:`\mathbf{U}_l`
            ``(N_l, N_{l+1})``.
    """

    vertices: tuple[Tensor, ...]
    faces: tuple[Tensor, ...]
    down: tuple[Tensor, ...]
    up: tuple[Tensor, ...]

    @property
    def sizes(self) -> tuple[int, ...]:
        """Vertex count of every level, finest first."""
        return tuple(v.size(0) for v in self.vertices)

    def to(self, *args, **kwargs) -> MeshHierarchy:
        """Move every tensor (faces keep int64)."""

        def mv(t):
            return (
                t.to(*args, **kwargs)
                if t.is_floating_point()
                else t.to(device=self.vertices[0].to(*args, **kwargs).device)
            )

        return MeshHierarchy(
            tuple(mv(v) for v in self.vertices),
            tuple(mv(f) for f in self.faces),
            tuple(mv(d) for d in self.down),
            tuple(mv(u) for u in self.up),
        )


def mesh_hierarchy(
    vertices: Tensor,
    faces: Tensor,
    sizes: Sequence[int] | None = None,
) -> MeshHierarchy:
    """Build the decimation hierarchy and its operators (CoMA / GraphCMR).

    Args:
        vertices (Tensor): Template positions :math:`(N, 3)`.
        faces (Tensor): Triangles :math:`(F, 3)` int64.
        sizes (Sequence[int], optional): Coarse sizes, strictly decreasing
            (default: :func:`default_sizes`, 6890 → 1723 → 431 for SMPL).

    Returns:
        MeshHierarchy: ``len(sizes) + 1`` levels.

    Raises:
        ValueError: bad input mesh (degenerate, non-manifold, isolated
            vertices; see :func:`decimate`) or a size larger than the level
            above it.
    """
    vertices = _check_vertices(vertices)
    faces = check_faces(faces, vertices.size(0))
    sizes = default_sizes(vertices.size(0)) if sizes is None else sizes
    verts, facs, down, up = [vertices], [faces], [], []
    for size in sizes:
        n = verts[-1].size(0)
        if size > n:
            raise ValueError(
                f"Expected each of 'sizes' <= the level above ({n}) "
                f"(got {size})"
            )
        keep, cfaces = decimate(
            verts[-1], facs[-1], size, strict=len(verts) == 1
        )
        d = downsampling_matrix(keep, n, vertices.dtype)
        cverts = verts[-1][keep]
        up.append(upsampling_matrix(verts[-1], cverts, cfaces))
        down.append(d)
        verts.append(cverts)
        facs.append(cfaces)
    return MeshHierarchy(tuple(verts), tuple(facs), tuple(down), tuple(up))

r"""Mesh hierarchies and the module applying their sampling operators.

:func:`mesh_hierarchy` decimates a mesh level by level and builds the
downsampling operator :math:`\mathbf{D}` (vertex selection) and the
upsampling operator :math:`\mathbf{U}` (barycentric weights on the coarse
surface) of each level with the functions of
``bigraph_pyg.topology.decimation`` (CoMA, Ranjan et al. 2018; GraphCMR,
Kolotouros et al. 2019, used by the paper's mesh branch, Sec. 4.3.1).
:class:`MeshSampler` applies them to vertex features; it also reads
GraphCMR's own operators (``mesh_downsampling.npz``) through
:func:`~bigraph_pyg.topology.load_graphcmr_sampling`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from bigraph_pyg.topology.decimation import (
    _check_vertices,
    decimate,
    downsampling_matrix,
    upsampling_matrix,
)
from bigraph_pyg.topology.graphcmr_sampling import load_graphcmr_sampling
from bigraph_pyg.topology.mesh import check_faces
from bigraph_pyg.utils.sparse import fold_batch, unfold_batch

__all__ = [
    "MeshHierarchy",
    "MeshSampler",
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
            return t.to(*args, **kwargs) if t.is_floating_point() else t.to(
                device=self.vertices[0].to(*args, **kwargs).device
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
        keep, cfaces = decimate(verts[-1], facs[-1], size,
                                strict=len(verts) == 1)
        d = downsampling_matrix(keep, n, vertices.dtype)
        cverts = verts[-1][keep]
        up.append(upsampling_matrix(verts[-1], cverts, cfaces))
        down.append(d)
        verts.append(cverts)
        facs.append(cfaces)
    return MeshHierarchy(tuple(verts), tuple(facs), tuple(down), tuple(up))


def _spmm_fold(mat: Tensor, x: Tensor) -> Tensor:
    """``mat @ x`` for ``x`` of shape ``(N, C)`` or ``(B, N, C)``.

    The batch is folded into channels, ``(N, B * C)``, for one sparse
    product.
    """
    mat = mat.to(dtype=x.dtype)
    batch = x.size(0) if x.dim() == 3 else None
    return unfold_batch(torch.sparse.mm(mat, fold_batch(x)), batch)


class MeshSampler(torch.nn.Module):
    r"""Apply mesh down/up-sampling to vertex features (GraphCMR).

    Holds :math:`\mathbf{D}_l` and :math:`\mathbf{U}_l` as sparse buffers
    (``down_0, up_0, ...``), so ``.to()`` and ``state_dict`` carry them.
    Batched features ``(B, N, C)`` are folded to ``(N, B C)`` for a single
    sparse product per level.

    Args:
        down (Sequence[Tensor]): Sparse ``D_l`` of shape
            ``(N_{l+1}, N_l)``.
        up (Sequence[Tensor]): Sparse ``U_l`` of shape ``(N_l, N_{l+1})``.

    Shapes:
        - **input:** :math:`(N_a, C)` or :math:`(B, N_a, C)`
        - **output:** :math:`(N_b, C)` or :math:`(B, N_b, C)`

    Raises:
        ValueError: operators that do not chain, or features whose node
            count does not match the starting level.
    """

    def __init__(self, down: Sequence[Tensor], up: Sequence[Tensor]):
        super().__init__()
        if len(down) != len(up) or len(down) == 0:
            raise ValueError(
                f"Expected as many 'down' as 'up' operators, at least one "
                f"(got {len(down)} and {len(up)})"
            )
        sizes = [down[0].size(1)]
        for i, (d, u) in enumerate(zip(down, up, strict=False)):
            n, m = sizes[-1], d.size(0)
            if tuple(d.shape) != (m, n) or tuple(u.shape) != (n, m):
                raise ValueError(
                    f"Expected down[{i}] of shape (M, {n}) and up[{i}] of "
                    f"shape ({n}, M) (got {tuple(d.shape)} and "
                    f"{tuple(u.shape)})"
                )
            sizes.append(m)
            self.register_buffer(f"down_{i}", d.coalesce())
            self.register_buffer(f"up_{i}", u.coalesce())
        self.sizes = tuple(sizes)

    @classmethod
    def from_hierarchy(cls, hierarchy: MeshHierarchy) -> MeshSampler:
        """Build from a :class:`MeshHierarchy`."""
        return cls(hierarchy.down, hierarchy.up)

    @classmethod
    def from_graphcmr(cls, path: str | Path) -> MeshSampler:
        """Build from GraphCMR's ``mesh_downsampling.npz``."""
        _, down, up = load_graphcmr_sampling(path)
        return cls(down, up)

    @property
    def num_levels(self) -> int:
        """Number of levels, the input mesh included."""
        return len(self.sizes)

    def _check(self, x: Tensor, level: int) -> None:
        if x.dim() not in (2, 3) or x.size(-2) != self.sizes[level]:
            raise ValueError(
                f"Expected 'x' of shape (N, C) or (B, N, C) with "
                f"N = {self.sizes[level]} (level {level}) "
                f"(got {tuple(x.shape)})"
            )

    def downsample(self, x: Tensor, start: int = 0, end: int = -1) -> Tensor:
        """Apply ``D_{end-1} ... D_start`` (``end=-1``: coarsest level)."""
        end = end % self.num_levels
        self._check(x, start)
        for i in range(start, end):
            x = _spmm_fold(getattr(self, f"down_{i}"), x)
        return x

    def upsample(self, x: Tensor, start: int = -1, end: int = 0) -> Tensor:
        """Apply ``U_end ... U_{start-1}`` (``start=-1``: coarsest level)."""
        start = start % self.num_levels
        self._check(x, start)
        for i in range(start - 1, end - 1, -1):
            x = _spmm_fold(getattr(self, f"up_{i}"), x)
        return x

    def forward(self, x: Tensor, start: int, end: int) -> Tensor:
        """Resample ``x`` from level ``start`` to level ``end``."""
        start, end = start % self.num_levels, end % self.num_levels
        if end >= start:
            return self.downsample(x, start, end)
        return self.upsample(x, start, end)

    def __repr__(self) -> str:
        sizes = " -> ".join(str(s) for s in self.sizes)
        return f"{self.__class__.__name__}({sizes})"

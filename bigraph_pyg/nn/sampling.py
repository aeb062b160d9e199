r"""The module applying a mesh hierarchy's sampling operators (GraphCMR).

:class:`MeshSampler` holds each level's downsampling :math:`\mathbf{D}_l`
and upsampling :math:`\mathbf{U}_l` (built by
:func:`~bigraph_pyg.topology.mesh_hierarchy`, or read from GraphCMR's
``mesh_downsampling.npz``) as edge lists — plain index and weight tensors,
so ``.to()``, ``state_dict`` and :func:`torch.compile` (which cannot trace
a module holding torch.sparse buffers) all handle them — and applies them
with the same batched sparse product as the graph convolutions
(:func:`~bigraph_pyg.utils.sparse.batched_spmm`, a custom operator).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from bigraph_pyg.utils.sparse import batched_spmm

if TYPE_CHECKING:
    from bigraph_pyg.topology import MeshHierarchy

__all__ = ["MeshSampler"]


class MeshSampler(torch.nn.Module):
    r"""Apply mesh down/up-sampling to vertex features (GraphCMR).

    .. math::
        \mathbf{X}_{l+1} = \mathbf{D}_l \mathbf{X}_l, \qquad
        \mathbf{X}_l = \mathbf{U}_l \mathbf{X}_{l+1}

    Each operator is stored as two buffers, ``down_<l>_index`` /
    ``up_<l>_index`` (``(2, E)``: row, column) and ``down_<l>_weight`` /
    ``up_<l>_weight`` (``(E,)``). Batched features ``(B, N, C)`` are folded
    to ``(N, B C)`` for one sparse product per level. State dicts of the
    earlier layout (one sparse COO buffer ``down_<l>``) still load.

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

    Example:
        >>> d = torch.tensor([[1.0, 0.0, 0.0]]).to_sparse()
        >>> u = torch.tensor([[1.0], [0.5], [0.0]]).to_sparse()
        >>> s = MeshSampler([d], [u])
        >>> s.upsample(torch.ones(2, 1, 4)).shape
        torch.Size([2, 3, 4])
    """

    def __init__(self, down: Sequence[Tensor], up: Sequence[Tensor]):
        super().__init__()
        if len(down) != len(up) or len(down) == 0:
            raise ValueError(
                f"Expected as many 'down' as 'up' operators, at least one "
                f"(got {len(down)} and {len(up)})"
            )
        sizes = [down[0].size(1)]
        for i, (d, u) in enumerate(zip(down, up, strict=True)):
            n, m = sizes[-1], d.size(0)
            if tuple(d.shape) != (m, n) or tuple(u.shape) != (n, m):
                raise ValueError(
                    f"Expected down[{i}] of shape (M, {n}) and up[{i}] of "
                    f"shape ({n}, M) (got {tuple(d.shape)} and "
                    f"{tuple(u.shape)})"
                )
            sizes.append(m)
            for name, mat in (("down", d), ("up", u)):
                # Copies: a view keeps the sparse tensor as its base.
                mat = mat.coalesce()
                self.register_buffer(f"{name}_{i}_index", mat.indices().clone())
                self.register_buffer(f"{name}_{i}_weight", mat.values().clone())
        self.sizes = tuple(sizes)

    @classmethod
    def from_hierarchy(cls, hierarchy: MeshHierarchy) -> MeshSampler:
        """Build from a :class:`~bigraph_pyg.topology.MeshHierarchy`."""
        return cls(hierarchy.down, hierarchy.up)

    @classmethod
    def from_graphcmr(cls, path: str | Path) -> MeshSampler:
        """Build from GraphCMR's ``mesh_downsampling.npz``."""
        from bigraph_pyg.topology import load_graphcmr_sampling

        _, down, up = load_graphcmr_sampling(path)
        return cls(down, up)

    @property
    def num_levels(self) -> int:
        """Number of levels, the input mesh included."""
        return len(self.sizes)

    def operator(self, name: str, level: int) -> Tensor:
        """``D_level`` (``name="down"``) or ``U_level`` as a sparse tensor.

        Args:
            name (str): ``"down"`` or ``"up"``.
            level (int): ``0 <= level < num_levels - 1``.

        Returns:
            Tensor: sparse COO, ``(N_{l+1}, N_l)`` or ``(N_l, N_{l+1})``.
        """
        if name not in ("down", "up") or not 0 <= level < self.num_levels - 1:
            raise ValueError(
                f"Expected name in ('down', 'up') and level in [0, "
                f"{self.num_levels - 1}) (got {name!r}, {level})"
            )
        n, m = self.sizes[level], self.sizes[level + 1]
        shape = (m, n) if name == "down" else (n, m)
        return torch.sparse_coo_tensor(
            getattr(self, f"{name}_{level}_index"),
            getattr(self, f"{name}_{level}_weight"),
            shape,
        ).coalesce()

    def _apply_level(self, name: str, level: int, x: Tensor) -> Tensor:
        index = getattr(self, f"{name}_{level}_index")
        weight = getattr(self, f"{name}_{level}_weight")
        rows = self.sizes[level + 1 if name == "down" else level]
        return batched_spmm(index[1], index[0], weight.to(x.dtype), x, rows)

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
            x = self._apply_level("down", i, x)
        return x

    def upsample(self, x: Tensor, start: int = -1, end: int = 0) -> Tensor:
        """Apply ``U_end ... U_{start-1}`` (``start=-1``: coarsest level)."""
        start = start % self.num_levels
        self._check(x, start)
        for i in range(start - 1, end - 1, -1):
            x = self._apply_level("up", i, x)
        return x

    def forward(self, x: Tensor, start: int, end: int) -> Tensor:
        """Resample ``x`` from level ``start`` to level ``end``."""
        start, end = start % self.num_levels, end % self.num_levels
        if end >= start:
            return self.downsample(x, start, end)
        return self.upsample(x, start, end)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # The earlier layout: one sparse COO buffer per operator.
        for i in range(self.num_levels - 1):
            for name in ("down", "up"):
                old = state_dict.pop(f"{prefix}{name}_{i}", None)
                if old is not None:
                    old = old.coalesce()
                    state_dict[f"{prefix}{name}_{i}_index"] = (
                        old.indices().clone()
                    )
                    state_dict[f"{prefix}{name}_{i}_weight"] = (
                        old.values().clone()
                    )
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def __repr__(self) -> str:
        sizes = " -> ".join(str(s) for s in self.sizes)
        return f"{self.__class__.__name__}({sizes})"

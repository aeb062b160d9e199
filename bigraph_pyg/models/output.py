r"""The named predictions of :class:`~bigraph_pyg.models.BiGraphBody`."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch
from torch import Tensor

from bigraph_pyg.geometry import weak_perspective_projection

__all__ = ["BiGraphOutput"]


@dataclass
class BiGraphOutput:
    r"""Predictions of :class:`BiGraphBody` (paper Eq. 1 and Sec. 4.4).

    3D quantities are in the units of the template (metres for SMPL and the
    default body); 2D projections are in normalised crop coordinates
    ``[-1, 1]`` (GraphCMR's convention, the units of the 2D loss).

    Attributes:
        vertices (Tensor): Full-resolution mesh :math:`(B, N_0, 3)`, the
            coarse mesh upsampled with :math:`\mathbf{U}`.
        coarse_vertices (Tensor): Mesh-GCN output :math:`\hat{\mathbf{V}}_m`
            :math:`(B, N_m, 3)`.
        mesh_joints (Tensor): :math:`\hat{\mathbf{V}}^{j3d}_m`, the 12 joints
            regressed from ``vertices`` :math:`(B, 12, 3)`.
        skeleton_joints (Tensor or None): Skeleton-GCN output
            :math:`\hat{\mathbf{V}}_s` :math:`(B, 12, 3)`; :obj:`None`
            without a skeleton branch.
        camera (Tensor): Weak-perspective camera :math:`(s, t_x, t_y)`,
            :math:`(B, 3)`.
        rotmat (Tensor): SMPL rotations :math:`(B, 24, 3, 3)`.
        betas (Tensor): SMPL shape :math:`(B, 10)`.
        mesh_joints_2d (Tensor): Projection of ``mesh_joints``
            :math:`(B, 12, 2)`.
        skeleton_joints_2d (Tensor or None): Projection of
            ``skeleton_joints`` :math:`(B, 12, 2)`.
    """

    vertices: Tensor
    coarse_vertices: Tensor
    mesh_joints: Tensor
    skeleton_joints: Tensor | None
    camera: Tensor
    rotmat: Tensor
    betas: Tensor
    mesh_joints_2d: Tensor
    skeleton_joints_2d: Tensor | None

    @classmethod
    def from_3d(
        cls,
        *,
        vertices: Tensor,
        coarse_vertices: Tensor,
        mesh_joints: Tensor,
        skeleton_joints: Tensor | None,
        camera: Tensor,
        smpl,
    ) -> BiGraphOutput:
        """The output of 3D predictions, with their 2D projections.

        ``mesh_joints_2d`` and ``skeleton_joints_2d`` are the joints
        projected with the weak-perspective ``camera``
        (:func:`~bigraph_pyg.geometry.weak_perspective_projection`).

        Args:
            vertices (Tensor): As the attribute.
            coarse_vertices (Tensor): As the attribute.
            mesh_joints (Tensor): As the attribute.
            skeleton_joints (Tensor or None): As the attribute.
            camera (Tensor): As the attribute.
            smpl (SMPLParams): ``rotmat`` and ``betas``
                (:class:`~bigraph_pyg.nn.heads.SMPLParamRegressor`).

        Returns:
            BiGraphOutput: the predictions.
        """
        return cls(
            vertices=vertices,
            coarse_vertices=coarse_vertices,
            mesh_joints=mesh_joints,
            skeleton_joints=skeleton_joints,
            camera=camera,
            rotmat=smpl.rotmat,
            betas=smpl.betas,
            mesh_joints_2d=weak_perspective_projection(mesh_joints, camera),
            skeleton_joints_2d=(
                None
                if skeleton_joints is None
                else weak_perspective_projection(skeleton_joints, camera)
            ),
        )

    def float(self) -> BiGraphOutput:
        """These predictions in float32 (e.g. for the loss after autocast).

        Returns:
            BiGraphOutput: ``self`` if every tensor is float32 already, else
            a copy with the others cast.
        """
        changes = {
            f.name: getattr(self, f.name).float()
            for f in fields(self)
            if isinstance(getattr(self, f.name), Tensor)
            and getattr(self, f.name).dtype != torch.float32
        }
        return replace(self, **changes) if changes else self

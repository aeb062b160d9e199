r"""One body-model interface for SMPL and the default body (through smplx).

Both sources are SMPL-format arrays (template, faces, joint regressor,
skinning weights, shape and pose blend shapes, kinematic tree) handed to
``smplx.SMPLLayer(..., data_struct=...)``, so they share one code path:
linear blend skinning of the shaped template (SMPL, Loper et al. 2015),
the body prior of the paper's mesh branch (Sec. 4.3.1).
"""

from __future__ import annotations

import contextlib
import functools
import io
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from bigraph_pyg.body.arrays import _shape, check_body_arrays

__all__ = ["BodyModel", "BodyOutput"]


@dataclass(frozen=True)
class BodyOutput:
    """Posed body.

    Attributes:
        vertices (Tensor): :math:`(B, V, 3)`.
        joints (Tensor): :math:`(B, J, 3)` regressed joints (24 for SMPL),
            ``J_regressor @ shaped template`` posed by the kinematic tree.
    """

    vertices: Tensor
    joints: Tensor


def _axis_angle_to_matrix(x: Tensor, count: int, name: str) -> Tensor:
    """Accept ``(B, count*3)``, ``(B, count, 3)`` or ``(B, count, 3, 3)``."""
    from smplx.lbs import batch_rodrigues

    b = x.size(0) if x.dim() > 0 else 0
    if x.dim() == 4 and tuple(x.shape[1:]) == (count, 3, 3):
        return x
    if count == 1 and x.dim() == 3 and tuple(x.shape[1:]) == (3, 3):
        return x.unsqueeze(1)
    if (x.dim() == 2 and x.size(1) == 3 * count) or (
        x.dim() == 3 and tuple(x.shape[1:]) == (count, 3)
    ):
        return batch_rodrigues(x.reshape(-1, 3)).view(b, count, 3, 3)
    raise ValueError(
        f"Expected '{name}' of shape (B, {3 * count}), (B, {count}, 3) or "
        f"(B, {count}, 3, 3) (got {tuple(x.shape)})"
    )


class BodyModel(torch.nn.Module):
    r"""SMPL-format body model: template, faces, regressor, skinning.

    Wraps :class:`smplx.SMPLLayer` built from plain arrays
    (``data_struct``). Use :func:`bigraph_pyg.body.load_smpl` for SMPL and
    :func:`bigraph_pyg.body.default_body` for the shipped licence-free body.

    .. math::
        \mathbf{V} = \mathrm{LBS}(\bar{\mathbf{T}} + \mathbf{S}\beta
        + \mathbf{P}(\theta), \mathbf{J}(\beta), \theta, \mathcal{W})

    Args:
        arrays (Mapping): SMPL-format arrays (see :func:`check_body_arrays`).
        num_betas (int): Shape coefficients used. (default: ``10``)
        name (str): A label for ``repr``. (default: ``'body'``)
        dtype (torch.dtype): Buffer dtype. (default: :obj:`torch.float32`)

    Shapes:
        - **input:** betas :math:`(B, K)`, ``K <= num_betas``; body pose
          :math:`(B, 3(J-1))`, :math:`(B, J-1, 3)` (axis-angle, radians)
          or :math:`(B, J-1, 3, 3)`; global orientation :math:`(B, 3)`,
          :math:`(B, 3, 3)` or :math:`(B, 1, 3, 3)`; translation
          :math:`(B, 3)` (all *optional*, :math:`B = 1` if all omitted)
        - **output:** :class:`BodyOutput` with vertices :math:`(B, V, 3)`
          and joints :math:`(B, J, 3)`, in the units of the template
          (metres for SMPL)

    Raises:
        ValueError: invalid arrays, or ``num_betas`` larger than the
            number of shape directions.
    """

    def __init__(
        self,
        arrays: Mapping,
        num_betas: int = 10,
        name: str = "body",
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        from smplx.utils import Struct
        from smplx.vertex_ids import vertex_ids as smplx_vertex_ids

        check_body_arrays(arrays, name)
        arrays = dict(arrays)
        nv = _shape(arrays["v_template"])[0]
        nj = _shape(arrays["J_regressor"])[0]
        k = _shape(arrays["shapedirs"])[2]
        if not 1 <= num_betas <= k:
            raise ValueError(
                f"Expected 'num_betas' in [1, {k}] (got {num_betas})"
            )
        if "posedirs" not in arrays:
            arrays["posedirs"] = np.zeros((nv, 3, 9 * (nj - 1)), np.float32)
        ids = dict(smplx_vertex_ids["smplh"])
        if max(ids.values()) >= nv:  # extra keypoints are unused here
            ids = dict.fromkeys(ids, 0)
        with contextlib.redirect_stdout(io.StringIO()):  # smplx prints
            self.smpl = _layer_class()(
                model_path="",
                data_struct=Struct(**arrays),
                num_betas=num_betas,
                vertex_ids=ids,
                dtype=dtype,
                num_body_joints=nj - 1,
            )
        self.name = name

    @property
    def num_vertices(self) -> int:
        """Number of vertices ``V``."""
        return self.smpl.v_template.size(0)

    @property
    def num_joints(self) -> int:
        """Number of regressed joints ``J`` (24 for SMPL)."""
        return self.smpl.J_regressor.size(0)

    @property
    def num_betas(self) -> int:
        """Number of shape coefficients."""
        return self.smpl.num_betas

    @property
    def template_vertices(self) -> Tensor:
        """Template (T-pose, zero shape) vertices :math:`(V, 3)`."""
        return self.smpl.v_template

    @property
    def faces(self) -> Tensor:
        """Triangles :math:`(F, 3)` int64."""
        return self.smpl.faces_tensor

    @property
    def joint_regressor(self) -> Tensor:
        """Joint regressor :math:`(J, V)` (dense)."""
        return self.smpl.J_regressor

    @property
    def skinning_weights(self) -> Tensor:
        """Linear blend skinning weights :math:`(V, J)`."""
        return self.smpl.lbs_weights

    @property
    def parents(self) -> Tensor:
        """Kinematic tree :math:`(J,)`, ``parents[0] = -1``."""
        return self.smpl.parents

    def template_joints(self) -> Tensor:
        """Joints of the template, ``J_regressor @ v_template`` ``(J, 3)``."""
        return self.joint_regressor @ self.template_vertices

    def forward(
        self,
        betas: Tensor | None = None,
        body_pose: Tensor | None = None,
        global_orient: Tensor | None = None,
        transl: Tensor | None = None,
    ) -> BodyOutput:
        """Pose and shape the body.

        Args:
            betas (Tensor, optional): Shape :math:`(B, K)`, ``K <=
                num_betas`` (zeros if omitted).
            body_pose (Tensor, optional): Joint rotations, axis-angle
                :math:`(B, 3(J-1))` / :math:`(B, J-1, 3)` or matrices
                :math:`(B, J-1, 3, 3)` (identity if omitted).
            global_orient (Tensor, optional): Root rotation :math:`(B, 3)`,
                :math:`(B, 3, 3)` or :math:`(B, 1, 3, 3)`.
            transl (Tensor, optional): Translation :math:`(B, 3)`.

        Returns:
            BodyOutput: ``vertices (B, V, 3)``, ``joints (B, J, 3)``.

        Raises:
            ValueError: shapes that do not match the model.
        """
        nj = self.num_joints
        given = [
            t
            for t in (betas, body_pose, global_orient, transl)
            if t is not None
        ]
        batch = given[0].size(0) if given else 1
        for t in given:
            if t.dim() == 0 or t.size(0) != batch:
                raise ValueError(
                    f"Expected the same batch size B={batch} in every input "
                    f"(got shape {tuple(t.shape)})"
                )
        dev, dt = self.smpl.v_template.device, self.smpl.v_template.dtype
        if betas is not None:
            if betas.dim() != 2 or betas.size(1) > self.num_betas:
                raise ValueError(
                    f"Expected 'betas' of shape (B, K <= {self.num_betas}) "
                    f"(got {tuple(betas.shape)})"
                )
            pad = self.num_betas - betas.size(1)
            betas = torch.nn.functional.pad(betas, (0, pad))
        if body_pose is not None:
            body_pose = _axis_angle_to_matrix(body_pose, nj - 1, "body_pose")
        if global_orient is not None:
            global_orient = _axis_angle_to_matrix(
                global_orient, 1, "global_orient"
            )
        if transl is not None and (transl.dim() != 2 or transl.size(1) != 3):
            raise ValueError(
                f"Expected 'transl' of shape (B, 3) (got {tuple(transl.shape)})"
            )
        if batch and body_pose is None:
            body_pose = torch.eye(3, device=dev, dtype=dt).expand(
                batch, nj - 1, 3, 3
            )
        out = self.smpl(
            betas=betas,
            body_pose=body_pose,
            global_orient=global_orient,
            transl=transl,
        )
        return BodyOutput(out.vertices, out.joints[:, :nj])

    def extra_repr(self) -> str:
        """Name and sizes, for ``repr``."""
        return (
            f"name={self.name!r}, num_vertices={self.num_vertices}, "
            f"num_joints={self.num_joints}, num_betas={self.num_betas}"
        )


@functools.cache
def _layer_class():
    """``smplx.SMPLLayer`` with its joint count taken from the arrays.

    Defined lazily so that importing :mod:`bigraph_pyg.body` does not need
    ``smplx``.
    """
    import smplx

    class SMPLArraysLayer(smplx.SMPLLayer):
        def __init__(self, *args, num_body_joints: int = 23, **kwargs):
            """``SMPLLayer`` for ``num_body_joints + 1`` joints."""
            self.NUM_BODY_JOINTS = num_body_joints
            self.NUM_JOINTS = num_body_joints
            super().__init__(*args, **kwargs)

    return SMPLArraysLayer

r"""A training-free lifter: the nearest training poses of a 2D pose.

The strongest trivial baseline of a lifter is a lookup. Each training pose
(its 12 joints, pelvis-centred, in its body frame turned upright to face
the camera) is seen from ``num_yaws`` directions about the vertical axis
and projected orthographically: a bank of 2D poses with their 3D poses.
A query's 2D joints are matched to the bank by 2D Procrustes (the best
similarity transform: translation, in-plane rotation and scale, over the
visible joints), and the prediction is the mean of the ``k`` nearest 3D
poses, each turned by its own in-plane rotation.

With complex coordinates :math:`q_j = u_j + i v_j`, weights :math:`w_j`,
centred by their weighted means, the Procrustes residual of a candidate
:math:`c` is, relative to the query's spread,

.. math::
    r(c) = 1 - \frac{\lvert \sum_j w_j \bar{c}_j q_j \rvert^2}
    {\sum_j w_j \lvert c_j \rvert^2 \, \sum_j w_j \lvert q_j \rvert^2},

and the rotation taking :math:`c` onto :math:`q` is the argument of that
sum — three matrix products over the whole bank, no loop over candidates.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from bigraph_pyg.geometry import axis_angle_to_matrix, center_joints
from bigraph_pyg.metrics import HIP_INDICES

__all__ = ["NearestNeighbourLifter", "upright_poses"]

#: ``R_x(180°)``: an upright body (``y`` up, facing ``+z``) into the
#: camera frame (``y`` down), facing the camera.
_UPRIGHT = torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64))


def upright_poses(joints_3d: Tensor, global_orient: Tensor) -> Tensor:
    """Pelvis-centred joints in their body frame, upright, facing the camera.

    Args:
        joints_3d (Tensor): :math:`(N, 12, 3)` camera-frame joints.
        global_orient (Tensor): :math:`(N, 3)` the SMPL global orientation
            (axis-angle) they were posed with.

    Returns:
        Tensor: :math:`(N, 12, 3)` float64 (the frame of the baselines'
        mean pose).
    """
    joints = center_joints(joints_3d.double(), HIP_INDICES)
    rot = axis_angle_to_matrix(global_orient.double())
    return joints @ rot @ _UPRIGHT.T  # R^T j, then upright (row vectors)


class NearestNeighbourLifter:
    """2D-Procrustes nearest-neighbour lookup of training poses.

    Args:
        poses (Tensor): :math:`(N, 12, 3)` training poses from
            :func:`upright_poses`, metres.
        num_yaws (int): Views of each pose about the vertical axis.
            (default: ``24``)
        k (int): Neighbours averaged. (default: ``16``)
        chunk (int): Bank entries matched at once (memory). (default:
            ``65536``)

    Raises:
        ValueError: ``poses`` not :math:`(N, 12, 3)` with ``N >= k``, or
            non-positive ``num_yaws``/``k``.
    """

    def __init__(
        self, poses: Tensor, num_yaws: int = 24, k: int = 16, chunk=65536
    ) -> None:
        if poses.dim() != 3 or poses.shape[1:] != (12, 3):
            raise ValueError(
                f"Expected poses of shape (N, 12, 3) (got {tuple(poses.shape)})"
            )
        if num_yaws < 1 or k < 1 or poses.shape[0] < k:
            raise ValueError(
                f"Expected num_yaws >= 1 and 1 <= k <= N (got num_yaws="
                f"{num_yaws}, k={k}, N={poses.shape[0]})"
            )
        yaw = torch.arange(num_yaws, dtype=torch.float64) * (
            2 * math.pi / num_yaws
        )
        c, s = torch.cos(yaw), torch.sin(yaw)
        rot = torch.zeros(num_yaws, 3, 3, dtype=torch.float64)
        rot[:, 0, 0], rot[:, 0, 2], rot[:, 1, 1] = c, s, 1.0
        rot[:, 2, 0], rot[:, 2, 2] = -s, c
        bank = torch.einsum("yab,njb->nyja", rot, poses.double())
        self.bank_3d = bank.reshape(-1, 12, 3).float()  # (M, 12, 3)
        self.bank_2d = torch.complex(
            self.bank_3d[..., 0], self.bank_3d[..., 1]
        )  # (M, 12)
        self.k = int(k)
        self.chunk = int(chunk)

    def __len__(self) -> int:
        return self.bank_3d.shape[0]

    @torch.no_grad()
    def __call__(self, joints_2d: Tensor, weights: Tensor | None = None):
        """Lift 2D joints.

        Args:
            joints_2d (Tensor): :math:`(B, 12, 2)` pixels (``y`` down).
            weights (Tensor, optional): :math:`(B, 12)` joint weights (``0``
                for a joint not seen); all ones by default. A sample with
                fewer than two seen joints uses all of them.

        Returns:
            Tensor: :math:`(B, 12, 3)` metres, pelvis at the origin, on
            ``joints_2d``'s device and dtype.
        """
        device, dtype = joints_2d.device, joints_2d.dtype
        uv = joints_2d.detach().double().cpu()
        w = (
            torch.ones(uv.shape[:2], dtype=torch.float64)
            if weights is None
            else weights.detach().double().cpu().clamp_min(0.0)
        )
        w = torch.where(
            (w > 0).sum(1, keepdim=True) >= 2, w, torch.ones_like(w)
        )
        w = w / w.sum(1, keepdim=True)
        q = torch.complex(uv[..., 0], uv[..., 1])
        q = q - (w * q).sum(1, keepdim=True)
        q = q / (w * q.abs() ** 2).sum(1, keepdim=True).sqrt().clamp_min(1e-12)
        wq = (w * q.conj()).to(torch.complex64)  # (B, 12)
        wc = w.to(torch.complex64)
        best_r = torch.full((uv.shape[0], 0), 0.0)
        best_i = torch.zeros((uv.shape[0], 0), dtype=torch.long)
        best_p = torch.zeros((uv.shape[0], 0), dtype=torch.complex64)
        for start in range(0, len(self), self.chunk):
            c = self.bank_2d[start : start + self.chunk]  # (m, 12)
            mean = wc @ c.T  # (B, m): sum w c
            sq = w.float() @ (c.abs() ** 2).T  # sum w |c|^2
            norm = (sq - mean.abs() ** 2).clamp_min(1e-12)
            # sum w conj(q) (c - mean) = sum w conj(q) c (q has mean 0).
            dot = wq @ c.T
            r = 1.0 - dot.abs() ** 2 / norm
            r_all = torch.cat([best_r, r], 1)
            i_all = torch.cat(
                [best_i, torch.arange(start, start + c.shape[0]).expand_as(r)],
                1,
            )
            p_all = torch.cat([best_p, dot.conj()], 1)
            keep = r_all.topk(self.k, dim=1, largest=False).indices
            best_r = r_all.gather(1, keep)
            best_i = i_all.gather(1, keep)
            best_p = p_all.gather(1, keep)
        # The in-plane rotation taking each candidate onto the query.
        phase = best_p / best_p.abs().clamp_min(1e-12)  # (B, k)
        cand = self.bank_3d[best_i]  # (B, k, 12, 3)
        xy = torch.complex(cand[..., 0], cand[..., 1]) * phase[..., None]
        out = torch.stack([xy.real, xy.imag, cand[..., 2]], -1).mean(1)
        out = center_joints(out.double(), HIP_INDICES)
        return out.to(device=device, dtype=dtype)

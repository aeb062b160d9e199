r"""Trivial predictors scored beside every model, and skill ratios.

An accuracy figure means something only next to what a predictor that
learned nothing scores on the same samples with the same code. Three such
predictors need only statistics of the **training split**
(:class:`TrainingStatistics`) and the model's own 2D input:

* ``mean_pose``: the constant mean training pose — each training sample's
  12 joints centred on the pelvis (mean of the hips) and turned into the
  body frame (the inverse of its SMPL global orientation), averaged, then
  turned upright and facing the camera (:math:`R_x(180°)`, camera axes
  ``x`` right, ``y`` down, ``z`` forward);
* ``flat_lift``: the zero-depth lift of the 2D joints the model is given
  (pixels): centred on the pelvis, scaled so that its summed bone length
  equals that of the mean pose, with :math:`z = 0`;
* ``flat_lift_true``: the same lift of the *true* 2D joints (a perfect
  detector's flat copy);
* ``nearest_neighbour``: the mean of the 16 training poses (up to 16,384,
  each seen from 24 yaws) whose projections best match the model's own 2D
  input by 2D Procrustes
  (:class:`~bigraph_pyg.engine.nearest_lift.NearestNeighbourLifter`):
  what a lookup of the training poses achieves without learning;
* ``mean_mesh``: the constant mean training mesh in the camera-oriented
  model frame (the frame of the ground-truth vertices), and the 12 joints
  the joint regressor gives on it.

:func:`skill_ratios` divides each model error by the best baseline's error
on the same metric (below 1 = better than every trivial predictor), and
:class:`DepthCorrelation` accumulates the Pearson correlation of predicted
with true pelvis-relative depth — a model that outputs a flat 2D pose
scores 0 there however good its PA-MPJPE looks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from bigraph_pyg.engine.nearest_lift import upright_poses
from bigraph_pyg.geometry import center_joints
from bigraph_pyg.metrics import HIP_INDICES
from bigraph_pyg.topology import BONES, JOINT_NAMES

__all__ = [
    "BASELINES",
    "DepthCorrelation",
    "TrainingStatistics",
    "flat_lift",
    "skill_ratios",
]

#: Baseline names, in table order, with a description.
BASELINES: dict[str, str] = {
    "mean_pose": "constant mean training pose (body frame, upright)",
    "flat_lift": "2D input joints, depth 0, scaled to the mean pose",
    "flat_lift_true": "true 2D joints, depth 0, scaled to the mean pose",
    "nearest_neighbour": "mean of the 16 nearest training poses (2D "
    "Procrustes, 24 yaws)",
    "mean_mesh": "constant mean training mesh (camera-oriented frame)",
}

#: Training poses the nearest-neighbour baseline looks up, at most.
MAX_BANK_POSES = 16384


_BONE_INDEX = [(JOINT_NAMES.index(a), JOINT_NAMES.index(b)) for a, b in BONES]


def _bone_length(joints: Tensor) -> Tensor:
    """Summed bone length of ``(..., 12, D)`` joints: ``(...)``."""
    a = joints[..., [i for i, _ in _BONE_INDEX], :]
    b = joints[..., [j for _, j in _BONE_INDEX], :]
    return (a - b).norm(dim=-1).sum(-1)


@dataclass
class TrainingStatistics:
    """What the trivial predictors know: means over the training split.

    Attributes:
        mean_joints (Tensor): :math:`(12, 3)` mean pelvis-centred pose,
            upright, facing the camera, metres.
        mean_vertices (Tensor or None): :math:`(V, 3)` mean ground-truth
            mesh (model frame, metres); :obj:`None` without meshes.
        num_samples (int): Training samples that contributed to
            ``mean_joints``.
        pose_bank (Tensor or None): :math:`(N, 12, 3)` training poses for
            the nearest-neighbour baseline (body frame, upright, facing the
            camera; ``N <=`` :data:`MAX_BANK_POSES`); :obj:`None`: no such
            baseline.
    """

    mean_joints: Tensor
    mean_vertices: Tensor | None
    num_samples: int
    pose_bank: Tensor | None = None

    @classmethod
    def from_batches(cls, batches: Iterable[Mapping]) -> TrainingStatistics:
        """Accumulate the means over collated training batches.

        Args:
            batches (Iterable[Mapping]): Collated samples with ``joints_3d``
                :math:`(B, 12, 3)`, ``pose`` :math:`(B, 72)` (axis-angle,
                the first 3 the global orientation), ``has_pose_3d``,
                ``has_smpl`` and optionally ``vertices`` with
                ``has_vertices``.

        Returns:
            TrainingStatistics: the means.

        Raises:
            ValueError: no sample with both 3D joints and SMPL pose.
        """
        joint_sum, n_joints = torch.zeros(12, 3, dtype=torch.float64), 0
        vert_sum, n_verts = None, 0
        bank: list[Tensor] = []
        for batch in batches:
            ok = batch["has_pose_3d"].bool() & batch["has_smpl"].bool()
            if ok.any():
                up = upright_poses(
                    batch["joints_3d"][ok], batch["pose"][ok, :3]
                )
                joint_sum += up.sum(0)
                n_joints += int(ok.sum())
                if sum(len(b) for b in bank) < MAX_BANK_POSES:
                    bank.append(up.float())
            if "vertices" in batch:
                has_v = batch["has_smpl"].bool()
                if "has_vertices" in batch:
                    has_v = has_v & batch["has_vertices"].bool()
                if has_v.any():
                    v = batch["vertices"][has_v].double().sum(0)
                    vert_sum = v if vert_sum is None else vert_sum + v
                    n_verts += int(has_v.sum())
        if n_joints == 0:
            raise ValueError(
                "Expected training samples with 3D joints and SMPL pose "
                "(has_pose_3d and has_smpl) for the baselines (got none)"
            )
        mean_joints = joint_sum / n_joints
        mean_vertices = None if vert_sum is None else vert_sum / n_verts
        return cls(
            mean_joints.float(),
            None if mean_vertices is None else mean_vertices.float(),
            n_joints,
            torch.cat(bank)[:MAX_BANK_POSES],
        )

    def with_pose_bank(self, poses) -> TrainingStatistics:
        """These statistics, the nearest-neighbour bank replaced.

        For a larger bank than the rendered training split gives: the
        pose-only training samples.

        Args:
            poses (SyntheticPoses): Pose-only training samples (their
                ``joints_3d`` and the global orientation in ``pose``).

        Returns:
            TrainingStatistics: a copy; the first
            :data:`MAX_BANK_POSES` poses make the bank.
        """
        from dataclasses import replace

        n = MAX_BANK_POSES
        joints = torch.as_tensor(poses.arrays["joints_3d"][:n])
        orient = torch.as_tensor(poses.arrays["pose"][:n, :3])
        return replace(self, pose_bank=upright_poses(joints, orient).float())

    @classmethod
    def from_dataset(cls, dataset, batch_size: int = 64) -> TrainingStatistics:
        """:meth:`from_batches` over a dataset, read in order.

        Args:
            dataset (Dataset): Training samples (augmentation, if any, is
                part of the training distribution).
            batch_size (int): Read batch size. (default: ``64``)

        Returns:
            TrainingStatistics: the means.
        """
        from torch.utils.data import DataLoader

        from bigraph_pyg.engine.batch_transforms import collate_samples

        loader = DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=False,
            num_workers=0,
            collate_fn=collate_samples,
        )
        return cls.from_batches(loader)

    def to_dict(self) -> dict:
        """Tensors and ints only (safe for ``torch.load(weights_only)``)."""
        out = {"mean_joints": self.mean_joints, "num_samples": self.num_samples}
        if self.mean_vertices is not None:
            out["mean_vertices"] = self.mean_vertices
        if self.pose_bank is not None:
            out["pose_bank"] = self.pose_bank
        return out

    @classmethod
    def from_dict(cls, state: Mapping) -> TrainingStatistics:
        """Inverse of :meth:`to_dict`.

        Raises:
            ValueError: missing keys or a wrong ``mean_joints`` shape.
        """
        if "mean_joints" not in state or "num_samples" not in state:
            raise ValueError(
                "Expected training statistics with mean_joints "
                f"and num_samples (got keys {sorted(state)})"
            )
        joints = torch.as_tensor(state["mean_joints"]).float()
        if tuple(joints.shape) != (12, 3):
            raise ValueError(
                "Expected mean_joints of shape (12, 3) (got "
                f"{tuple(joints.shape)})"
            )
        verts = state.get("mean_vertices")
        bank = state.get("pose_bank")
        if bank is not None:
            bank = torch.as_tensor(bank).float()
            if bank.dim() != 3 or tuple(bank.shape[1:]) != (12, 3):
                raise ValueError(
                    "Expected pose_bank of shape (N, 12, 3) (got "
                    f"{tuple(bank.shape)})"
                )
        return cls(
            joints,
            None if verts is None else torch.as_tensor(verts).float(),
            int(state["num_samples"]),
            bank,
        )


def flat_lift(joints_2d: Tensor, mean_joints: Tensor) -> Tensor:
    r"""The zero-depth lift of 2D joints, scaled to a reference pose.

    .. math::
        \hat{J} = \bigl(s\,(\mathbf{u} - \bar{\mathbf{u}}_{hips}),\ 0\bigr),
        \quad s = \frac{\sum_{bones} \lVert \bar{J}_a - \bar{J}_b \rVert}
        {\sum_{bones} \lVert \mathbf{u}_a - \mathbf{u}_b \rVert}

    Args:
        joints_2d (Tensor): :math:`(B, 12, 2)` image coordinates (pixels,
            ``y`` down — the camera frame's ``x, y``).
        mean_joints (Tensor): :math:`(12, 3)` reference pose, metres.

    Returns:
        Tensor: :math:`(B, 12, 3)`, metres, pelvis at the origin.

    Example:
        >>> ref = torch.zeros(12, 3); ref[:, 0] = torch.arange(12.)
        >>> uv = torch.zeros(1, 12, 2); uv[..., 0] = 10 * torch.arange(12.)
        >>> flat_lift(uv, ref)[0, :4, 0].tolist()
        [-2.5, -1.5, -0.5, 0.5]
    """
    uv = center_joints(joints_2d.double(), HIP_INDICES)
    ref = _bone_length(mean_joints.double().to(uv.device))
    scale = ref / _bone_length(uv).clamp_min(1e-9)
    xy = uv * scale[:, None, None]
    return torch.cat([xy, torch.zeros_like(xy[..., :1])], -1).to(
        joints_2d.dtype
    )


class DepthCorrelation:
    r"""Pearson correlation of predicted with true pelvis-relative depth.

    Accumulates, over every valid joint of every sample, the sums needed
    for :math:`r = \mathrm{cov}(z, \hat{z}) / (\sigma_z
    \sigma_{\hat{z}})` (pooled over joints and samples, float64).
    """

    def __init__(self) -> None:
        self.sums = torch.zeros(6, dtype=torch.float64)

    def update(self, pred: Tensor, target: Tensor, mask: Tensor) -> None:
        """Add a batch.

        Args:
            pred (Tensor): :math:`(B, 12, 3)`, metres.
            target (Tensor): :math:`(B, 12, 3)`.
            mask (Tensor): :math:`(B, 12)` bool, joints to count.
        """
        zp = center_joints(pred.double(), HIP_INDICES)[..., 2][mask].cpu()
        zt = center_joints(target.double(), HIP_INDICES)[..., 2][mask].cpu()
        self.sums += torch.stack(
            [
                torch.tensor(float(zp.numel()), dtype=torch.float64),
                zp.sum(),
                zt.sum(),
                (zp * zp).sum(),
                (zt * zt).sum(),
                (zp * zt).sum(),
            ]
        )

    def compute(self) -> float:
        """The correlation (NaN with fewer than 2 joints or no spread)."""
        n, sp, st, spp, stt, spt = self.sums.tolist()
        if n < 2:
            return math.nan
        cov = spt / n - sp * st / n**2
        var_p = spp / n - (sp / n) ** 2
        var_t = stt / n - (st / n) ** 2
        if var_p <= 1e-18 or var_t <= 1e-18:
            return math.nan
        return cov / math.sqrt(var_p * var_t)


#: Model metric -> the baseline metric it is compared with.
_SKILL_PAIRS: dict[str, str] = {
    "mpjpe": "mpjpe",
    "pa_mpjpe": "pa_mpjpe",
    "mpjpe_skeleton": "mpjpe",
    "pa_mpjpe_skeleton": "pa_mpjpe",
    "mpve": "mpve",
    "mpve_smpl": "mpve",
}


def skill_ratios(metrics: Mapping[str, float]) -> dict[str, float]:
    """Each model error over the best baseline's error on that metric.

    Args:
        metrics (Mapping[str, float]): From
            :func:`~bigraph_pyg.engine.evaluate.evaluate`, with
            ``baseline_<name>_<metric>`` entries.

    Returns:
        dict[str, float]: ``skill_<metric>`` for every model metric that has
        a baseline, and ``best_baseline_<metric>`` (the lowest baseline
        error).

    Example:
        >>> skill_ratios({"pa_mpjpe": 50.0, "baseline_mean_pose_pa_mpjpe":
        ...               200.0, "baseline_flat_lift_pa_mpjpe": 100.0})
        {'best_baseline_pa_mpjpe': 100.0, 'skill_pa_mpjpe': 0.5}
    """
    best: dict[str, float] = {}
    for base in ("mpjpe", "pa_mpjpe", "mpve"):
        vals = [
            metrics[f"baseline_{name}_{base}"]
            for name in BASELINES
            if f"baseline_{name}_{base}" in metrics
        ]
        if vals:
            best[base] = min(vals)
    out = {f"best_baseline_{k}": v for k, v in best.items()}
    for name, base in _SKILL_PAIRS.items():
        if name in metrics and base in best and best[base] > 0:
            out[f"skill_{name}"] = metrics[name] / best[base]
    return out

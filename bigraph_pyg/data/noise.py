r"""Detector-like noise for "estimated" 2D joints.

The paper feeds the skeleton branch 2D joints from an off-the-shelf
detector (HRNet, Sec. 4.3.2) and, during training, mixes ground-truth and
estimated joints with a ratio that decays to zero by the last epoch
(Sec. 5.2). Without a detector, :class:`JointNoise` simulates one:

* Gaussian jitter with a per-joint scale (wrists and ankles are harder),
  proportional to the person's box size;
* occasional outliers (a large jump);
* occasional left/right swaps of a limb pair (a classic detector error);
* misses: the joint is flagged invisible (``visible = 0``) and its position
  is replaced by the mean of the visible joints (a detector still outputs
  *something*; a consumer should down-weight it).

:func:`bigraph_pyg.engine.schedule.gt_mix_ratio` and
:func:`~bigraph_pyg.engine.schedule.mix_joints_2d` implement the schedule
(the trainer's; its one home).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from bigraph_pyg.topology import FLIP_PERM, JOINT_NAMES

__all__ = ["JointNoise"]

_HARD = ("right_wrist", "left_wrist", "right_ankle", "left_ankle")


@dataclass(frozen=True)
class JointNoise:
    """Parameters of the detector-like 2D joint noise.

    Attributes:
        sigma (float): Jitter standard deviation as a fraction of the box
            size (the larger side of the joints' bounding box).
            (default: ``0.02``)
        hard_scale (float): Jitter multiplier for wrists and ankles.
            (default: ``1.8``)
        outlier_prob (float): Per-joint probability of an outlier.
            (default: ``0.03``)
        outlier_sigma (float): Outlier jump, fraction of box size.
            (default: ``0.15``)
        swap_prob (float): Per-sample probability of swapping one random
            left/right limb pair. (default: ``0.03``)
        miss_prob (float): Per-joint probability of a miss.
            (default: ``0.04``)
    """

    sigma: float = 0.02
    hard_scale: float = 1.8
    outlier_prob: float = 0.03
    outlier_sigma: float = 0.15
    swap_prob: float = 0.03
    miss_prob: float = 0.04

    def __post_init__(self):
        for name, value in asdict(self).items():
            if not np.isfinite(value) or value < 0:
                raise ValueError(
                    f"Expected a finite non-negative '{name}' (got {value})"
                )
        for name in ("outlier_prob", "swap_prob", "miss_prob"):
            if getattr(self, name) > 1:
                raise ValueError(
                    f"Expected '{name}' in [0, 1] (got {getattr(self, name)})"
                )

    def apply(
        self,
        joints_2d: np.ndarray,
        rng: np.random.Generator,
        visible: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Corrupt one person's 2D joints.

        Args:
            joints_2d (np.ndarray): :math:`(12, 2)` ground truth, pixels
                (any unit: noise scales with the joints' box).
            rng (np.random.Generator): Source of randomness.
            visible (np.ndarray, optional): :math:`(12,)` ground-truth
                visibility; invisible joints stay invisible.

        Returns:
            tuple: estimated joints :math:`(12, 2)` float32 and their
            visibility :math:`(12,)` float32 in ``{0, 1}``.

        Raises:
            ValueError: joints not of shape ``(12, 2)`` or not finite.
        """
        j = np.asarray(joints_2d, dtype=np.float64)
        n = len(JOINT_NAMES)
        if j.shape != (n, 2) or not np.isfinite(j).all():
            raise ValueError(
                f"Expected finite joints_2d of shape ({n}, 2) (got "
                f"{j.shape}, finite={bool(np.isfinite(j).all())})"
            )
        vis = (
            np.ones(n)
            if visible is None
            else (np.asarray(visible) > 0).astype(np.float64)
        )
        known = vis > 0
        ref = j[known] if known.any() else j
        box = float(max(np.ptp(ref[:, 0]), np.ptp(ref[:, 1]), 1e-6))
        scale = np.array(
            [self.hard_scale if nm in _HARD else 1.0 for nm in JOINT_NAMES]
        )
        out = j + rng.standard_normal((n, 2)) * (
            self.sigma * box * scale[:, None]
        )
        jump = rng.random(n) < self.outlier_prob
        out[jump] += rng.standard_normal((int(jump.sum()), 2)) * (
            self.outlier_sigma * box
        )
        if rng.random() < self.swap_prob:
            i = int(rng.integers(n))
            k = FLIP_PERM[i]
            out[[i, k]] = out[[k, i]]
        miss = rng.random(n) < self.miss_prob
        vis = vis * (~miss)
        if (vis > 0).any():
            out[vis == 0] = out[vis > 0].mean(axis=0)
        return out.astype(np.float32), vis.astype(np.float32)

r"""Detector-like noise for "estimated" 2D joints, and the GT/estimate mix.

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

:func:`gt_mix_ratio` and :func:`mix_joints_2d` implement the schedule.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor

from bigraph_pyg.topology import FLIP_PERM, JOINT_NAMES

__all__ = ['JointNoise', 'gt_mix_ratio', 'mix_joints_2d']

_HARD = ('right_wrist', 'left_wrist', 'right_ankle', 'left_ankle')


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
        for name in ('outlier_prob', 'swap_prob', 'miss_prob'):
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
                f'Expected finite joints_2d of shape ({n}, 2) (got '
                f'{j.shape}, finite={bool(np.isfinite(j).all())})'
            )
        vis = (np.ones(n) if visible is None
               else (np.asarray(visible) > 0).astype(np.float64))
        known = vis > 0
        ref = j[known] if known.any() else j
        box = float(max(np.ptp(ref[:, 0]), np.ptp(ref[:, 1]), 1e-6))
        scale = np.array([self.hard_scale if nm in _HARD else 1.0
                          for nm in JOINT_NAMES])
        out = j + rng.standard_normal((n, 2)) * (
            self.sigma * box * scale[:, None])
        jump = rng.random(n) < self.outlier_prob
        out[jump] += rng.standard_normal((int(jump.sum()), 2)) * (
            self.outlier_sigma * box)
        if rng.random() < self.swap_prob:
            i = int(rng.integers(n))
            k = FLIP_PERM[i]
            out[[i, k]] = out[[k, i]]
        miss = rng.random(n) < self.miss_prob
        vis = vis * (~miss)
        if (vis > 0).any():
            out[vis == 0] = out[vis > 0].mean(axis=0)
        return out.astype(np.float32), vis.astype(np.float32)


def gt_mix_ratio(epoch: int, num_epochs: int, start: float = 1.0) -> float:
    """Share of ground-truth 2D joints at ``epoch`` (paper Sec. 5.2).

    Decays linearly from ``start`` at epoch 0 to 0 at the last epoch.

    Args:
        epoch (int): Current epoch, ``0 <= epoch < num_epochs``.
        num_epochs (int): Total epochs.
        start (float): Ratio at epoch 0. (default: ``1.0``)

    Returns:
        float: the ratio in ``[0, start]``.

    Example:
        >>> [gt_mix_ratio(e, 5) for e in range(5)]
        [1.0, 0.75, 0.5, 0.25, 0.0]
    """
    if num_epochs < 1 or not 0 <= epoch < num_epochs:
        raise ValueError(
            f'Expected 0 <= epoch < num_epochs (got epoch={epoch}, '
            f'num_epochs={num_epochs})'
        )
    if num_epochs == 1:
        return 0.0
    return float(start) * (1.0 - epoch / (num_epochs - 1))


def mix_joints_2d(
    joints_gt: Tensor,
    joints_est: Tensor,
    ratio: float,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Per sample, take the ground truth with probability ``ratio``.

    Args:
        joints_gt (Tensor): :math:`(B, J, 2)`.
        joints_est (Tensor): :math:`(B, J, 2)`.
        ratio (float): Probability of the ground truth, in ``[0, 1]``.
        generator (torch.Generator, optional): On ``joints_gt``'s device.

    Returns:
        Tensor: :math:`(B, J, 2)`, dtype and device of the inputs.
    """
    if joints_gt.shape != joints_est.shape or joints_gt.dim() != 3:
        raise ValueError(
            'Expected joints_gt and joints_est of the same shape (B, J, 2) '
            f'(got {tuple(joints_gt.shape)} and {tuple(joints_est.shape)})'
        )
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f'Expected ratio in [0, 1] (got {ratio})')
    pick = torch.rand(joints_gt.size(0), generator=generator,
                      device=joints_gt.device) < ratio
    return torch.where(pick[:, None, None], joints_gt, joints_est)

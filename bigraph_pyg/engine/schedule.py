r"""The ground-truth / estimated 2D-joint mixing schedule (paper Sec. 5.2).

"We mixed the ground truth and the estimated 2D joint location to get
feature patches during training with a mixture ratio which gradually
decreases to zero at the last epoch during training and only use the
estimated 2D joints during inference."

The ratio (probability that a training sample's skeleton input uses its
ground-truth 2D joints) decays linearly with the **step**, from ``start``
at step 0 to 0 at the first step of the last epoch, and stays 0 through the
last epoch. Per step rather than per epoch so short runs (a few epochs)
still decay smoothly.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["gt_mix_ratio", "mix_joints_2d"]


def gt_mix_ratio(
    step: int, steps_per_epoch: int, num_epochs: int, start: float = 1.0
) -> float:
    """Share of ground-truth 2D joints at a training step.

    Args:
        step (int): Global step, ``>= 0``.
        steps_per_epoch (int): Steps in one epoch, ``>= 1``.
        num_epochs (int): Total epochs, ``>= 1``.
        start (float): Ratio at step 0, in ``[0, 1]``. (default: ``1.0``)

    Returns:
        float: in ``[0, start]``; ``0`` from the last epoch on.

    Example:
        >>> [gt_mix_ratio(s, 2, 3) for s in range(6)]
        [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    """
    if steps_per_epoch < 1 or num_epochs < 1 or step < 0:
        raise ValueError(
            "Expected step >= 0, steps_per_epoch >= 1, num_epochs >= 1 (got "
            f"{step}, {steps_per_epoch}, {num_epochs})"
        )
    if not 0.0 <= start <= 1.0:
        raise ValueError(f"Expected start in [0, 1] (got {start})")
    end = (num_epochs - 1) * steps_per_epoch
    if end <= 0:
        return 0.0
    return float(start) * max(0.0, 1.0 - step / end)


def mix_joints_2d(
    joints_gt: Tensor,
    joints_est: Tensor,
    ratio: float,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Per sample: the ground truth with probability ``ratio``, else estimate.

    Args:
        joints_gt (Tensor): :math:`(B, J, 2)`.
        joints_est (Tensor): :math:`(B, J, 2)`.
        ratio (float): In ``[0, 1]``.
        generator (torch.Generator, optional): CPU generator (the draw is
            on the CPU so it is the same on every device).

    Returns:
        Tensor: :math:`(B, J, 2)`.
    """
    if joints_gt.shape != joints_est.shape or joints_gt.dim() != 3:
        raise ValueError(
            "Expected joints_gt and joints_est of the same shape (B, J, 2) "
            f"(got {tuple(joints_gt.shape)} and {tuple(joints_est.shape)})"
        )
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"Expected ratio in [0, 1] (got {ratio})")
    pick = torch.rand(joints_gt.shape[0], generator=generator) < ratio
    pick = pick.to(joints_gt.device)[:, None, None]
    return torch.where(pick, joints_gt, joints_est)

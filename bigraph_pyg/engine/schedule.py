r"""The schedules of a run: 2D-joint mixing (paper Sec. 5.2), learning rate.

The ground-truth / estimated 2D-joint mixing:

"We mixed the ground truth and the estimated 2D joint location to get
feature patches during training with a mixture ratio which gradually
decreases to zero at the last epoch during training and only use the
estimated 2D joints during inference."

The ratio (probability that a training sample's skeleton input uses its
ground-truth 2D joints) decays linearly with the **step**, from ``start``
at step 0 to 0 at the first step of the last epoch, and stays 0 through the
last epoch. Per step rather than per epoch so short runs (a few epochs)
still decay smoothly.

:func:`learning_rate` is the run's other schedule: Adam's step size, with
an optional linear warm-up and a cosine decay.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["gt_mix_ratio", "learning_rate", "mix_joints_2d"]


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


def learning_rate(
    step: int,
    total_steps: int,
    lr: float,
    warmup_steps: int = 0,
    schedule: str = "constant",
) -> float:
    r"""Adam's learning rate at a training step: warm-up, then the schedule.

    During the first :math:`T_w` steps it rises linearly from
    :math:`\eta_0 / 10`; after them it is :math:`\eta_0` (``"constant"``,
    the paper's) or half a cosine down to :math:`\eta_0 / 20` at the last
    step :math:`T` (``"cosine"``):

    .. math::
        \eta(t) = \begin{cases}
        \eta_0 \, (0.1 + 0.9 \, t / T_w) & t < T_w \\
        \eta_{\min} + (\eta_0 - \eta_{\min}) \, \tfrac{1}{2}
        (1 + \cos \pi \tau) & \text{otherwise (cosine)}
        \end{cases}

    with :math:`\tau = \min(1, (t - T_w) / (T - T_w))` and
    :math:`\eta_{\min} = \eta_0 / 20` (the constant rate when
    :math:`T \le T_w`).

    Args:
        step (int): Global step :math:`t`, ``>= 0``.
        total_steps (int): Steps of the whole run :math:`T` (the cosine's
            end).
        lr (float): The peak rate :math:`\eta_0` (``TrainConfig.lr``).
        warmup_steps (int): :math:`T_w`. (default: ``0``)
        schedule (str): ``"constant"`` or ``"cosine"``.
            (default: ``"constant"``)

    Returns:
        float: the learning rate.

    Example:
        >>> [learning_rate(s, 6, 1e-3, warmup_steps=2) for s in range(3)]
        [0.0001, 0.00055, 0.001]
        >>> learning_rate(6, 6, 1e-3, schedule="cosine")
        5e-05
    """
    if step < warmup_steps:
        return lr * (0.1 + 0.9 * step / warmup_steps)
    if schedule == "cosine" and total_steps > warmup_steps:
        t = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))
        floor = lr / 20
        return floor + (lr - floor) * 0.5 * (1 + math.cos(math.pi * t))
    return lr

r"""3D position errors of the paper (Sec. 5.1): MPJPE, PA-MPJPE, MPVE.

Inputs in **metres**, outputs in **millimetres**, as the tables of the paper
report them. Root alignment is by named joints: pass the indices of the
joints whose mean is the root (:data:`HIP_INDICES` for the 12-joint LSP
order, the mid-point of the hips, as GraphCMR/MeshTransformer do). Each
metric takes an optional joint or sample mask and reduces with ``'mean'``
or ``'none'``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from bigraph_pyg.geometry import center_joints, procrustes_align
from bigraph_pyg.topology.skeleton import JOINT_NAMES

__all__ = [
    "HIP_INDICES",
    "mpjpe",
    "mpve",
    "pa_mpjpe",
    "per_joint_error",
]

#: Indices of (right_hip, left_hip) in :data:`JOINT_NAMES`; their mean is the
#: pelvis used for root alignment.
HIP_INDICES: tuple[int, int] = (
    JOINT_NAMES.index("right_hip"),
    JOINT_NAMES.index("left_hip"),
)

_METRES_TO_MM = 1000.0
_REDUCTIONS = ("mean", "none")

RootIndices = int | Sequence[int] | None


def _check_points(pred: Tensor, target: Tensor, name: str = "pred") -> None:
    if not isinstance(pred, Tensor) or not isinstance(target, Tensor):
        raise ValueError(
            f"Expected tensors for `{name}` and `target` (got "
            f"{type(pred).__name__} and {type(target).__name__})"
        )
    if pred.dim() != 3 or pred.shape[-1] != 3 or pred.shape != target.shape:
        raise ValueError(
            f"Expected `{name}` and `target` of the same shape (B, N, 3) "
            f"(got {tuple(pred.shape)} and {tuple(target.shape)})"
        )


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"Expected `reduction` in {_REDUCTIONS} (got {reduction!r})"
        )


def _joint_mask(mask: Tensor | None, pred: Tensor) -> Tensor:
    """Validate a ``(B,)`` or ``(B, J)`` mask; return it as bool ``(B, J)``."""
    batch, num = pred.shape[:2]
    if mask is None:
        return torch.ones(batch, num, dtype=torch.bool, device=pred.device)
    if mask.shape == (batch,):
        mask = mask[:, None].expand(batch, num)
    if mask.shape != (batch, num):
        raise ValueError(
            f"Expected shape ({batch},) or ({batch}, {num}) for `mask` "
            f"(got {tuple(mask.shape)})"
        )
    return mask.to(device=pred.device) > 0


def _distances(pred: Tensor, target: Tensor, root: RootIndices) -> Tensor:
    """Euclidean distances ``(B, N)`` after optional root alignment."""
    if root is not None:
        idx = (root,) if isinstance(root, int) else tuple(root)
        pred = center_joints(pred, idx)
        target = center_joints(target, idx)
    return (pred - target).norm(dim=-1)


def _masked_mean_per_sample(
    dist: Tensor, mask: Tensor, reduction: str
) -> Tensor:
    """Mean over valid joints per sample, then over samples (mm)."""
    dist = torch.where(mask, dist, torch.zeros_like(dist))
    count = mask.sum(dim=-1)
    per_sample = dist.sum(dim=-1) / count.clamp_min(1).to(dist.dtype)
    per_sample = torch.where(
        count > 0, per_sample, torch.full_like(per_sample, float("nan"))
    )
    per_sample = per_sample * _METRES_TO_MM
    if reduction == "none":
        return per_sample
    return per_sample[count > 0].mean()


def mpjpe(
    pred: Tensor,
    target: Tensor,
    root: RootIndices = None,
    mask: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Mean per-joint position error (paper Sec. 5.1, H36M).

    Inputs in **metres**, output in **millimetres**:

    .. math::
        \mathrm{MPJPE} = \frac{1000}{|\mathcal{J}|} \sum_{j \in \mathcal{J}}
        \| (\hat{\mathbf{p}}_j - \hat{\mathbf{r}}) - (\mathbf{p}_j - \mathbf{r})
        \|_2

    where :math:`\mathbf{r}` is the mean of the ``root`` joints (no
    alignment when ``root`` is :obj:`None`) and :math:`\mathcal{J}` the
    valid joints of the sample.

    Args:
        pred (Tensor): Predicted joints in metres, shape ``(B, J, 3)``.
        target (Tensor): Ground-truth joints in metres, shape ``(B, J, 3)``.
        root (int or sequence of int, optional): Joint indices whose mean is
            the root subtracted from both sets, e.g. :data:`HIP_INDICES` for
            the pelvis. Root joints are used even if masked.
            (default: :obj:`None`, no alignment)
        mask (Tensor, optional): Valid joints ``(B, J)`` or valid samples
            ``(B,)`` (bool or 0/1). (default: all valid)
        reduction (str, optional): ``'mean'`` over samples that have at least
            one valid joint, or ``'none'`` for per-sample errors ``(B,)``
            (NaN for a sample without valid joints). (default: ``'mean'``)

    Returns:
        Tensor: Error in millimetres, scalar or ``(B,)``.

    Example:
        >>> target = torch.zeros(1, 12, 3)
        >>> round(mpjpe(target + torch.tensor([0., 0., .05]), target).item(), 3)
        50.0
        >>> mpjpe(target + 0.05, target, root=HIP_INDICES).item()
        0.0
    """
    _check_points(pred, target)
    _check_reduction(reduction)
    mask = _joint_mask(mask, pred)
    return _masked_mean_per_sample(
        _distances(pred, target, root), mask, reduction
    )


def pa_mpjpe(
    pred: Tensor,
    target: Tensor,
    mask: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Procrustes-aligned MPJPE ("reconstruction error", paper Sec. 5.1).

    Inputs in **metres**, output in **millimetres**. Each prediction is first
    aligned to its target by the least-squares similarity transform
    (scale, rotation, translation;
    :func:`~bigraph_pyg.geometry.batched_procrustes`, weighted by
    ``mask``), then :func:`mpjpe` is computed without root
    alignment.

    Args:
        pred (Tensor): Predicted joints in metres, shape ``(B, J, 3)``.
        target (Tensor): Ground-truth joints in metres, shape ``(B, J, 3)``.
        mask (Tensor, optional): Valid joints ``(B, J)`` or samples ``(B,)``;
            masked joints take no part in the alignment or the error.
        reduction (str, optional): ``'mean'`` or ``'none'`` (per sample).
            (default: ``'mean'``)

    Returns:
        Tensor: Error in millimetres, scalar or ``(B,)``.

    Example:
        >>> x = torch.randn(2, 12, 3)
        >>> pa_mpjpe(0.5 * x + 1.0, x) < 1e-3
        tensor(True)
    """
    _check_points(pred, target)
    _check_reduction(reduction)
    mask = _joint_mask(mask, pred)
    weights = mask.to(pred.dtype)
    safe_target = torch.where(mask[..., None], target, pred.detach())
    aligned = procrustes_align(pred, safe_target, weights)
    return _masked_mean_per_sample(
        _distances(aligned, safe_target, None), mask, reduction
    )


def mpve(
    pred_vertices: Tensor,
    target_vertices: Tensor,
    reduction: str = "mean",
) -> Tensor:
    r"""Mean per-vertex error (paper Sec. 5.1, UP-3D; GraphCMR's "shape error").

    Inputs in **metres**, output in **millimetres**; no alignment (as in
    GraphCMR's evaluation):

    .. math::
        \mathrm{MPVE} = \frac{1000}{N} \sum_{i=1}^{N}
        \| \hat{\mathbf{v}}_i - \mathbf{v}_i \|_2

    Args:
        pred_vertices (Tensor): Predicted vertices in metres, ``(B, N, 3)``.
        target_vertices (Tensor): Ground-truth vertices in metres,
            ``(B, N, 3)``.
        reduction (str, optional): ``'mean'`` or ``'none'`` (per sample).
            (default: ``'mean'``)

    Returns:
        Tensor: Error in millimetres, scalar or ``(B,)``.

    Example:
        >>> v = torch.zeros(2, 6890, 3)
        >>> round(mpve(v + torch.tensor([.03, .04, 0.]), v).item(), 3)
        50.0
    """
    _check_points(pred_vertices, target_vertices, "pred_vertices")
    _check_reduction(reduction)
    mask = _joint_mask(None, pred_vertices)
    dist = _distances(pred_vertices, target_vertices, None)
    return _masked_mean_per_sample(dist, mask, reduction)


def per_joint_error(
    pred: Tensor,
    target: Tensor,
    root: RootIndices = None,
    mask: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Per-joint position error (as MPJPE, without averaging over joints).

    Inputs in **metres**, output in **millimetres**. Useful to see which
    joints (limbs, paper Sec. 4.4) dominate the error.

    Args:
        pred (Tensor): Predicted joints in metres, shape ``(B, J, 3)``.
        target (Tensor): Ground-truth joints in metres, shape ``(B, J, 3)``.
        root (int or sequence of int, optional): Root joint indices, as in
            :func:`mpjpe`. (default: :obj:`None`)
        mask (Tensor, optional): Valid joints ``(B, J)`` or samples ``(B,)``.
        reduction (str, optional): ``'mean'`` over the valid samples of each
            joint, giving ``(J,)`` (NaN for a joint never valid), or
            ``'none'`` for ``(B, J)`` (NaN where masked).
            (default: ``'mean'``)

    Returns:
        Tensor: Errors in millimetres, ``(J,)`` or ``(B, J)``.

    Example:
        >>> t = torch.zeros(3, 12, 3)
        >>> per_joint_error(t + torch.tensor([0., .01, 0.]), t).shape
        torch.Size([12])
    """
    _check_points(pred, target)
    _check_reduction(reduction)
    mask = _joint_mask(mask, pred)
    dist = _distances(pred, target, root) * _METRES_TO_MM
    nan = torch.full_like(dist, float("nan"))
    if reduction == "none":
        return torch.where(mask, dist, nan)
    dist = torch.where(mask, dist, torch.zeros_like(dist))
    count = mask.sum(dim=0)
    mean = dist.sum(dim=0) / count.clamp_min(1).to(dist.dtype)
    return torch.where(count > 0, mean, nan[0])

r"""Evaluation metrics of the paper (Sec. 5.1): MPJPE, PA-MPJPE, MPVE, LSP seg.

Pure functions returning tensors (never numpy). The 3D metrics take
coordinates in **metres** and return **millimetres**, as the tables of the
paper report them. Root alignment is by named joints: pass the indices of the
joints whose mean is the root (for the 12-joint LSP order of the project,
:data:`HIP_INDICES`, the mid-point of the hips, as GraphCMR/MeshTransformer do).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from bigraph_pyg.geometry import center_joints, procrustes_align
from bigraph_pyg.topology.skeleton import JOINT_NAMES

__all__ = [
    "HIP_INDICES",
    "JOINT_NAMES",
    "mpjpe",
    "mpve",
    "pa_mpjpe",
    "per_joint_error",
    "segmentation_accuracy_f1",
    "segmentation_confusion_matrix",
    "segmentation_scores",
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


def segmentation_confusion_matrix(
    pred_labels: Tensor,
    gt_labels: Tensor,
    num_classes: int,
    ignore_index: int = 255,
) -> Tensor:
    r"""Confusion counts for the LSP FB / part segmentation (paper Table 2).

    Rows are ground-truth classes, columns predicted classes. The extra last
    row counts pixels whose ground truth is ``ignore_index``, by predicted
    class, because GraphCMR/SPIN's accuracy (following the UP-3D code) counts
    those pixels as background while their F1 excludes them. Sum the
    matrices of several images (of any sizes) and pass the total to
    :func:`segmentation_scores` to get dataset-level numbers, exactly as
    GraphCMR accumulates ``tp``/``fp``/``fn`` over the test set.

    Args:
        pred_labels (Tensor): Predicted labels in ``[0, num_classes)``, any
            shape (e.g. ``(H, W)`` or ``(B, H, W)``), integer dtype.
        gt_labels (Tensor): Ground-truth labels, same shape, in
            ``[0, num_classes)`` or equal to ``ignore_index``.
        num_classes (int): Number of classes including background (class 0):
            2 for FB seg, 7 for part seg (6 parts + background).
        ignore_index (int, optional): Unlabelled ground truth.
            (default: ``255``)

    Returns:
        Tensor: ``int64`` counts, shape ``(num_classes + 1, num_classes)``.

    Example:
        >>> segmentation_confusion_matrix(
        ...     torch.tensor([0, 1, 1]), torch.tensor([0, 1, 255]), 2)
        tensor([[1, 0],
                [0, 1],
                [0, 1]])
    """
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(
            f"Expected an int >= 2 for `num_classes` (got {num_classes!r})"
        )
    named = (("pred_labels", pred_labels), ("gt_labels", gt_labels))
    for name, labels in named:
        if not isinstance(labels, Tensor) or labels.is_floating_point():
            raise ValueError(
                f"Expected an integer or bool tensor for `{name}` "
                f"(got {getattr(labels, 'dtype', type(labels).__name__)})"
            )
    if pred_labels.shape != gt_labels.shape:
        raise ValueError(
            "Expected `pred_labels` and `gt_labels` of the same shape "
            f"(got {tuple(pred_labels.shape)} and {tuple(gt_labels.shape)})"
        )
    pred = pred_labels.reshape(-1).long()
    gt = gt_labels.reshape(-1).long().to(pred.device)
    if ((pred < 0) | (pred >= num_classes)).any():
        raise ValueError(
            f"Expected `pred_labels` in [0, {num_classes}) (got values "
            f"{pred.unique().tolist()[:10]})"
        )
    ignored = gt == ignore_index
    if ((gt < 0) | (gt >= num_classes))[~ignored].any():
        raise ValueError(
            f"Expected `gt_labels` in [0, {num_classes}) or {ignore_index} "
            f"(got values {gt.unique().tolist()[:10]})"
        )
    rows = torch.where(ignored, torch.full_like(gt, num_classes), gt)
    counts = torch.bincount(
        rows * num_classes + pred, minlength=(num_classes + 1) * num_classes
    )
    return counts.reshape(num_classes + 1, num_classes)


def segmentation_scores(confusion: Tensor) -> tuple[Tensor, Tensor]:
    r"""Accuracy and mean F1 from :func:`segmentation_confusion_matrix`.

    As GraphCMR/SPIN's ``eval.py`` (LSP, following UP-3D):

    - accuracy = correct pixels / **all** pixels, where a pixel with ignored
      ground truth counts as background (correct iff predicted class 0);
    - per class :math:`c`, over non-ignored pixels,
      :math:`F_1^c = 2\,TP_c / (2\,TP_c + FP_c + FN_c)`, and the score is the
      mean over **all** classes, background included. A class absent from
      both ground truth and prediction (0/0, NaN in GraphCMR) is left out of
      the mean.

    Args:
        confusion (Tensor): Counts, shape ``(C + 1, C)``; the last row holds
            the ignored-ground-truth pixels.

    Returns:
        tuple[Tensor, Tensor]: ``(accuracy, mean_f1)``, float64 scalars in
        ``[0, 1]``.

    Example:
        >>> conf = torch.tensor([[3, 1], [0, 4], [0, 0]])
        >>> [round(v.item(), 4) for v in segmentation_scores(conf)]
        [0.875, 0.873]
    """
    if (
        not isinstance(confusion, Tensor)
        or confusion.dim() != 2
        or confusion.shape[0] != confusion.shape[1] + 1
    ):
        raise ValueError(
            "Expected a (C + 1, C) tensor for `confusion` (got "
            f"{tuple(getattr(confusion, 'shape', ()))})"
        )
    conf = confusion.to(torch.float64)
    labelled = conf[:-1]
    tp = labelled.diagonal()
    fp = labelled.sum(dim=0) - tp
    fn = labelled.sum(dim=1) - tp
    total = conf.sum()
    correct = tp.sum() + conf[-1, 0]
    accuracy = correct / total.clamp_min(1.0)
    denom = 2 * tp + fp + fn
    present = denom > 0
    f1 = 2 * tp[present] / denom[present]
    mean_f1 = f1.mean() if f1.numel() else conf.new_tensor(float("nan"))
    return accuracy, mean_f1


def segmentation_accuracy_f1(
    pred_labels: Tensor,
    gt_labels: Tensor,
    num_classes: int,
    ignore_index: int = 255,
) -> tuple[Tensor, Tensor]:
    r"""Pixel accuracy and mean F1 of label maps (LSP FB / part seg, Table 2).

    :func:`segmentation_confusion_matrix` followed by
    :func:`segmentation_scores`; see those for the exact GraphCMR/SPIN
    conventions. For a whole test set with images of different sizes, sum
    the per-image confusion matrices instead.

    Args:
        pred_labels (Tensor): Predicted labels, any integer shape.
        gt_labels (Tensor): Ground-truth labels, same shape.
        num_classes (int): 2 for FB seg, 7 for part seg.
        ignore_index (int, optional): Unlabelled ground truth.
            (default: ``255``)

    Returns:
        tuple[Tensor, Tensor]: ``(accuracy, mean_f1)``, float64 scalars.

    Example:
        >>> gt = torch.tensor([[0, 0], [1, 1]])
        >>> acc, f1 = segmentation_accuracy_f1(gt, gt, num_classes=2)
        >>> acc.item(), f1.item()
        (1.0, 1.0)
    """
    confusion = segmentation_confusion_matrix(
        pred_labels, gt_labels, num_classes, ignore_index
    )
    return segmentation_scores(confusion)

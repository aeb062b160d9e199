r"""LSP foreground and part segmentation scores (paper Sec. 5.1, Table 2).

Integer label maps in, ``float64`` scores out, with GraphCMR/SPIN's
conventions (following the UP-3D code): a confusion matrix with an extra
row for unlabelled ground truth, then accuracy and mean F1.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "segmentation_accuracy_f1",
    "segmentation_confusion_matrix",
    "segmentation_scores",
]


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

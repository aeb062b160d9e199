"""What :func:`~bigraph_pyg.engine.evaluate` accumulates over its batches.

:class:`MetricSums` keeps per-metric sums and sample counts, the depth
correlations and the segmentation confusion matrices, and turns them into
the metric dict once every batch is scored (:meth:`MetricSums.summary`).
"""

from __future__ import annotations

import math

from torch import Tensor

from bigraph_pyg.engine.baselines import DepthCorrelation, skill_ratios
from bigraph_pyg.metrics import (
    segmentation_confusion_matrix,
    segmentation_scores,
)


class MetricSums:
    """Running sums of the evaluation metrics.

    Every metric averages over the samples that have its ground truth: a
    batch adds the sum of its per-sample values (float64) and the number
    of samples counted.

    Attributes:
        sums (dict[str, float]): Per metric, the sum of the values added.
        counts (dict[str, int]): Per metric, the samples added.
        depth (dict[str, DepthCorrelation]): The depth correlation of the
            mesh joints (``""``) and of the skeleton joints
            (``"_skeleton"``).
        conf_fb (Tensor or None): :math:`(2, 2)` summed confusion matrix of
            the foreground segmentation.
        conf_parts (Tensor or None): :math:`(7, 7)` summed confusion matrix
            of the six-part segmentation (0 = background).
        num_samples (int): Samples seen.
    """

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.depth = {"": DepthCorrelation(), "_skeleton": DepthCorrelation()}
        self.conf_fb: Tensor | None = None
        self.conf_parts: Tensor | None = None
        self.num_samples = 0

    def add(self, name: str, values: Tensor, mask: Tensor) -> None:
        """Add the values of the samples that have the metric's ground truth.

        Args:
            name (str): The metric.
            values (Tensor): :math:`(B,)` per-sample values.
            mask (Tensor): :math:`(B,)` bool, the samples to count.
        """
        if mask.any():
            v = values[mask].double()
            self.sums[name] = self.sums.get(name, 0.0) + float(v.sum())
            self.counts[name] = self.counts.get(name, 0) + int(mask.sum())

    def add_segmentation(self, pred: Tensor, gt: Tensor) -> None:
        """Add one sample's part labels to both confusion matrices.

        Args:
            pred (Tensor): :math:`(H, W)` int64 predicted part labels
                (0 = background, 1-6 the parts).
            gt (Tensor): :math:`(H, W)` int64 ground-truth part labels.
        """
        cp = segmentation_confusion_matrix(pred, gt, 7)
        cf = segmentation_confusion_matrix(
            (pred > 0).long(), (gt > 0).long(), 2
        )
        self.conf_parts = (
            cp if self.conf_parts is None else self.conf_parts + cp
        )
        self.conf_fb = cf if self.conf_fb is None else self.conf_fb + cf

    def summary(self) -> dict[str, float]:
        """The metrics: means, depth correlations, skill ratios, scores.

        A metric no sample supports, and a depth correlation that is not
        finite (fewer than 2 joints, or no spread), is absent.

        Returns:
            dict[str, float]: each metric's mean, ``depth_corr`` /
            ``depth_corr_skeleton``, the skill ratios of
            :func:`~bigraph_pyg.engine.baselines.skill_ratios`, the
            segmentation accuracy and F1 (``fb_*``, ``parts_*``, when a
            sample was rendered), and ``num_samples``.
        """
        metrics = {k: self.sums[k] / self.counts[k] for k in self.sums}
        for suffix, corr in self.depth.items():
            r = corr.compute()
            if math.isfinite(r):
                metrics["depth_corr" + suffix] = r
        metrics.update(skill_ratios(metrics))
        if self.conf_fb is not None:
            acc, f1 = segmentation_scores(self.conf_fb)
            metrics.update(fb_acc=float(acc), fb_f1=float(f1))
            acc, f1 = segmentation_scores(self.conf_parts)
            metrics.update(parts_acc=float(acc), parts_f1=float(f1))
        metrics["num_samples"] = float(self.num_samples)
        return metrics

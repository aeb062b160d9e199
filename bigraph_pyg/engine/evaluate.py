r"""One evaluation function for training and ``examples/eval_bigraph.py``.

:func:`evaluate` runs a model over a loader with the **estimated** 2D
joints as the skeleton input (paper Sec. 5.2: "only use the estimated 2D
joints during inference") and accumulates the metrics of Sec. 5.1 (inputs
in metres, results in millimetres, :mod:`bigraph_pyg.metrics`):

* ``mpjpe`` / ``pa_mpjpe``: the 12 joints regressed from the predicted
  mesh, :math:`\hat{V}^{j3d}_m`, against ``joints_3d``, pelvis-aligned
  (mean of the hips); ``*_skeleton`` the same for the Skeleton-GCN output
  :math:`\hat{V}_s` (models with a skeleton branch);
* ``mpjpe_h36m`` / ``pa_mpjpe_h36m``: with a Human3.6M joint regressor
  (GraphCMR's ``J_regressor_h36m.npy``, 17 x 6890), the joints regressed
  from the mesh with it (its 14-joint LSP-order subset, of which the 12
  shared joints are scored) — the numbers of H36M protocol 1 (MPJPE, all
  cameras) and protocol 2 (PA-MPJPE, frontal camera) when the loader holds
  that protocol's split;
* ``mpve``: non-parametric mesh against the ground-truth vertices (UP-3D
  protocol, no alignment); ``mpve_smpl`` the mesh of the predicted SMPL
  parameters (with a ``body``);
* ``fb_acc`` / ``fb_f1`` / ``parts_acc`` / ``parts_f1``: LSP-style
  foreground and six-part segmentation of the projected predicted mesh
  (rendered with the predicted weak-perspective camera) against
  ``mask``/``part_seg``, accumulated over the whole set as GraphCMR does.

Every metric averages over the samples that have its ground truth; a
metric no sample supports is absent from the result.
:func:`~bigraph_pyg.engine.format_metrics` prints the result as tables.

:func:`score` is :func:`evaluate` with a training run's batching: a
:class:`~bigraph_pyg.engine.Trainer`'s validation and the test of
:func:`~bigraph_pyg.engine.train_and_evaluate` both go through it.

Below them, how a batch is scored. :class:`BatchScorer` holds what the
scoring needs -- the H36M regressor, the loss, the baselines'
:class:`ConstantPredictions`, the segmentation renderer of
:func:`segmentation_projector`, the body -- and adds each batch's
per-sample metrics to a :class:`MetricSums`: per-metric sums and sample
counts, the depth correlations and the segmentation confusion matrices,
turned into the metric dict once every batch is scored
(:meth:`MetricSums.summary`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from bigraph_pyg.engine.baselines import (
    DepthCorrelation,
    TrainingStatistics,
    flat_lift,
    skill_ratios,
)
from bigraph_pyg.engine.batch_transforms import collate_samples
from bigraph_pyg.engine.batching import ModelBatch, prepare_batch
from bigraph_pyg.engine.mesh_projector import MeshProjector
from bigraph_pyg.engine.nearest_lift import NearestNeighbourLifter
from bigraph_pyg.engine.train_config import TrainConfig
from bigraph_pyg.losses import BiGraphLoss, LossWeights
from bigraph_pyg.metrics import (
    HIP_INDICES,
    mpjpe,
    mpve,
    pa_mpjpe,
    segmentation_confusion_matrix,
    segmentation_scores,
)

__all__ = [
    "H36M_TO_J14",
    "evaluate",
    "load_h36m_regressor",
    "score",
]

#: Rows of GraphCMR's 17-joint H36M regressor in LSP order (14 joints: the
#: project's 12, then neck and head top).
H36M_TO_J14: tuple[int, ...] = (6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10)


def load_h36m_regressor(path) -> Tensor:
    """Read a Human3.6M joint regressor into the 12 shared joints.

    Args:
        path (str or PathLike): ``.npy`` of shape ``(17, 6890)`` (GraphCMR's
            ``J_regressor_h36m.npy``) or ``(14, 6890)`` (LSP order).

    Returns:
        Tensor: :math:`(12, 6890)` float32, the project's joint order.

    Raises:
        FileNotFoundError: no such file.
        ValueError: an unreadable file (truncated, an ``.npz``, an object
            array), another shape, a non-numeric dtype or a non-finite
            value; the message names the file.
    """
    from bigraph_pyg.utils.io import load_npy

    what = "the H36M regressor (J_regressor_h36m.npy)"
    hint = "get J_regressor_h36m.npy from GraphCMR's data download"
    reg = load_npy(path, what, hint)
    if reg.ndim != 2 or reg.shape[0] not in (14, 17):
        raise ValueError(
            f"Expected a (17, V) or (14, V) regressor in {path} "
            f"(got shape {reg.shape})"
        )
    if reg.dtype.kind not in "iuf":
        raise ValueError(
            f"Expected a numeric regressor in {path} (got dtype {reg.dtype})"
        )
    if not np.isfinite(reg).all():
        raise ValueError(
            f"Expected finite values in the regressor {path} (got "
            f"{int((~np.isfinite(reg)).sum())} NaN or infinite)"
        )
    if reg.shape[0] == 17:
        reg = reg[list(H36M_TO_J14)]
    return torch.as_tensor(reg[:12], dtype=torch.float32)


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    loader: Iterable[Mapping],
    device: torch.device | str = "cpu",
    *,
    body=None,
    h36m_regressor: Tensor | None = None,
    segmentation: bool = False,
    with_loss: bool = True,
    max_batches: int | None = None,
    progress: bool = True,
    baselines: TrainingStatistics | None = None,
    loss_weights: LossWeights | None = None,
) -> dict[str, float]:
    """Metrics of ``model`` on ``loader`` (paper Sec. 5.1).

    Args:
        model (BiGraphBody): The model (put in eval mode here, restored
            after). A DDP wrapper is unwrapped.
        loader (Iterable[Mapping]): Collated batches with the keys of
            :data:`~bigraph_pyg.engine.batching.TRAIN_KEYS`.
        device (torch.device or str): Where to run.
        body (BodyModel, optional): Poses the predicted SMPL parameters for
            ``mpve_smpl``.
        h36m_regressor (Tensor, optional): :math:`(12, 6890)` from
            :func:`load_h36m_regressor`.
        segmentation (bool): Render the projected mesh for the LSP-style
            segmentation scores (needs pyrender with EGL; skipped with a
            warning where rendering is unavailable). (default: :obj:`False`)
        with_loss (bool): Also average Eq. 6 (with the estimated joints).
        loss_weights (LossWeights, optional): Its weights, e.g. the
            training's ``TrainConfig.loss``. (default: the paper's)
        max_batches (int, optional): Stop after this many batches.
        progress (bool): tqdm bar.
        baselines (TrainingStatistics, optional): Training-split means;
            adds the baselines' scores, the skill ratios and nothing else
            (the depth correlations are always computed).

    A sample whose image has a non-finite pixel is left out (with a
    warning that counts them), as in training: its prediction would turn
    every sum it enters into NaN.

    Returns:
        dict[str, float]: metric name to value (see
        :data:`~bigraph_pyg.engine.metric_table.METRIC_LABELS`), and
        ``num_samples``.
    """
    net = getattr(model, "module", model)
    was_training = net.training
    net.eval()
    device = torch.device(device)
    scorer = BatchScorer.build(
        net,
        device,
        body=body,
        h36m_regressor=h36m_regressor,
        segmentation=segmentation,
        with_loss=with_loss,
        baselines=baselines,
        loss_weights=loss_weights,
    )
    try:
        left_out = _score_batches(
            net, loader, scorer, device, max_batches, progress
        )
    finally:
        net.train(was_training)
    if left_out:
        warnings.warn(
            f"Left {left_out} sample(s) whose image has non-finite pixels "
            "out of the evaluation (num_samples counts the rest)",
            stacklevel=2,
        )
    return scorer.sums.summary()


def score(
    net,
    dataset: Dataset,
    config: TrainConfig,
    device: torch.device,
    *,
    body=None,
    segmentation: bool = False,
    baselines=None,
) -> tuple[dict[str, float], DataLoader]:
    """Evaluate ``net`` on ``dataset`` with the run's batching.

    Args:
        net (BiGraphBody): The model.
        dataset (Dataset): The held-out samples.
        config (TrainConfig): The run's ``batch_size``, ``num_workers`` and
            ``progress``.
        device (torch.device): Where to run.
        body (BodyModel, optional): For the SMPL-mesh metric.
        segmentation (bool): Segmentation scores too.
        baselines (TrainingStatistics, optional): Scores the trivial
            predictors beside the model.

    Returns:
        tuple[dict[str, float], DataLoader]: the metrics of
        :func:`~bigraph_pyg.engine.evaluate.evaluate`, and the loader (e.g.
        for an overlay of its first batch).
    """
    loader = DataLoader(
        dataset,
        batch_size=config.batch_size,
        shuffle=False,
        collate_fn=collate_samples,
        num_workers=config.num_workers,
    )
    metrics = evaluate(
        net,
        loader,
        device,
        body=body,
        segmentation=segmentation,
        progress=config.progress,
        baselines=baselines,
        loss_weights=config.loss,
    )
    return metrics, loader


# -- scoring the batches ------------------------------------------------------


def _score_batches(
    net, loader, scorer: BatchScorer, device, max_batches, progress
) -> int:
    """Score the batches of ``loader`` into ``scorer``.

    Returns:
        int: the samples left out for a non-finite image pixel (their
        prediction would turn every sum it enters into NaN).
    """
    from tqdm.auto import tqdm

    left_out = 0
    bar = tqdm(
        loader, desc="eval", unit="batch", disable=not progress, leave=False
    )
    for i, batch in enumerate(bar):
        if max_batches is not None and i >= max_batches:
            break
        mb = prepare_batch(batch, net.config.image_size, device)
        keep = mb.finite_images()
        if not bool(keep.all()):
            left_out += int((~keep).sum())
            mb = mb.select(keep)
            if len(mb) == 0:
                continue
        scorer.score(mb, net(mb.images, mb.joints_est))
    return left_out


@dataclass
class ConstantPredictions:
    """The baselines' constant predictions, on the evaluation device.

    Attributes:
        joints (Tensor): :math:`(12, 3)` mean training pose.
        vertices (Tensor or None): :math:`(V, 3)` mean training mesh.
        mesh_joints (Tensor or None): :math:`(12, 3)` the joints the
            model's joint regressor gives on the mean mesh (when the mesh
            has the model's vertex count).
        lifter (NearestNeighbourLifter or None): The lookup of the training
            poses (when the statistics hold a pose bank).
    """

    joints: Tensor
    vertices: Tensor | None
    mesh_joints: Tensor | None
    lifter: NearestNeighbourLifter | None = None

    @classmethod
    def of(
        cls, stats: TrainingStatistics, net, device: torch.device
    ) -> ConstantPredictions:
        """The predictions of ``stats`` for the model ``net``."""
        vertices = mesh_joints = None
        joints = stats.mean_joints.to(device)
        if stats.mean_vertices is not None:
            vertices = stats.mean_vertices.to(device)
            if vertices.shape[0] == net.joint_regressor.shape[1]:
                mesh_joints = net.joint_regressor.to(vertices) @ vertices
        lifter = None
        if stats.pose_bank is not None and len(stats.pose_bank) >= 16:
            lifter = NearestNeighbourLifter(stats.pose_bank)
        return cls(joints, vertices, mesh_joints, lifter)


@dataclass
class BatchScorer:
    """Scores each batch of :func:`~bigraph_pyg.engine.evaluate`.

    The metrics accumulate in :attr:`sums`.

    Attributes:
        projector (MeshProjector or None): Renders the segmentation.
        h36m_regressor (Tensor or None): :math:`(12, V)` on the device.
        criterion (BiGraphLoss or None): Eq. 6, when the loss is scored.
        baselines (ConstantPredictions or None): The trivial predictors.
        body (BodyModel or None): Poses the predicted SMPL parameters.
        sums (MetricSums): The running sums.
    """

    projector: MeshProjector | None
    h36m_regressor: Tensor | None
    criterion: BiGraphLoss | None
    baselines: ConstantPredictions | None
    body: object | None
    sums: MetricSums

    @classmethod
    def build(
        cls,
        net,
        device: torch.device,
        *,
        body,
        h36m_regressor: Tensor | None,
        segmentation: bool,
        with_loss: bool,
        baselines: TrainingStatistics | None,
        loss_weights=None,
    ) -> BatchScorer:
        """What the scoring needs, made once.

        The arguments are those of :func:`~bigraph_pyg.engine.evaluate`.
        """
        size = net.config.image_size
        projector = segmentation_projector(body, size) if segmentation else None
        reg = None if h36m_regressor is None else h36m_regressor.to(device)
        criterion = (
            BiGraphLoss.for_config(net.config, loss_weights)
            if with_loss
            else None
        )
        sums = MetricSums()
        constant = (
            None
            if baselines is None
            else ConstantPredictions.of(baselines, net, device)
        )
        return cls(projector, reg, criterion, constant, body, sums)

    def score(self, mb: ModelBatch, out) -> None:
        """Add one batch and the model's output on it.

        Args:
            mb (ModelBatch): The batch (targets and raw samples).
            out (BiGraphOutput): The model's output, from the estimated
                2D joints.
        """
        t = mb.targets
        n = mb.images.shape[0]
        self.sums.num_samples += n
        gt_v = torch.nan_to_num(t["gt_vertices"])
        preds = self._model_joints(out)
        if self.baselines is not None:
            preds += self._score_baselines(mb, gt_v, t["has_smpl"])
        self._score_joints(preds, t)
        self._score_mesh(out, gt_v, t["has_smpl"])
        if self.criterion is not None:
            self._score_loss(out, t, n)
        if self.projector is not None:
            self._score_segmentation(mb, out)

    def _model_joints(self, out) -> list[tuple[str, Tensor]]:
        """The model's joint predictions, by metric suffix.

        The joints regressed from the mesh (``""``), the Skeleton-GCN's
        (``"_skeleton"``) and those of the H36M regressor (``"_h36m"``).
        """
        preds = [("", out.mesh_joints)]
        if out.skeleton_joints is not None:
            preds.append(("_skeleton", out.skeleton_joints))
        if self.h36m_regressor is not None:
            preds.append(
                (
                    "_h36m",
                    torch.einsum(
                        "jn,bnc->bjc",
                        self.h36m_regressor.to(out.vertices.dtype),
                        out.vertices,
                    ),
                )
            )
        return preds

    def _score_baselines(
        self, mb: ModelBatch, gt_v: Tensor, has_v: Tensor
    ) -> list[tuple[str, Tensor]]:
        """Score the mean mesh's MPVE; return the baselines' joints.

        The joints are scored by :meth:`_score_joints`, as the model's.
        The flat lift and the lookup take the model's own 2D input (the
        lookup over its detected joints); ``flat_lift_true`` the true 2D
        joints.
        """
        base = self.baselines
        joints_2d = mb.joints_est
        n = joints_2d.shape[0]
        if (
            base.vertices is not None
            and base.vertices.shape[0] == gt_v.shape[-2]
        ):
            self.sums.add(
                "baseline_mean_mesh_mpve",
                mpve(base.vertices.expand_as(gt_v), gt_v, reduction="none"),
                has_v,
            )
        preds = [
            ("baseline_mean_pose", base.joints.expand(n, -1, -1)),
            ("baseline_flat_lift", flat_lift(joints_2d, base.joints)),
            ("baseline_flat_lift_true", flat_lift(mb.joints_gt, base.joints)),
        ]
        if base.lifter is not None:
            seen = mb.raw.get("joints_2d_est_visible")
            if seen is not None and mb.joints_est_valid is not None:
                seen = seen.to(joints_2d) * mb.joints_est_valid.to(joints_2d)
            preds.append(
                ("baseline_nearest_neighbour", base.lifter(joints_2d, seen))
            )
        if base.mesh_joints is not None:
            preds.append(
                ("baseline_mean_mesh", base.mesh_joints.expand(n, -1, -1))
            )
        return preds

    def _score_joints(
        self, preds: list[tuple[str, Tensor]], targets: Mapping
    ) -> None:
        """MPJPE, PA-MPJPE and depth correlation of each joint prediction.

        A model prediction's metrics end in its suffix (``mpjpe_skeleton``),
        a baseline's start with its name (``baseline_mean_pose_mpjpe``).
        """
        pose3d = targets["has_pose_3d"]
        jmask = targets["gt_joints_3d_confidence"] > 0
        gt3d = torch.nan_to_num(targets["gt_joints_3d"])
        for suffix, joints in preds:
            pre = suffix + "_" if suffix.startswith("baseline") else ""
            post = "" if pre else suffix
            self.sums.add(
                pre + "mpjpe" + post,
                mpjpe(
                    joints.float(), gt3d, HIP_INDICES, jmask, reduction="none"
                ),
                pose3d,
            )
            self.sums.add(
                pre + "pa_mpjpe" + post,
                pa_mpjpe(joints.float(), gt3d, mask=jmask, reduction="none"),
                pose3d,
            )
            if suffix in self.sums.depth:
                self.sums.depth[suffix].update(
                    joints.float(), gt3d, jmask & pose3d[:, None]
                )

    def _score_mesh(self, out, gt_v: Tensor, has_v: Tensor) -> None:
        """MPVE of the mesh, and of the posed SMPL parameters (with a body)."""
        self.sums.add(
            "mpve", mpve(out.vertices.float(), gt_v, reduction="none"), has_v
        )
        if self.body is not None:
            pv = self.body(
                betas=out.betas.float(),
                body_pose=out.rotmat[:, 1:].float(),
                global_orient=out.rotmat[:, 0].float(),
            ).vertices
            self.sums.add(
                "mpve_smpl", mpve(pv.to(gt_v), gt_v, reduction="none"), has_v
            )

    def _score_loss(self, out, targets: Mapping, n: int) -> None:
        """Eq. 6 of the batch, counted once per sample (when finite)."""
        loss, _ = self.criterion.model_loss(out, targets)
        if math.isfinite(float(loss)):
            self.sums.add(
                "loss",
                loss.detach().expand(n),
                torch.ones(n, dtype=torch.bool, device=loss.device),
            )

    def _score_segmentation(self, mb: ModelBatch, out) -> None:
        """Render each sample with a segmentation; add its confusion."""
        seg_ok = mb.raw["has_seg"].bool()
        for k in torch.nonzero(seg_ok).flatten().tolist():
            pred = torch.from_numpy(
                self.projector.part_labels(
                    out.vertices[k], out.camera[k]
                ).astype(np.int64)
            )
            gt = mb.raw["part_seg"][k].cpu().long()
            self.sums.add_segmentation(pred, gt)


def segmentation_projector(body, size) -> MeshProjector | None:
    """The renderer of the segmentation scores.

    Args:
        body (BodyModel, optional): Gives the faces and skinning weights.
            (default: the default body)
        size (tuple[int, int]): ``(H, W)`` of the label maps.

    Returns:
        MeshProjector or None: :obj:`None` (with a warning) where rendering
        is unavailable.
    """
    try:
        if body is None:
            from bigraph_pyg.body import default_body

            body_for_faces = default_body()
        else:
            body_for_faces = body
        return MeshProjector(
            body_for_faces.faces.cpu(),
            body_for_faces.skinning_weights.cpu(),
            size,
        )
    except (ImportError, RuntimeError, OSError) as err:
        # The frame that evaluate()'s own stacklevel=2 named when this was
        # its code (now: this function, BatchScorer.build, evaluate).
        warnings.warn(f"Segmentation metrics skipped: {err}", stacklevel=4)
        return None


# -- the running sums ---------------------------------------------------------


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

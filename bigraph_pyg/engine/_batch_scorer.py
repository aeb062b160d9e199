"""Scoring one evaluation batch: the model, the baselines, the renders.

:class:`BatchScorer` holds what :func:`~bigraph_pyg.engine.evaluate` needs
to score a batch (the H36M regressor, the loss, the baselines' constant
predictions, the segmentation renderer, the body) and adds each batch's
per-sample metrics to a :class:`~bigraph_pyg.engine._metric_sums.MetricSums`.
The metrics are defined in :mod:`bigraph_pyg.engine.evaluate`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from bigraph_pyg.engine._metric_sums import MetricSums
from bigraph_pyg.engine.baselines import TrainingStatistics, flat_lift
from bigraph_pyg.engine.batching import ModelBatch
from bigraph_pyg.engine.mesh_projector import MeshProjector
from bigraph_pyg.engine.nearest_lift import NearestNeighbourLifter
from bigraph_pyg.losses import BiGraphLoss
from bigraph_pyg.metrics import HIP_INDICES, mpjpe, mpve, pa_mpjpe


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

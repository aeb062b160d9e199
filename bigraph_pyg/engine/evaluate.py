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
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping

import numpy as np
import torch
from torch import Tensor

from bigraph_pyg.engine.baselines import (
    BASELINES,
    DepthCorrelation,
    TrainingStatistics,
    flat_lift,
    skill_ratios,
)
from bigraph_pyg.engine.batching import prepare_batch
from bigraph_pyg.losses import BiGraphLoss
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
    "METRIC_LABELS",
    "MeshProjector",
    "evaluate",
    "format_metrics",
    "load_h36m_regressor",
]

#: Rows of GraphCMR's 17-joint H36M regressor in LSP order (14 joints: the
#: project's 12, then neck and head top).
H36M_TO_J14: tuple[int, ...] = (6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10)

#: Display names, in table order.
METRIC_LABELS: dict[str, str] = {
    "mpjpe": "MPJPE (mesh joints) [mm]",
    "pa_mpjpe": "PA-MPJPE (mesh joints) [mm]",
    "mpjpe_skeleton": "MPJPE (skeleton joints) [mm]",
    "pa_mpjpe_skeleton": "PA-MPJPE (skeleton joints) [mm]",
    "mpjpe_h36m": "MPJPE (H36M regressor, P1) [mm]",
    "pa_mpjpe_h36m": "PA-MPJPE (H36M regressor, P2) [mm]",
    "mpve": "MPVE (np) [mm]",
    "mpve_smpl": "MPVE (p, SMPL) [mm]",
    "fb_acc": "FB seg accuracy",
    "fb_f1": "FB seg F1",
    "parts_acc": "Parts seg accuracy",
    "parts_f1": "Parts seg F1",
    "depth_corr": "depth correlation (mesh joints)",
    "depth_corr_skeleton": "depth correlation (skeleton joints)",
    "loss": "loss (Eq. 6)",
    "num_samples": "samples",
}


def load_h36m_regressor(path) -> Tensor:
    """Read a Human3.6M joint regressor into the 12 shared joints.

    Args:
        path (str or PathLike): ``.npy`` of shape ``(17, 6890)`` (GraphCMR's
            ``J_regressor_h36m.npy``) or ``(14, 6890)`` (LSP order).

    Returns:
        Tensor: :math:`(12, 6890)` float32, the project's joint order.

    Raises:
        FileNotFoundError: no such file.
        ValueError: another shape.
    """
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"Expected the H36M regressor file at {path} (got no such file);"
            " get J_regressor_h36m.npy from GraphCMR's data download"
        )
    reg = np.load(path, allow_pickle=False)
    if reg.ndim != 2 or reg.shape[0] not in (14, 17):
        raise ValueError(
            f"Expected a (17, V) or (14, V) regressor in {path} "
            f"(got shape {reg.shape})"
        )
    if reg.shape[0] == 17:
        reg = reg[list(H36M_TO_J14)]
    return torch.as_tensor(reg[:12], dtype=torch.float32)


class MeshProjector:
    """Part labels of a mesh projected with a weak-perspective camera.

    Renders the mesh through a pinhole camera far away (depth
    ``distance`` metres, focal length chosen so the projection equals the
    weak-perspective one at the model origin) with
    :class:`bigraph_pyg.data.render.BodyRenderer` (pyrender, headless).

    Args:
        faces (Tensor or np.ndarray): :math:`(F, 3)`.
        skinning_weights (Tensor or np.ndarray): :math:`(V, 24)`; a
            vertex's part is its dominant joint's part.
        image_size (tuple[int, int]): ``(H, W)`` of the label maps.
        distance (float): Camera distance. (default: ``50``)
    """

    def __init__(
        self, faces, skinning_weights, image_size, distance: float = 50.0
    ) -> None:
        from bigraph_pyg.data.render import BodyRenderer, vertex_part_labels

        h, w = image_size
        labels = vertex_part_labels(np.asarray(skinning_weights))
        self.renderer = BodyRenderer(
            np.asarray(faces), labels, width=w, height=h
        )
        self.size = (h, w)
        self.distance = float(distance)
        self.num_vertices = len(labels)

    def part_labels(self, vertices: Tensor, camera: Tensor) -> np.ndarray:
        """Render part labels.

        Args:
            vertices (Tensor): :math:`(V, 3)` model frame, metres.
            camera (Tensor): :math:`(3,)` ``(s, t_x, t_y)``.

        Returns:
            np.ndarray: :math:`(H, W)` uint8, 0 = background.
        """
        h, w = self.size
        v = vertices.detach().double().cpu().numpy()
        s, tx, ty = (float(c) for c in camera.detach().cpu())
        s = max(abs(s), 1e-3)
        d = self.distance
        cam = v + np.array([tx, ty, d])
        K = np.array(
            [[s * w / 2 * d, 0, w / 2], [0, s * h / 2 * d, h / 2], [0, 0, 1]]
        )
        colors = np.full((len(v), 3), 0.5)
        return self.renderer.render(cam, K, colors).part_seg


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
        max_batches (int, optional): Stop after this many batches.
        progress (bool): tqdm bar.
        baselines (TrainingStatistics, optional): Training-split means;
            adds the baselines' scores, the skill ratios and nothing else
            (the depth correlations are always computed).

    Returns:
        dict[str, float]: metric name to value (see
        :data:`METRIC_LABELS`), and ``num_samples``.
    """
    from tqdm.auto import tqdm

    net = getattr(model, "module", model)
    was_training = net.training
    net.eval()
    device = torch.device(device)
    size = net.config.image_size
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    conf_fb = conf_parts = None
    projector = None
    if segmentation:
        try:
            if body is None:
                from bigraph_pyg.body import default_body

                body_for_faces = default_body()
            else:
                body_for_faces = body
            projector = MeshProjector(
                body_for_faces.faces.cpu(),
                body_for_faces.skinning_weights.cpu(),
                size,
            )
        except (ImportError, RuntimeError, OSError) as err:
            warnings.warn(f"Segmentation metrics skipped: {err}", stacklevel=2)
    reg = None if h36m_regressor is None else h36m_regressor.to(device)
    criterion = BiGraphLoss.for_config(net.config) if with_loss else None
    total = 0
    depth = {"": DepthCorrelation(), "_skeleton": DepthCorrelation()}
    base_joints = base_verts = mean_mesh_joints = None
    if baselines is not None:
        base_joints = baselines.mean_joints.to(device)
        if baselines.mean_vertices is not None:
            base_verts = baselines.mean_vertices.to(device)
            if base_verts.shape[0] == net.joint_regressor.shape[1]:
                mean_mesh_joints = (
                    net.joint_regressor.to(base_verts) @ base_verts
                )

    def add(name: str, values: Tensor, mask: Tensor) -> None:
        if mask.any():
            v = values[mask].double()
            sums[name] = sums.get(name, 0.0) + float(v.sum())
            counts[name] = counts.get(name, 0) + int(mask.sum())

    try:
        for i, batch in enumerate(
            tqdm(
                loader,
                desc="eval",
                unit="batch",
                disable=not progress,
                leave=False,
            )
        ):
            if max_batches is not None and i >= max_batches:
                break
            mb = prepare_batch(batch, size, device)
            out = net(mb.images, mb.joints_est)
            t = mb.targets
            n = mb.images.shape[0]
            total += n
            pose3d = t["has_pose_3d"]
            jmask = t["gt_joints_3d_confidence"] > 0
            gt3d = torch.nan_to_num(t["gt_joints_3d"])
            preds = [("", out.mesh_joints)]
            if out.skeleton_joints is not None:
                preds.append(("_skeleton", out.skeleton_joints))
            if reg is not None:
                preds.append(
                    (
                        "_h36m",
                        torch.einsum(
                            "jn,bnc->bjc",
                            reg.to(out.vertices.dtype),
                            out.vertices,
                        ),
                    )
                )
            has_v = t["has_smpl"]
            gt_v = torch.nan_to_num(t["gt_vertices"])
            if base_joints is not None:
                if (
                    base_verts is not None
                    and base_verts.shape[0] == gt_v.shape[-2]
                ):
                    add(
                        "baseline_mean_mesh_mpve",
                        mpve(
                            base_verts.expand_as(gt_v), gt_v, reduction="none"
                        ),
                        has_v,
                    )
                preds += [
                    ("baseline_mean_pose", base_joints.expand(n, -1, -1)),
                    (
                        "baseline_flat_lift",
                        flat_lift(mb.joints_est, base_joints),
                    ),
                ]
                if mean_mesh_joints is not None:
                    preds.append(
                        (
                            "baseline_mean_mesh",
                            mean_mesh_joints.expand(n, -1, -1),
                        )
                    )
            for suffix, joints in preds:
                pre = suffix + "_" if suffix.startswith("baseline") else ""
                post = "" if pre else suffix
                add(
                    pre + "mpjpe" + post,
                    mpjpe(
                        joints.float(),
                        gt3d,
                        HIP_INDICES,
                        jmask,
                        reduction="none",
                    ),
                    pose3d,
                )
                add(
                    pre + "pa_mpjpe" + post,
                    pa_mpjpe(
                        joints.float(), gt3d, mask=jmask, reduction="none"
                    ),
                    pose3d,
                )
                if suffix in depth:
                    depth[suffix].update(
                        joints.float(), gt3d, jmask & pose3d[:, None]
                    )
            add(
                "mpve",
                mpve(out.vertices.float(), gt_v, reduction="none"),
                has_v,
            )
            if body is not None:
                pv = body(
                    betas=out.betas.float(),
                    body_pose=out.rotmat[:, 1:].float(),
                    global_orient=out.rotmat[:, 0].float(),
                ).vertices
                add(
                    "mpve_smpl",
                    mpve(pv.to(gt_v), gt_v, reduction="none"),
                    has_v,
                )
            if with_loss:
                loss, _ = criterion.model_loss(out, t)
                if math.isfinite(float(loss)):
                    add(
                        "loss",
                        loss.detach().expand(n),
                        torch.ones(n, dtype=torch.bool, device=device),
                    )
            if projector is not None:
                seg_ok = mb.raw["has_seg"].bool()
                for k in torch.nonzero(seg_ok).flatten().tolist():
                    pred = torch.from_numpy(
                        projector.part_labels(
                            out.vertices[k], out.camera[k]
                        ).astype(np.int64)
                    )
                    gt = mb.raw["part_seg"][k].cpu().long()
                    cp = segmentation_confusion_matrix(pred, gt, 7)
                    cf = segmentation_confusion_matrix(
                        (pred > 0).long(), (gt > 0).long(), 2
                    )
                    conf_parts = cp if conf_parts is None else conf_parts + cp
                    conf_fb = cf if conf_fb is None else conf_fb + cf
    finally:
        net.train(was_training)
    metrics = {k: sums[k] / counts[k] for k in sums}
    for suffix, corr in depth.items():
        r = corr.compute()
        if math.isfinite(r):
            metrics["depth_corr" + suffix] = r
    metrics.update(skill_ratios(metrics))
    if conf_fb is not None:
        acc, f1 = segmentation_scores(conf_fb)
        metrics.update(fb_acc=float(acc), fb_f1=float(f1))
        acc, f1 = segmentation_scores(conf_parts)
        metrics.update(parts_acc=float(acc), parts_f1=float(f1))
    metrics["num_samples"] = float(total)
    return metrics


def format_metrics(metrics: Mapping[str, float], title: str = "metrics") -> str:
    """Markdown tables of metrics, in :data:`METRIC_LABELS` order.

    The model's metrics (with the skill ratios, model error / best
    baseline error, below their metric), then, when ``metrics`` has
    baseline scores, a second table of the trivial predictors scored on the
    same samples (:data:`~bigraph_pyg.engine.baselines.BASELINES`).

    Args:
        metrics (Mapping[str, float]): From :func:`evaluate`.
        title (str): Header of the value column.

    Returns:
        str: the table(s).
    """
    rows = [f"| metric | {title} |", "|---|---:|"]
    hidden = ("baseline_", "best_baseline_", "skill_")
    keys = [k for k in METRIC_LABELS if k in metrics]
    keys += sorted(
        k
        for k in metrics
        if k not in METRIC_LABELS and not k.startswith(hidden)
    )
    for k in keys:
        v = metrics[k]
        if k == "num_samples":
            text = f"{int(v)}"
        elif k.endswith(("_acc", "_f1", "_corr", "_corr_skeleton")):
            text = f"{v:.4f}" if not k.startswith("depth") else f"{v:.2f}"
        else:
            text = f"{v:.2f}"
        rows.append(f"| {METRIC_LABELS.get(k, k)} | {text} |")
        if f"skill_{k}" in metrics:
            rows.append(
                f"| \u2003skill ratio (/ best baseline "
                f"{metrics[f'best_baseline_{_base(k)}']:.1f}) | "
                f"{metrics[f'skill_{k}']:.2f} |"
            )
    names = [
        n
        for n in BASELINES
        if any(k.startswith(f"baseline_{n}_") for k in metrics)
    ]
    if names:
        rows += [
            "",
            "| baseline (same samples, same code) | MPJPE | PA-MPJPE | MPVE |",
            "|---|---:|---:|---:|",
        ]
        for n in names:
            cells = [
                metrics.get(f"baseline_{n}_{m}")
                for m in ("mpjpe", "pa_mpjpe", "mpve")
            ]
            text = " | ".join("-" if c is None else f"{c:.1f}" for c in cells)
            rows.append(f"| {BASELINES[n]} | {text} |")
    return "\n".join(rows)


def _base(metric: str) -> str:
    """The baseline metric a model metric is compared with."""
    if metric.startswith("pa_mpjpe"):
        return "pa_mpjpe"
    return "mpjpe" if metric.startswith("mpjpe") else "mpve"

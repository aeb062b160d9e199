"""TensorBoard logging of loss terms, metrics and overlay images.

:class:`TrainLogger` writes (on the main process only) every loss term
under ``loss/<term>``, the total under ``loss/total``, the GT-joint mixing
ratio, the learning rate and throughput under ``train/``, evaluation
metrics under ``<split>/<metric>``, and overlays under ``images/<split>``
(:meth:`TrainLogger.predictions`: the model's mesh and joints drawn by
:func:`overlay_images`). Without TensorBoard installed it logs nothing (and
warns once).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from bigraph_pyg.geometry import weak_perspective_projection

__all__ = ["TrainLogger", "overlay_images"]

_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def _to_uint8(img: Tensor) -> np.ndarray:
    mean = torch.tensor(_MEAN, device=img.device).view(3, 1, 1)
    std = torch.tensor(_STD, device=img.device).view(3, 1, 1)
    x = (img.detach().float() * std + mean).clamp(0, 1) * 255
    return x.round().byte().permute(1, 2, 0).cpu().numpy()


def _dots(canvas: np.ndarray, points: np.ndarray, color, radius: int = 1):
    h, w = canvas.shape[:2]
    pts = np.round(points).astype(int)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            x, y = pts[:, 0] + dx, pts[:, 1] + dy
            ok = (x >= 0) & (x < w) & (y >= 0) & (y < h)
            canvas[y[ok], x[ok]] = color


def overlay_images(
    images: Tensor,
    vertices_2d: Tensor,
    joints_2d: Tensor | None = None,
    gt_joints_2d: Tensor | None = None,
    max_images: int = 4,
    vertex_stride: int = 7,
) -> Tensor:
    """Images with the projected mesh (and joints) drawn on them.

    Args:
        images (Tensor): :math:`(B, 3, H, W)` ImageNet-normalised.
        vertices_2d (Tensor): :math:`(B, V, 2)` normalised crop
            coordinates ``[-1, 1]`` (e.g. the weak-perspective projection).
        joints_2d (Tensor, optional): Predicted joints :math:`(B, J, 2)`,
            normalised (red).
        gt_joints_2d (Tensor, optional): Ground truth :math:`(B, J, 2)`,
            normalised (green).
        max_images (int): At most this many, side by side.
        vertex_stride (int): Draw every this-many-th vertex (cyan).

    Returns:
        Tensor: :math:`(3, H, k W)` uint8, ``k = min(B, max_images)``.
    """
    k = min(images.shape[0], max_images)
    h, w = images.shape[-2:]
    half = np.array([w / 2.0, h / 2.0])
    tiles = []
    for i in range(k):
        canvas = _to_uint8(images[i]).copy()
        v = vertices_2d[i, ::vertex_stride].detach().float().cpu().numpy()
        _dots(canvas, (v + 1) * half, (0, 255, 255), 0)
        for pts, color in (
            (gt_joints_2d, (0, 255, 0)),
            (joints_2d, (255, 0, 0)),
        ):
            if pts is not None:
                p = pts[i].detach().float().cpu().numpy()
                _dots(canvas, (p + 1) * half, color, 2)
        tiles.append(canvas)
    return torch.from_numpy(np.concatenate(tiles, axis=1)).permute(2, 0, 1)


class TrainLogger:
    """TensorBoard writer for a training run (no-op off the main process).

    Args:
        log_dir (str or PathLike or None): Event folder; :obj:`None`
            disables logging.
        enabled (bool): :obj:`False` on non-main ranks.
    """

    def __init__(self, log_dir, enabled: bool = True) -> None:
        self.writer = None
        if log_dir is None or not enabled:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as err:  # pragma: no cover - optional dependency
            warnings.warn(
                f"TensorBoard logging disabled: {err}; pip install tensorboard",
                stacklevel=2,
            )
            return
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        self.writer = SummaryWriter(str(log_dir))

    def scalars(
        self, prefix: str, values: Mapping[str, float], step: int
    ) -> None:
        """Log ``values`` as ``prefix/<name>``."""
        if self.writer is None:
            return
        for name, value in values.items():
            self.writer.add_scalar(f"{prefix}/{name}", float(value), step)

    def training_window(
        self,
        window: list[Mapping[str, float]],
        step: int,
        train: Mapping[str, float],
    ) -> None:
        """Log the mean of a window of steps' loss terms, and ``train``.

        Args:
            window (list[Mapping]): History entries (``loss``, the terms,
                ``step``, ``epoch``); their means go to ``loss/*``, the
                total to ``loss/total``.
            step (int): The global step.
            train (Mapping): ``train/*`` scalars (ratio, rate, lr, ...).
        """
        keys = [k for k in window[0] if k not in ("step", "epoch")]
        mean = {k: sum(e[k] for e in window) / len(window) for k in keys}
        total = mean.pop("loss")
        self.scalars("loss", {"total": total, **mean}, step)
        self.scalars("train", train, step)

    def image(self, tag: str, image: Tensor, step: int) -> None:
        """Log a :math:`(3, H, W)` uint8 image."""
        if self.writer is not None:
            self.writer.add_image(tag, image, step)

    @torch.no_grad()
    def predictions(self, net, mb, tag: str, step: int) -> None:
        """Log the model's mesh and joints drawn on up to four images.

        Images with a non-finite pixel are left out. ``net`` runs in eval
        mode (its BatchNorm statistics untouched), then is set to training
        mode.

        Args:
            net (BiGraphBody): The model.
            mb (ModelBatch): From
                :func:`~bigraph_pyg.engine.batching.prepare_batch`.
            tag (str): The image's tag, e.g. ``"images/train"``.
            step (int): Global step.
        """
        if self.writer is None:
            return
        keep = mb.finite_images()
        if not keep.all():
            mb = mb.select(keep)
        if not len(mb):
            return
        net.eval()
        try:
            out = net(mb.images[:4], mb.joints_est[:4])
        finally:
            net.train()
        v2d = weak_perspective_projection(out.vertices, out.camera)
        img = overlay_images(
            mb.images[:4],
            v2d,
            out.mesh_joints_2d,
            mb.targets["gt_joints_2d"][:4],
        )
        self.image(tag, img, step)

    def flush(self) -> None:
        """Write pending events."""
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        """Flush and close."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None

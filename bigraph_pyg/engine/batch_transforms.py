"""Pure functions from dataset samples to model inputs and loss targets.

* :func:`collate_samples`: a list of samples to one batch;
* :func:`resize_batch`: images, masks and pixel joints at the model's
  input size;
* :func:`fill_missing_joints`: the model-input 2D joints, a missed
  (non-finite) one filled with the mean of the others, never pixel
  ``(0, 0)``, all clamped into the image;
* :func:`loss_targets`: the targets of
  :meth:`~bigraph_pyg.losses.BiGraphLoss.model_loss`, non-finite ground
  truth masked per sample (:func:`finite_rows`).

:mod:`bigraph_pyg.engine.batching` applies them to every training and
evaluation batch (:func:`~bigraph_pyg.engine.prepare_batch`,
:func:`~bigraph_pyg.engine.prepare_pose_batch`) and to the cached
datasets; :func:`~bigraph_pyg.predict` fills missed joints with the same
rule.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor

from bigraph_pyg.geometry import axis_angle_to_matrix

__all__ = [
    "collate_samples",
    "fill_missing_joints",
    "finite_rows",
    "loss_targets",
    "resize_batch",
]


def collate_samples(samples: list[Mapping]) -> dict:
    """Stack tensors of a list of samples; other values become lists.

    Args:
        samples (list[Mapping]): Samples with the keys of the first one
            (e.g. :data:`~bigraph_pyg.data.SAMPLE_KEYS`), each tensor of
            the same shape across samples.

    Returns:
        dict: Per key, the tensors stacked to :math:`(B, ...)`, or a list
        of the ``B`` values (e.g. ``dataset`` names).

    Raises:
        ValueError: a sample without a key of the first, or with a tensor
            of another shape (e.g. 13 joints among 12), naming the key and
            the sample's dataset and index.
    """
    out = {}
    first = samples[0]
    for k in first:
        vals = []
        for s in samples:
            v = s.get(k, _MISSING)
            if v is _MISSING or (
                isinstance(first[k], Tensor)
                and getattr(v, "shape", None) != first[k].shape
            ):
                got = "no such key" if v is _MISSING else _shape_of(v)
                raise ValueError(
                    f"Expected every sample of a batch to hold '{k}' as the "
                    f"first does, {_shape_of(first[k])} (got {got} in sample "
                    f"{_index_of(s)} of dataset {s.get('dataset', '?')!r})"
                )
            vals.append(v)
        out[k] = torch.stack(vals) if isinstance(vals[0], Tensor) else vals
    return out


_MISSING = object()


def _index_of(sample: Mapping) -> str:
    index = sample.get("index", "?")
    return str(index.item() if isinstance(index, Tensor) else index)


def _shape_of(value) -> str:
    if isinstance(value, Tensor):
        return f"shape {tuple(value.shape)}"
    return type(value).__name__


def resize_batch(batch: dict, size: tuple[int, int]) -> dict:
    """Resize images, masks and pixel joints of a collated batch.

    Images are resized bilinearly (antialiased), ``mask`` and ``part_seg``
    to the nearest label, and the pixel joints (``joints_2d``,
    ``joints_2d_est``) scaled to match. A batch already at ``size`` is
    returned as it is; otherwise a shallow copy (the input is not changed).

    Args:
        batch (dict): Collated samples with ``img`` :math:`(B, 3, H, W)`,
            ``mask`` and ``part_seg`` :math:`(B, H, W)`, ``joints_2d`` and
            ``joints_2d_est`` :math:`(B, 12, 2)` pixels.
        size (tuple[int, int]): Target ``(H, W)``.

    Returns:
        dict: the batch at ``size``.
    """
    h0, w0 = batch["img"].shape[-2:]
    if (h0, w0) == size:
        return batch
    batch = dict(batch)
    batch["img"] = F.interpolate(
        batch["img"],
        size=size,
        mode="bilinear",
        align_corners=False,
        antialias=True,
    )
    for k in ("mask", "part_seg"):
        batch[k] = F.interpolate(
            batch[k][:, None].float(), size=size, mode="nearest"
        )[:, 0].to(batch[k].dtype)
    scale = torch.tensor([size[1] / w0, size[0] / h0])
    for k in ("joints_2d", "joints_2d_est"):
        batch[k] = batch[k] * scale
    return batch


def fill_missing_joints(
    joints: Tensor, size: tuple[int, int]
) -> tuple[Tensor, Tensor]:
    """Model-input pixel joints and which of them were detected.

    A non-finite joint (a missed detection) is replaced by the mean of the
    sample's finite joints (the image centre if it has none), never by
    pixel ``(0, 0)``; then all are clamped into the ``(H, W)`` image. The
    one home of this rule: training batches and :func:`~bigraph_pyg.predict`
    both use it.

    Args:
        joints (Tensor): :math:`(B, J, 2)` pixels, NaN where missed.
        size (tuple[int, int]): ``(H, W)``.

    Returns:
        tuple[Tensor, Tensor]: joints :math:`(B, J, 2)` and a bool
        :math:`(B, J)` mask of the finite (detected) ones.
    """
    h, w = size
    j = joints.float()
    valid = torch.isfinite(j).all(dim=-1)
    safe = torch.where(valid[..., None], j, torch.zeros_like(j))
    count = valid.sum(dim=1, keepdim=True)[..., None].to(j.dtype)
    centre = torch.where(
        count > 0,
        safe.sum(dim=1, keepdim=True) / count.clamp_min(1.0),
        torch.tensor([w / 2.0, h / 2.0], device=j.device, dtype=j.dtype),
    )
    j = torch.where(valid[..., None], j, centre)
    hi = torch.tensor([w - 1.0, h - 1.0], device=j.device, dtype=j.dtype)
    return torch.minimum(j.clamp_min(0.0), hi), valid


def finite_rows(x: Tensor) -> Tensor:
    """Which samples of a batched tensor are finite throughout.

    Args:
        x (Tensor): :math:`(B, ...)`.

    Returns:
        Tensor: :math:`(B,)` bool, every value of the sample is finite.
    """
    return torch.isfinite(x.reshape(x.shape[0], -1)).all(dim=1)


def loss_targets(
    batch: Mapping,
    size: tuple[int, int],
    vis2d: Tensor,
    vis3d: Tensor,
    has_smpl: Tensor,
    has_pose_3d: Tensor,
) -> dict:
    """Loss targets of a batch at ``size``.

    The keys of :meth:`~bigraph_pyg.losses.BiGraphLoss.model_loss`.

    Non-finite ground truth is never trained on: a non-finite 2D joint
    gets confidence 0, a sample with a non-finite 3D joint loses
    ``has_pose_3d`` (the pelvis centring mixes its joints) and one with
    non-finite vertices, pose or shape loses ``has_smpl``; the values are
    zeroed so no NaN reaches the loss.

    Args:
        batch (Mapping): The batch on the target device: ``joints_2d``
            :math:`(B, 12, 2)` pixels at ``size``, ``joints_3d``
            :math:`(B, 12, 3)`, ``vertices`` :math:`(B, V, 3)` and,
            optionally, ``pose`` :math:`(B, 72)` with ``betas``
            :math:`(B, 10)`.
        size (tuple[int, int]): Model input ``(H, W)``.
        vis2d (Tensor): :math:`(B, 12)` confidence of the 2D joints.
        vis3d (Tensor): :math:`(B, 12)` confidence of the 3D joints.
        has_smpl (Tensor): :math:`(B,)` bool, samples with a mesh (and
            SMPL parameters).
        has_pose_3d (Tensor): :math:`(B,)` bool, samples with 3D joints.

    Returns:
        dict: ``gt_vertices``, ``gt_joints_3d``, ``gt_joints_2d``
        (normalised to :math:`[-1, 1]`), ``gt_joints_2d_confidence``,
        ``gt_joints_3d_confidence``, ``has_smpl``, ``has_pose_3d`` and,
        with ``pose`` and ``betas``, ``gt_rotmat`` :math:`(B, 24, 3, 3)`
        and ``gt_betas``.
    """
    h, w = size
    scale = torch.tensor([2.0 / w, 2.0 / h], device=vis2d.device)
    joints_2d = batch["joints_2d"].float()
    vis2d = vis2d * torch.isfinite(joints_2d).all(dim=-1).to(vis2d.dtype)
    joints_3d = batch["joints_3d"].float()
    has_pose_3d = has_pose_3d & finite_rows(joints_3d)
    vertices = batch["vertices"].float()
    ok_smpl = finite_rows(vertices)
    if "pose" in batch and "betas" in batch:
        ok_smpl = (
            ok_smpl
            & finite_rows(batch["pose"].float())
            & finite_rows(batch["betas"].float())
        )
    has_smpl = has_smpl & ok_smpl

    def clean(x: Tensor) -> Tensor:
        return torch.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)

    targets = {
        "gt_vertices": clean(vertices),
        "gt_joints_3d": clean(joints_3d),
        "gt_joints_2d": clean(joints_2d * scale - 1.0),
        "gt_joints_2d_confidence": vis2d,
        "gt_joints_3d_confidence": vis3d,
        "has_smpl": has_smpl,
        "has_pose_3d": has_pose_3d,
    }
    if "pose" in batch and "betas" in batch:
        targets["gt_rotmat"] = axis_angle_to_matrix(
            clean(batch["pose"].float()).reshape(-1, 24, 3)
        )
        targets["gt_betas"] = clean(batch["betas"].float())
    return targets

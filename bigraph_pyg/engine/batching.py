"""From dataset samples to model inputs and loss targets; resumable order.

* :class:`EpochBatchSampler`: the batches of an epoch are a function of
  ``(seed, epoch, rank, world_size)`` only, so a resumed run sees the same
  order, and skipping the batches already trained resumes mid-epoch.
  With several processes each rank takes a disjoint stride of the
  permutation (the distributed sampler).
* :class:`CachedDataset`: reads a dataset once into memory (images resized
  to the model's input size, full-resolution vertices computed in batches
  from SMPL parameters where needed), so small CPU runs do not re-decode
  JPEGs and re-pose the body every epoch.
* :func:`prepare_batch`: collated samples (the keys of
  ``bigraph_pyg.data.keys.SAMPLE_KEYS``) to a :class:`ModelBatch`.

The steps on tensors (collating, resizing, missed 2D joints, masked loss
targets) are the functions of :mod:`~bigraph_pyg.engine.batch_transforms`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from bigraph_pyg.engine.batch_transforms import (
    collate_samples,
    fill_missing_joints,
    finite_rows,
    loss_targets,
    resize_batch,
)

__all__ = [
    "CachedDataset",
    "EpochBatchSampler",
    "ModelBatch",
    "TRAIN_KEYS",
    "prepare_batch",
    "prepare_pose_batch",
]

#: Keys :func:`prepare_batch` needs (the others of :data:`TRAIN_KEYS` are
#: optional there).
_PREPARE_KEYS: tuple[str, ...] = tuple(
    "img joints_2d joints_2d_visible joints_2d_est joints_3d joints_3d_visible "
    "vertices has_smpl has_pose_3d has_joints_2d".split()
)
#: Keys a training or evaluation step reads from a sample.
TRAIN_KEYS: tuple[str, ...] = (
    "img",
    "joints_2d",
    "joints_2d_visible",
    "joints_2d_est",
    "joints_2d_est_visible",
    "joints_3d",
    "joints_3d_visible",
    "vertices",
    "pose",
    "betas",
    "mask",
    "part_seg",
    "has_smpl",
    "has_pose_3d",
    "has_joints_2d",
    "has_vertices",
    "has_seg",
    "index",
)


class EpochBatchSampler(Sampler[list[int]]):
    """Deterministic, resumable, rank-aware batches of indices.

    Args:
        num_samples (int): Dataset length.
        batch_size (int): Batch size per process.
        seed (int): Base seed of the per-epoch permutation.
        shuffle (bool): Permute each epoch. (default: :obj:`True`)
        rank (int): This process's rank. (default: ``0``)
        world_size (int): Number of processes. (default: ``1``)
        drop_last (bool): Drop a last incomplete batch. (default: :obj:`True`)

    Call :meth:`set_epoch` before iterating; ``skip`` batches are left out
    at the start (resume mid-epoch).
    """

    def __init__(
        self,
        num_samples: int,
        batch_size: int,
        seed: int = 0,
        shuffle: bool = True,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = True,
    ) -> None:
        if batch_size < 1 or num_samples < 1:
            raise ValueError(
                "Expected batch_size >= 1 and a non-empty "
                f"dataset (got {batch_size}, {num_samples})"
            )
        per_rank = num_samples // world_size
        if drop_last and per_rank < batch_size:
            raise ValueError(
                f"Expected at least batch_size={batch_size} samples per "
                f"process (got {num_samples} samples for {world_size} "
                "processes); lower batch_size or use more data"
            )
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.rank = rank
        self.world_size = world_size
        self.drop_last = drop_last
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        """Select the epoch's permutation; skip its first ``skip`` batches."""
        self.epoch, self.skip = int(epoch), int(skip)

    def _indices(self) -> list[int]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
            perm = torch.randperm(self.num_samples, generator=g).tolist()
        else:
            perm = list(range(self.num_samples))
        usable = (self.num_samples // self.world_size) * self.world_size
        if self.world_size > 1:
            perm = perm[:usable]
        return perm[self.rank :: self.world_size]

    def __len__(self) -> int:
        n = len(self._indices()) if self.world_size > 1 else self.num_samples
        full = n // self.batch_size
        return full if self.drop_last or n % self.batch_size == 0 else full + 1

    def __iter__(self) -> Iterator[list[int]]:
        idx = self._indices()
        batches = [
            idx[i : i + self.batch_size]
            for i in range(0, len(idx), self.batch_size)
        ]
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches = batches[:-1]
        yield from batches[self.skip :]


class CachedDataset(Dataset):
    """An in-memory copy of a dataset, resized for the model.

    Args:
        dataset (Dataset): Yields dicts with (at least) :data:`TRAIN_KEYS`.
        image_size (tuple[int, int]): Model input ``(H, W)``; images, 2D
            joints (pixels) and masks are resized to it.
        body (BodyModel, optional): Poses ``(betas, pose)`` into
            ``vertices`` for samples with ``has_smpl`` but no
            ``has_vertices`` (in batches: much faster than per sample).
        batch_size (int): Read batch size. (default: ``32``)
        progress (bool): tqdm bar. (default: :obj:`True`)

    Raises:
        ValueError: samples without the keys of :data:`TRAIN_KEYS`, of
            other shapes, or with integer images
            (:func:`~bigraph_pyg.data.keys.check_batch`).
    """

    def __init__(
        self,
        dataset: Dataset,
        image_size: Sequence[int],
        body=None,
        batch_size: int = 32,
        progress: bool = True,
    ) -> None:
        from tqdm.auto import tqdm

        from bigraph_pyg.data.keys import check_batch

        self.image_size = tuple(int(s) for s in image_size)
        self.source_name = type(dataset).__name__
        loader = DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=False,
            num_workers=0,
            collate_fn=collate_samples,
        )
        parts: dict[str, list[Tensor]] = {}
        names: list[str] = []
        for batch in tqdm(
            loader,
            desc="caching",
            unit="batch",
            disable=not progress,
            leave=False,
        ):
            check_batch(batch, TRAIN_KEYS)
            names.extend(batch["dataset"])
            batch = resize_batch(batch, self.image_size)
            if body is not None:
                need = batch["has_smpl"] & ~batch["has_vertices"]
                if need.any():
                    with torch.no_grad():
                        pose = batch["pose"][need]
                        v = body(
                            betas=batch["betas"][need],
                            body_pose=pose[:, 3:],
                            global_orient=pose[:, :3],
                        ).vertices
                    batch["vertices"][need] = v.to(batch["vertices"].dtype)
                    batch["has_vertices"] = batch["has_vertices"] | need
            for k in TRAIN_KEYS:
                parts.setdefault(k, []).append(batch[k])
        self.data = {k: torch.cat(v) for k, v in parts.items()}
        self.names = names

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> dict:
        out = {k: v[index] for k, v in self.data.items()}
        out["dataset"] = self.names[index]
        return out


def prepare_pose_batch(
    batch: Mapping,
    image_size: Sequence[int],
    crop_size: int,
    device: torch.device | str = "cpu",
) -> tuple[Tensor, Tensor, dict]:
    """Image-free model inputs and loss targets of pose-only samples.

    The samples are those of :class:`~bigraph_pyg.data.SyntheticPoses`.

    Args:
        batch (Mapping): From :meth:`SyntheticPoses.batch`; 2D joints in
            pixels of a ``crop_size``² crop.
        image_size (Sequence[int]): Model input ``(H, W)``: the joints are
            scaled to it, as :func:`prepare_batch` scales a resized image's.
        crop_size (int): The generator's crop side.
        device (torch.device or str): Target device.

    Returns:
        tuple: ground-truth and estimated 2D joints :math:`(B, 12, 2)`
        (model pixels, clamped into the image; a non-finite joint becomes
        the mean of the sample's other joints) and the targets of
        :meth:`~bigraph_pyg.losses.BiGraphLoss.model_loss`.
    """
    size = tuple(int(s) for s in image_size)
    dev = torch.device(device)
    scale = torch.tensor([size[1] / crop_size, size[0] / crop_size])
    b = {k: v.to(dev) for k, v in batch.items()}
    b["joints_2d"] = b["joints_2d"] * scale.to(dev)
    b["joints_2d_est"] = b["joints_2d_est"] * scale.to(dev)
    n = b["joints_3d"].shape[0]
    ones = torch.ones(n, dtype=torch.bool, device=dev)
    vis = torch.ones(n, b["joints_3d"].shape[1], device=dev)
    targets = loss_targets(b, size, vis, vis, ones, ones)
    return (
        fill_missing_joints(b["joints_2d"], size)[0],
        fill_missing_joints(b["joints_2d_est"], size)[0],
        targets,
    )


@dataclass
class ModelBatch:
    """One batch ready for :class:`~bigraph_pyg.models.BiGraphBody`.

    Attributes:
        images (Tensor): :math:`(B, 3, H, W)` at the model's size.
        joints_gt (Tensor): Ground-truth 2D joints, model pixels,
            :math:`(B, 12, 2)`, clamped into the image.
        joints_est (Tensor): Estimated 2D joints, same frame.
        targets (dict): Keys of
            :meth:`~bigraph_pyg.losses.BiGraphLoss.model_loss`
            (``gt_vertices``, ``gt_joints_3d``, ``gt_joints_2d``
            normalised, confidences, ``has_smpl``, ``has_pose_3d`` and,
            where given, ``gt_rotmat``, ``gt_betas``).
        raw (dict): The collated batch (resized), for metrics and images.
        joints_gt_valid (Tensor): :math:`(B, 12)` bool, the ground-truth
            2D joints that were finite (the others are filled in
            ``joints_gt`` and have confidence 0 in ``targets``).
        joints_est_valid (Tensor): :math:`(B, 12)` bool, the estimated
            joints that were detected (finite).
    """

    images: Tensor
    joints_gt: Tensor
    joints_est: Tensor
    targets: dict
    raw: dict
    joints_gt_valid: Tensor | None = None
    joints_est_valid: Tensor | None = None

    def __len__(self) -> int:
        return self.images.shape[0]

    def finite_images(self) -> Tensor:
        """``(B,)`` bool: the samples whose image pixels are all finite."""
        return finite_rows(self.images)

    def select(self, keep: Tensor) -> ModelBatch:
        """The samples where ``keep`` (a ``(B,)`` bool mask) is true.

        Every tensor with the batch as first dimension (inputs, targets,
        the raw batch) and every per-sample list of ``raw`` is indexed.
        """
        n = len(self)
        idx = keep.nonzero().flatten()

        def pick(value):
            if (
                isinstance(value, Tensor)
                and value.dim()
                and value.shape[0] == n
            ):
                return value[idx.to(value.device)]
            if isinstance(value, list) and len(value) == n:
                return [value[i] for i in idx.tolist()]
            return value

        return ModelBatch(
            pick(self.images),
            pick(self.joints_gt),
            pick(self.joints_est),
            {k: pick(v) for k, v in self.targets.items()},
            {k: pick(v) for k, v in self.raw.items()},
            pick(self.joints_gt_valid),
            pick(self.joints_est_valid),
        )


def prepare_batch(
    batch: Mapping,
    image_size: Sequence[int],
    device: torch.device | str = "cpu",
) -> ModelBatch:
    """Collated samples to model inputs and loss targets on ``device``.

    Images and pixel joints are resized to ``image_size`` if they differ.
    2D joints are clamped into the image (the model refuses joints
    outside it; a clamped joint keeps its direction from the body). A
    non-finite 2D joint (a missed detection) is masked: it is filled with
    the mean of the sample's finite joints (never pixel ``(0, 0)``),
    flagged in ``joints_gt_valid`` / ``joints_est_valid``, and a
    non-finite ground-truth joint gets confidence 0 (not trained on).
    Non-finite 3D targets are masked per sample (see
    :func:`~bigraph_pyg.engine.batch_transforms.loss_targets`).
    Images are passed as they are: the trainer leaves out samples with
    non-finite pixels (:meth:`ModelBatch.finite_images`); uint8 images
    (raw pixels, not ImageNet-normalised) are refused, as the model's
    forward refuses them.

    Args:
        batch (Mapping): Collated samples with :data:`TRAIN_KEYS`.
        image_size (Sequence[int]): Model input ``(H, W)``.
        device (torch.device or str): Target device.

    Returns:
        ModelBatch: inputs and targets.

    Raises:
        ValueError: a missing key, another shape (13 joints) or integer
            images (:func:`~bigraph_pyg.data.keys.check_batch`).
    """
    from bigraph_pyg.data.keys import check_batch

    check_batch(batch, _PREPARE_KEYS)
    size = tuple(int(s) for s in image_size)
    batch = resize_batch(dict(batch), size)
    dev = torch.device(device)
    b = {
        k: (v.to(dev, non_blocking=True) if isinstance(v, Tensor) else v)
        for k, v in batch.items()
    }
    joints_gt, gt_valid = fill_missing_joints(b["joints_2d"], size)
    joints_est, est_valid = fill_missing_joints(b["joints_2d_est"], size)
    has_smpl = b["has_smpl"].bool()
    if "has_vertices" in b:
        has_smpl = has_smpl & b["has_vertices"].bool()
    vis2d = b["joints_2d_visible"].float() * b["has_joints_2d"].float()[:, None]
    targets = loss_targets(
        b,
        size,
        vis2d,
        b["joints_3d_visible"].float(),
        has_smpl,
        b["has_pose_3d"].bool(),
    )
    return ModelBatch(
        b["img"].float(), joints_gt, joints_est, targets, b, gt_valid, est_valid
    )

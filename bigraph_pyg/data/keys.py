"""The keys every dataset sample carries (synthetic and real alike).

Every dataset of :mod:`bigraph_pyg.data` returns a ``dict`` with exactly the
keys of :data:`SAMPLE_KEYS`, so ``DataLoader``'s default collate works across
a :class:`~bigraph_pyg.data.MixedDataset`. Ground truth a sample lacks is
zeros, and its ``has_*`` flag is :obj:`False`.

Frames and units:

* 2D joints are in **pixels of the 224² crop**, pixel centres at integers
  (OpenCV). :func:`pixels_to_normalized` gives GraphCMR's ``[-1, 1]``
  units (``2 u / 224 - 1``), those of :mod:`bigraph_pyg.losses`.
* 3D joints (``joints_3d``, ``joints24_3d``) are in the **camera frame**,
  metres (OpenCV axes: ``x`` right, ``y`` down, ``z`` forward).
* ``vertices`` and ``coarse_vertices`` are in the **model frame**: the body
  model's output for ``(betas, pose)`` without translation, as GraphCMR's
  ``gt_vertices`` (what the mesh branch regresses). Camera frame = model
  frame + ``transl``.
* ``camera_K``: pinhole intrinsics of the crop (pixels);
  ``camera_weak``: GraphCMR's weak perspective ``(s, tx, ty)`` for
  **model-frame** points, ``x_norm ≈ s (X[:, :2] + t)``
  (:func:`bigraph_pyg.geometry.weak_perspective_projection`), exact at the
  pelvis depth.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "IMAGE_SIZE",
    "NUM_COARSE_VERTICES",
    "NUM_VERTICES",
    "SAMPLE_KEYS",
    "check_batch",
    "check_sample",
    "denormalize_image",
    "empty_sample",
    "normalize_image",
    "normalized_to_pixels",
    "pixels_to_normalized",
]

#: Side of the square input crop, pixels.
IMAGE_SIZE = 224
#: Vertices of the full (SMPL-format) mesh and of hierarchy level 1.
NUM_VERTICES = 6890
NUM_COARSE_VERTICES = 1723
#: ImageNet channel statistics (RGB, for images in ``[0, 1]``).
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

_S, _V, _C = IMAGE_SIZE, NUM_VERTICES, NUM_COARSE_VERTICES

#: ``key: (shape, dtype, meaning)``; shapes use the defaults above.
SAMPLE_KEYS: dict[str, tuple[tuple[int, ...], torch.dtype, str]] = {
    "img": ((3, _S, _S), torch.float32, "RGB, ImageNet-normalised"),
    "joints_2d": ((12, 2), torch.float32, "12 joints, crop pixels"),
    "joints_2d_visible": ((12,), torch.float32, "1 if annotated"),
    "joints_2d_est": ((12, 2), torch.float32, "detector-like estimate"),
    "joints_2d_est_visible": ((12,), torch.float32, "0 where missed"),
    "joints_3d": ((12, 3), torch.float32, "camera frame, metres"),
    "joints_3d_visible": ((12,), torch.float32, "1 if annotated"),
    "joints24_2d": ((24, 2), torch.float32, "SMPL joints, crop pixels"),
    "joints24_3d": ((24, 3), torch.float32, "SMPL joints, camera frame"),
    "vertices": ((_V, 3), torch.float32, "model frame, metres"),
    "coarse_vertices": ((_C, 3), torch.float32, "level-1 mesh, D @ V"),
    "pose": ((72,), torch.float32, "SMPL axis-angle, camera-frame root"),
    "betas": ((10,), torch.float32, "shape coefficients"),
    "transl": ((3,), torch.float32, "model frame -> camera frame"),
    "camera_K": ((3, 3), torch.float32, "intrinsics, crop pixels"),
    "camera_weak": ((3,), torch.float32, "(s, tx, ty), normalised crop"),
    "mask": ((_S, _S), torch.uint8, "person mask"),
    "part_seg": ((_S, _S), torch.uint8, "render.PART_NAMES labels"),
    "has_smpl": ((), torch.bool, "pose and betas valid"),
    "has_pose_3d": ((), torch.bool, "joints_3d valid"),
    "has_joints_2d": ((), torch.bool, "joints_2d valid"),
    "has_joints24": ((), torch.bool, "joints24_* valid"),
    "has_vertices": ((), torch.bool, "vertices valid"),
    "has_camera": ((), torch.bool, "camera_K, camera_weak, transl valid"),
    "has_seg": ((), torch.bool, "mask and part_seg valid"),
    "dataset": ((), None, "dataset name (str)"),
    "index": ((), torch.int64, "index within its dataset"),
}


def empty_sample(dataset: str, index: int) -> dict:
    """A sample with every key, zeros everywhere and every flag false.

    Args:
        dataset (str): Dataset name.
        index (int): Index within the dataset.

    Returns:
        dict: tensors of :data:`SAMPLE_KEYS`'s shapes and dtypes.
    """
    out = {}
    for key, (shape, dtype, _) in SAMPLE_KEYS.items():
        if key == "dataset":
            out[key] = str(dataset)
        elif key == "index":
            out[key] = torch.tensor(int(index))
        else:
            out[key] = torch.zeros(shape, dtype=dtype)
    return out


def check_sample(sample: Mapping) -> None:
    """Validate a sample's keys, shapes and dtypes.

    Args:
        sample (Mapping): One unbatched sample; it must hold exactly the
            keys of :data:`SAMPLE_KEYS`, each a tensor of the listed
            shape and dtype (``dataset`` a ``str``).

    Raises:
        ValueError: a missing or extra key, or a wrong shape or dtype.
    """
    missing = sorted(set(SAMPLE_KEYS) - set(sample))
    extra = sorted(set(sample) - set(SAMPLE_KEYS))
    if missing or extra:
        raise ValueError(
            f"Expected sample keys {sorted(SAMPLE_KEYS)} (got missing "
            f"{missing}, extra {extra})"
        )
    for key, (shape, dtype, _) in SAMPLE_KEYS.items():
        value = sample[key]
        if dtype is None:
            if not isinstance(value, str):
                raise ValueError(
                    f"Expected str '{key}' (got {type(value).__name__})"
                )
            continue
        if (
            not isinstance(value, Tensor)
            or tuple(value.shape) != shape
            or value.dtype != dtype
        ):
            raise ValueError(
                f"Expected '{key}' of shape {shape} and dtype {dtype} (got "
                f"{tuple(getattr(value, 'shape', ()))} "
                f"{getattr(value, 'dtype', type(value).__name__)})"
            )


def _batch_origin(batch: Mapping) -> str:
    """``datasets ['h36m'], indices [4, 9, ...]`` of a collated batch."""
    names = sorted({str(n) for n in batch.get("dataset", ["?"])})
    index = batch.get("index")
    idx = index.flatten()[:4].tolist() if isinstance(index, Tensor) else "?"
    return f"datasets {names}, indices {idx}"


def check_batch(batch: Mapping, keys: Iterable[str]) -> None:
    """Validate a collated batch's keys and per-sample shapes.

    ``keys`` must be present; every key of :data:`SAMPLE_KEYS` present
    must be a tensor of shape ``(B, *shape)``, except the image side
    (``img``, ``mask`` and ``part_seg`` may come at any size, resized
    later) and the vertex counts (another body); ``img`` must be floating
    point, ImageNet-normalised (:func:`normalize_image`), as the model's
    forward requires.

    Args:
        batch (Mapping): Collated samples (e.g. by
            :func:`~bigraph_pyg.engine.collate_samples`).
        keys (Iterable[str]): The keys the caller needs.

    Raises:
        ValueError: a missing key, a wrong shape, or raw (integer) pixels;
            the message names the key, the batch's datasets and indices,
            what was expected and what came.
    """
    keys = tuple(keys)
    missing = [k for k in keys if k not in batch]
    if missing:
        raise ValueError(
            f"Expected samples with the keys {list(keys)} (got {missing} "
            f"missing; {_batch_origin(batch)})"
        )
    free = {"img": (1, 2), "mask": (0, 1), "part_seg": (0, 1)}
    free.update(vertices=(0,), coarse_vertices=(0,))
    for key in batch:
        if key not in SAMPLE_KEYS or SAMPLE_KEYS[key][1] is None:
            continue
        shape = SAMPLE_KEYS[key][0]
        value = batch[key]
        got = tuple(getattr(value, "shape", ()))
        want = [str(n) for n in shape]
        for i in free.get(key, ()):
            want[i] = "*"
        ok = (
            isinstance(value, Tensor)
            and len(got) == len(shape) + 1
            and all(
                w == "*" or int(w) == g
                for w, g in zip(want, got[1:], strict=True)
            )
        )
        if not ok:
            raise ValueError(
                f"Expected '{key}' of shape ({', '.join(want)}) per sample "
                f"(got {got[1:] if got else type(value).__name__}; "
                f"{_batch_origin(batch)})"
            )
    img = batch.get("img")
    if isinstance(img, Tensor) and not img.is_floating_point():
        raise ValueError(
            "Expected 'img' as float pixels, ImageNet-normalised "
            "(bigraph_pyg.data.keys.normalize_image), as the model takes "
            f"them (got {img.dtype}; {_batch_origin(batch)})"
        )


def normalize_image(rgb: np.ndarray) -> Tensor:
    """``(H, W, 3)`` uint8 RGB to ``(3, H, W)`` float32, ImageNet-normalised.

    Args:
        rgb (np.ndarray): :math:`(H, W, 3)` uint8.

    Returns:
        Tensor: :math:`(3, H, W)` float32.
    """
    x = torch.from_numpy(np.array(rgb, np.uint8)).permute(2, 0, 1)
    x = x.float().div_(255.0)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (x - mean) / std


def denormalize_image(img: Tensor) -> np.ndarray:
    """Inverse of :func:`normalize_image` (for display).

    Args:
        img (Tensor): :math:`(3, H, W)` ImageNet-normalised.

    Returns:
        np.ndarray: :math:`(H, W, 3)` uint8.
    """
    mean = torch.tensor(IMAGENET_MEAN, device=img.device).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=img.device).view(3, 1, 1)
    x = (img.detach() * std + mean).clamp(0, 1) * 255.0
    return x.round().byte().permute(1, 2, 0).cpu().numpy()


def pixels_to_normalized(points: Tensor, size: int = IMAGE_SIZE) -> Tensor:
    """Crop pixels to GraphCMR's normalised units: ``2 u / size - 1``.

    Args:
        points (Tensor): Points in crop pixels, any shape, e.g.
            :math:`(B, J, 2)`.
        size (int): Side of the square crop, pixels.
            (default: :data:`IMAGE_SIZE`)

    Returns:
        Tensor: Same shape as ``points``, in ``[-1, 1]`` inside the crop.

    Example:
        >>> pixels_to_normalized(torch.tensor([[0., 112.]]))
        tensor([[-1.,  0.]])
    """
    return points * (2.0 / size) - 1.0


def normalized_to_pixels(points: Tensor, size: int = IMAGE_SIZE) -> Tensor:
    """Inverse of :func:`pixels_to_normalized`.

    Args:
        points (Tensor): Points in normalised units (``[-1, 1]`` inside
            the crop), any shape, e.g. :math:`(B, J, 2)`.
        size (int): Side of the square crop, pixels.
            (default: :data:`IMAGE_SIZE`)

    Returns:
        Tensor: Same shape as ``points``, in crop pixels.
    """
    return (points + 1.0) * (size / 2.0)

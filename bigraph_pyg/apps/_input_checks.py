"""Checks of :func:`~bigraph_pyg.apps.predict`'s arguments, before any work.

A photo, box, focal length, crop scale, threshold, person index or device
that cannot give a meaningful body is refused with a ``ValueError`` that
names the argument, what was expected and what came; none is turned into a
prediction (a negative focal length puts the body behind the camera, a NaN
one gives a NaN translation, keypoints of another photo crop black pixels).
"""

from __future__ import annotations

import math

import numpy as np
import torch


def check_image(image: object, source: str) -> np.ndarray:
    """``image`` as an array; ``ValueError`` unless non-empty (H, W, 3) uint8.

    Args:
        image (object): The photo.
        source (str): What the photo is, for the message.

    Returns:
        np.ndarray: ``image`` as an array (not copied where it is one).

    Raises:
        ValueError: naming ``source``, the expected layout and what came.
    """
    img = np.asarray(image)
    if (
        img.ndim != 3
        or img.shape[2] != 3
        or img.dtype != np.uint8
        or 0 in img.shape
    ):
        raise ValueError(
            f"Expected a non-empty (H, W, 3) uint8 RGB image for {source} "
            f"(got {img.shape} {img.dtype})"
        )
    return img


def finite_positive(name: str, value: object, unit: str = "") -> float:
    """``value`` as a float; ``ValueError`` unless a finite number > 0.

    Args:
        name (str): The argument, for the message.
        value (object): Its value.
        unit (str): Its unit, for the message (e.g. ``"photo pixels"``).

    Returns:
        float: the number.

    Raises:
        ValueError: ``Expected `name` > 0 ... (got value)``.
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not (number > 0 and math.isfinite(number)):
        unit = f" in {unit}" if unit else ""
        raise ValueError(
            f"Expected `{name}` a finite number > 0{unit} (got {value!r})"
        )
    return number


def check_options(
    person: object,
    focal_length: object,
    crop_scale: object,
    threshold: object,
    keypoints_given: bool,
) -> None:
    """Refuse a person index, focal length, crop scale or threshold.

    Args:
        person (object): :func:`predict`'s ``person``.
        focal_length (object): ``None`` or a number.
        crop_scale (object): ``None`` or a number.
        threshold (object): A confidence threshold.
        keypoints_given (bool): ``keypoints`` were passed (one person:
            ``person`` must be ``None`` or ``0``).

    Raises:
        ValueError: naming the argument, what was expected and what came.
    """
    if person is not None and (
        isinstance(person, bool) or not isinstance(person, int) or person < 0
    ):
        raise ValueError(
            "Expected `person` None (the best person not refused) or an int "
            f">= 0, the best first (got {person!r})"
        )
    if keypoints_given and person not in (None, 0):
        raise ValueError(
            "Expected `person` 0 with `keypoints` (they are one person; "
            f"`person` chooses among detected people) (got {person})"
        )
    if focal_length is not None:
        finite_positive("focal_length", focal_length, "photo pixels")
    if crop_scale is not None:
        finite_positive("crop_scale", crop_scale)
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        t = math.nan
    if isinstance(threshold, bool) or not 0.0 <= t < 1.0:
        raise ValueError(
            f"Expected `threshold` a confidence in [0, 1) (got {threshold!r})"
        )


def check_device(device: object) -> torch.device:
    """``device`` as a :class:`torch.device` this machine has.

    Args:
        device (object): :func:`predict`'s ``device`` (a name or a
            :class:`torch.device`).

    Returns:
        torch.device: the device.

    Raises:
        ValueError: not a device name, or a CUDA/MPS device torch does not
            see.
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(
            "Expected `device` such as 'cpu', 'cuda' or 'cuda:1' (got "
            f"{device!r})"
        ) from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (dev.index or 0) >= count:
            raise ValueError(
                f"Expected `device` a device this machine has (got {device!r};"
                f" torch sees {count} CUDA GPU(s))"
            )
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(
            f"Expected `device` a device this machine has (got {device!r}; "
            "torch sees no MPS device)"
        )
    return dev


def check_box(box: object) -> np.ndarray:
    """``box`` as ``(x, y, w, h)`` float32: finite, ``w, h >= 0``, not both 0.

    Args:
        box (object): :func:`predict`'s ``box``, photo pixels.

    Returns:
        np.ndarray: ``(4,)`` float32.

    Raises:
        ValueError: naming ``box``, what was expected and what came.
    """
    try:
        arr = np.asarray(box, np.float64)
    except (TypeError, ValueError):
        arr = np.full(0, np.nan)
    if (
        arr.shape != (4,)
        or not np.isfinite(arr).all()
        or (arr[2:] < 0).any()
        or not (arr[2:] > 0).any()
    ):
        raise ValueError(
            "Expected `box` (x, y, w, h): 4 finite numbers, photo pixels, "
            f"w and h >= 0 and not both 0 (got {box!r})"
        )
    return arr.astype(np.float32)


def check_box_overlaps(
    box: np.ndarray, image_size: tuple[int, int], source: str
) -> None:
    """Refuse a person box that misses the photo.

    Args:
        box (np.ndarray): ``(x, y, w, h)`` photo pixels.
        image_size (tuple[int, int]): ``(H, W)`` of the photo.
        source (str): What the photo is, for the message.

    Raises:
        ValueError: the box does not overlap the photo.
    """
    h, w = image_size
    x, y, bw, bh = (float(v) for v in box)
    if x > w or y > h or x + bw < 0 or y + bh < 0:
        raise ValueError(
            f"Expected the person box to overlap {source}, a {w}x{h} photo "
            f"(got (x, y, w, h) = ({x:g}, {y:g}, {bw:g}, {bh:g})); "
            "keypoints or a box of another photo, or of a resized copy?"
        )


def check_in_photo(
    box: np.ndarray,
    joints: np.ndarray,
    confident: np.ndarray,
    image_size: tuple[int, int],
    source: str,
) -> None:
    """Refuse a box or keypoints that miss the photo (a black crop).

    Args:
        box (np.ndarray): ``(x, y, w, h)`` of the person, photo pixels.
        joints (np.ndarray): :math:`(12, 2)` keypoints, photo pixels.
        confident (np.ndarray): :math:`(12,)` bool, the joints used.
        image_size (tuple[int, int]): ``(H, W)`` of the photo.
        source (str): What the photo is, for the message.

    Raises:
        ValueError: the box does not overlap the photo, or no confident
            keypoint lies in it (keypoints of another, or a resized,
            photo).
    """
    h, w = image_size
    check_box_overlaps(box, image_size, source)
    pts = np.asarray(joints, np.float64)
    pts = pts[confident] if confident.any() else pts
    inside = ((pts >= 0) & (pts <= np.array([w, h]))).all(axis=1)
    if not inside.any():
        raise ValueError(
            f"Expected keypoints inside {source}, a {w}x{h} photo (got "
            f"none of {len(pts)} inside: x in [{pts[:, 0].min():g}, "
            f"{pts[:, 0].max():g}], y in [{pts[:, 1].min():g}, "
            f"{pts[:, 1].max():g}]); keypoints of another photo, or of a "
            "resized copy?"
        )

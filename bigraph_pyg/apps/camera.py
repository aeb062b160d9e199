r"""The model's square crop of the photo, and its camera in the whole photo.

:func:`crop_person` cuts the square crop the model sees around a person.
The model's weak-perspective camera ``(s, tx, ty)`` lives in that crop;
:func:`full_perspective_translation` turns it into a full-perspective
translation of the whole photo, as SPIN's ``cam_t``: with
``K = [[f, 0, W/2], [0, f, H/2], [0, 0, 1]]`` the points ``X + transl``
project where the weak camera put them (exactly at the body's depth;
elsewhere off by the body's depth range over ``transl_z``, about 1 m / 50 m
with the default focal length, :data:`SPIN_FOCAL_RATIO` times the crop
side).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "MAX_CROP_PIXELS",
    "SPIN_FOCAL_RATIO",
    "crop_person",
    "full_perspective_translation",
]

#: SPIN's focal length over crop size (5000 px for a 224 px crop): the
#: default focal length is this times the crop side in photo pixels.
SPIN_FOCAL_RATIO: float = 5000.0 / 224.0
#: Largest square :func:`crop_person` cuts before resizing (100 megapixels,
#: :data:`~bigraph_pyg.utils.images.DEFAULT_MAX_PIXELS`): a box of a few
#: million pixels would otherwise allocate gigabytes, or stop in Pillow's
#: decompression-bomb guard.
MAX_CROP_PIXELS: int = 100_000_000


def crop_person(
    image: np.ndarray, box, size: int, scale: float = 1.3
) -> tuple[np.ndarray, np.ndarray, float]:
    """Square crop around a person box, resized to ``size``.

    Args:
        image (np.ndarray): :math:`(H, W, 3)` uint8.
        box (array-like): ``(x, y, w, h)`` person box, pixels.
        size (int): Output side in pixels.
        scale (float): Crop side over the box's longer side. The model
            was trained with the body's box filling 0.7-0.9 of the crop;
            a landmark box is a little smaller than the silhouette.
            (default: ``1.3``)

    Returns:
        tuple: ``(crop (size, size, 3) uint8, origin (2,), side)``: photo
        pixel ``p`` is crop pixel ``(p - origin) * size / side``; outside
        the photo the crop is black.

    Raises:
        ValueError: a box that is not finite, negative or with no area, a
            ``scale`` that is not a finite number > 0, or a crop side over
            :data:`MAX_CROP_PIXELS` squared.
    """
    from PIL import Image

    x, y, bw, bh = (float(v) for v in box)
    if not (
        np.isfinite([x, y, bw, bh]).all()
        and bw >= 0
        and bh >= 0
        and (bw > 0 or bh > 0)
    ):
        raise ValueError(
            "Expected a box (x, y, w, h) of finite numbers with w, h >= 0 "
            f"and w or h > 0 (got {tuple(float(v) for v in box)})"
        )
    if not (float(scale) > 0 and np.isfinite(scale)):
        raise ValueError(
            f"Expected a crop scale that is a finite number > 0 (got {scale})"
        )
    center = np.array([x + bw / 2, y + bh / 2])
    side = max(max(bw, bh) * scale, 8.0)
    if side * side > MAX_CROP_PIXELS:
        raise ValueError(
            f"Expected a crop of at most {MAX_CROP_PIXELS} pixels (got a "
            f"square of side {side:.0f} from the box {bw:g}x{bh:g} times "
            f"the scale {scale:g}); is the box in photo pixels?"
        )
    origin = center - side / 2
    crop = Image.fromarray(image).crop(
        (origin[0], origin[1], origin[0] + side, origin[1] + side)
    )
    crop = crop.resize((size, size), Image.BILINEAR)
    return np.asarray(crop), origin.astype(np.float32), float(side)


def full_perspective_translation(
    camera, origin, side: float, image_size, focal_length: float
) -> np.ndarray:
    r"""A weak-perspective crop camera as a full-photo translation (SPIN).

    The weak camera maps ``X`` to crop units ``s (X_xy + t)`` in
    ``[-1, 1]``, i.e. photo pixels ``o + b/2 + (b s / 2)(X_xy + t)`` for a
    crop of side ``b`` at ``o``. A pinhole camera with focal ``f`` and
    centre ``c = (W/2, H/2)`` maps ``X + T`` to ``f (X + T)_xy / T_z + c``
    at depth ``T_z``; equal for every ``X`` at that depth iff

    .. math::
        T_z = \frac{2 f}{b s}, \qquad
        T_{xy} = t + \frac{2}{b s}\Bigl(o + \frac{b}{2} - c\Bigr)

    Args:
        camera (array-like): ``(s, tx, ty)``.
        origin (array-like): Crop origin ``(2,)``, photo pixels.
        side (float): Crop side ``b``, photo pixels.
        image_size (tuple): ``(H, W)`` of the photo.
        focal_length (float): ``f``, photo pixels.

    Returns:
        np.ndarray: ``(3,)`` float64 translation, metres.

    Example:
        >>> full_perspective_translation([0.8, 0.1, -0.2], [40., 0.], 100.,
        ...                              (100, 180), 1000.).round(4).tolist()
        [0.1, -0.2, 25.0]
    """
    s, tx, ty = (float(v) for v in camera)
    s = s if abs(s) > 1e-6 else 1e-6
    h, w = image_size
    centre = np.asarray(origin, np.float64) + side / 2.0
    shift = 2.0 * (centre - np.array([w / 2.0, h / 2.0])) / (side * s)
    return np.array(
        [tx + shift[0], ty + shift[1], 2.0 * focal_length / (side * s)]
    )

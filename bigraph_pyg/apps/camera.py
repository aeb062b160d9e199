r"""The model's square crop of the photo, and a real camera of the whole photo.

:func:`crop_person` cuts the square crop the model sees around a person.
The model's weak-perspective camera ``(s, tx, ty)`` lives in that crop.
The camera written for the whole photo is a pinhole
``K = [[f, 0, W/2], [0, f, H/2], [0, 0, 1]]`` whose focal length, without
EXIF, is the photo's diagonal in pixels (:func:`default_focal_length`: a
53-degree diagonal field of view, a "normal" lens); the body is then placed
at the metric distance at which its size in metres covers its size in
pixels (:func:`solve_translation`, a linear least-squares fit of the
translation to 2D points), a few metres for a person who fills the photo.

:func:`full_perspective_translation` is the closed form that puts a body at
the depth the weak camera's scale implies (SPIN's ``cam_t``); with SPIN's
focal length (:data:`SPIN_FOCAL_RATIO` times the crop side, 5000 px for a
224 px crop) it puts a person 39-60 m away, a surrogate for weak
perspective rather than a camera, which is why it is no longer the default.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "MAX_CROP_PIXELS",
    "MIN_DEPTH",
    "SPIN_FOCAL_RATIO",
    "crop_person",
    "default_focal_length",
    "full_perspective_translation",
    "perspective_translation",
    "solve_translation",
]

#: SPIN's focal length over crop size (5000 px for a 224 px crop), a
#: weak-perspective surrogate (the body 39-60 m away); not the default.
SPIN_FOCAL_RATIO: float = 5000.0 / 224.0
#: Largest square :func:`crop_person` cuts before resizing (100 megapixels,
#: :data:`~bigraph_pyg.utils.images.DEFAULT_MAX_PIXELS`): a box of a few
#: million pixels would otherwise allocate gigabytes, or stop in Pillow's
#: decompression-bomb guard.
MAX_CROP_PIXELS: int = 100_000_000
#: The nearest a body's vertex may come to the camera's plane, metres: a
#: translation putting any vertex at depth <= this is "behind the camera".
MIN_DEPTH: float = 0.05


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


def default_focal_length(image_size) -> float:
    r"""The focal length of a photo without calibration: its diagonal.

    .. math::
        f = \sqrt{W^2 + H^2}

    a diagonal field of view of :math:`2 \arctan(1/2) = 53.1°` (a 43 mm
    lens on a full-frame camera, the "normal" lens), the assumption CLIFF
    (Li et al., ECCV 2022) makes for photos without EXIF. A phone's main
    camera is wider (about 26 mm, 80°), a portrait lens narrower; a wrong
    ``f`` mostly moves the body along the optical axis (the distance
    scales with ``f``), hardly its pose or its outline in the photo.

    Args:
        image_size (tuple): ``(H, W)`` of the photo, pixels.

    Returns:
        float: ``f`` in pixels.

    Raises:
        ValueError: ``image_size`` is not two finite numbers > 0.

    Example:
        >>> default_focal_length((480, 640))
        800.0
    """
    try:
        h, w = (float(v) for v in image_size)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"Expected image_size (H, W) (got {image_size!r})"
        ) from err
    if not (np.isfinite([h, w]).all() and h > 0 and w > 0):
        raise ValueError(
            f"Expected image_size (H, W) of finite numbers > 0 (got {(h, w)})"
        )
    return float(np.hypot(h, w))


def _translation_inputs(points, pixels, focal_length, center, weights):
    """:func:`solve_translation`'s arguments as float64 arrays, checked."""
    x = np.asarray(points, np.float64)
    u = np.asarray(pixels, np.float64)
    c = np.asarray(center, np.float64)
    f = float(focal_length)
    if x.ndim != 2 or x.shape[1] != 3 or u.shape != (len(x), 2):
        raise ValueError(
            f"Expected points (N, 3) and pixels (N, 2) (got {x.shape} and "
            f"{u.shape})"
        )
    w = np.ones(len(x)) if weights is None else np.asarray(weights, float)
    if w.shape != (len(x),) or c.shape != (2,):
        raise ValueError(
            f"Expected weights ({len(x)},) and center (2,) (got "
            f"{w.shape} and {c.shape})"
        )
    if not (
        np.isfinite(x).all()
        and np.isfinite(u).all()
        and np.isfinite(w).all()
        and np.isfinite(c).all()
    ):
        raise ValueError("Expected finite points, pixels, weights and centre")
    if not (np.isfinite(f) and f > 0):
        raise ValueError(f"Expected a focal length > 0 (got {focal_length})")
    if (w < 0).any() or (w > 0).sum() < 2:
        raise ValueError(
            "Expected weights >= 0 with at least 2 points of positive "
            f"weight (got {int((w > 0).sum())} of {len(w)})"
        )
    return x, u, c, w, f


def solve_translation(
    points, pixels, focal_length: float, camera_center, weights=None
) -> np.ndarray:
    r"""The translation that best projects 3D points onto 2D ones (pinhole).

    A point :math:`\mathbf{X}` projects to :math:`f (X + T_x) / (Z + T_z)
    + c_x` (and likewise in ``y``). Multiplying by the depth makes each
    coordinate a linear equation in :math:`\mathbf{T}`,

    .. math::
        f\,T_x - (u - c_x)\,T_z = (u - c_x)\,Z - f X,

    solved in the weighted least-squares sense (SPIN's
    ``estimate_translation``; the residual is the reprojection error times
    the depth, so nearly the reprojection error for a body whose depth
    range is small against its distance).

    Args:
        points (array-like): :math:`(N, 3)` model-frame points, metres
            (OpenCV axes: ``x`` right, ``y`` down, ``z`` forward).
        pixels (array-like): :math:`(N, 2)` their targets, photo pixels.
        focal_length (float): ``f``, pixels.
        camera_center (array-like): ``(cx, cy)``, pixels.
        weights (array-like, optional): :math:`(N,)` non-negative
            (e.g. detector confidences). (default: all ``1``)

    Returns:
        np.ndarray: ``(3,)`` float64 translation, metres.

    Raises:
        ValueError: mismatched shapes, values that are not finite,
            negative weights, a focal length that is not > 0, or fewer than
            two points of positive weight (the translation is then not
            determined).

    Example:
        A 1.7 m body 400 px tall with ``f = 800`` px stands 3.4 m away:

        >>> X = np.array([[0., -0.85, 0.], [0., 0.85, 0.]])
        >>> u = np.array([[320., 40.], [320., 440.]])
        >>> solve_translation(X, u, 800., (320., 240.)).round(3).tolist()
        [0.0, 0.0, 3.4]
    """
    x, u, c, w, f = _translation_inputs(
        points, pixels, focal_length, camera_center, weights
    )
    d = u - c  # (N, 2)
    n = len(x)
    a = np.zeros((2 * n, 3))
    a[0::2, 0] = f
    a[1::2, 1] = f
    a[0::2, 2] = -d[:, 0]
    a[1::2, 2] = -d[:, 1]
    b = np.empty(2 * n)
    b[0::2] = d[:, 0] * x[:, 2] - f * x[:, 0]
    b[1::2] = d[:, 1] * x[:, 2] - f * x[:, 1]
    sw = np.sqrt(np.repeat(w, 2))
    sol, *_ = np.linalg.lstsq(a * sw[:, None], b * sw, rcond=None)
    return sol


def perspective_translation(
    points, camera, origin, side: float, image_size, focal_length: float
) -> np.ndarray:
    r"""Where a pinhole puts a body so that it looks as the weak camera drew it.

    The weak camera ``(s, tx, ty)`` of a crop of side ``b`` at ``o`` draws
    a model-frame point at photo pixel ``o + b/2 + (b s / 2)(X_xy + t)``;
    this is the translation with which the pinhole of ``focal_length`` and
    the photo's centre projects ``points`` closest to those pixels
    (:func:`solve_translation`). The depth follows from the body's size
    in metres and in pixels, a few metres for a person filling a photo at
    the default focal length. Where that is not determined (fewer than two
    distinct points, or a solution behind the camera), the closed form of
    :func:`full_perspective_translation`, exact at the body's mean depth.

    Args:
        points (array-like): :math:`(N, 3)` model-frame points (e.g. the
            network's joints), metres.
        camera (array-like): ``(s, tx, ty)``.
        origin (array-like): Crop origin ``(2,)``, photo pixels.
        side (float): Crop side ``b``, photo pixels.
        image_size (tuple): ``(H, W)`` of the photo.
        focal_length (float): ``f``, photo pixels.

    Returns:
        np.ndarray: ``(3,)`` float64 translation, metres.
    """
    closed = full_perspective_translation(
        camera, origin, side, image_size, focal_length
    )
    x = np.asarray(points, np.float64)
    s, tx, ty = (float(v) for v in camera)
    o = np.asarray(origin, np.float64)
    px = o + side / 2.0 + side * s / 2.0 * (x[:, :2] + np.array([tx, ty]))
    h, w = image_size
    try:
        t = solve_translation(x, px, focal_length, (w / 2.0, h / 2.0))
    except ValueError:
        return closed
    if not (np.isfinite(t).all() and t[2] + x[:, 2].min() > MIN_DEPTH):
        return closed
    return t

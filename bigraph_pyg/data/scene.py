"""Random appearance of a synthetic sample: clothing, light, background.

Pure functions of a :class:`numpy.random.Generator`, used by
:mod:`bigraph_pyg.data.synthetic`. Clothing is a colour per garment region
(top, bottom, shoes, skin, hair), each vertex's region decided by its
dominant skinning joint (:data:`JOINT_GARMENT`; :func:`garment_regions`,
once per body) and the drawn sleeve and leg lengths. Backgrounds are a
solid colour (with a gradient), smooth multi-octave noise, or a random crop
of one of the photographs that scikit-image ships (:data:`PHOTO_NAMES`).
"""

from __future__ import annotations

import numpy as np

from bigraph_pyg.topology import SMPL_JOINT_NAMES

__all__ = [
    "BACKGROUND_KINDS",
    "JOINT_GARMENT",
    "PHOTO_NAMES",
    "garment_colors",
    "garment_regions",
    "load_photos",
    "random_background",
    "random_light",
]

#: Background kinds, in code order (stored per sample as an index).
BACKGROUND_KINDS: tuple[str, ...] = ("solid", "noise", "photo")

#: scikit-image sample images used as backgrounds (no person in them;
#: ``astronaut`` is left out for that reason). Those that need a download
#: are never used.
PHOTO_NAMES: tuple[str, ...] = (
    "brick",
    "camera",
    "cat",
    "clock",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "page",
    "rocket",
    "text",
)

#: Garment region of each SMPL joint's skinning region. ``sleeve_*`` and
#: ``leg_*`` regions take the top / bottom colour or skin depending on the
#: drawn sleeve and leg lengths.
JOINT_GARMENT: dict[str, str] = {
    "pelvis": "bottom",
    "left_hip": "bottom",
    "right_hip": "bottom",
    "spine1": "top",
    "spine2": "top",
    "spine3": "top",
    "left_collar": "top",
    "right_collar": "top",
    "left_knee": "leg_lower",
    "right_knee": "leg_lower",
    "left_ankle": "shoes",
    "right_ankle": "shoes",
    "left_foot": "shoes",
    "right_foot": "shoes",
    "neck": "skin",
    "head": "head",
    "left_shoulder": "sleeve_upper",
    "right_shoulder": "sleeve_upper",
    "left_elbow": "sleeve_lower",
    "right_elbow": "sleeve_lower",
    "left_wrist": "skin",
    "right_wrist": "skin",
    "left_hand": "skin",
    "right_hand": "skin",
}

_SKIN_TONES = np.array(
    [
        [0.98, 0.84, 0.73],
        [0.93, 0.75, 0.62],
        [0.85, 0.64, 0.49],
        [0.72, 0.52, 0.38],
        [0.55, 0.38, 0.26],
        [0.38, 0.26, 0.18],
    ]
)
_HAIR = np.array(
    [
        [0.05, 0.04, 0.03],
        [0.20, 0.13, 0.07],
        [0.42, 0.28, 0.15],
        [0.75, 0.62, 0.40],
        [0.55, 0.55, 0.55],
    ]
)


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    i = int(h * 6.0) % 6
    f = h * 6.0 - int(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    return np.array(
        [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    )


def garment_regions(
    skinning_weights: np.ndarray,
    template_vertices: np.ndarray,
    head_joint: np.ndarray,
) -> dict[str, np.ndarray]:
    """Vertex masks of the garment regions (:data:`JOINT_GARMENT`), hair.

    A vertex belongs to the region of its dominant skinning joint. The hair
    is the part of the ``head`` region above the head joint + 4 cm, plus
    the back of the head (above the joint - 2 cm and 3 cm behind it).

    Args:
        skinning_weights (np.ndarray): :math:`(V, 24)` SMPL-order weights.
        template_vertices (np.ndarray): :math:`(V, 3)` T-pose vertices,
            metres (``y`` up, ``z`` forward).
        head_joint (np.ndarray): :math:`(3,)` the template's head joint.

    Returns:
        dict[str, np.ndarray]: Boolean masks :math:`(V,)` for ``top,
        bottom, shoes, skin, sleeve_upper, sleeve_lower, leg_lower, head,
        hair`` (the regions :func:`garment_colors` takes).
    """
    dominant = skinning_weights.argmax(axis=1)
    regions = {}
    for name in (
        "top",
        "bottom",
        "shoes",
        "skin",
        "sleeve_upper",
        "sleeve_lower",
        "leg_lower",
        "head",
    ):
        joints = [
            SMPL_JOINT_NAMES.index(j)
            for j, g in JOINT_GARMENT.items()
            if g == name
        ]
        regions[name] = np.isin(dominant, joints)
    tv, head_y = template_vertices, head_joint
    # Hair: the head's skin above the head joint + 4 cm, and the back.
    regions["hair"] = regions["head"] & (
        (tv[:, 1] > head_y[1] + 0.04)
        | ((tv[:, 1] > head_y[1] - 0.02) & (tv[:, 2] < head_y[2] - 0.03))
    )
    return regions


def garment_colors(
    rng: np.random.Generator,
    regions: dict[str, np.ndarray],
    num_vertices: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Albedo of every vertex: random clothing, skin and hair colours.

    Also says which vertices the clothes cover, so that loose clothes can
    widen the rendered silhouette there (the generator's
    ``clothing_range``).

    Args:
        rng (np.random.Generator): Source of randomness.
        regions (dict[str, np.ndarray]): Boolean vertex masks
            ``(V,)`` for ``top, bottom, shoes, skin, sleeve_upper,
            sleeve_lower, leg_lower, head, hair``.
        num_vertices (int): ``V``.

    Returns:
        tuple: albedo :math:`(V, 3)` float32 in ``[0, 1]``, and the layer
        of each vertex :math:`(V,)` int64: ``0`` skin, hair or shoes,
        ``1`` the top (with its sleeves), ``2`` the bottom (with its legs).
    """
    skin = _SKIN_TONES[rng.integers(len(_SKIN_TONES))] * rng.uniform(
        0.92, 1.05, 3
    )
    top = _hsv_to_rgb(
        rng.random(), rng.uniform(0.05, 0.9), rng.uniform(0.15, 0.95)
    )
    bottom = _hsv_to_rgb(
        rng.random(), rng.uniform(0.05, 0.7), rng.uniform(0.1, 0.8)
    )
    shoes = _hsv_to_rgb(
        rng.random(), rng.uniform(0.0, 0.6), rng.uniform(0.05, 0.9)
    )
    hair = _HAIR[rng.integers(len(_HAIR))] * rng.uniform(0.85, 1.15, 3)
    sleeves = rng.choice(3, p=[0.25, 0.35, 0.4])  # none, short, long
    legs = rng.choice(2, p=[0.3, 0.7])  # shorts, long
    has_hair = rng.random() < 0.85
    col = np.tile(skin, (num_vertices, 1))
    layer = np.zeros(num_vertices, np.int64)
    covered = [("top", 1), ("bottom", 2)]
    if sleeves >= 1:
        covered.append(("sleeve_upper", 1))
    if sleeves == 2:
        covered.append(("sleeve_lower", 1))
    if legs == 1:
        covered.append(("leg_lower", 2))
    for region, garment in covered:
        col[regions[region]] = top if garment == 1 else bottom
        layer[regions[region]] = garment
    col[regions["shoes"]] = shoes
    if has_hair:
        col[regions["hair"]] = hair
    col = col * (1.0 + 0.04 * rng.standard_normal((num_vertices, 1)))
    return np.clip(col, 0.0, 1.0).astype(np.float32), layer


def random_light(rng: np.random.Generator) -> dict:
    """A random directional light (camera frame) and ambient level.

    Args:
        rng (np.random.Generator): Source of randomness.

    Returns:
        dict: ``light_dir`` :math:`(3,)` unit vector towards the light
        (from the camera side, mostly from above), ``ambient``,
        ``diffuse``, ``light_color`` :math:`(3,)`.
    """
    d = np.array(
        [rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 0.3), -rng.uniform(0.2, 1.0)]
    )
    return {
        "light_dir": (d / np.linalg.norm(d)).astype(np.float32),
        "ambient": float(rng.uniform(0.25, 0.55)),
        "diffuse": float(rng.uniform(0.45, 0.85)),
        "light_color": rng.uniform(0.9, 1.1, 3).astype(np.float32),
    }


def load_photos(names: tuple[str, ...] = PHOTO_NAMES) -> list[np.ndarray]:
    """Load scikit-image's sample photographs as RGB uint8.

    Args:
        names (tuple[str, ...]): ``skimage.data`` function names.

    Returns:
        list[np.ndarray]: :math:`(H, W, 3)` uint8 images, in ``names`` order.

    Raises:
        ImportError: scikit-image missing.
        ValueError: an image that cannot be loaded without a download.
    """
    try:
        import skimage.data
    except ImportError as err:  # pragma: no cover - dependency
        raise ImportError(
            "Expected scikit-image for photo backgrounds (got ImportError: "
            f"{err}); pip install scikit-image"
        ) from err
    out = []
    for name in names:
        try:
            img = np.asarray(getattr(skimage.data, name)())
        except Exception as err:
            raise ValueError(
                f"Expected skimage.data.{name}() to load offline (got "
                f"{type(err).__name__}: {err})"
            ) from err
        if img.dtype != np.uint8:
            img = (
                (np.clip(img.astype(np.float64), 0, 1) * 255).astype(np.uint8)
                if img.dtype.kind == "f"
                else (img.astype(np.uint8) * 255)
            )
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        out.append(np.ascontiguousarray(img[..., :3]))
    return out


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(img).resize((size, size), Image.BILINEAR))


def random_background(
    rng: np.random.Generator,
    size: int,
    photos: list[np.ndarray],
    weights: tuple[float, float, float] = (0.2, 0.3, 0.5),
) -> tuple[np.ndarray, int]:
    """A random ``size``² RGB background.

    Args:
        rng (np.random.Generator): Source of randomness.
        size (int): Side, pixels.
        photos (list[np.ndarray]): From :func:`load_photos` (may be empty:
            the photo share goes to noise).
        weights (tuple): Probabilities of :data:`BACKGROUND_KINDS`.

    Returns:
        tuple: :math:`(size, size, 3)` uint8 image and the kind's index.
    """
    w = np.asarray(weights, np.float64)
    if not photos:
        w = np.array([w[0], w[1] + w[2], 0.0])
    kind = int(rng.choice(3, p=w / w.sum()))
    if kind == 0:
        a = rng.uniform(0, 255, 3)
        b = a + rng.uniform(-60, 60, 3)
        t = np.linspace(0.0, 1.0, size)[:, None, None]
        img = a * (1 - t) + b * t
        img = np.broadcast_to(img, (size, size, 3))
        if rng.random() < 0.5:
            img = img.transpose(1, 0, 2)
    elif kind == 1:
        img = np.zeros((size, size, 3))
        amp = 1.0
        for k in (3, 8, 24):
            cells = (rng.random((k, k, 3)) * 255).astype(np.uint8)
            img += amp * _resize(cells, size).astype(np.float64)
            amp *= 0.5
        img = img / 1.75
        grey = img.mean(axis=2, keepdims=True)
        sat = rng.uniform(0.0, 0.6)
        img = grey + sat * (img - grey)
        img = (img - 128.0) * rng.uniform(0.5, 1.5) + rng.uniform(60, 200, 3)
    else:
        photo = photos[int(rng.integers(len(photos)))]
        h, w_ = photo.shape[:2]
        side = int(min(h, w_) * rng.uniform(0.35, 1.0))
        y0 = int(rng.integers(h - side + 1))
        x0 = int(rng.integers(w_ - side + 1))
        crop = photo[y0 : y0 + side, x0 : x0 + side]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        img = _resize(np.ascontiguousarray(crop), size).astype(np.float64)
        img = img * rng.uniform(0.7, 1.2, 3)
    return np.clip(img, 0, 255).astype(np.uint8), kind

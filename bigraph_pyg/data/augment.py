r"""Crop and augmentation as GraphCMR's data pipeline, with one affine map.

GraphCMR (``nkolot/GraphCMR: datasets/base_dataset.py``) crops a square box
of side ``200 * scale`` around ``center`` to 224², and augments with a
horizontal flip (left/right joints swapped in 2D, 3D and the SMPL pose), an
in-plane rotation, a scale jitter and a per-channel colour gain, then
normalises with ImageNet statistics. Here one 2×3 affine map from source
pixels to crop pixels (pixel centres at integers) warps the image **and**
the 2D points, so they agree exactly; the 3D quantities get the matching
3×3 map :math:`\mathbf{M}` (rotation about the optical axis, mirror
``x -> -x``) and the pinhole intrinsics :math:`\mathbf{K}` the map that keeps
:math:`\mathrm{proj}(\mathbf{K}', \mathbf{M}\mathbf{X}) =
\mathbf{A}(\mathrm{proj}(\mathbf{K}, \mathbf{X}))`.

Sign convention: ``rot`` (degrees) turns the image content
counter-clockwise as displayed; the flip is applied after the rotation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bigraph_pyg.data.render import PART_NAMES
from bigraph_pyg.topology import SMPL_JOINT_NAMES

__all__ = [
    "PART_FLIP",
    "SMPL_FLIP_PERM",
    "AugmentConfig",
    "AugmentParams",
    "EpochSeeded",
    "crop_matrix",
    "flip_pose",
    "sample_augment",
    "transform_intrinsics",
    "transform_points_2d",
    "transform_pose",
    "warp_image",
]


def _mirror(name: str) -> str:
    if name.startswith("left_"):
        return "right_" + name[5:]
    if name.startswith("right_"):
        return "left_" + name[6:]
    return name


#: ``x[..., SMPL_FLIP_PERM, :]`` swaps SMPL's left and right joints.
SMPL_FLIP_PERM: tuple[int, ...] = tuple(
    SMPL_JOINT_NAMES.index(_mirror(n)) for n in SMPL_JOINT_NAMES
)
#: ``PART_FLIP[label]``: the label of the mirrored part.
PART_FLIP: tuple[int, ...] = tuple(
    PART_NAMES.index(_mirror(n)) for n in PART_NAMES
)


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation ranges (GraphCMR's defaults).

    Attributes:
        flip_prob (float): Probability of a horizontal flip. (``0.5``)
        rot_factor (float): Rotation std, degrees, clipped to ``±2``
            std. (``30``)
        rot_prob (float): Probability of any rotation (GraphCMR: 0.4).
        scale_factor (float): Scale std, clipped to ``1 ± scale_factor``.
            (``0.25``)
        noise_factor (float): Colour gain drawn in ``1 ± noise_factor``
            per channel. (``0.4``)
    """

    flip_prob: float = 0.5
    rot_factor: float = 30.0
    rot_prob: float = 0.4
    scale_factor: float = 0.25
    noise_factor: float = 0.4


@dataclass(frozen=True)
class AugmentParams:
    """One draw of the augmentation.

    Attributes:
        flip (bool): Mirror horizontally.
        rot (float): Degrees, counter-clockwise.
        scale (float): Multiplies the box size (``> 1`` zooms out).
        gain (tuple[float, float, float]): Per-channel colour gain.
    """

    flip: bool = False
    rot: float = 0.0
    scale: float = 1.0
    gain: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def matrix_3d(self) -> np.ndarray:
        r"""The 3D map :math:`\\mathbf{M}` (3, 3) in the camera frame."""
        a = np.radians(self.rot)
        c, s = np.cos(a), np.sin(a)
        m = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
        if self.flip:
            m = np.diag([-1.0, 1.0, 1.0]) @ m
        return m


class EpochSeeded:
    """Per-epoch, per-sample randomness for a dataset's augmentation.

    :meth:`sample_rng` is ``np.random.default_rng([seed, epoch, index])``:
    a sample is augmented anew every epoch, identically whatever the number
    of DataLoader workers, and a resumed run redraws exactly what the
    uninterrupted run drew. The trainer calls :meth:`set_epoch` before each
    epoch (as for PyTorch's ``DistributedSampler``); a dataset that is never
    told keeps epoch 0.
    """

    seed: int = 0
    epoch: int = 0

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch``'s draws from now on."""
        if isinstance(epoch, bool) or int(epoch) != epoch or epoch < 0:
            raise ValueError(
                f"Expected a non-negative integer epoch (got {epoch!r})"
            )
        self.epoch = int(epoch)

    def sample_rng(self, index: int) -> np.random.Generator:
        """The generator for sample ``index`` in the current epoch."""
        return np.random.default_rng([int(self.seed), self.epoch, int(index)])


def sample_augment(
    rng: np.random.Generator, config: AugmentConfig | None = None
) -> AugmentParams:
    """Draw augmentation parameters as GraphCMR's ``augm_params``.

    Args:
        rng (np.random.Generator): Source of randomness.
        config (AugmentConfig, optional): Ranges.

    Returns:
        AugmentParams: the draw.
    """
    cfg = config or AugmentConfig()
    flip = bool(rng.random() < cfg.flip_prob)
    gain = rng.uniform(1 - cfg.noise_factor, 1 + cfg.noise_factor, 3)
    rot = float(
        np.clip(
            rng.standard_normal() * cfg.rot_factor,
            -2 * cfg.rot_factor,
            2 * cfg.rot_factor,
        )
    )
    if rng.random() >= cfg.rot_prob:
        rot = 0.0
    sc = float(
        np.clip(
            rng.standard_normal() * cfg.scale_factor + 1,
            1 - cfg.scale_factor,
            1 + cfg.scale_factor,
        )
    )
    return AugmentParams(flip, rot, sc, tuple(float(g) for g in gain))


def crop_matrix(
    center: np.ndarray,
    box_size: float,
    res: int,
    rot: float = 0.0,
    flip: bool = False,
) -> np.ndarray:
    """Affine map from source pixels to crop pixels (centres at integers).

    The box of side ``box_size`` centred on ``center`` fills the ``res``²
    crop; the content turns by ``rot`` degrees counter-clockwise about the
    crop centre, then is mirrored if ``flip``.

    Args:
        center (np.ndarray): :math:`(2,)` box centre, source pixels.
        box_size (float): Box side, source pixels (GraphCMR:
            ``200 * scale``).
        res (int): Crop side, pixels.
        rot (float): Degrees. (default: ``0``)
        flip (bool): Mirror. (default: :obj:`False`)

    Returns:
        np.ndarray: :math:`(2, 3)` float64 ``A`` with ``q = A @ [p, 1]``.
    """
    a = np.radians(rot)
    c, s = np.cos(a), np.sin(a)
    lin = np.array([[c, s], [-s, c]]) * (res / float(box_size))
    if flip:
        lin = np.diag([-1.0, 1.0]) @ lin
    mid = (res - 1) / 2.0
    t = np.array([mid, mid]) - lin @ np.asarray(center, np.float64)
    return np.concatenate([lin, t[:, None]], axis=1)


def transform_points_2d(points: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Apply a 2×3 affine map to :math:`(N, 2)` points.

    Args:
        points (np.ndarray): :math:`(N, 2)` points, source pixels.
        A (np.ndarray): :math:`(2, 3)` affine map, e.g. from
            :func:`crop_matrix`.

    Returns:
        np.ndarray: :math:`(N, 2)` float64 ``A @ [p, 1]`` per point (crop
        pixels for a :func:`crop_matrix` map).
    """
    p = np.asarray(points, np.float64)
    return p @ A[:, :2].T + A[:, 2]


def transform_intrinsics(K: np.ndarray, A: np.ndarray) -> np.ndarray:
    r"""Intrinsics after warping the image by a similarity ``A``.

    With :math:`\mathbf{A} = [s\,\mathbf{M}_{2} \mid \mathbf{b}]` and the
    3D points mapped by :math:`\mathbf{M}`, :math:`f' = s f` and
    :math:`\mathbf{c}' = \mathbf{A}\,[\mathbf{c}, 1]`.

    Args:
        K (np.ndarray): :math:`(3, 3)` with ``fx == fy``, no skew.
        A (np.ndarray): :math:`(2, 3)` from :func:`crop_matrix`.

    Returns:
        np.ndarray: :math:`(3, 3)` float64.
    """
    s = float(np.sqrt(abs(np.linalg.det(A[:, :2]))))
    out = np.eye(3)
    out[0, 0] = K[0, 0] * s
    out[1, 1] = K[1, 1] * s
    out[:2, 2] = A[:, :2] @ K[:2, 2] + A[:, 2]
    return out


def flip_pose(pose: np.ndarray) -> np.ndarray:
    """Mirror a SMPL pose: swap left/right joints, negate ``y`` and ``z``.

    Args:
        pose (np.ndarray): :math:`(72,)` axis-angle.

    Returns:
        np.ndarray: :math:`(72,)`; flipping twice is the identity.
    """
    p = np.asarray(pose).reshape(24, 3)[list(SMPL_FLIP_PERM)].copy()
    p[:, 1:] *= -1
    return p.reshape(-1)


def transform_pose(pose: np.ndarray, params: AugmentParams) -> np.ndarray:
    """Rotate the global orientation about the optical axis, then flip.

    Args:
        pose (np.ndarray): :math:`(72,)` axis-angle, camera-frame root.
        params (AugmentParams): The augmentation.

    Returns:
        np.ndarray: :math:`(72,)` float32.
    """
    import torch

    from bigraph_pyg.geometry import axis_angle_to_matrix, matrix_to_axis_angle

    out = np.asarray(pose, np.float64).copy()
    if params.rot != 0.0:
        a = np.radians(params.rot)
        c, s = np.cos(a), np.sin(a)
        rz = torch.tensor(
            [[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64
        )
        g = axis_angle_to_matrix(torch.from_numpy(out[:3]))
        out[:3] = matrix_to_axis_angle(rz @ g).numpy()
    if params.flip:
        out = flip_pose(out)
    return out.astype(np.float32)


def warp_image(
    image: np.ndarray,
    A: np.ndarray,
    res: int,
    nearest: bool = False,
    fill: int = 0,
) -> np.ndarray:
    """Warp an image into the crop with the map ``A``.

    Args:
        image (np.ndarray): :math:`(H, W, 3)` or :math:`(H, W)` uint8.
        A (np.ndarray): :math:`(2, 3)` source-to-crop map.
        res (int): Crop side.
        nearest (bool): Nearest-neighbour (labels) instead of bilinear.
        fill (int): Value outside the source. (default: ``0``)

    Returns:
        np.ndarray: :math:`(res, res[, 3])` uint8.
    """
    from PIL import Image

    inv = np.linalg.inv(np.vstack([A, [0.0, 0.0, 1.0]]))[:2]
    # PIL samples at pixel centres (i + 0.5): shift both sides by 0.5.
    lin, t = inv[:, :2], inv[:, 2]
    t_pil = t + 0.5 - lin @ np.array([0.5, 0.5])
    coeffs = (lin[0, 0], lin[0, 1], t_pil[0], lin[1, 0], lin[1, 1], t_pil[1])
    img = Image.fromarray(np.ascontiguousarray(image))
    resample = Image.NEAREST if nearest else Image.BILINEAR
    fillcolor = fill if img.mode == "L" else (fill,) * len(img.getbands())
    out = img.transform(
        (res, res), Image.AFFINE, coeffs, resample=resample, fillcolor=fillcolor
    )
    return np.array(out)

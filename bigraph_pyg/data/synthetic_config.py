r"""What synthetic generation is parameterised by, and what it stores.

:class:`SyntheticConfig` holds every generation parameter (all written to
a cache's ``meta.json``); :data:`SPLITS` names the splits and the stream id
each mixes into a sample's seed; :data:`ARRAY_KEYS` lists the per-sample
arrays of a shard. :mod:`bigraph_pyg.data.generator` draws and renders the
samples, :mod:`bigraph_pyg.data.synthetic_cache` writes and reads the cache.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from bigraph_pyg.data.noise import JointNoise
from bigraph_pyg.data.pose_families import (
    HELD_OUT_ACTIVITIES,
    training_activities,
)

__all__ = [
    "ARRAY_KEYS",
    "SPLITS",
    "SyntheticConfig",
    "check_split",
]

#: Split names and the stream id mixed into every sample's seed. ``heldout``
#: is the held-out-family test split: its poses come from
#: :data:`~bigraph_pyg.data.pose_families.HELD_OUT_ACTIVITIES`, which no
#: other split draws.
SPLITS: dict[str, int] = {"train": 0, "val": 1, "test": 2, "heldout": 3}

#: Per-sample arrays stored in each shard (besides ``index``).
ARRAY_KEYS = (
    "betas",
    "pose",
    "transl",
    "camera_K",
    "camera_weak",
    "joints_2d",
    "joints_3d",
    "joints24_2d",
    "joints24_3d",
    "joints_2d_est",
    "joints_2d_est_visible",
    "joints_2d_visible",
    "activity",
    "background",
)


@dataclass(frozen=True)
class SyntheticConfig:
    """Generation parameters (all stored in ``meta.json``).

    Attributes:
        image_size (int): Crop side, pixels. (default: ``224``)
        shard_size (int): Samples per shard file. (default: ``64``)
        beta_std (float): Std of the shape coefficients (the default
            body's 10 PCA directions of 256 adult phenotypes have unit
            RMS: 1.25 reaches past them, heavier, lighter, taller and
            shorter). (default: ``1.25``)
        beta_clip (float): Clip of the shape coefficients. (default: ``3``)
        activity_weights (dict, optional): Probability of each training
            activity (see
            :func:`~bigraph_pyg.data.pose_families.training_activities`);
            :obj:`None` for uniform. The ``heldout`` split draws the
            held-out activities uniformly.
        recombine (float): Per-limb probability of a family drawn from all
            training families of that limb (training splits only).
            (default: ``0.5``)
        partial_prob (float): Probability of a partial view: the crop cuts
            the legs, or one side, out of the frame; the joints out of it
            are flagged not visible (``joints_2d_visible`` and the
            estimates). (default: ``0.15``)
        clothing_range (tuple): Looseness of the clothes, metres: the
            rendered top and bottom stand off the body along its normals
            by a uniform draw in this range (the ground truth stays the
            body). (default: ``(0, 0.03)``)
        depth_range (tuple): Pelvis depth, metres (log-uniform).
            (default: ``(2.5, 8.0)``)
        off_axis (float): Lateral pelvis offset, fraction of the depth
            (uniform in ``±off_axis``). (default: ``0.2``)
        fill_range (tuple): Person's box side / crop side.
            (default: ``(0.7, 0.9)``, GraphCMR's 1.2 margin ≈ 0.83)
        center_jitter (float): Box-centre jitter std, fraction of the crop.
            (default: ``0.04``)
        background_weights (tuple): Probability of solid, noise, photo.
        pixel_noise (float): Max std of additive sensor noise (0-255).
        jpeg_quality (int): JPEG quality of the stored images. (``92``)
        joint_noise (JointNoise): Model of the estimated 2D joints.
    """

    image_size: int = 224
    shard_size: int = 64
    beta_std: float = 1.25
    beta_clip: float = 3.0
    activity_weights: dict | None = None
    recombine: float = 0.5
    partial_prob: float = 0.15
    clothing_range: tuple[float, float] = (0.0, 0.03)
    depth_range: tuple[float, float] = (2.5, 8.0)
    off_axis: float = 0.2
    fill_range: tuple[float, float] = (0.7, 0.9)
    center_jitter: float = 0.04
    background_weights: tuple[float, float, float] = (0.2, 0.3, 0.5)
    pixel_noise: float = 4.0
    jpeg_quality: int = 92
    joint_noise: JointNoise = field(default_factory=JointNoise)

    def __post_init__(self):
        for name, low, high in (
            ("image_size", 16, 4096),
            ("shard_size", 1, 100_000),
            ("jpeg_quality", 1, 100),
        ):
            _check_int(name, getattr(self, name), low, high)
        for name, low, high in (
            ("beta_std", 0.0, 10.0),
            ("beta_clip", 0.0, 10.0),
            ("recombine", 0.0, 1.0),
            ("partial_prob", 0.0, 1.0),
            ("off_axis", 0.0, 1.0),
            ("center_jitter", 0.0, 0.5),
            ("pixel_noise", 0.0, 255.0),
        ):
            _check_number(name, getattr(self, name), low, high)
        for name, low, high, unit in (
            ("depth_range", 0.5, 1000.0, " metres"),
            ("fill_range", 0.05, 2.0, " of the crop"),
            ("clothing_range", 0.0, 0.1, " metres"),
        ):
            _check_interval(name, getattr(self, name), low, high, unit)
        _check_weights("background_weights", self.background_weights, 3)
        allowed = training_activities()
        if self.activity_weights is not None:
            if set(self.activity_weights) - set(allowed):
                raise ValueError(
                    f"Expected activity_weights over the training activities "
                    f"{list(allowed)} (got {sorted(self.activity_weights)}; "
                    f"{list(HELD_OUT_ACTIVITIES)} are held out)"
                )
            _check_weights(
                "activity_weights",
                tuple(self.activity_weights.values()),
                len(self.activity_weights),
            )
        if not isinstance(self.joint_noise, JointNoise):
            raise ValueError(
                "Expected joint_noise a JointNoise (got "
                f"{type(self.joint_noise).__name__})"
            )

    def to_json(self) -> dict:
        """Plain-JSON form (tuples become lists)."""
        out = asdict(self)
        out["joint_noise"] = self.joint_noise.to_json()
        return json.loads(json.dumps(out))


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_int(name: str, value, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(
            f"Expected {name} an integer in [{low}, {high}] (got "
            f"{value!r} of type {type(value).__name__})"
        )
    if not low <= value <= high:
        raise ValueError(
            f"Expected {name} an integer in [{low}, {high}] (got {value})"
        )


def _check_number(name: str, value, low: float, high: float) -> None:
    if not (_is_number(value) and low <= value <= high):
        raise ValueError(
            f"Expected {name} a number in [{low}, {high}] (got {value!r})"
        )


def _check_interval(name: str, value, low: float, high: float, unit: str):
    ok = (
        isinstance(value, tuple | list)
        and len(value) == 2
        and all(_is_number(v) for v in value)
        and low <= value[0] <= value[1] <= high
    )
    if not ok:
        raise ValueError(
            f"Expected {name} a pair {low} <= lo <= hi <= {high}{unit} (got "
            f"{value!r})"
        )


def _check_weights(name: str, value, size: int) -> None:
    ok = (
        isinstance(value, tuple | list)
        and len(value) == size
        and all(_is_number(v) and 0.0 <= v < float("inf") for v in value)
        and sum(value) > 0
    )
    if not ok:
        raise ValueError(
            f"Expected {name} {size} finite weights >= 0 with a positive sum "
            f"(got {value!r})"
        )


def check_split(split: str) -> None:
    """Raise :class:`ValueError` unless ``split`` is in :data:`SPLITS`.

    Args:
        split (str): The split name to check.
    """
    if split not in SPLITS:
        raise ValueError(f"Expected split in {sorted(SPLITS)} (got {split!r})")

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
        if self.image_size < 16 or self.shard_size < 1:
            raise ValueError(
                "Expected image_size >= 16 and shard_size >= 1 (got "
                f"{self.image_size}, {self.shard_size})"
            )
        allowed = training_activities()
        if self.activity_weights is not None and (
            set(self.activity_weights) - set(allowed)
        ):
            raise ValueError(
                f"Expected activity_weights over the training activities "
                f"{list(allowed)} (got {sorted(self.activity_weights)}; "
                f"{list(HELD_OUT_ACTIVITIES)} are held out)"
            )
        for name in ("recombine", "partial_prob"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"Expected {name} in [0, 1] (got {value})")
        lo, hi = self.clothing_range
        if not 0.0 <= lo <= hi <= 0.1:
            raise ValueError(
                "Expected 0 <= clothing_range[0] <= clothing_range[1] <= 0.1 "
                f"metres (got {self.clothing_range})"
            )
        lo, hi = self.depth_range
        if not 0.5 <= lo <= hi:
            raise ValueError(
                f"Expected 0.5 <= depth_range[0] <= depth_range[1] (got "
                f"{self.depth_range})"
            )

    def to_json(self) -> dict:
        """Plain-JSON form (tuples become lists)."""
        out = asdict(self)
        out["joint_noise"] = self.joint_noise.to_json()
        return json.loads(json.dumps(out))


def check_split(split: str) -> None:
    """Raise :class:`ValueError` unless ``split`` is in :data:`SPLITS`.

    Args:
        split (str): The split name to check.
    """
    if split not in SPLITS:
        raise ValueError(f"Expected split in {sorted(SPLITS)} (got {split!r})")

"""Datasets: synthetic humans (default data) and GraphCMR-format real sets.

Every dataset returns dicts with the keys of :data:`SAMPLE_KEYS` (see
:mod:`bigraph_pyg.data.keys` for frames and units). Rendering needs
``pyrender`` (headless through EGL) and ``scikit-image``; reading needs
``Pillow``. Those imports happen on first use.
"""

from bigraph_pyg.data.augment import (
    PART_FLIP,
    SMPL_FLIP_PERM,
    AugmentConfig,
    AugmentParams,
    EpochSeeded,
    crop_matrix,
    flip_pose,
    sample_augment,
    transform_intrinsics,
    transform_points_2d,
    transform_pose,
    warp_image,
)
from bigraph_pyg.data.generator import SampleGenerator, render_samples
from bigraph_pyg.data.graphcmr_dataset import (
    DATASET_FILES,
    GraphCMRDataset,
    coco,
    h36m,
    lsp,
    mpii,
    up3d,
)
from bigraph_pyg.data.keys import (
    IMAGE_SIZE,
    IMAGENET_MEAN,
    IMAGENET_STD,
    SAMPLE_KEYS,
    check_sample,
    denormalize_image,
    empty_sample,
    normalize_image,
    normalized_to_pixels,
    pixels_to_normalized,
)
from bigraph_pyg.data.mixed import PAPER_RATIOS, MixedDataset
from bigraph_pyg.data.noise import REDRAW_STREAM, JointNoise, draw_estimates
from bigraph_pyg.data.pose_families import (
    ACTIVITIES,
    HELD_OUT_ACTIVITIES,
    training_activities,
)
from bigraph_pyg.data.poses import (
    JOINT_LIMITS,
    PoseDraw,
    sample_body_pose,
    sample_global_orient,
)
from bigraph_pyg.data.poses_only import POSE_KEYS, SyntheticPoses
from bigraph_pyg.data.render import (
    PART_NAMES,
    BodyRenderer,
    vertex_part_labels,
)
from bigraph_pyg.data.self_contact import SelfContact
from bigraph_pyg.data.synthetic import (
    FORMAT_VERSION,
    SyntheticHumans,
    generate_synthetic,
)
from bigraph_pyg.data.synthetic_config import (
    ARRAY_KEYS,
    SPLITS,
    SyntheticConfig,
)

__all__ = [
    "ACTIVITIES",
    "ARRAY_KEYS",
    "DATASET_FILES",
    "FORMAT_VERSION",
    "HELD_OUT_ACTIVITIES",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "IMAGE_SIZE",
    "JOINT_LIMITS",
    "PAPER_RATIOS",
    "PART_FLIP",
    "PART_NAMES",
    "SAMPLE_KEYS",
    "SMPL_FLIP_PERM",
    "SPLITS",
    "AugmentConfig",
    "AugmentParams",
    "EpochSeeded",
    "BodyRenderer",
    "GraphCMRDataset",
    "JointNoise",
    "MixedDataset",
    "PoseDraw",
    "SampleGenerator",
    "SelfContact",
    "SyntheticConfig",
    "SyntheticHumans",
    "SyntheticPoses",
    "POSE_KEYS",
    "REDRAW_STREAM",
    "check_sample",
    "coco",
    "crop_matrix",
    "draw_estimates",
    "denormalize_image",
    "empty_sample",
    "flip_pose",
    "generate_synthetic",
    "h36m",
    "lsp",
    "mpii",
    "normalize_image",
    "normalized_to_pixels",
    "pixels_to_normalized",
    "render_samples",
    "sample_augment",
    "sample_body_pose",
    "sample_global_orient",
    "transform_intrinsics",
    "transform_points_2d",
    "transform_pose",
    "training_activities",
    "up3d",
    "vertex_part_labels",
    "warp_image",
]

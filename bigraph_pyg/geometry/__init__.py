r"""Rotations, weak-perspective projection and batched Procrustes.

Pure functions on tensors with arbitrary leading batch dimensions; every new
tensor takes its ``device`` and ``dtype`` from the inputs.

Conventions (used across the package):

- Rotation matrices act on column vectors, ``x' = R @ x``; a point cloud
  ``(..., N, 3)`` is rotated as ``points @ R.transpose(-1, -2)``.
- The 6D rotation representation is the one of Zhou et al. (CVPR 2019) as
  implemented in SPIN (``nkolot/SPIN: utils/geometry.py``): the first two
  **columns** of ``R``, stored interleaved row-major, i.e.
  ``rot6d = R[..., :, :2].reshape(..., 6)``.
- Axis-angle vectors are ``angle * unit_axis`` with angle in radians.

The rotation conversions are defined in ``bigraph_pyg.geometry.rotations``,
the camera in ``bigraph_pyg.geometry.projection``, root centring and
Procrustes in ``bigraph_pyg.geometry.alignment``; import them from here.
"""

from bigraph_pyg.geometry.alignment import (
    SimilarityTransform,
    batched_procrustes,
    center_joints,
    procrustes_align,
)
from bigraph_pyg.geometry.projection import weak_perspective_projection
from bigraph_pyg.geometry.rotations import (
    axis_angle_to_matrix,
    matrix_to_axis_angle,
    matrix_to_rot6d,
    rot6d_to_matrix,
)

__all__ = [
    "SimilarityTransform",
    "axis_angle_to_matrix",
    "batched_procrustes",
    "center_joints",
    "matrix_to_axis_angle",
    "matrix_to_rot6d",
    "procrustes_align",
    "rot6d_to_matrix",
    "weak_perspective_projection",
]

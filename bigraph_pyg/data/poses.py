r"""Body poses within per-joint anatomical limits, by activity.

Every SMPL joint's local rotation is parametrised by three angles in
degrees, :math:`\mathbf{R} = \mathbf{R}_x(x)\,\mathbf{R}_y(y)\,
\mathbf{R}_z(z)`, in the body frame of the SMPL rest pose (T-pose, ``y`` up,
facing ``+z``, the body's left at ``+x``). With this convention:

* legs: hip flexion (thigh forward) is ``x < 0``, knee flexion ``x > 0``,
  abduction of the left leg ``z > 0``;
* spine, neck and head: bending forward is ``x > 0``;
* left arm (pointing along ``+x`` in the T-pose): lowering it is ``z < 0``
  (``z = -90`` hangs it down), raising it ``z > 0``; ``y < 0`` swings the
  T-posed arm forward; for a lowered arm ``x < 0`` swings it forward;
  elbow flexion is ``y < 0``.

:data:`JOINT_LIMITS` lists the ranges of the centre and left joints; the right
joints mirror the left ones (``x`` kept, ``y`` and ``z`` negated, bounds
swapped). The ranges follow the usual clinical ranges of motion (e.g. hip
flexion 120°, extension 30°; knee flexion 150°; shoulder elevation 180°;
elbow flexion 150°), narrowed where SMPL's linear blend skinning would
collapse the mesh.

:data:`ACTIVITIES` are mean poses (standing, walking, sitting, arms raised,
bending); :func:`sample_body_pose` draws an activity, adds per-joint Gaussian
noise (:data:`JOINT_STD`) and clips to the limits.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from bigraph_pyg.topology import SMPL_JOINT_NAMES

__all__ = [
    "ACTIVITIES",
    "ACTIVITY_WEIGHTS",
    "JOINT_LIMITS",
    "JOINT_STD",
    "euler_to_axis_angle",
    "limits_array",
    "sample_body_pose",
    "sample_global_orient",
]

Range = tuple[float, float]

#: Anatomical limits, degrees, ``name: ((x_lo, x_hi), (y_lo, y_hi),
#: (z_lo, z_hi))`` for the centre and left joints (right = mirror).
#: ``pelvis`` is the global orientation and is sampled separately.
JOINT_LIMITS: dict[str, tuple[Range, Range, Range]] = {
    "left_hip": ((-120.0, 30.0), (-40.0, 40.0), (-15.0, 45.0)),
    "left_knee": ((0.0, 150.0), (-5.0, 5.0), (-5.0, 5.0)),
    "left_ankle": ((-30.0, 45.0), (-20.0, 20.0), (-20.0, 20.0)),
    "left_foot": ((-20.0, 20.0), (-5.0, 5.0), (-5.0, 5.0)),
    "spine1": ((-15.0, 40.0), (-25.0, 25.0), (-20.0, 20.0)),
    "spine2": ((-10.0, 30.0), (-20.0, 20.0), (-15.0, 15.0)),
    "spine3": ((-10.0, 30.0), (-20.0, 20.0), (-15.0, 15.0)),
    "neck": ((-30.0, 40.0), (-40.0, 40.0), (-25.0, 25.0)),
    "head": ((-25.0, 30.0), (-40.0, 40.0), (-20.0, 20.0)),
    "left_collar": ((-10.0, 10.0), (-15.0, 15.0), (-15.0, 25.0)),
    "left_shoulder": ((-100.0, 60.0), (-100.0, 30.0), (-90.0, 90.0)),
    "left_elbow": ((-60.0, 60.0), (-150.0, 0.0), (-5.0, 5.0)),
    "left_wrist": ((-30.0, 30.0), (-30.0, 30.0), (-60.0, 60.0)),
    "left_hand": ((-10.0, 10.0), (-10.0, 10.0), (-10.0, 10.0)),
}

#: Per-joint noise (degrees, one value for all three angles) added to an
#: activity's mean pose; joints not listed use ``JOINT_STD['default']``.
JOINT_STD: dict[str, float] = {
    "default": 6.0,
    "left_hip": 10.0,
    "left_knee": 10.0,
    "neck": 10.0,
    "head": 12.0,
    "left_shoulder": 15.0,
    "left_elbow": 15.0,
    "left_wrist": 12.0,
}

# Activity means: degrees by joint name ((x, y, z)); joints absent are 0.
# Left/right values are given explicitly (asymmetric activities).
_STANDING = {
    "left_shoulder": (0.0, 0.0, -70.0),
    "right_shoulder": (0.0, 0.0, 70.0),
    "left_elbow": (0.0, -15.0, 0.0),
    "right_elbow": (0.0, 15.0, 0.0),
}
_WALKING = {  # one phase of the gait cycle: left leg forward, left arm back
    "left_hip": (-25.0, 0.0, 0.0),
    "right_hip": (20.0, 0.0, 0.0),
    "left_knee": (15.0, 0.0, 0.0),
    "right_knee": (35.0, 0.0, 0.0),
    "left_ankle": (-10.0, 0.0, 0.0),
    "left_shoulder": (25.0, 0.0, -75.0),
    "right_shoulder": (-25.0, 0.0, 75.0),
    "left_elbow": (0.0, -20.0, 0.0),
    "right_elbow": (0.0, 35.0, 0.0),
}
_SITTING = {
    "left_hip": (-90.0, 0.0, 8.0),
    "right_hip": (-90.0, 0.0, -8.0),
    "left_knee": (90.0, 0.0, 0.0),
    "right_knee": (90.0, 0.0, 0.0),
    "spine1": (10.0, 0.0, 0.0),
    "left_shoulder": (-25.0, 0.0, -70.0),
    "right_shoulder": (-25.0, 0.0, 70.0),
    "left_elbow": (0.0, -60.0, 0.0),
    "right_elbow": (0.0, 60.0, 0.0),
}
_ARMS_RAISED = {
    "left_shoulder": (0.0, -10.0, 65.0),
    "right_shoulder": (0.0, 10.0, -65.0),
    "left_elbow": (0.0, -30.0, 0.0),
    "right_elbow": (0.0, 30.0, 0.0),
    "left_collar": (0.0, 0.0, 10.0),
    "right_collar": (0.0, 0.0, -10.0),
}
_BENDING = {
    "spine1": (30.0, 0.0, 0.0),
    "spine2": (25.0, 0.0, 0.0),
    "spine3": (20.0, 0.0, 0.0),
    "left_hip": (-45.0, 0.0, 5.0),
    "right_hip": (-45.0, 0.0, -5.0),
    "left_knee": (15.0, 0.0, 0.0),
    "right_knee": (15.0, 0.0, 0.0),
    "left_shoulder": (-60.0, 0.0, -75.0),
    "right_shoulder": (-60.0, 0.0, 75.0),
    "left_elbow": (0.0, -15.0, 0.0),
    "right_elbow": (0.0, 15.0, 0.0),
}

#: Mean poses by activity (degrees per joint, see module docstring).
ACTIVITIES: dict[str, dict[str, tuple[float, float, float]]] = {
    "standing": _STANDING,
    "walking": _WALKING,
    "sitting": _SITTING,
    "arms_raised": _ARMS_RAISED,
    "bending": _BENDING,
}

#: Default probability of each activity.
ACTIVITY_WEIGHTS: dict[str, float] = {
    "standing": 0.2,
    "walking": 0.3,
    "sitting": 0.15,
    "arms_raised": 0.2,
    "bending": 0.15,
}


def _mirror_name(name: str) -> str:
    if name.startswith("left_"):
        return "right_" + name[5:]
    if name.startswith("right_"):
        return "left_" + name[6:]
    return name


def limits_array() -> np.ndarray:
    """Limits of SMPL's 23 body joints (pelvis excluded), degrees.

    Returns:
        np.ndarray: :math:`(23, 3, 2)` float64 ``[joint, axis, (lo, hi)]``
        in ``SMPL_JOINT_NAMES[1:]`` order; right joints mirrored.
    """
    out = np.zeros((len(SMPL_JOINT_NAMES) - 1, 3, 2))
    for j, name in enumerate(SMPL_JOINT_NAMES[1:]):
        if name in JOINT_LIMITS:
            out[j] = JOINT_LIMITS[name]
        else:
            lim = np.array(JOINT_LIMITS[_mirror_name(name)])
            out[j, 0] = lim[0]
            out[j, 1:] = -lim[1:, ::-1]
    return out


def _std_array() -> np.ndarray:
    std = np.empty(len(SMPL_JOINT_NAMES) - 1)
    for j, name in enumerate(SMPL_JOINT_NAMES[1:]):
        key = name if name in JOINT_STD else _mirror_name(name)
        std[j] = JOINT_STD.get(key, JOINT_STD["default"])
    return std


def _rot(axis: int, angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    one, zero = np.ones_like(c), np.zeros_like(c)
    if axis == 0:
        rows = [[one, zero, zero], [zero, c, -s], [zero, s, c]]
    elif axis == 1:
        rows = [[c, zero, s], [zero, one, zero], [-s, zero, c]]
    else:
        rows = [[c, -s, zero], [s, c, zero], [zero, zero, one]]
    return np.moveaxis(np.array(rows), (0, 1), (-2, -1))


def _matrix_to_axis_angle(m: np.ndarray) -> np.ndarray:
    import torch

    from bigraph_pyg.geometry import matrix_to_axis_angle

    return matrix_to_axis_angle(torch.from_numpy(m)).numpy()


def euler_to_axis_angle(angles_deg: np.ndarray) -> np.ndarray:
    r"""Angles ``(x, y, z)`` (degrees) to axis-angle of :math:`R_x R_y R_z`.

    Args:
        angles_deg (np.ndarray): :math:`(..., 3)` degrees.

    Returns:
        np.ndarray: :math:`(..., 3)` float64 axis-angle (radians).

    Example:
        >>> euler_to_axis_angle(np.array([0.0, 0.0, 90.0])).round(4)
        array([0.    , 0.    , 1.5708])
    """
    a = np.radians(np.asarray(angles_deg, dtype=np.float64))
    m = _rot(0, a[..., 0]) @ _rot(1, a[..., 1]) @ _rot(2, a[..., 2])
    return _matrix_to_axis_angle(m)


def sample_body_pose(
    rng: np.random.Generator,
    activity_weights: Mapping[str, float] | None = None,
    noise_scale: float = 1.0,
) -> tuple[np.ndarray, str]:
    """Draw a body pose (SMPL's 23 joints) within :data:`JOINT_LIMITS`.

    Args:
        rng (np.random.Generator): Source of randomness.
        activity_weights (Mapping[str, float], optional): Probability of
            each activity (normalised). (default: :data:`ACTIVITY_WEIGHTS`)
        noise_scale (float): Multiplies :data:`JOINT_STD`. (default: ``1``)

    Returns:
        tuple: ``body_pose`` :math:`(69,)` float32 axis-angle (radians) and
        the activity name.

    Raises:
        ValueError: unknown activity or non-positive total weight.
    """
    weights = dict(
        ACTIVITY_WEIGHTS if activity_weights is None else activity_weights
    )
    unknown = sorted(set(weights) - set(ACTIVITIES))
    total = float(sum(weights.values()))
    if unknown or total <= 0:
        raise ValueError(
            f"Expected activity weights over {sorted(ACTIVITIES)} with a "
            f"positive sum (got {weights})"
        )
    names = sorted(weights)
    p = np.array([weights[n] for n in names]) / total
    activity = names[int(rng.choice(len(names), p=p))]
    mean = np.zeros((len(SMPL_JOINT_NAMES) - 1, 3))
    for name, angles in ACTIVITIES[activity].items():
        mean[SMPL_JOINT_NAMES.index(name) - 1] = angles
    std = _std_array()[:, None] * noise_scale
    angles = mean + rng.standard_normal(mean.shape) * std
    lim = limits_array()
    angles = np.clip(angles, lim[..., 0], lim[..., 1])
    return euler_to_axis_angle(angles).reshape(-1).astype(np.float32), activity


def sample_global_orient(
    rng: np.random.Generator,
    yaw_range: Range = (-180.0, 180.0),
    pitch_std: float = 8.0,
    roll_std: float = 5.0,
) -> np.ndarray:
    r"""Random global orientation in the camera frame (OpenCV axes).

    :math:`\mathbf{R} = \mathbf{R}_x(180°)\,\mathbf{R}_y(\text{yaw})\,
    \mathbf{R}_x(\text{pitch})\,\mathbf{R}_z(\text{roll})`: the upright body
    (``y`` up, facing ``+z``) turned about its vertical axis, tilted, then
    brought into the camera frame (``y`` down), where yaw ``0`` faces the
    camera. Pitch and roll are clipped to ``±2.5`` standard deviations.

    Args:
        rng (np.random.Generator): Source of randomness.
        yaw_range (tuple): Uniform yaw range, degrees.
            (default: ``(-180, 180)``)
        pitch_std (float): Degrees. (default: ``8``)
        roll_std (float): Degrees. (default: ``5``)

    Returns:
        np.ndarray: :math:`(3,)` float32 axis-angle.
    """
    yaw = np.radians(rng.uniform(*yaw_range))
    pitch = np.radians(
        np.clip(
            rng.standard_normal() * pitch_std, -2.5 * pitch_std, 2.5 * pitch_std
        )
    )
    roll = np.radians(
        np.clip(
            rng.standard_normal() * roll_std, -2.5 * roll_std, 2.5 * roll_std
        )
    )
    m = (
        _rot(0, np.array(np.pi))
        @ _rot(1, np.array(yaw))
        @ _rot(0, np.array(pitch))
        @ _rot(2, np.array(roll))
    )
    return _matrix_to_axis_angle(m).astype(np.float32)

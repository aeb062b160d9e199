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

:mod:`bigraph_pyg.data.pose_families` holds the pose world: part families
as joint-angle ranges, and the activities built from them.
:func:`sample_body_pose` draws an activity (or a held-out one), recombines
its limbs, draws every angle uniformly in its family's range, clips to the
limits, and rejects a pose whose limbs pass through each other
(:class:`~bigraph_pyg.data.self_contact.SelfContact`);
:func:`sample_global_orient` turns it, tilts it or lays it down, and views
it from above or below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from bigraph_pyg.data.pose_families import (
    ACTIVITIES,
    ARM_FAMILIES,
    HELD_OUT_ACTIVITIES,
    HELD_OUT_FAMILIES,
    LEG_FAMILIES,
    ORIENTATIONS,
    REST,
    TORSO_FAMILIES,
    training_activities,
)
from bigraph_pyg.topology import SMPL_JOINT_NAMES

__all__ = [
    "JOINT_LIMITS",
    "PoseDraw",
    "euler_to_axis_angle",
    "euler_to_matrix",
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


def euler_to_matrix(angles_deg: np.ndarray) -> np.ndarray:
    r"""Angles ``(x, y, z)`` (degrees) to :math:`R_x R_y R_z`.

    Args:
        angles_deg (np.ndarray): :math:`(..., 3)` degrees.

    Returns:
        np.ndarray: :math:`(..., 3, 3)` float64 rotation matrices.
    """
    a = np.radians(np.asarray(angles_deg, dtype=np.float64))
    return _rot(0, a[..., 0]) @ _rot(1, a[..., 1]) @ _rot(2, a[..., 2])


@dataclass(frozen=True)
class PoseDraw:
    """One body pose drawn by :func:`sample_body_pose`.

    Attributes:
        body_pose (np.ndarray): :math:`(69,)` float32 axis-angle of SMPL's
            23 body joints (radians).
        angles (np.ndarray): :math:`(23, 3)` float64, the same pose as
            ``(x, y, z)`` degrees (:data:`JOINT_LIMITS`' convention).
        activity (str): The activity (a key of
            :data:`~bigraph_pyg.data.pose_families.ACTIVITIES`).
        orientation (str): Its global-orientation family (a key of
            :data:`~bigraph_pyg.data.pose_families.ORIENTATIONS`).
        families (dict[str, str]): The family each part was drawn from
            (``torso``, ``left_arm``, ``right_arm``, ``left_leg``,
            ``right_leg``), after recombination and mirroring.
        tries (int): Draws until one passed the self-contact test.
    """

    body_pose: np.ndarray
    angles: np.ndarray
    activity: str
    orientation: str
    families: dict
    tries: int


_J = {name: j - 1 for j, name in enumerate(SMPL_JOINT_NAMES) if j > 0}
_PART_JOINTS = {
    "torso": {
        "spine": ("spine1", "spine2", "spine3"),
        "neck": ("neck",),
        "head": ("head",),
    },
    "arm": {
        "collar": ("collar",),
        "shoulder": ("shoulder",),
        "elbow": ("elbow",),
        "wrist": ("wrist",),
    },
    "leg": {
        "hip": ("hip",),
        "knee": ("knee",),
        "ankle": ("ankle",),
        "foot": ("foot",),
    },
}
_TABLES = {"torso": TORSO_FAMILIES, "arm": ARM_FAMILIES, "leg": LEG_FAMILIES}
_LIMBS = {
    "left_arm": "arm",
    "right_arm": "arm",
    "left_leg": "leg",
    "right_leg": "leg",
}
_MIRROR = np.array([1.0, -1.0, -1.0])
_SWAP = np.array(
    [_J[_mirror_name(name)] for name in SMPL_JOINT_NAMES[1:]], np.int64
)


def _training_families(part: str) -> tuple[str, ...]:
    return tuple(
        sorted(set(_TABLES[part]) - set(HELD_OUT_FAMILIES.get(part, ())))
    )


def _draw_part(
    rng: np.random.Generator, angles: np.ndarray, part: str, family: str, side
) -> None:
    """Draw one part's angles into ``angles`` (left-side ranges mirrored)."""
    spec = _TABLES[part][family]
    for key, joints in _PART_JOINTS[part].items():
        ranges = np.asarray(spec.get(key, REST), dtype=np.float64)
        for joint in joints:
            value = rng.uniform(ranges[:, 0], ranges[:, 1])
            if side is None:
                angles[_J[joint]] = value
            else:
                angles[_J[f"{side}_{joint}"]] = (
                    value if side == "left" else value * _MIRROR
                )


def _check_weights(
    weights: Mapping[str, float] | None, allowed: tuple[str, ...]
) -> tuple[list[str], np.ndarray]:
    weights = dict.fromkeys(allowed, 1.0) if weights is None else dict(weights)
    unknown = sorted(set(weights) - set(allowed))
    values = np.array([float(weights[n]) for n in sorted(weights)])
    if (
        unknown
        or not len(values)
        or not np.isfinite(values).all()
        or (values < 0).any()
        or values.sum() <= 0
    ):
        raise ValueError(
            f"Expected activity weights over {list(allowed)}, finite, >= 0 "
            f"and with a positive sum (got {weights})"
        )
    return sorted(weights), values / values.sum()


def sample_body_pose(
    rng: np.random.Generator,
    activity_weights: Mapping[str, float] | None = None,
    recombine: float = 0.5,
    held_out: bool = False,
    contact=None,
    max_tries: int = 200,
) -> PoseDraw:
    """Draw a body pose (SMPL's 23 joints) from the pose world.

    An activity is drawn (by ``activity_weights``); each limb's family is
    swapped, with probability ``recombine`` each, for one drawn uniformly
    from the training families of that limb; every angle is drawn
    uniformly in its family's range; the pose is mirrored left/right with
    probability 1/2 and clipped to :data:`JOINT_LIMITS`. A pose that
    ``contact`` finds self-intersecting is drawn again (same activity).

    Args:
        rng (np.random.Generator): Source of randomness.
        activity_weights (Mapping[str, float], optional): Probability of
            each activity (normalised). (default: uniform over the
            training activities, or over
            :data:`~bigraph_pyg.data.pose_families.HELD_OUT_ACTIVITIES`
            with ``held_out``)
        recombine (float): Per-limb probability of a recombined family.
            Held-out draws never recombine. (default: ``0.5``)
        held_out (bool): Draw the held-out activities. (default:
            :obj:`False`)
        contact (SelfContact, optional): Rejects self-intersecting poses.
        max_tries (int): Draws before giving up. (default: ``200``)

    Returns:
        PoseDraw: the pose, its activity and families.

    Raises:
        ValueError: unknown activities, bad weights or ``recombine`` not in
            ``[0, 1]``.
        RuntimeError: no draw in ``max_tries`` passed ``contact``.
    """
    if not 0.0 <= recombine <= 1.0:
        raise ValueError(f"Expected recombine in [0, 1] (got {recombine})")
    allowed = HELD_OUT_ACTIVITIES if held_out else training_activities()
    names, p = _check_weights(activity_weights, allowed)
    activity = names[int(rng.choice(len(names), p=p))]
    spec = ACTIVITIES[activity]
    lim = limits_array()
    for tries in range(1, max_tries + 1):
        angles, families = _draw_once(rng, spec, recombine, held_out, lim)
        if contact is None or not contact.collides(euler_to_matrix(angles)):
            orients = spec["orientation"]
            return PoseDraw(
                euler_to_axis_angle(angles).reshape(-1).astype(np.float32),
                angles,
                activity,
                orients[int(rng.integers(len(orients)))],
                families,
                tries,
            )
    raise RuntimeError(
        f"Expected a pose of {activity!r} without self-intersection "
        f"within {max_tries} draws (got none); widen its ranges"
    )


def _draw_once(
    rng: np.random.Generator,
    spec: Mapping,
    recombine: float,
    held_out: bool,
    lim: np.ndarray,
) -> tuple[np.ndarray, dict]:
    """One draw of an activity's angles :math:`(23, 3)` and part families."""
    families = {
        part: spec[part][int(rng.integers(len(spec[part])))]
        for part in ("torso", *_LIMBS)
    }
    if not held_out:
        for limb, part in _LIMBS.items():
            if rng.random() < recombine:
                pool = _training_families(part)
                families[limb] = pool[int(rng.integers(len(pool)))]
    angles = np.zeros((len(_J), 3))
    _draw_part(rng, angles, "torso", families["torso"], None)
    for limb, part in _LIMBS.items():
        side = limb.split("_")[0]
        _draw_part(rng, angles, part, families[limb], side)
    if rng.random() < 0.5:
        angles = angles[_SWAP] * _MIRROR
        families = {
            _mirror_name(k) if "_" in k else k: v for k, v in families.items()
        }
    return np.clip(angles, lim[..., 0], lim[..., 1]), families


def sample_global_orient(
    rng: np.random.Generator,
    orientation: str = "upright",
    yaw_range: Range = (-180.0, 180.0),
    elevation_range: Range = (-30.0, 45.0),
    elevation_prob: float = 0.3,
) -> np.ndarray:
    r"""Random global orientation in the camera frame (OpenCV axes).

    :math:`\mathbf{R} = \mathbf{R}_x(e)\,\mathbf{R}_x(180°)\,
    \mathbf{R}_y(\text{yaw})\,\mathbf{R}_x(\text{pitch})\,
    \mathbf{R}_z(\text{roll})`: the upright body (``y`` up, facing ``+z``)
    tilted (pitch ``> 0`` tips it forward, roll leans it sideways; both
    uniform in the ``orientation`` family's ranges,
    :data:`~bigraph_pyg.data.pose_families.ORIENTATIONS`), turned about
    its vertical axis (yaw ``0`` faces the camera), brought into the camera
    frame (``y`` down), then seen from above or below: the camera's
    elevation :math:`e` is uniform in ``elevation_range`` with probability
    ``elevation_prob``, else near eye level (:math:`\mathcal{N}(0, 4°)`,
    clipped at ±10°).

    Args:
        rng (np.random.Generator): Source of randomness.
        orientation (str): A key of ``ORIENTATIONS``. (default:
            ``'upright'``)
        yaw_range (tuple): Uniform yaw range, degrees.
            (default: ``(-180, 180)``)
        elevation_range (tuple): Degrees; ``> 0`` looks down on the body.
            (default: ``(-30, 45)``)
        elevation_prob (float): Probability of a wide elevation.
            (default: ``0.3``)

    Returns:
        np.ndarray: :math:`(3,)` float32 axis-angle.

    Raises:
        ValueError: an unknown ``orientation``.
    """
    if orientation not in ORIENTATIONS:
        raise ValueError(
            f"Expected orientation in {sorted(ORIENTATIONS)} (got "
            f"{orientation!r})"
        )
    pitch_range, roll_range = ORIENTATIONS[orientation]
    yaw = np.radians(rng.uniform(*yaw_range))
    pitch = np.radians(rng.uniform(*pitch_range))
    roll = np.radians(rng.uniform(*roll_range))
    if rng.random() < elevation_prob:
        elev = rng.uniform(*elevation_range)
    else:
        elev = float(np.clip(rng.standard_normal() * 4.0, -10.0, 10.0))
    # R_x(e) R_x(180) = R_x(180 + e); e > 0 tips the body's top away.
    m = (
        _rot(0, np.array(np.pi + np.radians(elev)))
        @ _rot(1, np.array(yaw))
        @ _rot(0, np.array(pitch))
        @ _rot(2, np.array(roll))
    )
    return _matrix_to_axis_angle(m).astype(np.float32)

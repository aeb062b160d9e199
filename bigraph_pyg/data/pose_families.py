r"""The pose world: part families and the activities built from them.

A **part family** gives joint-angle *ranges* (degrees, the convention of
:mod:`bigraph_pyg.data.poses`) for one part of the body:

* ``torso``: ``spine1``-``spine3`` (one range, applied to each), ``neck``
  and ``head``;
* ``arm``: the **left** arm's ``collar``, ``shoulder``, ``elbow`` and
  ``wrist`` (a right arm mirrors it);
* ``leg``: the **left** leg's ``hip``, ``knee``, ``ankle`` and ``foot``.

A joint a family leaves out gets :data:`REST` (a narrow range about 0).

An **activity** names one family per part: the torso, each arm and each
leg (several names = drawn uniformly), and a global orientation family
(:data:`ORIENTATIONS`). The sampler
(:func:`~bigraph_pyg.data.poses.sample_body_pose`) draws an activity, then,
with probability ``recombine``, swaps each limb's family for one drawn from
all the training families of that limb, so that combinations no activity
names appear; a whole pose is mirrored left/right half of the time.

:data:`HELD_OUT_ACTIVITIES` are never drawn for training, and neither are
their own part families (:data:`HELD_OUT_FAMILIES`): they make the
held-out-family split (``split="heldout"`` of the synthetic data), which a
lookup of the training poses cannot pass. The ranges follow the usual
clinical ranges of motion and were checked on a contact sheet
(``docs/images/pose_world.png``, ``scripts/synthetic_contact_sheet.py``).
"""

from __future__ import annotations

__all__ = [
    "ACTIVITIES",
    "ARM_FAMILIES",
    "HELD_OUT_ACTIVITIES",
    "HELD_OUT_FAMILIES",
    "LEG_FAMILIES",
    "ORIENTATIONS",
    "REST",
    "TORSO_FAMILIES",
    "training_activities",
]

Range = tuple[float, float]
Angles = tuple[Range, Range, Range]

#: A joint no family names: a few degrees about the rest pose.
REST: Angles = ((-5.0, 5.0), (-5.0, 5.0), (-5.0, 5.0))


def _a(x: Range = (-5, 5), y: Range = (-5, 5), z: Range = (-5, 5)) -> Angles:
    return (
        (float(x[0]), float(x[1])),
        (float(y[0]), float(y[1])),
        (float(z[0]), float(z[1])),
    )


def _arm(shoulder: Angles, elbow: Range, collar=None, wrist=None) -> dict:
    return {
        "collar": collar or _a(),
        "shoulder": shoulder,
        "elbow": _a(y=elbow),
        "wrist": wrist or _a((-20, 20), (-20, 20), (-25, 25)),
    }


def _leg(hip: Angles, knee: Range, ankle: Range = (-10, 15)) -> dict:
    return {
        "hip": hip,
        "knee": _a(x=knee, y=(-3, 3), z=(-3, 3)),
        "ankle": _a(x=ankle, y=(-10, 10), z=(-10, 10)),
        "foot": _a(),
    }


def _torso(spine: Angles, neck=None, head=None) -> dict:
    return {
        "spine": spine,
        "neck": neck or _a((-10, 15), (-20, 20), (-8, 8)),
        "head": head or _a((-10, 15), (-20, 20), (-8, 8)),
    }


#: Left-arm families (shoulder ``z < 0`` lowers the arm, ``y < 0`` swings
#: the T-posed arm forward, ``x`` swings a lowered arm (``< 0`` forward)
#: or twists a level one; elbow flexion is ``y < 0``).
ARM_FAMILIES: dict[str, dict] = {
    "hang": _arm(_a((-20, 20), (-15, 15), (-85, -65)), (-30, 0)),
    "swing_forward": _arm(_a((-60, -15), (-10, 10), (-85, -65)), (-90, -20)),
    "swing_back": _arm(_a((15, 45), (-10, 10), (-85, -65)), (-40, -5)),
    "crossed": _arm(_a((-10, 10), (-85, -60), (-60, -35)), (-125, -95)),
    "hand_on_hip": _arm(_a((20, 50), (-10, 15), (-55, -35)), (-110, -80)),
    "in_pocket": _arm(_a((0, 20), (-10, 10), (-80, -65)), (-45, -20)),
    "phone_at_ear": _arm(_a((-50, -25), (-40, -10), (-70, -40)), (-150, -130)),
    "point_forward": _arm(_a((-100, -75), (-15, 15), (-90, -75)), (-15, 0)),
    "point_side": _arm(_a((-10, 10), (-20, 10), (-10, 15)), (-20, 0)),
    "reach_up": _arm(_a((-30, 0), (-20, 0), (60, 90)), (-30, 0)),
    "reach_down": _arm(_a((-70, -40), (-10, 10), (-90, -75)), (-20, 0)),
    "wave": _arm(_a((-100, -70), (-20, 10), (-10, 20)), (-120, -70)),
    "carry": _arm(_a((-20, 0), (-10, 10), (-85, -70)), (-100, -75)),
    "hands_together": _arm(_a((-10, 10), (-60, -40), (-75, -55)), (-100, -70)),
    "raised_side": _arm(_a((-20, 20), (-15, 15), (40, 75)), (-30, 0)),
    "guard": _arm(_a((-30, -10), (-60, -30), (-70, -50)), (-150, -120)),
    "behind_head": _arm(_a((-100, -80), (10, 30), (30, 50)), (-150, -135)),
    "throw": _arm(_a((-100, -70), (10, 30), (-10, 20)), (-110, -70)),
    # Anywhere within the shoulder's and elbow's limits.
    "free": _arm(_a((-100, 60), (-100, 30), (-90, 90)), (-150, 0)),
}

#: Left-leg families (hip flexion ``x < 0``, abduction ``z > 0``; knee
#: flexion ``x > 0``).
LEG_FAMILIES: dict[str, dict] = {
    "stand": _leg(_a((-10, 8), (-10, 10), (-5, 10)), (0, 12)),
    "stride_forward": _leg(_a((-40, -15), (-8, 8), (-3, 8)), (5, 30)),
    "stride_back": _leg(_a((5, 25), (-8, 8), (-3, 8)), (10, 40)),
    "run_forward": _leg(_a((-80, -45), (-8, 8), (-3, 8)), (40, 100)),
    "run_back": _leg(_a((5, 30), (-8, 8), (-3, 8)), (70, 120), (10, 40)),
    "kick_forward": _leg(_a((-100, -60), (-10, 10), (-5, 10)), (0, 20)),
    "leg_side": _leg(_a((-10, 5), (-10, 10), (25, 45)), (0, 15)),
    "squat": _leg(_a((-120, -95), (-15, 5), (10, 30)), (110, 145), (15, 40)),
    "sit_chair": _leg(_a((-100, -80), (-10, 10), (0, 15)), (70, 100)),
    "sit_floor": _leg(_a((-100, -85), (-10, 10), (0, 15)), (0, 10)),
    "lunge_front": _leg(_a((-95, -70), (-10, 10), (0, 10)), (75, 100)),
    "lunge_back": _leg(_a((10, 30), (-10, 10), (0, 10)), (60, 100)),
    "jump_tuck": _leg(_a((-110, -80), (-10, 10), (0, 15)), (100, 140)),
    "kneel": _leg(_a((-10, 10), (-10, 10), (0, 10)), (80, 110), (30, 45)),
    "kneel_up": _leg(_a((-100, -75), (-10, 10), (0, 10)), (70, 100)),
    "cross_legged": _leg(_a((-100, -70), (-40, -20), (25, 45)), (120, 150)),
    "tree": _leg(_a((-40, -10), (-40, -20), (30, 45)), (120, 150)),
    # Anywhere within the hip's and knee's limits.
    "free": _leg(_a((-120, 30), (-40, 40), (-15, 45)), (0, 150)),
}

#: Torso families (forward bend ``x > 0``, twist ``y``, side bend ``z``;
#: one spine range applied to each of the three spine joints).
TORSO_FAMILIES: dict[str, dict] = {
    "upright": _torso(_a((-5, 8), (-6, 6), (-4, 4))),
    "slump": _torso(_a((5, 20), (-6, 6), (-4, 4))),
    "bend": _torso(_a((15, 30), (-8, 8), (-5, 5)), _a((-20, 10))),
    "lean_back": _torso(_a((-10, -3), (-6, 6), (-4, 4)), _a((-25, 0))),
    "side_bend": _torso(_a((-5, 8), (-6, 6), (6, 15))),
    "twist": _torso(_a((-5, 8), (10, 20), (-4, 4)), _a(y=(0, 30))),
    "look_around": _torso(
        _a((-5, 8), (-6, 6), (-4, 4)),
        _a((-20, 30), (-40, 40), (-20, 20)),
        _a((-20, 25), (-40, 40), (-15, 15)),
    ),
}

#: Global orientation families (for
#: :func:`~bigraph_pyg.data.poses.sample_global_orient`): the body's tilt
#: before it is turned about its vertical axis; ``(pitch_range,
#: roll_range)`` in degrees, pitch ``> 0`` tips the body forward. Lying
#: bodies are pitched by ±90°.
ORIENTATIONS: dict[str, tuple[Range, Range]] = {
    "upright": ((-8.0, 8.0), (-6.0, 6.0)),
    "tilted": ((-25.0, 25.0), (-25.0, 25.0)),
    "lying_back": ((-100.0, -80.0), (-15.0, 15.0)),
    "lying_front": ((80.0, 100.0), (-15.0, 15.0)),
    "lying_side": ((-15.0, 15.0), (75.0, 105.0)),
}

_SWING = ("swing_forward", "swing_back")


def _act(torso, left_arm, right_arm, left_leg, right_leg, orient="upright"):
    def names(v):
        return (v,) if isinstance(v, str) else tuple(v)

    return {
        "torso": names(torso),
        "left_arm": names(left_arm),
        "right_arm": names(right_arm),
        "left_leg": names(left_leg),
        "right_leg": names(right_leg),
        "orientation": names(orient),
    }


#: Activities: one tuple of family names per part (drawn uniformly).
ACTIVITIES: dict[str, dict[str, tuple[str, ...]]] = {
    "standing": _act(
        ("upright", "look_around"), "hang", "hang", "stand", "stand"
    ),
    "walking": _act(
        "upright",
        "swing_back",
        "swing_forward",
        "stride_forward",
        "stride_back",
    ),
    "running": _act("slump", _SWING, _SWING, "run_forward", "run_back"),
    "arms_crossed": _act(
        ("upright", "look_around"),
        "crossed",
        "crossed",
        "stand",
        ("stand", "leg_side"),
    ),
    "hands_on_hips": _act(
        "upright", "hand_on_hip", "hand_on_hip", "stand", ("stand", "leg_side")
    ),
    "hands_in_pockets": _act(
        ("upright", "lean_back"), "in_pocket", "in_pocket", "stand", "stand"
    ),
    "phone_call": _act(
        ("upright", "look_around"),
        "phone_at_ear",
        ("hang", "in_pocket", "crossed"),
        "stand",
        ("stand", "stride_back"),
    ),
    "pointing": _act(
        ("upright", "twist"),
        ("point_forward", "point_side"),
        ("hang", "hand_on_hip"),
        "stand",
        ("stand", "stride_forward"),
    ),
    "waving": _act("upright", "wave", ("hang", "in_pocket"), "stand", "stand"),
    "carrying": _act(
        ("upright", "lean_back"),
        "carry",
        "carry",
        ("stand", "stride_forward"),
        ("stand", "stride_back"),
    ),
    "kicking": _act(
        ("upright", "lean_back"), _SWING, "point_side", "kick_forward", "stand"
    ),
    "jumping": _act(
        "upright",
        ("raised_side", "reach_up"),
        ("raised_side", "reach_up"),
        "jump_tuck",
        "jump_tuck",
    ),
    "squatting": _act(
        "bend",
        ("carry", "hands_together", "hang"),
        ("carry", "hands_together", "hang"),
        "squat",
        "squat",
    ),
    "lunging": _act(
        "upright",
        ("hand_on_hip", "swing_forward", "raised_side"),
        ("hand_on_hip", "swing_back", "raised_side"),
        "lunge_front",
        "lunge_back",
    ),
    "sitting_chair": _act(
        ("slump", "upright"),
        ("carry", "hands_together", "hang"),
        ("carry", "crossed", "hang"),
        "sit_chair",
        "sit_chair",
    ),
    "sitting_floor": _act(
        "slump",
        ("reach_down", "hang"),
        ("reach_down", "hang"),
        "sit_floor",
        ("sit_floor", "sit_chair"),
    ),
    "lying": _act(
        "upright",
        ("hang", "reach_up", "raised_side"),
        ("hang", "point_side"),
        ("stand", "stride_forward"),
        ("stand", "stride_back", "sit_chair"),
        ("lying_back", "lying_front", "lying_side"),
    ),
    "reaching_up": _act(
        ("upright", "lean_back"),
        "reach_up",
        ("hang", "reach_up"),
        "stand",
        "stand",
    ),
    "reaching_down": _act(
        "bend",
        "reach_down",
        ("reach_down", "hang"),
        ("stand", "stride_forward"),
        "stand",
    ),
    "reaching_side": _act(
        "side_bend",
        "point_side",
        ("hang", "hand_on_hip"),
        "stand",
        ("stand", "leg_side"),
    ),
    "leaning": _act(
        "side_bend",
        "hang",
        ("hang", "crossed"),
        ("stand", "leg_side"),
        "stand",
        "tilted",
    ),
    "twisting": _act(
        "twist",
        "swing_forward",
        "swing_back",
        "stand",
        ("stand", "stride_back"),
    ),
    "boxing": _act("slump", "guard", "guard", "stride_forward", "stride_back"),
    "celebrating": _act(
        ("upright", "lean_back"),
        "raised_side",
        ("raised_side", "reach_up"),
        "stand",
        ("stand", "leg_side"),
    ),
    "bending": _act(
        "bend", ("reach_down", "hang"), ("reach_down", "hang"), "stand", "stand"
    ),
    "dancing": _act(
        ("look_around", "twist", "side_bend"),
        "free",
        "free",
        "free",
        ("stand", "free"),
        ("upright", "tilted"),
    ),
    # Held out of training (HELD_OUT_ACTIVITIES).
    "kneeling": _act(
        "upright",
        ("hang", "hand_on_hip", "point_side"),
        ("hang", "carry"),
        "kneel_up",
        "kneel",
    ),
    "sitting_cross_legged": _act(
        "slump",
        ("hands_together", "hang"),
        ("hands_together", "hang"),
        "cross_legged",
        "cross_legged",
    ),
    "yoga_tree": _act(
        "upright",
        ("reach_up", "hands_together", "raised_side"),
        ("reach_up", "hands_together", "raised_side"),
        "stand",
        "tree",
    ),
    "hands_behind_head": _act(
        ("upright", "lean_back"),
        "behind_head",
        "behind_head",
        "stand",
        ("stand", "stride_back"),
    ),
    "throwing": _act(
        "twist",
        "throw",
        ("point_forward", "swing_forward"),
        "stride_forward",
        "stride_back",
    ),
}

#: Activities never drawn for training: the held-out-family split.
HELD_OUT_ACTIVITIES: tuple[str, ...] = (
    "hands_behind_head",
    "kneeling",
    "sitting_cross_legged",
    "throwing",
    "yoga_tree",
)

#: Part families only the held-out activities use (never drawn for
#: training, not even by recombination).
HELD_OUT_FAMILIES: dict[str, tuple[str, ...]] = {
    "arm": ("behind_head", "throw"),
    "leg": ("cross_legged", "kneel", "kneel_up", "tree"),
    "torso": (),
}


def training_activities() -> tuple[str, ...]:
    """The activities drawn for training, sorted.

    Returns:
        tuple[str, ...]: :data:`ACTIVITIES` without
        :data:`HELD_OUT_ACTIVITIES`.
    """
    return tuple(sorted(set(ACTIVITIES) - set(HELD_OUT_ACTIVITIES)))

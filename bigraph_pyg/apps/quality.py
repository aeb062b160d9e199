r"""Is a prediction a body to trust? The per-person :class:`Quality` verdict.

:func:`assess_quality` judges one person from what the detector saw (the
12 joints' confidences, the box) and from how the body written fits it
(the reprojection error of its joints to the confident joints, over the
body's height in the photo): the fitted body's own joints, through the
photo's pinhole, when :func:`~bigraph_pyg.apps.predict` fits (the
default; the network mesh's error is kept in the record,
:attr:`Quality.network_error`), else the mesh branch's through its weak
camera. For an upper body the error is over the seen joints of the torso
and arms: its legs are the model's guess, not fitted
(:func:`~bigraph_pyg.apps.fitting.fit_person`). The verdict is one of:

* ``"full body"``: the torso (both shoulders, both hips) and both legs
  (knees and ankles) seen, the body fits;
* ``"upper body"``: the torso seen, a leg joint not: the body is cropped
  and scaled from its torso (:func:`body_height`), never as a whole person
  squeezed into the visible part, and its unseen joints are listed
  (:attr:`Quality.unseen`): the legs are the model's guess;
* ``"refused"``: too little of the body seen, a person too small, or a
  body that does not fit the joints (:attr:`Quality.reasons` says which,
  with the numbers).

:func:`~bigraph_pyg.apps.predict` returns the verdict on the
:class:`~bigraph_pyg.apps.Prediction` and never raises for it;
``examples/demo.py`` refuses a ``"refused"`` person unless ``--force``.

The thresholds were measured (``docs/reliability.md``, "The quality
verdict, measured"): on the 64 synthetic test renders, whole and with the
legs cut off, and on real photos. :data:`MAX_REPROJECTION` (the network
mesh, ``fit=False``) passes 89 % of the whole renders (median error 0.051)
and every upper body scaled from its torso (at most 0.099), and refuses 8
of 11 whole, small bodies that the old crop fitted into the visible part.
:data:`MAX_FIT_ERROR` (the fitted body) is set from the fitted bodies of
real photos (see its note).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bigraph_pyg.topology import JOINT_NAMES

__all__ = [
    "HEIGHT_PER_SHOULDERS",
    "HEIGHT_PER_TORSO",
    "MAX_FIT_ERROR",
    "MAX_REPROJECTION",
    "MIN_HEIGHT_PX",
    "Quality",
    "assess_quality",
    "body_box",
    "body_height",
]

#: A whole person's box height over their torso length (mid-shoulder to
#: mid-hip), both in photo pixels: the median over the 22 synthetic test
#: renders whose 12 joints MediaPipe all sees (box: face to feet; 10th-90th
#: percentile 2.77-4.03).
HEIGHT_PER_TORSO: float = 3.35
#: A whole person's box height over their shoulder width: the median over
#: the same detections (quartiles 4.5 and 6.5: the shoulders narrow as the
#: body turns), the scale of a person seen from the shoulders up.
HEIGHT_PER_SHOULDERS: float = 5.2
#: Largest mean distance of the mesh joints to the confident joints, over
#: the body's height, of a body that fits (see the module notes).
MAX_REPROJECTION: float = 0.1
#: Largest mean distance of the fitted body's joints to the confident
#: joints, over the body's height, of a body that fits (the verdict with
#: the fit, :func:`~bigraph_pyg.apps.predict`'s default). Measured with
#: the default model: the 21 people found in 9 photos (opencv-doc's
#: messi5, basketball1/2 and vtest.avi frames 0, 200, 400, 600, 700;
#: the astronaut, refused for its torso) fit at 0.008-0.047 (median
#: 0.025; 15 full bodies, 6 upper bodies; their network meshes at
#: 0.015-0.081). Two people merged, made from six of these full bodies by
#: moving the hips and legs sideways, fit at 0.052-0.081 when moved by
#: 0.3 of the body's height (5 of 6 refused here; 1 of 6 by the network
#: mesh's 0.1) and 0.093-0.122 when moved by 0.5 (all refused; 4 of 6 by
#: the mesh's 0.1).
MAX_FIT_ERROR: float = 0.06
#: Smallest body height, photo pixels, the verdict accepts: the smallest
#: people measured (vtest.avi's pedestrians, 51-66 px) fit at 0.018-0.055;
#: below, the 224-pixel crop is mostly upsampled blur.
MIN_HEIGHT_PX: float = 48.0

_TORSO = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
_LEGS = ("left_knee", "right_knee", "left_ankle", "right_ankle")
_J = {n: i for i, n in enumerate(JOINT_NAMES)}


@dataclass(frozen=True)
class Quality:
    """A person's verdict and the numbers it rests on.

    Attributes:
        verdict (str): ``"full body"``, ``"upper body"`` or ``"refused"``.
        reasons (tuple[str, ...]): Why refused (empty otherwise).
        seen (tuple[str, ...]): The joints the detector is confident of
            (:data:`~bigraph_pyg.topology.JOINT_NAMES` order).
        unseen (tuple[str, ...]): The others: the body there is a guess.
        mean_visibility (float): Mean confidence of the 12 joints.
        box_height (float): The person box's height, photo pixels.
        body_height (float): The body's height in the photo, pixels
            (:func:`body_height`): the scale of the reprojection error.
        reprojection_error (float): Mean distance of the judged body's
            joints (the fitted body's with ``fitted``, else the mesh
            branch's) to the seen joints (an upper body's torso and arms)
            over ``body_height`` (NaN with no joint seen).
        network_error (float): The same for the network's mesh branch
            (equal to ``reprojection_error`` without the fit).
        fitted (bool): The fitted body was judged (threshold
            :data:`MAX_FIT_ERROR`, else :data:`MAX_REPROJECTION`).
    """

    verdict: str
    reasons: tuple[str, ...]
    seen: tuple[str, ...]
    unseen: tuple[str, ...]
    mean_visibility: float
    box_height: float
    body_height: float
    reprojection_error: float
    network_error: float = float("nan")
    fitted: bool = False

    @property
    def confident(self) -> bool:
        """The body may be written without ``--force``."""
        return self.verdict != "refused"

    @property
    def legs_seen(self) -> bool:
        """Both knees and both ankles seen."""
        return not set(_LEGS) & set(self.unseen)

    def as_dict(self) -> dict:
        """The verdict as plain JSON values (the params file's ``quality``).

        Returns:
            dict: every attribute, ``confident`` (and its negation
            ``low_confidence``, true for a body written with the demo's
            ``--force``), ``legs_seen``, and the thresholds used.
        """
        return {
            "verdict": self.verdict,
            "confident": self.confident,
            "low_confidence": not self.confident,
            "reasons": list(self.reasons),
            "legs_seen": self.legs_seen,
            "seen": list(self.seen),
            "unseen": list(self.unseen),
            "mean_visibility": self.mean_visibility,
            "box_height_px": self.box_height,
            "body_height_px": self.body_height,
            "reprojection_error_body_fraction": self.reprojection_error,
            "judged": "fitted body" if self.fitted else "network mesh",
            "network_reprojection_error_body_fraction": self.network_error,
            "thresholds": {
                "max_reprojection_error": MAX_REPROJECTION,
                "max_fit_error": MAX_FIT_ERROR,
                "min_body_height_px": MIN_HEIGHT_PX,
            },
        }


def _torso_length(joints: np.ndarray) -> float:
    """Mid-shoulder to mid-hip distance, pixels."""
    p = np.asarray(joints, np.float64)
    sh = (p[_J["left_shoulder"]] + p[_J["right_shoulder"]]) / 2
    hip = (p[_J["left_hip"]] + p[_J["right_hip"]]) / 2
    return float(np.linalg.norm(sh - hip))


def body_height(joints, confidence, box, threshold: float = 0.5) -> float:
    """The person's height in the photo, pixels, seen whole or not.

    The box height when the legs are seen; otherwise the larger of the
    box height and :data:`HEIGHT_PER_TORSO` times the torso length (both
    shoulders and hips seen), or :data:`HEIGHT_PER_SHOULDERS` times the
    shoulder width (the shoulders seen, not the hips), so an upper body is
    scaled as the whole person it belongs to.

    Args:
        joints (array-like): :math:`(12, 2)` pixels.
        confidence (array-like): :math:`(12,)`.
        box (array-like): ``(x, y, w, h)`` the person box, pixels.
        threshold (float): Confidence above which a joint is seen.
            (default: ``0.5``)

    Returns:
        float: pixels.

    Example:
        >>> from bigraph_pyg.topology import JOINT_NAMES
        >>> seen = ["left_shoulder", "right_shoulder", "left_hip", "right_hip"]
        >>> c = np.array([float(n in seen) for n in JOINT_NAMES])
        >>> j = np.zeros((12, 2))  # shoulders at y = 100, hips at y = 200:
        >>> j[:, 1] = [200. if "hip" in n else 100. for n in JOINT_NAMES]
        >>> body_height(j, c, [0., 50., 80., 150.])  # torso 100 px
        335.0
    """
    ok = np.asarray(confidence) > threshold
    h = float(np.asarray(box, np.float64)[3])
    if all(ok[_J[n]] for n in _LEGS):
        return h
    if all(ok[_J[n]] for n in _TORSO):
        return max(h, HEIGHT_PER_TORSO * _torso_length(joints))
    if ok[_J["left_shoulder"]] and ok[_J["right_shoulder"]]:
        p = np.asarray(joints, np.float64)
        width = np.linalg.norm(p[_J["left_shoulder"]] - p[_J["right_shoulder"]])
        return max(h, HEIGHT_PER_SHOULDERS * float(width))
    return h


def assess_quality(
    joints,
    confidence,
    box,
    joints_2d,
    threshold: float = 0.5,
    network_joints_2d=None,
) -> Quality:
    """The verdict for one person (see the module notes).

    Args:
        joints (array-like): :math:`(12, 2)` detected joints, pixels.
        confidence (array-like): :math:`(12,)` their confidences.
        box (array-like): ``(x, y, w, h)`` the person box, pixels.
        joints_2d (array-like): :math:`(12, 2)` the written body's joints
            projected into the photo, pixels: the fitted body's when
            ``network_joints_2d`` is given, else the network mesh's.
        threshold (float): Confidence above which a joint is seen.
            (default: ``0.5``)
        network_joints_2d (array-like, optional): :math:`(12, 2)` the
            network mesh's joints, pixels, when ``joints_2d`` are a fitted
            body's: the verdict then holds the fit to
            :data:`MAX_FIT_ERROR` and keeps the network's error in
            :attr:`Quality.network_error`. (default: ``joints_2d`` are
            the network's, held to :data:`MAX_REPROJECTION`)

    Returns:
        Quality: the verdict and its numbers.

    Raises:
        ValueError: ``joints_2d`` or ``network_joints_2d`` not
            :math:`(12, 2)`.
    """
    kp = np.asarray(joints, np.float64)
    conf = np.asarray(confidence, np.float64)
    ok = conf > threshold
    seen = tuple(n for n, s in zip(JOINT_NAMES, ok, strict=True) if s)
    unseen = tuple(n for n, s in zip(JOINT_NAMES, ok, strict=True) if not s)
    height = body_height(kp, conf, box, threshold)
    fitted = network_joints_2d is not None
    judged = ok.copy()
    if set(_LEGS) & set(unseen):  # an upper body: its legs are a guess
        judged[[_J[n] for n in _LEGS]] = False
    reproj = _error(joints_2d, "joints_2d", kp, judged, height)
    net = reproj
    if fitted:
        net = _error(network_joints_2d, "network_joints_2d", kp, judged, height)
    reasons = _reasons(seen, unseen, height, reproj, fitted)
    if reasons:
        verdict = "refused"
    elif set(_LEGS) & set(unseen):
        verdict = "upper body"
    else:
        verdict = "full body"
    return Quality(
        verdict=verdict,
        reasons=tuple(reasons),
        seen=seen,
        unseen=unseen,
        mean_visibility=float(np.clip(conf, 0, 1).mean()),
        box_height=float(np.asarray(box, np.float64)[3]),
        body_height=float(height),
        reprojection_error=reproj,
        network_error=net,
        fitted=fitted,
    )


def _reasons(seen, unseen, height: float, error: float, fitted: bool):
    """Why a person is refused (empty when not)."""
    limit = MAX_FIT_ERROR if fitted else MAX_REPROJECTION
    reasons = []
    missing = [n for n in _TORSO if n in unseen]
    if missing:
        reasons.append(
            f"too little of the body seen: {len(seen)} of 12 joints, the "
            f"torso without {', '.join(n.replace('_', ' ') for n in missing)}"
        )
    if height < MIN_HEIGHT_PX:
        reasons.append(
            f"too small: {height:.0f} px tall (at least {MIN_HEIGHT_PX:g})"
        )
    if not error <= limit:
        what = "fitted body" if fitted else "body"
        reasons.append(
            f"the {what} does not fit the detected joints: mean error "
            f"{error:.3f} of its height (at most {limit:g})"
        )
    return reasons


def _error(points_2d, name: str, joints, judged, height: float) -> float:
    """Mean distance of ``points_2d`` to the judged joints over ``height``."""
    p = np.asarray(points_2d, np.float64)
    if p.shape != joints.shape:
        raise ValueError(
            f"Expected {name} of shape {joints.shape} (got {p.shape})"
        )
    if not judged.any():
        return float("nan")
    d = np.linalg.norm(p - joints, axis=-1)
    return float(d[judged].mean()) / max(height, 1e-6)


def body_box(joints, confidence, box, threshold: float = 0.5) -> np.ndarray:
    """The person box grown down to :func:`body_height` (the model's crop).

    A whole person's box is returned as it is. An upper body's box keeps
    its top and centre and is made :func:`body_height` tall, so the crop
    shows the upper body at the scale of the whole person (the rest below,
    outside the photo or hidden) and the model does not fit a whole, tiny
    body into the visible part.

    Args:
        joints (array-like): :math:`(12, 2)` pixels.
        confidence (array-like): :math:`(12,)`.
        box (array-like): ``(x, y, w, h)`` pixels.
        threshold (float): Confidence above which a joint is seen.
            (default: ``0.5``)

    Returns:
        np.ndarray: ``(x, y, w, h)`` float32.
    """
    x, y, w, h = (float(v) for v in box)
    height = body_height(joints, confidence, box, threshold)
    return np.array([x, y, w, max(h, height)], np.float32)

r"""2D keypoints for the skeleton branch: the :class:`Person` record and files.

* :class:`Person` holds one person's 12 joints
  (:data:`~bigraph_pyg.topology.JOINT_NAMES` order, pixels), their
  confidences and a box (:func:`keypoint_box`);
* :func:`read_keypoints` reads them from COCO or OpenPose JSON;
* the index tables name where each joint sits in the other layouts:
  :data:`COCO_TO_JOINTS`, :data:`OPENPOSE25_TO_JOINTS`,
  :data:`OPENPOSE18_TO_JOINTS` and :data:`MEDIAPIPE_TO_JOINTS`.

The detector that finds them in a photo (MediaPipe Pose) is in
:mod:`bigraph_pyg.apps.detection`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bigraph_pyg.topology import JOINT_NAMES

__all__ = [
    "COCO_TO_JOINTS",
    "MEDIAPIPE_LANDMARK_NAMES",
    "MEDIAPIPE_TO_JOINTS",
    "NoPersonError",
    "OPENPOSE18_TO_JOINTS",
    "OPENPOSE25_TO_JOINTS",
    "Person",
    "keypoint_box",
    "read_keypoints",
]

_COCO_NAMES = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
#: COCO keypoint index of each of the 12 joints (JOINT_NAMES order).
COCO_TO_JOINTS: tuple[int, ...] = tuple(
    _COCO_NAMES.index(n) for n in JOINT_NAMES
)
_OP25 = {
    "right_shoulder": 2,
    "right_elbow": 3,
    "right_wrist": 4,
    "left_shoulder": 5,
    "left_elbow": 6,
    "left_wrist": 7,
    "right_hip": 9,
    "right_knee": 10,
    "right_ankle": 11,
    "left_hip": 12,
    "left_knee": 13,
    "left_ankle": 14,
}
_OP18 = {
    "right_shoulder": 2,
    "right_elbow": 3,
    "right_wrist": 4,
    "left_shoulder": 5,
    "left_elbow": 6,
    "left_wrist": 7,
    "right_hip": 8,
    "right_knee": 9,
    "right_ankle": 10,
    "left_hip": 11,
    "left_knee": 12,
    "left_ankle": 13,
}
#: OpenPose BODY_25 index of each joint.
OPENPOSE25_TO_JOINTS: tuple[int, ...] = tuple(_OP25[n] for n in JOINT_NAMES)
#: OpenPose COCO-18 index of each joint.
OPENPOSE18_TO_JOINTS: tuple[int, ...] = tuple(_OP18[n] for n in JOINT_NAMES)
#: MediaPipe Pose's 33 landmarks, in its order: 0-10 face, 11-22 arms and
#: hands, 23-32 legs and feet ("left" is the person's, as in JOINT_NAMES).
MEDIAPIPE_LANDMARK_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye_inner",
    "left_eye",
    "left_eye_outer",
    "right_eye_inner",
    "right_eye",
    "right_eye_outer",
    "left_ear",
    "right_ear",
    "mouth_left",
    "mouth_right",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_pinky",
    "right_pinky",
    "left_index",
    "right_index",
    "left_thumb",
    "right_thumb",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)
#: MediaPipe Pose landmark index of each joint (the person's left/right).
MEDIAPIPE_TO_JOINTS: tuple[int, ...] = tuple(
    MEDIAPIPE_LANDMARK_NAMES.index(n) for n in JOINT_NAMES
)


class NoPersonError(ValueError):
    """The detector found no person in the image."""


@dataclass(frozen=True)
class Person:
    """One person's 2D keypoints in image pixels.

    Attributes:
        joints (np.ndarray): :math:`(12, 2)` float32 ``(x, y)`` pixels, in
            :data:`~bigraph_pyg.topology.JOINT_NAMES` order.
        confidence (np.ndarray): :math:`(12,)` float32 in ``[0, 1]``
            (MediaPipe's visibility; 0/1 for keypoint files).
        box (np.ndarray): ``(x, y, w, h)`` float32, the box of the
            confident landmarks (all 33 for MediaPipe: face and feet too).
        landmarks (np.ndarray or None): :math:`(33, 3)` ``(x, y,
            visibility)`` MediaPipe landmarks in pixels, if detected.
        mask (np.ndarray or None): :math:`(H, W)` float32 in ``[0, 1]``,
            the person's segmentation in the whole photo's pixels
            (MediaPipe's, from the pass that found the person, zero outside
            the area around the person's body:
            :func:`~bigraph_pyg.apps.detection.find_people`), if detected.
            The fit's silhouette terms use it
            (:func:`~bigraph_pyg.apps.fitting.fit_person`).
    """

    joints: np.ndarray
    confidence: np.ndarray
    box: np.ndarray
    landmarks: np.ndarray | None = None
    mask: np.ndarray | None = field(default=None, repr=False)

    @property
    def area(self) -> float:
        """Box area in square pixels."""
        return float(self.box[2] * self.box[3])


def keypoint_box(
    points: np.ndarray,
    confidence: np.ndarray | None = None,
    threshold: float = 0.5,
) -> np.ndarray:
    """The ``(x, y, w, h)`` box of the confident points (all if none are).

    Args:
        points (np.ndarray): :math:`(N, 2)` pixels.
        confidence (np.ndarray, optional): :math:`(N,)`.
        threshold (float): Points with ``confidence > threshold`` count.

    Returns:
        np.ndarray: ``(x, y, w, h)`` float32.

    Example:
        >>> keypoint_box(np.array([[1., 2.], [5., 10.], [99., 99.]]),
        ...              np.array([1., 1., 0.])).tolist()
        [1.0, 2.0, 4.0, 8.0]
    """
    pts = np.asarray(points, np.float64)
    if confidence is not None:
        keep = np.asarray(confidence) > threshold
        if keep.any():
            pts = pts[keep]
    lo, hi = pts.min(0), pts.max(0)
    return np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]], np.float32)


def _is_number(value) -> bool:
    return isinstance(value, int | float)


def _from_rows(values, mapping, path, what) -> Person:
    bad = [v for v in values if isinstance(v, bool) or not _is_number(v)]
    if bad:
        raise ValueError(
            f"Expected numbers [x, y, v] * K in {what} of {path} (got "
            f"{len(bad)} other values, first {bad[0]!r})"
        )
    arr = np.asarray(values, dtype=np.float64).reshape(-1, 3)
    pts = arr[list(mapping), :2]
    conf = (arr[list(mapping), 2] > 0).astype(np.float32)
    if not np.isfinite(pts).all():
        raise ValueError(
            f"Expected finite keypoints in {path} (got NaN or inf in {what})"
        )
    pts = pts.astype(np.float32)
    return Person(joints=pts, confidence=conf, box=keypoint_box(pts, conf))


def read_keypoints(path: str | os.PathLike) -> Person:
    """12 joints from a COCO or OpenPose keypoint JSON (first person).

    Accepted layouts: a COCO annotation ``{"keypoints": [x, y, v] * 17}``,
    a list of them, or ``{"annotations": [...]}``; OpenPose
    ``{"people": [{"pose_keypoints_2d": [x, y, c] * 25 (or 18)}]}``.

    Args:
        path (str or PathLike): The JSON file.

    Returns:
        Person: joints :math:`(12, 2)` pixels, confidence 1 where labelled
        (0 where the file says unlabelled), the joints' box.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not JSON, or none of the layouts above.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"Expected a keypoints JSON file at {path} (got "
            f"{'a folder' if path.is_dir() else 'no such file'})"
        )
    try:
        doc = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(
            f"Expected a JSON file at {path} (got {type(err).__name__}: {err})"
        ) from err
    fmt = (
        "COCO {'keypoints': [x, y, v] * 17} (or a list of them, or "
        "{'annotations': [...]}) or OpenPose {'people': "
        "[{'pose_keypoints_2d': [x, y, c] * 25 or 18}]}"
    )
    if isinstance(doc, dict) and isinstance(doc.get("people"), list):
        if not doc["people"]:
            raise NoPersonError(
                f"Expected at least one person in {path} "
                "(got an empty 'people' list)"
            )
        first = doc["people"][0]
        if not isinstance(first, dict):
            raise ValueError(
                f"Expected each of 'people' in {path} to be an object with "
                f"'pose_keypoints_2d' (got {type(first).__name__})"
            )
        kp = first.get("pose_keypoints_2d")
        n = len(kp) if isinstance(kp, list) else 0
        if n == 75:
            return _from_rows(kp, OPENPOSE25_TO_JOINTS, path, "BODY_25")
        if n == 54:
            return _from_rows(kp, OPENPOSE18_TO_JOINTS, path, "COCO-18")
        raise ValueError(
            f"Expected OpenPose pose_keypoints_2d of 75 or 54 "
            f"numbers in {path} (got {n})"
        )
    if isinstance(doc, dict) and isinstance(doc.get("annotations"), list):
        doc = doc["annotations"]
    if isinstance(doc, list) and doc:
        doc = doc[0]
    if isinstance(doc, dict) and isinstance(doc.get("keypoints"), list):
        kp = doc["keypoints"]
        if len(kp) != 51:
            raise ValueError(
                f"Expected 51 COCO keypoint numbers (17 x [x, "
                f"y, v]) in {path} (got {len(kp)})"
            )
        return _from_rows(kp, COCO_TO_JOINTS, path, "COCO keypoints")
    raise ValueError(
        f"Expected keypoints as {fmt} in {path} (got "
        f"{type(doc).__name__} without those keys)"
    )

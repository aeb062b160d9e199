"""The real-photo benchmark's metrics, landmark map and label schema.

Small data made here; no network, no photos. MediaPipe is not needed.
"""

import copy
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load():
    key = "bench_real_photos"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            key, BENCH / "real_photos.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


rp = _load()


def _grid(n=8, noise=0.0, seed=0):
    """An n x n flat grid of unit squares, optionally jittered in z."""
    xs, ys = np.meshgrid(np.arange(n, dtype=float), np.arange(n, dtype=float))
    v = np.stack([xs.ravel(), ys.ravel(), np.zeros(n * n)], 1)
    if noise:
        v[:, 2] = np.random.default_rng(seed).normal(0.0, noise, n * n)
    f = []
    for i in range(n - 1):
        for j in range(n - 1):
            a, b, c, d = (
                i * n + j,
                i * n + j + 1,
                (i + 1) * n + j,
                (i + 1) * n + j + 1,
            )
            f += [[a, b, d], [a, d, c]]
    return v, np.array(f)


def test_box_iou_known_values():
    assert rp.box_iou([0, 0, 10, 10], [0, 0, 10, 10]) == 1.0
    assert rp.box_iou([0, 0, 10, 10], [5, 0, 10, 10]) == pytest.approx(50 / 150)
    assert rp.box_iou([0, 0, 10, 10], [20, 20, 5, 5]) == 0.0


def test_mask_iou_known_values():
    a = np.zeros((10, 10), bool)
    b = np.zeros((10, 10), bool)
    a[:, :5] = True  # 50 pixels
    b[:5, :] = True  # 50 pixels, 25 shared
    assert rp.mask_iou(a, b) == pytest.approx(25 / 75)
    assert rp.mask_iou(a, a) == 1.0
    assert np.isnan(rp.mask_iou(np.zeros((3, 3)), np.zeros((3, 3))))
    with pytest.raises(ValueError, match="one shape"):
        rp.mask_iou(a, np.zeros((4, 4)))


def test_rasterize_square():
    v = np.array([[2.0, 2.0], [8.0, 2.0], [8.0, 8.0], [2.0, 8.0]])
    m = rp.rasterize(v, np.array([[0, 1, 2], [0, 2, 3]]), (10, 12))
    assert m.shape == (10, 12)
    assert 30 <= m.sum() <= 49  # the 6 x 6 square, edges either way
    assert m[5, 5] and not m[0, 0] and not m[9, 11]


def test_roughness_flat_is_zero_noisy_is_not():
    v, f = _grid()
    assert rp.roughness(v, f) == pytest.approx(0.0, abs=1e-12)
    # scale invariant, and a rotated flat grid is still flat
    rot = np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))[0]
    assert rp.roughness(3.0 * v @ rot.T, f) == pytest.approx(0.0, abs=1e-9)
    vn, _ = _grid(noise=0.2)
    assert rp.roughness(vn, f) > 0.05


def test_landmark_agreement():
    proj = np.zeros((33, 2))
    det = np.zeros((33, 2))
    det[:, 0] = 10.0  # every landmark 10 px off
    vis = np.ones(33)
    vis[:3] = 0.2  # three not counted
    proj[3] = np.nan  # no counterpart: not counted
    agree, count = rp.landmark_agreement(proj, det, vis, box_height=100.0)
    assert agree == pytest.approx(0.1) and count == 29
    agree, count = rp.landmark_agreement(proj, det, np.zeros(33), 100.0)
    assert np.isnan(agree) and count == 0


@pytest.fixture(scope="module")
def marks():
    from bigraph_pyg.body import default_body

    return rp.BodyLandmarks.from_body(default_body())


def test_landmark_map_in_range_and_complete(marks):
    nv = len(marks.template)
    assert len(rp.MEDIAPIPE_NAMES) == 33
    assert set(marks.vertex) | set(marks.joint) == set(rp.MEDIAPIPE_NAMES)
    assert all(0 <= i < nv for i in marks.vertex.values())
    assert all(0 <= i < 24 for i in marks.joint.values())
    pts = marks.landmarks(marks.template)
    assert pts.shape == (33, 3) and np.isfinite(pts).all()
    idx = {n: i for i, n in enumerate(rp.MEDIAPIPE_NAMES)}
    # the person's left is +x in the template; face above shoulders
    for name in ("eye", "ear", "shoulder", "wrist", "index", "heel"):
        assert pts[idx[f"left_{name}"], 0] > pts[idx[f"right_{name}"], 0]
    assert pts[idx["nose"], 1] > pts[idx["left_shoulder"], 1]
    assert pts[idx["left_foot_index"], 2] > pts[idx["left_heel"], 2]
    # the 12 joints map onto MediaPipe's own indices of them
    from bigraph_pyg.apps import MEDIAPIPE_TO_JOINTS

    assert rp.mediapipe_joint_indices() == list(MEDIAPIPE_TO_JOINTS)


def test_proportions_of_known_meshes(marks):
    tpl = marks.template
    true_height = np.ptp(tpl[:, 1])
    props = rp.proportions(tpl, marks)
    assert props["stature_m"] == pytest.approx(true_height, rel=0.03)
    assert rp.in_adult_range(props)
    # a uniformly scaled body keeps its ratios
    big = rp.proportions(1.3 * tpl, marks)
    assert big["shoulder"] == pytest.approx(props["shoulder"], rel=1e-9)
    assert big["stature_m"] == pytest.approx(1.3 * props["stature_m"])
    # squeezed to half its width: a stick-thin body is out of range
    thin = rp.proportions(tpl * np.array([0.5, 1.0, 0.5]), marks)
    assert thin["hip"] == pytest.approx(props["hip"] / 2, rel=0.05)
    assert not rp.in_adult_range(thin)


def _labels(tmp_path, mutate=None):
    src = json.loads((BENCH / "real_photos_labels.json").read_text())
    doc = copy.deepcopy(src)
    if mutate:
        mutate(doc)
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(doc))
    return path


def test_shipped_labels_match_the_photo_set():
    labels = rp.read_labels(BENCH / "real_photos_labels.json")
    assert set(labels) == {s.name for s in rp.PHOTOS}
    kinds = [lab["kind"] for lab in labels.values()]
    assert {"full", "partial", "none"} <= set(kinds)


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda d: d.pop("format"), "'format': 1"),
        (lambda d: d["photos"]["messi"].update(kind="half"), "kind"),
        (lambda d: d["photos"]["messi"].update(box=[1, 2, 3]), "box"),
        (lambda d: d["photos"]["messi"].update(box=[0, 0, -5, 5]), "box"),
        (lambda d: d["photos"]["coffee"].update(box=[0, 0, 5, 5]), "null"),
        (lambda d: d["photos"]["messi"].pop("sha256_16"), "missing"),
        (lambda d: d["photos"]["messi"].update(others=[[0, 0]]), "others"),
        (lambda d: d["photos"]["cat"].update(image_size=[300]), "image_size"),
    ],
)
def test_label_schema_errors_name_the_file(tmp_path, mutate, match):
    path = _labels(tmp_path, mutate)
    with pytest.raises(ValueError, match=match) as err:
        rp.read_labels(path)
    assert str(path) in str(err.value)


def test_label_file_not_json(tmp_path):
    path = tmp_path / "labels.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="Expected JSON in .*labels.json"):
        rp.read_labels(path)


def test_photo_hash_sees_a_changed_pixel():
    img = np.zeros((4, 5, 3), np.uint8)
    other = img.copy()
    other[1, 1, 0] = 1
    assert rp.photo_hash(img) == rp.photo_hash(img.copy())
    assert rp.photo_hash(img) != rp.photo_hash(other)
    assert rp.photo_hash(img) != rp.photo_hash(img.reshape(5, 4, 3))


def test_opencv_doc_without_apt_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(rp.shutil, "which", lambda name: None)
    with pytest.raises(FileNotFoundError, match="apt-get and dpkg"):
        rp.opencv_doc_examples(tmp_path)


def test_outcome_rules():
    class Pred:
        box = np.array([-5.0, 0.0, 15.0, 10.0])  # clipped to the photo
        image_size = (100, 100)
        quality = None

    lab = {"box": [0, 0, 10, 10], "others": [[50, 50, 10, 10]]}
    assert rp.outcome("full", lab, Pred(), None) == ("chosen", True)
    far = Pred()
    far.box = np.array([50.0, 50.0, 10.0, 10.0])
    assert rp.outcome("full", lab, far, None) == ("another person", False)
    from bigraph_pyg.apps import NoPersonError

    none = {"box": None, "others": []}
    assert rp.outcome("none", none, None, NoPersonError("x")) == (
        "refused",
        True,
    )
    assert rp.outcome("none", none, Pred(), None) == ("false person", False)
    assert rp.outcome("full", lab, None, RuntimeError("x"))[1] is False

    class Refused:
        verdict = "refused"
        reasons = ("too small",)

    refused = Pred()
    refused.quality = Refused()
    assert rp.outcome("full", lab, refused, None) == (
        "refused (chosen)",
        False,
    )
    assert rp.outcome("none", none, refused, None) == ("refused", True)


@pytest.mark.skipif(
    importlib.util.find_spec("mediapipe") is None, reason="needs mediapipe"
)
def test_mediapipe_reference_on_a_blank_image_finds_no_one():
    img = np.full((120, 100, 3), 128, np.uint8)
    assert rp.mediapipe_reference(img, [10, 10, 50, 80]) is None

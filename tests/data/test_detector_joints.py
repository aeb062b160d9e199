"""--joint-noise detector: the demo detector's joints on a cache's renders."""

from __future__ import annotations

import shutil
import sys

import numpy as np
import pytest
import torch

from bigraph_pyg.apps.datasets import NOISE_STREAMS, apply_joint_noise
from bigraph_pyg.apps.detector_joints import (
    DETECTIONS_FILE,
    detect_split,
    use_detections,
)
from bigraph_pyg.apps.keypoints import Person
from bigraph_pyg.data import (
    JointNoise,
    SyntheticHumans,
    SyntheticPoses,
    draw_estimates,
)
from bigraph_pyg.engine.batching import CachedDataset

from .conftest import SYN_CONFIG


@pytest.fixture
def split(synthetic_root, tmp_path):
    """A private copy of the tiny cache (detections are written beside it)."""
    root = tmp_path / "cache"
    shutil.copytree(synthetic_root / "train", root / "train")
    return root


def _cached(root, n, size=(64, 64)):
    """The split in memory, as ``synthetic_splits`` builds it."""
    src = SyntheticHumans(
        root,
        "train",
        n,
        config=SYN_CONFIG,
        with_vertices=False,
        progress=False,
        generate=False,
    )
    return CachedDataset(src, size, progress=False)


def _gt_detector(root, n):
    """A detector that returns each render's ground truth, shifted by +3 px,
    looked up by the image's pixels (so a misread render is caught)."""
    from PIL import Image

    gt = _cached(root, n, (224, 224)).data["joints_2d"].numpy()
    table = {}
    for i in range(n):
        with Image.open(root / "train" / "images" / f"{i:07d}.jpg") as im:
            table[np.asarray(im.convert("RGB")).tobytes()] = i

    def detect(img):
        i = table[img.tobytes()]
        if i == 2:  # "no person" on render 2
            return []
        conf = np.full(12, 0.9, np.float32)
        conf[i % 12] = 0.2  # one unconfident joint per person
        return [Person(gt[i] + 3.0, conf, np.zeros(4, np.float32))]

    return detect, gt


def test_use_detections_scales_flags_and_fills(split, syn_n):
    detect, gt = _gt_detector(split, syn_n)
    det = detect_split(split / "train", syn_n, detect, progress=False)
    assert not (split / "train" / DETECTIONS_FILE).exists()  # not MediaPipe
    assert det["person"].tolist() == [i != 2 for i in range(syn_n)]
    assert tuple(det["image_size"]) == (224, 224)
    ds = _cached(split, syn_n)
    before = ds.data["joints_2d_est"].clone()
    used = use_detections(ds, det)
    assert used.tolist() == det["person"].tolist()
    est = ds.data["joints_2d_est"].numpy()
    vis = ds.data["joints_2d_est_visible"].numpy()
    for i in np.flatnonzero(used):
        want = (gt[i] + 3.0) * 64 / 224  # render pixels -> model pixels
        ok = np.arange(12) != i % 12
        np.testing.assert_allclose(est[i, ok], want[ok], rtol=1e-5)
        np.testing.assert_allclose(est[i, i % 12], want[ok].mean(0), rtol=1e-5)
        assert vis[i].tolist() == ok.astype(float).tolist()
    assert torch.equal(ds.data["joints_2d_est"][2], before[2])  # kept
    with pytest.raises(ValueError, match="detections of 6 samples"):
        use_detections(_cached(split, syn_n), {**det, "joints": gt[:5]})


def test_apply_joint_noise_detector(split, syn_n, monkeypatch):
    from bigraph_pyg.apps import detector_joints

    detect, _ = _gt_detector(split, syn_n)
    real = detector_joints.detect_split

    def fake(folder, n, detect_fn=None, progress=True):
        assert detect_fn is None  # the scripts use the demo's detector
        return real(folder, n, detect, progress)

    monkeypatch.setattr(detector_joints, "detect_split", fake)
    ds = _cached(split, syn_n)
    poses = SyntheticPoses(None, 4, progress=False)
    found = apply_joint_noise(
        "detector", {"train": ds, "lift": poses}, seed=0, root=split
    )
    assert list(found) == ["train"]
    assert found["train"].tolist() == [i != 2 for i in range(syn_n)]
    # No render (lift) or no person (sample 2): the fitted noise's draw.
    noise = JointNoise.mediapipe()
    want, _ = draw_estimates(noise, poses.arrays["joints_2d"], 0, 3)
    np.testing.assert_array_equal(poses.arrays["joints_2d_est"], want)
    want, _ = draw_estimates(
        noise, ds.data["joints_2d"].numpy(), 0, NOISE_STREAMS["train"]
    )
    np.testing.assert_allclose(ds.data["joints_2d_est"][2].numpy(), want[2])
    with pytest.raises(ValueError, match="Expected root"):
        apply_joint_noise("detector", {"train": ds}, seed=0)


def test_detector_names_its_extra(split, syn_n, monkeypatch):
    monkeypatch.setitem(sys.modules, "mediapipe", None)
    with pytest.raises(
        ImportError, match=r"pip install 'bigraph_pyg\[detect\]'"
    ):
        detect_split(split / "train", syn_n, progress=False)


def test_missing_render_is_named(split, syn_n):
    (split / "train" / "images" / "0000003.jpg").unlink()
    with pytest.raises(FileNotFoundError, match="0000003.jpg"):
        detect_split(split / "train", syn_n, lambda img: [], progress=False)


def test_mediapipe_on_renders_is_kept_and_close(split, syn_n):
    """The real detector on the renders: near the truth, kept, read back."""
    pytest.importorskip("mediapipe")
    folder = split / "train"
    try:
        det = detect_split(folder, syn_n, progress=False)
    except ImportError as err:  # e.g. an unsupported protobuf release
        pytest.skip(str(err))
    assert det["person"].sum() >= syn_n - 2
    gt = _cached(split, syn_n, (224, 224)).data["joints_2d"].numpy()
    ok = (det["confidence"] > 0.5) & det["person"][:, None]
    err = np.linalg.norm(det["joints"] - gt, axis=-1)[ok]
    box = np.ptp(gt, axis=1).max(-1)[:, None].repeat(12, 1)[ok]
    assert np.median(err / box) < 0.1  # detector_noise.json: 0.023
    path = folder / DETECTIONS_FILE
    stamp = path.stat().st_mtime_ns
    again = detect_split(folder, syn_n, progress=False)
    assert path.stat().st_mtime_ns == stamp  # read back, not redone
    for k in det:
        np.testing.assert_array_equal(again[k], det[k])
    # Another size is detected again (the split's renders changed).
    assert len(detect_split(folder, syn_n - 1, progress=False)["person"]) == (
        syn_n - 1
    )

"""JointNoise's detector-like fields, its MediaPipe preset, redrawing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from bigraph_pyg.apps.datasets import (
    NOISE_STREAMS,
    apply_joint_noise,
    redraw_joint_noise,
)
from bigraph_pyg.data import (
    JointNoise,
    SampleGenerator,
    SyntheticConfig,
    SyntheticPoses,
    draw_estimates,
)
from bigraph_pyg.data.generator import in_crop
from bigraph_pyg.engine.batching import CachedDataset
from bigraph_pyg.topology import FLIP_PERM, JOINT_NAMES

ROOT = Path(__file__).resolve().parents[2]
IDX = {n: i for i, n in enumerate(JOINT_NAMES)}
#: The four limbs, as joint indices.
LIMBS = [
    tuple(IDX[f"{side}_{j}"] for j in chain)
    for side in ("right", "left")
    for chain in (("shoulder", "elbow", "wrist"), ("hip", "knee", "ankle"))
]


def _joints(seed=0):
    return np.random.default_rng(seed).uniform(20, 200, (12, 2))


def _first_version_apply(noise, j, rng):
    """JointNoise.apply as written before the optional fields existed."""
    n = 12
    box = float(max(np.ptp(j[:, 0]), np.ptp(j[:, 1]), 1e-6))
    hard = ("right_wrist", "left_wrist", "right_ankle", "left_ankle")
    scale = np.array([noise.hard_scale if m in hard else 1.0 for m in IDX])
    out = j + rng.standard_normal((n, 2)) * (noise.sigma * box * scale[:, None])
    jump = rng.random(n) < noise.outlier_prob
    out[jump] += rng.standard_normal((int(jump.sum()), 2)) * (
        noise.outlier_sigma * box
    )
    if rng.random() < noise.swap_prob:
        i = int(rng.integers(n))
        out[[i, FLIP_PERM[i]]] = out[[FLIP_PERM[i], i]]
    vis = (rng.random(n) >= noise.miss_prob).astype(np.float64)
    if (vis > 0).any():
        out[vis == 0] = out[vis > 0].mean(axis=0)
    return out.astype(np.float32), vis.astype(np.float32)


@pytest.mark.parametrize("seed", range(20))
def test_defaults_draw_exactly_as_the_first_version(seed):
    # The caches' estimates stay valid: same values, same draws consumed.
    noise = JointNoise(swap_prob=0.5, outlier_prob=0.2, miss_prob=0.2)
    j = _joints(seed)
    r1, r2 = np.random.default_rng(seed), np.random.default_rng(seed)
    est, vis = noise.apply(j, r1)
    ref, ref_vis = _first_version_apply(noise, j, r2)
    np.testing.assert_array_equal(est, ref)
    np.testing.assert_array_equal(vis, ref_vis)
    assert r1.random() == r2.random()


def test_cache_config_json_unchanged_by_the_new_fields():
    # Caches store SyntheticConfig().to_json(); the first version's keys.
    first = {
        "sigma": 0.02,
        "hard_scale": 1.8,
        "outlier_prob": 0.03,
        "outlier_sigma": 0.15,
        "swap_prob": 0.03,
        "miss_prob": 0.04,
    }
    assert SyntheticConfig().to_json()["joint_noise"] == first
    preset = SyntheticConfig(joint_noise=JointNoise.mediapipe()).to_json()
    assert len(preset["joint_noise"]["miss_probs"]) == 12
    json.dumps(preset)


def test_per_joint_misses():
    probs = [0.0] * 12
    probs[IDX["left_wrist"]] = 1.0
    _, vis = JointNoise(miss_probs=probs).apply(
        _joints(), np.random.default_rng(0)
    )
    assert vis.tolist() == [float(i != IDX["left_wrist"]) for i in range(12)]
    probs = np.linspace(0.0, 0.55, 12)
    noise = JointNoise(miss_probs=tuple(probs))
    gt = np.stack([_joints(k) for k in range(4000)])
    _, vis = draw_estimates(noise, gt, seed=0)
    np.testing.assert_allclose(1 - vis.mean(0), probs, atol=0.03)


def _exact(**kw):
    base = dict(sigma=0, outlier_prob=0, swap_prob=0, miss_prob=0)
    return JointNoise(**{**base, **kw})


def test_chain_swap_exchanges_a_whole_limb():
    j = _joints()
    for seed in range(10):
        est, _ = _exact(chain_swap_prob=1.0).apply(
            j, np.random.default_rng(seed)
        )
        moved = np.flatnonzero(np.abs(est - j).max(1) > 1e-4)
        assert len(moved) == 6  # three joints and their mirrors
        np.testing.assert_allclose(est[moved], j[list(FLIP_PERM)][moved])
        sides = {JOINT_NAMES[i].split("_")[1] for i in moved}
        assert sides in (
            {"shoulder", "elbow", "wrist"},
            {"hip", "knee", "ankle"},
        )


def test_chain_outlier_moves_one_limb_together():
    j = _joints()
    box = float(np.ptp(j, axis=0).max())
    shifts = []
    for seed in range(200):
        est, _ = _exact(chain_outlier_prob=1.0, chain_outlier_sigma=0.3).apply(
            j, np.random.default_rng(seed)
        )
        d = est - j
        moved = np.flatnonzero(np.abs(d).max(1) > 1e-4)
        assert sorted(moved.tolist()) in [sorted(limb) for limb in LIMBS]
        np.testing.assert_allclose(
            d[moved], d[moved[:1]].repeat(3, 0), atol=1e-3
        )
        shifts.append(d[moved[0]] / box)
    assert np.std(shifts) == pytest.approx(0.3, rel=0.15)


def test_width_scales_keep_the_midpoints():
    j = _joints()
    est, _ = _exact(hip_width_scale=0.5, shoulder_width_scale=0.8).apply(
        j, np.random.default_rng(0)
    )
    for (a, b), f in (
        (("right_hip", "left_hip"), 0.5),
        (("right_shoulder", "left_shoulder"), 0.8),
    ):
        i, k = IDX[a], IDX[b]
        np.testing.assert_allclose(
            (est[i] + est[k]) / 2, (j[i] + j[k]) / 2, atol=1e-4
        )
        assert np.linalg.norm(est[i] - est[k]) == pytest.approx(
            f * np.linalg.norm(j[i] - j[k]), rel=1e-5
        )
    others = [
        IDX[n] for n in JOINT_NAMES if "hip" not in n and "shoulder" not in n
    ]
    np.testing.assert_allclose(est[others], j[others], atol=1e-4)


def test_new_field_errors():
    with pytest.raises(ValueError, match="miss_probs.*12 values"):
        JointNoise(miss_probs=(0.1,) * 11)
    with pytest.raises(ValueError, match="miss_probs"):
        JointNoise(miss_probs=(0.1,) * 11 + (1.5,))
    with pytest.raises(ValueError, match="chain_swap_prob"):
        JointNoise(chain_swap_prob=1.2)
    with pytest.raises(ValueError, match="hip_width_scale"):
        JointNoise(hip_width_scale=-1.0)
    with pytest.raises(ValueError, match=r"shape \(N, 12, 2\)"):
        draw_estimates(JointNoise(), np.zeros((4, 12)), seed=0)


def test_draw_estimates_per_sample_streams():
    gt = np.stack([_joints(k) for k in range(8)])
    est, vis = draw_estimates(JointNoise.mediapipe(), gt, seed=3, stream=1)
    sub, sub_vis = draw_estimates(JointNoise.mediapipe(), gt[:3], 3, stream=1)
    np.testing.assert_array_equal(est[:3], sub)  # independent of the rest
    other, _ = draw_estimates(JointNoise.mediapipe(), gt, seed=3, stream=2)
    assert not np.allclose(est, other)
    assert est.dtype == np.float32 and vis.shape == (8, 12)


def test_mediapipe_preset_matches_the_measurement(monkeypatch):
    """The preset's statistics against MediaPipe's, measured on renders."""
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    from detector_noise import gt_box_size, joint_stats

    result = json.loads((ROOT / "docs/results/detector_noise.json").read_text())
    measured, margin = result["mediapipe"]["overall"], result["swap_margin"]
    gen = SampleGenerator(SyntheticConfig(), render=False)
    gt = gen.geometry(0, "test", list(range(600)))["joints_2d"]
    gt = gt.astype(np.float64)
    est, vis = draw_estimates(JointNoise.mediapipe(), gt, seed=0)
    got = joint_stats(
        est.astype(np.float64), vis > 0, gt, gt_box_size(gt), margin
    )
    got = got["overall"]
    tol = {
        "median": 0.004,
        "p90": 0.015,
        "miss_rate": 0.015,
        "outlier_rate": 0.012,
        "swap_rate": 0.015,
        "hip_width_ratio": 0.03,
        "shoulder_width_ratio": 0.03,
        "outliers_per_outlier_sample": 0.6,
    }
    for key, t in tol.items():
        assert abs(got[key] - measured[key]) <= t, (
            key,
            got[key],
            measured[key],
        )
    # The default noise is far from it (what the preset is for).
    est, vis = draw_estimates(JointNoise(), gt, seed=0)
    default = joint_stats(
        est.astype(np.float64), vis > 0, gt, gt_box_size(gt), margin
    )
    assert measured["miss_rate"] - default["overall"]["miss_rate"] > 0.04


def test_redrawn_noise_is_independent_of_the_sample():
    # A sample's geometry (shape, pose, camera) comes from [seed, split, i];
    # its redrawn estimate must not reuse that stream.
    n = 48
    gen = SampleGenerator(SyntheticConfig(), render=False)
    geo = gen.geometry(0, "test", list(range(n)))
    gt = geo["joints_2d"].astype(np.float64)
    jitter_only = JointNoise(0.01, 1.0, 0.0, 0.0, 0.0, 0.0)
    est, _ = draw_estimates(
        jitter_only, gt, seed=0, stream=NOISE_STREAMS["test"]
    )
    box = np.ptp(gt, axis=1).max(-1)
    z = (est - gt)[:, 0, 0] / (0.01 * box)  # first normal of each sample
    beta0 = geo["betas"][:, 0]
    assert abs(np.corrcoef(z, beta0)[0, 1]) < 0.5


def test_redraw_joint_noise_on_pose_only_samples():
    poses = SyntheticPoses(None, 8, progress=False)
    keep = poses.arrays["joints_3d"]
    redraw_joint_noise(poses, JointNoise.mediapipe(), seed=0, stream="lift")
    want, want_vis = draw_estimates(
        JointNoise.mediapipe(),
        poses.arrays["joints_2d"],
        0,
        NOISE_STREAMS["lift"],
    )
    np.testing.assert_array_equal(poses.arrays["joints_2d_est"], want)
    np.testing.assert_array_equal(
        poses.arrays["joints_2d_est_visible"], want_vis
    )
    assert poses.arrays["joints_3d"] is keep
    # A batch drawn afresh (--lift-redraw-noise) uses the new model too,
    # not the generator's JointNoise().
    assert poses.config.joint_noise == JointNoise.mediapipe()
    idx = torch.arange(8)
    got = poses.batch(idx, redraw=np.random.default_rng(5))
    uv = poses.arrays["joints_2d"]
    est, vis = JointNoise.mediapipe().apply_batch(
        uv, np.random.default_rng(5), in_crop(uv, poses.config.image_size)
    )
    np.testing.assert_array_equal(got["joints_2d_est"].numpy(), est)
    np.testing.assert_array_equal(got["joints_2d_est_visible"].numpy(), vis)
    with pytest.raises(ValueError, match="stream"):
        redraw_joint_noise(poses, JointNoise(), 0, "holdout")


class _Samples(torch.utils.data.Dataset):
    """Stand-in samples with every training key (for CachedDataset)."""

    def __init__(self, real: bool):
        from bigraph_pyg.data.keys import empty_sample

        self.samples = []
        for k in range(6):
            s = empty_sample("lsp" if real else "synthetic", k)
            s["joints_2d"] = torch.from_numpy(_joints(k).astype(np.float32)) / 8
            s["joints_2d_visible"] = torch.ones(12)
            s["joints_2d_visible"][3] = 0.0  # a joint the "annotator" missed
            self.samples.append(s)

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        return self.samples[i]


@pytest.mark.parametrize("real", [False, True])
def test_redraw_joint_noise_on_a_cached_set(real):
    ds = CachedDataset(_Samples(real), (32, 32), progress=False)
    if real:
        with pytest.raises(ValueError, match="SyntheticHumans"):
            redraw_joint_noise(ds, JointNoise(), 0, "train")
        return
    ds.source_name = "SyntheticHumans"  # as synthetic_splits builds it
    before = ds.data["joints_2d"].clone()
    redraw_joint_noise(ds, JointNoise(miss_prob=0.0), seed=1, stream="train")
    vis = ds.data["joints_2d_est_visible"]
    assert vis.dtype == torch.float32 and (vis[:, 3] == 0).all()
    assert (vis[:, [0, 1, 2, 4]] == 1).all()  # no misses drawn
    assert torch.equal(ds.data["joints_2d"], before)
    est = ds.data["joints_2d_est"]
    assert not torch.allclose(est, before) and torch.isfinite(est).all()
    with pytest.raises(ValueError, match="SyntheticPoses"):
        redraw_joint_noise(object(), JointNoise(), 0, "train")


def test_apply_joint_noise_by_name():
    poses = SyntheticPoses(None, 4, progress=False)
    cached = poses.arrays["joints_2d_est"].copy()
    apply_joint_noise("cache", {"lift": poses}, seed=0)
    np.testing.assert_array_equal(poses.arrays["joints_2d_est"], cached)
    apply_joint_noise("mediapipe", {"lift": poses, "val": None}, seed=0)
    want, _ = draw_estimates(
        JointNoise.mediapipe(),
        poses.arrays["joints_2d"],
        0,
        NOISE_STREAMS["lift"],
    )
    np.testing.assert_array_equal(poses.arrays["joints_2d_est"], want)
    with pytest.raises(ValueError, match="joint_noise in"):
        apply_joint_noise("hrnet", {"lift": poses}, seed=0)

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from bigraph_pyg.data import (
    PAPER_RATIOS,
    PART_FLIP,
    PART_NAMES,
    SMPL_FLIP_PERM,
    AugmentParams,
    EpochSeeded,
    JointNoise,
    MixedDataset,
    crop_matrix,
    flip_pose,
    transform_intrinsics,
    transform_points_2d,
    transform_pose,
    vertex_part_labels,
    warp_image,
)
from bigraph_pyg.data.synthetic import _apply_augment  # noqa: PLC2701
from bigraph_pyg.geometry import axis_angle_to_matrix
from bigraph_pyg.topology import FLIP_PERM, SMPL_JOINT_NAMES


# ---------------------------------------------------------------- augment
def test_flip_twice_is_identity():
    rng = np.random.default_rng(0)
    pose = rng.normal(0, 0.5, 72).astype(np.float32)
    np.testing.assert_allclose(flip_pose(flip_pose(pose)), pose)
    assert SMPL_FLIP_PERM[
        SMPL_JOINT_NAMES.index("left_wrist")
    ] == SMPL_JOINT_NAMES.index("right_wrist")
    assert PART_FLIP[PART_NAMES.index("left_leg")] == PART_NAMES.index(
        "right_leg"
    )
    flip = AugmentParams(flip=True)
    K = np.array([[500.0, 0, 100], [0, 500, 120], [0, 0, 1]])
    a = {
        "joints_2d": rng.uniform(0, 224, (12, 2)),
        "joints_2d_est": rng.uniform(0, 224, (12, 2)),
        "joints_2d_est_visible": rng.integers(0, 2, 12).astype(float),
        "joints_2d_visible": rng.integers(0, 2, 12).astype(float),
        "joints24_2d": rng.uniform(0, 224, (24, 2)),
        "joints_3d": rng.normal(0, 1, (12, 3)) + [0, 0, 5],
        "joints24_3d": rng.normal(0, 1, (24, 3)) + [0, 0, 5],
        "camera_K": K,
        "pose": pose,
        "transl": np.array([0.1, 0.2, 5.0]),
        "camera_weak": np.zeros(3),
    }
    once = _apply_augment(a, flip, 224)
    assert not np.allclose(once["joints_2d"], a["joints_2d"])
    # Visibility follows its joint to the other side.
    np.testing.assert_array_equal(
        once["joints_2d_visible"], a["joints_2d_visible"][list(FLIP_PERM)]
    )
    twice = _apply_augment(once, flip, 224)
    for key in (
        "joints_2d",
        "joints_2d_est",
        "joints_2d_est_visible",
        "joints_2d_visible",
        "joints24_2d",
        "joints_3d",
        "joints24_3d",
        "camera_K",
        "pose",
        "transl",
    ):
        np.testing.assert_allclose(twice[key], a[key], atol=1e-5, err_msg=key)


def test_flip_swaps_left_right_joint_positions():
    A = crop_matrix(np.array([111.5, 111.5]), 224, 224, flip=True)
    p = np.array([[10.0, 20.0]])
    np.testing.assert_allclose(transform_points_2d(p, A), [[213.0, 20.0]])
    assert FLIP_PERM[0] == 5  # right_ankle <-> left_ankle


def test_warp_matches_points():
    img = np.zeros((300, 400, 3), np.uint8)
    img[148:153, 248:253] = 255  # a dot centred on (250, 150)
    for rot, flip, box in ((0, False, 200), (30, True, 150), (-45, False, 260)):
        A = crop_matrix(np.array([220.0, 140.0]), box, 224, rot, flip)
        out = warp_image(img, A, 224).astype(float).mean(2)
        q = transform_points_2d(np.array([[250.0, 150.0]]), A)[0]
        ys, xs = np.nonzero(out > 100)
        np.testing.assert_allclose([xs.mean(), ys.mean()], q, atol=0.6)


def test_rotation_consistent_in_2d_3d_and_intrinsics():
    rng = np.random.default_rng(1)
    K = np.array([[400.0, 0, 90], [0, 400, 130], [0, 0, 1]])
    X = rng.normal(0, 0.5, (10, 3)) + [0, 0, 4]
    params = AugmentParams(flip=True, rot=25.0, scale=1.2)
    A = crop_matrix(np.array([111.5, 111.5]), 224 * 1.2, 224, 25.0, True)
    uv = X @ K.T
    uv = uv[:, :2] / uv[:, 2:]
    K2 = transform_intrinsics(K, A)
    X2 = X @ params.matrix_3d().T
    uv2 = X2 @ K2.T
    np.testing.assert_allclose(
        uv2[:, :2] / uv2[:, 2:], transform_points_2d(uv, A), atol=1e-6
    )
    # The pose's global rotation turns with the 3D points.
    pose = np.zeros(72, np.float32)
    pose[:3] = [0.3, -0.2, 0.1]
    p2 = transform_pose(pose, params)
    R = axis_angle_to_matrix(torch.tensor(pose[:3], dtype=torch.float64))
    R2 = axis_angle_to_matrix(torch.tensor(p2[:3], dtype=torch.float64))
    M = torch.tensor(params.matrix_3d())
    F = torch.diag(torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64))
    # Flip of a rotation: F R F (a mirror conjugation).
    torch.testing.assert_close(R2, (M @ R @ F), atol=1e-5, rtol=0)


def test_vertex_part_labels():
    w = np.zeros((3, 24))
    w[0, SMPL_JOINT_NAMES.index("head")] = 1
    w[1, SMPL_JOINT_NAMES.index("left_knee")] = 1
    w[2, SMPL_JOINT_NAMES.index("right_hand")] = 1
    lab = vertex_part_labels(w)
    assert [PART_NAMES[i] for i in lab] == ["head", "left_leg", "right_arm"]
    with pytest.raises(ValueError, match=r"\(V, 24\)"):
        vertex_part_labels(np.zeros((3, 5)))


# ---------------------------------------------------------------- noise
def test_joint_noise():
    rng = np.random.default_rng(0)
    j = rng.uniform(0, 200, (12, 2))
    est, vis = JointNoise().apply(j, np.random.default_rng(1))
    est2, vis2 = JointNoise().apply(j, np.random.default_rng(1))
    np.testing.assert_array_equal(est, est2)
    assert est.shape == (12, 2) and set(vis.tolist()) <= {0.0, 1.0}
    assert 0 < np.abs(est - j)[vis > 0].mean() < 20
    zero = JointNoise(0, 1, 0, 0, 0, 0)
    np.testing.assert_allclose(zero.apply(j, rng)[0], j, atol=1e-4)
    est, vis = JointNoise(miss_prob=1.0).apply(j, rng)
    assert vis.sum() == 0
    vis_in = np.ones(12)
    vis_in[3] = 0
    assert JointNoise(miss_prob=0).apply(j, rng, vis_in)[1][3] == 0
    # Misses over many draws are near miss_prob.
    rate = np.mean(
        [1 - JointNoise().apply(j, rng)[1].mean() for _ in range(300)]
    )
    assert 0.02 < rate < 0.07
    with pytest.raises(ValueError, match="miss_prob"):
        JointNoise(miss_prob=2.0)
    with pytest.raises(ValueError, match="finite"):
        JointNoise().apply(np.full((12, 2), np.nan), rng)


@pytest.mark.parametrize("preset", ["default", "mediapipe"])
def test_joint_noise_batch_matches_loop(preset):
    """``apply_batch`` draws the noise of ``apply``: the same error
    quantiles, per-joint mean errors and miss rates over 4000 samples of
    one pose (with two joints out of the frame), and the same deterministic
    cases."""
    noise = JointNoise() if preset == "default" else JointNoise.mediapipe()
    rng = np.random.default_rng(0)
    pose = rng.uniform(20, 200, (12, 2))
    n = 4000
    joints = np.repeat(pose[None], n, axis=0)
    vis_in = np.ones((n, 12))
    vis_in[:, [0, 5]] = 0  # the ankles out of the frame
    joints[:, [0, 5]] = np.nan  # placeholders may be NaN
    est_b, vis_b = noise.apply_batch(joints, np.random.default_rng(1), vis_in)
    loop = [
        noise.apply(np.nan_to_num(joints[i]), np.random.default_rng([2, i]), v)
        for i, v in enumerate(vis_in)
    ]
    est_l, vis_l = (
        np.stack([e for e, _ in loop]),
        np.stack([v for _, v in loop]),
    )
    assert est_b.shape == (n, 12, 2) and est_b.dtype == np.float32
    assert (vis_b[:, [0, 5]] == 0).all() and (vis_l[:, [0, 5]] == 0).all()
    err_b = np.linalg.norm(est_b - pose, axis=-1)[vis_b > 0]
    err_l = np.linalg.norm(est_l - pose, axis=-1)[vis_l > 0]
    for q in (50, 90):
        a, b = np.percentile(err_b, q), np.percentile(err_l, q)
        assert abs(a - b) < 0.1 * b, (q, a, b)
    # each joint's mean error (whole-limb swaps and jumps included)
    mean_b = np.where(vis_b > 0, np.linalg.norm(est_b - pose, axis=-1), 0)
    mean_l = np.where(vis_l > 0, np.linalg.norm(est_l - pose, axis=-1), 0)
    seen = [k for k in range(12) if k not in (0, 5)]
    a = mean_b.sum(0)[seen] / vis_b.sum(0)[seen]
    b = mean_l.sum(0)[seen] / vis_l.sum(0)[seen]
    np.testing.assert_allclose(a, b, rtol=0.15)
    # per-joint miss rates within 4 binomial standard deviations
    p = 1 - vis_l.mean(0)
    tol = 4 * np.sqrt(np.maximum(p * (1 - p), 1e-4) / n) + 1e-3
    np.testing.assert_array_less(np.abs((1 - vis_b.mean(0)) - p), tol)
    # a missed joint sits at the mean of the sample's visible ones
    i, k = np.argwhere(vis_b == 0)[0]
    np.testing.assert_allclose(
        est_b[i, k], est_b[i][vis_b[i] > 0].mean(0), rtol=1e-5
    )
    # deterministic cases: no noise; every sample's one pair swapped
    still = JointNoise(0, 1, 0, 0, 0, 0)
    full = np.repeat(pose[None], 3, axis=0)
    np.testing.assert_allclose(still.apply_batch(full, rng)[0], full, atol=1e-4)
    swapped, _ = JointNoise(0, 1, 0, 0, 1.0, 0).apply_batch(
        np.repeat(pose[None], 50, axis=0), rng
    )
    moved = (np.abs(swapped - pose) > 1e-3).any(-1)
    assert (moved.sum(1) == 2).all()
    flip = np.asarray(FLIP_PERM)
    for s, row in zip(swapped, moved, strict=True):
        a, b = np.flatnonzero(row)
        assert flip[a] == b
        np.testing.assert_allclose(s[a], pose[b], atol=1e-4)
    with pytest.raises(ValueError, match=r"shape \(B, 12, 2\)"):
        noise.apply_batch(pose, rng)
    with pytest.raises(ValueError, match="visible of shape"):
        noise.apply_batch(joints[:2], rng, vis_in[:3])
    with pytest.raises(ValueError, match="finite visible"):
        noise.apply_batch(joints[:2], rng)


def test_mix_schedule():
    from bigraph_pyg.engine.schedule import gt_mix_ratio, mix_joints_2d

    assert gt_mix_ratio(0, 10, 50) == 1.0 and gt_mix_ratio(490, 10, 50) == 0.0
    gt, est = torch.zeros(1000, 12, 2), torch.ones(1000, 12, 2)
    g = torch.Generator().manual_seed(0)
    out = mix_joints_2d(gt, est, 0.3, g)
    share = (out[:, 0, 0] == 0).float().mean()
    assert abs(share - 0.3) < 0.05
    assert (mix_joints_2d(gt, est, 0.0) == est).all()
    with pytest.raises(ValueError, match="steps_per_epoch"):
        gt_mix_ratio(5, 0, 50)


# ---------------------------------------------------------------- mixed
class _Named(Dataset):
    def __init__(self, name, n):
        self.name, self.n = name, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"dataset": self.name, "index": torch.tensor(i)}


def test_mixed_ratios():
    sizes = {"h36m": 500, "up3d": 70, "lsp": 10, "coco": 280, "mpii": 150}
    ds = MixedDataset({n: _Named(n, s) for n, s in sizes.items()}, length=1000)
    names = [ds[i]["dataset"] for i in range(len(ds))]
    for n, r in PAPER_RATIOS.items():
        assert names.count(n) == round(1000 * r), n
    # Every member index is valid and small members are cycled evenly.
    lsp_idx = [ds.locate(i)[1] for i in range(1000) if ds.locate(i)[0] == "lsp"]
    assert sorted(set(lsp_idx)) == list(range(10))
    assert np.bincount(lsp_idx).tolist() == [10] * 10
    order = [ds.locate(i) for i in range(20)]
    ds.set_epoch(1)
    assert [ds.locate(i) for i in range(20)] != order
    # Odd lengths keep the ratios within one sample.
    odd = MixedDataset({n: _Named(n, s) for n, s in sizes.items()}, length=333)
    assert (
        abs(odd.counts() - 333 * np.array(list(PAPER_RATIOS.values()))).max()
        <= 1
    )
    assert odd.counts().sum() == 333
    loader = DataLoader(
        ds,
        batch_size=100,
        num_workers=2,
        sampler=DistributedSampler(ds, num_replicas=2, rank=0),
    )
    assert sum(len(b["index"]) for b in loader) == 500


class _Seeded(EpochSeeded, _Named):
    pass


def test_mixed_set_epoch_reaches_members():
    a, b = _Seeded("a", 4), _Named("b", 4)
    ds = MixedDataset({"a": a, "b": b}, {"a": 1.0, "b": 1.0})
    draw0 = a.sample_rng(2).random()
    ds.set_epoch(3)
    assert a.epoch == 3 and not hasattr(b, "epoch")
    assert a.sample_rng(2).random() != draw0
    a.set_epoch(0)
    assert a.sample_rng(2).random() == draw0


def test_mixed_errors():
    with pytest.raises(ValueError, match="ratios for exactly"):
        MixedDataset({"a": _Named("a", 3)}, {"b": 1.0})
    with pytest.raises(ValueError, match="non-empty"):
        MixedDataset(
            {"a": _Named("a", 0), "b": _Named("b", 2)}, {"a": 1.0, "b": 1.0}
        )
    with pytest.raises(ValueError, match="non-negative"):
        MixedDataset({"a": _Named("a", 3)}, {"a": -1.0})
    with pytest.raises(ValueError, match=r"finite non-negative .*nan"):
        MixedDataset(
            {"a": _Named("a", 3), "b": _Named("b", 3)},
            {"a": float("nan"), "b": 1.0},
        )

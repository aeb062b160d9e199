import json

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler

from bigraph_pyg.data import (
    FORMAT_VERSION,
    PART_NAMES,
    SyntheticConfig,
    SyntheticHumans,
    check_sample,
    pixels_to_normalized,
    render_samples,
)
from bigraph_pyg.geometry import weak_perspective_projection
from bigraph_pyg.metrics import pa_mpjpe
from bigraph_pyg.topology import SMPL_TO_JOINTS

SYN_N = 6
SYN_CONFIG = SyntheticConfig(shard_size=4)  # as tests/data/conftest.py


def _project(K, X):
    uv = X @ K.T
    return uv[:, :2] / uv[:, 2:]


def test_synthetic_keys_and_shapes(synthetic):
    assert len(synthetic) == SYN_N
    for i in range(len(synthetic)):
        s = synthetic[i]
        check_sample(s)
        assert s["dataset"] == "synthetic" and int(s["index"]) == i
        for key in (
            "has_smpl",
            "has_pose_3d",
            "has_joints_2d",
            "has_vertices",
            "has_camera",
            "has_seg",
        ):
            assert bool(s[key]), key
        assert torch.isfinite(s["img"]).all()


def test_synthetic_2d_is_projection_of_3d(synthetic, body):
    for i in range(len(synthetic)):
        s = synthetic[i]
        K = s["camera_K"].double()
        torch.testing.assert_close(
            _project(K, s["joints_3d"].double()),
            s["joints_2d"].double(),
            atol=1e-3,
            rtol=0,
        )
        torch.testing.assert_close(
            _project(K, s["joints24_3d"].double()),
            s["joints24_2d"].double(),
            atol=1e-3,
            rtol=0,
        )
        # The 12 joints are the joint regressor on the posed mesh (the
        # metric's joints, so a perfect mesh scores 0), not the skinned
        # joint centres of joints24_3d.
        reg = body.joint_regressor[list(SMPL_TO_JOINTS)].double()
        from_mesh = reg @ (s["vertices"].double() + s["transl"].double())
        torch.testing.assert_close(
            from_mesh, s["joints_3d"].double(), atol=2e-5, rtol=0
        )
        assert float(pa_mpjpe(from_mesh[None], s["joints_3d"][None])) < 1e-2
        gap = s["joints24_3d"][list(SMPL_TO_JOINTS)] - s["joints_3d"]
        assert float(gap.norm(dim=-1).mean()) > 0.01


def test_synthetic_mask_covers_projected_vertices(synthetic):
    size = SYN_CONFIG.image_size
    for i in range(len(synthetic)):
        s = synthetic[i]
        mask = s["mask"].bool()
        assert (mask == (s["part_seg"] > 0)).all()
        assert int(s["part_seg"].max()) < len(PART_NAMES)
        assert mask.float().mean() > 0.02
        # Every body part is visible somewhere in most poses; at least 4.
        assert len(torch.unique(s["part_seg"])) >= 5
        v = (s["vertices"] + s["transl"]).double()
        uv = _project(s["camera_K"].double(), v).round().long()
        inside = ((uv >= 0) & (uv < size)).all(1)
        assert inside.float().mean() > 0.9
        grown = torch.nn.functional.max_pool2d(
            mask[None, None].float(), 3, 1, 1
        )[0, 0].bool()
        hit = grown[uv[inside, 1], uv[inside, 0]]
        assert hit.float().mean() > 0.999, hit.float().mean()


def test_synthetic_vertices_match_joints_and_weak_camera(synthetic):
    body, down = synthetic._body_and_down()
    s = synthetic[0]
    pose = s["pose"][None]
    out = body(
        betas=s["betas"][None], body_pose=pose[:, 3:], global_orient=pose[:, :3]
    )
    torch.testing.assert_close(out.vertices[0], s["vertices"])
    torch.testing.assert_close(
        out.joints[0] + s["transl"], s["joints24_3d"], atol=1e-4, rtol=0
    )
    assert s["coarse_vertices"].shape == (1723, 3)
    # Weak perspective of model-frame joints = the normalised 2D joints up
    # to perspective's own term: a joint at camera-frame (x, y, z) is off
    # by (2f / S) (x, y) (1 / z_pelvis - 1 / z), whatever the pose or view.
    model = out.joints[0] - 0.0
    weak = weak_perspective_projection(model[None], s["camera_weak"][None])
    err = weak[0] - pixels_to_normalized(s["joints24_2d"])
    cam = s["joints24_3d"].double()
    size = synthetic.config.image_size
    f = float(s["camera_K"][0, 0])
    expect = (2 * f / size) * cam[:, :2] * (1 / cam[0, 2] - 1 / cam[:, 2:])
    torch.testing.assert_close(err.double(), expect, atol=2e-3, rtol=0)
    # Exact at the pelvis.
    assert (
        weak[0, 0] - pixels_to_normalized(s["joints24_2d"][0])
    ).abs().max() < 1e-3


def test_synthetic_same_seed_same_sample(synthetic):
    a = render_samples([1, 2], seed=0, config=SYN_CONFIG)
    b = render_samples([2], seed=0, config=SYN_CONFIG)
    c = render_samples([2], seed=1, config=SYN_CONFIG)
    d = render_samples([2], seed=0, split="val", config=SYN_CONFIG)
    np.testing.assert_array_equal(a["images"][1], b["images"][0])
    np.testing.assert_array_equal(a["parts"][1], b["parts"][0])
    for key, value in b["arrays"].items():
        np.testing.assert_allclose(
            a["arrays"][key][1], value[0], atol=1e-5, err_msg=key
        )
    assert not np.array_equal(b["arrays"]["pose"], c["arrays"]["pose"])
    assert not np.array_equal(b["arrays"]["pose"], d["arrays"]["pose"])
    # The cache holds the same sample (arrays exact up to batching).
    s = synthetic[2]
    np.testing.assert_allclose(
        s["joints_2d"].numpy(), b["arrays"]["joints_2d"][0], atol=1e-3
    )
    np.testing.assert_array_equal(s["part_seg"].numpy(), b["parts"][0])


def test_synthetic_cache_reused(synthetic_root):
    shard = synthetic_root / "train" / "shard_00000.npz"
    before = shard.stat().st_mtime_ns
    SyntheticHumans(
        synthetic_root, "train", SYN_N, config=SYN_CONFIG, progress=False
    )
    assert shard.stat().st_mtime_ns == before


def test_synthetic_cache_mismatch_errors(synthetic_root, tmp_path):
    with pytest.raises(ValueError, match="meta.json.*num_samples"):
        SyntheticHumans(
            synthetic_root,
            "train",
            SYN_N + 1,
            config=SYN_CONFIG,
            progress=False,
        )
    with pytest.raises(ValueError, match="jpeg_quality"):
        SyntheticHumans(
            synthetic_root,
            "train",
            SYN_N,
            config=SyntheticConfig(shard_size=4, jpeg_quality=50),
            progress=False,
        )
    # A cache written by another version of the library.
    import shutil

    copy = tmp_path / "old"
    shutil.copytree(synthetic_root, copy)
    meta = copy / "train" / "meta.json"
    m = json.loads(meta.read_text())
    m["format_version"] = FORMAT_VERSION + 100
    meta.write_text(json.dumps(m))
    with pytest.raises(ValueError, match="format version.*delete"):
        SyntheticHumans(copy, "train", SYN_N, config=SYN_CONFIG)
    # A deleted image names the file.
    shutil.rmtree(copy / "train")
    shutil.copytree(synthetic_root / "train", copy / "train")
    (copy / "train" / "images" / "0000003.jpg").unlink()
    ds = SyntheticHumans(
        copy,
        "train",
        SYN_N,
        config=SYN_CONFIG,
        with_vertices=False,
        generate=False,
    )
    with pytest.raises(FileNotFoundError, match="0000003.jpg"):
        ds[3]
    with pytest.raises(FileNotFoundError, match="generate=True"):
        SyntheticHumans(
            tmp_path / "none", "train", 2, config=SYN_CONFIG, generate=False
        )
    with pytest.raises(ValueError, match="split"):
        SyntheticHumans(tmp_path, "training", 2)


def test_synthetic_dataloader_workers_and_distributed(synthetic_root):
    ds = SyntheticHumans(
        synthetic_root,
        "train",
        SYN_N,
        config=SYN_CONFIG,
        with_vertices=False,
        generate=False,
    )
    sampler = DistributedSampler(ds, num_replicas=2, rank=1, shuffle=True)
    loader = DataLoader(ds, batch_size=2, sampler=sampler, num_workers=2)
    batches = list(loader)
    assert sum(len(b["index"]) for b in batches) == SYN_N // 2
    b = batches[0]
    assert b["img"].shape == (2, 3, 224, 224)
    assert b["joints_2d"].shape == (2, 12, 2)
    assert b["dataset"] == ["synthetic", "synthetic"]


def test_synthetic_augmented_stays_consistent(synthetic_root):
    from bigraph_pyg.data import AugmentConfig

    ds = SyntheticHumans(
        synthetic_root,
        "train",
        SYN_N,
        config=SYN_CONFIG,
        augment=AugmentConfig(flip_prob=1.0, rot_prob=1.0),
        generate=False,
    )
    torch.manual_seed(3)
    s = ds[1]
    check_sample(s)
    K = s["camera_K"].double()
    torch.testing.assert_close(
        _project(K, s["joints_3d"].double()),
        s["joints_2d"].double(),
        atol=1e-3,
        rtol=0,
    )


def test_synthetic_augmentation_is_redrawn_per_epoch(synthetic_root):
    # Seeded by (seed, epoch, index): new each epoch, the same for the same
    # epoch whatever torch's global RNG (hence workers, resume) says.
    from bigraph_pyg.data import AugmentConfig

    ds = SyntheticHumans(
        synthetic_root,
        "train",
        SYN_N,
        config=SYN_CONFIG,
        augment=AugmentConfig(),
        generate=False,
    )
    torch.manual_seed(1)
    e0 = ds[1]
    ds.set_epoch(1)
    e1 = ds[1]
    ds.set_epoch(0)
    torch.manual_seed(2)
    again = ds[1]
    torch.testing.assert_close(again["img"], e0["img"])
    torch.testing.assert_close(again["joints_2d"], e0["joints_2d"])
    assert not torch.equal(e1["img"], e0["img"])
    with pytest.raises(ValueError, match="non-negative integer epoch"):
        ds.set_epoch(-1)


@pytest.mark.slow  # two spawned workers each load the body (~10 s)
def test_synthetic_worker_processes_match_in_process(synthetic_root, tmp_path):
    from bigraph_pyg.data import generate_synthetic

    folder = generate_synthetic(
        tmp_path,
        "train",
        SYN_N,
        seed=0,
        config=SYN_CONFIG,
        num_workers=2,
        progress=False,
    )
    ref = synthetic_root / "train"
    for shard in ("shard_00000.npz", "shard_00001.npz"):
        a, b = np.load(folder / shard), np.load(ref / shard)
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    for i in range(SYN_N):
        for sub, ext in (("images", "jpg"), ("parts", "png")):
            name = f"{sub}/{i:07d}.{ext}"
            assert (folder / name).read_bytes() == (ref / name).read_bytes()
    assert json.loads((folder / "meta.json").read_text())["complete"]


def test_geometry_is_the_rendered_samples_geometry():
    """The render-free path draws bit for bit the rendered cache's body,
    camera and 2D joints (appearance has a stream of its own)."""
    from bigraph_pyg.data import SampleGenerator

    rendered = render_samples([3, 4], seed=0, split="val", config=SYN_CONFIG)[
        "arrays"
    ]
    geom = SampleGenerator(SYN_CONFIG, render=False).geometry(0, "val", [3, 4])
    for key in (
        "betas",
        "pose",
        "transl",
        "camera_K",
        "joints_2d",
        "joints_3d",
        "joints_2d_est",
        "joints_2d_est_visible",
    ):
        np.testing.assert_array_equal(geom[key], rendered[key], err_msg=key)


def test_pose_only_cache_round_trip_and_mismatch(tmp_path):
    from bigraph_pyg.data import POSE_KEYS, SampleGenerator, SyntheticPoses

    poses = SyntheticPoses(tmp_path, 5, seed=0, first_index=7, progress=False)
    assert poses.path.is_file() and len(poses) == 5
    assert poses[0]["vertices"].shape == (6890, 3)
    again = SyntheticPoses(tmp_path, 5, seed=0, first_index=7, progress=False)
    for key in POSE_KEYS:
        np.testing.assert_array_equal(poses.arrays[key], again.arrays[key])
    # The same samples as the generator's training stream at those indices.
    geom = SampleGenerator(SyntheticConfig(), render=False).geometry(
        0, "train", list(range(7, 12)), with_vertices=True
    )
    np.testing.assert_array_equal(poses.arrays["joints_3d"], geom["joints_3d"])
    # A cache of other parameters is refused with a clear message.
    (tmp_path / "x").mkdir()
    bad = tmp_path / "x" / poses.path.name
    bad.write_bytes(b"not an npz")
    with pytest.raises(ValueError, match="delete it to regenerate"):
        SyntheticPoses(tmp_path / "x", 5, seed=0, first_index=7, progress=False)
    with pytest.raises(ValueError, match="sampler"):
        SyntheticPoses(None, 5, level=2)
    with pytest.raises(ValueError, match="num_samples"):
        SyntheticPoses(None, 0)


def test_pose_only_batch_redraws_the_detector_noise():
    """``batch(redraw=rng)``: the cached poses with estimates drawn afresh
    (the config's noise; joints outside the crop unseen), the same for the
    same generator, the cached ones without it."""
    from bigraph_pyg.data import SyntheticPoses

    cfg = SyntheticConfig(partial_prob=0.5)
    poses = SyntheticPoses(None, 48, config=cfg, level=0, progress=False)
    idx = torch.arange(48)
    cached = poses.batch(idx)
    for key, value in poses.arrays.items():
        np.testing.assert_array_equal(cached[key].numpy(), value)
    a = poses.batch(idx, redraw=np.random.default_rng(5))
    b = poses.batch(idx, redraw=np.random.default_rng(5))
    for key in cached:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
        if key not in ("joints_2d_est", "joints_2d_est_visible"):
            torch.testing.assert_close(a[key], cached[key], rtol=0, atol=0)
    assert not torch.equal(a["joints_2d_est"], cached["joints_2d_est"])
    uv = cached["joints_2d"]
    out = ((uv < 0) | (uv > cfg.image_size - 1)).any(-1)
    assert out.any()  # partial framings in this draw
    assert (a["joints_2d_est_visible"][out] == 0).all()
    seen = (a["joints_2d_est_visible"] > 0) & (
        cached["joints_2d_est_visible"] > 0
    )
    err_new = (a["joints_2d_est"] - uv).norm(dim=-1)[seen].median()
    err_old = (cached["joints_2d_est"] - uv).norm(dim=-1)[seen].median()
    assert 0.5 < float(err_new / err_old) < 2.0


def test_pose_only_generation_keeps_the_thread_count():
    """The generator pins one thread for itself; the caller's training
    must get its threads back (a fresh main job trained on one core)."""
    from bigraph_pyg.data import SyntheticPoses

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        SyntheticPoses(None, 2, progress=False)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)

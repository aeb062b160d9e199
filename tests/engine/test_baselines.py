"""The trivial baselines, skill ratios and depth correlation (issue 12)."""

import math

import numpy as np
import pytest
import torch
from fakes import tiny_config
from torch.utils.data import DataLoader

from bigraph_pyg.engine import (
    DepthCorrelation,
    TrainingStatistics,
    collate_samples,
    evaluate,
    flat_lift,
    format_metrics,
    prepare_pose_batch,
    skill_ratios,
)
from bigraph_pyg.geometry import axis_angle_to_matrix, center_joints
from bigraph_pyg.losses import BiGraphLoss
from bigraph_pyg.metrics import HIP_INDICES, mpjpe, pa_mpjpe
from bigraph_pyg.models import BiGraphBody

UPRIGHT = torch.diag(torch.tensor([1.0, -1.0, -1.0]))


def _pose_batch(joints, axis_angles, vertices=None):
    n = joints.shape[0]
    pose = torch.zeros(n, 72)
    pose[:, :3] = axis_angles
    batch = {
        "joints_3d": joints,
        "pose": pose,
        "has_pose_3d": torch.ones(n, dtype=torch.bool),
        "has_smpl": torch.ones(n, dtype=torch.bool),
    }
    if vertices is not None:
        batch["vertices"] = vertices
    return batch


def test_training_statistics_undo_the_global_orientation():
    g = torch.Generator().manual_seed(0)
    canon = torch.randn(12, 3, generator=g)
    aa = torch.randn(3, 3, generator=g)
    rot = axis_angle_to_matrix(aa)
    # Each sample: the canonical pose rotated by its orientation, moved.
    joints = canon @ rot.transpose(1, 2) + torch.randn(3, 1, 3, generator=g)
    verts = torch.randn(3, 5, 3, generator=g)
    stats = TrainingStatistics.from_batches(
        [
            _pose_batch(joints[:2], aa[:2], verts[:2]),
            _pose_batch(joints[2:], aa[2:], verts[2:]),
        ]
    )
    expected = center_joints(canon, HIP_INDICES) @ UPRIGHT
    torch.testing.assert_close(stats.mean_joints, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(stats.mean_vertices, verts.mean(0))
    assert stats.num_samples == 3
    back = TrainingStatistics.from_dict(stats.to_dict())
    torch.testing.assert_close(back.mean_joints, stats.mean_joints)


def test_training_statistics_errors():
    batch = _pose_batch(torch.zeros(2, 12, 3), torch.zeros(2, 3))
    batch["has_pose_3d"][:] = False
    with pytest.raises(ValueError, match="has_pose_3d and has_smpl"):
        TrainingStatistics.from_batches([batch])
    with pytest.raises(ValueError, match=r"mean_joints of shape \(12, 3\)"):
        TrainingStatistics.from_dict(
            {"mean_joints": torch.zeros(3), "num_samples": 1}
        )


def test_flat_lift_recovers_a_flat_frontal_pose():
    g = torch.Generator().manual_seed(1)
    pose = torch.randn(12, 3, generator=g)
    pose[:, 2] = 0  # flat, facing the camera
    pixels = 100.0 * pose[None, :, :2] + torch.tensor([60.0, 70.0])
    lifted = flat_lift(pixels, pose)
    torch.testing.assert_close(
        lifted[0], center_joints(pose, HIP_INDICES), atol=1e-5, rtol=0
    )
    assert float(mpjpe(lifted, pose[None], HIP_INDICES)) < 1e-3


def test_depth_correlation_known_values():
    g = torch.Generator().manual_seed(2)
    target = torch.randn(4, 12, 3, generator=g)
    mask = torch.ones(4, 12, dtype=torch.bool)
    same, flipped, flat = (DepthCorrelation() for _ in range(3))
    same.update(target + 1.0, target, mask)
    mirrored = target.clone()
    mirrored[..., 2] *= -1
    flipped.update(mirrored, target, mask)
    flat.update(target * torch.tensor([1.0, 1.0, 0.0]), target, mask)
    assert same.compute() == pytest.approx(1.0)
    assert flipped.compute() == pytest.approx(-1.0)
    assert math.isnan(flat.compute())
    # Pooled over batches = computed at once.
    parts = DepthCorrelation()
    noisy = target + 0.5 * torch.randn(4, 12, 3, generator=g)
    parts.update(noisy[:2], target[:2], mask[:2])
    parts.update(noisy[2:], target[2:], mask[2:])
    zp = center_joints(noisy, HIP_INDICES)[..., 2].flatten().numpy()
    zt = center_joints(target, HIP_INDICES)[..., 2].flatten().numpy()
    assert parts.compute() == pytest.approx(np.corrcoef(zp, zt)[0, 1])


def test_skill_ratios_use_the_best_baseline():
    m = {
        "mpjpe": 90.0,
        "pa_mpjpe_skeleton": 30.0,
        "mpve": 50.0,
        "baseline_mean_pose_mpjpe": 300.0,
        "baseline_flat_lift_mpjpe": 180.0,
        "baseline_mean_pose_pa_mpjpe": 120.0,
        "baseline_mean_mesh_mpve": 400.0,
    }
    out = skill_ratios(m)
    assert out["skill_mpjpe"] == pytest.approx(0.5)
    assert out["skill_pa_mpjpe_skeleton"] == pytest.approx(0.25)
    assert out["skill_mpve"] == pytest.approx(0.125)
    assert "skill_pa_mpjpe" not in out  # no model value


def test_evaluate_scores_the_baselines_on_the_same_samples(
    make_model, fake_set
):
    model = make_model()
    loader = DataLoader(fake_set, batch_size=4, collate_fn=collate_samples)
    stats = TrainingStatistics.from_dataset(fake_set)
    m = evaluate(
        model, loader, baselines=stats, progress=False, with_loss=False
    )
    gt = torch.stack([fake_set[i]["joints_3d"] for i in range(len(fake_set))])
    const = stats.mean_joints.expand_as(gt)
    assert m["baseline_mean_pose_mpjpe"] == pytest.approx(
        float(mpjpe(const, gt, HIP_INDICES)), rel=1e-5
    )
    assert m["baseline_mean_pose_pa_mpjpe"] == pytest.approx(
        float(pa_mpjpe(const, gt)), rel=1e-4
    )
    est = torch.stack(
        [fake_set[i]["joints_2d_est"] for i in range(len(fake_set))]
    )
    assert m["baseline_flat_lift_pa_mpjpe"] == pytest.approx(
        float(pa_mpjpe(flat_lift(est, stats.mean_joints), gt)), rel=1e-4
    )
    gt_v = torch.stack([fake_set[i]["vertices"] for i in range(len(fake_set))])
    err = (stats.mean_vertices - gt_v).norm(dim=-1).mean() * 1000
    assert m["baseline_mean_mesh_mpve"] == pytest.approx(float(err), rel=1e-5)
    true_2d = torch.stack(
        [fake_set[i]["joints_2d"] for i in range(len(fake_set))]
    )
    assert m["baseline_flat_lift_true_pa_mpjpe"] == pytest.approx(
        float(pa_mpjpe(flat_lift(true_2d, stats.mean_joints), gt)), rel=1e-4
    )
    names = [k for k in m if k.startswith("baseline_") and "pa_mpjpe" in k]
    assert len(names) >= 4  # mean pose, both flat lifts, mean mesh
    best = min(m[k] for k in names)
    assert m["skill_pa_mpjpe"] == pytest.approx(m["pa_mpjpe"] / best)
    assert -1 <= m["depth_corr"] <= 1 and -1 <= m["depth_corr_skeleton"] <= 1
    table = format_metrics(m, "tiny")
    assert "constant mean training pose" in table and "skill ratio" in table


@pytest.mark.slow
def test_skeleton_branch_alone_learns_to_lift(body, graphs):
    """Given 2D joints and no image, the skeleton branch beats the flat lift
    on held-out poses within a few hundred steps."""
    from bigraph_pyg.data import SyntheticPoses

    torch.manual_seed(0)
    model = BiGraphBody(
        tiny_config("cpu").replace(
            channels=32, input_channels=32, head_channels=16
        ),
        graphs,
        body,
    )
    size = model.config.image_size
    train = SyntheticPoses(
        None, 1024, level=2, sampler=model.sampler, progress=False
    )
    test = SyntheticPoses(
        None,
        128,
        level=2,
        sampler=model.sampler,
        first_index=2_000_000,
        progress=False,
    )
    stats = TrainingStatistics.from_batches(
        [
            {
                **train.batch(torch.arange(len(train))),
                "has_pose_3d": torch.ones(len(train), dtype=torch.bool),
                "has_smpl": torch.ones(len(train), dtype=torch.bool),
            }
        ]
    )
    _, est, tgt = prepare_pose_batch(
        test.batch(torch.arange(128)), size, train.config.image_size
    )
    flat = float(
        pa_mpjpe(flat_lift(est, stats.mean_joints), tgt["gt_joints_3d"])
    )
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(300):
        idx = torch.randint(len(train), (32,), generator=g)
        _, j_est, targets = prepare_pose_batch(
            train.batch(idx), size, train.config.image_size
        )
        loss, _ = BiGraphLoss.for_config(model.config).model_loss(
            model(None, j_est), targets
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        pred = model(None, est).skeleton_joints
    lifted = float(pa_mpjpe(pred, tgt["gt_joints_3d"]))
    print(f"skeleton branch {lifted:.1f} mm vs flat lift {flat:.1f} mm")
    assert lifted < flat, (lifted, flat)

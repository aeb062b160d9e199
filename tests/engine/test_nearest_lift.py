"""The nearest-neighbour lifter against an explicit Procrustes search."""

import math

import numpy as np
import pytest
import torch

from bigraph_pyg.engine.baselines import TrainingStatistics
from bigraph_pyg.engine.nearest_lift import NearestNeighbourLifter
from bigraph_pyg.geometry import center_joints
from bigraph_pyg.metrics import HIP_INDICES


def _poses(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return center_joints(torch.randn(n, 12, 3, generator=g) * 0.3, HIP_INDICES)


def _rot_y(deg: float) -> np.ndarray:
    a = math.radians(deg)
    return np.array(
        [
            [math.cos(a), 0, math.sin(a)],
            [0, 1, 0],
            [-math.sin(a), 0, math.cos(a)],
        ]
    )


def _procrustes_2d(c: np.ndarray, q: np.ndarray, w: np.ndarray):
    """Weighted similarity fit of c onto q (2D, no reflection), by SVD.

    Returns the residual relative to the query's spread, and the rotation.
    """
    w = w / w.sum()
    cm, qm = (w[:, None] * c).sum(0), (w[:, None] * q).sum(0)
    c0, q0 = c - cm, q - qm
    cov = (w[:, None] * q0).T @ c0  # sum w q c^T
    u, s, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(u @ vt))
    rot = u @ np.diag([1.0, d]) @ vt
    sc = (s * [1.0, d]).sum() / (w * (c0**2).sum(1)).sum()
    res = (w * ((q0 - sc * c0 @ rot.T) ** 2).sum(1)).sum()
    return res / (w * (q0**2).sum(1)).sum(), rot


def test_lifter_matches_an_explicit_procrustes_search():
    poses = _poses(40)
    lifter = NearestNeighbourLifter(poses, num_yaws=8, k=5)
    assert len(lifter) == 40 * 8
    g = torch.Generator().manual_seed(1)
    query = torch.randn(3, 12, 2, generator=g) * 50 + 100
    w = (torch.rand(3, 12, generator=g) > 0.2).double()
    got = lifter(query, w)
    for b in range(3):
        res, rots = [], []
        for m in range(len(lifter)):
            c = lifter.bank_3d[m, :, :2].double().numpy()
            r, rot = _procrustes_2d(c, query[b].double().numpy(), w[b].numpy())
            res.append(r)
            rots.append(rot)
        best = np.argsort(res)[:5]
        cand = lifter.bank_3d[best].double().numpy()
        turned = [
            np.concatenate([cand[i][:, :2] @ rots[m].T, cand[i][:, 2:]], 1)
            for i, m in enumerate(best)
        ]
        expect = center_joints(
            torch.from_numpy(np.mean(turned, 0))[None], HIP_INDICES
        )[0]
        torch.testing.assert_close(got[b].double(), expect, atol=2e-4, rtol=0)


def test_lifter_recovers_a_bank_pose_from_its_projection():
    poses = _poses(30, seed=2)
    lifter = NearestNeighbourLifter(poses, num_yaws=12, k=1)
    # Pose 7 seen from yaw 60 degrees (a bank view), then scaled, turned
    # in the image plane by 25 degrees and moved, as pixels.
    p = poses[7].double().numpy() @ _rot_y(60).T
    a = math.radians(25)
    inplane = np.array(
        [[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]]
    )
    uv = 400.0 * p[:, :2] @ inplane.T + [112.0, 90.0]
    got = lifter(torch.from_numpy(uv)[None])[0].numpy()
    expect = np.concatenate([p[:, :2] @ inplane.T, p[:, 2:]], 1)
    expect -= expect[list(HIP_INDICES)].mean(0)
    np.testing.assert_allclose(got, expect, atol=1e-5)


def test_statistics_carry_the_bank_and_refuse_a_bad_one():
    stats = TrainingStatistics(torch.zeros(12, 3), None, 5, _poses(20).float())
    back = TrainingStatistics.from_dict(stats.to_dict())
    torch.testing.assert_close(back.pose_bank, stats.pose_bank)
    state = stats.to_dict()
    state["pose_bank"] = torch.zeros(20, 13, 3)
    with pytest.raises(ValueError, match="pose_bank"):
        TrainingStatistics.from_dict(state)
    with pytest.raises(ValueError, match="poses of shape"):
        NearestNeighbourLifter(torch.zeros(20, 12, 2))
    with pytest.raises(ValueError, match="k <= N"):
        NearestNeighbourLifter(_poses(4), k=16)

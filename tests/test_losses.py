import dataclasses
import math

import pytest
import torch

from bigraph_pyg.geometry import axis_angle_to_matrix
from bigraph_pyg.losses import (
    BiGraphLoss,
    FocalRegressionLoss,
    LossWeights,
    focal_regression_loss,
    keypoint_2d_l1_loss,
    keypoint_3d_l1_loss,
    smpl_param_loss,
    vertex_l1_loss,
)
from bigraph_pyg.testing import with_device

B, J, N = 4, 12, 30


def _pelvis_centre(x):
    return x - 0.5 * (x[:, 2:3] + x[:, 3:4])


def test_vertex_l1_loss_matches_l1_on_valid_samples():
    pred = torch.randn(B, N, 3)
    gt = torch.randn(B, N, 3)
    has = torch.tensor([True, False, True, False])
    ref = torch.nn.functional.l1_loss(pred[has], gt[has])
    torch.testing.assert_close(vertex_l1_loss(pred, gt, has), ref)
    torch.testing.assert_close(
        vertex_l1_loss(pred, gt), torch.nn.functional.l1_loss(pred, gt)
    )


def test_masked_targets_do_not_change_loss_or_grad():
    pred = torch.randn(B, J, 3, requires_grad=True)
    gt = torch.randn(B, J, 3)
    has = torch.tensor([True, False, True, False])
    changed = gt.clone()
    changed[~has] = float("nan")
    for fn in (vertex_l1_loss, keypoint_3d_l1_loss):
        a = fn(pred, gt, has)
        (ga,) = torch.autograd.grad(a, pred)
        b = fn(pred, changed, has)
        (gb,) = torch.autograd.grad(b, pred)
        torch.testing.assert_close(a, b)
        torch.testing.assert_close(ga, gb)
        assert (ga[~has] == 0).all()


def test_no_valid_sample_gives_zero_with_grad():
    pred = torch.randn(B, J, 3, requires_grad=True)
    gt = torch.full((B, J, 3), float("nan"))
    none = torch.zeros(B, dtype=torch.bool)
    losses = [
        vertex_l1_loss(pred, gt, none),
        keypoint_3d_l1_loss(pred, gt, none),
        keypoint_2d_l1_loss(pred[..., :2], gt[..., :2], torch.zeros(B, J)),
        focal_regression_loss(pred, gt, mask=none),
        *smpl_param_loss(
            pred[:, :9].reshape(B, 3, 3, 3).expand(B, 3, 3, 3),
            pred[:, 0],
            torch.zeros(B, 3, 3, 3),
            torch.zeros(B, 3),
            none,
        ),
    ]
    for loss in losses:
        assert loss.item() == 0.0
        assert loss.requires_grad
        (grad,) = torch.autograd.grad(loss, pred)
        assert torch.isfinite(grad).all() and (grad == 0).all()


def test_keypoint_3d_l1_loss_pelvis_centred_and_confidence():
    pred = torch.randn(B, J, 3)
    gt = torch.randn(B, J, 3)
    conf = (torch.rand(B, J) > 0.3).float()
    has = torch.tensor([True, True, False, True])
    diff = (_pelvis_centre(pred) - _pelvis_centre(gt)).abs()
    ref = (conf[has, :, None] * diff[has]).mean()
    torch.testing.assert_close(keypoint_3d_l1_loss(pred, gt, has, conf), ref)
    # Unannotated non-root joints may be NaN.
    conf[:, 0] = 0
    ref = (conf[has, :, None] * diff[has]).mean()
    gt_nan = gt.clone()
    gt_nan[:, 0] = float("nan")
    torch.testing.assert_close(
        keypoint_3d_l1_loss(pred, gt_nan, has, conf), ref
    )
    # Translation invariant; root_indices=None turns centring off.
    shift = torch.tensor([1.0, -2.0, 3.0])
    torch.testing.assert_close(
        keypoint_3d_l1_loss(pred + shift, gt, has, conf), ref
    )
    no_root = keypoint_3d_l1_loss(pred + shift, gt, root_indices=None)
    torch.testing.assert_close(
        no_root, torch.nn.functional.l1_loss(pred + shift, gt)
    )


def test_keypoint_2d_l1_loss_confidence():
    pred = torch.randn(B, J, 2)
    gt = torch.randn(B, J, 2)
    conf = torch.rand(B, J)
    conf[0, :3] = 0
    ref = (conf[..., None] * (pred - gt).abs()).mean()
    torch.testing.assert_close(keypoint_2d_l1_loss(pred, gt, conf), ref)
    gt[0, :3] = float("nan")  # unannotated joints
    torch.testing.assert_close(keypoint_2d_l1_loss(pred, gt, conf), ref)


def test_smpl_param_loss_mse():
    pred_rot = axis_angle_to_matrix(torch.randn(B, 24, 3))
    gt_rot = axis_angle_to_matrix(torch.randn(B, 24, 3))
    pred_betas, gt_betas = torch.randn(B, 10), torch.randn(B, 10)
    has = torch.tensor([False, True, True, True])
    pose, shape = smpl_param_loss(pred_rot, pred_betas, gt_rot, gt_betas, has)
    mse = torch.nn.functional.mse_loss
    torch.testing.assert_close(pose, mse(pred_rot[has], gt_rot[has]))
    torch.testing.assert_close(shape, mse(pred_betas[has], gt_betas[has]))


def _focal_reference(pred, gt, alpha, gamma, tau):
    out = []
    for p, t in zip(
        pred.reshape(-1, 3).tolist(), gt.reshape(-1, 3).tolist(), strict=True
    ):
        err = alpha * sum(abs(a - b) for a, b in zip(p, t, strict=True))
        out.append(-(err**gamma) * math.log(1 - min(tau, err)))
    return torch.tensor(out, dtype=torch.float64).reshape(pred.shape[:2])


@pytest.mark.parametrize(
    "alpha,gamma,tau", [(1.0, 1.0, 0.99), (2.0, 2.0, 0.9), (0.5, 0.5, 0.5)]
)
def test_focal_regression_loss_matches_formula(alpha, gamma, tau):
    pred = 0.3 * torch.randn(3, J, 3, dtype=torch.float64)
    gt = 0.3 * torch.randn(3, J, 3, dtype=torch.float64)
    ref = _focal_reference(pred, gt, alpha, gamma, tau)
    out = focal_regression_loss(pred, gt, alpha, gamma, tau, reduction="none")
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(
        focal_regression_loss(pred, gt, alpha, gamma, tau), ref.mean()
    )
    torch.testing.assert_close(
        FocalRegressionLoss(alpha, gamma, tau, "sum")(pred, gt), ref.sum()
    )


def test_focal_regression_loss_truncation_gradient_finite():
    tau = 0.9
    gt = torch.zeros(1, 4, 3, dtype=torch.float64)
    # Per-joint L1 errors below, at, above the truncation, and beyond 1.
    errs = torch.tensor([0.5, tau, 0.95, 3.0], dtype=torch.float64)
    pred = torch.zeros(1, 4, 3, dtype=torch.float64)
    pred[0, :, 0] = errs
    pred.requires_grad_()
    loss = focal_regression_loss(pred, gt, tau=tau, reduction="none")
    (grad,) = torch.autograd.grad(loss.sum(), pred)
    assert torch.isfinite(loss).all() and torch.isfinite(grad).all()
    # Above the truncation: L * -log(1 - tau), slope -log(1 - tau).
    torch.testing.assert_close(
        loss[0, 2:], -errs[2:] * math.log(1 - tau), rtol=1e-12, atol=0
    )
    torch.testing.assert_close(
        grad[0, 2:, 0], torch.full((2,), -math.log(1 - tau)).double()
    )
    # Below: d/dL [-L log(1 - L)] = -log(1 - L) + L / (1 - L).
    torch.testing.assert_close(
        grad[0, 0, 0], torch.tensor(-math.log(0.5) + 1.0).double()
    )
    # Zero error: zero loss, finite gradient (also for gamma < 1).
    zero = torch.zeros(1, 1, 3, requires_grad=True)
    for gamma in (1.0, 0.5):
        loss = focal_regression_loss(zero, torch.zeros(1, 1, 3), gamma=gamma)
        (g,) = torch.autograd.grad(loss, zero)
        assert loss.item() == 0 and torch.isfinite(g).all()


def test_focal_regression_loss_gradcheck_and_mask():
    pred = (0.2 * torch.randn(2, 3, 3, dtype=torch.float64)).requires_grad_()
    gt = 0.2 * torch.randn(2, 3, 3, dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda p: focal_regression_loss(p, gt, gamma=2.0), (pred,)
    )
    mask = torch.tensor([[True, False, True], [False, False, True]])
    changed = gt.clone()
    changed[~mask] = float("nan")
    a = focal_regression_loss(pred, gt, mask=mask)
    torch.testing.assert_close(
        a, focal_regression_loss(pred, changed, mask=mask)
    )
    ref = _focal_reference(pred.detach(), gt, 1.0, 1.0, 0.99)[mask].mean()
    torch.testing.assert_close(a.detach(), ref)


def test_loss_errors():
    x = torch.zeros(B, J, 3)
    with pytest.raises(ValueError, match="same 3-D shape"):
        vertex_l1_loss(x, torch.zeros(B, J + 1, 3))
    with pytest.raises(ValueError, match="`has_smpl`"):
        vertex_l1_loss(x, x, torch.ones(B + 1, dtype=torch.bool))
    with pytest.raises(ValueError, match="`confidence`"):
        keypoint_3d_l1_loss(x, x, confidence=torch.ones(B, J + 1))
    with pytest.raises(ValueError, match=r"\(B, J, 2\)"):
        keypoint_2d_l1_loss(x, x)
    with pytest.raises(ValueError, match="`tau`"):
        focal_regression_loss(x, x, tau=1.0)
    with pytest.raises(ValueError, match="`alpha`"):
        focal_regression_loss(x, x, alpha=0.0)
    with pytest.raises(ValueError, match="`gamma`"):
        focal_regression_loss(x, x, gamma=-1.0)
    with pytest.raises(ValueError, match="`mask`"):
        focal_regression_loss(x, x, mask=torch.ones(J))
    with pytest.raises(ValueError, match="`reduction`"):
        focal_regression_loss(x, x, reduction="max")
    with pytest.raises(ValueError, match="`pred_rotmat`"):
        smpl_param_loss(torch.zeros(B, 24, 9), torch.zeros(B, 10), x, x)
    with pytest.raises(ValueError, match="LossWeights"):
        BiGraphLoss(weights={"vertices": 1.0})


def _batch(dtype=torch.float32):
    g = torch.Generator().manual_seed(0)

    def r(*shape):
        return torch.randn(*shape, generator=g, dtype=dtype)

    pred = dict(
        pred_vertices=r(B, N, 3),
        pred_skeleton_joints=0.2 * r(B, J, 3),
        pred_mesh_joints=0.2 * r(B, J, 3),
        pred_camera=r(B, 3),
        pred_rotmat=axis_angle_to_matrix(r(B, 24, 3)),
        pred_betas=r(B, 10),
    )
    target = dict(
        gt_vertices=r(B, N, 3),
        gt_joints_3d=0.2 * r(B, J, 3),
        gt_joints_2d=r(B, J, 2),
        gt_rotmat=axis_angle_to_matrix(r(B, 24, 3)),
        gt_betas=r(B, 10),
        has_smpl=torch.tensor([True, False, True, True]),
        has_pose_3d=torch.tensor([True, True, False, True]),
    )
    return pred, target


def _project(x, cam):
    return cam[:, None, :1] * (x[..., :2] + cam[:, None, 1:])


def test_bigraph_loss_equals_sum_of_eq6_terms():
    pred, target = _batch()
    weights = LossWeights()
    total, terms = BiGraphLoss(weights)(**pred, **target)
    hs, h3 = target["has_smpl"], target["has_pose_3d"]
    l1 = torch.nn.functional.l1_loss
    expected = {
        "vertices": l1(pred["pred_vertices"][hs], target["gt_vertices"][hs]),
        "mesh_joints_3d": l1(
            _pelvis_centre(pred["pred_mesh_joints"])[h3],
            _pelvis_centre(target["gt_joints_3d"])[h3],
        ),
        "mesh_joints_2d": l1(
            _project(pred["pred_mesh_joints"], pred["pred_camera"]),
            target["gt_joints_2d"],
        ),
        "skeleton_joints_3d": focal_regression_loss(
            _pelvis_centre(pred["pred_skeleton_joints"])[h3],
            _pelvis_centre(target["gt_joints_3d"])[h3],
        ),
        "skeleton_joints_2d": l1(
            _project(pred["pred_skeleton_joints"], pred["pred_camera"]),
            target["gt_joints_2d"],
        ),
        "smpl_pose": torch.nn.functional.mse_loss(
            pred["pred_rotmat"][hs], target["gt_rotmat"][hs]
        ),
        "smpl_shape": torch.nn.functional.mse_loss(
            pred["pred_betas"][hs], target["gt_betas"][hs]
        ),
    }
    assert terms.keys() == expected.keys()
    for key, value in expected.items():
        torch.testing.assert_close(terms[key], value, msg=key)
    ref_total = (
        sum(v for k, v in expected.items() if k not in ("smpl_shape",))
        - expected["skeleton_joints_3d"]
        + 5.0 * expected["skeleton_joints_3d"]
        + 0.1 * expected["smpl_shape"]
    )
    torch.testing.assert_close(total, ref_total)


def test_bigraph_loss_no_focal_ablation_and_optional_smpl():
    pred, target = _batch()
    del pred["pred_rotmat"], pred["pred_betas"]
    del target["gt_rotmat"], target["gt_betas"]
    weights = dataclasses.replace(LossWeights(), use_focal=False)
    total, terms = BiGraphLoss(weights)(**pred, **target)
    assert "smpl_pose" not in terms
    torch.testing.assert_close(
        terms["skeleton_joints_3d"],
        keypoint_3d_l1_loss(
            pred["pred_skeleton_joints"],
            target["gt_joints_3d"],
            target["has_pose_3d"],
        ),
    )
    torch.testing.assert_close(total, sum(terms.values()))
    assert "use_focal=False" in repr(BiGraphLoss(weights))
    with pytest.raises(ValueError, match="all or none"):
        BiGraphLoss()(**pred, **target, pred_rotmat=torch.eye(3))


def test_bigraph_loss_without_skeleton_branch():
    # GraphCMR (Table 4 A) has no skeleton: its loss is Eq. 6 minus the two
    # skeleton terms, i.e. the full loss with those weighted 0.
    pred, target = _batch()
    full_total, full_terms = BiGraphLoss(
        dataclasses.replace(LossWeights(), skeleton_joints_2d=0.0, focal=0.0)
    )(**pred, **target)
    pred["pred_skeleton_joints"] = None
    total, terms = BiGraphLoss()(**pred, **target)
    assert not any(k.startswith("skeleton_") for k in terms)
    assert set(full_terms) - set(terms) == {
        "skeleton_joints_3d",
        "skeleton_joints_2d",
    }
    torch.testing.assert_close(total, full_total)


def test_bigraph_loss_backward_all_invalid():
    pred, target = _batch(torch.float64)
    for v in pred.values():
        v.requires_grad_()
    target["has_smpl"][:] = False
    target["has_pose_3d"][:] = False
    for key in ("gt_vertices", "gt_joints_3d", "gt_rotmat", "gt_betas"):
        target[key] = torch.full_like(target[key], float("nan"))
    total, terms = BiGraphLoss()(**pred, **target)
    total.backward()
    assert torch.isfinite(total)
    for key in ("vertices", "mesh_joints_3d", "skeleton_joints_3d"):
        assert terms[key].item() == 0.0
    for v in pred.values():
        assert torch.isfinite(v.grad).all()
    assert (pred["pred_vertices"].grad == 0).all()


@with_device
def test_bigraph_loss_on_device(device):
    pred, target = _batch(torch.float64)
    pred = {k: v.to(device).requires_grad_() for k, v in pred.items()}
    target = {k: v.to(device) for k, v in target.items()}
    total, terms = BiGraphLoss()(**pred, **target)
    assert total.device.type == device and total.dtype == torch.float64
    total.backward()
    assert all(torch.isfinite(v.grad).all() for v in pred.values())

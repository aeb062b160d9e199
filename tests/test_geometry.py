import numpy as np
import pytest
import torch
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.transform import Rotation

from bigraph_pyg.geometry import (
    axis_angle_to_matrix,
    batched_procrustes,
    center_joints,
    matrix_to_axis_angle,
    matrix_to_rot6d,
    procrustes_align,
    rot6d_to_matrix,
    weak_perspective_projection,
)
from bigraph_pyg.testing import with_device


def _random_rotations(n, seed=0):
    return Rotation.random(n, random_state=seed)


def test_axis_angle_to_matrix_matches_scipy():
    rot = _random_rotations(200)
    aa = torch.tensor(rot.as_rotvec())
    out = axis_angle_to_matrix(aa)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, torch.tensor(rot.as_matrix()))
    # Leading batch dims are kept.
    out = axis_angle_to_matrix(aa.reshape(10, 20, 3).float())
    assert out.shape == (10, 20, 3, 3) and out.dtype == torch.float32


def test_axis_angle_to_matrix_stable_at_zero():
    aa = torch.zeros(4, 3, dtype=torch.float64, requires_grad=True)
    out = axis_angle_to_matrix(aa)
    torch.testing.assert_close(out, torch.eye(3).double().expand(4, 3, 3))
    out.sum().backward()
    assert torch.isfinite(aa.grad).all()
    tiny = torch.tensor([[1e-5, -2e-5, 3e-6]], dtype=torch.float64)
    torch.testing.assert_close(
        axis_angle_to_matrix(tiny),
        torch.tensor(Rotation.from_rotvec(tiny.numpy()).as_matrix()),
    )


def test_axis_angle_to_matrix_gradcheck():
    aa = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(axis_angle_to_matrix, (aa,))
    small = (1e-4 * torch.randn(3, 3, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(axis_angle_to_matrix, (small,))


def test_matrix_to_axis_angle_matches_scipy():
    rot = _random_rotations(200, seed=1)
    out = matrix_to_axis_angle(torch.tensor(rot.as_matrix()))
    torch.testing.assert_close(out, torch.tensor(rot.as_rotvec()))


@pytest.mark.parametrize(
    "angle", [0.0, 1e-9, 1e-5, 1e-3, 1.0, np.pi - 1e-3, np.pi - 1e-7, np.pi]
)
def test_matrix_to_axis_angle_near_zero_and_pi(angle):
    axes = torch.randn(50, 3, dtype=torch.float64)
    axes = axes / axes.norm(dim=-1, keepdim=True)
    matrix = torch.tensor(
        Rotation.from_rotvec((axes * angle).numpy()).as_matrix()
    )
    out = matrix_to_axis_angle(matrix)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(
        out.norm(dim=-1), torch.full((50,), angle).double(), atol=1e-7, rtol=0
    )
    # Round trip reproduces the rotation (axis sign is free at exactly pi).
    torch.testing.assert_close(axis_angle_to_matrix(out), matrix)


def test_rot6d_round_trip_and_orthonormal():
    rot = torch.tensor(_random_rotations(100, seed=2).as_matrix())
    six = matrix_to_rot6d(rot)
    assert six.shape == (100, 6)
    # SPIN convention: first two columns, interleaved row-major.
    torch.testing.assert_close(six[:, 0::2], rot[:, :, 0])
    torch.testing.assert_close(six[:, 1::2], rot[:, :, 1])
    torch.testing.assert_close(rot6d_to_matrix(six), rot)

    out = rot6d_to_matrix(torch.randn(4, 24, 6, dtype=torch.float64))
    assert out.shape == (4, 24, 3, 3)
    eye = torch.eye(3, dtype=torch.float64).expand_as(out)
    torch.testing.assert_close(out @ out.transpose(-1, -2), eye)
    torch.testing.assert_close(
        torch.linalg.det(out), torch.ones(4, 24, dtype=torch.float64)
    )


def test_rot6d_gram_schmidt_reference():
    x = torch.randn(20, 6, dtype=torch.float64)
    a1 = x.reshape(20, 3, 2)[..., 0].numpy()
    a2 = x.reshape(20, 3, 2)[..., 1].numpy()
    b1 = a1 / np.linalg.norm(a1, axis=-1, keepdims=True)
    b2 = a2 - (b1 * a2).sum(-1, keepdims=True) * b1
    b2 = b2 / np.linalg.norm(b2, axis=-1, keepdims=True)
    ref = np.stack([b1, b2, np.cross(b1, b2)], axis=-1)
    torch.testing.assert_close(rot6d_to_matrix(x), torch.from_numpy(ref))
    assert torch.isfinite(rot6d_to_matrix(torch.zeros(6))).all()
    x.requires_grad_()
    assert torch.autograd.gradcheck(
        rot6d_to_matrix, (x[:4].detach().requires_grad_(),)
    )


def test_weak_perspective_projection_graphcmr_convention():
    points = torch.randn(2, 5, 3)
    camera = torch.tensor([[2.0, 0.1, -0.3], [0.5, 0.0, 1.0]])
    out = weak_perspective_projection(points, camera)
    ref = torch.stack(
        [camera[b, 0] * (points[b, :, :2] + camera[b, 1:]) for b in range(2)]
    )
    torch.testing.assert_close(out, ref)
    # Depth does not matter.
    moved = points + torch.tensor([0.0, 0.0, 7.0])
    torch.testing.assert_close(weak_perspective_projection(moved, camera), out)


def test_geometry_errors():
    with pytest.raises(ValueError, match="Expected shape"):
        rot6d_to_matrix(torch.randn(3, 5))
    with pytest.raises(ValueError, match="Expected shape"):
        axis_angle_to_matrix(torch.randn(3, 4))
    with pytest.raises(ValueError, match="Expected shape"):
        matrix_to_axis_angle(torch.randn(3, 3, 4))
    with pytest.raises(ValueError, match="`camera`"):
        weak_perspective_projection(torch.randn(2, 5, 3), torch.randn(3, 3))
    with pytest.raises(ValueError, match="`root_indices`"):
        center_joints(torch.randn(2, 12, 3), (2, 12))
    with pytest.raises(ValueError, match="same shape"):
        batched_procrustes(torch.randn(2, 5, 3), torch.randn(2, 6, 3))
    with pytest.raises(ValueError, match="`weights`"):
        batched_procrustes(
            torch.randn(2, 5, 3), torch.randn(2, 5, 3), torch.ones(2, 4)
        )


def _similarity_copy(source, seed, reflect=False):
    """Rotate, scale, translate (optionally mirror) a point set with numpy."""
    rng = np.random.default_rng(seed)
    rot = Rotation.random(random_state=seed).as_matrix()
    if reflect:
        rot = rot @ np.diag([1.0, 1.0, -1.0])
    scale = rng.uniform(0.5, 2.0)
    trans = rng.normal(size=3)
    return scale * source @ rot.T + trans, scale, rot, trans


def test_procrustes_recovers_similarity_transform():
    rng = np.random.default_rng(0)
    sources, targets, scales, rots, trans = [], [], [], [], []
    for b in range(6):
        src = rng.normal(size=(14, 3))
        tgt, s, r, t = _similarity_copy(src, seed=b)
        sources.append(src), targets.append(tgt)
        scales.append(s), rots.append(r), trans.append(t)
    source = torch.tensor(np.stack(sources))
    target = torch.tensor(np.stack(targets))
    out = batched_procrustes(source, target)
    torch.testing.assert_close(out.scale, torch.tensor(scales).double())
    torch.testing.assert_close(out.rotation, torch.tensor(np.stack(rots)))
    torch.testing.assert_close(out.translation, torch.tensor(np.stack(trans)))
    torch.testing.assert_close(procrustes_align(source, target), target)


def _scipy_similarity(src, tgt, w=None):
    """Independent reference: scipy's proper rotation + closed-form scale."""
    w = np.ones(len(src)) if w is None else w
    mu_s = (w[:, None] * src).sum(0) / w.sum()
    mu_t = (w[:, None] * tgt).sum(0) / w.sum()
    s0, t0 = src - mu_s, tgt - mu_t
    rot, _ = Rotation.align_vectors(t0, s0, weights=w)
    r = rot.as_matrix()
    scale = (w * (t0 * (s0 @ r.T)).sum(-1)).sum() / (w * (s0**2).sum(-1)).sum()
    return scale, r, mu_t - scale * r @ mu_s


@pytest.mark.parametrize("reflect", [False, True])
def test_procrustes_matches_scipy_with_noise(reflect):
    rng = np.random.default_rng(1)
    src = rng.normal(size=(4, 20, 3))
    tgt = np.stack(
        [
            _similarity_copy(s, seed=i, reflect=reflect)[0]
            for i, s in enumerate(src)
        ]
    )
    tgt = tgt + 0.05 * rng.normal(size=tgt.shape)
    w = rng.uniform(0.1, 1.0, size=(4, 20))
    out = batched_procrustes(
        torch.tensor(src), torch.tensor(tgt), torch.tensor(w)
    )
    for b in range(4):
        scale, rot, trans = _scipy_similarity(src[b], tgt[b], w[b])
        torch.testing.assert_close(out.scale[b].item(), scale)
        torch.testing.assert_close(out.rotation[b], torch.tensor(rot))
        torch.testing.assert_close(out.translation[b], torch.tensor(trans))
    dets = torch.linalg.det(out.rotation)
    torch.testing.assert_close(dets, torch.ones(4, dtype=torch.float64))


def test_procrustes_reflection_fix_vs_orthogonal_procrustes():
    # A mirrored copy: unconstrained orthogonal Procrustes finds the
    # reflection (det -1), ours must return the best *proper* rotation.
    rng = np.random.default_rng(2)
    src = rng.normal(size=(30, 3))
    mirror = src * np.array([1.0, 1.0, -1.0])
    ortho, _ = orthogonal_procrustes(src, mirror)  # src @ ortho ≈ mirror
    assert np.linalg.det(ortho) < 0
    out = batched_procrustes(
        torch.tensor(src)[None], torch.tensor(mirror)[None]
    )
    assert torch.linalg.det(out.rotation[0]) > 0
    _, rot, _ = _scipy_similarity(src, mirror)
    torch.testing.assert_close(out.rotation[0], torch.tensor(rot))


def test_procrustes_degenerate_no_nan():
    source = torch.ones(2, 6, 3)
    target = torch.randn(2, 6, 3)
    out = batched_procrustes(source, target)
    for t in out:
        assert torch.isfinite(t).all()
    aligned = procrustes_align(source, target)
    torch.testing.assert_close(
        aligned, target.mean(dim=1, keepdim=True).expand_as(target)
    )
    zero_w = batched_procrustes(target, target, torch.zeros(2, 6))
    assert all(torch.isfinite(t).all() for t in zero_w)


def test_procrustes_float32_and_gradients():
    source = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    target = torch.randn(2, 5, 3, dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda x: procrustes_align(x, target), (source,)
    )
    out = procrustes_align(source.float().detach(), target.float())
    assert out.dtype == torch.float32


def test_center_joints():
    j = torch.randn(2, 12, 3)
    out = center_joints(j, (2, 3))
    torch.testing.assert_close(out[:, 2] + out[:, 3], torch.zeros(2, 3))
    torch.testing.assert_close(center_joints(j, 0)[:, 0], torch.zeros(2, 3))


@with_device
def test_geometry_device_and_dtype_follow_inputs(device):
    for dtype in (torch.float32, torch.float64):
        aa = torch.randn(2, 4, 3, device=device, dtype=dtype)
        aa = (
            3.0
            * aa
            / aa.norm(dim=-1, keepdim=True)
            * torch.rand_like(aa[..., :1])
        )
        rot = axis_angle_to_matrix(aa)
        assert rot.device.type == device and rot.dtype == dtype
        back = matrix_to_axis_angle(rot)
        torch.testing.assert_close(back, aa, atol=1e-4, rtol=1e-4)
        six = matrix_to_rot6d(rot)
        torch.testing.assert_close(rot6d_to_matrix(six), rot)
        pts = torch.randn(2, 7, 3, device=device, dtype=dtype)
        cam = torch.randn(2, 3, device=device, dtype=dtype)
        assert weak_perspective_projection(pts, cam).device.type == device
        out = procrustes_align(pts, 2 * pts + 1)
        assert out.device.type == device and out.dtype == dtype
        torch.testing.assert_close(out, 2 * pts + 1, atol=1e-4, rtol=1e-4)

import pytest
import torch

from bigraph_pyg.geometry import matrix_to_rot6d
from bigraph_pyg.nn.heads import SMPLParamRegressor, SMPLParams
from bigraph_pyg.testing import with_device

N = 20


def _regressor(**kwargs):
    torch.manual_seed(0)
    return SMPLParamRegressor(num_vertices=N, hidden_channels=32, **kwargs)


def test_smpl_param_regressor_smoke():
    reg = _regressor()
    assert "num_vertices=20" in str(reg)
    out = reg(torch.randn(3, N, 3), template=torch.randn(N, 3))
    assert isinstance(out, SMPLParams)
    rotmat, betas = out
    assert rotmat.shape == (3, 24, 3, 3) and betas.shape == (3, 10)
    eye = torch.eye(3).expand(3, 24, 3, 3)
    torch.testing.assert_close(rotmat @ rotmat.transpose(-1, -2), eye)
    torch.testing.assert_close(torch.linalg.det(rotmat), torch.ones(3, 24))
    # Per-sample template (B, N, 3) is accepted too.
    reg(torch.randn(3, N, 3), template=torch.randn(3, N, 3))


def test_smpl_param_regressor_starts_at_rest_pose():
    reg = _regressor().eval()
    rotmat, betas = reg(torch.randn(2, N, 3), template=torch.randn(N, 3))
    torch.testing.assert_close(
        rotmat, torch.eye(3).expand(2, 24, 3, 3), atol=0.05, rtol=0
    )
    assert betas.abs().max() < 0.05


def test_smpl_param_regressor_output_is_rot6d_of_last_layer():
    reg = _regressor(use_template=False).eval()
    vertices = torch.randn(2, N, 3)
    with torch.no_grad():
        reg.lin_out.weight.normal_()
        rotmat, betas = reg(vertices)
        h = torch.relu(reg.norm_in(reg.lin_in(vertices.reshape(2, -1))))
        for block in reg.blocks:
            h = block(h)
        raw = reg.lin_out(h)
    torch.testing.assert_close(betas, raw[:, 144:])
    # Gram-Schmidt keeps the first column's direction.
    first = raw[:, :144].reshape(2, 24, 3, 2)[..., 0]
    torch.testing.assert_close(
        rotmat[..., 0], first / first.norm(dim=-1, keepdim=True)
    )
    # And the 6D of the output spans the same plane as the raw 6D.
    six = matrix_to_rot6d(rotmat)
    assert six.shape == (2, 24, 6)


def test_smpl_param_regressor_gradients_and_detach():
    reg = _regressor().train()
    vertices = torch.randn(4, N, 3, requires_grad=True)
    rotmat, betas = reg(vertices, template=torch.randn(N, 3))
    (rotmat.sum() + betas.sum()).backward()
    assert vertices.grad is None  # detached as GraphCMR
    assert reg.lin_in.weight.grad is not None
    reg = _regressor(detach_input=False)
    rotmat, betas = reg(vertices, template=torch.randn(N, 3))
    (rotmat.sum() + betas.sum()).backward()
    assert vertices.grad is not None and torch.isfinite(vertices.grad).all()


def test_smpl_param_regressor_reset_and_errors():
    reg = _regressor()
    with torch.no_grad():
        reg.lin_out.bias.zero_()
    reg.reset_parameters()
    assert reg.lin_out.bias[:6].tolist() == [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="`vertices`"):
        reg(torch.randn(2, N + 1, 3), template=torch.randn(N, 3))
    with pytest.raises(ValueError, match="`template`"):
        reg(torch.randn(2, N, 3))
    with pytest.raises(ValueError, match="`template`"):
        _regressor(use_template=False)(
            torch.randn(2, N, 3), template=torch.randn(N, 3)
        )
    with pytest.raises(ValueError, match="`num_vertices`"):
        SMPLParamRegressor(num_vertices=0)
    with pytest.raises(ValueError, match="`num_betas`"):
        SMPLParamRegressor(num_vertices=4, num_betas=-1)


@with_device
def test_smpl_param_regressor_on_device(device):
    reg = _regressor().to(device).eval()
    rotmat, betas = reg(
        torch.randn(2, N, 3, device=device),
        template=torch.randn(N, 3, device=device),
    )
    assert rotmat.device.type == device and betas.device.type == device

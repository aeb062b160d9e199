import math

import pytest
import torch
from torchvision.models import ResNet18_Weights, ResNet50_Weights, resnet18

from bigraph_pyg.nn.encoders import RESNET_STRIDES, ResNetEncoder
from bigraph_pyg.nn.roi_features import joint_box_size, roi_joint_features
from bigraph_pyg.testing import with_device


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    return ResNetEncoder("resnet18").eval()


@pytest.mark.parametrize("size", [(224, 224), (150, 97)])
def test_resnet18_shapes(encoder, size):
    height, width = size
    with torch.no_grad():
        out = encoder(torch.randn(2, 3, height, width))
    assert out.global_feature.shape == (2, 512)
    assert out.strides == RESNET_STRIDES == encoder.strides
    assert len(out.feature_maps) == 4
    for fmap, channels, stride in zip(
        out.feature_maps, encoder.stage_channels, out.strides, strict=True
    ):
        assert fmap.shape == (
            2,
            channels,
            math.ceil(height / stride),
            math.ceil(width / stride),
        )
    # Global feature = average pool of the last map.
    torch.testing.assert_close(
        out.global_feature, out.feature_maps[-1].mean(dim=(-2, -1))
    )
    assert "resnet18" in repr(encoder) and "weights=None" in repr(encoder)


def test_resnet_arch_channels():
    # No forward pass: only the declared sizes.
    assert ResNetEncoder("resnet50").out_channels == 2048
    assert ResNetEncoder("resnet34").stage_channels == (64, 128, 256, 512)
    assert not hasattr(ResNetEncoder("resnet18"), "fc")


def test_local_state_dict_loading(tmp_path, encoder):
    # Our own state dict round-trips.
    path = tmp_path / "encoder.pt"
    torch.save(encoder.state_dict(), path)
    loaded = ResNetEncoder("resnet18", weights=path)
    for (k, a), b in zip(
        encoder.state_dict().items(), loaded.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), k
    # A torchvision classifier checkpoint (with fc.*), under "state_dict".
    net = resnet18()
    tv_path = tmp_path / "torchvision.pth"
    torch.save({"state_dict": net.state_dict()}, tv_path)
    loaded = ResNetEncoder("resnet18", weights=str(tv_path))
    assert torch.equal(loaded.conv1.weight, net.conv1.weight)
    assert torch.equal(
        loaded.layer4[1].bn2.running_var, net.layer4[1].bn2.running_var
    )


def test_weights_errors(tmp_path):
    missing = tmp_path / "nope.pth"
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        ResNetEncoder("resnet18", weights=missing)
    with pytest.raises(FileNotFoundError, match="IMAGENET1K_V1"):
        ResNetEncoder("resnet18", weights="not_a_weight_name")
    state = resnet18().state_dict()
    state["layer5.weight"] = state.pop("layer4.1.bn2.weight")
    wrong = tmp_path / "other_arch.pth"
    torch.save(state, wrong)
    with pytest.raises(
        ValueError,
        match=r"other_arch.pth.*missing keys \['layer4.1.bn2.weight'\], "
        r"unexpected keys \['layer5.weight'\]",
    ):
        ResNetEncoder("resnet18", weights=wrong)
    state = resnet18().state_dict()
    state["conv1.weight"] = state["conv1.weight"][:, :1]
    torch.save(state, wrong)
    with pytest.raises(ValueError, match="other_arch.pth.*size mismatch"):
        ResNetEncoder("resnet18", weights=wrong)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="garbage.pt"):
        ResNetEncoder("resnet18", weights=garbage)
    with pytest.raises(ValueError, match="ResNet18_Weights"):
        ResNetEncoder("resnet18", weights=ResNet50_Weights.IMAGENET1K_V1)
    with pytest.raises(ValueError, match="`arch`"):
        ResNetEncoder("resnet101")
    with pytest.raises(ValueError, match="`weights`"):
        ResNetEncoder("resnet18", weights=3)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        ResNetEncoder("resnet18")(torch.randn(1, 1, 32, 32))


@pytest.mark.parametrize(
    "weights",
    [
        ResNet18_Weights.IMAGENET1K_V1,
        "DEFAULT",
        "ResNet18_Weights.IMAGENET1K_V1",
    ],
)
def test_enum_weights_go_through_torchvision(monkeypatch, weights):
    # The enum path is the only one that downloads; intercept the download.
    calls = []

    def fake_get_state_dict(self, *args, **kwargs):
        calls.append(self)
        torch.manual_seed(1)
        return resnet18().state_dict()

    monkeypatch.setattr(ResNet18_Weights, "get_state_dict", fake_get_state_dict)
    enc = ResNetEncoder("resnet18", weights=weights)
    assert calls == [ResNet18_Weights.IMAGENET1K_V1]
    torch.manual_seed(1)
    torch.testing.assert_close(enc.conv1.weight, resnet18().conv1.weight)
    assert "IMAGENET1K_V1" in repr(enc)


def test_no_download_by_default(monkeypatch):
    def forbid(*args, **kwargs):
        raise AssertionError("download attempted")

    monkeypatch.setattr(ResNet18_Weights, "get_state_dict", forbid)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", forbid)
    ResNetEncoder("resnet18")


def _ramp_maps(image_size, strides, batch=2):
    """Maps whose channels hold the image x / y of each pixel centre."""
    height, width = image_size
    maps = []
    for s in strides:
        h, w = math.ceil(height / s), math.ceil(width / s)
        xs = (torch.arange(w, dtype=torch.float64) + 0.5) * s
        ys = (torch.arange(h, dtype=torch.float64) + 0.5) * s
        ramp = torch.stack(
            (
                xs.expand(h, w),
                ys[:, None].expand(h, w),
                torch.ones(h, w).double(),
            )
        )
        maps.append(ramp.expand(batch, 3, h, w).contiguous())
    return maps


def test_roi_coordinates_on_linear_ramp():
    # Bilinear sampling is exact on a linear map and the box is symmetric, so
    # aligned=True + spatial_scale=1/stride must return the joint's (x, y).
    image_size, strides = (128, 96), (4, 8, 16)
    maps = _ramp_maps(image_size, strides)
    joints = torch.tensor(
        [[[40.0, 50.0], [48.3, 64.7]], [[55.5, 70.25], [47.0, 60.0]]],
        dtype=torch.float64,
    )
    out = roi_joint_features(
        maps, joints, image_size, torch.tensor([12.0, 20.0]), strides=strides
    )
    assert out.shape == (2, 2, 9) and out.dtype == torch.float64
    for k in range(3):
        torch.testing.assert_close(out[..., 3 * k : 3 * k + 2], joints)
        torch.testing.assert_close(
            out[..., 3 * k + 2], torch.ones(2, 2).double()
        )


def test_roi_constant_inside_box():
    fmap = torch.zeros(1, 2, 32, 32)
    fmap[:, 0, 8:20, 10:22] = 3.0  # pixels [40, 88) x [32, 80) at stride 4
    fmap[:, 1] = -1.0
    joints = torch.tensor([[[64.0, 56.0]]])  # box [48, 80] x [40, 72]
    out = roi_joint_features(
        [fmap], joints, 128, 32.0, output_size=2, strides=[4]
    )
    assert out.shape == (1, 1, 2 * 2 * 2)
    torch.testing.assert_close(out[0, 0, :4], torch.full((4,), 3.0))
    torch.testing.assert_close(out[0, 0, 4:], torch.full((4,), -1.0))


def test_roi_with_encoder_maps_and_gradcheck(encoder):
    with torch.no_grad():
        enc_out = encoder(torch.randn(2, 3, 96, 80))
    joints = torch.rand(2, 12, 2) * torch.tensor([80.0, 96.0])
    out = roi_joint_features(
        enc_out.feature_maps, joints, (96, 80), 16.0, strides=enc_out.strides
    )
    assert out.shape == (2, 12, sum(encoder.stage_channels))
    assert torch.isfinite(out).all()

    maps = [
        torch.randn(1, 2, 4, 4, dtype=torch.float64, requires_grad=True),
        torch.randn(1, 3, 2, 2, dtype=torch.float64, requires_grad=True),
    ]
    joints = torch.tensor([[[5.0, 6.0], [10.0, 3.0]]], dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda a, b: roi_joint_features(
            [a, b], joints, 16, 6.0, output_size=2, strides=(4, 8)
        ),
        tuple(maps),
    )


def test_joint_box_size_and_fallback():
    joints = torch.tensor(
        [
            [[0.0, 0.0], [3.0, 4.0], [3.0, 10.0]],
            [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]],  # collapsed: length 0
            [[0.0, 0.0], [float("nan"), 0.0], [1.0, 1.0]],  # NaN joint
        ]
    )
    bones = [(0, 1), (1, 2)]
    out = joint_box_size(joints, bones, (100, 200), fallback_fraction=0.25)
    torch.testing.assert_close(out, torch.tensor([5.5, 25.0, 25.0]))
    assert torch.isfinite(out).all()
    with pytest.raises(ValueError, match="`bones`"):
        joint_box_size(joints, [(0, 3)], 100)
    with pytest.raises(ValueError, match="`fallback_fraction`"):
        joint_box_size(joints, bones, 100, fallback_fraction=0.0)
    with pytest.raises(ValueError, match="`image_size`"):
        joint_box_size(joints, bones, (100, 0))


def test_roi_errors():
    maps = [torch.zeros(1, 2, 16, 16), torch.zeros(1, 2, 8, 8)]
    joints = torch.tensor([[[10.0, 20.0]]])
    ok = dict(image_size=64, box_size=8.0, strides=(4, 8))
    roi_joint_features(maps, joints, **ok)
    nan = joints.clone()
    nan[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="finite values in `joints_2d`"):
        roi_joint_features(maps, nan, **ok)
    with pytest.raises(ValueError, match="at most 1.0 image sizes outside"):
        roi_joint_features(maps, joints + 500.0, **ok)
    # Slightly outside (a cropped limb) is fine.
    roi_joint_features(maps, joints - 30.0, **ok)
    with pytest.raises(ValueError, match="feature map 1"):
        roi_joint_features(maps, joints, 64, 8.0, strides=(4, 16))
    with pytest.raises(ValueError, match="feature map 0"):
        roi_joint_features(maps, joints, 96, 8.0, strides=(4, 8))
    with pytest.raises(ValueError, match="one stride per feature map"):
        roi_joint_features(maps, joints, 64, 8.0, strides=(4,))
    with pytest.raises(ValueError, match="feature map 0"):
        roi_joint_features(maps, joints.expand(2, 1, 2), **ok)
    with pytest.raises(ValueError, match="`box_size`"):
        roi_joint_features(maps, joints, 64, 0.0, strides=(4, 8))
    with pytest.raises(ValueError, match="`box_size`"):
        roi_joint_features(maps, joints, 64, float("nan"), strides=(4, 8))
    with pytest.raises(ValueError, match=r"\(B, J, 2\)"):
        roi_joint_features(maps, joints[0], **ok)


@with_device
def test_roi_and_box_size_on_device(device):
    maps = [m.to(device) for m in _ramp_maps((64, 48), (4, 8))]
    joints = torch.tensor([[[20.0, 30.0]], [[24.0, 33.0]]], device=device)
    joints = joints.double()
    box = joint_box_size(
        joints.expand(2, 2, 2)
        + torch.tensor(
            [[0.0, 0.0], [3.0, 4.0]], device=device, dtype=torch.float64
        ),
        [(0, 1)],
        (64, 48),
    )
    out = roi_joint_features(maps, joints, (64, 48), box, strides=(4, 8))
    assert out.device.type == device
    torch.testing.assert_close(out[..., :2], joints)


class _Payload:
    """Pickles as a call to ``print``: code that must never run."""

    def __reduce__(self):
        return (print, ("ran",))


def test_weights_file_with_code_never_suggests_weights_only_false(tmp_path):
    """Issue 27: torch's advice that ``weights_only=False`` "will likely
    succeed" was repeated; that option runs the file's code."""
    path = tmp_path / "code.pth"
    torch.save({"conv1.weight": _Payload()}, path)
    with pytest.raises(ValueError, match=r"code\.pth.*Unsupported global") as e:
        ResNetEncoder("resnet18", weights=path)
    assert "weights_only" not in str(e.value)
    assert "likely succeed" not in str(e.value)

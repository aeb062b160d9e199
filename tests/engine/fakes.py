"""Fakes shared by the engine and example tests (no rendering, tiny model)."""

import torch
from torch.utils.data import Dataset

from bigraph_pyg.models import BiGraphConfig

SIZE = 64


def tiny_config(name: str = "cpu") -> BiGraphConfig:
    """The smallest model the presets allow (64 px, 1 block, 16 channels)."""
    kw = dict(
        channels=16,
        input_channels=16,
        head_channels=8,
        num_blocks=2,
        smpl_hidden_channels=8,
        image_size=SIZE,
    )
    if name == "cpu":
        return BiGraphConfig.preset("cpu", **kw)
    return BiGraphConfig.preset(name, base="cpu", **kw)


class FakeHumans(Dataset):
    """Samples with the data keys, from the default body (no rendering).

    The mesh is the template plus a per-sample offset and scale, the 3D
    joints its regressed joints placed 5 m in front of the camera, the 2D
    joints their projection into the ``SIZE``-pixel crop; images are noise
    with a bright square where the person is.
    """

    def __init__(self, body, num_samples: int = 8, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        n = num_samples
        tmpl = body.template_vertices.float()
        reg = body.joint_regressor.float()
        from bigraph_pyg.topology import SMPL_TO_JOINTS

        scale = 1 + 0.1 * torch.randn(n, 1, 1, generator=g)
        shift = 0.05 * torch.randn(n, 1, 3, generator=g)
        self.vertices = tmpl[None] * scale + shift
        j = torch.einsum(
            "jn,bnc->bjc", reg[list(SMPL_TO_JOINTS)], self.vertices
        )
        self.joints_3d = j + torch.tensor([0.0, 0.0, 5.0])
        f = SIZE * 1.5
        uv = f * self.joints_3d[..., :2] / self.joints_3d[..., 2:] + SIZE / 2
        self.joints_2d = uv.clamp(1, SIZE - 2)
        self.joints_est = (
            self.joints_2d + torch.randn(n, 12, 2, generator=g)
        ).clamp(1, SIZE - 2)
        self.img = torch.randn(n, 3, SIZE, SIZE, generator=g)
        mask = torch.zeros(n, SIZE, SIZE, dtype=torch.uint8)
        mask[:, SIZE // 4 : 3 * SIZE // 4, SIZE // 3 : 2 * SIZE // 3] = 1
        self.mask = mask
        self.img[:, :, mask[0].bool()] += 2 * scale.view(n, 1, 1)
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        t = torch.tensor(True)
        return {
            "img": self.img[i],
            "joints_2d": self.joints_2d[i],
            "joints_2d_visible": torch.ones(12),
            "joints_2d_est": self.joints_est[i],
            "joints_2d_est_visible": torch.ones(12),
            "joints_3d": self.joints_3d[i],
            "joints_3d_visible": torch.ones(12),
            "vertices": self.vertices[i],
            "pose": torch.zeros(72),
            "betas": torch.zeros(10),
            "mask": self.mask[i],
            "part_seg": self.mask[i] * 2,
            "has_smpl": t,
            "has_pose_3d": t,
            "has_joints_2d": t,
            "has_vertices": t,
            "has_seg": t,
            "dataset": "fake",
            "index": torch.tensor(i),
        }

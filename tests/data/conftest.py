"""Fixtures for tests/data: a small synthetic cache and fake GraphCMR sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bigraph_pyg.data import SyntheticConfig, SyntheticHumans

#: A tiny cache: 6 samples in shards of 4 (two shards).
SYN_CONFIG = SyntheticConfig(shard_size=4)
SYN_N = 6


@pytest.fixture(scope="session")
def syn_config() -> SyntheticConfig:
    return SYN_CONFIG


@pytest.fixture(scope="session")
def syn_n() -> int:
    return SYN_N


@pytest.fixture
def fake_graphcmr():
    """The :func:`write_fake_graphcmr` writer."""
    return write_fake_graphcmr


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    SyntheticHumans(
        root,
        "train",
        SYN_N,
        seed=0,
        config=SYN_CONFIG,
        num_workers=0,
        progress=False,
    )
    return root


@pytest.fixture(scope="session")
def synthetic(synthetic_root) -> SyntheticHumans:
    return SyntheticHumans(
        synthetic_root,
        "train",
        SYN_N,
        seed=0,
        config=SYN_CONFIG,
        progress=False,
        generate=False,
    )


def write_fake_graphcmr(
    folder: Path,
    name: str,
    n: int = 4,
    with_3d: bool = False,
    with_smpl: bool = False,
    with_seg: bool = False,
    image_size: tuple[int, int] = (320, 240),
    seed: int = 0,
) -> tuple[Path, Path]:
    """Write ``<folder>/<name>.npz`` and ``n`` real JPEG files.

    Each image is dark noise with a white 5x5 square at every visible
    joint, so a test can find the joints in a crop.

    Returns:
        tuple: the npz path and the image folder.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    img_dir = folder / f"{name}_images"
    img_dir.mkdir(parents=True, exist_ok=True)
    w, h = image_size
    names, centers, scales, parts = [], [], [], []
    for i in range(n):
        center = np.array(
            [w / 2 + rng.uniform(-20, 20), h / 2 + rng.uniform(-20, 20)]
        )
        scale = rng.uniform(0.8, 1.0) * min(w, h) / 200.0
        part = np.zeros((24, 3))
        part[:, :2] = center + rng.uniform(-0.4, 0.4, (24, 2)) * 200 * scale
        part[:, 2] = 1.0
        part[5, 2] = 0.0  # one unannotated joint
        img = (rng.random((h, w, 3)) * 40).astype(np.uint8)
        for x, y, v in part[:12]:
            if v > 0:
                xi, yi = int(round(x)), int(round(y))
                img[max(yi - 2, 0) : yi + 3, max(xi - 2, 0) : xi + 3] = 255
        rel = f"sub/img_{i:03d}.jpg"
        (img_dir / "sub").mkdir(exist_ok=True)
        Image.fromarray(img).save(img_dir / rel, quality=95)
        names.append(rel)
        centers.append(center)
        scales.append(scale)
        parts.append(part)
    arrays = {
        "imgname": np.array(names),
        "center": np.array(centers),
        "scale": np.array(scales),
        "part": np.array(parts),
    }
    if with_3d:
        S = np.concatenate(
            [rng.normal(0, 0.3, (n, 24, 3)) + [0, 0, 5], np.ones((n, 24, 1))],
            axis=2,
        )
        arrays["S"] = S
    if with_smpl:
        arrays["pose"] = rng.normal(0, 0.2, (n, 72))
        arrays["shape"] = rng.normal(0, 1, (n, 10))
        arrays["has_smpl"] = np.ones(n)
    if with_seg:
        masks, segs = [], []
        for i in range(n):
            m = np.zeros((h, w), np.uint8)
            m[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = 255
            Image.fromarray(m).save(img_dir / f"sub/mask_{i:03d}.png")
            lab = np.zeros((h, w), np.uint8)
            lab[h // 4 : h // 2, w // 4 : w // 2] = 3  # left_arm
            Image.fromarray(lab).save(img_dir / f"sub/part_{i:03d}.png")
            masks.append(f"sub/mask_{i:03d}.png")
            segs.append(f"sub/part_{i:03d}.png")
        arrays["maskname"] = np.array(masks)
        arrays["partname"] = np.array(segs)
    path = folder / f"{name}.npz"
    np.savez(path, **arrays)
    return path, img_dir

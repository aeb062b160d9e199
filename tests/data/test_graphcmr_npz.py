import logging

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler

from bigraph_pyg.data import (
    DATASET_FILES,
    AugmentConfig,
    GraphCMRDataset,
    check_sample,
    coco,
    denormalize_image,
    h36m,
    lsp,
    mpii,
    up3d,
)

NO_AUG = AugmentConfig(
    flip_prob=0.0, rot_prob=0.0, scale_factor=0.0, noise_factor=0.0
)


def _bright_at(sample, joints=None):
    """Brightness of the crop at each visible joint (3x3 max)."""
    img = denormalize_image(sample["img"]).astype(np.float64).mean(2)
    j = sample["joints_2d"] if joints is None else joints
    out = []
    for (x, y), v in zip(
        j.tolist(), sample["joints_2d_visible"].tolist(), strict=True
    ):
        xi, yi = int(round(x)), int(round(y))
        if v > 0 and 2 <= xi < 222 and 2 <= yi < 222:
            out.append(img[yi - 1 : yi + 2, xi - 1 : xi + 2].max())
    return np.array(out)


def test_read_back_all_keys(tmp_path, fake_graphcmr):
    path, imgs = fake_graphcmr(
        tmp_path, "h36m_train", with_3d=True, with_smpl=True
    )
    ds = GraphCMRDataset(path, imgs, "h36m", train=False)
    assert len(ds) == 4
    s = ds[0]
    check_sample(s)
    assert s["dataset"] == "h36m"
    assert bool(s["has_smpl"]) and bool(s["has_pose_3d"])
    assert bool(s["has_joints_2d"]) and not bool(s["has_vertices"])
    assert not bool(s["has_seg"]) and not bool(s["has_camera"])
    assert s["joints_2d_visible"][5] == 0 and s["joints_2d_visible"].sum() == 11
    # The joints drawn as white squares are found in the crop.
    assert (_bright_at(s) > 150).all()
    raw = np.load(path)
    np.testing.assert_allclose(s["pose"].numpy(), raw["pose"][0], atol=1e-6)
    np.testing.assert_allclose(
        s["joints_3d"].numpy(), raw["S"][0, :12, :3], atol=1e-6
    )


def test_center_maps_to_crop_center(tmp_path, fake_graphcmr):
    path, imgs = fake_graphcmr(tmp_path, "lsp")
    raw = dict(np.load(path))
    raw["part"][0, 0, :2] = raw["center"][0]
    np.savez(path, **raw)
    s = GraphCMRDataset(path, imgs, "lsp", train=False)[0]
    torch.testing.assert_close(s["joints_2d"][0], torch.tensor([111.5, 111.5]))


def test_augmentation_keeps_image_and_joints_together(tmp_path, fake_graphcmr):
    path, imgs = fake_graphcmr(
        tmp_path, "mpii", n=3, with_3d=True, with_smpl=True
    )
    aug = AugmentConfig(flip_prob=1.0, rot_prob=1.0, noise_factor=0.0)
    ds = GraphCMRDataset(path, imgs, "mpii", train=True, augment=aug)
    plain = GraphCMRDataset(path, imgs, "mpii", train=False)
    for i in range(3):
        torch.manual_seed(i)
        s = ds[i]
        check_sample(s)
        assert (_bright_at(s) > 150).all()
        p = plain[i]
        # Flip: x mirrored, left/right swapped in 3D too; pose flipped.
        assert torch.allclose(
            s["joints_3d"][:, 2].sort().values,
            p["joints_3d"][:, 2].sort().values,
            atol=1e-5,
        )
        assert not torch.allclose(s["pose"], p["pose"])


def test_seg_images(tmp_path, fake_graphcmr):
    path, imgs = fake_graphcmr(tmp_path, "lsp_dataset_test", with_seg=True)
    s = GraphCMRDataset(path, imgs, "lsp", train=False)[0]
    assert bool(s["has_seg"])
    assert 0 < s["mask"].float().mean() < 1
    assert set(torch.unique(s["part_seg"]).tolist()) <= {0, 3}
    ds = GraphCMRDataset(
        path,
        imgs,
        "lsp",
        train=True,
        augment=AugmentConfig(flip_prob=1.0, rot_prob=0.0),
    )
    # left_arm (3) becomes right_arm (4) when flipped.
    assert set(torch.unique(ds[0]["part_seg"]).tolist()) <= {0, 4}


def test_constructors(tmp_path, fake_graphcmr):
    makers = {
        "h36m": h36m,
        "up3d": up3d,
        "lsp": lsp,
        "coco": coco,
        "mpii": mpii,
    }
    for name, make in makers.items():
        file = DATASET_FILES[name]["train"]
        _, imgs = fake_graphcmr(tmp_path, file[:-4])
        ds = make(tmp_path, imgs)
        assert ds.name == name and ds.train and len(ds) == 4
    with pytest.raises(ValueError, match="split"):
        coco(tmp_path, imgs, split="test")


def test_vertices_with_body(tmp_path, fake_graphcmr):
    from bigraph_pyg.body import default_body
    from bigraph_pyg.topology import mesh_hierarchy

    path, imgs = fake_graphcmr(tmp_path, "up", with_smpl=True)
    body = default_body()
    down = mesh_hierarchy(body.template_vertices, body.faces).down[0]
    s = GraphCMRDataset(
        path, imgs, "up3d", train=False, body=body, coarse_down=down
    )[1]
    assert bool(s["has_vertices"])
    assert s["vertices"].abs().sum() > 0
    assert s["coarse_vertices"].abs().sum() > 0


def test_dataloader_workers_distributed(tmp_path, fake_graphcmr):
    path, imgs = fake_graphcmr(tmp_path, "coco", n=6)
    ds = GraphCMRDataset(path, imgs, "coco")
    sampler = DistributedSampler(ds, num_replicas=3, rank=2)
    batch = next(
        iter(DataLoader(ds, batch_size=2, sampler=sampler, num_workers=2))
    )
    assert batch["img"].shape == (2, 3, 224, 224)
    assert batch["has_smpl"].tolist() == [False, False]


def _rewrite(path, **changes):
    raw = dict(np.load(path))
    for k, v in changes.items():
        if v is None:
            raw.pop(k)
        else:
            raw[k] = v
    np.savez(path, **raw)


def test_bad_npz_errors(tmp_path, fake_graphcmr):
    path, imgs = fake_graphcmr(tmp_path, "lsp")
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        GraphCMRDataset(tmp_path / "nope.npz", imgs, "lsp")
    with pytest.raises(FileNotFoundError, match="image folder"):
        GraphCMRDataset(path, tmp_path / "no_images", "lsp")
    raw = dict(np.load(path))
    _rewrite(path, scale=None)
    with pytest.raises(ValueError, match=r"lsp.npz.*missing \['scale'\]"):
        GraphCMRDataset(path, imgs, "lsp")
    _rewrite(path, scale=raw["scale"], center=raw["center"][:, :1])
    with pytest.raises(ValueError, match=r"'center' of shape \(4, 2\)"):
        GraphCMRDataset(path, imgs, "lsp")
    part = raw["part"].copy()
    part[2, 3, 0] = np.nan
    _rewrite(path, center=raw["center"], part=part)
    with pytest.raises(ValueError, match=r"finite keypoints in 'part'.*\[2\]"):
        GraphCMRDataset(path, imgs, "lsp")
    _rewrite(path, part=raw["part"], scale=-raw["scale"])
    with pytest.raises(ValueError, match="positive scales"):
        GraphCMRDataset(path, imgs, "lsp")
    _rewrite(
        path, scale=raw["scale"], imgname=np.array(raw["imgname"], dtype=object)
    )
    with pytest.raises(ValueError, match="allow_pickle"):
        GraphCMRDataset(path, imgs, "lsp")
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="broken.npz"):
        GraphCMRDataset(tmp_path / "broken.npz", imgs, "lsp")


def test_text_folders_and_files_where_they_do_not_belong(
    tmp_path, fake_graphcmr
):
    """A string 'center', a folder as the npz, a root or image folder that
    is a file: each is named, with what was expected and what came."""
    path, imgs = fake_graphcmr(tmp_path, "lsp_dataset_original_train")
    raw = dict(np.load(path))
    _rewrite(path, center=raw["center"].astype(str))
    with pytest.raises(
        ValueError, match=r"numbers in 'center' of .*\.npz \(got dtype <U"
    ):
        GraphCMRDataset(path, imgs, "lsp")
    _rewrite(path, center=raw["center"])
    with pytest.raises(FileNotFoundError, match=r"\(got a folder\)"):
        GraphCMRDataset(imgs, imgs, "lsp")
    with pytest.raises(FileNotFoundError, match=r"image folder .*got a file"):
        GraphCMRDataset(path, path, "lsp")
    with pytest.raises(
        FileNotFoundError,
        match=r"folder of GraphCMR's lsp npz files as root \(got a file at ",
    ):
        lsp(path, imgs)
    with pytest.raises(FileNotFoundError, match=r"root \(got no such folder"):
        lsp(tmp_path / "nowhere", imgs)
    assert len(lsp(tmp_path, imgs)) == 4


def test_load_graphcmr_npz_alone(tmp_path, fake_graphcmr):
    # The reader the dataset uses, without a dataset: names as str, and
    # has_smpl (ones) where pose comes without it.
    from bigraph_pyg.data.graphcmr_npz import load_graphcmr_npz

    path, imgs = fake_graphcmr(tmp_path, "up3d", with_smpl=True)
    raw = dict(np.load(path))
    _rewrite(path, has_smpl=None)
    data = load_graphcmr_npz(path, imgs)
    assert data["imgname"].dtype.kind == "U"
    np.testing.assert_array_equal(data["has_smpl"], np.ones(4))
    np.testing.assert_array_equal(data["pose"], raw["pose"])
    _rewrite(path, imgname=np.array(["../outside.jpg"] * 4))
    with pytest.raises(ValueError, match=r"'imgname'\[0\] of .*up3d.npz"):
        load_graphcmr_npz(path, imgs)


def test_bad_image_errors_and_skip(tmp_path, fake_graphcmr, caplog):
    path, imgs = fake_graphcmr(tmp_path, "coco", n=4)
    raw = dict(np.load(path))
    (imgs / raw["imgname"][1]).unlink()
    (imgs / raw["imgname"][2]).write_bytes(b"\xff\xd8 corrupt jpeg")
    ds = GraphCMRDataset(path, imgs, "coco")
    with pytest.raises(FileNotFoundError, match="img_001.jpg.*sample 1"):
        ds[1]
    with pytest.raises(OSError, match="img_002.jpg.*sample 2"):
        ds[2]
    skip = GraphCMRDataset(path, imgs, "coco", skip_unreadable=True)
    with caplog.at_level(logging.WARNING):
        s = skip[1]
    assert int(s["index"]) == 3 and skip.num_skipped == 2
    assert "img_001.jpg" in caplog.text and "img_002.jpg" in caplog.text
    # A box entirely outside the image.
    center = raw["center"].copy()
    center[0] = [-1000.0, -1000.0]
    _rewrite(path, center=center)
    with pytest.raises(ValueError, match="overlap the image.*img_000.jpg"):
        GraphCMRDataset(path, imgs, "coco", train=False)[0]


def test_error_in_worker_names_file(tmp_path, fake_graphcmr):
    path, imgs = fake_graphcmr(tmp_path, "mpii", n=2)
    raw = dict(np.load(path))
    (imgs / raw["imgname"][1]).unlink()
    loader = DataLoader(
        GraphCMRDataset(path, imgs, "mpii"), batch_size=2, num_workers=1
    )
    with pytest.raises(FileNotFoundError, match="img_001.jpg"):
        next(iter(loader))


def test_exif_rotated_image_is_read_upright(tmp_path, fake_graphcmr):
    """A photo stored sideways with an EXIF orientation tag (as phones
    write them) is read upright, as ``cv2.imread`` does: the annotated
    joints land on the drawn squares only then."""
    from PIL import Image

    path, imgs = fake_graphcmr(tmp_path, "lsp", n=1)
    name = imgs / str(np.load(path)["imgname"][0])
    upright = Image.open(name)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    upright.transpose(Image.Transpose.ROTATE_90).save(
        name, quality=95, exif=exif
    )
    assert Image.open(name).size == upright.size[::-1]
    s = GraphCMRDataset(path, imgs, "lsp", train=False)[0]
    assert (_bright_at(s) > 150).all()

"""Damaged files at the loading boundary (issue 13, items 6 and 3).

Every truncated or corrupted ``.npz``, a garbage ``meta.json`` and an
``imgname`` that escapes its folder fail with an error naming the file,
what was expected and what was found, never a bare ``BadZipFile``,
``EOFError``, ``KeyError`` or ``JSONDecodeError``.
"""

import shutil

import numpy as np
import pytest

from bigraph_pyg.data import GraphCMRDataset, SyntheticConfig, SyntheticHumans
from bigraph_pyg.data.synthetic_cache import generate_synthetic
from bigraph_pyg.utils.io import load_json, load_npz, resolve_inside

SYN_N = 6
SYN_CONFIG = SyntheticConfig(shard_size=4)  # as tests/data/conftest.py


def truncate(path, keep=0.5):
    """Cut a file to a fraction of its bytes (an interrupted copy)."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def flip_bytes(path, count=5, width=64):
    """Invert ``count`` runs of ``width`` bytes in the file's middle."""
    data = bytearray(path.read_bytes())
    n = len(data)
    for k in range(count):
        start = n // 4 + k * (n // (2 * count))
        for i in range(start, min(start + width, n)):
            data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def test_load_npz_boundary(tmp_path):
    path = tmp_path / "a.npz"
    np.savez(path, x=np.arange(1000), y=np.ones((50, 3)))
    assert sorted(load_npz(path, "a test file", ["x"])) == ["x", "y"]
    with pytest.raises(
        ValueError,
        match=r"keys \['x', 'z'\].*a\.npz.*"
        r"missing \['z'\]",
    ):
        load_npz(path, "a test file", ["x", "z"])
    with pytest.raises(FileNotFoundError, match="a test file.*none.npz"):
        load_npz(tmp_path / "none.npz", "a test file")
    flip_bytes(path)
    with pytest.raises(
        ValueError,
        match=r"a test file at '.*a\.npz' to "
        r"be a readable \.npz archive.*corrupted",
    ):
        load_npz(path, "a test file")
    truncate(path)
    with pytest.raises(ValueError, match=r"a\.npz.*BadZipFile.*truncated"):
        load_npz(path, "a test file", hint="delete it")
    np.save(tmp_path / "b.npy", np.arange(3))
    with pytest.raises(ValueError, match=r"b\.npy.*single ndarray"):
        load_npz(tmp_path / "b.npy", "a test file")
    np.savez(tmp_path / "c.npz", o=np.array([{}], dtype=object))
    with pytest.raises(ValueError, match=r"non-object.*c\.npz.*allow_pickle"):
        load_npz(tmp_path / "c.npz", "a test file")


def test_load_json_boundary(tmp_path):
    path = tmp_path / "meta.json"
    path.write_text('{"a": 1')
    with pytest.raises(
        ValueError,
        match=r"meta\.json.*readable JSON.*"
        r"JSONDecodeError.*delete",
    ):
        load_json(path, "a cache file", hint="delete it")
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match="readable JSON.*UnicodeDecodeError"):
        load_json(path, "a cache file")
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON object.*got a list"):
        load_json(path, "a cache file")


@pytest.mark.parametrize(
    "name",
    [
        "../outside.jpg",
        "sub/../../outside.jpg",
        "/etc/passwd",
        "..\\outside.jpg",
        "C:/Windows/x.jpg",
        "",
    ],
)
def test_resolve_inside_refuses_escapes(tmp_path, name):
    with pytest.raises(ValueError, match=r"relative path inside.*'imgname'"):
        resolve_inside(tmp_path, name, "'imgname'[0] of x.npz")


def test_resolve_inside_keeps_plain_names(tmp_path):
    assert (
        resolve_inside(tmp_path, "a..b/c.jpg", "x") == tmp_path / "a..b/c.jpg"
    )


@pytest.mark.parametrize("key", ["imgname", "maskname"])
def test_graphcmr_imgname_escaping_the_folder_is_refused(
    tmp_path, key, fake_graphcmr
):
    path, imgs = fake_graphcmr(tmp_path, "lsp", with_seg=True)
    outside = tmp_path / "secret.jpg"
    shutil.copy(imgs / "sub" / "img_000.jpg", outside)
    raw = dict(np.load(path))
    for bad in ("../secret.jpg", str(outside), "sub/../../secret.jpg"):
        names = raw[key].copy().astype(object)
        names[1] = bad
        np.savez(path, **{**raw, key: names.astype(str)})
        with pytest.raises(ValueError) as err:
            GraphCMRDataset(path, imgs, "lsp")
        msg = str(err.value)
        assert f"'{key}'[1] of {path}" in msg and repr(bad) in msg


def test_graphcmr_damaged_npz_names_the_file(tmp_path, fake_graphcmr):
    path, imgs = fake_graphcmr(tmp_path, "lsp")
    good = path.read_bytes()
    truncate(path)
    with pytest.raises(
        ValueError,
        match=r"GraphCMR .npz file at .*lsp\.npz"
        r".*truncated or corrupted.*docs/data.md",
    ):
        GraphCMRDataset(path, imgs, "lsp")
    path.write_bytes(good)
    flip_bytes(path, count=3, width=32)
    with pytest.raises(ValueError, match=r"lsp\.npz.*readable \.npz"):
        GraphCMRDataset(path, imgs, "lsp")


@pytest.fixture
def cache_copy(synthetic_root, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(synthetic_root, copy)
    return copy


@pytest.mark.parametrize(
    "text", ['{"format_version": 2', "", "[]", "\x00\x01garbage"]
)
def test_synthetic_garbage_meta_json_is_named(cache_copy, text):
    meta = cache_copy / "train" / "meta.json"
    meta.write_text(text)
    for make in (
        lambda: SyntheticHumans(
            cache_copy, "train", SYN_N, config=SYN_CONFIG, progress=False
        ),
        lambda: generate_synthetic(
            cache_copy,
            "train",
            SYN_N,
            config=SYN_CONFIG,
            num_workers=0,
            progress=False,
        ),
    ):
        with pytest.raises(ValueError) as err:
            make()
        msg = str(err.value)
        assert str(meta) in msg and "JSON" in msg
        assert f"delete {cache_copy / 'train'}" in msg


@pytest.mark.parametrize("damage", [truncate, flip_bytes])
def test_synthetic_damaged_shard_is_named(cache_copy, damage):
    shard = cache_copy / "train" / "shard_00001.npz"
    damage(shard)
    with pytest.raises(ValueError) as err:
        SyntheticHumans(
            cache_copy,
            "train",
            SYN_N,
            config=SYN_CONFIG,
            progress=False,
            generate=False,
        )
    msg = str(err.value)
    assert f"synthetic shard at '{shard}'" in msg
    assert "truncated or corrupted" in msg
    assert f"delete {cache_copy / 'train'}" in msg


def test_synthetic_shard_with_wrong_samples_is_named(cache_copy):
    folder = cache_copy / "train"
    with np.load(folder / "shard_00000.npz") as z:
        arrays = {k: z[k] for k in z.files}
    np.savez(folder / "shard_00001.npz", **arrays)  # shard 0's samples
    with pytest.raises(
        ValueError,
        match=r"'index' = samples \[4, 5\].*"
        r"shard_00001\.npz.*got \[0, 1, 2, 3\]",
    ):
        SyntheticHumans(
            cache_copy,
            "train",
            SYN_N,
            config=SYN_CONFIG,
            progress=False,
            generate=False,
        )
    arrays["index"] = np.arange(4, 6)
    np.savez(folder / "shard_00001.npz", **arrays)  # 2 indices, 4 rows
    with pytest.raises(
        ValueError,
        match=r"2 samples in every array.*"
        r"shard_00001\.npz.*betas",
    ):
        SyntheticHumans(
            cache_copy,
            "train",
            SYN_N,
            config=SYN_CONFIG,
            progress=False,
            generate=False,
        )
    del arrays["pose"]
    np.savez(folder / "shard_00001.npz", **arrays)
    with pytest.raises(
        ValueError,
        match=r"shard_00001\.npz.*missing "
        r"\['pose'\]",
    ):
        SyntheticHumans(
            cache_copy,
            "train",
            SYN_N,
            config=SYN_CONFIG,
            progress=False,
            generate=False,
        )


def test_pose_only_cache_damaged_names_the_file(tmp_path):
    from bigraph_pyg.data import SyntheticPoses

    poses = SyntheticPoses(tmp_path, 2, progress=False)
    truncate(poses.path)
    with pytest.raises(
        ValueError,
        match=r"pose-only cache .*at '.*"
        r"poses_s0_n2.*truncated or corrupted.*delete it",
    ):
        SyntheticPoses(tmp_path, 2, progress=False)

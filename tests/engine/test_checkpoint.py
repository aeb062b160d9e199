"""Checkpoint files: verified content, stale temp files, failed writes."""

import errno
import os
import random
import warnings

import pytest
import torch

from bigraph_pyg.engine import (
    CheckpointError,
    TrainConfig,
    Trainer,
    load_checkpoint,
    save_checkpoint,
)
from bigraph_pyg.engine.atomic_save import remove_stale_temp_files
from bigraph_pyg.engine.checkpoint import state_digest

FAST = dict(batch_size=4, progress=False)


@pytest.fixture(scope="module")
def trained(make_model_module, fake_set, tmp_path_factory):
    """A real training checkpoint (model, optimizer, RNG, history)."""
    out = tmp_path_factory.mktemp("ckpt")
    Trainer(
        make_model_module(),
        fake_set,
        TrainConfig(epochs=1, max_steps=1, **FAST),
        out,
    ).fit()
    return out / "checkpoints" / "last.pt"


@pytest.fixture(scope="module")
def make_model_module(body, graphs):
    from fakes import tiny_config

    from bigraph_pyg.models import BiGraphBody

    def make():
        torch.manual_seed(0)
        return BiGraphBody(tiny_config(), graphs, body)

    return make


def _flip(data: bytes, seed: int, runs: int = 5, width: int = 64) -> bytes:
    """``runs`` runs of ``width`` inverted bytes in the middle half."""
    out = bytearray(data)
    rng = random.Random(seed)
    n = len(out)
    for _ in range(runs):
        start = rng.randrange(n // 4, 3 * n // 4 - width)
        for i in range(start, start + width):
            out[i] ^= 0xFF
    return bytes(out)


def test_checkpoint_stores_a_digest_of_its_content(trained):
    state = load_checkpoint(trained)
    assert "checksum" not in state  # checked and removed on load
    raw = torch.load(trained, weights_only=True)
    stored = raw.pop("checksum")["sha256"]
    assert stored == state_digest(raw) == state_digest(state)
    # The digest sees a one-element change of any tensor or value.
    state["model"][next(iter(state["model"]))].view(-1)[0] += 1
    assert state_digest(state) != stored
    raw["step"] += 1
    assert state_digest(raw) != stored


@pytest.mark.parametrize("seed", range(6))
def test_bit_flipped_checkpoint_is_refused(trained, tmp_path, seed):
    bad = tmp_path / "flipped.pt"
    bad.write_bytes(_flip(trained.read_bytes(), seed))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(bad)
    msg = str(info.value)
    assert str(bad) in msg
    assert "corrupted" in msg


def test_flipped_tensor_bytes_fail_the_checksum(tmp_path):
    # Flips inside one tensor's data: the archive stays readable, only the
    # digest can tell (torch.load does not check the zip CRC).
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"model": {"w": torch.zeros(1 << 16)}})
    data = bytearray(path.read_bytes())
    start = data.find(bytes(4096))  # inside the zero tensor
    assert start > 0
    for i in range(start + 1000, start + 1000 + 5 * 64):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    state = torch.load(path, weights_only=True)  # torch alone: no error
    assert not torch.equal(state["model"]["w"], torch.zeros(1 << 16))
    with pytest.raises(CheckpointError, match="stored SHA-256"):
        load_checkpoint(path)


def test_checkpoint_without_checksum_loads_with_a_warning(tmp_path):
    from bigraph_pyg.engine.checkpoint import (
        CHECKPOINT_FORMAT,
        CHECKPOINT_VERSION,
    )

    path = tmp_path / "old.pt"
    torch.save(
        {
            "format": CHECKPOINT_FORMAT,
            "format_version": CHECKPOINT_VERSION,
            "step": 3,
        },
        path,
    )
    with pytest.warns(UserWarning, match="no checksum"):
        state = load_checkpoint(path)
    assert state["step"] == 3


def test_sparse_tensors_round_trip_the_digest(tmp_path):
    i = torch.tensor([[0, 1, 2], [2, 0, 1]])
    coo = torch.sparse_coo_tensor(i, torch.tensor([1.0, 2.0, 3.0]), (3, 3))
    path = save_checkpoint(
        tmp_path / "s.pt", {"coo": coo, "csr": coo.to_sparse_csr()}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's sparse-validation note
        state = load_checkpoint(path)
    torch.testing.assert_close(state["csr"].to_dense(), coo.to_dense())


def test_stale_temp_files_are_removed_on_the_next_write(tmp_path):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    stale = [folder / ".last.pt.k2_9abcd.tmp", folder / ".best.pt.zz00aa11.tmp"]
    for p in stale:
        p.write_bytes(b"x" * 100)
    others = [
        folder / "notes.tmp",
        folder / ".last.pt.tmp",
        folder / "last.pt.k2_9abcd.tmp",
        folder / ".x.TOOLONG123.tmp",
    ]
    for p in others:
        p.write_bytes(b"keep")
    save_checkpoint(folder / "last.pt", {"step": 1})
    # Writing last.pt clears last.pt's leftovers, not a temp file another
    # writer of best.pt may still be filling; writing best.pt clears that.
    assert not stale[0].exists() and stale[1].exists()
    save_checkpoint(folder / "best.pt", {"step": 1})
    assert not any(p.exists() for p in stale)
    assert all(p.read_bytes() == b"keep" for p in others)
    assert load_checkpoint(folder / "last.pt")["step"] == 1
    assert remove_stale_temp_files(tmp_path / "missing") == []


def test_training_run_removes_stale_temp_files(
    make_model_module, fake_set, tmp_path
):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    stale = folder / ".last.pt.abcdefgh.tmp"
    stale.write_bytes(b"half a checkpoint")
    Trainer(
        make_model_module(),
        fake_set,
        TrainConfig(epochs=1, max_steps=0, **FAST),
        tmp_path,
    ).fit()
    assert not stale.exists()
    assert (folder / "last.pt").is_file()


def test_disk_full_names_the_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "last.pt", {"step": 1})
    good = path.read_bytes()

    def full(obj, f, *args, **kwargs):
        f.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(OSError, match="No space left") as info:
        save_checkpoint(path, {"step": 2})
    msg = str(info.value)
    assert str(path) in msg and "previous file is kept" in msg
    assert info.value.errno == errno.ENOSPC
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_output_below_a_regular_file_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    target = blocker / "checkpoints" / "last.pt"
    with pytest.raises(OSError, match="not below a regular file") as info:
        save_checkpoint(target, {"step": 1})
    assert str(target) in str(info.value)


def test_checkpoint_file_mode_follows_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        path = save_checkpoint(tmp_path / "m.pt", {"step": 1})
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640  # not mkstemp's 0600

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


# -- issue 27: tampered files whose checksum was re-signed --------------------


@pytest.fixture(scope="module")
def model_file(make_model_module, tmp_path_factory):
    """A checkpoint holding a tiny model's config and weights."""
    net = make_model_module()
    path = tmp_path_factory.mktemp("model") / "model.pt"
    return save_checkpoint(
        path, {"model_config": net.config.to_dict(), "model": net.state_dict()}
    )


def _resigned(src, dst, edit):
    """``src`` edited by ``edit(state)`` and saved with a valid checksum."""
    state = torch.load(src, weights_only=True)
    state.pop("checksum")
    edit(state)
    return save_checkpoint(dst, state)


def _edit_weight(how: str):
    """Change the first encoder weight: ``"str"``, ``"drop"`` or ``"shape"``."""

    def edit(state):
        weights = state["model"]
        name = next(k for k in weights if k.startswith("encoder."))
        if how == "drop":
            del weights[name]
        else:
            weights[name] = "x" if how == "str" else torch.zeros(3, 3, 3)

    return edit


TAMPERED_MODELS = {
    "config_list": (
        lambda s: s.update(model_config=[1, 2]),
        r"'model_config' in the checkpoint .* to be dict \(got list",
    ),
    "huge_width": (  # 10**6 channels: terabytes if it were allocated
        lambda s: s["model_config"].update(channels=10**6),
        r"weight '.*' of shape \(\d{6,}, \d+\) for the stored model_config"
        r" .*\(got \(",
    ),
    "model_list": (
        lambda s: s.update(model=[1]),
        r"model weights in the checkpoint .* dict of name to tensor \(got "
        r"list\)",
    ),
    "int_key": (
        lambda s: s["model"].update({3: torch.zeros(1)}),
        r"dict of name to tensor \(got 3: Tensor\)",
    ),
    "str_value": (_edit_weight("str"), r"\(got 'encoder\..*': str\)"),
    "missing_weight": (_edit_weight("drop"), r"\(got none\)"),
    "wrong_shape": (_edit_weight("shape"), r"\(got \(3, 3, 3\)\)"),
}


@pytest.mark.parametrize("case", sorted(TAMPERED_MODELS))
def test_resigned_tampered_model_is_a_clear_error(
    model_file, tmp_path, body, case
):
    """Issue 27: raw AttributeError/TypeError/allocator errors before."""
    from bigraph_pyg import hub
    from bigraph_pyg.engine import model_from_checkpoint

    edit, message = TAMPERED_MODELS[case]
    path = _resigned(model_file, tmp_path / "tampered.pt", edit)
    for load in (model_from_checkpoint, hub.load_model):
        with pytest.raises(CheckpointError, match=message) as info:
            load(path, body)
        assert str(path) in str(info.value)


TAMPERED_STATES = {
    "step": (lambda s: s.update(step="x"), r"'step' .* an int >= 0 \(got str"),
    "epoch": (lambda s: s.update(epoch=-3), r"'epoch' .* >= 0 \(got int: -3"),
    "history": (lambda s: s.update(history=5), r"'history' .* list \(got"),
    "optimizer": (
        lambda s: s["optimizer"]["param_groups"][0].update(params=["a"]),
        r"optimizer state dict .* integer 'params'",
    ),
    "rng": (
        lambda s: s["rng"].update(numpy="x"),
        r"RNG state of capture_rng_state",
    ),
}


@pytest.mark.parametrize("case", sorted(TAMPERED_STATES))
def test_resigned_tampered_training_state_is_a_clear_error(
    trained, tmp_path, case
):
    edit, message = TAMPERED_STATES[case]
    path = _resigned(trained, tmp_path / "last.pt", edit)
    with pytest.raises(CheckpointError, match=message) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_rng_state_the_generators_refuse_is_a_checkpoint_error():
    from bigraph_pyg.engine.checkpoint import (
        capture_rng_state,
        restore_rng_state,
    )

    state = capture_rng_state()
    state["torch"] = torch.zeros(3, dtype=torch.uint8)
    with pytest.raises(CheckpointError, match="RNG state.*edited"):
        restore_rng_state(state)


class _Payload:
    """Pickles as a call to ``print``: code that must never run."""

    def __reduce__(self):
        return (print, ("ran",))


def test_refused_checkpoint_never_suggests_weights_only_false(tmp_path):
    """Issue 27: torch's advice that ``weights_only=False`` "will likely
    succeed" was repeated; that option runs the file's code."""
    path = tmp_path / "code.pt"
    torch.save({"format": "bigraph_pyg.checkpoint", "x": _Payload()}, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    msg = str(info.value)
    assert str(path) in msg and "Unsupported global" in msg
    assert "never loaded" in msg
    assert "weights_only" not in msg and "likely succeed" not in msg


def test_torch_writer_failure_names_the_file_and_keeps_the_old_one(
    tmp_path, monkeypatch
):
    """Issue 27: a full disk gave torch's bare ``RuntimeError: [enforce fail
    at inline_container.cc] unexpected pos``."""
    path = save_checkpoint(tmp_path / "last.pt", {"step": 1})
    good = path.read_bytes()

    def full(obj, f, *args, **kwargs):
        f.write(b"partial")
        raise RuntimeError(
            "[enforce fail at inline_container.cc:664] . unexpected pos "
            "4416 vs 4310"
        )

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(OSError, match="unexpected pos") as info:
        save_checkpoint(path, {"step": 2})
    msg = str(info.value)
    assert str(path) in msg and "previous file is kept" in msg
    assert "free space" in msg and info.value.errno == errno.EIO
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]
    # Any other RuntimeError is not mistaken for a write failure.
    monkeypatch.setattr(
        torch, "save", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("x"))
    )
    with pytest.raises(RuntimeError, match="^x$"):
        save_checkpoint(path, {"step": 3})
    assert path.read_bytes() == good


def _extra_param_group(state):
    groups = state["optimizer"]["param_groups"]
    groups.append(dict(groups[0]))


def _bad_param_state(state):
    key = next(iter(state["optimizer"]["state"]))
    state["optimizer"]["state"][key] = {"exp_avg": torch.zeros(1)}


TAMPERED_RESUMES = {
    "param_groups": _extra_param_group,
    "param_state": _bad_param_state,
    "weight_shape": _edit_weight("shape"),
}


@pytest.mark.parametrize("case", sorted(TAMPERED_RESUMES))
def test_resume_from_resigned_tampered_state_is_a_checkpoint_error(
    trained, make_model_module, fake_set, tmp_path, case
):
    """Torch's optimizer and ``load_state_dict`` refusals were raw
    ``ValueError``/``KeyError``/``RuntimeError``."""
    path = tmp_path / "checkpoints" / "last.pt"
    _resigned(trained, path, TAMPERED_RESUMES[case])
    trainer = Trainer(
        make_model_module(),
        fake_set,
        TrainConfig(epochs=2, max_steps=2, **FAST),
        tmp_path,
    )
    with pytest.raises(
        CheckpointError, match="training state that fits this model"
    ) as info:
        trainer.fit(resume=True)
    assert str(path) in str(info.value)

"""Shipped pretrained weights: export, checked load, clear errors."""

import pytest
import torch

from bigraph_pyg import hub
from bigraph_pyg.engine import TrainConfig, Trainer


@pytest.fixture(scope="module")
def exported(tmp_path_factory, body, graphs, fake_set):
    from fakes import tiny_config

    from bigraph_pyg.models import BiGraphBody

    folder = tmp_path_factory.mktemp("pretrained")
    model = BiGraphBody(tiny_config(), graphs, body)
    Trainer(
        model,
        fake_set,
        TrainConfig(epochs=1, batch_size=4, progress=False),
        folder,
    ).fit()
    path = folder / "weights.pt"
    sha = hub.export_pretrained(
        folder / "checkpoints" / "last.pt", path, card={"recipe": "test"}
    )
    return model.eval(), path, sha


def test_export_and_load_round_trip(exported, body):
    model, path, sha = exported
    loaded, state = hub.load_pretrained_file(path, sha, body)
    assert state["card"] == {"recipe": "test"}
    assert next(loaded.parameters()).dtype == torch.float32
    images = torch.rand(2, 3, 64, 64)
    joints = torch.rand(2, 12, 2) * 50 + 5
    with torch.no_grad():
        a, b = model(images, joints), loaded(images, joints)
    # float16 weights: close, not equal.
    torch.testing.assert_close(
        b.skeleton_joints, a.skeleton_joints, atol=2e-2, rtol=2e-2
    )
    # Only what was learned is float16; the geometry stays float32.
    raw = torch.load(path, weights_only=True)["model"]
    learned = {n for n, _ in model.named_parameters()}
    for name, value in raw.items():
        if value.is_floating_point():
            want = torch.float16 if name in learned else torch.float32
            assert value.dtype == want, name
    assert raw["sampler.up_0_weight"].dtype == torch.float32
    torch.testing.assert_close(
        loaded.sampler.up_0_weight, model.sampler.up_0_weight
    )


def test_pose_bank_ships_in_float16_and_loads_in_float32(
    tmp_path, body, graphs, fake_set
):
    from fakes import tiny_config

    from bigraph_pyg.engine.baselines import TrainingStatistics
    from bigraph_pyg.engine.checkpoint import load_checkpoint
    from bigraph_pyg.models import BiGraphBody

    bank = torch.randn(32, 12, 3) * 0.4  # metres around the pelvis
    stats = TrainingStatistics(torch.randn(12, 3), None, 32, bank)
    model = BiGraphBody(tiny_config(), graphs, body)
    trainer = Trainer(
        model,
        fake_set,
        TrainConfig(epochs=1, batch_size=4, progress=False),
        tmp_path,
        extra_state={"training_stats": stats.to_dict()},
    )
    trainer.fit()
    ckpt = tmp_path / "checkpoints" / "last.pt"
    stored = load_checkpoint(ckpt)["extra"]["training_stats"]
    assert stored["pose_bank"].dtype == torch.float32
    sha = hub.export_pretrained(ckpt, tmp_path / "w.pt")
    raw = torch.load(tmp_path / "w.pt", weights_only=True)["training_stats"]
    assert raw["pose_bank"].dtype == torch.float16
    assert raw["mean_joints"].dtype == torch.float32  # only the bank
    _, state = hub.load_pretrained_file(tmp_path / "w.pt", sha, body)
    got = state["training_stats"]["pose_bank"]
    assert got.dtype == torch.float32
    # float16 rounds to a relative half-spacing of 2**-11 (<= 0.25 mm
    # within 1 m of the pelvis).
    assert ((got - bank).abs() <= bank.abs() * 2**-11).all()
    assert not torch.equal(got, bank)  # it was rounded, not kept


def test_corrupted_file_and_wrong_name_are_errors(exported, tmp_path, body):
    _, path, sha = exported
    bad = tmp_path / "bad.pt"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupted or was replaced"):
        hub.load_pretrained_file(bad, sha, body)
    bad.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="bigraph_pyg.pretrained file"):
        hub.load_pretrained_file(bad, None, body)
    with pytest.raises(FileNotFoundError, match="no such file"):
        hub.load_pretrained_file(tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="pretrained model name"):
        hub.pretrained("no-such-model")


@pytest.mark.parametrize("name", sorted(hub.PRETRAINED))
def test_shipped_model_is_verified_against_its_recorded_hash(
    name, tmp_path, monkeypatch
):
    entry = hub.PRETRAINED[name]
    shipped = hub._ASSETS / entry["file"]
    assert hub._sha256(shipped) == entry["sha256"]
    model = hub.pretrained(name)
    assert not model.training and model.training_stats is not None
    # A copy with 5 runs of 64 flipped bytes in place of the shipped file.
    data = bytearray(shipped.read_bytes())
    for k in range(5):
        start = len(data) // 2 + k * 4096
        for i in range(start, start + 64):
            data[i] ^= 0xFF
    (tmp_path / entry["file"]).write_bytes(bytes(data))
    monkeypatch.setattr(hub, "_ASSETS", tmp_path)
    with pytest.raises(ValueError, match="corrupted or was replaced") as info:
        hub.pretrained(name)
    assert str(tmp_path / entry["file"]) in str(info.value)


def test_load_model_reads_either_kind(exported, body):
    """``pretrained:NAME`` is the shipped model, a path the checkpoint."""
    from bigraph_pyg.engine import model_from_checkpoint

    model, state = hub.load_model("pretrained:synthetic", body)
    shipped = hub.pretrained("synthetic", body)
    assert list(state) == ["extra"] and list(state["extra"]) == [
        "training_stats"
    ]
    torch.testing.assert_close(
        state["extra"]["training_stats"], shipped.training_stats
    )
    ref = shipped.state_dict()
    for k, a in model.state_dict().items():
        assert torch.equal(a.to_dense(), ref[k].to_dense()), k
    last = exported[1].parent / "checkpoints" / "last.pt"
    model, state = hub.load_model(str(last), body)
    want, want_state = model_from_checkpoint(last, body)
    assert state["step"] == want_state["step"] and not model.training
    for k, a in model.state_dict().items():
        assert torch.equal(a.to_dense(), want.state_dict()[k].to_dense()), k
    with pytest.raises(ValueError, match="pretrained model name"):
        hub.load_model("pretrained:nope", body)


def test_load_model_accepts_a_path(exported, body):
    """Issue 27: ``hub.load_model(pathlib.Path(...))`` raised AttributeError."""
    from pathlib import Path

    last = exported[1].parent / "checkpoints" / "last.pt"
    model, state = hub.load_model(Path(last), body)
    assert not model.training and state["step"] >= 1
    with pytest.raises(
        ValueError, match=r"'pretrained:NAME' or a checkpoint path \(got int"
    ):
        hub.load_model(3, body)


class _Payload:
    """Pickles as a call to ``print``: code that must never run."""

    def __reduce__(self):
        return (print, ("ran",))


TAMPERED = {
    "config_list": (
        lambda s: s.update(model_config=[1]),
        r"'model_config' in the weights file .* to be dict \(got list",
    ),
    "huge_width": (
        lambda s: s["model_config"].update(channels=10**6),
        r"weight '.*' of shape \(\d{6,}, \d+\) for the stored model_config",
    ),
    "model_none": (
        lambda s: s.update(model=None),
        r"model weights in the weights file .* \(got NoneType\)",
    ),
    "not_a_dict": (
        lambda s: s.clear() or s.update(format=None),
        r"bigraph_pyg\.pretrained file .* without that format tag",
    ),
    "code": (
        lambda s: s.update(card=_Payload()),
        r"Unsupported global.*never loaded",
    ),
}


@pytest.mark.parametrize("case", sorted(TAMPERED))
def test_tampered_weights_file_is_a_clear_error(exported, tmp_path, body, case):
    """Issue 27: raw AttributeError/TypeError or allocator errors before;
    a refused file's message never suggests ``weights_only=False``."""
    _, path, _ = exported
    state = torch.load(path, weights_only=True)
    edit, message = TAMPERED[case]
    edit(state)
    bad = tmp_path / "weights.pt"
    torch.save(state, bad)
    with pytest.raises(ValueError, match=message) as info:
        hub.load_pretrained_file(bad, None, body)
    msg = str(info.value)
    assert str(bad) in msg
    assert "weights_only" not in msg and "likely succeed" not in msg

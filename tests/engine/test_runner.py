"""A whole run: no silent overwrite, only this run's best.pt is scored."""

import pytest
import torch

from bigraph_pyg.engine import (
    CheckpointError,
    TrainConfig,
    Trainer,
    load_checkpoint,
    train_and_evaluate,
)
from bigraph_pyg.engine.runner import check_run_folder, existing_checkpoints

FAST = dict(batch_size=4, progress=False, max_steps=1, image_every=0)


def _run(model, data, out, **kwargs):
    return train_and_evaluate(
        model,
        data,
        TrainConfig(epochs=1, **FAST),
        out,
        test_set=kwargs.pop("test_set", None),
        test_segmentation=False,
        **kwargs,
    )


def test_new_run_into_a_folder_with_checkpoints_is_refused(
    make_model, fake_set, tmp_path
):
    _run(make_model(), fake_set, tmp_path)
    last = tmp_path / "checkpoints" / "last.pt"
    before = last.read_bytes()
    with pytest.raises(CheckpointError) as info:
        _run(make_model(seed=1), fake_set, tmp_path)
    msg = str(info.value)
    assert "last.pt" in msg and str(last.parent) in msg
    assert "--resume" in msg and "--overwrite" in msg
    assert last.read_bytes() == before
    # Resuming the same run is allowed.
    _run(make_model(), fake_set, tmp_path, resume=True)


def test_overwrite_never_scores_the_old_runs_best(
    make_model, fake_set, tmp_path
):
    # The old run validated, so it left a best.pt.
    old = make_model(seed=1)
    full_epoch = {**FAST, "max_steps": None}
    Trainer(
        old,
        fake_set,
        TrainConfig(epochs=1, **full_epoch),
        tmp_path,
        val_set=fake_set,
    ).fit()
    best = tmp_path / "checkpoints" / "best.pt"
    assert best.is_file()
    (tmp_path / "metrics.json").write_text("{}")
    # The new run has no validation set (as with --data real).
    model = make_model(seed=2)
    summary = _run(model, fake_set, tmp_path, test_set=fake_set, overwrite=True)
    assert summary.evaluated == "last weights"
    assert not best.exists()
    assert summary.result.best_path is None
    # The model holds the new run's weights, not the old best.
    new = load_checkpoint(tmp_path / "checkpoints" / "last.pt")["model"]
    for k, v in model.state_dict().items():
        if not v.is_sparse:
            assert torch.equal(v, new[k]), k
    assert (
        '"evaluated": "last weights"' in (tmp_path / "metrics.json").read_text()
    )


def test_trainer_does_not_adopt_a_best_pt_it_did_not_write(
    make_model, fake_set, tmp_path
):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    (folder / "best.pt").write_bytes(b"an old run's")
    result = Trainer(
        make_model(), fake_set, TrainConfig(epochs=1, **FAST), tmp_path
    ).fit()
    assert result.best_path is None


def test_check_run_folder(tmp_path):
    check_run_folder(None)
    check_run_folder(tmp_path / "new")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for out in (blocker, blocker / "run"):
        with pytest.raises(CheckpointError, match="regular file"):
            check_run_folder(out, overwrite=True)
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    (tmp_path / "run" / "checkpoints" / "best.pt").write_bytes(b"x")
    assert [p.name for p in existing_checkpoints(tmp_path / "run")] == [
        "best.pt"
    ]
    with pytest.raises(CheckpointError, match="best.pt"):
        check_run_folder(tmp_path / "run")
    check_run_folder(tmp_path / "run", resume=True)
    check_run_folder(tmp_path / "run", overwrite=True)

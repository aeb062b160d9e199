"""Bad samples never poison training: inf pixels, missed joints, BN stats."""

import importlib
import math

import pytest
import torch
from torch.utils.data import Dataset

from bigraph_pyg.engine import (
    TrainConfig,
    Trainer,
    collate_samples,
    load_checkpoint,
    prepare_batch,
)

FAST = dict(batch_size=4, progress=False, log_every=1, image_every=1)
SIZE = (64, 64)


def _batch(dataset, indices):
    return collate_samples([dataset[i] for i in indices])


def _with_inf_pixel(batch, sample):
    batch = dict(batch)
    batch["img"] = batch["img"].clone()
    batch["img"][sample, 1, 7, 9] = float("inf")
    return batch


def _all_finite(obj) -> bool:
    if isinstance(obj, torch.Tensor):
        t = obj.to_dense() if obj.is_sparse else obj
        return not t.is_floating_point() or bool(torch.isfinite(t).all())
    if isinstance(obj, dict):
        return all(_all_finite(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return all(_all_finite(v) for v in obj)
    return True


class _InfImage(Dataset):
    """``base`` with one non-finite pixel in sample ``bad``."""

    def __init__(self, base, bad):
        self.base, self.bad = base, bad

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        s = dict(self.base[i])
        if i == self.bad:
            s["img"] = s["img"].clone()
            s["img"][0, 3, 3] = float("inf")
        return s


def test_inf_pixel_sample_is_left_out_exactly(
    make_model, fake_set, tmp_path, caplog
):
    # Run A trains on a batch with an inf pixel in sample 1; run B on the
    # same batch without sample 1. Same seeds: A must equal B exactly,
    # weights, optimizer and BatchNorm running statistics.
    a = Trainer(make_model(), fake_set, TrainConfig(epochs=1, **FAST), tmp_path)
    b = Trainer(make_model(), fake_set, TrainConfig(epochs=1, **FAST), None)
    bad = _with_inf_pixel(_batch(fake_set, [0, 1, 2, 3]), 1)
    ref = _batch(fake_set, [0, 2, 3])
    with caplog.at_level("WARNING"):
        for _ in range(2):
            assert a.step(prepare_batch(bad, SIZE), 0.5) is not None
            assert b.step(prepare_batch(ref, SIZE), 0.5) is not None
    assert "non-finite pixels (dataset indices [1])" in caplog.text
    sa, sb = a.net.state_dict(), b.net.state_dict()
    assert any("running_mean" in k for k in sa)
    for k, v in sa.items():
        if v.is_sparse:
            continue
        assert torch.equal(v, sb[k]), k

    state = load_checkpoint(a.save())
    assert _all_finite(state["model"]) and _all_finite(state["optimizer"])

    clean = prepare_batch(_batch(fake_set, [4, 5, 6, 7]), SIZE)
    a.net.eval()
    b.net.eval()
    with torch.no_grad():
        out_a = a.net(clean.images, clean.joints_est)
        out_b = b.net(clean.images, clean.joints_est)
    assert torch.isfinite(out_a.vertices).all()
    assert torch.equal(out_a.vertices, out_b.vertices)
    assert torch.equal(out_a.skeleton_joints, out_b.skeleton_joints)


def test_fit_with_an_inf_pixel_keeps_the_checkpoint_finite(
    make_model, fake_set, tmp_path
):
    result = Trainer(
        make_model(),
        _InfImage(fake_set, 2),
        TrainConfig(epochs=2, **FAST),
        tmp_path,
    ).fit()
    assert result.nonfinite_steps == 0
    assert all(math.isfinite(h["loss"]) for h in result.history)
    state = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert _all_finite(state["model"]) and _all_finite(state["optimizer"])
    model = make_model()
    model.load_state_dict(state["model"])
    clean = prepare_batch(_batch(fake_set, [0, 1, 3, 4]), SIZE)
    with torch.no_grad():
        out = model.eval()(clean.images, clean.joints_est)
    assert torch.isfinite(out.vertices).all()


def test_skipped_step_leaves_no_trace_in_batchnorm(make_model, fake_set):
    model = make_model()
    trainer = Trainer(model, fake_set, TrainConfig(epochs=1, **FAST), None)
    assert trainer.step.norm_buffers
    mb = prepare_batch(_batch(fake_set, [0, 1, 2, 3]), SIZE)
    before = {
        k: v.clone() for k, v in model.state_dict().items() if not v.is_sparse
    }
    real_loss = trainer.step.criterion.model_loss
    trainer.step.criterion.model_loss = lambda out, batch: (
        real_loss(out, batch)[0] * float("nan"),
        {},
    )
    assert trainer.step(mb, 0.5) is None
    for k, v in model.state_dict().items():
        if k in before:
            assert torch.equal(v, before[k]), k
    # The same step with a finite loss does move the running statistics.
    trainer.step.criterion.model_loss = real_loss
    assert trainer.step(mb, 0.5) is not None
    assert any(
        not torch.equal(v, before[k])
        for k, v in model.state_dict().items()
        if "running_mean" in k
    )


def test_too_few_finite_images_skip_the_step(make_model, fake_set):
    model = make_model()
    trainer = Trainer(model, fake_set, TrainConfig(epochs=1, **FAST), None)
    raw = _batch(fake_set, [0, 1, 2, 3])
    for i in (0, 1, 3):
        raw = _with_inf_pixel(raw, i)
    before = {
        k: v.clone() for k, v in model.state_dict().items() if not v.is_sparse
    }
    assert trainer.step(prepare_batch(raw, SIZE), 0.5) is None
    assert trainer.result.nonfinite_steps == 1
    for k, v in model.state_dict().items():
        if k in before:
            assert torch.equal(v, before[k]), k


def test_missed_2d_joint_is_masked_not_moved_to_the_corner(fake_set):
    raw = _batch(fake_set, [0, 1, 2, 3])
    raw["joints_2d_est"] = raw["joints_2d_est"].clone()
    raw["joints_2d"] = raw["joints_2d"].clone()
    raw["joints_2d_est"][0, 3] = float("nan")
    raw["joints_2d_est"][1] = float("nan")  # nothing detected
    raw["joints_2d"][2, 5] = float("nan")  # a missing annotation
    mb = prepare_batch(raw, SIZE)
    others = torch.cat(
        [raw["joints_2d_est"][0, :3], raw["joints_2d_est"][0, 4:]]
    )
    torch.testing.assert_close(mb.joints_est[0, 3], others.mean(0))
    assert torch.equal(mb.joints_est[1], torch.full((12, 2), 32.0))
    assert not mb.joints_est_valid[0, 3] and mb.joints_est_valid[0, 2]
    assert not mb.joints_est_valid[1].any()
    assert torch.isfinite(mb.joints_gt).all()
    assert mb.targets["gt_joints_2d_confidence"][2, 5] == 0
    assert mb.targets["gt_joints_2d_confidence"][2, 4] == 1
    assert torch.isfinite(mb.targets["gt_joints_2d"]).all()
    assert not mb.joints_gt_valid[2, 5]


def test_missed_joint_trains_on_its_ground_truth(make_model, fake_set):
    model = make_model()
    trainer = Trainer(model, fake_set, TrainConfig(epochs=1, **FAST), None)
    raw = _batch(fake_set, [0, 1, 2, 3])
    raw["joints_2d_est"] = raw["joints_2d_est"].clone()
    raw["joints_2d_est"][0, 3] = float("nan")
    raw["joints_3d"] = raw["joints_3d"].clone()
    raw["joints_3d"][2, 0] = float("inf")
    mb = prepare_batch(raw, SIZE)
    assert not mb.targets["has_pose_3d"][2] and mb.targets["has_pose_3d"][0]
    seen = []
    model.register_forward_pre_hook(lambda m, args: seen.append(args[1]))
    done = trainer.step(mb, 0.0)  # ratio 0: estimated joints only
    assert done is not None and math.isfinite(done[0])
    torch.testing.assert_close(seen[0][0, 3], mb.joints_gt[0, 3])
    torch.testing.assert_close(seen[0][0, 2], mb.joints_est[0, 2])
    assert torch.equal(seen[0][1], mb.joints_est[1])


@pytest.mark.parametrize("key", ["vertices", "betas"])
def test_nonfinite_smpl_targets_drop_has_smpl(fake_set, key):
    raw = _batch(fake_set, [0, 1])
    raw[key] = raw[key].clone()
    raw[key][1, 0] = float("nan")
    t = prepare_batch(raw, SIZE).targets
    assert t["has_smpl"].tolist() == [True, False]
    assert torch.isfinite(t["gt_vertices"]).all()
    assert torch.isfinite(t["gt_betas"]).all()


class _NanImage(_InfImage):
    """``base`` with a NaN image in sample ``bad``."""

    def __getitem__(self, i):
        s = dict(self.base[i])
        if i == self.bad:
            s["img"] = torch.full_like(s["img"], float("nan"))
        return s


def test_nan_validation_image_is_left_out_and_last_pt_written(
    make_model, fake_set, tmp_path
):
    cfg = TrainConfig(epochs=1, **{**FAST, "image_every": 0})
    trainer = Trainer(
        make_model(), fake_set, cfg, tmp_path, val_set=_NanImage(fake_set, 2)
    )
    with pytest.warns(UserWarning, match="Left 1 sample"):
        result = trainer.fit()
    assert result.finished and len(result.evals) == 1
    ev = result.evals[0]
    assert ev["num_samples"] == len(fake_set) - 1
    assert math.isfinite(ev["pa_mpjpe"]) and math.isfinite(ev["mpjpe"])
    assert load_checkpoint(tmp_path / "checkpoints" / "last.pt")["epoch"] == 1


def test_failed_validation_still_writes_the_epochs_last_pt(
    make_model, fake_set, tmp_path, monkeypatch
):
    def broken(*args, **kwargs):
        raise RuntimeError("validation broke")

    # `bigraph_pyg.engine.evaluate` names the function: patch the module's.
    module = importlib.import_module("bigraph_pyg.engine.evaluate")
    monkeypatch.setattr(module, "evaluate", broken)
    cfg = TrainConfig(epochs=1, **{**FAST, "image_every": 0})
    trainer = Trainer(make_model(), fake_set, cfg, tmp_path, val_set=fake_set)
    with pytest.raises(RuntimeError, match="validation broke"):
        trainer.fit()
    state = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert state["epoch"] == 1 and state["step"] == 2  # the epoch's training

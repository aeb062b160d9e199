"""The training loop: loss decreases, exact resume, NaN guard, checkpoints."""

import math

import pytest
import torch
from torch.utils.data import Subset

from bigraph_pyg.engine import (
    CheckpointError,
    TrainConfig,
    Trainer,
    gt_mix_ratio,
    load_checkpoint,
    mix_joints_2d,
    model_from_checkpoint,
)
from bigraph_pyg.nn import MeshSampler


def _same(a, b):
    if a.is_sparse:
        a, b = a.to_dense(), b.to_dense()
    return torch.equal(a, b)


FAST = dict(batch_size=4, progress=False, log_every=1, image_every=2)


def test_loss_decreases_on_fixed_batch(make_model, fake_set, tmp_path):
    model = make_model()
    # One fixed batch of 4 samples, trained on 12 times; lr high for speed.
    cfg = TrainConfig(epochs=12, lr=1e-3, mix_start=0.0, **FAST)
    trainer = Trainer(model, Subset(fake_set, range(4)), cfg, tmp_path)
    result = trainer.fit()
    losses = [h["loss"] for h in result.history]
    assert len(losses) == 12 and all(math.isfinite(x) for x in losses)
    assert sum(losses[-3:]) / 3 < 0.7 * sum(losses[:3]) / 3
    assert (tmp_path / "checkpoints" / "last.pt").is_file()
    assert list((tmp_path / "tb").iterdir())  # TensorBoard events
    assert not list((tmp_path / "checkpoints").glob("*.tmp"))


def test_resume_equals_uninterrupted_run(make_model, fake_set, tmp_path):
    cfg = TrainConfig(epochs=2, **FAST)  # 2 steps per epoch, 4 in all
    full = Trainer(make_model(seed=1), fake_set, cfg, tmp_path / "a").fit()

    # Stop mid-epoch 2 (after step 3), then resume in a fresh trainer.
    part = TrainConfig(epochs=2, max_steps=3, **FAST)
    first = Trainer(make_model(seed=1), fake_set, part, tmp_path / "b")
    r1 = first.fit()
    assert r1.step == 3 and not r1.finished
    torch.manual_seed(999)  # a resumed process starts with other RNG state
    second = Trainer(make_model(seed=2), fake_set, cfg, tmp_path / "b")
    r2 = second.fit(resume=True)
    assert r2.finished and r2.step == 4
    assert [h["loss"] for h in r2.history] == [h["loss"] for h in full.history]
    a = load_checkpoint(tmp_path / "a" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "b" / "checkpoints" / "last.pt")
    for k, v in a["model"].items():
        assert _same(v, b["model"][k]), k


class _EpochRecorder(Subset):
    """A dataset that records the trainer's ``set_epoch`` calls."""

    def __init__(self, dataset):
        super().__init__(dataset, range(len(dataset)))
        self.epochs = []

    def set_epoch(self, epoch):
        self.epochs.append(epoch)


def test_trainer_tells_the_dataset_each_epoch(make_model, fake_set, tmp_path):
    # The mixture table and the augmentation are redrawn per epoch only if
    # the trainer says which epoch it is, also after a resume mid-epoch.
    data = _EpochRecorder(fake_set)
    part = TrainConfig(epochs=3, max_steps=3, **FAST)  # 2 steps per epoch
    Trainer(make_model(), data, part, tmp_path).fit()
    assert data.epochs == [0, 1]
    resumed = _EpochRecorder(fake_set)
    Trainer(make_model(), resumed, TrainConfig(epochs=3, **FAST), tmp_path).fit(
        resume=True
    )
    assert resumed.epochs == [1, 2]


def test_resume_without_checkpoint_is_an_error(make_model, fake_set, tmp_path):
    trainer = Trainer(make_model(), fake_set, TrainConfig(**FAST), tmp_path)
    with pytest.raises(CheckpointError, match="without resume"):
        trainer.fit(resume=True)


def test_resume_with_other_config_is_an_error(make_model, fake_set, tmp_path):
    Trainer(
        make_model(),
        fake_set,
        TrainConfig(epochs=1, max_steps=1, **FAST),
        tmp_path,
    ).fit()
    other = Trainer(
        make_model("graphcmr"),
        fake_set,
        TrainConfig(epochs=1, **FAST),
        tmp_path,
    )
    with pytest.raises(CheckpointError, match="same model config"):
        other.fit(resume=True)


def test_nonfinite_loss_is_skipped_and_reported(
    make_model, fake_set, tmp_path, caplog
):
    model = make_model()
    trainer = Trainer(model, fake_set, TrainConfig(epochs=1, **FAST), tmp_path)
    real_loss = trainer.step.criterion.model_loss
    calls = []

    def bad_loss(out, batch):
        calls.append(1)
        total, terms = real_loss(out, batch)
        if len(calls) == 1:
            total = total * float("nan")
        return total, terms

    trainer.step.criterion.model_loss = bad_loss
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with caplog.at_level("WARNING"):
        result = trainer.fit()
    assert result.nonfinite_steps == 1
    assert result.history[0].get("skipped") is True
    assert "Non-finite loss at step 0" in caplog.text
    assert math.isfinite(result.history[1]["loss"])
    changed = any(
        not _same(v, before[k]) for k, v in model.state_dict().items()
    )
    assert changed  # the second step trained

    t2 = Trainer(
        model, fake_set, TrainConfig(epochs=1, max_nonfinite=2, **FAST), None
    )
    t2.step.criterion.model_loss = lambda out, batch: (
        real_loss(out, batch)[0] * float("inf"),
        {},
    )
    with pytest.raises(FloatingPointError, match="non-finite steps"):
        t2.fit()


def test_checkpoint_is_atomic(make_model, fake_set, tmp_path, monkeypatch):
    trainer = Trainer(
        make_model(),
        fake_set,
        TrainConfig(epochs=1, max_steps=1, **FAST),
        tmp_path,
    )
    trainer.fit()
    path = tmp_path / "checkpoints" / "last.pt"
    good = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        trainer.save()
    assert path.read_bytes() == good
    assert not list(path.parent.glob("*.tmp"))


def test_model_from_checkpoint_and_bad_files(
    make_model, fake_set, tmp_path, body
):
    model = make_model()
    Trainer(
        model, fake_set, TrainConfig(epochs=1, max_steps=1, **FAST), tmp_path
    ).fit()
    path = tmp_path / "checkpoints" / "last.pt"
    loaded, state = model_from_checkpoint(path, body)
    for k, v in model.state_dict().items():
        assert _same(v, loaded.state_dict()[k])
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="readable checkpoint"):
        load_checkpoint(junk)
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "missing.pt")
    torch.save(
        {"format": "bigraph_pyg.checkpoint", "format_version": 99},
        tmp_path / "v99.pt",
    )
    with pytest.raises(CheckpointError, match="format version 1"):
        load_checkpoint(tmp_path / "v99.pt")


def test_mixing_schedule():
    assert gt_mix_ratio(0, 10, 5) == 1.0
    assert gt_mix_ratio(20, 10, 5) == 0.5
    assert gt_mix_ratio(40, 10, 5) == 0.0 == gt_mix_ratio(49, 10, 5)
    assert gt_mix_ratio(0, 10, 1) == 0.0
    gt, est = torch.zeros(1000, 12, 2), torch.ones(1000, 12, 2)
    g = torch.Generator().manual_seed(0)
    mixed = mix_joints_2d(gt, est, 0.25, g)
    share = (mixed[:, 0, 0] == 0).float().mean().item()
    assert 0.2 < share < 0.3
    assert torch.equal(mix_joints_2d(gt, est, 0.0), est)
    with pytest.raises(ValueError, match="ratio in"):
        mix_joints_2d(gt, est, 1.5)


def test_amp_on_cpu_autocasts_to_bfloat16(make_model, fake_set, tmp_path):
    model = make_model()
    seen = set()
    hooks = [
        m.register_forward_hook(lambda m, i, o: seen.add(o.dtype))
        for m in model.modules()
        if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))
    ]
    cfg = TrainConfig(epochs=1, amp=True, **FAST)
    trainer = Trainer(model, fake_set, cfg, tmp_path)
    assert trainer.step.amp_dtype == torch.bfloat16
    result = trainer.fit()
    for h in hooks:
        h.remove()
    # The matmuls ran in bfloat16; the loss (outputs cast back) is finite
    # and the weights stay float32.
    assert torch.bfloat16 in seen
    assert all(math.isfinite(h["loss"]) for h in result.history)
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_amp_names_the_device_it_cannot_use(make_model, fake_set):
    from bigraph_pyg.engine.train_step import autocast_dtype

    with pytest.raises(ValueError, match="CPU or CUDA device for amp"):
        autocast_dtype(torch.device("meta"))


@pytest.fixture(scope="module")
def pose_set(graphs):
    from bigraph_pyg.data import SyntheticPoses

    return SyntheticPoses(
        None,
        64,
        level=2,
        sampler=MeshSampler.from_hierarchy(graphs.hierarchy),
        progress=False,
    )


def test_lifting_samples_join_each_step(
    make_model, fake_set, pose_set, tmp_path
):
    cfg = TrainConfig(epochs=1, lift_batch_size=8, lift_weight=0.5, **FAST)
    trainer = Trainer(make_model(), fake_set, cfg, tmp_path, lift_set=pose_set)
    result = trainer.fit()
    entry = result.history[-1]
    assert {"lift_total", "lift_skeleton_joints_3d", "lift_vertices"} <= set(
        entry
    )
    # The total is the image batch's Eq. 6 plus lift_weight times the
    # pose-only batch's.
    image_total = entry["loss"] - 0.5 * entry["lift_total"]
    assert math.isfinite(image_total) and image_total > 0
    # Same seed, same step -> the same pose-only samples (resumable).
    again = Trainer(
        make_model(), fake_set, cfg, tmp_path / "b", lift_set=pose_set
    ).fit()
    assert again.history[-1]["lift_total"] == pytest.approx(entry["lift_total"])


def test_skeleton_only_lifting_term(make_model, fake_set, pose_set, tmp_path):
    cfg = TrainConfig(
        epochs=1, skeleton_lift_batch_size=32, lift_weight=0.5, **FAST
    )
    model = make_model()
    trainer = Trainer(model, fake_set, cfg, tmp_path, lift_set=pose_set)
    result = trainer.fit()
    term = result.history[-1]["skeleton_lift_joints_3d"]
    assert math.isfinite(term) and term > 0
    assert "lift_total" not in result.history[-1]  # no image-free forward
    # The term trains the Skeleton-GCN alone: no gradient reaches the mesh
    # branch, the encoder or the fusion graph.
    model.zero_grad(set_to_none=True)
    loss, weight = trainer.step.skeleton_lift_loss(0.0)
    loss.backward()
    grads = {n for n, p in model.named_parameters() if p.grad is not None}
    assert any(n.startswith("skeleton_head") for n in grads)
    assert not any(
        n.startswith(("mesh_head", "encoder", "camera_head", "mesh_input"))
        or "fusion" in n
        for n in grads
    ), sorted(grads)
    assert weight == trainer.step.criterion.weights.focal or weight == (
        trainer.step.criterion.weights.skeleton_joints_3d
    )
    # Same seed, same step -> the same samples (resumable).
    again = Trainer(
        make_model(), fake_set, cfg, tmp_path / "b", lift_set=pose_set
    ).fit()
    assert again.history[-1]["skeleton_lift_joints_3d"] == pytest.approx(term)


def test_lift_redraw_noise(make_model, fake_set, pose_set, tmp_path):
    """``lift_redraw_noise``: the pose-only batch keeps its samples and
    targets, its estimated joints are drawn afresh (the same for the same
    seed and step, others at the next step), and a resumed run still
    equals an uninterrupted one."""
    base = dict(skeleton_lift_batch_size=16, lift_mix_start=0.0, **FAST)
    cached = Trainer(
        make_model(),
        fake_set,
        TrainConfig(epochs=2, **base),
        tmp_path / "c",
        lift_set=pose_set,
    )
    cfg = TrainConfig(epochs=2, lift_redraw_noise=True, **base)
    fresh = Trainer(
        make_model(), fake_set, cfg, tmp_path / "f", lift_set=pose_set
    )
    j_cached, t_cached = cached.step._pose_batch(16, 0.0, 1)
    j_fresh, t_fresh = fresh.step._pose_batch(16, 0.0, 1)
    assert torch.equal(t_cached["gt_joints_3d"], t_fresh["gt_joints_3d"])
    assert not torch.equal(j_cached, j_fresh)
    assert torch.equal(j_fresh, fresh.step._pose_batch(16, 0.0, 1)[0])
    fresh.result.step = 1
    assert not torch.equal(j_fresh, fresh.step._pose_batch(16, 0.0, 1)[0])
    # resumable: the draws follow the seed and the step
    full = Trainer(
        make_model(seed=1), fake_set, cfg, tmp_path / "a", lift_set=pose_set
    ).fit()
    part = TrainConfig(epochs=2, max_steps=3, lift_redraw_noise=True, **base)
    Trainer(
        make_model(seed=1), fake_set, part, tmp_path / "b", lift_set=pose_set
    ).fit()
    resumed = Trainer(
        make_model(seed=2), fake_set, cfg, tmp_path / "b", lift_set=pose_set
    ).fit(resume=True)
    assert [h["loss"] for h in resumed.history] == [
        h["loss"] for h in full.history
    ]


def test_lift_mix_start_sets_the_pose_only_schedule(
    make_model, fake_set, pose_set, tmp_path, monkeypatch
):
    from bigraph_pyg.engine import collate_samples, prepare_batch

    cfg = TrainConfig(
        epochs=3, lift_batch_size=4, skeleton_lift_batch_size=8, **FAST
    )
    model = make_model()
    step = Trainer(model, fake_set, cfg, tmp_path, lift_set=pose_set).step
    # Unset: the pose-only samples follow the images' ratio.
    assert step.mix_ratio() == 1.0 and step.lift_mix_ratio(0.3) == 0.3
    cfg = TrainConfig(
        epochs=3,
        lift_batch_size=4,
        skeleton_lift_batch_size=8,
        lift_mix_start=0.0,
        **FAST,
    )
    step = Trainer(model, fake_set, cfg, tmp_path, lift_set=pose_set).step
    assert step.mix_ratio() == 1.0 and step.lift_mix_ratio(1.0) == 0.0
    # Its own schedule: from lift_mix_start down to 0 at the last epoch.
    half = TrainConfig(
        epochs=3, skeleton_lift_batch_size=8, lift_mix_start=0.5, **FAST
    )
    other = Trainer(model, fake_set, half, tmp_path, lift_set=pose_set)
    assert other.step.lift_mix_ratio(1.0) == 0.5
    other.result.step = 2  # 2 steps an epoch: the middle of the mixing
    assert other.step.lift_mix_ratio(0.5) == 0.25

    # In a step whose images get the ground truth (ratio 1), both pose-only
    # forwards get the estimated joints.
    seen = {}
    lift, forward = model.lift, model.forward

    def record_lift(joints):
        seen["lift"] = joints
        return lift(joints)

    def record_forward(images, joints):
        if images is None:
            seen["image_free"] = joints
        return forward(images, joints)

    monkeypatch.setattr(model, "lift", record_lift)
    monkeypatch.setattr(model, "forward", record_forward)
    mb = prepare_batch(
        collate_samples([fake_set[i] for i in range(4)]),
        model.config.image_size,
        step.device,
    )
    loss, terms = step._loss(mb, mb.joints_gt, 1.0)
    assert torch.isfinite(loss) and "skeleton_lift_joints_3d" in terms
    est = step._pose_batch(8, 0.0, 1)[0]
    assert torch.equal(seen["lift"], est)
    assert not torch.equal(seen["lift"], step._pose_batch(8, 1.0, 1)[0])
    assert torch.equal(seen["image_free"], step._pose_batch(4, 0.0, 0)[0])
    with pytest.raises(ValueError, match="lift_mix_start"):
        TrainConfig(lift_mix_start=1.5)


def test_skeleton_lift_loss_l1(make_model, fake_set, pose_set, tmp_path):
    from bigraph_pyg.losses import keypoint_3d_l1_loss

    def term(kind):
        cfg = TrainConfig(
            epochs=2,
            skeleton_lift_batch_size=16,
            skeleton_lift_loss=kind,
            **FAST,
        )
        model = make_model(seed=3)
        trainer = Trainer(model, fake_set, cfg, tmp_path, lift_set=pose_set)
        step = trainer.step
        value, weight = step.skeleton_lift_loss(0.0)
        joints, targets = step._pose_batch(16, 0.0, 1)
        with torch.no_grad():
            pred = model.lift(joints)
        return value, weight, pred, targets, step

    focal, focal_weight, *_ = term("eq6")
    l1, weight, pred, targets, step = term("l1")
    expected = keypoint_3d_l1_loss(
        pred,
        targets["gt_joints_3d"],
        targets["has_pose_3d"],
        targets["gt_joints_3d_confidence"],
        step.criterion.root_indices,
    )
    assert torch.allclose(l1.detach(), expected, rtol=1e-5, atol=1e-7)
    assert weight == step.config.loss.skeleton_joints_3d
    assert focal_weight == step.config.loss.focal
    assert not torch.allclose(focal.detach(), l1.detach())
    # The images keep the paper's focal term.
    assert step.criterion.weights.use_focal
    with pytest.raises(ValueError, match="skeleton_lift_loss"):
        TrainConfig(skeleton_lift_loss="l2")


@pytest.mark.parametrize("kind", ["eq6", "l1"])
def test_skeleton_lift_weight_scales_the_term(
    make_model, fake_set, pose_set, tmp_path, monkeypatch, kind
):
    """The step's total adds skeleton_lift_weight x L_s of the pose-only
    samples; None: lift_weight x the term's Eq. 6 coefficient."""
    from bigraph_pyg.engine import collate_samples, prepare_batch

    totals = {}
    for weight in (None, 0.0, 7.5):
        cfg = TrainConfig(
            epochs=2,
            skeleton_lift_batch_size=8,
            skeleton_lift_loss=kind,
            skeleton_lift_weight=weight,
            lift_weight=2.0,
            **FAST,
        )
        model = make_model(seed=3)
        step = Trainer(model, fake_set, cfg, tmp_path, lift_set=pose_set).step
        mb = prepare_batch(
            collate_samples([fake_set[i] for i in range(4)]),
            model.config.image_size,
            step.device,
        )
        with torch.no_grad():
            loss, terms = step._loss(mb, mb.joints_gt, 0.0)
        totals[weight] = float(loss)
        term = float(terms["skeleton_lift_joints_3d"])
    coefficient = step.skeleton_lift_criterion.weights
    coefficient = (
        coefficient.focal if kind == "eq6" else (coefficient.skeleton_joints_3d)
    )
    assert totals[7.5] - totals[0.0] == pytest.approx(7.5 * term, rel=1e-4)
    assert totals[None] - totals[0.0] == pytest.approx(
        2.0 * coefficient * term, rel=1e-4
    )
    with pytest.raises(ValueError, match="skeleton_lift_weight"):
        TrainConfig(skeleton_lift_weight=float("nan"))


def test_lifting_config_errors(make_model, fake_set):
    with pytest.raises(ValueError, match="lift_set"):
        Trainer(make_model(), fake_set, TrainConfig(lift_batch_size=4))
    with pytest.raises(ValueError, match="skeleton_lift_batch_size=4"):
        Trainer(make_model(), fake_set, TrainConfig(skeleton_lift_batch_size=4))
    with pytest.raises(ValueError, match="skeleton_lift_batch_size"):
        TrainConfig(skeleton_lift_batch_size=-1)
    with pytest.raises(ValueError, match="lift_batch_size"):
        TrainConfig(lift_batch_size=-1)
    with pytest.raises(ValueError, match="lr_schedule"):
        TrainConfig(lr_schedule="step")


def test_learning_rate_warmup_and_cosine(make_model, fake_set):
    cfg = TrainConfig(
        epochs=5, lr=1e-3, warmup_steps=4, lr_schedule="cosine", **FAST
    )  # 2 steps an epoch
    trainer = Trainer(make_model(), fake_set, cfg)
    lrs = [trainer.step.learning_rate(s) for s in range(11)]
    assert lrs[0] == pytest.approx(1e-4)  # lr / 10
    assert lrs[2] == pytest.approx(1e-4 + 0.9e-3 * 2 / 4)
    assert lrs[4] == pytest.approx(1e-3)  # warm-up done: the peak
    assert all(a >= b for a, b in zip(lrs[4:], lrs[5:], strict=False))
    assert lrs[10] == pytest.approx(1e-3 / 20)  # the last step's floor
    flat = Trainer(make_model(), fake_set, TrainConfig(lr=3e-4, **FAST))
    assert {flat.step.learning_rate(s) for s in range(6)} == {3e-4}


class _Payload:
    """Pickles to a call that would write a file when unpickled."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_checkpoint_with_pickled_code_is_refused_not_run(tmp_path):
    from bigraph_pyg.engine import CHECKPOINT_VERSION

    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save(
        {
            "format": "bigraph_pyg.checkpoint",
            "format_version": CHECKPOINT_VERSION,
            "model": {},
            "x": _Payload(marker),
        },
        path,
    )
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="pickled objects"):
        load_checkpoint(path)
    assert not marker.exists()


def test_training_checks_the_inputs_on_the_first_forwards_only(
    make_model, fake_set, pose_set, tmp_path, monkeypatch
):
    """The model's per-sample value checks (host syncs) run on the first
    image and pose-only forwards; later steps run without them."""
    import bigraph_pyg.models.bigraph_body as bb

    seen = []
    real = bb.validation_enabled

    def spy():
        seen.append(real())
        return seen[-1]

    monkeypatch.setattr(bb, "validation_enabled", spy)
    cfg = TrainConfig(epochs=2, lift_batch_size=4, **{**FAST, "image_every": 0})
    Trainer(make_model(), fake_set, cfg, tmp_path, lift_set=pose_set).fit()
    # Each step: an image forward, then a pose-only forward.
    assert len(seen) >= 4 and seen == [True, True] + [False] * (len(seen) - 2)


def test_loss_weights_come_from_the_training_config(make_model, fake_set):
    from bigraph_pyg.losses import LOSS_ABLATIONS, LossWeights

    no_fl = LossWeights(**LOSS_ABLATIONS["no_focal"])
    trainer = Trainer(make_model(), fake_set, TrainConfig(loss=no_fl, **FAST))
    assert trainer.step.criterion.weights == no_fl
    assert Trainer(
        make_model(), fake_set, TrainConfig(**FAST)
    ).step.criterion.weights.use_focal
    with pytest.raises(ValueError, match="`loss` to be a LossWeights"):
        TrainConfig(loss={"use_focal": False})


def test_resume_refuses_another_loss(make_model, fake_set, tmp_path):
    from bigraph_pyg.engine import CheckpointError
    from bigraph_pyg.engine.trainer import _stored_loss
    from bigraph_pyg.losses import LossWeights

    no_fl = TrainConfig(
        epochs=1, max_steps=1, loss=LossWeights(use_focal=False), **FAST
    )
    Trainer(make_model(), fake_set, no_fl, tmp_path).fit()
    with pytest.raises(CheckpointError, match="use_focal=False; got use_focal"):
        Trainer(
            make_model(), fake_set, TrainConfig(epochs=1, **FAST), tmp_path
        ).fit(resume=True)
    # Older checkpoints kept use_focal in the model config only.
    old = {"train_config": {}, "model_config": {"use_focal": False}}
    assert _stored_loss(old)["use_focal"] is False
    assert _stored_loss({})["use_focal"] is True


@pytest.mark.parametrize(
    "change",
    [{"lift_mix_start": 0.0}, {"skeleton_lift_loss": "l1"}, {"seed": 1}],
)
def test_resume_refuses_another_lifting_objective(
    make_model, fake_set, pose_set, tmp_path, change
):
    """A resume with another pose-only objective or seed is refused by
    name; a checkpoint that predates a setting counts as its default."""
    from bigraph_pyg.engine import CheckpointError

    base = dict(epochs=2, skeleton_lift_batch_size=4, **FAST)
    Trainer(
        make_model(),
        fake_set,
        TrainConfig(max_steps=1, **base),
        tmp_path,
        lift_set=pose_set,
    ).fit()
    ((key, value),) = change.items()
    other = Trainer(
        make_model(),
        fake_set,
        TrainConfig(**{**base, **change}),
        tmp_path,
        lift_set=pose_set,
    )
    with pytest.raises(CheckpointError, match=f"{key}=.*got {key}={value!r}"):
        other.fit(resume=True)
    state = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=False)
    del state["train_config"][key]
    with pytest.raises(CheckpointError, match=f"{key}="):
        other.check_resumable(state)
    state["train_config"][key] = value
    other.check_resumable(state)


def test_evaluate_scores_the_training_loss(make_model, fake_set):
    from torch.utils.data import DataLoader

    from bigraph_pyg.engine import collate_samples, evaluate
    from bigraph_pyg.losses import LossWeights

    model = make_model()
    loader = DataLoader(fake_set, batch_size=4, collate_fn=collate_samples)
    focal = evaluate(model, loader, progress=False)["loss"]
    l1 = evaluate(
        model, loader, progress=False, loss_weights=LossWeights(use_focal=False)
    )["loss"]
    assert math.isfinite(focal) and math.isfinite(l1) and focal != l1


def test_skeleton_lift_term_honours_the_target_masks(
    make_model, fake_set, pose_set, tmp_path
):
    cfg = TrainConfig(epochs=1, skeleton_lift_batch_size=8, **FAST)
    trainer = Trainer(make_model(), fake_set, cfg, tmp_path, lift_set=pose_set)
    step = trainer.step
    joints, targets = step._pose_batch(8, 0.0, 1)
    term, _ = step.skeleton_lift_loss(0.0)
    assert float(term) > 0
    # No sample with valid 3D joints: the term is an exact 0.
    masked = {**targets, "has_pose_3d": torch.zeros(8, dtype=torch.bool)}
    step._pose_batch = lambda size, ratio, stream: (joints, masked)
    term, _ = step.skeleton_lift_loss(0.0)
    assert float(term) == 0.0


def test_lifting_needs_a_skeleton(make_model, fake_set, pose_set):
    for key in ("lift_batch_size", "skeleton_lift_batch_size"):
        with pytest.raises(ValueError, match="skeleton branch for " + key):
            Trainer(
                make_model("graphcmr"),
                fake_set,
                TrainConfig(**{key: 4}, **FAST),
                lift_set=pose_set,
            )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(batch_size=1), "Expected `batch_size` >= 2 (got 1)"),
        (dict(num_workers=-2), "Expected `num_workers` to be an int >= 0"),
    ],
)
def test_train_config_refuses_batch_of_one_and_negative_workers(
    kwargs, message
):
    with pytest.raises(ValueError) as info:
        TrainConfig(**kwargs)
    assert message in str(info.value)
    if "batch_size" in kwargs:
        assert "BatchNorm" in str(info.value)
        assert "--batch-size" in str(info.value)

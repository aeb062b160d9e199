r"""The training loop: Adam, the 2D-joint mixing schedule, NaN guard, AMP, DDP.

:class:`Trainer` trains a :class:`~bigraph_pyg.models.BiGraphBody` on any
dataset of :mod:`bigraph_pyg.data` samples (paper Sec. 4.4 and 5.2):

* Adam at ``lr`` (paper: 2.5e-4, batch 64);
* the skeleton input of each sample is its ground-truth 2D joints with
  probability :func:`~bigraph_pyg.engine.schedule.gt_mix_ratio` (decaying
  to 0 by the last epoch), else the estimated joints;
* a non-finite loss (or gradient) is reported with its terms and **not**
  trained on (the step is skipped on every process, and the BatchNorm
  running statistics of its forward are rolled back); too many in a row
  raise :class:`FloatingPointError`;
* bad samples never reach the forward: a sample whose image has a
  non-finite pixel is left out of its step (reported, with its dataset
  index), so BatchNorm never sees it; a missed 2D detection (a non-finite
  estimated joint) is replaced by that joint's ground truth in the 2D
  input, and non-finite ground truth is masked out of the loss (see
  :func:`~bigraph_pyg.engine.batching.prepare_batch`);
* mixed precision (``amp``: bfloat16 autocast on the CPU, bfloat16 or
  float16 on CUDA) and ``torch.compile`` (``compile``);
* DDP when the :class:`~bigraph_pyg.engine.distributed.DistributedContext`
  has several processes (gradients averaged; each rank reads a disjoint
  stride of the epoch's permutation); the training set's ``set_epoch``,
  where it has one, is called before each epoch (the mixture table of
  :class:`~bigraph_pyg.data.MixedDataset`, fresh augmentation);
* TensorBoard logs of every loss term, the metrics and overlays;
* atomic checkpoints ``last.pt`` (every epoch, every
  ``checkpoint_every`` steps, and when stopped) and ``best.pt`` (best
  validation ``best_metric``); :meth:`Trainer.fit` with ``resume=True``
  continues exactly where ``last.pt`` stopped: same batches, optimizer
  and RNG state, so the resumed run equals an uninterrupted one step for
  step.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from bigraph_pyg.engine.batching import (
    EpochBatchSampler,
    ModelBatch,
    collate_samples,
    prepare_batch,
    prepare_pose_batch,
)
from bigraph_pyg.engine.checkpoint import (
    CheckpointError,
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from bigraph_pyg.engine.distributed import DistributedContext
from bigraph_pyg.engine.evaluate import evaluate
from bigraph_pyg.engine.logger import TrainLogger, overlay_images
from bigraph_pyg.engine.schedule import gt_mix_ratio, mix_joints_2d
from bigraph_pyg.engine.train_config import TrainConfig, TrainResult
from bigraph_pyg.geometry import weak_perspective_projection
from bigraph_pyg.losses import BiGraphLoss
from bigraph_pyg.nn.validate import validation, validation_enabled

__all__ = ["Trainer"]

log = logging.getLogger(__name__)


class Trainer:
    """Trains a model; see the module docstring.

    Args:
        model (BiGraphBody): The model (moved to the context's device).
        train_set (Dataset): Samples with the keys of
            :data:`~bigraph_pyg.engine.batching.TRAIN_KEYS`.
        config (TrainConfig): Optimisation settings.
        out_dir (str or PathLike or None): Run folder (``checkpoints/``,
            ``tb/``); :obj:`None` writes nothing.
        val_set (Dataset, optional): Evaluated every ``eval_every`` epochs.
        context (DistributedContext, optional): Rank and device.
            (default: one process on the CPU)
        body (BodyModel, optional): For the SMPL-mesh metric.
        extra_state (dict, optional): Stored in every checkpoint (e.g. the
            data settings), returned by :func:`load_checkpoint`.
        baselines (TrainingStatistics, optional): Scores the trivial
            predictors beside every validation (see
            :mod:`bigraph_pyg.engine.baselines`).
        lift_set (SyntheticPoses, optional): Pose-only samples, with
            ``config.lift_batch_size > 0``: each step adds ``lift_weight``
            times Eq. 6 on ``lift_batch_size`` of them, run image-free
            (``model(None, joints_2d)``), their 2D input mixed by the same
            schedule as the images'. Drawn at random by ``(seed, step)``,
            so a resumed run draws the same ones. One process only.

    Raises:
        ValueError: ``amp`` without a CUDA device.
    """

    def __init__(
        self,
        model,
        train_set: Dataset,
        config: TrainConfig,
        out_dir=None,
        val_set: Dataset | None = None,
        context: DistributedContext | None = None,
        body=None,
        extra_state: dict | None = None,
        baselines=None,
        lift_set=None,
    ) -> None:
        self.ctx = context or DistributedContext()
        self.baselines = baselines
        self.lift_set = lift_set
        lifting = {
            k: getattr(config, k)
            for k in ("lift_batch_size", "skeleton_lift_batch_size")
            if getattr(config, k)
        }
        if lifting and lift_set is None:
            raise ValueError(
                f"Expected a `lift_set` of pose-only samples for "
                f"{_pairs(lifting)} (got None)"
            )
        if lifting and self.ctx.is_distributed:
            raise ValueError(
                "Expected lift_batch_size=0 and skeleton_lift_batch_size=0 "
                f"with several processes (got {_pairs(lifting)}: the "
                "image-free pass is a second "
                "forward, which DistributedDataParallel does not sync)"
            )
        self.config = config
        self.device = self.ctx.device
        self.net = model.to(self.device)
        #: Eq. 6 for this model (its config's loss weights).
        self.criterion = BiGraphLoss.for_config(model.config)
        self._forwards_checked = 0
        self.train_set, self.val_set = train_set, val_set
        self.body = body
        self.extra_state = dict(extra_state or {})
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.ckpt_dir = (
            None if out_dir is None else self.out_dir / "checkpoints"
        )
        self.optimizer = torch.optim.Adam(
            self.net.parameters(),
            lr=config.lr,
            weight_decay=config.weight_decay,
        )
        self.amp_dtype = _amp_dtype(self.device) if config.amp else None
        self.scaler = torch.amp.GradScaler(
            "cuda", enabled=self.amp_dtype == torch.float16
        )
        model_fw = self.net
        if self.ctx.is_distributed:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            # The graph buffers (sparse sampler matrices among them) are
            # constants built identically on every rank; DDP cannot
            # broadcast sparse tensors, so leave those out of its syncs.
            sparse = [n for n, b in model_fw.named_buffers() if b.is_sparse]
            ddp = DistributedDataParallel
            ddp._set_params_and_buffers_to_ignore_for_model(model_fw, sparse)
            model_fw = DistributedDataParallel(
                model_fw, device_ids=ids, find_unused_parameters=True
            )
        if config.compile:
            model_fw = torch.compile(model_fw)
        self.model = model_fw
        # Running statistics a skipped step must not change (see
        # train_step): every norm layer's buffers.
        self._norm_buffers = [
            buf
            for m in self.net.modules()
            if getattr(m, "track_running_stats", False)
            for buf in m.buffers(recurse=False)
        ]
        self.sampler = EpochBatchSampler(
            len(train_set),
            config.batch_size,
            config.seed,
            shuffle=True,
            rank=self.ctx.rank,
            world_size=self.ctx.world_size,
        )
        self.mix_generator = torch.Generator().manual_seed(
            config.seed * 7919 + self.ctx.rank
        )
        self.result = TrainResult()
        self._epoch = 0
        self._batch_in_epoch = 0
        self.logger = TrainLogger(
            None if self.out_dir is None else self.out_dir / "tb",
            enabled=self.ctx.is_main,
        )

    # -- state ----------------------------------------------------------------

    @property
    def steps_per_epoch(self) -> int:
        """Batches per epoch per process."""
        return len(self.sampler)

    def state_dict(self) -> dict[str, Any]:
        """Everything :meth:`load_state_dict` needs to resume exactly."""
        r = self.result
        return {
            "model_config": self.net.config.to_dict(),
            "model": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "train_config": asdict(self.config),
            "step": r.step,
            "epoch": self._epoch,
            "batch_in_epoch": self._batch_in_epoch,
            "num_train_samples": len(self.train_set),
            "world_size": self.ctx.world_size,
            "rng": capture_rng_state({"mix": self.mix_generator}),
            "history": r.history,
            "evals": r.evals,
            "best": r.best,
            "nonfinite_steps": r.nonfinite_steps,
            "extra": self.extra_state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` (training state included).

        Raises:
            CheckpointError: a state from another batch size, seed, dataset
                length or number of processes (the order would differ).
        """
        tc = state.get("train_config", {})
        for key, mine in (
            ("batch_size", self.config.batch_size),
            ("seed", self.config.seed),
        ):
            if tc.get(key) != mine:
                raise CheckpointError(
                    f"Expected the checkpoint's {key}={tc.get(key)!r} to "
                    f"resume exactly (got {key}={mine!r}); pass the same "
                    "value or start a new run"
                )
        for key, mine in (
            ("num_train_samples", len(self.train_set)),
            ("world_size", self.ctx.world_size),
        ):
            if state.get(key) != mine:
                raise CheckpointError(
                    f"Expected {key}={state.get(key)!r} as in the checkpoint "
                    f"to resume exactly (got {mine!r}); use the same data "
                    "and number of processes"
                )
        self.net.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        restore_rng_state(state["rng"], {"mix": self.mix_generator})
        r = self.result
        r.step = state["step"]
        r.history = list(state["history"])
        r.evals = list(state["evals"])
        r.best = state["best"]
        r.nonfinite_steps = state["nonfinite_steps"]
        self._epoch = state["epoch"]
        self._batch_in_epoch = state["batch_in_epoch"]
        r.epoch = self._epoch

    def save(self, name: str = "last.pt") -> Path | None:
        """Write a checkpoint atomically (main process only)."""
        if self.ckpt_dir is None or not self.ctx.is_main:
            return None
        return save_checkpoint(self.ckpt_dir / name, self.state_dict())

    # -- one step -------------------------------------------------------------

    def mix_ratio(self, step: int | None = None) -> float:
        """GT 2D-joint share at ``step`` (default: the current step)."""
        step = self.result.step if step is None else step
        return gt_mix_ratio(
            step,
            self.steps_per_epoch,
            self.config.epochs,
            self.config.mix_start,
        )

    def train_step(
        self, mb: ModelBatch, ratio: float
    ) -> tuple[float, dict[str, float]] | None:
        """One optimisation step; :obj:`None` if skipped (non-finite).

        Args:
            mb (ModelBatch): From
                :func:`~bigraph_pyg.engine.batching.prepare_batch`.
            ratio (float): GT 2D-joint share.

        Samples with a non-finite image pixel are left out before the
        forward; if fewer than two remain (BatchNorm needs two), the step
        is skipped. A skipped step leaves the weights, the optimizer and
        the BatchNorm running statistics as they were.

        Returns:
            tuple[float, dict[str, float]] or None: total loss and
            unweighted terms (this process's batch).
        """
        mb = self._finite_samples(mb)
        if mb is None:
            return None
        est = mb.joints_est
        if mb.joints_est_valid is not None and mb.joints_gt_valid is not None:
            # A missed detection: train on the ground-truth joint there.
            swap = ~mb.joints_est_valid & mb.joints_gt_valid
            est = torch.where(swap[..., None], mb.joints_gt, est)
        joints = mix_joints_2d(mb.joints_gt, est, ratio, self.mix_generator)
        self.net.train()
        self._set_lr()
        self.optimizer.zero_grad(set_to_none=True)
        norm_state = [b.clone() for b in self._norm_buffers]
        with validation(self._check_inputs()), self._autocast():
            out = self.model(mb.images, joints)
        loss, terms = self.criterion.model_loss(_float_output(out), mb.targets)
        if self.config.lift_batch_size:
            lift_loss, lift_terms = self._lift_loss(ratio)
            loss = loss + self.config.lift_weight * lift_loss
            terms = {
                **terms,
                "lift_total": lift_loss.detach(),
                **{f"lift_{k}": v for k, v in lift_terms.items()},
            }
        if self.config.skeleton_lift_batch_size:
            term, weight = self._skeleton_lift_loss(ratio)
            loss = loss + self.config.lift_weight * weight * term
            terms = {**terms, "skeleton_lift_joints_3d": term.detach()}
        finite = torch.isfinite(loss.detach()).float()
        if self.ctx.is_distributed:
            import torch.distributed as dist

            dist.all_reduce(finite, op=dist.ReduceOp.MIN)
        if finite.item() < 1:
            self._restore_norm_buffers(norm_state)
            self._report_nonfinite(loss, terms, "loss")
            return None
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        clip = self.config.grad_clip or float("inf")
        norm = torch.nn.utils.clip_grad_norm_(self.net.parameters(), clip)
        if self.amp_dtype != torch.float16:  # the scaler checks fp16 itself
            ok = torch.isfinite(norm).float()
            if self.ctx.is_distributed:
                import torch.distributed as dist

                dist.all_reduce(ok, op=dist.ReduceOp.MIN)
            if ok.item() < 1:
                self.optimizer.zero_grad(set_to_none=True)
                self._restore_norm_buffers(norm_state)
                self._report_nonfinite(loss, terms, "gradient")
                return None
        fp16 = self.scaler.is_enabled()
        scale = self.scaler.get_scale() if fp16 else None
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if fp16 and self.scaler.get_scale() < scale:
            # The scaler found inf gradients and skipped the update (its
            # scale calibration does so a few times at the start): leave
            # no trace in BatchNorm either. Not an error, not a run.
            self._restore_norm_buffers(norm_state)
            self.result.nonfinite_steps += 1
            log.debug(
                "Step %d: fp16 gradient overflow, update skipped "
                "(loss scale now %g)",
                self.result.step,
                self.scaler.get_scale(),
            )
            return None
        self._nonfinite_run = 0
        return float(loss.detach()), {
            k: float(v.detach()) for k, v in terms.items()
        }

    def _finite_samples(self, mb: ModelBatch) -> ModelBatch | None:
        """``mb`` without its non-finite images; None: skip the step."""
        keep = mb.finite_images()
        kept = int(keep.sum())
        if kept < len(mb):
            index = mb.raw.get("index")
            bad = (
                index[~keep.to(index.device)].tolist()
                if isinstance(index, Tensor)
                else "?"
            )
            log.warning(
                "Step %d: %d of %d images have non-finite pixels "
                "(dataset indices %s): left out of the step",
                self.result.step,
                len(mb) - kept,
                len(mb),
                bad,
            )
            mb = mb.select(keep)
        enough = torch.tensor(
            float(kept >= min(2, len(keep))), device=self.device
        )
        if self.ctx.is_distributed:
            import torch.distributed as dist

            dist.all_reduce(enough, op=dist.ReduceOp.MIN)
        if enough.item() < 1:
            self._report_nonfinite(
                None, {}, "input", f"{kept} finite images of {len(keep)}"
            )
            return None
        return mb

    @torch.no_grad()
    def _restore_norm_buffers(self, saved: list[Tensor]) -> None:
        for buf, value in zip(self._norm_buffers, saved, strict=True):
            buf.copy_(value)

    def _pose_batch(
        self, size: int, ratio: float, stream: int
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """``size`` pose-only samples of this step: mixed 2D, targets.

        ``stream`` keeps the image-free and the skeleton-only draws of one
        step apart (both reproducible from the seed and the step).
        """
        cfg = self.config
        g = torch.Generator().manual_seed(
            cfg.seed * 1_000_003 + self.result.step + stream * 7_919_011
        )
        idx = torch.randint(len(self.lift_set), (size,), generator=g)
        j_gt, j_est, targets = prepare_pose_batch(
            self.lift_set.batch(idx),
            self.net.config.image_size,
            self.lift_set.config.image_size,
            self.device,
        )
        return mix_joints_2d(j_gt, j_est, ratio, self.mix_generator), targets

    def _autocast(self):
        return torch.autocast(
            self.device.type,
            dtype=self.amp_dtype,
            enabled=self.amp_dtype is not None,
        )

    def _lift_loss(self, ratio: float) -> tuple[Tensor, dict[str, Tensor]]:
        """Eq. 6 on a batch of pose-only samples, run image-free."""
        joints, targets = self._pose_batch(
            self.config.lift_batch_size, ratio, 0
        )
        with validation(self._check_inputs()), self._autocast():
            out = self.net(None, joints)
        return self.criterion.model_loss(_float_output(out), targets)

    def _skeleton_lift_loss(self, ratio: float) -> tuple[Tensor, float]:
        r""":math:`\mathcal{L}_s` of the Skeleton-GCN alone, pose-only."""
        joints, targets = self._pose_batch(
            self.config.skeleton_lift_batch_size, ratio, 1
        )
        with validation(False), self._autocast():
            pred = self.net.lift(joints)
        return self.criterion.skeleton_joints_3d_term(
            pred.float(), targets["gt_joints_3d"]
        )

    def _check_inputs(self) -> bool:
        """Value-check the model's inputs on the first forward only.

        :func:`prepare_batch` and :func:`prepare_pose_batch` already clamp
        the joints into the image and mask non-finite ones, so the model's
        own per-sample checks (host syncs on a GPU) run on this trainer's
        first two training forwards (the first image and the first
        pose-only forward, with lifting), then never.
        """
        first = self._forwards_checked < 2
        self._forwards_checked += 1
        return first and validation_enabled()

    def learning_rate(self, step: int | None = None) -> float:
        """The learning rate at ``step`` (warm-up, then the schedule)."""
        cfg = self.config
        step = self.result.step if step is None else step
        total = self.steps_per_epoch * cfg.epochs
        if cfg.max_steps is not None:
            total = min(total, cfg.max_steps)
        if step < cfg.warmup_steps:
            return cfg.lr * (0.1 + 0.9 * step / cfg.warmup_steps)
        if cfg.lr_schedule == "cosine" and total > cfg.warmup_steps:
            t = min(1.0, (step - cfg.warmup_steps) / (total - cfg.warmup_steps))
            floor = cfg.lr / 20
            return floor + (cfg.lr - floor) * 0.5 * (1 + math.cos(math.pi * t))
        return cfg.lr

    def _set_lr(self) -> None:
        lr = self.learning_rate()
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def _report_nonfinite(
        self, loss, terms, what: str, detail: str | None = None
    ) -> None:
        self.result.nonfinite_steps += 1
        self._nonfinite_run = getattr(self, "_nonfinite_run", 0) + 1
        if detail is None:
            detail = "loss={}; {}".format(
                float(loss.detach()),
                ", ".join(
                    f"{k}={float(v.detach()):.4g}" for k, v in terms.items()
                ),
            )
        log.warning(
            "Non-finite %s at step %d (%s): step skipped, not trained on",
            what,
            self.result.step,
            detail,
        )
        if self._nonfinite_run >= self.config.max_nonfinite:
            raise FloatingPointError(
                f"Expected a finite {what} (got {self._nonfinite_run} "
                f"non-finite steps in a row, the last at step "
                f"{self.result.step}: {detail}); lower TrainConfig.lr or "
                "check the data"
            )

    # -- the loop -------------------------------------------------------------

    def _loader(self, epoch: int, skip: int) -> DataLoader:
        self.sampler.set_epoch(epoch, skip)
        if hasattr(self.train_set, "set_epoch"):  # mixture table, augment
            self.train_set.set_epoch(epoch)
        g = torch.Generator().manual_seed(self.config.seed * 1000003 + epoch)
        return DataLoader(
            self.train_set,
            batch_sampler=self.sampler,
            num_workers=self.config.num_workers,
            generator=g,
            collate_fn=collate_samples,
            pin_memory=self.device.type == "cuda",
            persistent_workers=False,
        )

    def fit(self, resume: bool | str = False) -> TrainResult:
        """Train for ``config.epochs`` (or until ``config.max_steps``).

        Args:
            resume (bool or str): Continue from ``out_dir/checkpoints/
                last.pt`` (``True``) or from this path.

        Returns:
            TrainResult: history, validations and checkpoint paths.

        Raises:
            CheckpointError: ``resume`` with no checkpoint, or one of
                another model config or run settings.
            FloatingPointError: too many non-finite steps in a row.
        """
        from tqdm.auto import tqdm

        cfg = self.config
        r = self.result
        if resume:
            path = (
                Path(resume)
                if isinstance(resume, (str, Path))
                else (self.ckpt_dir / "last.pt" if self.ckpt_dir else None)
            )
            if path is None or not path.is_file():
                raise CheckpointError(
                    f"Expected a checkpoint to resume at {path} (got none); "
                    "start a new run without resume (the scripts' --resume), "
                    "or give the run's checkpoint folder"
                )
            state = load_checkpoint(
                path, self.net.config.to_dict(), map_location=self.device
            )
            self.load_state_dict(state)
            log.info(
                "Resumed from %s at step %d (epoch %d, batch %d)",
                path,
                r.step,
                self._epoch,
                self._batch_in_epoch,
            )
        if self.ckpt_dir is not None and self.ctx.is_main:
            r.last_path = self.ckpt_dir / "last.pt"
            # A resumed run keeps its best.pt; a new run never adopts one
            # it did not write (an old run's).
            if (
                resume
                and r.best is not None
                and (self.ckpt_dir / "best.pt").exists()
            ):
                r.best_path = self.ckpt_dir / "best.pt"
        spe = self.steps_per_epoch
        stopped = False
        try:
            while self._epoch < cfg.epochs and not stopped:
                epoch = self._epoch
                loader = self._loader(epoch, self._batch_in_epoch)
                bar = tqdm(
                    total=spe,
                    initial=self._batch_in_epoch,
                    desc=f"epoch {epoch + 1}/{cfg.epochs}",
                    unit="step",
                    disable=not (cfg.progress and self.ctx.is_main),
                    dynamic_ncols=True,
                )
                window: list[dict[str, float]] = []
                t0, seen = time.perf_counter(), 0
                for batch in loader:
                    if cfg.max_steps is not None and r.step >= cfg.max_steps:
                        stopped = True
                        break
                    mb = prepare_batch(
                        batch, self.net.config.image_size, self.device
                    )
                    ratio = self.mix_ratio()
                    done = self.train_step(mb, ratio)
                    r.step += 1
                    self._batch_in_epoch += 1
                    seen += mb.images.shape[0] * self.ctx.world_size
                    rate = seen / max(time.perf_counter() - t0, 1e-9)
                    if done is None:
                        r.history.append(
                            {"step": r.step, "epoch": epoch, "skipped": True}
                        )
                    else:
                        loss, terms = done
                        entry = {
                            "step": r.step,
                            "epoch": epoch,
                            "loss": loss,
                            **terms,
                        }
                        r.history.append(entry)
                        window.append(entry)
                        bar.set_postfix(
                            loss=f"{loss:.4f}",
                            img_s=f"{rate:.1f}",
                            gt2d=f"{ratio:.2f}",
                        )
                    bar.update(1)
                    if window and r.step % cfg.log_every == 0:
                        self._log_window(window, ratio, rate)
                        window = []
                    if (
                        cfg.image_every
                        and r.step % cfg.image_every == 0
                        and self.ctx.is_main
                    ):
                        self._log_images(mb, "train")
                    if (
                        cfg.checkpoint_every
                        and r.step % cfg.checkpoint_every == 0
                    ):
                        self.save()
                bar.close()
                if stopped:
                    break
                self._epoch += 1
                self._batch_in_epoch = 0
                r.epoch = self._epoch
                if window:
                    self._log_window(window, self.mix_ratio(), rate)
                if self.val_set is not None and (
                    self._epoch % cfg.eval_every == 0
                    or self._epoch == cfg.epochs
                ):
                    self._validate()
                self.save()
                if cfg.max_steps is not None and r.step >= cfg.max_steps:
                    stopped = self._epoch < cfg.epochs
        except KeyboardInterrupt:
            log.warning("Interrupted at step %d: writing last.pt", r.step)
            self.save()
            raise
        if stopped:
            self.save()
        r.finished = self._epoch >= cfg.epochs
        self.logger.flush()
        return r

    def _log_window(self, window, ratio: float, rate: float) -> None:
        keys = [k for k in window[0] if k not in ("step", "epoch")]
        mean = {k: sum(e[k] for e in window) / len(window) for k in keys}
        total = mean.pop("loss")
        self.logger.scalars("loss", {"total": total, **mean}, self.result.step)
        self.logger.scalars(
            "train",
            {
                "gt_joint_ratio": ratio,
                "images_per_s": rate,
                "lr": self.optimizer.param_groups[0]["lr"],
                "nonfinite_steps": self.result.nonfinite_steps,
            },
            self.result.step,
        )

    @torch.no_grad()
    def _log_images(self, mb: ModelBatch, split: str) -> None:
        if self.logger.writer is None:
            return
        keep = mb.finite_images()
        if not keep.all():
            mb = mb.select(keep)
        if not len(mb):
            return
        self.net.eval()
        try:
            out = self.net(mb.images[:4], mb.joints_est[:4])
        finally:
            self.net.train()
        v2d = weak_perspective_projection(out.vertices, out.camera)
        img = overlay_images(
            mb.images[:4],
            v2d,
            out.mesh_joints_2d,
            mb.targets["gt_joints_2d"][:4],
        )
        self.logger.image(f"images/{split}", img, self.result.step)

    def _validate(self) -> None:
        r = self.result
        if self.ctx.is_main:
            loader = DataLoader(
                self.val_set,
                batch_size=self.config.batch_size,
                shuffle=False,
                collate_fn=collate_samples,
                num_workers=self.config.num_workers,
            )
            metrics = evaluate(
                self.net,
                loader,
                self.device,
                body=self.body,
                segmentation=self.config.eval_segmentation,
                progress=self.config.progress,
                baselines=self.baselines,
            )
            r.evals.append({"epoch": self._epoch, "step": r.step, **metrics})
            self.logger.scalars("val", metrics, r.step)
            batch = next(iter(loader))
            self._log_images(
                prepare_batch(batch, self.net.config.image_size, self.device),
                "val",
            )
            key = self.config.best_metric
            value = metrics.get(key)
            if value is not None and (r.best is None or value < r.best):
                r.best = value
                r.best_path = self.save("best.pt")
            log.info(
                "epoch %d: %s",
                self._epoch,
                ", ".join(f"{k}={v:.2f}" for k, v in metrics.items()),
            )
        if self.ctx.is_distributed:
            import torch.distributed as dist

            dist.barrier()


def _amp_dtype(device: torch.device) -> torch.dtype:
    """The autocast dtype of ``amp`` on ``device``."""
    if device.type == "cuda":
        return (
            torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        )
    if device.type == "cpu":
        if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
            log.warning(
                "amp on a CPU without bfloat16 instructions (AVX512-BF16 or "
                "AMX): bfloat16 autocast runs, but slower than float32"
            )
        return torch.bfloat16
    raise ValueError(
        f"Expected a CPU or CUDA device for amp (got {device}); set "
        "TrainConfig.amp=False"
    )


def _pairs(values: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


def _float_output(out):
    """Cast an AMP output to float32 for the loss (no-op in float32)."""
    import dataclasses

    changes = {
        f.name: getattr(out, f.name).float()
        for f in dataclasses.fields(out)
        if isinstance(getattr(out, f.name), torch.Tensor)
        and getattr(out, f.name).dtype != torch.float32
    }
    return dataclasses.replace(out, **changes) if changes else out

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
  step. A resumed run refuses a checkpoint of another batch size, seed,
  loss, pose-only lifting objective, dataset length or number of
  processes (its batches or its objective would differ).

This module is the loop, the validation and the checkpoints; one
optimisation step is :class:`~bigraph_pyg.engine.train_step.TrainStep`
(``trainer.step(mb, ratio)``, ``engine/train_step.py``), on a batch from
:func:`~bigraph_pyg.engine.batching.prepare_batch`.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from bigraph_pyg.engine.batch_transforms import collate_samples
from bigraph_pyg.engine.batching import (
    EpochBatchSampler,
    ModelBatch,
    prepare_batch,
)
from bigraph_pyg.engine.checkpoint import (
    CheckpointError,
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from bigraph_pyg.engine.distributed import DistributedContext, barrier
from bigraph_pyg.engine.evaluate import score
from bigraph_pyg.engine.logger import TrainLogger
from bigraph_pyg.engine.run_lock import RunLock
from bigraph_pyg.engine.train_config import (
    TrainConfig,
    TrainResult,
    check_lifting,
)
from bigraph_pyg.engine.train_step import TrainStep
from bigraph_pyg.losses import LossWeights

__all__ = ["Trainer"]

log = logging.getLogger(__name__)

#: TrainConfig fields a resumed run must share with its checkpoint: the
#: batches (batch sizes, seed) and the pose-only samples' objective.
_RESUME_KEYS = (
    "batch_size",
    "seed",
    "lift_batch_size",
    "skeleton_lift_batch_size",
    "lift_weight",
    "lift_mix_start",
    "skeleton_lift_loss",
    "skeleton_lift_weight",
    "lift_redraw_noise",
)


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
            schedule as the images'; with ``config.skeleton_lift_batch_size
            > 0`` further ones go through the Skeleton-GCN alone
            (``model.lift``). Drawn at random by ``(seed, step)``, so a
            resumed run draws the same ones. One process only.
        replaces (Sequence[Path]): An old run's files that this run
            replaces (``overwrite``): kept until this run writes its first
            checkpoint, then removed. (default: none)

    Raises:
        ValueError: ``amp`` on a device other than a CPU or CUDA one;
            lifting without a ``lift_set``, or with several processes.
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
        replaces: Sequence[Path] = (),
    ) -> None:
        self.ctx = context or DistributedContext()
        self.baselines = baselines
        check_lifting(config, lift_set, self.ctx, model)
        self.config = config
        self.device = self.ctx.device
        self.net = model.to(self.device)
        self.train_set, self.val_set = train_set, val_set
        self.body = body
        self.extra_state = dict(extra_state or {})
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.ckpt_dir = (
            None if out_dir is None else self.out_dir / "checkpoints"
        )
        #: Removed once this run has written its first checkpoint.
        self.replaces = list(replaces)
        self.result = TrainResult()
        self.sampler = EpochBatchSampler(
            len(train_set),
            config.batch_size,
            config.seed,
            shuffle=True,
            rank=self.ctx.rank,
            world_size=self.ctx.world_size,
        )
        #: One optimisation step, ``self.step(mb, ratio)``, and what it
        #: holds: Eq. 6 (``criterion``), Adam (``optimizer``), the AMP
        #: dtype and gradient scaler, the 2D-joint mixing and its schedule.
        self.step = TrainStep(
            self.net,
            config,
            self.ctx,
            self.result,
            self.steps_per_epoch,
            lift_set,
        )
        # The position in the data order (checkpointed).
        self._epoch = 0
        self._batch_in_epoch = 0
        self.logger = TrainLogger(
            None if self.out_dir is None else self.out_dir / "tb",
            enabled=self.ctx.is_main,
        )

    @property
    def steps_per_epoch(self) -> int:
        """Batches per epoch per process."""
        return len(self.sampler)

    # -- the loop -------------------------------------------------------------

    def fit(self, resume: bool | str = False) -> TrainResult:
        """Train for ``config.epochs`` (or until ``config.max_steps``).

        Args:
            resume (bool or str): Continue from ``out_dir/checkpoints/
                last.pt`` (``True``) or from this path.

        Returns:
            TrainResult: history, validations and checkpoint paths.

        Raises:
            CheckpointError: another process holds the run lock of
                ``out_dir`` (:mod:`~bigraph_pyg.engine.run_lock`; held
                here until training returns); ``resume`` with no
                checkpoint, or one of another model config or run settings.
            FloatingPointError: too many non-finite steps in a row.
        """
        from tqdm.auto import tqdm

        cfg = self.config
        r = self.result
        stopped = False
        with self._holding_run(resume):  # the folder's lock, resumed
            try:
                while self._epoch < cfg.epochs and not stopped:
                    stopped, window, rate = self._train_epoch(tqdm)
                    if stopped:
                        break
                    self._end_epoch(window, rate)
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

    def _train_epoch(
        self, progress_bar
    ) -> tuple[bool, list[dict[str, float]], float]:
        """The current epoch's remaining batches, one step each.

        Args:
            progress_bar (type): ``tqdm.auto.tqdm``, imported by :meth:`fit`
                (an optional dependency: missing, it fails before a resume).

        Returns:
            tuple[bool, list[dict[str, float]], float]: whether
            ``max_steps`` stopped the epoch, the history entries not yet
            logged, and the throughput (images per second).
        """
        cfg, r = self.config, self.result
        epoch = self._epoch
        loader = self._loader(epoch, self._batch_in_epoch)
        bar = progress_bar(
            total=self.steps_per_epoch,
            initial=self._batch_in_epoch,
            desc=f"epoch {epoch + 1}/{cfg.epochs}",
            unit="step",
            disable=not (cfg.progress and self.ctx.is_main),
            dynamic_ncols=True,
        )
        window: list[dict[str, float]] = []
        t0, seen, rate = time.perf_counter(), 0, 0.0
        stopped = False
        for batch in loader:
            if cfg.max_steps is not None and r.step >= cfg.max_steps:
                stopped = True
                break
            mb = prepare_batch(batch, self.net.config.image_size, self.device)
            ratio = self.step.mix_ratio()
            done = self.step(mb, ratio)
            r.step += 1
            self._batch_in_epoch += 1
            seen += mb.images.shape[0] * self.ctx.world_size
            rate = seen / max(time.perf_counter() - t0, 1e-9)
            self._record(done, epoch, window)
            if done is not None:
                bar.set_postfix(
                    loss=f"{done[0]:.4f}",
                    img_s=f"{rate:.1f}",
                    gt2d=f"{ratio:.2f}",
                )
            bar.update(1)
            self._after_step(mb, window, ratio, rate)
        bar.close()
        return stopped, window, rate

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

    def _record(
        self,
        done: tuple[float, dict[str, float]] | None,
        epoch: int,
        window: list[dict[str, float]],
    ) -> None:
        """Append the step to the history (and the logging window)."""
        r = self.result
        if done is None:
            r.history.append({"step": r.step, "epoch": epoch, "skipped": True})
            return
        loss, terms = done
        entry = {"step": r.step, "epoch": epoch, "loss": loss, **terms}
        r.history.append(entry)
        window.append(entry)

    def _after_step(
        self, mb: ModelBatch, window: list, ratio: float, rate: float
    ) -> None:
        """Log scalars and overlays, and checkpoint, when they are due."""
        cfg, n = self.config, self.result.step
        if window and n % cfg.log_every == 0:
            self._log_window(window, ratio, rate)
            window.clear()
        if cfg.image_every and n % cfg.image_every == 0 and self.ctx.is_main:
            self.logger.predictions(self.net, mb, "images/train", n)
        if cfg.checkpoint_every and n % cfg.checkpoint_every == 0:
            self.save()

    def _end_epoch(self, window: list, rate: float) -> None:
        """Close a finished epoch: log, validate when due, write last.pt."""
        cfg = self.config
        self._epoch += 1
        self._batch_in_epoch = 0
        self.result.epoch = self._epoch
        if window:
            self._log_window(window, self.step.mix_ratio(), rate)
        if self.val_set is not None and (
            self._epoch % cfg.eval_every == 0 or self._epoch == cfg.epochs
        ):
            self.validate()
        self.save()

    def _log_window(self, window, ratio: float, rate: float) -> None:
        self.logger.training_window(
            window,
            self.result.step,
            {
                "gt_joint_ratio": ratio,
                "images_per_s": rate,
                "lr": self.step.optimizer.param_groups[0]["lr"],
                "nonfinite_steps": self.result.nonfinite_steps,
            },
        )

    # -- validation -----------------------------------------------------------

    def validate(self) -> None:
        """Score the validation set at the end of an epoch.

        On the main process: the metrics are appended to the result's
        ``evals``, logged (``val/``, an overlay of the first batch under
        ``images/val``, one line of the log), and ``best.pt`` is written
        when they improve ``best_metric``. Every process then waits for the
        main one. If the scoring raises, ``last.pt`` of the finished epoch
        is written first (without this validation), so its training is
        kept.
        """
        r = self.result
        if self.ctx.is_main:
            try:
                metrics, loader = score(
                    self.net,
                    self.val_set,
                    self.config,
                    self.device,
                    body=self.body,
                    segmentation=self.config.eval_segmentation,
                    baselines=self.baselines,
                )
            except Exception:
                # The epoch's training is kept: last.pt without this
                # validation.
                log.error(
                    "Validation failed, epoch %d: writing last.pt", self._epoch
                )
                self.save()
                raise
            r.evals.append({"epoch": self._epoch, "step": r.step, **metrics})
            self.logger.scalars("val", metrics, r.step)
            batch = next(iter(loader))
            mb = prepare_batch(batch, self.net.config.image_size, self.device)
            self.logger.predictions(self.net, mb, "images/val", r.step)
            self._keep_if_best(metrics)
            log.info(
                "epoch %d: %s",
                self._epoch,
                ", ".join(f"{k}={v:.2f}" for k, v in metrics.items()),
            )
        barrier(self.ctx)

    def _keep_if_best(self, metrics: dict[str, float]) -> None:
        """Write ``best.pt`` if ``metrics`` beat the best ``best_metric``."""
        r = self.result
        value = metrics.get(self.config.best_metric)
        if value is not None and (r.best is None or value < r.best):
            r.best = value
            r.best_path = self.save("best.pt")

    # -- checkpoints: last.pt, best.pt, resuming ------------------------------

    @contextlib.contextmanager
    def _holding_run(self, resume: bool | str) -> Iterator[None]:
        """Hold the folder's run lock; resume; set the result's paths.

        Raises:
            CheckpointError: another process holds the run lock of
                ``out_dir`` (:class:`~bigraph_pyg.engine.run_lock.RunLock`),
                or see :meth:`_resume`.
        """
        with RunLock(self.out_dir if self.ctx.is_main else None):
            if resume:
                self._resume(resume)
            self._set_result_paths(bool(resume))
            yield

    def state_dict(self) -> dict[str, Any]:
        """Everything :meth:`load_state_dict` needs to resume exactly.

        The model, Adam and the gradient scaler, the RNG states with the
        2D-mixing generator, the position in the data order, the history
        and validations, the run's settings and ``extra_state``.
        """
        r, step = self.result, self.step
        return {
            "model_config": self.net.config.to_dict(),
            "model": self.net.state_dict(),
            "optimizer": step.optimizer.state_dict(),
            "scaler": step.scaler.state_dict(),
            "train_config": asdict(self.config),
            "step": r.step,
            "epoch": self._epoch,
            "batch_in_epoch": self._batch_in_epoch,
            "num_train_samples": len(self.train_set),
            "world_size": self.ctx.world_size,
            "rng": capture_rng_state({"mix": step.mix_generator}),
            "history": r.history,
            "evals": r.evals,
            "best": r.best,
            "nonfinite_steps": r.nonfinite_steps,
            "extra": self.extra_state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` (training state included).

        Raises:
            CheckpointError: a state from another batch size, seed, loss,
                dataset length or number of processes (the run would
                differ; :meth:`check_resumable`).
        """
        self.check_resumable(state)
        step = self.step
        self.net.load_state_dict(state["model"])
        step.optimizer.load_state_dict(state["optimizer"])
        step.scaler.load_state_dict(state["scaler"])
        restore_rng_state(state["rng"], {"mix": step.mix_generator})
        r = self.result
        r.step = state["step"]
        r.history = list(state["history"])
        r.evals = list(state["evals"])
        r.best = state["best"]
        r.nonfinite_steps = state["nonfinite_steps"]
        self._epoch = state["epoch"]
        self._batch_in_epoch = state["batch_in_epoch"]
        r.epoch = self._epoch

    def check_resumable(self, state: dict[str, Any]) -> None:
        """Refuse a state whose batches would differ from this run's.

        Raises:
            CheckpointError: another batch size, seed, loss, pose-only
                lifting objective, dataset length or number of processes.
        """
        tc = state.get("train_config", {})
        stored, mine = _stored_loss(state), asdict(self.config.loss)
        if stored != mine:
            changed = sorted(k for k in stored if stored[k] != mine.get(k))
            was = ", ".join(f"{k}={stored[k]!r}" for k in changed)
            now = ", ".join(f"{k}={mine.get(k)!r}" for k in changed)
            raise CheckpointError(
                f"Expected the checkpoint's loss to resume exactly (it "
                f"trained with {was}; got {now}); pass the same "
                "TrainConfig.loss (the scripts: the same --ablation) or "
                "start a new run"
            )
        # A checkpoint older than a setting trained with its default.
        default = {f.name: f.default for f in fields(TrainConfig)}
        for key in _RESUME_KEYS:
            was, mine = tc.get(key, default[key]), getattr(self.config, key)
            if was != mine:
                raise CheckpointError(
                    f"Expected the checkpoint's {key}={was!r} to resume "
                    f"exactly (got {key}={mine!r}); pass the same "
                    f"TrainConfig.{key} or start a new run"
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

    def save(self, name: str = "last.pt") -> Path | None:
        """Write a checkpoint atomically (main process only).

        The first one also removes the old run's files in ``replaces``.
        """
        if self.ckpt_dir is None or not self.ctx.is_main:
            return None
        path = save_checkpoint(self.ckpt_dir / name, self.state_dict())
        for old in self.replaces:  # the new run has its first checkpoint
            if old != path and old.is_file():
                old.unlink()
        self.replaces = []
        return path

    def _resume(self, resume: bool | str) -> None:
        """Load ``last.pt`` (``resume=True``) or the checkpoint ``resume``.

        Raises:
            CheckpointError: no checkpoint there, one of another model
                config or run settings, or weights, optimizer or scaler
                state that this run's refuse.
        """
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
        try:
            self.load_state_dict(state)
        except CheckpointError:
            raise
        except (
            KeyError,
            TypeError,
            ValueError,
            RuntimeError,
            IndexError,
            AttributeError,
        ) as err:  # an edited, re-signed file: torch's own refusals
            lines = [ln.strip() for ln in str(err).strip().splitlines()]
            raise CheckpointError(
                f"Expected a training state that fits this model and "
                f"optimizer in the checkpoint {path} (got "
                f"{type(err).__name__}: {' '.join(lines[:2])[:300]}); it was "
                "edited or comes from another version"
            ) from err
        log.info(
            "Resumed from %s at step %d (epoch %d, batch %d)",
            path,
            self.result.step,
            self._epoch,
            self._batch_in_epoch,
        )

    def _set_result_paths(self, resumed: bool) -> None:
        """The result's ``last_path`` and a resumed run's ``best_path``."""
        r, ckpt = self.result, self.ckpt_dir
        if ckpt is None or not self.ctx.is_main:
            return
        r.last_path = ckpt / "last.pt"
        # A resumed run keeps its best.pt; a new run never adopts one it
        # did not write (an old run's).
        if resumed and r.best is not None and (ckpt / "best.pt").exists():
            r.best_path = ckpt / "best.pt"


def _stored_loss(state: dict[str, Any]) -> dict[str, Any]:
    """The loss weights a checkpoint trained with, as a dict.

    Older checkpoints kept only ``use_focal``, in the model config.
    """
    loss = state.get("train_config", {}).get("loss")
    if loss is not None:
        return dict(loss)
    focal = state.get("model_config", {}).get("use_focal", True)
    return asdict(LossWeights(use_focal=focal))

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

The step and its schedules are ``engine/_train_step.py`` (with
``engine/_step_guard.py``), the checkpoints ``engine/_trainer_state.py``,
the validation's scoring ``engine/_held_out.py``; this module is the loop.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from bigraph_pyg.engine._held_out import validate
from bigraph_pyg.engine._train_step import TrainStep, check_lifting
from bigraph_pyg.engine._trainer_state import TrainerCheckpoints
from bigraph_pyg.engine.batch_transforms import collate_samples
from bigraph_pyg.engine.batching import (
    EpochBatchSampler,
    ModelBatch,
    prepare_batch,
)
from bigraph_pyg.engine.distributed import DistributedContext
from bigraph_pyg.engine.logger import TrainLogger
from bigraph_pyg.engine.train_config import TrainConfig, TrainResult

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
            schedule as the images'; with ``config.skeleton_lift_batch_size
            > 0`` further ones go through the Skeleton-GCN alone
            (``model.lift``). Drawn at random by ``(seed, step)``, so a
            resumed run draws the same ones. One process only.

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
        self.result = TrainResult()
        self.sampler = EpochBatchSampler(
            len(train_set),
            config.batch_size,
            config.seed,
            shuffle=True,
            rank=self.ctx.rank,
            world_size=self.ctx.world_size,
        )
        #: The optimisation step and its schedules (Adam, AMP, lifting).
        self.step_fn = TrainStep(
            self.net,
            config,
            self.ctx,
            self.result,
            self.steps_per_epoch,
            lift_set,
        )
        self._epoch = 0
        self._batch_in_epoch = 0
        #: ``last.pt``, ``best.pt`` and resuming.
        self.checkpoints = TrainerCheckpoints(self)
        self.logger = TrainLogger(
            None if self.out_dir is None else self.out_dir / "tb",
            enabled=self.ctx.is_main,
        )

    # -- the step's parts, under the names they have on a Trainer -------------

    @property
    def criterion(self):
        """Eq. 6 with ``config.loss`` (a ``BiGraphLoss``)."""
        return self.step_fn.criterion

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """Adam."""
        return self.step_fn.optimizer

    @property
    def scaler(self) -> torch.amp.GradScaler:
        """The float16 gradient scaler (disabled otherwise)."""
        return self.step_fn.scaler

    @property
    def amp_dtype(self) -> torch.dtype | None:
        """The autocast dtype of ``config.amp``, or :obj:`None`."""
        return self.step_fn.amp_dtype

    @property
    def mix_generator(self) -> torch.Generator:
        """The 2D-joint mixing's random stream (checkpointed)."""
        return self.step_fn.mix_generator

    # -- state ----------------------------------------------------------------

    @property
    def steps_per_epoch(self) -> int:
        """Batches per epoch per process."""
        return len(self.sampler)

    def state_dict(self) -> dict[str, Any]:
        """Everything :meth:`load_state_dict` needs to resume exactly."""
        return self.checkpoints.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` (training state included).

        Raises:
            CheckpointError: a state from another batch size, seed, loss,
                dataset length or number of processes (the run would
                differ).
        """
        self.checkpoints.load_state_dict(state)

    def save(self, name: str = "last.pt") -> Path | None:
        """Write a checkpoint atomically (main process only)."""
        return self.checkpoints.save(name)

    # -- one step -------------------------------------------------------------

    def mix_ratio(self, step: int | None = None) -> float:
        """GT 2D-joint share at ``step`` (default: the current step)."""
        return self.step_fn.mix_ratio(step)

    def learning_rate(self, step: int | None = None) -> float:
        """The learning rate at ``step`` (warm-up, then the schedule)."""
        return self.step_fn.learning_rate(step)

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
        return self.step_fn(mb, ratio)

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
        with self.checkpoints.run(resume):  # the folder's lock, resumed
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
            ratio = self.mix_ratio()
            done = self.train_step(mb, ratio)
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
        cfg, step = self.config, self.result.step
        if window and step % cfg.log_every == 0:
            self._log_window(window, ratio, rate)
            window.clear()
        if cfg.image_every and step % cfg.image_every == 0 and self.ctx.is_main:
            self.logger.predictions(self.net, mb, "images/train", step)
        if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
            self.save()

    def _end_epoch(self, window: list, rate: float) -> None:
        """Close a finished epoch: log, validate when due, write last.pt."""
        cfg = self.config
        self._epoch += 1
        self._batch_in_epoch = 0
        self.result.epoch = self._epoch
        if window:
            self._log_window(window, self.mix_ratio(), rate)
        if self.val_set is not None and (
            self._epoch % cfg.eval_every == 0 or self._epoch == cfg.epochs
        ):
            validate(self)
        self.save()

    def _log_window(self, window, ratio: float, rate: float) -> None:
        self.logger.training_window(
            window,
            self.result.step,
            {
                "gt_joint_ratio": ratio,
                "images_per_s": rate,
                "lr": self.optimizer.param_groups[0]["lr"],
                "nonfinite_steps": self.result.nonfinite_steps,
            },
        )

r"""One optimisation step of a :class:`~bigraph_pyg.engine.Trainer`.

:class:`TrainStep` holds what a step needs besides its batch: the model
(and its DDP / ``torch.compile`` wrapper for the image forward), Eq. 6
(:class:`~bigraph_pyg.losses.BiGraphLoss`), Adam and its learning-rate
schedule, the AMP dtype and gradient scaler, and the generator and
schedule of the 2D-joint mixing. ``trainer.step(mb, ratio)`` runs one. A
step:

1. leaves out the samples whose image has a non-finite pixel
   (:func:`finite_samples`);
2. trains on the ground truth of a missed detection and mixes the 2D input
   (:func:`~bigraph_pyg.engine.schedule.mix_joints_2d`; the pose-only
   samples on their own schedule with ``lift_mix_start``);
3. runs the forward (under autocast with ``amp``) and Eq. 6, plus the
   pose-only terms with lifting (:meth:`TrainStep.lift_loss`,
   :meth:`TrainStep.skeleton_lift_loss`);
4. skips a non-finite loss or gradient on every process, rolling the
   BatchNorm running statistics back (:func:`norm_buffers`,
   :func:`restore_buffers`) and reporting it to the run's
   :class:`NonfiniteGuard`, which raises :class:`FloatingPointError`
   after too many skipped steps in a row;
5. else back-propagates, clips the gradient norm and updates.

The batch comes from :func:`~bigraph_pyg.engine.batching.prepare_batch`;
the schedules' formulas are :mod:`~bigraph_pyg.engine.schedule`'s.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import torch
from torch import Tensor

from bigraph_pyg.data.noise import REDRAW_STREAM
from bigraph_pyg.engine.batching import ModelBatch, prepare_pose_batch
from bigraph_pyg.engine.distributed import (
    DistributedContext,
    all_ranks_true,
    wrap_ddp,
)
from bigraph_pyg.engine.schedule import (
    gt_mix_ratio,
    learning_rate,
    mix_joints_2d,
)
from bigraph_pyg.engine.train_config import TrainConfig, TrainResult
from bigraph_pyg.losses import BiGraphLoss
from bigraph_pyg.nn.validate import validation, validation_enabled

__all__ = [
    "NonfiniteGuard",
    "TrainStep",
    "autocast_dtype",
    "finite_samples",
    "norm_buffers",
    "restore_buffers",
]

# The trainer's messages, wherever they are written.
log = logging.getLogger("bigraph_pyg.engine.trainer")


class TrainStep:
    """The optimisation step of a run; see the module docstring.

    Args:
        net (BiGraphBody): The model, on ``context.device``.
        config (TrainConfig): Optimisation settings.
        context (DistributedContext): Rank and device.
        result (TrainResult): The run's record: its ``step`` is the
            schedules' default step, seeds the pose-only draws and names
            the step in messages; skipped steps are counted in its
            ``nonfinite_steps``.
        steps_per_epoch (int): Batches per epoch per process, the
            schedules' unit.
        lift_set (SyntheticPoses, optional): Pose-only samples for
            ``config.lift_batch_size`` and
            ``config.skeleton_lift_batch_size``.

    Raises:
        ValueError: ``amp`` on a device other than a CPU or CUDA one.
    """

    def __init__(
        self,
        net,
        config: TrainConfig,
        context: DistributedContext,
        result: TrainResult,
        steps_per_epoch: int,
        lift_set=None,
    ) -> None:
        self.net = net
        self.config = config
        self.ctx = context
        self.device = context.device
        self.result = result
        self.steps_per_epoch = steps_per_epoch
        self.lift_set = lift_set
        #: Eq. 6 with TrainConfig.loss (no skeleton terms without a skeleton).
        self.criterion = BiGraphLoss.for_config(net.config, config.loss)
        #: L_s of the skeleton-only lifting term (config.skeleton_lift_loss).
        self.skeleton_lift_criterion = (
            self.criterion
            if config.skeleton_lift_loss == "eq6"
            else BiGraphLoss.for_config(
                net.config, replace(config.loss, use_focal=False)
            )
        )
        self.optimizer = torch.optim.Adam(
            net.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
        self.amp_dtype = autocast_dtype(self.device) if config.amp else None
        self.scaler = torch.amp.GradScaler(
            "cuda", enabled=self.amp_dtype == torch.float16
        )
        #: The image forward: ``net`` under DDP and ``torch.compile``.
        self.model = wrap_ddp(net, context)
        if config.compile:
            self.model = torch.compile(self.model)
        #: Running statistics a skipped step must not change.
        self.norm_buffers = norm_buffers(net)
        self.mix_generator = torch.Generator().manual_seed(
            config.seed * 7919 + context.rank
        )
        self.guard = NonfiniteGuard(config.max_nonfinite, result)
        self._forwards_checked = 0

    def mix_ratio(self, step: int | None = None) -> float:
        """GT 2D-joint share at ``step`` (default: the current step)."""
        step = self.result.step if step is None else step
        return gt_mix_ratio(
            step,
            self.steps_per_epoch,
            self.config.epochs,
            self.config.mix_start,
        )

    def lift_mix_ratio(self, ratio: float) -> float:
        """GT 2D-joint share of this step's pose-only samples.

        ``ratio`` (the images' share) unless ``config.lift_mix_start`` sets
        the pose-only samples' own schedule.
        """
        start = self.config.lift_mix_start
        if start is None:
            return ratio
        return gt_mix_ratio(
            self.result.step, self.steps_per_epoch, self.config.epochs, start
        )

    def learning_rate(self, step: int | None = None) -> float:
        """The learning rate at ``step`` (warm-up, then the schedule).

        See :func:`~bigraph_pyg.engine.schedule.learning_rate`; the run
        ends after ``epochs`` or ``max_steps``, whichever comes first.
        """
        cfg = self.config
        step = self.result.step if step is None else step
        total = self.steps_per_epoch * cfg.epochs
        if cfg.max_steps is not None:
            total = min(total, cfg.max_steps)
        return learning_rate(
            step, total, cfg.lr, cfg.warmup_steps, cfg.lr_schedule
        )

    def __call__(
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

        Raises:
            FloatingPointError: too many non-finite steps in a row.
        """
        mb = finite_samples(mb, self.ctx, self.guard)
        if mb is None:
            return None
        joints = self._joints_2d(mb, ratio)
        self.net.train()
        lr = self.learning_rate()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.zero_grad(set_to_none=True)
        norm_state = [b.clone() for b in self.norm_buffers]
        loss, terms = self._loss(mb, joints, ratio)
        if not all_ranks_true(torch.isfinite(loss.detach()).float(), self.ctx):
            restore_buffers(self.norm_buffers, norm_state)
            self.guard.report("loss", loss, terms)
            return None
        if not self._update(loss, terms, norm_state):
            return None
        self.guard.reset()
        return float(loss.detach()), {
            k: float(v.detach()) for k, v in terms.items()
        }

    def _joints_2d(self, mb: ModelBatch, ratio: float) -> Tensor:
        """The skeleton's 2D input: GT with probability ``ratio``."""
        est = mb.joints_est
        if mb.joints_est_valid is not None and mb.joints_gt_valid is not None:
            # A missed detection: train on the ground-truth joint there.
            swap = ~mb.joints_est_valid & mb.joints_gt_valid
            est = torch.where(swap[..., None], mb.joints_gt, est)
        return mix_joints_2d(mb.joints_gt, est, ratio, self.mix_generator)

    def _loss(
        self, mb: ModelBatch, joints: Tensor, ratio: float
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Eq. 6 on the batch, plus the pose-only terms with lifting."""
        cfg = self.config
        with validation(self._check_inputs()), self._autocast():
            out = self.model(mb.images, joints)
        loss, terms = self.criterion.model_loss(out.float(), mb.targets)
        lift_ratio = self.lift_mix_ratio(ratio)
        if cfg.lift_batch_size:
            lift_loss, lift_terms = self.lift_loss(lift_ratio)
            loss = loss + cfg.lift_weight * lift_loss
            terms = {
                **terms,
                "lift_total": lift_loss.detach(),
                **{f"lift_{k}": v for k, v in lift_terms.items()},
            }
        if cfg.skeleton_lift_batch_size:
            term, weight = self.skeleton_lift_loss(lift_ratio)
            if cfg.skeleton_lift_weight is None:
                weight = cfg.lift_weight * weight
            else:
                weight = cfg.skeleton_lift_weight
            loss = loss + weight * term
            terms = {**terms, "skeleton_lift_joints_3d": term.detach()}
        return loss, terms

    def _update(
        self,
        loss: Tensor,
        terms: dict[str, Tensor],
        norm_state: list[Tensor],
    ) -> bool:
        """Back-propagate, clip and step; :obj:`False`: skipped."""
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        clip = self.config.grad_clip or float("inf")
        norm = torch.nn.utils.clip_grad_norm_(self.net.parameters(), clip)
        # The scaler checks fp16 gradients itself.
        if self.amp_dtype != torch.float16 and not all_ranks_true(
            torch.isfinite(norm).float(), self.ctx
        ):
            self.optimizer.zero_grad(set_to_none=True)
            restore_buffers(self.norm_buffers, norm_state)
            self.guard.report("gradient", loss, terms)
            return False
        fp16 = self.scaler.is_enabled()
        scale = self.scaler.get_scale() if fp16 else None
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if fp16 and self.scaler.get_scale() < scale:
            # The scaler found inf gradients and skipped the update (its
            # scale calibration does so a few times at the start): leave
            # no trace in BatchNorm either. Not an error, not a run.
            restore_buffers(self.norm_buffers, norm_state)
            self.result.nonfinite_steps += 1
            log.debug(
                "Step %d: fp16 gradient overflow, update skipped "
                "(loss scale now %g)",
                self.result.step,
                self.scaler.get_scale(),
            )
            return False
        return True

    # -- the pose-only (lifting) terms -----------------------------------------

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
        redraw = None
        if cfg.lift_redraw_noise:
            redraw = np.random.default_rng(
                [cfg.seed, self.result.step, stream, REDRAW_STREAM]
            )
        j_gt, j_est, targets = prepare_pose_batch(
            self.lift_set.batch(idx, redraw=redraw),
            self.net.config.image_size,
            self.lift_set.config.image_size,
            self.device,
        )
        return mix_joints_2d(j_gt, j_est, ratio, self.mix_generator), targets

    def lift_loss(self, ratio: float) -> tuple[Tensor, dict[str, Tensor]]:
        """Eq. 6 on a batch of pose-only samples, run image-free.

        Args:
            ratio (float): GT 2D-joint share of their input.

        Returns:
            tuple[Tensor, dict[str, Tensor]]: total and unweighted terms.
        """
        joints, targets = self._pose_batch(
            self.config.lift_batch_size, ratio, 0
        )
        with validation(self._check_inputs()), self._autocast():
            out = self.net(None, joints)
        return self.criterion.model_loss(out.float(), targets)

    def skeleton_lift_loss(self, ratio: float) -> tuple[Tensor, float]:
        r""":math:`\mathcal{L}_s` of the Skeleton-GCN alone, pose-only.

        Args:
            ratio (float): GT 2D-joint share of their input.

        Returns:
            tuple[Tensor, float]: the term and its weight in Eq. 6.
        """
        joints, targets = self._pose_batch(
            self.config.skeleton_lift_batch_size, ratio, 1
        )
        with validation(False), self._autocast():
            pred = self.net.lift(joints)
        return self.skeleton_lift_criterion.skeleton_joints_3d_term(
            pred.float(),
            targets["gt_joints_3d"],
            targets["has_pose_3d"],
            targets["gt_joints_3d_confidence"],
        )

    # -- precision and input checks -------------------------------------------

    def _autocast(self):
        return torch.autocast(
            self.device.type,
            dtype=self.amp_dtype,
            enabled=self.amp_dtype is not None,
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


def autocast_dtype(device: torch.device) -> torch.dtype:
    """The autocast dtype of ``amp`` on ``device``.

    Raises:
        ValueError: a device other than a CPU or CUDA one.
    """
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


# -- what keeps a bad step out of the weights ------------------------------


class NonfiniteGuard:
    """Counts the skipped steps of a run; gives up after too many in a row.

    Args:
        max_in_a_row (int): ``TrainConfig.max_nonfinite``.
        result (TrainResult): The run's record: every skip adds one to its
            ``nonfinite_steps``; its ``step`` names the step in messages.
    """

    def __init__(self, max_in_a_row: int, result: TrainResult) -> None:
        self.max_in_a_row = max_in_a_row
        self.result = result
        self.in_a_row = 0

    def report(
        self,
        what: str,
        loss: Tensor | None = None,
        terms: dict[str, Tensor] | None = None,
        detail: str | None = None,
    ) -> None:
        """Log a skipped step (its loss and terms, or ``detail``).

        Args:
            what (str): What was not finite (``"loss"``, ``"gradient"``,
                ``"input"``).
            loss (Tensor, optional): The step's total loss.
            terms (dict[str, Tensor], optional): Its unweighted terms.
            detail (str, optional): The message's detail instead of the
                loss and terms.

        Raises:
            FloatingPointError: the ``max_in_a_row``-th skip in a row.
        """
        self.result.nonfinite_steps += 1
        self.in_a_row += 1
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
        if self.in_a_row >= self.max_in_a_row:
            raise FloatingPointError(
                f"Expected a finite {what} (got {self.in_a_row} "
                f"non-finite steps in a row, the last at step "
                f"{self.result.step}: {detail}); lower TrainConfig.lr or "
                "check the data"
            )

    def reset(self) -> None:
        """A step trained: the run of skipped steps is over."""
        self.in_a_row = 0


def finite_samples(
    mb: ModelBatch, context: DistributedContext, guard: NonfiniteGuard
) -> ModelBatch | None:
    """``mb`` without its non-finite images; :obj:`None`: skip the step.

    The left-out samples are logged with their dataset indices. If any
    process has fewer than two finite images left (BatchNorm needs two),
    every process skips the step, reported to ``guard``.

    Args:
        mb (ModelBatch): This process's batch.
        context (DistributedContext): This process.
        guard (NonfiniteGuard): The run's guard.

    Returns:
        ModelBatch or None: the finite samples, or :obj:`None`.
    """
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
            guard.result.step,
            len(mb) - kept,
            len(mb),
            bad,
        )
        mb = mb.select(keep)
    enough = torch.tensor(
        float(kept >= min(2, len(keep))), device=context.device
    )
    if not all_ranks_true(enough, context):
        guard.report("input", detail=f"{kept} finite images of {len(keep)}")
        return None
    return mb


def norm_buffers(module: torch.nn.Module) -> list[Tensor]:
    """The running statistics of every norm layer of ``module``.

    The buffers of each submodule that tracks running statistics
    (BatchNorm): what a skipped step's forward must not change.
    """
    return [
        buf
        for m in module.modules()
        if getattr(m, "track_running_stats", False)
        for buf in m.buffers(recurse=False)
    ]


@torch.no_grad()
def restore_buffers(buffers: list[Tensor], saved: list[Tensor]) -> None:
    """Copy ``saved`` (clones taken before the forward) into ``buffers``."""
    for buf, value in zip(buffers, saved, strict=True):
        buf.copy_(value)

"""What a training run is asked to do, and what it did.

:class:`TrainConfig` holds the optimisation and bookkeeping settings of a
:class:`~bigraph_pyg.engine.Trainer` run (frozen, validated on creation;
checkpoints store it as a plain dict, :func:`dataclasses.asdict`), and
:class:`TrainResult` the outcome :meth:`~bigraph_pyg.engine.Trainer.fit`
returns: steps, per-step losses, validations and checkpoint paths;
:func:`check_lifting` refuses a lifting setting the run cannot honour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from bigraph_pyg.losses import LossWeights
from bigraph_pyg.utils._checks import (
    check_non_negative_int,
    check_positive_int,
)

__all__ = ["TrainConfig", "TrainResult"]


@dataclass(frozen=True)
class TrainConfig:
    r"""Optimisation and bookkeeping of a run.

    Attributes:
        epochs (int): Passes over the training set. (paper: 50)
        batch_size (int): Per process, at least 2 (BatchNorm). (paper: 64)
        lr (float): Adam learning rate. (paper: ``2.5e-4``)
        weight_decay (float): Adam weight decay. (default: ``0``)
        seed (int): Seeds the model init (by the caller), the data order and
            the 2D-joint mixing. (default: ``0``)
        mix_start (float): GT 2D-joint ratio at step 0 (Sec. 5.2).
            (default: ``1.0``)
        grad_clip (float or None): Max gradient norm. (default: none)
        amp (bool): Mixed precision: on CUDA bfloat16 where supported,
            else float16 with a gradient scaler; on the CPU bfloat16
            autocast (faster on a CPU with AVX512-BF16 or AMX, see
            ``benchmarks/model_throughput.py --precisions float32
            bfloat16``; slower on one without).
        compile (bool): ``torch.compile`` the model.
        num_workers (int): DataLoader workers (``0``: in this process).
        log_every (int): Steps between TensorBoard scalars.
        image_every (int): Steps between overlay images (0: never).
        eval_every (int): Epochs between validations. (default: ``1``)
        checkpoint_every (int): Steps between ``last.pt`` writes besides
            the end of every epoch (0: only at epoch ends and on stop).
        max_nonfinite (int): Consecutive skipped (non-finite) steps before
            giving up. (default: ``20``)
        max_steps (int or None): Stop (and checkpoint) after this global
            step, e.g. to split a run. (default: none)
        best_metric (str): Validation metric (lower is better) that picks
            ``best.pt``. (default: ``"pa_mpjpe"``)
        lift_batch_size (int): Pose-only samples
            (:class:`~bigraph_pyg.data.SyntheticPoses`) run image-free
            beside each image batch; ``0`` trains on images alone (the
            paper's recipe). (default: ``0``)
        lift_weight (float): Weight of the pose-only samples' loss (Eq. 6
            on them) in the step's total. (default: ``1.0``)
        skeleton_lift_batch_size (int): Further pose-only samples run
            through the Skeleton-GCN alone
            (:meth:`~bigraph_pyg.models.BiGraphBody.lift`, 12 nodes a
            sample instead of :math:`12 + N_m`) each step, adding
            ``lift_weight`` times the skeleton 3D term
            :math:`\mathcal{L}_s` on them: many more lifting samples a step
            for a few percent of an image-free forward. Drawn from the same
            pose set; ``0``: none. (default: ``0``)
        skeleton_lift_loss (str): The skeleton-only lifting term:
            ``"eq6"``, Eq. 6's :math:`\mathcal{L}_s` as ``loss`` sets it (the
            focal term by default), or ``"l1"``, its L1 form
            (``LossWeights.skeleton_joints_3d``) while the images keep
            ``loss``'s. Alone, the Skeleton-GCN lifted 3.5-4 mm better with
            L1 in the previous, five-activity synthetic world
            (docs/training.md); the term is this recipe's, not the paper's.
            (default: ``"eq6"``)
        skeleton_lift_weight (float or None): The skeleton-only term's
            weight in the step's total; ``None``: ``lift_weight`` times its
            coefficient in Eq. 6 (``focal``, or ``skeleton_joints_3d`` for
            ``"l1"``). The Skeleton-GCN's parameters also get the image
            batch's gradients (one Adam), so this weight sets how much of
            their step the lifting samples steer. (default: ``None``)
        lift_mix_start (float or None): GT 2D-joint ratio at step 0 of the
            pose-only samples' input, decreasing to zero at the last epoch
            as ``mix_start``'s does; ``None`` follows ``mix_start``. The
            paper mixes in ground-truth joints to place the image's feature
            patches (Sec. 5.2); a pose-only sample has no patches, and at
            ``0.0`` its skeleton learns to lift from the estimated joints it
            is tested on from the first step. (default: ``None``)
        lift_redraw_noise (bool): Draw each pose-only batch's estimated
            2D joints afresh (the pose set's detector noise,
            :meth:`SyntheticPoses.batch(redraw=...)
            <bigraph_pyg.data.SyntheticPoses.batch>`, seeded by the seed,
            the step and the batch) instead of the one draw cached with
            each pose: a pose seen in many steps then comes with other
            detector errors, so a lifter that sees each pose dozens of
            times (the longer recipe's 1024 a step) cannot learn the
            cached draws. The main job sees each pose ~20 times and scored
            the same with it (docs/training.md). (default: ``False``)
        warmup_steps (int): Linear learning-rate warm-up from ``lr / 10``.
            (default: ``0``)
        lr_schedule (str): ``"constant"`` (the paper's) or ``"cosine"``
            (half a cosine from ``lr`` down to ``lr / 20`` at the end of
            training, for short budgets).
        loss (LossWeights): The weights of Eq. 6 and the focal term's
            settings; ``LossWeights(use_focal=False)`` is Table 5's "no FL"
            (:data:`~bigraph_pyg.losses.LOSS_ABLATIONS`). (default: the
            paper's)
        eval_segmentation (bool): Segmentation scores in validation.
        progress (bool): tqdm bars.
    """

    epochs: int = 6
    batch_size: int = 16
    lr: float = 2.5e-4
    weight_decay: float = 0.0
    seed: int = 0
    mix_start: float = 1.0
    grad_clip: float | None = None
    amp: bool = False
    compile: bool = False
    num_workers: int = 0
    log_every: int = 10
    image_every: int = 200
    eval_every: int = 1
    checkpoint_every: int = 0
    max_nonfinite: int = 20
    max_steps: int | None = None
    best_metric: str = "pa_mpjpe"
    lift_batch_size: int = 0
    lift_weight: float = 1.0
    skeleton_lift_batch_size: int = 0
    skeleton_lift_loss: str = "eq6"
    skeleton_lift_weight: float | None = None
    lift_mix_start: float | None = None
    lift_redraw_noise: bool = False
    warmup_steps: int = 0
    lr_schedule: str = "constant"
    loss: LossWeights = field(default_factory=LossWeights)
    eval_segmentation: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        for name in (
            "epochs",
            "batch_size",
            "log_every",
            "eval_every",
            "max_nonfinite",
        ):
            check_positive_int(name, getattr(self, name))
        if self.batch_size < 2:
            raise ValueError(
                f"Expected `batch_size` >= 2 (got {self.batch_size}): "
                "BatchNorm needs two images a step (the scripts' "
                "--batch-size, per process)"
            )
        check_non_negative_int("num_workers", self.num_workers)
        if not isinstance(self.loss, LossWeights):
            raise ValueError(
                "Expected `loss` to be a LossWeights (got "
                f"{type(self.loss).__name__})"
            )
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"Expected lr > 0 (got {self.lr!r})")
        if not 0.0 <= self.mix_start <= 1.0:
            raise ValueError(
                f"Expected mix_start in [0, 1] (got {self.mix_start!r})"
            )
        if self.lift_mix_start is not None and not (
            0.0 <= self.lift_mix_start <= 1.0
        ):
            raise ValueError(
                "Expected lift_mix_start in [0, 1] or None (got "
                f"{self.lift_mix_start!r})"
            )
        for name in (
            "lift_batch_size",
            "skeleton_lift_batch_size",
            "warmup_steps",
        ):
            check_non_negative_int(name, getattr(self, name))
        if not (self.lift_weight >= 0 and math.isfinite(self.lift_weight)):
            raise ValueError(
                f"Expected a finite lift_weight >= 0 (got {self.lift_weight!r})"
            )
        w = self.skeleton_lift_weight
        if w is not None and not (w >= 0 and math.isfinite(w)):
            raise ValueError(
                "Expected a finite skeleton_lift_weight >= 0 or None "
                f"(got {w!r})"
            )
        if self.skeleton_lift_loss not in ("eq6", "l1"):
            raise ValueError(
                "Expected skeleton_lift_loss in ('eq6', 'l1') "
                f"(got {self.skeleton_lift_loss!r})"
            )
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(
                "Expected lr_schedule in ('constant', 'cosine') "
                f"(got {self.lr_schedule!r})"
            )
        if self.max_steps is not None and self.max_steps < 0:
            raise ValueError(
                f"Expected max_steps >= 0 (got {self.max_steps!r})"
            )


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` did.

    Attributes:
        step (int): Global steps done.
        epoch (int): Completed epochs.
        history (list[dict]): Per step: ``step``, ``epoch``, ``loss`` (total)
            and the unweighted terms; ``skipped`` for non-finite steps.
        evals (list[dict]): Per validation: ``epoch``, ``step`` and metrics.
        best (float or None): Best validation ``best_metric``.
        last_path (Path or None): ``last.pt``.
        best_path (Path or None): ``best.pt``.
        nonfinite_steps (int): Steps skipped for a non-finite loss.
        finished (bool): All epochs done (not stopped by ``max_steps``).
    """

    step: int = 0
    epoch: int = 0
    history: list = field(default_factory=list)
    evals: list = field(default_factory=list)
    best: float | None = None
    last_path: Path | None = None
    best_path: Path | None = None
    nonfinite_steps: int = 0
    finished: bool = False


def check_lifting(config: TrainConfig, lift_set, context, net) -> None:
    """Refuse lifting without pose-only samples, a skeleton or one process.

    Raises:
        ValueError: ``lift_batch_size`` or ``skeleton_lift_batch_size``
            without a ``lift_set``, for a ``net`` without a skeleton branch
            (nothing to lift the 2D joints), or with several
            processes (the image-free pass is a second forward, which DDP
            does not sync).
    """
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
    if lifting and not net.config.use_skeleton:
        raise ValueError(
            f"Expected a model with a skeleton branch for {_pairs(lifting)} "
            "(got use_skeleton=False: the pose-only samples have no image); "
            "set both to 0"
        )
    if lifting and context.is_distributed:
        raise ValueError(
            "Expected lift_batch_size=0 and skeleton_lift_batch_size=0 "
            f"with several processes (got {_pairs(lifting)}: the "
            "image-free pass is a second "
            "forward, which DistributedDataParallel does not sync)"
        )


def _pairs(values: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())

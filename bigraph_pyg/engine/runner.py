"""A whole run (train, then evaluate the best model) for the scripts.

:func:`train_and_evaluate` is what ``examples/train_bigraph.py`` and
``examples/reproduce_ablation.py`` call: a :class:`Trainer` fit, then
:func:`~bigraph_pyg.engine.evaluate.evaluate` of ``best.pt`` (else the
final weights) on the test set, written to ``out_dir/metrics.json``.

A new run (no ``resume``) into a folder that already holds checkpoints is
refused unless ``overwrite=True`` (:func:`check_run_folder`), so no run
replaces another's checkpoints unasked, and only a ``best.pt`` this run
chose by validation is scored. With ``overwrite=True`` the old run's files
stay until the new run has written its first checkpoint (a new run that
fails before it leaves the old one whole). A run holds the folder's run
lock (:mod:`~bigraph_pyg.engine.run_lock`) from the check to its last
write, so a second run into the same folder is refused while it lives.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from torch.utils.data import Dataset

from bigraph_pyg.engine.baselines import TrainingStatistics
from bigraph_pyg.engine.checkpoint import CheckpointError, load_checkpoint
from bigraph_pyg.engine.distributed import DistributedContext, barrier
from bigraph_pyg.engine.evaluate import score
from bigraph_pyg.engine.run_lock import RunLock, check_run_lock
from bigraph_pyg.engine.train_config import TrainConfig, TrainResult
from bigraph_pyg.engine.trainer import Trainer

__all__ = [
    "RunSummary",
    "check_run_folder",
    "existing_checkpoints",
    "train_and_evaluate",
]

_ADVICE = (
    "pass resume=True (the scripts' --resume) to continue that run, "
    "overwrite=True (--overwrite) to replace it, or another out_dir "
    "(--out)"
)
#: The files of a run that ``overwrite=True`` replaces (removed once the new
#: run has written its first checkpoint).
RUN_FILES = ("checkpoints/last.pt", "checkpoints/best.pt", "metrics.json")


def existing_checkpoints(out_dir: str | os.PathLike) -> list[Path]:
    """The checkpoints (``checkpoints/*.pt``) of the run in ``out_dir``.

    Args:
        out_dir (str or PathLike): A run folder (may not exist).

    Returns:
        list[Path]: sorted; empty for a new folder.
    """
    folder = Path(out_dir) / "checkpoints"
    return sorted(folder.glob("*.pt")) if folder.is_dir() else []


def check_run_folder(
    out_dir: str | os.PathLike | None,
    resume: bool | str = False,
    overwrite: bool = False,
    advice: str = _ADVICE,
) -> None:
    """Refuse a new run into a folder that holds another run's checkpoints.

    Args:
        out_dir (str or PathLike or None): The run folder (:obj:`None`:
            nothing is written, nothing to check).
        resume (bool or str): A resumed run continues its own folder.
        overwrite (bool): Allow replacing the old run.
        advice (str): The fix in the error message. (default: names
            ``--resume``, ``--overwrite`` and ``--out``)

    Raises:
        CheckpointError: ``out_dir`` (or a folder above it) is a regular
            file; another process's run holds the folder's run lock
            (whatever ``resume`` and ``overwrite``); or a new run without
            ``overwrite`` into a folder with checkpoints (the message names
            ``--resume`` and ``--overwrite``).
    """
    if out_dir is None:
        return
    out = Path(out_dir)
    for parent in (out, *out.parents):
        if parent.exists() and not parent.is_dir():
            raise CheckpointError(
                f"Expected an output folder at {out} (got the regular file "
                f"{parent} in its path); pass another out_dir (--out)"
            )
    check_run_lock(out)
    if resume or overwrite:
        return
    found = existing_checkpoints(out)
    if found:
        raise CheckpointError(
            f"Expected an output folder without checkpoints for a new run "
            f"(got {', '.join(p.name for p in found)} in {found[0].parent}); "
            f"{advice}"
        )


@dataclass
class RunSummary:
    """Outcome of :func:`train_and_evaluate`.

    Attributes:
        result (TrainResult): The training history.
        metrics (dict[str, float]): Test metrics (empty off rank 0 or
            without a test set).
        train_seconds (float): Wall time of training.
        eval_seconds (float): Wall time of the test evaluation.
        evaluated (str): ``"best.pt"``, ``"last weights"`` or ``""``.
        more_metrics (dict[str, dict]): The same checkpoint's metrics on
            each further test set, by name (e.g. ``"heldout"``, the
            held-out pose families).
    """

    result: TrainResult
    metrics: dict
    train_seconds: float
    eval_seconds: float
    evaluated: str
    more_metrics: dict = field(default_factory=dict)


def _holding_run_lock(run):
    """Check the run folder, then hold its run lock while ``run`` runs.

    The lock (main process only) covers everything the run writes, from the
    check of the folder to ``metrics.json``; see
    :mod:`~bigraph_pyg.engine.run_lock`.
    """
    signature = inspect.signature(run)

    @functools.wraps(run)
    def locked(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        a = bound.arguments
        out_dir, ctx = a["out_dir"], a["context"] or DistributedContext()
        check_run_folder(out_dir, a["resume"], a["overwrite"])
        with RunLock(out_dir if ctx.is_main else None):
            return run(*args, **kwargs)

    return locked


@_holding_run_lock
def train_and_evaluate(
    model,
    train_set: Dataset,
    config: TrainConfig,
    out_dir=None,
    val_set: Dataset | None = None,
    test_set: Dataset | None = None,
    context: DistributedContext | None = None,
    body=None,
    resume: bool | str = False,
    test_segmentation: bool = True,
    extra_state: dict | None = None,
    lift_set=None,
    overwrite: bool = False,
    more_test_sets: Mapping[str, Dataset] | None = None,
) -> RunSummary:
    """Train ``model``, then score the best checkpoint on ``test_set``.

    Args:
        model (BiGraphBody): The model to train.
        train_set (Dataset): Training samples.
        config (TrainConfig): Optimisation settings.
        out_dir (str or PathLike, optional): Run folder.
        val_set (Dataset, optional): Picks ``best.pt``.
        test_set (Dataset, optional): Final evaluation.
        context (DistributedContext, optional): Rank and device.
        body (BodyModel, optional): For the SMPL-mesh metric.
        resume (bool or str): See :meth:`Trainer.fit`.
        test_segmentation (bool): Segmentation scores on the test set.
        extra_state (dict, optional): Stored in checkpoints; gets
            ``training_stats`` (the means of ``train_set`` that the
            baselines of :func:`evaluate` use) unless it has them.
        lift_set (SyntheticPoses, optional): Pose-only samples for
            ``config.lift_batch_size`` (see :class:`Trainer`).
        overwrite (bool): Replace an old run in ``out_dir`` (kept until
            this run's first checkpoint). (default: :obj:`False`: refused)
        more_test_sets (Mapping[str, Dataset], optional): Further test
            sets, by name, scored like ``test_set`` by the same checkpoint
            with the same baselines (``metrics_<name>`` in
            ``metrics.json``).

    Returns:
        RunSummary: history, test metrics and timings.

    Raises:
        CheckpointError: see :func:`check_run_folder`, :meth:`Trainer.fit`.
    """
    ctx = context or DistributedContext()
    replaced = _start_run_folder(out_dir, resume, overwrite, ctx)
    extra_state = dict(extra_state or {})
    stats = _training_statistics(train_set, extra_state, lift_set)
    trainer = Trainer(
        model,
        train_set,
        config,
        out_dir,
        val_set,
        ctx,
        body,
        extra_state,
        baselines=stats,
        lift_set=lift_set,
        replaces=replaced,  # removed at the first checkpoint
    )
    t0 = time.perf_counter()
    result = trainer.fit(resume=resume)
    train_s = time.perf_counter() - t0
    sets = {None: test_set, **(more_test_sets or {})}
    scores, evaluated, eval_s = _score_test(
        trainer, sets, body, test_segmentation, stats
    )
    metrics = scores.pop(None, {})
    summary = RunSummary(result, metrics, train_s, eval_s, evaluated, scores)
    if test_set is not None and ctx.is_main and out_dir is not None:
        _write_metrics(out_dir, summary)
    return summary


def _start_run_folder(
    out_dir, resume: bool | str, overwrite: bool, ctx: DistributedContext
) -> list[Path]:
    """Check the run folder again, under its run lock (main process).

    Returns:
        list[Path]: an old run's files that ``overwrite`` replaces; they
        are removed once the new run has written its first checkpoint.
    """
    check_run_folder(out_dir, resume, overwrite)
    barrier(ctx)  # every rank checked before any writes
    if not overwrite or resume or out_dir is None:
        return []
    return [Path(out_dir) / name for name in RUN_FILES]


def _training_statistics(
    train_set: Dataset, extra_state: dict, lift_set=None
) -> TrainingStatistics | None:
    """The baselines' knowledge: the training split only.

    Taken from ``extra_state["training_stats"]`` (a resumed run's) or
    computed and stored there; :obj:`None` without 3D training data (no
    baselines). The nearest-neighbour bank holds the pose-only training
    samples when there are some (more poses), else the training split's.
    """
    if "training_stats" in extra_state:
        return TrainingStatistics.from_dict(extra_state["training_stats"])
    try:
        stats = TrainingStatistics.from_dataset(train_set)
    except ValueError:
        return None  # no 3D training data: no baselines
    if lift_set is not None:
        stats = stats.with_pose_bank(lift_set)
    extra_state["training_stats"] = stats.to_dict()
    return stats


def _score_test(
    trainer: Trainer,
    test_sets: Mapping,
    body,
    segmentation: bool,
    baselines: TrainingStatistics | None,
) -> tuple[dict, str, float]:
    """Score the run's ``best.pt`` (else its last weights) on each test set.

    The checkpoint is loaded once for all of them. On the main process
    only; elsewhere, or for a ``None`` dataset, nothing.

    Args:
        trainer (Trainer): The trained run.
        test_sets (Mapping): Name to dataset; ``None`` names the main one.
        body (BodyModel): For the SMPL-mesh metric.
        segmentation (bool): Segmentation scores.
        baselines (TrainingStatistics, optional): The trivial predictors.

    Returns:
        tuple[dict, str, float]: the metrics by name, what was evaluated
        (``"best.pt"``, ``"last weights"`` or ``""``) and the seconds it
        took.
    """
    sets = {k: v for k, v in test_sets.items() if v is not None}
    if not sets or not trainer.ctx.is_main:
        return {}, "", 0.0
    t1 = time.perf_counter()
    evaluated = _load_best(trainer.net, trainer.result, trainer.device)
    scores = {}
    for name, test_set in sets.items():
        scores[name], _ = score(
            trainer.net,
            test_set,
            trainer.config,
            trainer.device,
            body=body,
            segmentation=segmentation,
            baselines=baselines,
        )
    return scores, evaluated, time.perf_counter() - t1


def _load_best(net, result: TrainResult, device) -> str:
    """Load the run's ``best.pt`` into ``net`` if it chose one.

    Only a ``best.pt`` this run chose by validation (never an old run's).

    Returns:
        str: ``"best.pt"``, or ``"last weights"`` (``net`` unchanged).
    """
    if (
        result.best is not None
        and result.best_path is not None
        and Path(result.best_path).is_file()
    ):
        state = load_checkpoint(
            result.best_path, net.config.to_dict(), map_location=device
        )
        net.load_state_dict(state["model"])
        return "best.pt"
    return "last weights"


def _write_metrics(out_dir: str | os.PathLike, summary: RunSummary) -> None:
    """Write ``out_dir/metrics.json`` (the folder is created)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    record = {
        "metrics": summary.metrics,
        "evaluated": summary.evaluated,
        "steps": summary.result.step,
        "train_seconds": summary.train_seconds,
        "eval_seconds": summary.eval_seconds,
    }
    for name, metrics in summary.more_metrics.items():
        record[f"metrics_{name}"] = metrics
    (out / "metrics.json").write_text(json.dumps(record, indent=1))

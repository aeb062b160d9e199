"""A whole run (train, then evaluate the best model) for the scripts.

:func:`train_and_evaluate` is what ``examples/train_bigraph.py`` and
``examples/reproduce_ablation.py`` call: a :class:`Trainer` fit, then
:func:`~bigraph_pyg.engine.evaluate.evaluate` of ``best.pt`` (else the
final weights) on the test set, written to ``out_dir/metrics.json``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from torch.utils.data import DataLoader, Dataset

from bigraph_pyg.engine.baselines import TrainingStatistics
from bigraph_pyg.engine.batching import collate_samples
from bigraph_pyg.engine.checkpoint import load_checkpoint
from bigraph_pyg.engine.distributed import DistributedContext
from bigraph_pyg.engine.evaluate import evaluate
from bigraph_pyg.engine.train_config import TrainConfig, TrainResult
from bigraph_pyg.engine.trainer import Trainer

__all__ = ["RunSummary", "train_and_evaluate"]


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
    """

    result: TrainResult
    metrics: dict
    train_seconds: float
    eval_seconds: float
    evaluated: str


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

    Returns:
        RunSummary: history, test metrics and timings.
    """
    ctx = context or DistributedContext()
    extra_state = dict(extra_state or {})
    if "training_stats" in extra_state:
        stats = TrainingStatistics.from_dict(extra_state["training_stats"])
    else:
        # The baselines' knowledge: means of the training split only.
        try:
            stats = TrainingStatistics.from_dataset(train_set)
            extra_state["training_stats"] = stats.to_dict()
        except ValueError:
            stats = None  # no 3D training data: no baselines
    trainer = Trainer(model, train_set, config, out_dir, val_set, ctx, body,
                      extra_state, baselines=stats, lift_set=lift_set)
    t0 = time.perf_counter()
    result = trainer.fit(resume=resume)
    train_s = time.perf_counter() - t0
    metrics, evaluated, eval_s = {}, "", 0.0
    if test_set is not None and ctx.is_main:
        t1 = time.perf_counter()
        net = trainer.net
        if result.best_path is not None and Path(result.best_path).is_file():
            state = load_checkpoint(result.best_path,
                                    net.config.to_dict(),
                                    map_location=ctx.device)
            net.load_state_dict(state["model"])
            evaluated = "best.pt"
        else:
            evaluated = "last weights"
        loader = DataLoader(test_set, batch_size=config.batch_size,
                            shuffle=False, collate_fn=collate_samples,
                            num_workers=config.num_workers)
        metrics = evaluate(net, loader, ctx.device, body=body,
                           segmentation=test_segmentation,
                           progress=config.progress, baselines=stats)
        eval_s = time.perf_counter() - t1
        if out_dir is not None:
            out = Path(out_dir)
            out.mkdir(parents=True, exist_ok=True)
            (out / "metrics.json").write_text(json.dumps(
                {"metrics": metrics, "evaluated": evaluated,
                 "steps": result.step, "train_seconds": train_s,
                 "eval_seconds": eval_s}, indent=1))
    return RunSummary(result, metrics, train_s, eval_s, evaluated)

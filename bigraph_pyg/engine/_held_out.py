"""How a training run scores its model on held-out samples.

:func:`validate` is a :class:`~bigraph_pyg.engine.Trainer`'s validation at
an epoch end (metrics, TensorBoard, ``best.pt``). It and the test of
:func:`~bigraph_pyg.engine.train_and_evaluate` share :func:`score`: the set
in order, in batches of the run's ``batch_size`` (with its
``num_workers``), through :func:`~bigraph_pyg.engine.evaluate.evaluate`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import torch
from torch.utils.data import DataLoader, Dataset

from bigraph_pyg.engine.batch_transforms import collate_samples
from bigraph_pyg.engine.batching import prepare_batch
from bigraph_pyg.engine.distributed import barrier
from bigraph_pyg.engine.evaluate import evaluate
from bigraph_pyg.engine.train_config import TrainConfig

if TYPE_CHECKING:
    from bigraph_pyg.engine.trainer import Trainer

# The trainer's messages, wherever they are written.
log = logging.getLogger("bigraph_pyg.engine.trainer")


def score(
    net,
    dataset: Dataset,
    config: TrainConfig,
    device: torch.device,
    *,
    body=None,
    segmentation: bool = False,
    baselines=None,
) -> tuple[dict[str, float], DataLoader]:
    """Evaluate ``net`` on ``dataset`` with the run's batching.

    Args:
        net (BiGraphBody): The model.
        dataset (Dataset): The held-out samples.
        config (TrainConfig): The run's ``batch_size``, ``num_workers`` and
            ``progress``.
        device (torch.device): Where to run.
        body (BodyModel, optional): For the SMPL-mesh metric.
        segmentation (bool): Segmentation scores too.
        baselines (TrainingStatistics, optional): Scores the trivial
            predictors beside the model.

    Returns:
        tuple[dict[str, float], DataLoader]: the metrics of
        :func:`~bigraph_pyg.engine.evaluate.evaluate`, and the loader (e.g.
        for an overlay of its first batch).
    """
    loader = DataLoader(
        dataset,
        batch_size=config.batch_size,
        shuffle=False,
        collate_fn=collate_samples,
        num_workers=config.num_workers,
    )
    metrics = evaluate(
        net,
        loader,
        device,
        body=body,
        segmentation=segmentation,
        progress=config.progress,
        baselines=baselines,
        loss_weights=config.loss,
    )
    return metrics, loader


def validate(trainer: Trainer) -> None:
    """Score a trainer's validation set at the end of an epoch.

    On the main process: the metrics are appended to the result's
    ``evals``, logged (``val/``, an overlay of the first batch under
    ``images/val``, one line of the log), and ``best.pt`` is written when
    they improve ``best_metric``. Every process then waits for the main
    one. If the scoring raises, ``last.pt`` of the finished epoch is
    written first (without this validation), so its training is kept.

    Args:
        trainer (Trainer): The run, its epoch just finished.
    """
    t = trainer
    r = t.result
    if t.ctx.is_main:
        try:
            metrics, loader = score(
                t.net,
                t.val_set,
                t.config,
                t.device,
                body=t.body,
                segmentation=t.config.eval_segmentation,
                baselines=t.baselines,
            )
        except Exception:
            # The epoch's training is kept: last.pt without this validation.
            log.error("Validation failed, epoch %d: writing last.pt", t._epoch)
            t.save()
            raise
        r.evals.append({"epoch": t._epoch, "step": r.step, **metrics})
        t.logger.scalars("val", metrics, r.step)
        batch = next(iter(loader))
        mb = prepare_batch(batch, t.net.config.image_size, t.device)
        t.logger.predictions(t.net, mb, "images/val", r.step)
        t.checkpoints.keep_if_best(metrics)
        log.info(
            "epoch %d: %s",
            t._epoch,
            ", ".join(f"{k}={v:.2f}" for k, v in metrics.items()),
        )
    barrier(t.ctx)

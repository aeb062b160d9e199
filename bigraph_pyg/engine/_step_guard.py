"""What keeps a bad training step out of the weights.

Used by :class:`~bigraph_pyg.engine._train_step.TrainStep`:

* :func:`finite_samples` leaves the samples with a non-finite pixel out of
  the step before the forward (so BatchNorm never sees them), and skips the
  step on every process if one has fewer than two left;
* :func:`norm_buffers` and :func:`restore_buffers` roll the BatchNorm
  running statistics back after a skipped step's forward;
* :class:`NonfiniteGuard` reports each skipped step with its loss terms
  and raises :class:`FloatingPointError` after too many in a row.
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor

from bigraph_pyg.engine.batching import ModelBatch
from bigraph_pyg.engine.distributed import DistributedContext, all_ranks_true
from bigraph_pyg.engine.train_config import TrainResult

# The trainer's messages, wherever they are written.
log = logging.getLogger("bigraph_pyg.engine.trainer")


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

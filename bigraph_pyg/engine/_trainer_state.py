"""The checkpoints of a :class:`~bigraph_pyg.engine.Trainer` run.

:class:`TrainerCheckpoints` is the trainer's bookkeeping of ``last.pt`` and
``best.pt``: what they hold (the model, Adam and the gradient scaler, the
RNG states with the 2D-mixing generator, the position in the data order,
the history and validations, the run's settings), when ``best.pt`` is
replaced (a lower validation ``best_metric``), and resuming. A resumed run
refuses a checkpoint of another batch size, seed, loss, pose-only lifting
objective, dataset length or number of processes (its batches or its
objective would differ from the checkpointed run's); otherwise it continues
exactly where the checkpoint stopped.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import asdict, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bigraph_pyg.engine.checkpoint import (
    CheckpointError,
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from bigraph_pyg.engine.run_lock import RunLock
from bigraph_pyg.engine.train_config import TrainConfig
from bigraph_pyg.losses import LossWeights

if TYPE_CHECKING:
    from bigraph_pyg.engine.trainer import Trainer

# The trainer's messages, wherever they are written.
log = logging.getLogger("bigraph_pyg.engine.trainer")


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
)


class TrainerCheckpoints:
    """Saves, restores and resumes the state of one trainer.

    Args:
        trainer (Trainer): The run. Its :meth:`~Trainer.state_dict` and
            :meth:`~Trainer.load_state_dict` call :meth:`state_dict` and
            :meth:`load_state_dict` here; :meth:`save` and :meth:`resume`
            go through the trainer's.
    """

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        #: An old run's files that this run replaces (``overwrite``): kept
        #: until this run's first checkpoint is written, then removed.
        self.replaced: list[Path] = []

    @contextlib.contextmanager
    def run(self, resume: bool | str) -> Iterator[None]:
        """Hold the folder's run lock; resume; set the result's paths.

        Raises:
            CheckpointError: another process holds the run lock of
                ``out_dir`` (:class:`~bigraph_pyg.engine.run_lock.RunLock`),
                or see :meth:`resume`.
        """
        t = self.trainer
        with RunLock(t.out_dir if t.ctx.is_main else None):
            if resume:
                self.resume(resume)
            self.set_result_paths(bool(resume))
            yield

    def state_dict(self) -> dict[str, Any]:
        """Everything :meth:`load_state_dict` needs to resume exactly."""
        t = self.trainer
        r = t.result
        return {
            "model_config": t.net.config.to_dict(),
            "model": t.net.state_dict(),
            "optimizer": t.optimizer.state_dict(),
            "scaler": t.scaler.state_dict(),
            "train_config": asdict(t.config),
            "step": r.step,
            "epoch": t._epoch,
            "batch_in_epoch": t._batch_in_epoch,
            "num_train_samples": len(t.train_set),
            "world_size": t.ctx.world_size,
            "rng": capture_rng_state({"mix": t.mix_generator}),
            "history": r.history,
            "evals": r.evals,
            "best": r.best,
            "nonfinite_steps": r.nonfinite_steps,
            "extra": t.extra_state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` (training state included).

        Raises:
            CheckpointError: a state from another batch size, seed, dataset
                length or number of processes (the order would differ).
        """
        self.check_resumable(state)
        t = self.trainer
        t.net.load_state_dict(state["model"])
        t.optimizer.load_state_dict(state["optimizer"])
        t.scaler.load_state_dict(state["scaler"])
        restore_rng_state(state["rng"], {"mix": t.mix_generator})
        r = t.result
        r.step = state["step"]
        r.history = list(state["history"])
        r.evals = list(state["evals"])
        r.best = state["best"]
        r.nonfinite_steps = state["nonfinite_steps"]
        t._epoch = state["epoch"]
        t._batch_in_epoch = state["batch_in_epoch"]
        r.epoch = t._epoch

    def check_resumable(self, state: dict[str, Any]) -> None:
        """Refuse a state whose batches would differ from this run's.

        Raises:
            CheckpointError: another batch size, seed, loss, pose-only
                lifting objective, dataset length or number of processes.
        """
        t = self.trainer
        tc = state.get("train_config", {})
        stored, mine = _stored_loss(state), asdict(t.config.loss)
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
            was, mine = tc.get(key, default[key]), getattr(t.config, key)
            if was != mine:
                raise CheckpointError(
                    f"Expected the checkpoint's {key}={was!r} to resume "
                    f"exactly (got {key}={mine!r}); pass the same "
                    f"TrainConfig.{key} or start a new run"
                )
        for key, mine in (
            ("num_train_samples", len(t.train_set)),
            ("world_size", t.ctx.world_size),
        ):
            if state.get(key) != mine:
                raise CheckpointError(
                    f"Expected {key}={state.get(key)!r} as in the checkpoint "
                    f"to resume exactly (got {mine!r}); use the same data "
                    "and number of processes"
                )

    def save(self, name: str = "last.pt") -> Path | None:
        """Write the trainer's state atomically (main process only)."""
        t = self.trainer
        if t.ckpt_dir is None or not t.ctx.is_main:
            return None
        path = save_checkpoint(t.ckpt_dir / name, t.state_dict())
        for old in self.replaced:  # the new run has its first checkpoint
            if old != path and old.is_file():
                old.unlink()
        self.replaced = []
        return path

    def resume(self, resume: bool | str) -> None:
        """Load ``last.pt`` (``resume=True``) or the checkpoint ``resume``.

        Raises:
            CheckpointError: no checkpoint there, one of another model
                config or run settings, or weights, optimizer or scaler
                state that this run's refuse.
        """
        t = self.trainer
        path = (
            Path(resume)
            if isinstance(resume, (str, Path))
            else (t.ckpt_dir / "last.pt" if t.ckpt_dir else None)
        )
        if path is None or not path.is_file():
            raise CheckpointError(
                f"Expected a checkpoint to resume at {path} (got none); "
                "start a new run without resume (the scripts' --resume), "
                "or give the run's checkpoint folder"
            )
        state = load_checkpoint(
            path, t.net.config.to_dict(), map_location=t.device
        )
        try:
            t.load_state_dict(state)
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
            t.result.step,
            t._epoch,
            t._batch_in_epoch,
        )

    def set_result_paths(self, resumed: bool) -> None:
        """The result's ``last_path`` and a resumed run's ``best_path``."""
        t = self.trainer
        r = t.result
        if t.ckpt_dir is None or not t.ctx.is_main:
            return
        r.last_path = t.ckpt_dir / "last.pt"
        # A resumed run keeps its best.pt; a new run never adopts one it
        # did not write (an old run's).
        if resumed and r.best is not None and (t.ckpt_dir / "best.pt").exists():
            r.best_path = t.ckpt_dir / "best.pt"

    def keep_if_best(self, metrics: dict[str, float]) -> None:
        """Write ``best.pt`` if ``metrics`` beat the best ``best_metric``."""
        r = self.trainer.result
        value = metrics.get(self.trainer.config.best_metric)
        if value is not None and (r.best is None or value < r.best):
            r.best = value
            r.best_path = self.trainer.save("best.pt")


def _stored_loss(state: dict[str, Any]) -> dict[str, Any]:
    """The loss weights a checkpoint trained with, as a dict.

    Older checkpoints kept only ``use_focal``, in the model config.
    """
    loss = state.get("train_config", {}).get("loss")
    if loss is not None:
        return dict(loss)
    focal = state.get("model_config", {}).get("use_focal", True)
    return asdict(LossWeights(use_focal=focal))

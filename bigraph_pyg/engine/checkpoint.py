"""Atomic training checkpoints with format, version and config checks.

A checkpoint is one ``torch.save`` file holding a plain dict:

* ``format`` / ``format_version``: :data:`CHECKPOINT_FORMAT`,
  :data:`CHECKPOINT_VERSION` (a file of another version is refused);
* ``library_version``: ``bigraph_pyg.__version__`` that wrote it;
* ``model_config``: :meth:`BiGraphConfig.to_dict` of the model;
* ``model``: the model's ``state_dict``; and, for training state,
  ``optimizer``, ``scaler``, ``train_config``, ``step``, ``epoch``,
  ``rng`` (see :func:`capture_rng_state`), ``best`` and ``history``.

Writes go to a temporary file in the same folder, are flushed and
``fsync``-ed, then :func:`os.replace`-d over the target, so a crash leaves
either the old file or the new one, never half of one.

Reads use ``torch.load(weights_only=True)``: a checkpoint holds only
tensors, numbers, strings and containers of them (the NumPy generator state
is stored as a tensor), so a file carrying a pickled object — code that
would run on load — is refused instead of executed.
"""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "CheckpointError",
    "capture_rng_state",
    "load_checkpoint",
    "model_from_checkpoint",
    "restore_rng_state",
    "save_checkpoint",
]

#: Name stored in every checkpoint.
CHECKPOINT_FORMAT = "bigraph_pyg.checkpoint"
#: Layout version; bump when the stored dict changes incompatibly.
CHECKPOINT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable or does not fit."""


def save_checkpoint(path: str | os.PathLike, state: Mapping[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically (temp file + ``os.replace``).

    The format fields are added. The parent folder is created.

    Args:
        path (str or PathLike): Target file.
        state (Mapping): Picklable content (tensors, dicts, numbers).

    Returns:
        Path: ``path``.
    """
    from bigraph_pyg import __version__

    payload = dict(state)
    payload.update(format=CHECKPOINT_FORMAT,
                   format_version=CHECKPOINT_VERSION,
                   library_version=__version__)
    return atomic_torch_save(path, payload)


def atomic_torch_save(path: str | os.PathLike, payload: Any) -> Path:
    """Write ``payload`` with ``torch.save`` atomically.

    A temp file in the target's folder is written, ``fsync``-ed, then
    :func:`os.replace`-d over ``path`` (the parent folder is created).

    Args:
        path (str or PathLike): Target file.
        payload: What to save.

    Returns:
        Path: ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                               dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def load_checkpoint(
    path: str | os.PathLike,
    expected_model_config: Mapping[str, Any] | None = None,
    map_location: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Read and validate a checkpoint written by :func:`save_checkpoint`.

    Args:
        path (str or PathLike): The file.
        expected_model_config (Mapping, optional): If given, the stored
            ``model_config`` must equal it.
        map_location: As in :func:`torch.load`. (default: ``"cpu"``)

    Returns:
        dict: the stored state.

    Raises:
        CheckpointError: missing or unreadable file, another format or
            version, or another model config (the message names the fields).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"Expected a checkpoint file at {path} (got no such file); "
            "train one with examples/train_bigraph.py or pass its path")
    try:
        state = torch.load(path, map_location=map_location,
                           weights_only=True)
    except Exception as err:
        first = str(err).strip().splitlines()[0][:300] if str(err) else ""
        raise CheckpointError(
            f"Expected a readable checkpoint of tensors and plain data at "
            f"{path} (got {type(err).__name__}: {first}); it may be "
            "truncated, not a checkpoint, or carry pickled objects, which "
            "are never loaded") from err
    if not isinstance(state, dict) or state.get("format") != \
            CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"Expected a {CHECKPOINT_FORMAT} file at {path} (got "
            f"{type(state).__name__} without that format tag); pass a file "
            "written by examples/train_bigraph.py")
    if state.get("format_version") != CHECKPOINT_VERSION:
        raise CheckpointError(
            f"Expected checkpoint format version {CHECKPOINT_VERSION} at "
            f"{path} (got {state.get('format_version')!r}, written by "
            f"bigraph_pyg {state.get('library_version')}); retrain or use "
            "that version")
    if expected_model_config is not None:
        found = state.get("model_config", {})
        diff = sorted(k for k in set(found) | set(expected_model_config)
                      if _norm(found.get(k)) !=
                      _norm(expected_model_config.get(k)))
        if diff:
            detail = ", ".join(
                f"{k}: {found.get(k)!r} != {expected_model_config.get(k)!r}"
                for k in diff)
            raise CheckpointError(
                f"Expected a checkpoint of the same model config at {path} "
                f"(got differences (checkpoint != requested): {detail}); "
                "pass the matching --preset/--ablation or another "
                "checkpoint")
    return state


def _norm(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_norm(v) for v in value)
    return value


def model_from_checkpoint(path: str | os.PathLike, body=None,
                          map_location: str | torch.device = "cpu"):
    """Rebuild a :class:`~bigraph_pyg.models.BiGraphBody` from a checkpoint.

    Args:
        path (str or PathLike): A file of :func:`save_checkpoint` with
            ``model_config`` and ``model``.
        body (BodyModel, optional): The body the model was trained with.
            (default: the default body)
        map_location: As in :func:`torch.load`.

    Returns:
        tuple[BiGraphBody, dict]: the model (eval mode) and the state.

    Raises:
        CheckpointError: see :func:`load_checkpoint`; also a config or
            state dict that does not build this library's model.
    """
    from bigraph_pyg.models import BiGraphBody, BiGraphConfig

    state = load_checkpoint(path, map_location=map_location)
    try:
        config = BiGraphConfig(**state["model_config"])
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(
            f"Expected a valid model_config in {path} (got {err}); the "
            "checkpoint comes from another version of bigraph_pyg") from err
    model = BiGraphBody.from_body(config, body)
    try:
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError) as err:
        first = str(err).strip().splitlines()[0][:300]
        raise CheckpointError(
            f"Expected model weights matching the stored config in {path} "
            f"(got {type(err).__name__}: {first}); the checkpoint comes "
            "from another version or body") from err
    return model.eval(), state


def capture_rng_state(generators: Mapping[str, torch.Generator] = ()
                      ) -> dict[str, Any]:
    """Python, NumPy, torch (CPU and CUDA) and named generator states.

    Args:
        generators (Mapping[str, torch.Generator]): Extra generators.

    Returns:
        dict: restorable with :func:`restore_rng_state`.
    """
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        # As a tensor: the file stays loadable with weights_only=True.
        "numpy": (name, torch.from_numpy(keys.astype(np.int64)), int(pos),
                  int(has_gauss), float(cached)),
        "torch": torch.get_rng_state(),
        "generators": {k: g.get_state() for k, g in dict(generators).items()},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Mapping[str, Any],
                      generators: Mapping[str, torch.Generator] = ()) -> None:
    """Inverse of :func:`capture_rng_state`.

    Args:
        state (Mapping): From :func:`capture_rng_state`.
        generators (Mapping[str, torch.Generator]): Generators to restore,
            by the names they were captured under.
    """
    random.setstate(state["python"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos,
                         has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    for name, gen in dict(generators).items():
        if name in state.get("generators", {}):
            gen.set_state(state["generators"][name])

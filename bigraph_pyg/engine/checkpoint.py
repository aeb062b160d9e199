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

Every checkpoint also stores ``checksum``: the SHA-256 of its content
(:func:`state_digest`: every tensor's bytes, dtype and shape, and every
plain value), checked by :func:`load_checkpoint`. ``torch.load`` does not
check the zip CRCs (measured with torch 2.14: 19 of 20 files with 5 runs of
64 flipped bytes loaded without an error, with changed weights), so a
corrupted file is caught by this digest, not by the archive.

A crash during a write can leave the writer's temp file
(``.<name>.<8 random characters>.tmp``); the next write into that folder
removes such files. The atomic write and that clean-up are
:mod:`bigraph_pyg.engine.atomic_save`.
"""

from __future__ import annotations

import hashlib
import os
import random
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bigraph_pyg.engine.atomic_save import atomic_torch_save
from bigraph_pyg.engine.stored_state import check_stored_fields
from bigraph_pyg.utils.io import torch_load_reason

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "CheckpointError",
    "capture_rng_state",
    "load_checkpoint",
    "model_from_checkpoint",
    "restore_rng_state",
    "save_checkpoint",
    "state_digest",
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
    payload.pop(_CHECKSUM_KEY, None)
    payload.update(
        format=CHECKPOINT_FORMAT,
        format_version=CHECKPOINT_VERSION,
        library_version=__version__,
    )
    payload[_CHECKSUM_KEY] = {"sha256": state_digest(payload)}
    return atomic_torch_save(path, payload)


_CHECKSUM_KEY = "checksum"


def state_digest(state: Any) -> str:
    """SHA-256 of a checkpoint's content, independent of the file layout.

    Tensors contribute their dtype, shape, layout and bytes (sparse ones
    their index and value tensors), containers their length and items in
    order, other values their type and ``repr``. A state and the same
    state saved and loaded with ``torch.load(weights_only=True)`` have the
    same digest.

    Args:
        state: Tensors, numbers, strings and containers of them.

    Returns:
        str: the hex digest.
    """
    h = hashlib.sha256()
    _feed(h, state)
    return h.hexdigest()


def _feed(h, obj: Any) -> None:
    if isinstance(obj, torch.Tensor):
        t = obj.detach()
        h.update(f"T{t.dtype}{tuple(t.shape)}{t.layout}|".encode())
        if t.layout == torch.sparse_coo:
            parts = (t._indices(), t._values())
        elif t.layout in (torch.sparse_csr, torch.sparse_bsr):
            parts = (t.crow_indices(), t.col_indices(), t.values())
        elif t.layout in (torch.sparse_csc, torch.sparse_bsc):
            parts = (t.ccol_indices(), t.row_indices(), t.values())
        else:
            parts = (t,)
        for part in parts:
            flat = part.cpu().contiguous().reshape(-1)
            h.update(
                flat.view(torch.uint8).numpy().tobytes()
                if flat.numel()
                else b""
            )
    elif isinstance(obj, Mapping):
        h.update(f"D{len(obj)}|".encode())
        for key, value in obj.items():
            _feed(h, key)
            _feed(h, value)
    elif isinstance(obj, (list, tuple)):
        h.update(f"L{len(obj)}|".encode())
        for value in obj:
            _feed(h, value)
    else:
        h.update(f"{type(obj).__name__}:{obj!r}|".encode())


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
            version, content that does not match the stored checksum
            (a corrupted file), or another model config (the message
            names the fields).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"Expected a checkpoint file at {path} (got no such file); "
            "train one with examples/train_bigraph.py or pass its path"
        )
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # unpickling, zip, allocation: many types
        raise CheckpointError(
            f"Expected a readable checkpoint of tensors and plain data at "
            f"{path} (got {torch_load_reason(err)}); it may be truncated, "
            "not a checkpoint, or carry pickled objects, which are never "
            "loaded"
        ) from err
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"Expected a {CHECKPOINT_FORMAT} file at {path} (got "
            f"{type(state).__name__} without that format tag); pass a file "
            "written by examples/train_bigraph.py"
        )
    if state.get("format_version") != CHECKPOINT_VERSION:
        raise CheckpointError(
            f"Expected checkpoint format version {CHECKPOINT_VERSION} at "
            f"{path} (got {state.get('format_version')!r}, written by "
            f"bigraph_pyg {state.get('library_version')}); retrain or use "
            "that version"
        )
    _verify_checksum(path, state)
    check_stored_fields(state, f"the checkpoint {path}", CheckpointError)
    if expected_model_config is not None:
        from bigraph_pyg.models.config import MOVED_FIELDS

        found = state.get("model_config", {})
        diff = sorted(
            k
            for k in set(found) | set(expected_model_config)
            if k not in MOVED_FIELDS
            and _norm(found.get(k)) != _norm(expected_model_config.get(k))
        )
        if diff:
            detail = ", ".join(
                f"{k}: {found.get(k)!r} != {expected_model_config.get(k)!r}"
                for k in diff
            )
            raise CheckpointError(
                f"Expected a checkpoint of the same model config at {path} "
                f"(got differences (checkpoint != requested): {detail}); "
                "build the model with the checkpoint's config (the "
                "scripts' --preset/--ablation) or pass another checkpoint"
            )
    return state


def _verify_checksum(path: Path, state: dict) -> None:
    """Check and remove the stored digest (see :func:`state_digest`)."""
    stored = state.pop(_CHECKSUM_KEY, None)
    if stored is None:
        warnings.warn(
            f"The checkpoint {path} has no checksum (written by bigraph_pyg "
            f"{state.get('library_version')}, before checksums): it is "
            "loaded unverified",
            stacklevel=3,
        )
        return
    expected = stored.get("sha256") if isinstance(stored, dict) else None
    found = state_digest(state)
    if found != expected:
        raise CheckpointError(
            f"Expected the checkpoint {path} to match its stored SHA-256 "
            f"{str(expected)[:16]}... (got {found[:16]}... for its content):"
            " the file is corrupted (disk, copy or download error); use "
            "another copy, or resume from an earlier checkpoint"
        )


def _norm(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_norm(v) for v in value)
    return value


def model_from_checkpoint(
    path: str | os.PathLike, body=None, map_location: str | torch.device = "cpu"
):
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
            state dict that does not build this library's model (see
            :func:`~bigraph_pyg.engine.stored_state.model_from_stored`:
            checked before the model is allocated).
    """
    from bigraph_pyg.engine.stored_state import model_from_stored

    state = load_checkpoint(path, map_location=map_location)
    model = model_from_stored(
        state.get("model_config"),
        state.get("model"),
        f"the checkpoint {path}",
        body,
        CheckpointError,
    )
    return model, state


def capture_rng_state(
    generators: Mapping[str, torch.Generator] = (),
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
        "numpy": (
            name,
            torch.from_numpy(keys.astype(np.int64)),
            int(pos),
            int(has_gauss),
            float(cached),
        ),
        "torch": torch.get_rng_state(),
        "generators": {k: g.get_state() for k, g in dict(generators).items()},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(
    state: Mapping[str, Any], generators: Mapping[str, torch.Generator] = ()
) -> None:
    """Inverse of :func:`capture_rng_state`.

    Args:
        state (Mapping): From :func:`capture_rng_state`.
        generators (Mapping[str, torch.Generator]): Generators to restore,
            by the names they were captured under.

    Raises:
        CheckpointError: a state the generators refuse (a checkpoint's,
            edited); some generators may then be restored already.
    """
    try:
        random.setstate(state["python"])
        name, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state(
            (name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached)
        )
        torch.set_rng_state(state["torch"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
        for name, gen in dict(generators).items():
            if name in state.get("generators", {}):
                gen.set_state(state["generators"][name])
    except (
        KeyError,
        TypeError,
        ValueError,
        RuntimeError,
        OverflowError,
    ) as err:
        raise CheckpointError(
            f"Expected the RNG state of capture_rng_state (got "
            f"{type(err).__name__}: {str(err)[:200]}); the checkpoint was "
            "edited or comes from another version"
        ) from err

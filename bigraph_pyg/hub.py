r"""Pretrained models shipped with the package, loaded by name.

:func:`pretrained` rebuilds a :class:`~bigraph_pyg.models.BiGraphBody`
from a weights file in ``bigraph_pyg/assets``: the model config as plain
data, the weights in float16 (the file stays small; they are cast back to
float32), and the training-split statistics the baselines of
:func:`~bigraph_pyg.engine.evaluate` need. The file's SHA-256 is checked
before it is read and it is loaded with ``torch.load(weights_only=True)``,
so a corrupted or tampered file is an error, never code that runs.

:func:`export_pretrained` writes such a file from a training checkpoint;
:func:`load_model` reads either kind, as the scripts' ``CHECKPOINT``
arguments do (``pretrained:NAME`` or a path).
The model cards (data, recipe, command, held-out metrics beside the
baselines, limits) are in ``docs/pretrained.md``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "PRETRAINED",
    "export_pretrained",
    "load_model",
    "load_pretrained_file",
    "pretrained",
]

_FORMAT = "bigraph_pyg.pretrained"
_ASSETS = Path(__file__).resolve().parent / "assets"

#: Shipped models: name -> file in ``bigraph_pyg/assets`` and its SHA-256.
PRETRAINED: dict[str, dict[str, str]] = {
    # The cpu preset trained with the longer CPU recipe on synthetic data
    # (docs/pretrained.md has its card).
    "synthetic": {
        "file": "bigraph_cpu_synthetic.pt",
        "sha256": "38627a924ca14fd4a1052b67d756607e"
        "ec62ef80bc74b2f043f576579066ca78",
    },
    # The same recipe with the demo detector's own joints as the 2D input
    # (--joint-noise detector); the demo's default when it detects.
    "synthetic-mediapipe": {
        "file": "bigraph_cpu_synthetic_mediapipe.pt",
        "sha256": "d00d4181e38b09d946868b1bd967b4f2"
        "7d25c97d47b741131b1d722cf8d0473a",
    },
}


def _cast(
    weights: dict, dtype: torch.dtype, only: set[str] | None = None
) -> dict:
    """Dense floating tensors of a state dict cast to ``dtype``.

    Everything else (ints, sparse tensors) is returned as it is.
    ``only``: cast just these keys (the learned parameters), leaving the
    geometry buffers (template, regressor, graph weights, sampling
    operators) at full precision.
    """
    return {
        k: (
            v.to(dtype)
            if isinstance(v, torch.Tensor)
            and v.is_floating_point()
            and not v.is_sparse
            and (only is None or k in only)
            else v
        )
        for k, v in weights.items()
    }


def _stats_to_ship(stats: dict | None) -> dict | None:
    """The training statistics with the lookup's pose bank in float16.

    The bank (16,384 poses × 12 joints, metres) is 2.25 MiB in float32;
    float16 halves that, keeping the file under the 30 MB budget, and moves
    a coordinate by at most 0.25 mm within 1 m of the pelvis. It is cast
    back to float32 on load.
    """
    if stats is None or stats.get("pose_bank") is None:
        return stats
    return _cast(stats, torch.float16, only={"pose_bank"})


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def export_pretrained(
    checkpoint: str | os.PathLike,
    path: str | os.PathLike,
    card: dict[str, Any] | None = None,
) -> str:
    """Write a shippable weights file from a training checkpoint.

    Args:
        checkpoint (str or PathLike): A file of
            :func:`~bigraph_pyg.engine.save_checkpoint` (e.g. ``best.pt``).
        path (str or PathLike): The weights file to write (atomically).
        card (dict, optional): Plain data stored with the weights (the
            recipe, the metrics).

    Returns:
        str: the file's SHA-256 (for :data:`PRETRAINED`).
    """
    from bigraph_pyg.engine.atomic_save import atomic_torch_save
    from bigraph_pyg.engine.checkpoint import load_checkpoint
    from bigraph_pyg.models import BiGraphBody, BiGraphConfig

    state = load_checkpoint(checkpoint)
    # float16 for what was learned; the geometry buffers stay float32.
    config = BiGraphConfig.from_dict(state["model_config"])
    model = BiGraphBody.from_body(config)
    learned = {name for name, _ in model.named_parameters()}
    # Through the model: the weights in the current layout (an older
    # checkpoint's buffers, e.g. the sampler's sparse ones, are converted).
    model.load_state_dict(state["model"])
    payload = {
        "format": _FORMAT,
        "model_config": config.to_dict(),
        "model": _cast(model.state_dict(), torch.float16, only=learned),
        "training_stats": _stats_to_ship(
            state.get("extra", {}).get("training_stats")
        ),
        "card": dict(card or {}),
    }
    return _sha256(atomic_torch_save(path, payload))


def load_pretrained_file(
    path: str | os.PathLike, sha256: str | None = None, body=None
):
    """Rebuild the model of a weights file of :func:`export_pretrained`.

    Args:
        path (str or PathLike): The file.
        sha256 (str, optional): Its expected SHA-256.
        body (BodyModel, optional): (default: the default body)

    Returns:
        tuple[BiGraphBody, dict]: the model (float32, eval mode) and the
        file's content (``training_stats``, float32, and ``card``).

    Raises:
        FileNotFoundError: no such file.
        ValueError: a SHA-256 mismatch, an unreadable file, or weights that
            do not build this library's model.
    """
    from bigraph_pyg.engine.stored_state import (
        check_stored_fields,
        model_from_stored,
    )
    from bigraph_pyg.utils.io import torch_load_reason

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"Expected a pretrained weights file at {path} (got no such file)"
        )
    if sha256 is not None and _sha256(path) != sha256:
        raise ValueError(
            f"Expected {path} with SHA-256 {sha256} (got {_sha256(path)}): "
            "the file is corrupted or was replaced; reinstall bigraph_pyg"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # unpickling, zip, allocation: many types
        raise ValueError(
            f"Expected a {_FORMAT} file at {path} (got "
            f"{torch_load_reason(err)})"
        ) from err
    if not isinstance(state, dict) or state.get("format") != _FORMAT:
        raise ValueError(
            f"Expected a {_FORMAT} file at {path} (got a "
            f"{type(state).__name__} without that format tag)"
        )
    source = f"the weights file {path}"
    check_stored_fields(state, source)
    if isinstance(state.get("training_stats"), dict):  # its float16 bank
        state["training_stats"] = _cast(state["training_stats"], torch.float32)
    model = model_from_stored(
        state.get("model_config"),
        state.get("model"),
        source,
        body,
        dtype=torch.float32,
    )
    return model, state


def pretrained(name: str = "synthetic", body=None):
    """A shipped pretrained model, by name.

    Args:
        name (str): One of :data:`PRETRAINED`. (default: ``"synthetic"``)
        body (BodyModel, optional): (default: the default body, the one
            the shipped models were trained with)

    Returns:
        BiGraphBody: the model, float32, in eval mode; its training-split
        statistics (for the baselines) are ``model.training_stats``.

    Raises:
        ValueError: an unknown name or a corrupted file.
    """
    if name not in PRETRAINED:
        raise ValueError(
            f"Expected a pretrained model name in "
            f"{sorted(PRETRAINED)} (got {name!r})"
        )
    entry = PRETRAINED[name]
    model, state = load_pretrained_file(
        _ASSETS / entry["file"], entry["sha256"], body
    )
    model.training_stats = state.get("training_stats")
    return model


def load_model(spec: str | os.PathLike, body=None, map_location="cpu"):
    """A shipped model (``pretrained:NAME``) or a training checkpoint.

    Args:
        spec (str or PathLike): ``pretrained:NAME`` (a name of
            :data:`PRETRAINED`) or the path of a training checkpoint.
        body (BodyModel, optional): (default: the default body)
        map_location: A checkpoint's, as in :func:`torch.load`; a shipped
            model loads on the CPU.

    Returns:
        tuple[BiGraphBody, dict]: the model (eval mode) and its checkpoint
        state; for a shipped model ``{"extra": {"training_stats": ...}}``.

    Raises:
        ValueError: an unknown name, a corrupted shipped file, or a
            ``spec`` that is neither a string nor a path.
        CheckpointError: see
            :func:`~bigraph_pyg.engine.model_from_checkpoint`.
    """
    if not isinstance(spec, (str, os.PathLike)):
        raise ValueError(
            f"Expected 'pretrained:NAME' or a checkpoint path (got "
            f"{type(spec).__name__}: {spec!r})"
        )
    if isinstance(spec, str) and spec.startswith("pretrained:"):
        model = pretrained(spec.split(":", 1)[1], body)
        return model, {"extra": {"training_stats": model.training_stats}}
    from bigraph_pyg.engine.checkpoint import model_from_checkpoint

    return model_from_checkpoint(spec, body, map_location=map_location)

"""What a checkpoint or weights file holds, checked before it is used.

A checkpoint or a shipped weights file holds plain data: the model config
(field name to value), the weights (name to tensor) and, for training,
the optimizer, RNG and progress fields. Its checksum says the file is the
one written, not that its content fits this library: a file edited and
re-signed can hold a config that is not a dict, weights that are not
tensors, a step that is a string, or a width of ``10**6`` channels that
would try to allocate terabytes when the model is built.

:func:`check_stored_fields` refuses fields of another type or layout, and
:func:`model_from_stored` builds the model without allocating more than
the stored weights hold: the model is first laid out on the ``meta``
device (shapes only, no memory), and every parameter's shape is compared
with the stored tensor before the real model is built. Each error names
the file, what was expected and what was got.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

__all__ = ["check_stored_fields", "check_weights", "model_from_stored"]


#: The type of each stored field, where present: a file edited and
#: re-signed (its checksum matches) is refused here, naming the field,
#: instead of failing later inside the optimizer, the RNG or the model.
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    **dict.fromkeys(
        ("model_config", "optimizer", "scaler", "train_config", "extra"),
        (dict,),
    ),
    **dict.fromkeys(("history", "evals"), (list,)),
    **dict.fromkeys(
        (
            "step",
            "epoch",
            "batch_in_epoch",
            "nonfinite_steps",
            "num_train_samples",
            "world_size",
        ),
        (int,),
    ),
    "best": (int, float, type(None)),
    "rng": (dict,),
}


def check_stored_fields(
    state: dict, source: str, error: type[ValueError] = ValueError
) -> None:
    """Refuse stored fields of another type or layout.

    The types are :data:`_FIELD_TYPES`; ``model`` must be a dict of name
    to tensor, ``optimizer`` a ``state_dict`` of a torch optimizer, and
    ``rng`` the layout of
    :func:`~bigraph_pyg.engine.checkpoint.capture_rng_state`. Absent
    fields are not checked (a weights-only file has none of them).

    Args:
        state (dict): The loaded file.
        source (str): The file, for messages.
        error (type): The error raised (e.g. ``CheckpointError``).

    Raises:
        ValueError: (``error``) a field of another type or layout; the
            message names the field and ``source``.
    """
    for key, types in _FIELD_TYPES.items():
        if key not in state:
            continue
        value = state[key]
        if not isinstance(value, types) or (
            types == (int,) and (isinstance(value, bool) or value < 0)
        ):
            names = " or ".join(t.__name__ for t in types)
            raise error(
                f"Expected '{key}' in {source} to be "
                f"{'an int >= 0' if types == (int,) else names} (got "
                f"{type(value).__name__}: {str(value)[:80]})"
            )
    if "model" in state:
        check_weights(state["model"], source, error)
    if "optimizer" in state:
        _check_optimizer(state["optimizer"], source, error)
    if "rng" in state:
        _check_rng(state["rng"], source, error)


def _check_optimizer(opt: dict, source: str, error: type) -> None:
    groups = opt.get("param_groups")
    if (
        not isinstance(opt.get("state"), dict)
        or not isinstance(groups, list)
        or not all(
            isinstance(g, dict)
            and isinstance(g.get("params"), list)
            and all(isinstance(i, int) for i in g["params"])
            for g in groups
        )
    ):
        raise error(
            f"Expected an optimizer state dict ('state': dict, "
            f"'param_groups': list of dicts with integer 'params') in "
            f"{source} (got keys {sorted(map(str, opt))})"
        )


def _check_rng(rng: dict, source: str, error: type) -> None:
    """The layout of :func:`capture_rng_state` (values: by the setters)."""
    numpy_state = rng.get("numpy")
    python_state = rng.get("python")
    ok = (
        isinstance(python_state, tuple)
        and len(python_state) == 3
        and isinstance(python_state[1], tuple)
        and isinstance(numpy_state, tuple)
        and len(numpy_state) == 5
        and isinstance(numpy_state[1], torch.Tensor)
        and numpy_state[1].shape == (624,)
        and isinstance(rng.get("torch"), torch.Tensor)
        and rng["torch"].dtype == torch.uint8
        and isinstance(rng.get("generators", {}), dict)
        and all(
            isinstance(g, torch.Tensor) and g.dtype == torch.uint8
            for g in rng.get("generators", {}).values()
        )
    )
    if not ok:
        raise error(
            f"Expected the RNG state of capture_rng_state ('python', "
            f"'numpy', 'torch', 'generators') in {source} (got keys "
            f"{sorted(map(str, rng))} of another layout)"
        )


def check_weights(
    weights: Any, source: str, error: type[ValueError] = ValueError
) -> dict[str, Tensor]:
    """Refuse stored weights that are not a dict of name to tensor.

    Args:
        weights: What the file stores as the model's ``state_dict``.
        source (str): The file, for messages.
        error (type): The error raised (e.g. ``CheckpointError``).

    Returns:
        dict[str, Tensor]: ``weights``.

    Raises:
        ValueError: (``error``) not a dict, a key that is not a string, or
            a value that is not a tensor; the message names ``source``.
    """
    if not isinstance(weights, Mapping):
        raise error(
            f"Expected the model weights in {source} to be a dict of name "
            f"to tensor (got {type(weights).__name__})"
        )
    for key, value in weights.items():
        if not isinstance(key, str) or not isinstance(value, Tensor):
            raise error(
                f"Expected the model weights in {source} to be a dict of "
                f"name to tensor (got {key!r}: {type(value).__name__})"
            )
    return dict(weights)


def model_from_stored(
    config_fields: Any,
    weights: Any,
    source: str,
    body=None,
    error: type[ValueError] = ValueError,
    dtype: torch.dtype | None = None,
):
    """Build a :class:`~bigraph_pyg.models.BiGraphBody` and load weights.

    Args:
        config_fields: The stored ``model_config`` (see
            :meth:`~bigraph_pyg.models.BiGraphConfig.from_dict`).
        weights: The stored ``state_dict``.
        source (str): The file, for messages.
        body (BodyModel, optional): (default: the default body)
        error (type): The error raised (e.g. ``CheckpointError``).
        dtype (torch.dtype, optional): Cast the floating dense weights to
            it before loading (a float16 file into a float32 model).

    Returns:
        BiGraphBody: the model, in eval mode.

    Raises:
        ValueError: (``error``) a config that is not a valid dict of
            fields, weights that are not a dict of tensors, a parameter
            missing or of another shape than the config's (checked before
            the model is allocated), or weights the model refuses.
    """
    from bigraph_pyg.models import BiGraphBody, BiGraphConfig
    from bigraph_pyg.models._input_checks import resolve_body
    from bigraph_pyg.topology import BodyGraphs

    if not isinstance(config_fields, Mapping) or not all(
        isinstance(k, str) for k in config_fields
    ):
        raise error(
            f"Expected a model_config dict of field names in {source} (got "
            f"{type(config_fields).__name__})"
        )
    try:
        config = BiGraphConfig.from_dict(dict(config_fields))
    except (KeyError, TypeError, ValueError) as err:
        raise error(
            f"Expected a valid model_config in {source} (got {err}); the "
            "file comes from another version of bigraph_pyg"
        ) from err
    weights = check_weights(weights, source, error)
    body = resolve_body(body)
    graphs = BodyGraphs.from_body(body, level=config.mesh_level)
    with torch.device("meta"):  # shapes only: nothing is allocated
        layout = BiGraphBody(config, graphs, body)
    for name, param in layout.named_parameters():
        stored = weights.get(name)
        if stored is None or stored.shape != param.shape:
            got = "none" if stored is None else f"{tuple(stored.shape)}"
            raise error(
                f"Expected the weight '{name}' of shape {tuple(param.shape)}"
                f" for the stored model_config in {source} (got {got}); "
                "the file's config and weights do not belong together"
            )
    del layout
    model = BiGraphBody(config, graphs, body)
    if dtype is not None:
        weights = {
            k: v.to(dtype) if v.is_floating_point() and not v.is_sparse else v
            for k, v in weights.items()
        }
    try:
        model.load_state_dict(weights)
    except (KeyError, RuntimeError, TypeError, ValueError) as err:
        lines = [ln.strip() for ln in str(err).strip().splitlines()]
        raise error(
            f"Expected model weights matching the stored config in {source} "
            f"(got {type(err).__name__}: {' '.join(lines[:2])[:300]}); the "
            "file comes from another version or body"
        ) from err
    return model.eval()

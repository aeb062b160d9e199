"""Shape checks shared by the geometry functions (``ValueError`` on misuse)."""

from __future__ import annotations

from torch import Tensor


def check_last_dims(x: Tensor, name: str, shape: tuple[int, ...]) -> None:
    """Raise ``ValueError`` unless ``x`` is a tensor ``(..., *shape)``."""
    if not isinstance(x, Tensor):
        raise ValueError(
            f"Expected a tensor for `{name}` (got {type(x).__name__})"
        )
    n = len(shape)
    if x.dim() < n or tuple(x.shape[-n:]) != shape:
        want = ", ".join(["..."] + [str(s) for s in shape])
        raise ValueError(
            f"Expected shape ({want}) for `{name}` (got {tuple(x.shape)})"
        )

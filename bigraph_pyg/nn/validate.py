r"""The switch for data-dependent input checks (host syncs).

Checks on shapes, dtypes and devices read metadata only and always run.
Checks on *values* (an index out of range, a NaN weight, a 2D joint far
outside the image) need the values on the host: on a GPU each is a
device-to-host synchronisation.  They run:

* for a **graph**, once per graph: the layers cache a graph they have
  checked, keyed by the identity and version of its tensors
  (:class:`~bigraph_pyg.nn.conv.normalized_graph_conv.GraphCache`), so
  the model's graph buffers are validated at their first forward and
  never again (until they are modified in place or moved to another
  device);
* for **per-sample inputs** (``BiGraphBody``'s ``images`` and
  ``joints_2d``, the joints and boxes of
  :func:`~bigraph_pyg.nn.roi_features.roi_joint_features`) on every eager
  call while validation is enabled.

Validation is **enabled by default** in eager mode (clear errors are worth
a few syncs while developing) and always skipped while
:func:`torch.compile` traces.  Switch it off for a sync-free forward
(e.g. a GPU training loop on trusted data)::

    from bigraph_pyg.nn import validation

    with validation(False):
        out = model(images, joints_2d)

With validation off, malformed values are not detected: an out-of-range
index may raise a low-level error from the kernel, or (on a GPU) read
memory it should not.
"""

from __future__ import annotations

import contextvars

import torch
from torch import Tensor

__all__ = [
    "check_joints_in_image",
    "validation",
    "validation_enabled",
    "set_validation",
]

# Per thread (and asyncio task), as torch.no_grad's state is.
_ENABLED = contextvars.ContextVar("bigraph_pyg_validation", default=True)


def check_joints_in_image(
    joints_2d: Tensor,
    height: int,
    width: int,
    max_outside: float = 0.0,
    what: str = "replace missing detections first",
) -> None:
    """Refuse non-finite 2D joints or joints outside the image (host syncs).

    Callers run it only while :func:`validation_enabled`.

    Args:
        joints_2d (Tensor): :math:`(..., 2)` pixel ``(x, y)``.
        height (int): Image height.
        width (int): Image width.
        max_outside (float): How far outside the image (fraction of its
            side) a joint may lie. (default: ``0.0``)
        what (str): The advice for non-finite joints.

    Raises:
        ValueError: naming `joints_2d`, the image and the range found.
    """
    if not torch.isfinite(joints_2d).all():
        raise ValueError(
            f"Expected finite values in `joints_2d` (got NaN or inf; {what})"
        )
    x, y = joints_2d[..., 0], joints_2d[..., 1]
    m = max_outside
    outside = (x < -m * width) | (x > (1 + m) * width)
    outside |= (y < -m * height) | (y > (1 + m) * height)
    if outside.any():
        raise ValueError(
            f"Expected `joints_2d` inside the {width}x{height} image "
            f"(pixels, at most {m} image sizes outside) (got x in "
            f"[{x.min().item():.4g}, {x.max().item():.4g}], y in "
            f"[{y.min().item():.4g}, {y.max().item():.4g}])"
        )


def validation_enabled() -> bool:
    """Whether data-dependent checks run now (eager and switched on)."""
    return _ENABLED.get() and not torch.compiler.is_compiling()


def set_validation(enabled: bool) -> None:
    """Switch data-dependent input checks on or off in this thread.

    Args:
        enabled (bool): :obj:`True` to check values (the default).

    Raises:
        ValueError: if ``enabled`` is not a bool.
    """
    if not isinstance(enabled, bool):
        raise ValueError(f"Expected a bool for `enabled` (got {enabled!r})")
    _ENABLED.set(enabled)


class validation:  # noqa: N801 - used like torch.no_grad
    """Context manager (or decorator) setting :func:`set_validation`.

    Args:
        enabled (bool): Validation inside the block.

    Example:
        >>> with validation(False):
        ...     validation_enabled()
        False
        >>> validation_enabled()
        True
    """

    def __init__(self, enabled: bool) -> None:
        if not isinstance(enabled, bool):
            raise ValueError(f"Expected a bool for `enabled` (got {enabled!r})")
        self.enabled = enabled
        self._tokens: list[contextvars.Token] = []

    def __enter__(self) -> validation:
        self._tokens.append(_ENABLED.set(self.enabled))
        return self

    def __exit__(self, *exc) -> None:
        _ENABLED.reset(self._tokens.pop())

    def __call__(self, fn):
        """Use as a decorator."""
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with validation(self.enabled):
                return fn(*args, **kwargs)

        return wrapper

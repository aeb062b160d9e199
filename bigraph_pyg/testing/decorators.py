"""Device parametrisation for tests (PyG's ``withDevice`` pattern)."""

from __future__ import annotations

import torch

__all__ = ["available_devices", "with_device"]


def available_devices() -> list[str]:
    """Return ``["cpu"]`` plus ``"cuda"`` when a GPU is available.

    Returns:
        list[str]: ``["cpu"]`` or ``["cpu", "cuda"]``.
    """
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    return devices


def with_device(func):
    """Parametrise a test over ``device``: CPU always, CUDA when present.

    The CUDA case is reported as *skipped* on machines without a GPU, so a
    CPU-only run still shows that a CUDA parity test exists.

    Args:
        func (callable): A test function taking a ``device`` argument.

    Returns:
        callable: ``func`` marked with ``pytest.mark.parametrize`` over
        ``device`` in ``("cpu", "cuda")``.
    """
    import pytest

    params = [
        pytest.param("cpu", id="cpu"),
        pytest.param(
            "cuda",
            id="cuda",
            marks=pytest.mark.skipif(
                not torch.cuda.is_available(), reason="CUDA is not available"
            ),
        ),
    ]
    return pytest.mark.parametrize("device", params)(func)

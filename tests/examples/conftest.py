"""Fixtures for the example-script tests: a tiny trained checkpoint."""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "engine"))
sys.path.insert(0, str(Path(__file__).parents[2] / "examples"))

from fakes import FakeHumans, tiny_config  # noqa: E402


@pytest.fixture(scope="session")
def tiny_checkpoint(body, tmp_path_factory):
    """A 1-step checkpoint of the tiny full model (64 px)."""
    from bigraph_pyg.engine import TrainConfig, Trainer
    from bigraph_pyg.models import BiGraphBody

    out = tmp_path_factory.mktemp("run")
    torch.manual_seed(0)
    model = BiGraphBody.from_body(tiny_config(), body)
    Trainer(
        model,
        FakeHumans(body, 4),
        TrainConfig(epochs=1, batch_size=4, progress=False),
        out,
    ).fit()
    return out / "checkpoints" / "last.pt"


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory):
    """Four rendered synthetic test samples (rendered in this process)."""
    from bigraph_pyg.data.synthetic import generate_synthetic

    root = tmp_path_factory.mktemp("synthetic")
    generate_synthetic(
        root, "test", num_samples=4, num_workers=0, progress=False
    )
    return root

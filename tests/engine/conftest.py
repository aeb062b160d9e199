"""Fixtures for the engine tests: a tiny model and a fake dataset."""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

from fakes import FakeHumans, tiny_config  # noqa: E402

from bigraph_pyg.models import BiGraphBody  # noqa: E402


@pytest.fixture(scope="session")
def graphs(body):
    from bigraph_pyg.topology import BodyGraphs

    return BodyGraphs.from_body(body, level=2)


@pytest.fixture
def make_model(body, graphs):
    def make(name: str = "cpu", seed: int = 0):
        torch.manual_seed(seed)
        return BiGraphBody(tiny_config(name), graphs, body)

    return make


@pytest.fixture(scope="session")
def fake_set(body):
    return FakeHumans(body, 8)

import warnings

import pytest
import torch

warnings.filterwarnings("ignore", message=".*torch.jit.script.*")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(12345)

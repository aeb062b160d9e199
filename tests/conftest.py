import warnings

import pytest
import torch

warnings.filterwarnings("ignore", message=".*torch.jit.script.*")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(12345)


@pytest.fixture(scope="session")
def body():
    """The shipped default body (licence-free), loaded once per session."""
    from bigraph_pyg.body import default_body

    return default_body()

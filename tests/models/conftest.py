import pytest
import torch

from bigraph_pyg.topology import BodyGraphs


@pytest.fixture(scope="session")
def graphs(body):
    """The default body's graphs at level 2 (431 vertices), built once."""
    return BodyGraphs.from_body(body, level=2)


@pytest.fixture(scope="session")
def graphs_level1(graphs):
    """Level 1 (1723 vertices) on the same hierarchy, for the paper preset."""
    return BodyGraphs.from_hierarchy(graphs.hierarchy, graphs.joints, level=1)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """One intra-op thread: on a shared 2-core machine, small ops with two
    spinning OpenMP threads run up to 30x slower than with one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

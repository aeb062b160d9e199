import pytest

from bigraph_pyg.topology import BodyGraphs


@pytest.fixture(scope="session")
def graphs(body):
    """The default body's graphs (6890 -> 1723 -> 431), built once."""
    return BodyGraphs.from_body(body)

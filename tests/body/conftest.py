import pytest

from bigraph_pyg.body import default_body


@pytest.fixture(scope='session')
def body():
    return default_body()

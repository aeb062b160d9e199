"""The shared integer checks: what they accept, and messages naming the
argument, the expectation and the value."""

import pytest

from bigraph_pyg.utils._checks import check_non_negative_int, check_positive_int


@pytest.mark.parametrize("value", [1, 7, 2**40])
def test_positive_int_accepts(value):
    check_positive_int("n", value)


@pytest.mark.parametrize("value", [0, -1, 1.0, True, "3", None])
def test_positive_int_refuses(value):
    with pytest.raises(
        ValueError, match=rf"`n` to be a positive int \(got {value!r}\)"
    ):
        check_positive_int("n", value)


@pytest.mark.parametrize("value", [0, 1, 5])
def test_non_negative_int_accepts(value):
    check_non_negative_int("k", value)


@pytest.mark.parametrize("value", [-1, 0.0, False, "0"])
def test_non_negative_int_refuses(value):
    with pytest.raises(
        ValueError, match=rf"`k` to be an int >= 0 \(got {value!r}\)"
    ):
        check_non_negative_int("k", value)


def test_configs_use_the_shared_checks():
    # One owner: the configs' messages are the shared ones.
    from bigraph_pyg.engine import TrainConfig
    from bigraph_pyg.models import BiGraphConfig

    with pytest.raises(ValueError, match="`warmup_steps` to be an int >= 0"):
        TrainConfig(warmup_steps=-1)
    with pytest.raises(ValueError, match="`epochs` to be a positive int"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="`mesh_level` to be an int >= 0"):
        BiGraphConfig(mesh_level=-1)

"""The synthetic cache refuses a size it could never hold, before any work."""

import tracemalloc

import pytest

from bigraph_pyg import cli
from bigraph_pyg.data import synthetic_cache as cache


def test_huge_num_samples_is_refused_before_any_allocation(tmp_path):
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as info:
            cache.generate_synthetic(
                tmp_path, "train", 10**11, num_workers=0, progress=False
            )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    msg = str(info.value)
    assert "Expected `num_samples` <= 10_000_000" in msg
    assert "100_000_000_000" in msg
    assert peak < 50 * 2**20  # nothing was built for the samples
    assert not any(tmp_path.iterdir())  # nothing written


def test_the_scripts_bound_is_the_caches():
    assert cli.MAX_SAMPLES == cache.MAX_SAMPLES


def test_huge_pose_only_count_is_refused_before_any_allocation(tmp_path):
    from bigraph_pyg.data import SyntheticPoses

    with pytest.raises(ValueError, match="num_samples <= 10000000"):
        SyntheticPoses(tmp_path, 10**11, progress=False)
    assert not any(tmp_path.iterdir())  # nothing written

"""DDP: two gloo processes on the CPU train and agree on the weights."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bigraph_pyg.engine import EpochBatchSampler

WORKER = Path(__file__).with_name("_ddp_worker.py")


@pytest.mark.slow
def test_two_gloo_processes_train_and_agree(tmp_path):
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        PYTHONPATH=str(Path(__file__).parents[2]),
    )
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(WORKER),
        str(tmp_path),
    ]
    proc = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0 = torch.load(tmp_path / "rank0.pt")
    r1 = torch.load(tmp_path / "rank1.pt")
    assert r0["steps"] == r1["steps"] == 2
    # Each rank saw its own batch (different losses) ...
    assert r0["losses"] != r1["losses"]
    # ... yet after the all-reduced steps the weights are identical, and
    # they moved from the (shared) initial weights.
    moved = False
    for k, v in r0["final"].items():
        assert torch.equal(v, r1["final"][k]), k
        moved |= not torch.equal(v, r0["init"][k])
    assert moved
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file()


def test_sampler_ranks_are_disjoint_and_resumable():
    a = EpochBatchSampler(10, 2, seed=3, rank=0, world_size=2)
    b = EpochBatchSampler(10, 2, seed=3, rank=1, world_size=2)
    a.set_epoch(1)
    b.set_epoch(1)
    ia = [i for batch in a for i in batch]
    ib = [i for batch in b for i in batch]
    assert not set(ia) & set(ib) and len(ia) == len(ib) == 4
    a.set_epoch(1, skip=1)
    assert [i for batch in a for i in batch] == ia[2:]
    a.set_epoch(2)
    assert [i for batch in a for i in batch] != ia
    with pytest.raises(ValueError, match="lower batch_size"):
        EpochBatchSampler(3, 4)

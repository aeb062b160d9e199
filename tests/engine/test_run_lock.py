"""One run per folder: the run lock, and --overwrite keeping the old run."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from bigraph_pyg.engine import (
    CheckpointError,
    TrainConfig,
    Trainer,
    save_checkpoint,
    train_and_evaluate,
)
from bigraph_pyg.engine.atomic_save import remove_stale_temp_files
from bigraph_pyg.engine.run_lock import LOCK_NAME, RunLock, check_run_lock
from bigraph_pyg.engine.runner import check_run_folder

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="no fcntl: no lock is taken"
)

FAST = dict(batch_size=4, progress=False, max_steps=1, image_every=0)

_HOLDER = textwrap.dedent(
    """
    import sys
    from bigraph_pyg.engine.run_lock import RunLock
    lock = RunLock(sys.argv[1]).acquire()
    print("held", flush=True)
    sys.stdin.read()  # until the test closes stdin (or kills us)
    """
)


@pytest.fixture
def other_run(tmp_path):
    """Another process holding the run lock of ``tmp_path / 'run'``."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(tmp_path / "run")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "held"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def _train(model, data, out, **kwargs):
    return train_and_evaluate(
        model,
        data,
        TrainConfig(epochs=1, **FAST),
        out,
        test_segmentation=False,
        **kwargs,
    )


def test_second_run_is_refused_while_the_first_holds_the_lock(
    other_run, make_model, fake_set, tmp_path
):
    out = tmp_path / "run"
    for attempt in (
        lambda: _train(make_model(), fake_set, out),
        lambda: _train(make_model(), fake_set, out, overwrite=True),
        lambda: check_run_folder(out, resume=True),
        lambda: Trainer(
            make_model(), fake_set, TrainConfig(epochs=1, **FAST), out
        ).fit(),
    ):
        with pytest.raises(CheckpointError) as info:
            attempt()
        msg = str(info.value)
        assert msg.startswith("Expected no other run writing to")
        assert str(out) in msg and f"process {other_run.pid}" in msg
        assert "--out" in msg
    assert not (out / "checkpoints").exists()  # nothing written
    # The first run dies (killed: no clean-up): the lock goes with it.
    other_run.send_signal(signal.SIGKILL)
    other_run.wait()
    _train(make_model(), fake_set, out)
    assert (out / "checkpoints" / "last.pt").is_file()


def test_the_lock_is_held_for_the_whole_run_and_released(
    make_model, fake_set, tmp_path, monkeypatch
):
    seen = []
    real_save = save_checkpoint

    def probe(path, state):
        # Another process would be refused while this run saves.
        code = (
            "import sys\n"
            "from bigraph_pyg.engine.run_lock import check_run_lock\n"
            "try:\n    check_run_lock(sys.argv[1])\n"
            "except ValueError:\n    sys.exit(3)\n"
        )
        rc = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path)], check=False
        ).returncode
        seen.append(rc)
        return real_save(path, state)

    monkeypatch.setattr("bigraph_pyg.engine.trainer.save_checkpoint", probe)
    _train(make_model(), fake_set, tmp_path)
    assert seen and set(seen) == {3}
    assert (tmp_path / LOCK_NAME).is_file()
    check_run_lock(tmp_path)  # released: no error
    with RunLock(tmp_path), RunLock(tmp_path):  # re-entrant in a process
        check_run_lock(tmp_path)


def test_overwrite_keeps_the_old_run_until_the_first_checkpoint(
    make_model, fake_set, tmp_path
):
    ckpt = tmp_path / "checkpoints"
    ckpt.mkdir()
    old = {
        ckpt / "last.pt": b"old last",
        ckpt / "best.pt": b"old best",
        tmp_path / "metrics.json": b'{"old": 1}',
    }
    for path, data in old.items():
        path.write_bytes(data)

    class Broken(torch.utils.data.Dataset):
        def __len__(self):
            return len(fake_set)

        def __getitem__(self, i):
            raise RuntimeError("a broken dataset")

    with pytest.raises(RuntimeError, match="a broken dataset"):
        _train(make_model(), Broken(), tmp_path, overwrite=True)
    assert all(p.read_bytes() == data for p, data in old.items())
    # A new run that writes its checkpoint replaces the whole old run.
    summary = _train(make_model(), fake_set, tmp_path, overwrite=True)
    assert (ckpt / "last.pt").read_bytes() != b"old last"
    assert not (ckpt / "best.pt").exists()
    assert not (tmp_path / "metrics.json").exists()
    assert summary.evaluated == ""


_WRITER = textwrap.dedent(
    """
    import fcntl, os, sys
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("writing", flush=True)
    sys.stdin.read()
    """
)


def test_a_save_never_removes_a_temp_file_another_process_writes(tmp_path):
    live = tmp_path / ".last.pt.abcd1234.tmp"
    stale = tmp_path / ".last.pt.zzzz9999.tmp"
    stale.write_bytes(b"a crashed write")
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(live)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "writing"
        save_checkpoint(tmp_path / "last.pt", {"step": 1})
        assert live.exists() and not stale.exists()
    finally:
        proc.kill()
        proc.wait()
    # Its writer gone, the temp file is stale and removed.
    assert remove_stale_temp_files(tmp_path, "last.pt") == [live]
    assert sorted(os.listdir(tmp_path)) == ["last.pt"]


def test_a_file_system_without_locks_still_saves_and_warns(
    tmp_path, monkeypatch
):
    import errno

    from bigraph_pyg.engine import atomic_save, run_lock

    def no_locks(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(atomic_save.fcntl, "flock", no_locks)
    save_checkpoint(tmp_path / "last.pt", {"step": 1})  # unlocked, written
    assert (tmp_path / "last.pt").is_file()
    with pytest.warns(UserWarning, match="will not be refused"):
        lock = RunLock(tmp_path / "run").acquire()
    check_run_lock(tmp_path / "run")  # nothing to check, no error
    lock.release()
    assert run_lock.fcntl.flock is no_locks  # the same module, patched

"""Synthetic generation never hangs (issue 13, item 4).

A worker that dies becomes an error naming the shards not written, the
shards already written are kept, and the next call resumes to the same
cache; a script without a ``__main__`` guard renders in-process instead of
respawning workers forever.
"""

import faulthandler
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from bigraph_pyg.data import SyntheticConfig, SyntheticHumans, workers
from bigraph_pyg.data import synthetic_cache as cache

SYN_N = 6
SYN_CONFIG = SyntheticConfig(shard_size=4)  # as tests/data/conftest.py
TINY = SyntheticConfig(image_size=16, shard_size=2)
_RUN_SHARD = cache._run_shard  # the real one, before any monkeypatch


def _die_on_shard_1(job):
    """Worker function (pickled by name into the spawned worker)."""
    if job[3] == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return _RUN_SHARD(job)


def _fail_on_shard_1(job):
    if job[3] == 1:
        raise OSError("EGL: no display")
    return _RUN_SHARD(job)


def _run_script(script: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    root = Path(__file__).resolve().parents[2]
    env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")])
    # A timeout, not a hang, if the respawn loop ever comes back.
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _same_cache(a: Path, b: Path, n: int, shards: int) -> None:
    for k in range(shards):
        name = f"shard_{k:05d}.npz"
        with np.load(a / name) as x, np.load(b / name) as y:
            assert x.files == y.files
            for key in x.files:
                np.testing.assert_array_equal(x[key], y[key], err_msg=key)
    for i in range(n):
        for sub, ext in (("images", "jpg"), ("parts", "png")):
            rel = f"{sub}/{i:07d}.{ext}"
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


@pytest.mark.slow  # one spawned worker loads the body (~5 s)
def test_dead_worker_names_shard_keeps_written_and_resumes(
    synthetic_root, tmp_path, monkeypatch
):
    monkeypatch.setattr(cache, "_run_shard", _die_on_shard_1)
    # A regression would block forever: end the run with a traceback.
    faulthandler.dump_traceback_later(300, exit=True)
    try:
        with pytest.raises(RuntimeError) as err:
            cache.generate_synthetic(
                tmp_path,
                "train",
                SYN_N,
                config=SYN_CONFIG,
                num_workers=1,
                progress=False,
            )
    finally:
        faulthandler.cancel_dump_traceback_later()
    msg = str(err.value)
    assert "shard_00001.npz (samples 4-5)" in msg
    assert "shard_00000.npz" not in msg.split("Not written:")[1]
    assert "1 of 2 shards are written" in msg and "resume" in msg
    assert "if __name__ == '__main__':" in msg  # the other way to get here
    folder = tmp_path / "train"
    first = folder / "shard_00000.npz"
    assert first.is_file() and not (folder / "shard_00001.npz").exists()
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["complete"] is False
    before = first.stat().st_mtime_ns
    monkeypatch.undo()
    SyntheticHumans(
        tmp_path,
        "train",
        SYN_N,
        config=SYN_CONFIG,
        num_workers=0,
        progress=False,
        with_vertices=False,
    )
    assert first.stat().st_mtime_ns == before  # kept, not re-rendered
    assert json.loads((folder / "meta.json").read_text())["complete"]
    _same_cache(folder, synthetic_root / "train", SYN_N, 2)


def test_failing_shard_is_named_and_generation_resumes(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "_run_shard", _fail_on_shard_1)
    with pytest.raises(
        RuntimeError,
        match=r"shard_00001\.npz \(samples "
        r"2-3\).*OSError: EGL: no display.*1 of 3 shards",
    ):
        cache.generate_synthetic(
            tmp_path / "a", "val", 6, config=TINY, num_workers=0, progress=False
        )
    folder = tmp_path / "a" / "val"
    assert (folder / "shard_00000.npz").is_file()
    assert not (folder / "shard_00001.npz").exists()
    assert not (folder / "shard_00002.npz").exists()  # stopped at the error
    monkeypatch.undo()
    cache.generate_synthetic(
        tmp_path / "a", "val", 6, config=TINY, num_workers=0, progress=False
    )
    cache.generate_synthetic(
        tmp_path / "b", "val", 6, config=TINY, num_workers=0, progress=False
    )
    _same_cache(folder, tmp_path / "b" / "val", 6, 3)


def test_num_workers_is_checked(tmp_path):
    with pytest.raises(
        ValueError, match=r"`num_workers` to be an int >= 0 \(got -1\)"
    ):
        cache.generate_synthetic(
            tmp_path, "train", 2, config=TINY, num_workers=-1, progress=False
        )


def test_is_guarded_reads_the_main_block():
    src = textwrap.dedent("""\
        import x
        run()
        if __name__ == '__main__':
            run()
            more()
        if '__main__' == __name__:
            run()
        if __name__ != '__main__':
            run()
        """)
    assert [workers.is_guarded(src, k) for k in range(1, 10)] == [
        False,
        False,
        False,
        True,
        True,
        False,
        True,
        False,
        False,
    ]


def test_unguarded_script_renders_in_process(tmp_path):
    """The issue's case: a user script without a ``__main__`` guard. It
    used to respawn failing workers forever; now it warns once, renders in
    this process and finishes."""
    script = tmp_path / "user_script.py"
    script.write_text(
        textwrap.dedent(f"""\
        import warnings
        from bigraph_pyg.data import SyntheticConfig, SyntheticHumans

        warnings.simplefilter('always')
        ds = SyntheticHumans({str(tmp_path / "cache")!r}, 'train',
                             num_samples=3, num_workers=2,
                             config=SyntheticConfig(image_size=16,
                                                    shard_size=2),
                             progress=False, with_vertices=False)
        print('LEN', len(ds))
        """)
    )
    out = _run_script(script, tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "LEN 3" in out.stdout
    assert "in this process" in out.stderr
    assert f"{script}, line 5" in out.stderr
    assert "if __name__ == '__main__':" in out.stderr
    assert out.stderr.count("Rendering the synthetic") == 1


@pytest.mark.slow  # one spawned worker re-runs the script (~15 s)
def test_unguarded_script_raises_once_when_workers_start(tmp_path):
    """If workers do start from an unguarded script (here: the check is
    bypassed), the worker refuses at once and the caller gets one error
    with the fix, instead of workers respawned forever."""
    script = tmp_path / "user_script.py"
    script.write_text(
        textwrap.dedent(f"""\
        from bigraph_pyg.data import SyntheticConfig, SyntheticHumans, workers
        workers.spawn_is_safe = lambda: (True, '')
        SyntheticHumans({str(tmp_path / "cache")!r}, 'train',
                        num_samples=3, num_workers=1,
                        config=SyntheticConfig(image_size=16, shard_size=2),
                        progress=False, with_vertices=False)
        """)
    )
    out = _run_script(script, tmp_path)
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("RuntimeError: Expected every synthetic")
    assert "shard_00000.npz (samples 0-1)" in last
    assert "if __name__ == '__main__':" in last
    assert "num_workers=0" in last


def test_worker_reimporting_main_refuses_at_once(tmp_path, monkeypatch):
    """Inside a spawned worker that re-runs an unguarded script, a second
    pool is refused with the fix in the message (not respawned)."""
    import multiprocessing as mp

    monkeypatch.setattr(
        mp.current_process(), "_inheriting", True, raising=False
    )
    with pytest.raises(RuntimeError, match="__name__ == '__main__'"):
        cache.generate_synthetic(
            tmp_path, "train", 2, config=TINY, progress=False
        )
    assert not (tmp_path / "train").exists()

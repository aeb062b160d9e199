"""One run per output folder: an exclusive lock held for the run's life.

A run (:meth:`~bigraph_pyg.engine.Trainer.fit`,
:func:`~bigraph_pyg.engine.train_and_evaluate`) takes the lock file
``OUT/.run.lock`` with ``fcntl.flock`` before it writes anything and holds
it until it returns. The operating system drops the lock when the process
ends, even when it crashes or is killed, so a lock never outlives its run
and nothing has to clean it up. A second run into the same folder from
another process is refused while the first holds it (:class:`RunLock`,
:func:`check_run_lock`): a :class:`~bigraph_pyg.engine.CheckpointError`
that names the folder and the process holding it. The same process may
take the lock again (the trainer inside ``train_and_evaluate``): the lock
is counted and released by the last release.

On a platform without ``fcntl`` (Windows) no lock is taken; on a file
system without locks (some network mounts) a warning says so.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import warnings
from pathlib import Path

from bigraph_pyg.engine.checkpoint import CheckpointError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["LOCK_NAME", "RunLock", "check_run_lock"]

#: The lock file's name in a run folder.
LOCK_NAME = ".run.lock"

# Locks this process holds: resolved lock path -> [file descriptor, count].
# flock conflicts between two descriptors of one process, so the same
# process reuses its descriptor instead of opening the file again.
_HELD: dict[str, list[int]] = {}
_GUARD = threading.Lock()


def _try_lock(fd: int) -> bool:
    """``flock`` without waiting, a few tries over 0.1 s.

    Another process's momentary probe (:func:`check_run_lock`) is then not
    taken for a run.

    Raises:
        OSError: the file system has no locks (ENOLCK).
    """
    for _ in range(5):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            time.sleep(0.02)
    return False


def _refusal(path: Path) -> CheckpointError:
    try:
        holder = path.read_text().strip() or "another process"
    except OSError:
        holder = "another process"
    return CheckpointError(
        f"Expected no other run writing to {path.parent} (got its run lock "
        f"{path.name} held by {holder}); wait for that run to end, or pass "
        "another out_dir (the scripts' --out)"
    )


def check_run_lock(out_dir: str | os.PathLike) -> None:
    """Refuse a folder whose run lock another process holds.

    A check only: nothing is created, and the lock is not kept.

    Args:
        out_dir (str or PathLike): A run folder (may not exist).

    Raises:
        CheckpointError: another process holds ``out_dir/.run.lock``.
    """
    path = Path(out_dir) / LOCK_NAME
    if fcntl is None or not path.is_file():
        return
    with _GUARD:
        if str(path.resolve()) in _HELD:
            return  # this process's own run
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return
        try:
            if not _try_lock(fd):
                raise _refusal(path)
        except OSError:
            return  # a file system without locks: nothing to check
        finally:
            os.close(fd)  # also drops the probe's lock


class RunLock:
    """The exclusive lock of a run folder, held while in use.

    Example::

        with RunLock("runs/a"):  # CheckpointError if a run holds it
            ...  # write the run's files

    Args:
        out_dir (str or PathLike or None): The run folder (created on
            :meth:`acquire`); :obj:`None` (a run that writes nothing, or
            a process other than the main one): no lock.
    """

    def __init__(self, out_dir: str | os.PathLike | None) -> None:
        self.path = None if out_dir is None else Path(out_dir) / LOCK_NAME
        self._key: str | None = None

    def acquire(self) -> RunLock:
        """Take the lock (again, if this process holds it).

        Raises:
            CheckpointError: another process holds it, or the folder
                cannot be created.
        """
        if fcntl is None or self.path is None or self._key is not None:
            return self
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise CheckpointError(
                f"Expected an output folder at {self.path.parent} (got "
                f"{type(err).__name__}: {err}); pass another out_dir (--out)"
            ) from err
        key = str(self.path.resolve())
        with _GUARD:
            if key in _HELD:
                _HELD[key][1] += 1
            else:
                _HELD[key] = [self._lock_new(), 1]
        self._key = key
        return self

    def _lock_new(self) -> int:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            locked = _try_lock(fd)
        except OSError as err:  # a file system without locks (ENOLCK)
            warnings.warn(
                f"Could not lock {self.path} ({type(err).__name__}: {err}); "
                "a second run into this folder will not be refused",
                stacklevel=3,
            )
            return fd
        if not locked:
            os.close(fd)
            raise _refusal(self.path)
        holder = (
            f"process {os.getpid()} on {socket.gethostname()} since "
            f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n"
        )
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder.encode(), 0)
        return fd

    def release(self) -> None:
        """Release this holder's share of the lock (idempotent)."""
        if self._key is None:
            return
        with _GUARD:
            entry = _HELD.get(self._key)
            if entry is not None:
                entry[1] -= 1
                if entry[1] == 0:
                    del _HELD[self._key]
                    os.close(entry[0])  # drops the flock
        self._key = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

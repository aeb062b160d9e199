"""Crash-safe ``torch.save``: temp file, ``fsync``, ``os.replace``.

:func:`atomic_torch_save` writes a temporary file in the target's folder,
flushes and ``fsync``-s it, then :func:`os.replace`-s it over the target,
so a crash leaves either the old file or the new one, never half of one.
A crash during a write can leave the writer's temp file
(``.<name>.<8 random characters>.tmp``); the next write into that folder
removes such files (:func:`remove_stale_temp_files`). A writer holds an
``fcntl.flock`` on its temp file until it is renamed, and only a temp file
that no process holds is stale: one process's save never deletes the temp
file another process is still writing (the operating system drops the
lock of a crashed writer). Checkpoints
(:func:`~bigraph_pyg.engine.save_checkpoint`) and the shipped model files
are written this way.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import torch

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no temp file is locked
    fcntl = None

__all__ = ["atomic_torch_save", "remove_stale_temp_files"]

# The messages keep the logger they had when this was part of
# checkpoint.py, so logging set-ups that name it still see them.
log = logging.getLogger("bigraph_pyg.engine.checkpoint")

#: The temp files of :func:`atomic_torch_save` (``tempfile.mkstemp`` adds
#: 8 characters of ``[a-z0-9_]``).
_TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


def remove_stale_temp_files(
    folder: str | os.PathLike, name: str | None = None
) -> list[Path]:
    """Remove the temp files a crashed :func:`atomic_torch_save` left.

    Only names of the writer's own pattern (``.<name>.<8 characters>.tmp``)
    that no process holds locked are removed (a writer locks its temp file
    until it renames it); nothing else in the folder is touched.

    Args:
        folder (str or PathLike): A checkpoint folder (may not exist).
        name (str, optional): Only the temp files of this target (the next
            write of ``name`` clears its own leftovers, never a temp file
            another writer of another file is filling). (default: all)

    Returns:
        list[Path]: the files removed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for entry in folder.iterdir():
        if (
            _TEMP_NAME.match(entry.name)
            and (name is None or entry.name.startswith(f".{name}."))
            and entry.is_file()
            and not entry.is_symlink()
            and _remove_if_unlocked(entry)
        ):
            removed.append(entry)
    if removed:
        log.info(
            "Removed %d stale temp file(s) of an interrupted "
            "checkpoint write in %s: %s",
            len(removed),
            folder,
            ", ".join(p.name for p in removed),
        )
    return removed


def _remove_if_unlocked(entry: Path) -> bool:
    """Unlink a temp file unless a live writer holds its lock."""
    try:
        fd = os.open(entry, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        entry.unlink()  # under the lock: no writer can be filling it
        return True
    except OSError:  # locked by its writer (BlockingIOError), or gone
        return False
    finally:
        os.close(fd)


def _locked_temp_file(path: Path) -> tuple[int, str]:
    """A new temp file beside ``path``, open and locked by this process.

    A cleaner that took the lock between creation and locking has unlinked
    the file: then another one is made. On a file system without locks the
    file is used unlocked (and no cleaner can lock it either, so none
    removes it).
    """
    while True:
        fd, tmp = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
        )
        if fcntl is None:
            return fd, tmp
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # waits for a cleaner, if any
        except OSError:  # a file system without locks (ENOLCK): unlocked
            return fd, tmp
        if os.fstat(fd).st_nlink > 0:
            return fd, tmp
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_torch_save(path: str | os.PathLike, payload: Any) -> Path:
    """Write ``payload`` with ``torch.save`` atomically.

    A temp file in the target's folder is written, ``fsync``-ed, then
    :func:`os.replace`-d over ``path`` (the parent folder is created).
    Temp files left in that folder by an earlier, interrupted write are
    removed first (:func:`remove_stale_temp_files`).

    Args:
        path (str or PathLike): Target file.
        payload: What to save.

    Returns:
        Path: ``path``.

    Raises:
        OSError: the write failed (e.g. the disk is full, also when torch's
            zip writer reports it as a ``RuntimeError``); the message names
            ``path``, which is left as it was.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OSError(
            err.errno,
            (
                f"Expected a folder for the checkpoint {path} (got "
                f"{type(err).__name__}: {err}); pass an output folder that is "
                "not below a regular file"
            ),
        ) from err
    remove_stale_temp_files(path.parent, path.name)
    tmp = None
    try:
        fd, tmp = _locked_temp_file(path)
        with os.fdopen(fd, "wb") as f:  # its lock is held until renamed
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600
            os.replace(tmp, path)
    except BaseException as err:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        if _is_write_failure(err):  # torch's writer: disk full, I/O error
            err = OSError(errno.EIO, f"{type(err).__name__}: {_first(err)}")
        if isinstance(err, OSError):
            kept = (
                "the previous file is kept"
                if path.exists()
                else "no file was written"
            )
            advice = {
                errno.ENOSPC: "free space on that disk or pass another "
                "output folder",
                errno.EDQUOT: "free space on that disk or pass another "
                "output folder",
                errno.EACCES: "check the folder's permissions or pass "
                "another output folder",
                errno.EPERM: "check the folder's permissions or pass "
                "another output folder",
            }.get(
                err.errno,
                "check the free space on that disk (torch's writer fails "
                "this way when it is full) or pass another output folder"
                if err.errno == errno.EIO
                else "pass another output folder",
            )
            raise OSError(
                err.errno,
                (
                    f"Could not write the checkpoint {path} "
                    f"({type(err).__name__}: {err}); {kept}; {advice}"
                ),
            ) from err
        raise
    return path


#: What torch's zip writer says when a write fails (a full disk gives
#: ``[enforce fail at inline_container.cc:...] . unexpected pos``).
_WRITER_FAILURES = (
    "inline_container",
    "PytorchStreamWriter",
    "unexpected pos",
    "file write failed",
)


def _is_write_failure(err: BaseException) -> bool:
    """``err`` is torch's ``RuntimeError`` for a failed file write."""
    return isinstance(err, RuntimeError) and any(
        s in str(err) for s in _WRITER_FAILURES
    )


def _first(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0][:300] if lines else ""

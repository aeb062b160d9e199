"""Worker processes for synthetic generation that never hang.

Rendering runs in ``spawn`` processes (fresh interpreters: nothing such as
an OpenGL context or torch's thread pool is inherited from the caller). Two
ways such a pool used to hang, and what happens instead:

- **A worker dies** (the out-of-memory killer, a segfault in the EGL
  driver, ``SIGKILL``): :class:`multiprocessing.pool.Pool` replaces the
  process and waits forever for the lost task.
  :class:`concurrent.futures.ProcessPoolExecutor` marks itself broken
  instead, and :func:`imap_jobs` raises :class:`WorkerDied` listing the jobs
  that did not finish.
- **The main script has no** ``if __name__ == '__main__':`` **guard**:
  ``spawn`` re-runs the main module in every worker, which starts a pool of
  its own and fails, forever respawned. :func:`spawn_is_safe` reads the
  calling script and says so before any process starts (the caller then
  renders in-process); a worker that still gets there fails once, and the
  pool breaks (:class:`WorkerDied`) instead of looping.
"""

from __future__ import annotations

import ast
import multiprocessing as mp
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

__all__ = [
    "GUARD_FIX",
    "GUARD_HINT",
    "JobFailed",
    "WorkerDied",
    "check_not_bootstrapping",
    "imap_jobs",
    "is_guarded",
    "spawn_is_safe",
]

#: The fix for a script that starts worker processes from its top level.
GUARD_FIX = (
    "put the script's top-level code under `if __name__ == '__main__':` "
    "(worker processes re-run the main module)"
)

#: :data:`GUARD_FIX`, or the way around it.
GUARD_HINT = f"{GUARD_FIX}, or pass num_workers=0 to render in this process"


class WorkerDied(RuntimeError):
    """A worker process ended without a result.

    It was killed (out of memory, ``SIGKILL``), crashed, or failed while
    starting (e.g. re-running an unguarded main script).

    Args:
        pending (list): The jobs that did not finish.
        reason (str): What the pool reported.
    """

    def __init__(self, pending: list, reason: str):
        super().__init__(reason)
        self.pending = pending
        self.reason = reason


class JobFailed(RuntimeError):
    """A job raised an exception (chained as ``__cause__``).

    Args:
        job: The job that raised.
    """

    def __init__(self, job: Any):
        super().__init__(repr(job))
        self.job = job


def is_guarded(source: str, line: int) -> bool:
    r"""Whether a line of ``source`` lies in a ``__main__`` guard.

    The guard is ``if __name__ == '__main__':`` (either operand order,
    ``==`` only); the line must be in its body.

    Args:
        source (str): Python source of a module.
        line (int): A 1-based line number.

    Returns:
        bool: :obj:`True` if the line is inside such a block's body.

    Example:
        >>> src = "x = 1\nif __name__ == '__main__':\n    run()\n"
        >>> is_guarded(src, 1), is_guarded(src, 3)
        (False, True)
    """
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if not isinstance(node, ast.If) or not _is_main_test(node.test):
            continue
        if node.body[0].lineno <= line <= node.body[-1].end_lineno:
            return True
    return False


def _is_main_test(test: ast.expr) -> bool:
    if not (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.Eq)
    ):
        return False
    pair = (test.left, test.comparators[0])
    names = [n for n in pair if isinstance(n, ast.Name) and n.id == "__name__"]
    consts = [
        n for n in pair if isinstance(n, ast.Constant) and n.value == "__main__"
    ]
    return len(names) == 1 and len(consts) == 1


def spawn_is_safe() -> tuple[bool, str]:
    """Whether ``spawn`` workers can start from the current call stack.

    A spawned worker re-runs the main module (a script, or ``python -m``'s
    module) under the name ``__mp_main__``. That is harmless unless this
    call is reached from the main module's top-level code outside an
    ``if __name__ == '__main__':`` block: then every worker would call it
    again. Interactive sessions and ``python -c`` have no main file and
    are safe.

    Returns:
        tuple[bool, str]: ``(safe, where)``; ``where`` names the script and
        line of the unguarded call (empty when safe).
    """
    main = sys.modules.get("__main__")
    file = getattr(main, "__file__", None)
    if main is None or not file:
        return True, ""
    frame = sys._getframe(1)
    while frame is not None and not (
        frame.f_globals is vars(main) and frame.f_code.co_name == "<module>"
    ):
        frame = frame.f_back
    if frame is None:  # not reached from the main module's top level
        return True, ""
    line = frame.f_lineno
    try:
        guarded = is_guarded(Path(file).read_text(encoding="utf-8"), line)
    except (OSError, SyntaxError, ValueError):
        return True, ""  # unreadable: the pool's own failure still raises
    return guarded, "" if guarded else f"{file}, line {line}"


def check_not_bootstrapping() -> None:
    """Refuse to start a pool from a worker that re-runs the main module.

    Raises at once in a ``spawn`` worker that is importing an unguarded
    main script, instead of starting a pool of its own.

    Raises:
        RuntimeError: called while this process is a ``spawn`` worker
            importing the parent's main module; the message has the fix.
    """
    if getattr(mp.current_process(), "_inheriting", False):
        raise RuntimeError(
            "Expected synthetic generation to start from the main process "
            "(got a call while a worker process was re-running the main "
            f"module, which has no `__main__` guard); {GUARD_HINT}"
        )


def imap_jobs(
    fn: Callable[[Any], Any],
    jobs: Sequence,
    num_workers: int,
    initializer: Callable | None = None,
    initargs: tuple = (),
) -> Iterator[tuple[Any, Any]]:
    """Yield ``(job, fn(job))`` as each job finishes in ``spawn`` workers.

    Args:
        fn (Callable): A module-level function (it is pickled by name).
        jobs (Sequence): Picklable jobs.
        num_workers (int): Worker processes (``>= 1``).
        initializer (Callable, optional): Run once in every worker.
        initargs (tuple): Its arguments.

    Yields:
        tuple: ``(job, result)`` in completion order.

    Raises:
        WorkerDied: a worker process ended without a result; ``pending``
            lists every job without a result.
        JobFailed: ``fn`` raised for ``job`` (the exception is chained).
    """
    ctx = mp.get_context("spawn")
    pool = ProcessPoolExecutor(
        num_workers, mp_context=ctx, initializer=initializer, initargs=initargs
    )
    try:
        futures = {pool.submit(fn, job): k for k, job in enumerate(jobs)}
        for future in as_completed(futures):
            k = futures[future]
            try:
                result = future.result()
            except BrokenProcessPool as err:
                pending = [
                    jobs[i]
                    for f, i in futures.items()
                    if not f.done()
                    or f.cancelled()
                    or f.exception() is not None
                ]
                raise WorkerDied(pending, str(err)) from err
            except Exception as err:
                raise JobFailed(jobs[k]) from err
            yield jobs[k], result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)

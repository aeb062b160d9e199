"""The scripts' command line: values checked before any work, one-line errors.

The package's one command-line module, for the scripts of ``examples/``,
``scripts/`` and ``benchmarks/``; the library never imports it (argparse
stays out of the library). The argparse ``type`` functions here turn a bad
value into one line, ``error: argument --NAME: Expected <what> (got
<what>)``, and exit status 2 before anything is loaded or allocated:
counts (with an upper bound for sizes that allocate), ratios, seeds,
devices and output paths. :func:`script_errors` gives the scripts' later
failures (a bad file, a missing extra) the same one-line form with exit
status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import math
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "MAX_SAMPLES",
    "device",
    "int_range",
    "name_equals_path",
    "non_negative_float",
    "non_negative_int",
    "output_file",
    "output_path",
    "positive_float",
    "positive_int",
    "sample_count",
    "script_errors",
    "seed",
    "unit_float",
]

#: The most samples a dataset size may ask for (synthetic images, pose-only
#: samples): 10 million, the synthetic cache's own bound
#: (:data:`bigraph_pyg.data.synthetic_cache.MAX_SAMPLES`, a test checks
#: they agree). Larger sizes are refused before anything is allocated (they
#: only ran the machine out of memory).
MAX_SAMPLES = 10_000_000
#: Seeds: numpy's generators take 32 bits.
_MAX_SEED = 2**32 - 1


def _int_in(text: str, low: int, high: int | None = None) -> int:
    what = (
        f"an integer >= {low}"
        if high is None
        else f"an integer in [{low}, {high}]"
    )
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"Expected {what} (got {text!r})"
        ) from None
    if value < low or (high is not None and value > high):
        raise argparse.ArgumentTypeError(f"Expected {what} (got {value})")
    return value


def positive_int(text: str) -> int:
    """Argparse ``type``: an integer >= 1 (epochs, batch size, threads).

    Args:
        text (str): The command-line value.

    Returns:
        int: the value.

    Raises:
        argparse.ArgumentTypeError: anything else (argparse names the
            option and exits).
    """
    return _int_in(text, 1)


def non_negative_int(text: str) -> int:
    """Argparse ``type``: an integer >= 0 (worker or warm-up counts).

    Args:
        text (str): The command-line value.

    Returns:
        int: the value.

    Raises:
        argparse.ArgumentTypeError: anything else.
    """
    return _int_in(text, 0)


def sample_count(text: str) -> int:
    """Argparse ``type``: a number of samples in ``[1, MAX_SAMPLES]``.

    Args:
        text (str): The command-line value.

    Returns:
        int: the value.

    Raises:
        argparse.ArgumentTypeError: anything else.
    """
    return _int_in(text, 1, MAX_SAMPLES)


def int_range(low: int, high: int):
    """An argparse ``type``: an integer in ``[low, high]``.

    For sizes that allocate (a batch, a number of channels): the bound
    refuses a value that would only run the machine out of memory.

    Args:
        low (int): The smallest value.
        high (int): The largest value.

    Returns:
        Callable[[str], int]: the type (raises ArgumentTypeError).
    """

    def parse(text: str) -> int:
        return _int_in(text, low, high)

    parse.__name__ = f"int in [{low}, {high}]"
    return parse


def seed(text: str) -> int:
    """Argparse ``type``: a random seed, an integer in ``[0, 2**32 - 1]``.

    Args:
        text (str): The command-line value.

    Returns:
        int: the seed.

    Raises:
        argparse.ArgumentTypeError: anything else (e.g. ``1e20``).
    """
    return _int_in(text, 0, _MAX_SEED)


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def unit_float(text: str) -> float:
    """Argparse ``type``: a ratio in ``[0, 1]``.

    Args:
        text (str): The command-line value.

    Returns:
        float: the value.

    Raises:
        argparse.ArgumentTypeError: anything else.
    """
    value = _float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(
            f"Expected a number in [0, 1] (got {text!r})"
        )
    return value


def non_negative_float(text: str) -> float:
    """Argparse ``type``: a finite number >= 0.

    Args:
        text (str): The command-line value.

    Returns:
        float: the value.

    Raises:
        argparse.ArgumentTypeError: anything else (NaN, inf, text).
    """
    value = _float(text)
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(
            f"Expected a finite number >= 0 (got {text!r})"
        )
    return value


def positive_float(text: str) -> float:
    """Argparse ``type``: a finite number > 0 (a duration, a rate).

    Args:
        text (str): The command-line value.

    Returns:
        float: the value.

    Raises:
        argparse.ArgumentTypeError: anything else (NaN, inf, text).
    """
    value = _float(text)
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(
            f"Expected a finite number > 0 (got {text!r})"
        )
    return value


def device(text: str) -> str:
    """Argparse ``type``: a torch device this machine has.

    ``cpu``, ``cuda``, ``cuda:K`` (K below the number of GPUs) or ``mps``.

    Args:
        text (str): The command-line value.

    Returns:
        str: the value, for ``torch.device``.

    Raises:
        argparse.ArgumentTypeError: not a device name, or a GPU that torch
            does not see.
    """
    import torch

    try:
        dev = torch.device(text)
    except (RuntimeError, ValueError):
        raise argparse.ArgumentTypeError(
            f"Expected a device such as cpu, cuda or cuda:1 (got {text!r})"
        ) from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (dev.index or 0) >= count:
            raise argparse.ArgumentTypeError(
                f"Expected a device this machine has (got {text!r}; torch "
                f"sees {count} CUDA GPU(s)); pass --device cpu"
            )
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise argparse.ArgumentTypeError(
            f"Expected a device this machine has (got {text!r}; torch sees "
            "no MPS device); pass --device cpu"
        )
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise argparse.ArgumentTypeError(
            f"Expected a device such as cpu, cuda or cuda:1 (got {text!r})"
        )
    return text


def output_path(text: str) -> str:
    """Argparse ``type``: a path that can be created (a folder or file).

    Args:
        text (str): The command-line value.

    Returns:
        str: the path.

    Raises:
        argparse.ArgumentTypeError: an empty path, or one with a regular
            file among its existing parent folders.
    """
    if not text:
        raise argparse.ArgumentTypeError("Expected a path (got '')")
    for parent in Path(text).parents:
        if parent.exists() and not parent.is_dir():
            raise argparse.ArgumentTypeError(
                f"Expected a path below folders (got {text!r}, below the "
                f"regular file {parent})"
            )
    return text


def output_file(text: str) -> str:
    """Argparse ``type``: :func:`output_path` that is not a folder.

    Args:
        text (str): The command-line value.

    Returns:
        str: the path.

    Raises:
        argparse.ArgumentTypeError: see :func:`output_path`, or an
            existing folder.
    """
    output_path(text)
    if Path(text).is_dir():
        raise argparse.ArgumentTypeError(
            f"Expected a file path (got {text!r}, an existing folder)"
        )
    return text


def name_equals_path(text: str) -> str:
    """Argparse ``type``: ``NAME=PATH`` with a non-empty name and path.

    Args:
        text (str): The command-line value.

    Returns:
        str: the value, unchanged.

    Raises:
        argparse.ArgumentTypeError: no ``=``, or an empty side.
    """
    name, sep, path = text.partition("=")
    if not (sep and name and path):
        raise argparse.ArgumentTypeError(
            f"Expected NAME=PATH, e.g. h36m=/data/h36m_images (got {text!r})"
        )
    return text


@contextlib.contextmanager
def script_errors(
    *more: type[BaseException], extra: str | None = None
) -> Iterator[None]:
    """End a script's bad input with one ``error:`` line and status 1.

    Example::

        with script_errors(extra="train"):
            model = load_model(args.checkpoint)  # names the bad file

    Args:
        *more (type[BaseException]): Further exceptions to report so
            (default: :class:`OSError`, :class:`ValueError` and
            :class:`ImportError`, whose messages name the file, the
            argument or the missing module).
        extra (str, optional): The ``pip install 'bigraph_pyg[EXTRA]'``
            that a missing module (:class:`ImportError`) asks for.

    Yields:
        None: the script's work runs in the ``with`` block.

    Raises:
        SystemExit: ``error: <message>``.
    """
    try:
        yield
    except ImportError as err:
        hint = f"; pip install 'bigraph_pyg[{extra}]'" if extra else ""
        raise SystemExit(f"error: {err}{hint}") from None
    except (OSError, ValueError, *more) as err:
        raise SystemExit(f"error: {err}") from None

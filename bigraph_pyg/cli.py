"""The scripts' command line: values checked before any work, one-line errors.

The package's one command-line module, for the scripts of ``examples/``,
``scripts/`` and ``benchmarks/``; the library never imports it (argparse
stays out of the library). The argparse ``type`` functions here turn a bad
value into one line, ``error: argument --NAME: Expected <what> (got
<what>)``, and exit status 2 before anything is loaded or allocated:
counts (with an upper bound for sizes that allocate), ratios, seeds,
devices and output paths. :func:`script_errors` gives the scripts' later
failures (a bad file, a missing extra) the same one-line form with exit
status 1. :func:`parse_with_config` reads a script's flags from a
``--config FILE.toml`` (checked as the command line's), which the command
line overrides.
"""

from __future__ import annotations

import argparse
import contextlib
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "MAX_SAMPLES",
    "device",
    "int_range",
    "name_equals_path",
    "non_negative_float",
    "non_negative_int",
    "output_file",
    "output_path",
    "parse_with_config",
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


def parse_with_config(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None = None
) -> argparse.Namespace:
    """Parse ``argv``, with the values of its ``--config FILE.toml``.

    The file's keys are the options' ``dest`` names (``num_train = 4800``
    for ``--num-train``). Each value is checked as the command line's is
    (the option's ``type`` and ``choices``; a flag such as ``--amp`` takes
    ``true`` or ``false``, a repeatable option an array) and becomes the
    option's default, so a flag on the command line overrides the file (a
    repeatable one adds to the file's list).

    Example::

        args = parse_with_config(parser, ["--config", "a.toml", "--seed", "3"])

    Args:
        parser (argparse.ArgumentParser): The script's parser, with a
            ``--config`` option; its defaults are set from the file.
        argv (Sequence[str], optional): The command line.
            (default: ``sys.argv[1:]``)

    Returns:
        argparse.Namespace: as :meth:`~argparse.ArgumentParser.parse_args`
        (``config`` is the file's path, or :obj:`None`).

    Raises:
        SystemExit: status 2 and one ``error:`` line that names the file
            (and the key): an unreadable file, a key that is no option of
            the parser, a value of the wrong type or one the option
            refuses.
    """
    first = argparse.ArgumentParser(prog=parser.prog, add_help=False)
    first.add_argument("--config")
    known, _ = first.parse_known_args(argv)
    if known.config is not None:
        parser.set_defaults(**_config_values(parser, known.config))
    return parser.parse_args(argv)


def _config_values(parser: argparse.ArgumentParser, path: str) -> dict:
    """The options' values in the TOML file ``path``, by ``dest``."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        parser.error(
            f"--config {path}: Expected Python >= 3.11 to read TOML (got "
            "Python 3.10); pass the flags on the command line"
        )
    try:
        with open(path, "rb") as f:
            table = tomllib.load(f)
    except OSError as err:
        parser.error(
            f"--config {path}: Expected a readable TOML file (got "
            f"{err.strerror or err})"
        )
    except tomllib.TOMLDecodeError as err:
        parser.error(f"--config {path}: Expected a TOML file (got {err})")
    options = {  # argparse lists its options only in _actions
        a.dest: a
        for a in parser._actions
        if a.option_strings and a.dest not in ("help", "config")
    }
    values = {}
    for key, value in table.items():
        if key not in options:
            parser.error(
                f"--config {path}: Expected an option's name as key, with _ "
                f"for - (e.g. num_train for --num-train) (got {key!r})"
            )
        try:
            values[key] = _option_value(options[key], value)
        except argparse.ArgumentTypeError as err:
            parser.error(f"--config {path}: key {key}: {err}")
    return values


_KINDS = (
    (bool, "a boolean"),
    (int, "an integer"),
    (float, "a number"),
    (str, "a string"),
    (list, "an array"),
    (dict, "a table"),
)
#: The TOML kinds a value may have, by the type of the command line's value
#: (after the option's ``type``): an integer is a number too.
_ACCEPTED = {
    int: ((int,), "an integer"),
    float: ((int, float), "a number"),
    str: ((str,), "a string"),
}


def _kind(value: Any) -> str:
    """``value``'s TOML kind, in words, with the value."""
    name = next((n for t, n in _KINDS if isinstance(value, t)), "a date")
    return f"{name} {value!r}"


def _option_value(action: argparse.Action, value: Any) -> Any:
    """A TOML value checked and converted as ``action`` does its text.

    Raises:
        argparse.ArgumentTypeError: the wrong kind of value, or one the
            option's ``type`` or ``choices`` refuse.
    """
    if action.nargs == 0:  # a flag: --amp
        if not isinstance(value, bool):
            raise argparse.ArgumentTypeError(
                f"Expected true or false (got {_kind(value)})"
            )
        return action.const if value else action.default
    if isinstance(action, argparse._AppendAction):  # a repeatable option
        if not isinstance(value, list):
            raise argparse.ArgumentTypeError(
                f"Expected an array (got {_kind(value)})"
            )
        return [_scalar_value(action, v) for v in value]
    return _scalar_value(action, value)


def _scalar_value(action: argparse.Action, value: Any) -> Any:
    """One value of ``action`` (a number or a string), checked."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise argparse.ArgumentTypeError(
            f"Expected a number or a string (got {_kind(value)})"
        )
    try:
        out = action.type(str(value)) if action.type else str(value)
    except argparse.ArgumentTypeError:
        raise
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(
            f"Expected a valid value (got {_kind(value)})"
        ) from None
    if action.choices is not None and out not in action.choices:
        raise argparse.ArgumentTypeError(
            f"Expected one of {', '.join(map(str, action.choices))} (got "
            f"{value!r})"
        )
    kinds, name = _ACCEPTED.get(type(out), ((object,), ""))
    if not isinstance(value, kinds):
        raise argparse.ArgumentTypeError(
            f"Expected {name} (got {_kind(value)})"
        )
    return out

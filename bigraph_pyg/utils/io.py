"""One loading boundary for the package's files: ``.npz``, ``.npy``, JSON.

Every reader of a file the user hands us (a body, saved graphs, a dataset,
a synthetic cache) goes through these helpers, so a truncated or corrupted
file raises one kind of error, naming the file, what was expected and what
was found, instead of a bare ``BadZipFile``, ``EOFError``, ``KeyError`` or
``JSONDecodeError`` from deep inside :mod:`zipfile`, :mod:`numpy` or
:mod:`json`.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

__all__ = [
    "load_json",
    "load_npy",
    "load_npz",
    "resolve_inside",
    "torch_load_reason",
]

#: What a damaged ``.npz`` raises while it is opened or read: a truncated
#: archive (``BadZipFile``, ``EOFError``), a damaged member (``BadZipFile``
#: "Bad CRC-32", ``zlib.error``), a damaged ``.npy`` header (``ValueError``,
#: ``SyntaxError`` from its literal parser), unreadable bytes (``OSError``),
#: garbage read as a pickle under ``allow_pickle``.
_NPZ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    SyntaxError,
    KeyError,
    UnicodeDecodeError,
    pickle.UnpicklingError,
)


def _suffix(hint: str) -> str:
    return f"; {hint}" if hint else ""


def _not_a_file(path: Path) -> str:
    """What is at ``path`` instead of a file: a folder, or nothing."""
    return "a folder" if path.is_dir() else "no such file"


def _existing_file(path: str | os.PathLike, what: str, hint: str) -> Path:
    """``path`` as a :class:`Path`, or :class:`FileNotFoundError` naming it."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"Expected {what} at '{path}' (got {_not_a_file(path)})"
            f"{_suffix(hint)}"
        )
    return path


def load_npz(
    path: str | os.PathLike,
    what: str,
    required: Iterable[str] = (),
    allow_pickle: bool = False,
    hint: str = "",
) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` file, or fail naming the file.

    All arrays are read (and their CRC checked) here, so damage anywhere in
    the file is found at load time, not at first use.

    Args:
        path (str or PathLike): The ``.npz`` file.
        what (str): What the file should be, for messages (e.g. ``'a
            BodyGraphs .npz'``).
        required (Iterable[str]): Keys the file must hold.
        allow_pickle (bool): Let object arrays be read (only for files you
            trust). (default: :obj:`False`)
        hint (str): The remedy appended to every message (e.g. ``'delete
            it to regenerate'``).

    Returns:
        dict[str, np.ndarray]: the arrays by key.

    Raises:
        FileNotFoundError: no such file (or a folder there).
        ValueError: not a readable ``.npz`` (truncated, corrupted, object
            arrays without ``allow_pickle``), or a required key missing;
            the message names ``path``.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / 'a.npz'
        >>> np.savez(p, x=np.arange(3))
        >>> load_npz(p, 'a test file', required=['x'])['x'].tolist()
        [0, 1, 2]
    """
    path = _existing_file(path, what, hint)
    try:
        data = np.load(path, allow_pickle=allow_pickle)
    except _NPZ_ERRORS as err:  # not a zip, nor an .npy: garbage
        raise _unreadable(path, what, err, hint) from err
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise _unreadable(
            path,
            what,
            TypeError(f"a single {type(data).__name__}, not an .npz archive"),
            hint,
        )
    try:
        with data:
            _check_declared_sizes(path)  # before numpy allocates them
            arrays = {key: data[key] for key in data.files}
    except ValueError as err:
        if "Object arrays" in str(err):
            raise ValueError(
                f"Expected plain (non-object) arrays in {what} '{path}' (got "
                "an object array, which needs pickle); re-save it with "
                "plain arrays, or pass allow_pickle=True for a file you "
                "trust"
            ) from err
        raise _unreadable(path, what, err, hint) from err
    except _NPZ_ERRORS as err:
        raise _unreadable(path, what, err, hint) from err
    missing = [key for key in required if key not in arrays]
    if missing:
        raise ValueError(
            f"Expected keys {list(required)} in {what} '{path}' (got "
            f"{sorted(arrays)}; missing {missing}){_suffix(hint)}"
        )
    return arrays


def load_npy(path: str | os.PathLike, what: str, hint: str = "") -> np.ndarray:
    """Read one plain array from an ``.npy`` file, or fail naming the file.

    Args:
        path (str or PathLike): The ``.npy`` file.
        what (str): What the file should be, for messages.
        hint (str): The remedy appended to every message.

    Returns:
        np.ndarray: the array (never an object array: no pickle is read).

    Raises:
        FileNotFoundError: no such file (or a folder there).
        ValueError: not a readable ``.npy`` (truncated, corrupted, an
            ``.npz`` archive, an object array); the message names ``path``.
    """
    path = _existing_file(path, what, hint)
    try:
        _check_declared_sizes(path)  # before numpy allocates it
        data = np.load(path, allow_pickle=False)
    except ValueError as err:
        if "Object arrays" in str(err):
            raise ValueError(
                f"Expected a plain (non-object) array in {what} '{path}' "
                f"(got an object array, which needs pickle){_suffix(hint)}"
            ) from err
        raise _unreadable(path, what, err, hint, ".npy array") from err
    except _NPZ_ERRORS as err:
        raise _unreadable(path, what, err, hint, ".npy array") from err
    if not isinstance(data, np.ndarray):
        data.close()
        raise _unreadable(
            path,
            what,
            TypeError(f"an {type(data).__name__} archive, not one array"),
            hint,
            ".npy array",
        )
    return data


def _check_declared_sizes(path: Path) -> None:
    """Refuse ``.npy`` headers that declare more bytes than are stored.

    NumPy allocates the array a header declares before reading its data,
    so a 100-byte file declaring ``10**13`` values raised ``MemoryError``
    ("72.8 TiB"). Each header (the file's, or each ``.npz`` member's) is
    compared with the bytes that follow it.

    Raises:
        ValueError: a header declaring more bytes than follow it.
    """
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.filename.endswith(".npy"):
                    with zf.open(info) as fp:
                        _check_header(fp, info.file_size, info.filename)
    else:
        with open(path, "rb") as fp:
            _check_header(fp, path.stat().st_size, path.name)


def _check_header(fp, size: int, name: str) -> None:
    fmt = np.lib.format
    version = fmt.read_magic(fp)
    read = (
        fmt.read_array_header_1_0
        if version == (1, 0)
        else fmt.read_array_header_2_0
    )
    shape, _, dtype = read(fp)
    if dtype.hasobject:  # pickled: refused or trusted by allow_pickle
        return
    declared = math.prod(shape) * dtype.itemsize
    if declared > size - fp.tell():
        raise ValueError(
            f"Expected {name} to hold the {declared} bytes its header "
            f"declares (shape {shape}, {dtype}) (got {size - fp.tell()})"
        )


def _unreadable(
    path: Path,
    what: str,
    err: BaseException,
    hint: str,
    kind: str = ".npz archive",
) -> ValueError:
    size = path.stat().st_size if path.exists() else 0
    return ValueError(
        f"Expected {what} at '{path}' to be a readable {kind} (got "
        f"{type(err).__name__}: {err}; the file has {size} bytes, it may be "
        f"truncated or corrupted){_suffix(hint)}"
    )


def torch_load_reason(err: BaseException) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, in one line.

    Torch's message for a file carrying a pickled object says it "can still
    be loaded" and that ``weights_only=False`` "will likely succeed": that
    would run the object's code. Only the reason is kept (e.g.
    ``Unsupported global: GLOBAL builtins.print``), never that advice.

    Args:
        err (BaseException): What ``torch.load`` raised.

    Returns:
        str: ``'<type>: <reason>'``, at most 300 characters.
    """
    text = str(err)
    marker = "WeightsUnpickler error:"
    if marker in text:  # the reason, without torch's two "options"
        text = text.split(marker, 1)[1].split(". ", 1)[0]
        text = f"{text.strip().rstrip('.')}, which is never loaded"
    elif "weights_only" in text or "can still be loaded" in text:
        text = "an object that is not plain data, which is never loaded"
    lines = text.strip().splitlines()
    return f"{type(err).__name__}: {lines[0][:300] if lines else ''}"


def load_json(path: str | os.PathLike, what: str, hint: str = "") -> dict:
    """Read a JSON object from a file, or fail naming the file.

    Args:
        path (str or PathLike): The ``.json`` file.
        what (str): What the file should be, for messages.
        hint (str): The remedy appended to every message.

    Returns:
        dict: the parsed object.

    Raises:
        FileNotFoundError: no such file (or a folder there).
        ValueError: not UTF-8 JSON, or JSON that is not an object; the
            message names ``path``.
    """
    path = _existing_file(path, what, hint)
    try:
        found = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError) as err:  # JSONDecodeError, UnicodeError
        raise ValueError(
            f"Expected {what} at '{path}' to be readable JSON (got "
            f"{type(err).__name__}: {err}){_suffix(hint)}"
        ) from err
    if not isinstance(found, dict):
        raise ValueError(
            f"Expected {what} at '{path}' to hold a JSON object (got a "
            f"{type(found).__name__}){_suffix(hint)}"
        )
    return found


def resolve_inside(folder: str | os.PathLike, name: str, what: str) -> Path:
    """``folder / name``, refusing a ``name`` that escapes ``folder``.

    A file listing relative names (a dataset's ``imgname``) must not reach
    outside its folder: an absolute name, a drive, or ``..`` components
    are refused before any file is opened. Symbolic links inside
    ``folder`` are followed as the user laid them out (not resolved).

    Args:
        folder (str or PathLike): The folder names are relative to.
        name (str): A relative path inside ``folder``.
        what (str): Where ``name`` comes from, for messages (e.g.
            ``"'imgname'[3] of /data/lsp.npz"``).

    Returns:
        Path: ``folder / name``.

    Raises:
        ValueError: ``name`` empty, absolute, or holding ``..``.

    Example:
        >>> resolve_inside('/data/images', 'a/b.jpg', 'x').as_posix()
        '/data/images/a/b.jpg'
    """
    name = str(name)
    parts = Path(name).parts
    # Both separators: a Windows-made file read on POSIX, and vice versa.
    pieces = name.replace("\\", "/").split("/")
    if (
        not name.strip()
        or Path(name).is_absolute()
        or name.startswith(("/", "\\"))
        or (len(name) > 1 and name[1] == ":")
        or ".." in pieces
        or ".." in parts
        or "\x00" in name
    ):
        raise ValueError(
            f"Expected a relative path inside the folder '{folder}' in "
            f"{what} (got {name!r}, which is empty, absolute or escapes "
            "the folder with '..')"
        )
    return Path(folder) / name

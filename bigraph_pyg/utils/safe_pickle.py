"""An unpickler that builds plain data and nothing else.

SMPL model files (``.pkl``) and GraphCMR's ``mesh_downsampling.npz``
(object arrays) are pickles written with NumPy, SciPy sparse matrices and,
for SMPL, chumpy arrays. A pickle can name any callable; a whole-module
allow-list (``numpy.*``) still admits ``numpy.testing``'s ``runstring``,
which is ``exec``. :class:`SafeUnpickler` resolves only the exact globals of
:data:`ALLOWED` (array reconstruction, the three sparse formats, builtin
containers) and maps every chumpy class to a data holder that keeps the
pickled state and runs nothing. Sparse matrices are built only after their
arrays are checked (:mod:`bigraph_pyg.utils.checked_sparse`): SciPy's
compiled code trusts them, and a broken index crashes the process.
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np

from bigraph_pyg.utils.checked_sparse import (
    PickledSparse,
    pickled_sparse_class,
    sparse_from_pickled,
)

__all__ = ["ALLOWED", "UNPICKLING_ERRORS", "SafeUnpickler"]

#: What loading a hostile or damaged pickle with :class:`SafeUnpickler` may
#: raise: a refused global, a broken or truncated stream, a matrix whose
#: checks fail, a huge or deeply nested structure. Readers turn these into
#: one ``ValueError`` naming their file.
UNPICKLING_ERRORS: tuple[type[BaseException], ...] = (
    pickle.UnpicklingError,
    EOFError,
    AttributeError,
    ValueError,
    TypeError,
    IndexError,
    KeyError,
    MemoryError,
    RecursionError,
)

_NUMPY = ("numpy.core.multiarray", "numpy._core.multiarray")
_BUILTINS = ("builtins", "__builtin__")
_SPARSE = ("csr_matrix", "csc_matrix", "coo_matrix")

#: ``(module, name)`` pairs the unpickler resolves (sparse matrices from any
#: ``scipy.sparse`` submodule, by name; chumpy classes become data holders).
ALLOWED: frozenset[tuple[str, str]] = frozenset(
    [(m, n) for m in _NUMPY for n in ("_reconstruct", "scalar")]
    + [
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
        ("copy_reg", "_reconstructor"),
        ("copyreg", "_reconstructor"),
    ]
    + [
        (m, n)
        for m in _BUILTINS
        for n in (
            "object",
            "tuple",
            "list",
            "set",
            "frozenset",
            "dict",
            "slice",
        )
    ]
)


class ChumpyData:
    """What a pickled chumpy array becomes: its state, as data."""

    def __init__(self, *args, **kwargs) -> None:
        self.state = None

    def __setstate__(self, state) -> None:
        self.state = state


class SafeUnpickler(pickle.Unpickler):
    """Unpickle NumPy arrays, SciPy sparse matrices and containers only.

    Raises:
        pickle.UnpicklingError: (from ``load``) a global not in
            :data:`ALLOWED`, named in the message.
        ValueError: (from ``load``) a sparse matrix whose arrays break its
            invariants (see
            :func:`~bigraph_pyg.utils.checked_sparse.sparse_from_pickled`),
            or containers nested too deeply or in a cycle.
    """

    chumpy = ChumpyData

    def load(self) -> Any:
        """Unpickle, then build the checked sparse matrices."""
        return _build_sparse(super().load())

    def find_class(self, module: str, name: str):
        """Resolve an allowed global; refuse every other one."""
        if module.split(".")[0] == "chumpy":
            return self.chumpy
        if module.startswith("scipy.sparse") and name in _SPARSE:
            return pickled_sparse_class(name)  # built once checked
        if (module, name) in ALLOWED:
            if module in _NUMPY:  # either spelling, this NumPy's module
                import numpy as np

                core = getattr(np, "_core", None) or np.core
                return getattr(core.multiarray, name)
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"Expected only NumPy arrays, SciPy sparse matrices and plain "
            f"containers in the file (got the global {module}.{name}, which "
            "is never loaded)"
        )


def _build_sparse(obj: Any, where: str = "matrix") -> Any:
    """``obj`` with every :class:`PickledSparse` checked and built.

    Dicts, lists, tuples, object arrays and chumpy holders are walked once
    each (a shared object is built once; a cycle is refused).
    """
    done: dict[int, Any] = {}
    try:
        return _walk(obj, where, done)
    except RecursionError as err:
        raise ValueError(
            "Expected containers nested at most a few hundred levels deep "
            "in the pickle (got deeper nesting)"
        ) from err


def _walk(obj: Any, where: str, done: dict[int, Any]) -> Any:
    if not isinstance(obj, (PickledSparse, dict, list, tuple, ChumpyData)) and (
        not isinstance(obj, np.ndarray) or not obj.dtype.hasobject
    ):
        return obj
    key = id(obj)
    if key in done:
        if done[key] is _IN_PROGRESS:
            raise ValueError(
                "Expected containers without cycles in the pickle (got one "
                f"that contains itself, at {where})"
            )
        return done[key]
    done[key] = _IN_PROGRESS
    if isinstance(obj, PickledSparse):
        out = sparse_from_pickled(obj, where)
    elif isinstance(obj, dict):
        out = {k: _walk(v, _item(where, k), done) for k, v in obj.items()}
    elif isinstance(obj, (list, tuple)):
        out = [_walk(v, _item(where, i), done) for i, v in enumerate(obj)]
        out = out if isinstance(obj, list) else tuple(out)
    elif isinstance(obj, ChumpyData):
        obj.state = _walk(obj.state, where, done)
        out = obj
    else:
        out = np.empty(obj.shape, dtype=object)
        flat = out.reshape(-1)
        for i, v in enumerate(obj.reshape(-1)):
            flat[i] = _walk(v, _item(where, i), done)
    done[key] = out
    return out


def _item(where: str, key: Any) -> str:
    """The name of ``key`` below ``where``, for messages."""
    if where != "matrix":
        return f"{where}[{key!r}]"
    return repr(key) if isinstance(key, str) else f"matrix [{key!r}]"


_IN_PROGRESS = object()

"""SciPy sparse matrices from files, checked before SciPy touches them.

Unpickling a ``scipy.sparse`` matrix the usual way sets its arrays without
any check (or runs SciPy's property setters on them), and SciPy's compiled
routines (``todense``, ``tocoo``, ``reshape``) trust those arrays: a column
index of ``2**30``, or an ``indptr`` that points past the data, makes them
write out of bounds and crash the process. A shape read from a file sizes
SciPy's allocations (``coo -> csr`` allocates ``rows + 1`` offsets), so it
is bounded before anything is built.

So :class:`~bigraph_pyg.utils.safe_pickle.SafeUnpickler` never builds a
SciPy matrix itself: a pickled CSR, CSC or COO matrix becomes a
:class:`PickledSparse` holding the pickled state as data, and
:func:`sparse_from_pickled` checks that state and only then builds the
matrix. :func:`sparse_from_coordinates` does the same for the plain arrays
of an ``.npz``.
"""

from __future__ import annotations

import functools
import operator
from typing import Any

import numpy as np

__all__ = [
    "MAX_SPARSE_DIM",
    "PickledSparse",
    "check_sparse_shape",
    "pickled_sparse_class",
    "sparse_from_coordinates",
    "sparse_from_pickled",
]

#: Largest number of rows or columns accepted for a matrix read from a
#: file (a body mesh has thousands of vertices; ``rows + 1`` offsets of
#: this many are 80 MB).
MAX_SPARSE_DIM = 10**7

#: The formats read from pickles, and their compressed axis.
_FORMATS = {"csr_matrix": 0, "csc_matrix": 1, "coo_matrix": None}


class PickledSparse:
    """What a pickled sparse matrix becomes: its state, as data.

    Attributes:
        format (str): ``"csr_matrix"``, ``"csc_matrix"`` or ``"coo_matrix"``
            (set on the subclass of :func:`pickled_sparse_class`).
        state: the pickled attributes (a dict, if the file is sound).
    """

    format = ""

    def __init__(self, *args, **kwargs) -> None:
        # Called only by a pickle that calls the class (no SciPy pickle
        # does): arguments such as a huge ``(rows, cols)`` are not used.
        self.state = None

    def __setstate__(self, state) -> None:
        if (
            isinstance(state, tuple)
            and len(state) == 2
            and isinstance(state[0], (dict, type(None)))
            and isinstance(state[1], dict)
        ):  # (dict, slots): SciPy's setters are never run
            state = {**(state[0] or {}), **state[1]}
        self.state = state


@functools.cache
def pickled_sparse_class(name: str) -> type[PickledSparse]:
    """The :class:`PickledSparse` subclass for a SciPy format ``name``.

    Args:
        name (str): ``"csr_matrix"``, ``"csc_matrix"`` or ``"coo_matrix"``.

    Returns:
        type: a class whose instances record ``name`` as their format.
    """
    if name not in _FORMATS:
        raise ValueError(f"Expected a format in {list(_FORMATS)} (got {name})")
    return type(name, (PickledSparse,), {"format": name})


def check_sparse_shape(shape: Any, where: str) -> tuple[int, int]:
    """Two ints in ``[0, MAX_SPARSE_DIM]``, or a ``ValueError``.

    Args:
        shape: The stored shape (a tuple, or an array of 2 integers).
        where (str): The matrix, for the message (e.g. ``"'J_regressor'
            in 'body.npz'"``).

    Returns:
        tuple[int, int]: the shape.

    Raises:
        ValueError: not two integers in range.
    """
    try:
        if isinstance(shape, np.ndarray):
            if shape.dtype.kind not in "iu":
                raise TypeError(f"dtype {shape.dtype}")
            shape = shape.tolist()
        dims = tuple(operator.index(s) for s in shape)
    except TypeError as err:
        raise ValueError(
            f"Expected sparse {where} with a shape of two integers (got "
            f"{shape!r}: {err})"
        ) from err
    if len(dims) != 2 or not all(0 <= d <= MAX_SPARSE_DIM for d in dims):
        raise ValueError(
            f"Expected sparse {where} with a shape of two integers in "
            f"[0, {MAX_SPARSE_DIM}] (got {dims})"
        )
    return dims


def _array(value: Any, name: str, kinds: str, where: str) -> np.ndarray:
    """A 1-D ndarray of one of the dtype ``kinds``, or a ``ValueError``."""
    if (
        type(value) is not np.ndarray
        or value.ndim != 1
        or value.dtype.kind not in kinds
    ):
        got = (
            f"dtype {value.dtype} and shape {value.shape}"
            if isinstance(value, np.ndarray)
            else type(value).__name__
        )
        raise ValueError(
            f"Expected sparse {where} with '{name}' a 1-D array of dtype "
            f"kind {kinds!r} (got {got})"
        )
    return value


def _check_range(index: np.ndarray, bound: int, name: str, where: str):
    if index.size and (index.min() < 0 or index.max() >= bound):
        raise ValueError(
            f"Expected sparse {where} with '{name}' in [0, {bound}) (got "
            f"values in [{index.min()}, {index.max()}])"
        )


def _check_lengths(data: np.ndarray, index: np.ndarray, where: str) -> None:
    if len(index) != len(data):
        raise ValueError(
            f"Expected sparse {where} with as many indices as values (got "
            f"{len(index)} indices, {len(data)} values)"
        )


def sparse_from_pickled(pickled: PickledSparse, where: str = "") -> Any:
    """Check a pickled matrix's state, then build the SciPy matrix.

    Checked: a bounded shape (:func:`check_sparse_shape`), 1-D integer
    index arrays and numeric values of one length, indices inside the
    shape, and for CSR/CSC an ``indptr`` of ``n + 1`` non-decreasing
    offsets from ``0`` to the number of values. Other pickled attributes
    are dropped.

    Args:
        pickled (PickledSparse): From the unpickler.
        where (str): The matrix, for messages.

    Returns:
        a ``scipy.sparse`` matrix of the pickled format.

    Raises:
        ValueError: a broken invariant (the message says which).
    """
    import scipy.sparse as sp

    state = pickled.state
    if not isinstance(state, dict):
        raise ValueError(
            f"Expected sparse {where} pickled as a dict of arrays (got "
            f"{type(state).__name__})"
        )
    shape = check_sparse_shape(state.get("_shape", state.get("shape")), where)
    data = _array(state.get("data"), "data", "biufc", where)
    axis = _FORMATS[pickled.format]
    if axis is None:  # COO: (row, col), or older SciPy's row and col
        coords = state.get("coords", (state.get("row"), state.get("col")))
        if not isinstance(coords, tuple) or len(coords) != 2:
            raise ValueError(
                f"Expected sparse {where} with 'coords' a (row, col) tuple "
                f"(got {type(coords).__name__})"
            )
        row = _array(coords[0], "row", "iu", where)
        col = _array(coords[1], "col", "iu", where)
        _check_lengths(data, row, where)
        _check_lengths(data, col, where)
        _check_range(row, shape[0], "row", where)
        _check_range(col, shape[1], "col", where)
        return sp.coo_matrix((data, (row, col)), shape=shape)
    indices = _array(state.get("indices"), "indices", "iu", where)
    indptr = _array(state.get("indptr"), "indptr", "iu", where)
    _check_lengths(data, indices, where)
    if (
        len(indptr) != shape[axis] + 1
        or indptr[0] != 0
        or indptr[-1] != len(data)
        or (np.diff(indptr) < 0).any()
    ):
        raise ValueError(
            f"Expected sparse {where} with 'indptr' of {shape[axis] + 1} "
            f"non-decreasing offsets from 0 to {len(data)} (got "
            f"{len(indptr)} offsets from {indptr[:1].tolist()} to "
            f"{indptr[-1:].tolist()})"
        )
    _check_range(indices, shape[1 - axis], "indices", where)
    return getattr(sp, pickled.format)((data, indices, indptr), shape=shape)


def sparse_from_coordinates(
    values: Any, index: Any, shape: Any, where: str
) -> Any:
    """A CSR matrix from ``.npz`` arrays, checked before it is built.

    Args:
        values: ``(nnz,)`` numeric values.
        index: ``(2, nnz)`` integer ``(row, col)`` pairs.
        shape: Two integers (see :func:`check_sparse_shape`).
        where (str): The matrix, for messages.

    Returns:
        scipy.sparse.csr_matrix: the matrix (duplicates summed).

    Raises:
        ValueError: a shape out of bounds, arrays of another shape or
            dtype, or indices outside the shape.
    """
    import scipy.sparse as sp

    dims = check_sparse_shape(shape, where)
    index = np.asarray(index)
    values = np.asarray(values)
    if (
        index.ndim != 2
        or index.shape[0] != 2
        or index.dtype.kind not in "iu"
        or values.shape != (index.shape[1],)
        or values.dtype.kind not in "biuf"
    ):
        raise ValueError(
            f"Expected sparse {where} with integer indices (2, nnz) and "
            f"numeric values (nnz,) (got indices {index.shape} "
            f"{index.dtype}, values {values.shape} {values.dtype})"
        )
    _check_range(index[0], dims[0], "row", where)
    _check_range(index[1], dims[1], "col", where)
    return sp.coo_matrix((values, (index[0], index[1])), shape=dims).tocsr()

"""An unpickler that builds plain data and nothing else.

SMPL model files (``.pkl``) and GraphCMR's ``mesh_downsampling.npz``
(object arrays) are pickles written with NumPy, SciPy sparse matrices and,
for SMPL, chumpy arrays. A pickle can name any callable; a whole-module
allow-list (``numpy.*``) still admits ``numpy.testing``'s ``runstring``,
which is ``exec``. :class:`SafeUnpickler` resolves only the exact globals of
:data:`ALLOWED` (array reconstruction, the three sparse formats, builtin
containers) and maps every chumpy class to a data holder that keeps the
pickled state and runs nothing.
"""

from __future__ import annotations

import pickle

__all__ = ["ALLOWED", "SafeUnpickler"]

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
    """

    chumpy = ChumpyData

    def find_class(self, module: str, name: str):
        """Resolve an allowed global; refuse every other one."""
        if module.split(".")[0] == "chumpy":
            return self.chumpy
        if module.startswith("scipy.sparse") and name in _SPARSE:
            import scipy.sparse as sp

            return getattr(sp, name)
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

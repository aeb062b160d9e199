r"""GraphCMR's mesh down- and up-sampling file, read without ``psbody``.

:func:`load_graphcmr_sampling` reads GraphCMR's ``mesh_downsampling.npz``
(object arrays of pickled scipy sparse matrices) with
:class:`~bigraph_pyg.utils.safe_pickle.SafeUnpickler` (an exact allow-list:
array reconstruction, the sparse formats, containers), and returns the
operators as torch sparse tensors; ``MeshSampler.from_graphcmr`` in
``bigraph_pyg.topology.sampling`` builds on it.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from bigraph_pyg.utils.safe_pickle import UNPICKLING_ERRORS, SafeUnpickler

__all__ = ["load_graphcmr_sampling"]


def _scipy_to_torch(mat) -> Tensor:
    coo = mat.tocoo()
    index = torch.from_numpy(np.stack([coo.row, coo.col]).astype(np.int64))
    values = torch.from_numpy(np.asarray(coo.data, dtype=np.float32))
    return torch.sparse_coo_tensor(
        index, values, coo.shape, check_invariants=True
    ).coalesce()


def _read_matrices(
    zf: zipfile.ZipFile, member: str, key: str, path: Path
) -> list[Tensor]:
    """One object array of scipy sparse matrices, as sparse COO tensors."""
    with zf.open(member) as fp:
        version = np.lib.format.read_magic(fp)
        read_header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        _, _, dtype = read_header(fp)
        if not dtype.hasobject:
            raise ValueError(
                f"Expected an object array of sparse matrices for "
                f"'{key}' (got dtype {dtype})"
            )
        try:
            arr = SafeUnpickler(fp, encoding="latin1").load()
        except UNPICKLING_ERRORS as err:  # a refused global, a broken matrix
            raise ValueError(
                f"Expected sparse matrices in '{key}' of "
                f"'{path}' (got {type(err).__name__}: {err})"
            ) from err
    found = list(np.asarray(arr).ravel())
    if not all(hasattr(m, "tocoo") for m in found):
        raise ValueError(
            f"Expected sparse matrices in '{key}' of '{path}' (got "
            f"{sorted({type(m).__name__ for m in found})})"
        )
    return [_scipy_to_torch(m) for m in found]


def load_graphcmr_sampling(
    path: str | Path,
) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
    r"""Read GraphCMR's ``mesh_downsampling.npz`` without ``psbody``.

    The file holds object arrays ``A``, ``D``, ``U`` of scipy sparse
    matrices (pickled). They are read with a restricted unpickler that
    accepts numpy and scipy classes only.

    Args:
        path (str or Path): The ``.npz`` file.

    Returns:
        (list[Tensor], list[Tensor], list[Tensor]): sparse COO float32
        adjacencies ``A_l`` ``(N_l, N_l)``, downsampling ``D_l``
        ``(N_{l+1}, N_l)`` and upsampling ``U_l`` ``(N_l, N_{l+1})``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: a key is missing or the shapes do not chain.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"Expected GraphCMR's 'mesh_downsampling.npz' at '{path}' "
            "(got no such file)"
        )
    out = {}
    with zipfile.ZipFile(path) as zf:
        names = {n.removesuffix(".npy"): n for n in zf.namelist()}
        missing = [k for k in ("A", "D", "U") if k not in names]
        if missing:
            raise ValueError(
                f"Expected keys 'A', 'D', 'U' in '{path}' (got {sorted(names)})"
            )
        for key in ("A", "D", "U"):
            out[key] = _read_matrices(zf, names[key], key, path)
    a, d, u = out["A"], out["D"], out["U"]
    if len(d) != len(u) or len(a) != len(d) + 1:
        raise ValueError(
            f"Expected len(A) == len(D) + 1 == len(U) + 1 "
            f"(got {len(a)}, {len(d)}, {len(u)})"
        )
    for i, (dd, uu) in enumerate(zip(d, u, strict=False)):
        n, m = a[i].size(0), a[i + 1].size(0)
        if tuple(dd.shape) != (m, n) or tuple(uu.shape) != (n, m):
            raise ValueError(
                f"Expected D[{i}] of shape {(m, n)} and U[{i}] of shape "
                f"{(n, m)} (got {tuple(dd.shape)} and {tuple(uu.shape)})"
            )
    return a, d, u

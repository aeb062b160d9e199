"""Write a fake SMPL-format file: right keys and shapes, random values.

Lets tests exercise the real SMPL loading path (our reader and smplx's own
``pickle.load``) without the licensed model. The values mean nothing.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

__all__ = ["write_fake_smpl"]

_PARENTS = [
    -1,
    0,
    0,
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    9,
    9,
    12,
    13,
    14,
    16,
    17,
    18,
    19,
    20,
    21,
]


def write_fake_smpl(
    path: str | Path,
    num_vertices: int = 6890,
    num_betas: int = 10,
    seed: int = 0,
    drop_keys: tuple[str, ...] = (),
) -> Path:
    """Write a SMPL-format pickle laid out like the official release.

    ``J_regressor`` is a scipy CSC matrix, ``kintree_table`` uint32 with
    ``2**32 - 1`` for the root, ``f`` uint32, floats float64.

    Args:
        path (str or Path): File to write (a folder gets
            ``SMPL_NEUTRAL.pkl``).
        num_vertices (int): ``V``. (default: ``6890``)
        num_betas (int): Shape directions. (default: ``10``)
        seed (int): Random seed. (default: ``0``)
        drop_keys (tuple[str, ...]): Keys to leave out (error tests).

    Returns:
        Path: the written file.
    """
    import scipy.sparse as sp

    path = Path(path)
    if path.is_dir():
        path = path / "SMPL_NEUTRAL.pkl"
    rng = np.random.default_rng(seed)
    nv, nj = num_vertices, 24
    a = rng.integers(0, nv, size=2 * nv)
    faces = np.stack([a, (a + 1) % nv, (a + 2) % nv], axis=1)
    reg = rng.random((nj, nv)) * (rng.random((nj, nv)) < 0.01)
    reg[:, 0] += 1e-3
    reg /= reg.sum(axis=1, keepdims=True)
    weights = rng.random((nv, nj))
    weights /= weights.sum(axis=1, keepdims=True)
    kintree = np.array([_PARENTS, list(range(nj))], dtype=np.int64)
    kintree[0, 0] = 2**32 - 1
    data = {
        "v_template": rng.normal(size=(nv, 3)) * 0.3,
        "f": faces.astype(np.uint32),
        "J_regressor": sp.csc_matrix(reg),
        "weights": weights,
        "shapedirs": rng.normal(size=(nv, 3, num_betas)) * 0.01,
        "posedirs": rng.normal(size=(nv, 3, 9 * (nj - 1))) * 1e-3,
        "kintree_table": kintree.astype(np.uint32),
        "J": rng.normal(size=(nj, 3)),
        "bs_style": "lbs",
        "bs_type": "lrotmin",
    }
    for key in drop_keys:
        data.pop(key)
    with open(path, "wb") as fh:
        pickle.dump(data, fh, protocol=2)
    return path

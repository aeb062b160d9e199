r"""The GraphCMR ``.npz`` format of the real datasets (paper Sec. 5.1).

GraphCMR (``nkolot/GraphCMR: datasets/preprocess/``) stores every dataset as
one ``.npz`` of plain arrays over ``N`` people, next to an image folder:

========== ============ ==================================================
key        shape        meaning
========== ============ ==================================================
imgname    (N,) str     image path relative to the image folder
center     (N, 2)       box centre, pixels
scale      (N,)         box side / 200 (pixels)
part       (N, 24, 3)   2D joints (x, y, visibility), GraphCMR's 24-joint
                        order whose first 14 are LSP's (our 12 first)
S          (N, 24, 4)   *optional* 3D joints, metres, camera frame, + conf
pose       (N, 72)      *optional* SMPL axis-angle
shape      (N, 10)      *optional* SMPL betas
has_smpl   (N,)         *optional* 1 where pose/shape are valid
maskname   (N,) str     *optional* person mask image (LSP test)
partname   (N,) str     *optional* part label image (LSP test)
========== ============ ==================================================

:func:`load_graphcmr_npz` reads one such file and checks it up front (keys,
shapes, finiteness, image names that stay inside the image folder), naming
the file and the key; :class:`~bigraph_pyg.data.GraphCMRDataset`
(:mod:`bigraph_pyg.data.graphcmr_dataset`) is the dataset over it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from bigraph_pyg.topology import JOINT_NAMES
from bigraph_pyg.utils.io import load_npz, resolve_inside

__all__ = ["load_graphcmr_npz"]

_NUM = len(JOINT_NAMES)
#: The keys that hold numbers (the others hold file names).
_NUMERIC = ("center", "scale", "part", "S", "pose", "shape", "has_smpl")


def _shape_ok(shape: tuple, expected: tuple) -> bool:
    return len(shape) == len(expected) and all(
        e is None or s == e for s, e in zip(shape, expected, strict=True)
    )


def load_graphcmr_npz(
    path: str | os.PathLike,
    img_dir: str | os.PathLike,
    allow_pickle: bool = False,
) -> dict:
    """Read a GraphCMR ``.npz`` and check it before any image is opened.

    Args:
        path (str or PathLike): The ``.npz`` file.
        img_dir (str or PathLike): Folder ``imgname`` (``maskname``,
            ``partname``) is relative to.
        allow_pickle (bool): Let ``np.load`` read object arrays (only for
            files you trust). (default: :obj:`False`)

    Returns:
        dict: the file's arrays (the keys of the table above), with the
        names as ``str`` and ``has_smpl`` (ones) added where ``pose``
        comes without it.

    Raises:
        FileNotFoundError: ``path`` missing.
        ValueError: a truncated or corrupted file, missing keys, wrong
            shapes, text where numbers belong, non-finite or non-positive
            boxes, NaN keypoints,
            object arrays without ``allow_pickle``, or a name that is
            absolute or escapes ``img_dir`` with ``..`` (each message names
            the file and key).
    """
    path = Path(path)
    data = load_npz(
        path,
        "a GraphCMR .npz file",
        required=("imgname", "center", "scale", "part"),
        allow_pickle=allow_pickle,
        hint="see docs/data.md for how to prepare it",
    )
    _check_shapes(data, path)
    _check_finite(data, path)
    if "pose" in data and "has_smpl" not in data:
        data["has_smpl"] = np.ones(len(data["imgname"]), np.float32)
    _check_names(data, Path(img_dir), path)
    return data


def _check_shapes(data: dict, path: Path) -> None:
    """Every array over the same ``N`` people, joints enough, SMPL whole."""
    n = len(data["imgname"])
    expected = {
        "imgname": (n,),
        "center": (n, 2),
        "scale": (n,),
        "part": (n, None, 3),
        "S": (n, None, 4),
        "pose": (n, 72),
        "shape": (n, 10),
        "has_smpl": (n,),
        "maskname": (n,),
        "partname": (n,),
    }
    for key, shape in expected.items():
        if key in data and not _shape_ok(data[key].shape, shape):
            pretty = tuple("K" if s is None else s for s in shape)
            raise ValueError(
                f"Expected '{key}' of shape {pretty} in {path} (got "
                f"{data[key].shape})"
            )
    for key in _NUMERIC:
        if key in data and not (
            np.issubdtype(data[key].dtype, np.number) or data[key].dtype == bool
        ):
            raise ValueError(
                f"Expected numbers in '{key}' of {path} (got dtype "
                f"{data[key].dtype})"
            )
    for key in ("part", "S"):
        if key in data and data[key].shape[1] < _NUM:
            raise ValueError(
                f"Expected at least {_NUM} joints in '{key}' of {path} "
                f"(got {data[key].shape[1]})"
            )
    if ("pose" in data) != ("shape" in data):
        raise ValueError(
            f"Expected both 'pose' and 'shape' or neither in {path} "
            f"(got only {'pose' if 'pose' in data else 'shape'})"
        )


def _check_finite(data: dict, path: Path) -> None:
    """Finite, positive boxes; finite keypoints and SMPL parameters."""
    bad = (
        ~np.isfinite(data["center"]).all(1)
        | ~np.isfinite(data["scale"])
        | (data["scale"] <= 0)
    )
    if bad.any():
        idx = np.flatnonzero(bad)
        raise ValueError(
            f"Expected finite centres and positive scales in {path} "
            f"(got {len(idx)} bad boxes, first at indices "
            f"{idx[:5].tolist()})"
        )
    for key, cols in (("part", 3), ("S", 4)):
        if key in data:
            arr = data[key][:, :_NUM, :cols]
            nan = ~np.isfinite(arr).all(axis=(1, 2))
            if nan.any():
                idx = np.flatnonzero(nan)
                raise ValueError(
                    f"Expected finite keypoints in '{key}' of {path} "
                    f"(got NaN/inf in {len(idx)} samples, first at "
                    f"indices {idx[:5].tolist()})"
                )
    for key in ("pose", "shape"):
        if key in data and not np.isfinite(data[key]).all():
            idx = np.flatnonzero(~np.isfinite(data[key]).all(1))
            raise ValueError(
                f"Expected finite '{key}' in {path} (got NaN/inf at "
                f"indices {idx[:5].tolist()})"
            )


def _check_names(data: dict, img_dir: Path, path: Path) -> None:
    """Names as ``str``, each inside ``img_dir`` (no absolute, no ``..``)."""
    for key in ("imgname", "maskname", "partname"):
        if key in data:
            data[key] = data[key].astype(str)
            for i, name in enumerate(data[key]):
                # Refused here, before any image is opened.
                resolve_inside(img_dir, name, f"'{key}'[{i}] of {path}")

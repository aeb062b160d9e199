"""SMPL-format body arrays: the keys a body must provide, and their checks.

:func:`check_body_arrays` validates the arrays of a body file (SMPL's or
the default body's) before :class:`~bigraph_pyg.body.BodyModel` builds
``smplx.SMPLLayer`` from them, naming the file in every message.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from bigraph_pyg.topology.mesh import check_faces

__all__ = ["REQUIRED_KEYS", "check_body_arrays"]

#: Keys a SMPL-format body must provide (``posedirs`` may be absent: zeros).
REQUIRED_KEYS: tuple[str, ...] = (
    "v_template",
    "f",
    "J_regressor",
    "weights",
    "shapedirs",
    "kintree_table",
)


def _shape(a) -> tuple[int, ...]:
    return tuple(np.shape(a)) if not hasattr(a, "shape") else tuple(a.shape)


def check_body_arrays(
    arrays: Mapping, source: str = "body", num_joints: int | None = None
) -> None:
    """Validate SMPL-format arrays (keys, shapes, index ranges).

    Args:
        arrays (Mapping): ``v_template (V, 3)``, ``f (F, 3)``,
            ``J_regressor (J, V)`` (dense or scipy sparse), ``weights
            (V, J)``, ``shapedirs (V, 3, K)``, ``kintree_table (2, J)``
            and optionally ``posedirs (V, 3, 9 (J - 1))``.
        source (str): Where the arrays come from (a file), for messages.
        num_joints (int, optional): The number of joints ``J`` required
            (24 for the SMPL tree the skeleton graph is built from); any
            ``J >= 1`` if :obj:`None`.

    Raises:
        ValueError: a missing key, a shape that does not match, a
            non-numeric array, a NaN or infinite value, or
            ``J != num_joints``; the message names ``source`` and the key.
        IndexError: faces or parents out of range.
    """
    missing = [k for k in REQUIRED_KEYS if k not in arrays]
    if missing:
        raise ValueError(
            f"Expected SMPL keys {list(REQUIRED_KEYS)} in {source} "
            f"(got {sorted(arrays)}; missing {missing})"
        )
    nv = _check_template_and_faces(arrays, source)
    nj = _check_joint_regressor(arrays, nv, source, num_joints)
    _check_skinning_and_blend_shapes(arrays, nv, nj, source)
    _check_values(arrays, source)
    _check_parents(arrays, nj, source)


def _check_template_and_faces(arrays: Mapping, source: str) -> int:
    """Check ``v_template (V, 3)`` and ``f (F, 3)``; return ``V``."""
    v = _shape(arrays["v_template"])
    if len(v) != 2 or v[1] != 3 or v[0] < 4:
        raise ValueError(
            f"Expected 'v_template' of shape (V, 3) in {source} (got {v})"
        )
    nv = v[0]
    try:
        faces = np.asarray(arrays["f"])
        if faces.dtype.kind not in "iu":
            raise ValueError(
                f"Expected 'f' of an integer dtype (got {faces.dtype})"
            )
        check_faces(torch.as_tensor(faces.astype(np.int64)), nv, "f")
    except (ValueError, IndexError) as err:
        raise type(err)(f"{err} in {source}") from err
    return nv


def _check_joint_regressor(
    arrays: Mapping, nv: int, source: str, num_joints: int | None
) -> int:
    """Check ``J_regressor (J, V)`` against ``num_joints``; return ``J``."""
    jr = _shape(arrays["J_regressor"])
    if len(jr) != 2 or jr[1] != nv:
        raise ValueError(
            f"Expected 'J_regressor' of shape (J, {nv}) to match "
            f"'v_template' in {source} (got {jr})"
        )
    nj = jr[0]
    if num_joints is not None and nj != num_joints:
        raise ValueError(
            f"Expected 'J_regressor' with {num_joints} rows (SMPL's "
            f"{num_joints} joints, which the skeleton graph is built from) "
            f"in {source} (got {nj} joints, shape {jr})"
        )
    if nj < 1:
        raise ValueError(
            f"Expected 'J_regressor' with at least one row in {source} "
            f"(got shape {jr})"
        )
    return nj


def _check_skinning_and_blend_shapes(
    arrays: Mapping, nv: int, nj: int, source: str
) -> None:
    """Check the skinning weights, the tree and the blend shapes."""
    expected = {
        "weights": (nv, nj),
        "kintree_table": (2, nj),
    }
    for key, shape in expected.items():
        if _shape(arrays[key]) != shape:
            raise ValueError(
                f"Expected '{key}' of shape {shape} in {source} (got "
                f"{_shape(arrays[key])})"
            )
    sd = _shape(arrays["shapedirs"])
    if len(sd) != 3 or sd[:2] != (nv, 3) or sd[2] < 1:
        raise ValueError(
            f"Expected 'shapedirs' of shape ({nv}, 3, K) in {source} (got {sd})"
        )
    if "posedirs" in arrays:
        pd = _shape(arrays["posedirs"])
        if pd != (nv, 3, 9 * (nj - 1)):
            raise ValueError(
                f"Expected 'posedirs' of shape {(nv, 3, 9 * (nj - 1))} "
                f"in {source} (got {pd})"
            )


def _check_values(arrays: Mapping, source: str) -> None:
    """Check that every array is numeric and finite (sparse: its values).

    A NaN in the template or the blend shapes would make every posed
    vertex NaN; a string array would fail deep inside ``smplx``.
    """
    for key in (*REQUIRED_KEYS, "posedirs"):
        if key not in arrays:
            continue
        value = arrays[key]
        value = value.data if hasattr(value, "tocsr") else np.asarray(value)
        if value.dtype.kind not in "biuf":
            raise ValueError(
                f"Expected '{key}' of a numeric dtype in {source} (got "
                f"{value.dtype})"
            )
        bad = ~np.isfinite(value)
        if bad.any():
            raise ValueError(
                f"Expected finite values in '{key}' in {source} (got "
                f"{int(bad.sum())} NaN or infinite, the first at index "
                f"{tuple(int(i) for i in np.argwhere(bad)[0])})"
            )


def _check_parents(arrays: Mapping, nj: int, source: str) -> None:
    """Check that every joint's parent comes before it in the tree."""
    parents = np.asarray(arrays["kintree_table"][0]).astype(np.int64)
    parents[0] = -1
    if ((parents[1:] < 0) | (parents[1:] >= np.arange(1, nj))).any():
        raise IndexError(
            "Expected 'kintree_table[0]' parents with parent[j] < j "
            f"in {source} (got {parents.tolist()})"
        )

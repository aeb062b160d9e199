"""Damaged or wrong body files fail at load, naming the file (issue 13)."""

import numpy as np
import pytest

from bigraph_pyg.body import (
    BodyModel,
    default_body_path,
    load_body_arrays,
    load_smpl,
    read_smpl_file,
)
from bigraph_pyg.testing.fake_smpl import write_fake_smpl
from bigraph_pyg.topology import BodyGraphs


def _plain_arrays(num_joints: int = 24) -> dict:
    """The default body as dense arrays, cut to ``num_joints`` joints."""
    a = load_body_arrays()
    j = num_joints
    return {
        "v_template": a["v_template"],
        "f": a["f"],
        "J_regressor": a["J_regressor"].toarray()[:j],
        "weights": a["weights"][:, :j],
        "shapedirs": a["shapedirs"],
        "kintree_table": a["kintree_table"][:, :j],
    }


def test_truncated_or_corrupted_body_npz_names_the_file(tmp_path):
    path = tmp_path / "SMPL_NEUTRAL.npz"
    data = default_body_path().read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        ValueError,
        match=r"SMPL-format \.npz body file at "
        r"'.*SMPL_NEUTRAL\.npz'.*truncated or corrupted",
    ):
        load_smpl(tmp_path)
    with pytest.raises(ValueError, match=r"SMPL_NEUTRAL\.npz.*readable"):
        load_body_arrays(path)
    flipped = bytearray(data)
    for i in range(len(data) // 3, len(data) // 3 + 64):
        flipped[i] ^= 0xFF
    path.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match=r"SMPL_NEUTRAL\.npz.*readable"):
        read_smpl_file(path)


def test_truncated_smpl_pickle_names_the_file(tmp_path):
    path = write_fake_smpl(tmp_path, num_vertices=50)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"SMPL pickle.*SMPL_NEUTRAL\.pkl"):
        load_smpl(tmp_path)


def test_body_with_16_joints_fails_at_load(tmp_path):
    path = tmp_path / "SMPL_NEUTRAL.npz"
    np.savez(path, **_plain_arrays(16))
    with pytest.raises(ValueError) as err:
        load_smpl(tmp_path)
    msg = str(err.value)
    assert "'J_regressor' with 24 rows" in msg
    assert "got 16 joints" in msg and str(path) in msg
    # Built directly (any joint count is a valid body), the graphs refuse
    # it with the joint count instead of an IndexError deep in torch.
    body = BodyModel(_plain_arrays(16), name="sixteen")
    with pytest.raises(
        ValueError,
        match=r"SMPL's joint order.*got 16 "
        r"joints in 'sixteen'",
    ):
        BodyGraphs.from_body(body)


def test_shape_errors_name_the_file(tmp_path):
    arrays = _plain_arrays()
    arrays["weights"] = arrays["weights"][:, :23]
    path = tmp_path / "SMPL_NEUTRAL.npz"
    np.savez(path, **arrays)
    with pytest.raises(
        ValueError,
        match=r"'weights' of shape \(6890, 24\) "
        r"in '.*SMPL_NEUTRAL\.npz'",
    ):
        load_smpl(tmp_path)
    arrays = _plain_arrays()
    arrays["f"] = arrays["f"].astype(np.float32)
    np.savez(path, **arrays)
    with pytest.raises(
        ValueError,
        match=r"'f' of an integer dtype.*"
        r"SMPL_NEUTRAL\.npz",
    ):
        load_smpl(tmp_path)
    arrays["f"] = np.array([[0, 1, 7000]])
    np.savez(path, **arrays)
    with pytest.raises(IndexError, match=r"'f' ids.*SMPL_NEUTRAL\.npz"):
        load_smpl(tmp_path)


def test_bad_sparse_regressor_names_the_file(tmp_path):
    with np.load(default_body_path()) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["J_regressor_indices"] = arrays["J_regressor_indices"] + 10**6
    path = tmp_path / "body.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=r"sparse 'J_regressor'.*body\.npz"):
        read_smpl_file(path)

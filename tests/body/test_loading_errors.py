"""Damaged or wrong body files fail at load, naming the file (issue 13)."""

import re

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


# -- issue 27: files a user hands the library --------------------------------

#: Loads each SMPL file given on the command line in this process and
#: prints one line per file: the error type and message, or "loaded". A
#: crash inside SciPy's compiled code would end the process (exit -11).
_LOAD_EACH = """
import sys
from bigraph_pyg.body import load_smpl
for path in sys.argv[1:]:
    try:
        load_smpl(path)
        print("loaded", flush=True)
    except Exception as err:
        print(type(err).__name__, str(err).replace(chr(10), " "), flush=True)
"""


def _crafted_sparse_pickles(folder) -> dict:
    """SMPL pickles of allow-listed pieces with broken sparse invariants."""
    import copyreg
    import pickle

    import scipy.sparse as sp

    class Reduce:  # pickles as whatever its reduce tuple says
        def __init__(self, *reduce):
            self.reduce = reduce

        def __reduce__(self):
            return self.reduce

    good = read_smpl_file(write_fake_smpl(folder / "good.pkl", 50))
    reg = good["J_regressor"].tocsr()
    state = dict(vars(reg))
    cases = {
        "indices": {**state, "indices": reg.indices.copy()},
        "indptr": {**state, "indptr": reg.indptr.copy()},
        "shape": {**state, "_shape": (10**13, 50)},
    }
    cases["indices"]["indices"][0] = 2**30
    cases["indptr"]["indptr"][-1] = reg.nnz + 10**6
    new = (copyreg._reconstructor, (sp.csr_matrix, object, None))
    regressors = {name: Reduce(*new, s) for name, s in cases.items()}
    # SciPy's own property setter run on unchecked arrays (slot state).
    regressors["setter"] = Reduce(*new, (cases["indices"], {"shape": (24, 50)}))
    # The class called with a huge (rows, cols): SciPy would allocate.
    regressors["called"] = Reduce(sp.csr_matrix, ((10**13, 50),))
    paths = {}
    for name, jr in regressors.items():
        paths[name] = folder / f"{name}.pkl"
        paths[name].write_bytes(
            pickle.dumps({**good, "J_regressor": jr}, protocol=2)
        )
    return paths


def test_crafted_sparse_matrix_is_refused_not_a_crash(tmp_path):
    """Issue 27: indices of 2**30 or an indptr past the data crashed the
    process (out-of-bounds write in SciPy's csr_todense)."""
    import subprocess
    import sys

    paths = _crafted_sparse_pickles(tmp_path)
    run = subprocess.run(
        [sys.executable, "-c", _LOAD_EACH, *map(str, paths.values())],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.strip().splitlines()
    assert len(lines) == len(paths), run.stdout
    expected = {
        "indices": r"'indices' in \[0, 50\) \(got values in \[0, 1073741824\]",
        "indptr": r"'indptr' of 25 non-decreasing offsets",
        "shape": r"shape of two integers in \[0, 10000000\]",
        "setter": r"'indices' in \[0, 50\)",
        "called": r"pickled as a dict of arrays \(got NoneType\)",
    }
    for (name, path), line in zip(paths.items(), lines, strict=True):
        assert line.startswith("ValueError"), (name, line)
        assert str(path) in line and "'J_regressor'" in line, (name, line)
        assert re.search(expected[name], line), (name, line)


def test_huge_sparse_shape_in_npz_is_refused_before_allocation(tmp_path):
    """Issue 27: a stored shape of 10**13 rows was a MemoryError of
    "72.8 TiB" (SciPy's coo -> csr offsets)."""
    with np.load(default_body_path()) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["J_regressor_shape"] = np.array([10**13, 6890])
    path = tmp_path / "body.npz"
    np.savez(path, **arrays)
    with pytest.raises(
        ValueError,
        match=r"sparse 'J_regressor' in '.*body\.npz' with a shape of two "
        r"integers in \[0, 10000000\] \(got \(10000000000000, 6890\)\)",
    ):
        read_smpl_file(path)
    arrays["J_regressor_shape"] = np.array([24.0, np.inf])
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=r"two integers \(got .*float64"):
        read_smpl_file(path)


@pytest.mark.parametrize(
    "key, index",
    [("v_template", (3, 1)), ("shapedirs", (7, 2, 4)), ("J_regressor", None)],
)
def test_nan_in_smpl_file_is_refused(tmp_path, key, index):
    """Issue 27: a NaN vertex loaded silently; every posed vertex was NaN."""
    import pickle

    data = read_smpl_file(write_fake_smpl(tmp_path / "a.pkl", 50))
    if index is None:  # a sparse matrix: one of its stored values
        data[key].data[5] = np.inf
    else:
        data[key][index] = np.nan
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    path.write_bytes(pickle.dumps(data, protocol=2))
    with pytest.raises(
        ValueError, match=rf"finite values in '{key}' in '.*SMPL_NEUTRAL\.pkl'"
    ):
        load_smpl(path)


def test_string_array_in_body_file_names_file_and_key(tmp_path):
    arrays = _plain_arrays()
    arrays["shapedirs"] = arrays["shapedirs"].astype(str)
    path = tmp_path / "SMPL_NEUTRAL.npz"
    np.savez(path, **arrays)
    with pytest.raises(
        ValueError,
        match=r"'shapedirs' of a numeric dtype in '.*SMPL_NEUTRAL\.npz' "
        r"\(got <U",
    ):
        load_smpl(tmp_path)


def test_chumpy_object_without_x_names_file_and_key(tmp_path, monkeypatch):
    import pickle
    import sys
    import types

    mod = types.ModuleType("chumpy.ch")

    class Ch:  # a stand-in chumpy class whose state has no "x"
        def __init__(self):
            self.y = 1

    Ch.__module__, Ch.__qualname__, mod.Ch = "chumpy.ch", "Ch", Ch
    monkeypatch.setitem(sys.modules, "chumpy", types.ModuleType("chumpy"))
    monkeypatch.setitem(sys.modules, "chumpy.ch", mod)
    data = read_smpl_file(write_fake_smpl(tmp_path / "a.pkl", 50))
    data["v_template"] = Ch()
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    path.write_bytes(pickle.dumps(data, protocol=2))
    monkeypatch.delitem(sys.modules, "chumpy.ch")
    monkeypatch.delitem(sys.modules, "chumpy")
    with pytest.raises(
        ValueError,
        match=r"chumpy array with an \"x\" field for 'v_template' in "
        r"'.*SMPL_NEUTRAL\.pkl' \(got fields \['y'\]\)",
    ):
        load_smpl(path)


def _npy_header_declaring(shape) -> bytes:
    """An ``.npy`` header declaring ``shape`` float64, then 64 bytes."""
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f8", "fortran_order": False, "shape": shape}
    )
    return buf.getvalue() + bytes(64)


def test_npz_member_declaring_a_huge_array_is_refused(tmp_path):
    """NumPy allocates what a header declares before reading: a 300-byte
    file was a MemoryError of "72.8 TiB"."""
    import zipfile

    path = tmp_path / "SMPL_NEUTRAL.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("v_template.npy", _npy_header_declaring((10**13,)))
    with pytest.raises(
        ValueError,
        match=r"SMPL_NEUTRAL\.npz' to be a readable \.npz archive.*"
        r"v_template\.npy to hold the 80000000000000 bytes its header "
        r"declares .*\(got 64\)",
    ):
        load_smpl(tmp_path)

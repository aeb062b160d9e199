"""The H36M regressor file: read through the library's reader (issue 27)."""

import numpy as np
import pytest
import torch

from bigraph_pyg.engine import load_h36m_regressor


def _regressor(rows: int = 17) -> np.ndarray:
    reg = np.random.default_rng(0).random((rows, 6890))
    return reg / reg.sum(axis=1, keepdims=True)


def test_h36m_regressor_reads_17_or_14_rows(tmp_path):
    path = tmp_path / "J_regressor_h36m.npy"
    np.save(path, _regressor(17))
    reg = load_h36m_regressor(path)
    assert reg.shape == (12, 6890) and reg.dtype == torch.float32
    np.save(path, _regressor(14))
    torch.testing.assert_close(
        load_h36m_regressor(path), torch.as_tensor(_regressor(14)[:12]).float()
    )


def test_h36m_regressor_bad_files_name_the_file(tmp_path):
    """Issue 27: an .npz, an object array or a truncated file gave numpy's
    error without the file."""
    path = tmp_path / "J_regressor_h36m.npy"
    with pytest.raises(FileNotFoundError, match=r"GraphCMR's data download"):
        load_h36m_regressor(path)
    np.savez(tmp_path / "reg.npz", reg=_regressor())
    (tmp_path / "reg.npz").rename(path)  # an .npz under the .npy name
    with pytest.raises(
        ValueError, match=r"J_regressor_h36m\.npy' to be a readable \.npy "
    ) as info:
        load_h36m_regressor(path)
    assert "NpzFile archive, not one array" in str(info.value)
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(
        ValueError, match=r"plain \(non-object\) array in .*_h36m\.npy"
    ):
        load_h36m_regressor(path)
    np.save(path, _regressor())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        ValueError, match=r"_h36m\.npy' to be a readable \.npy array.*bytes"
    ):
        load_h36m_regressor(path)
    path.write_bytes(b"not numpy at all")
    with pytest.raises(ValueError, match=r"_h36m\.npy' to be a readable"):
        load_h36m_regressor(path)


def test_h36m_regressor_declaring_a_huge_array_is_refused(tmp_path):
    """NumPy allocates what the header declares before reading the data: a
    small file declaring (17, 10**12) values was a MemoryError."""
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f8", "fortran_order": False, "shape": (17, 10**12)}
    )
    path = tmp_path / "J_regressor_h36m.npy"
    path.write_bytes(buf.getvalue() + bytes(64))
    with pytest.raises(
        ValueError,
        match=r"_h36m\.npy' to be a readable \.npy array.*to hold the "
        r"136000000000000 bytes its header declares",
    ):
        load_h36m_regressor(path)


def test_h36m_regressor_bad_values_name_the_file(tmp_path):
    path = tmp_path / "J_regressor_h36m.npy"
    np.save(path, _regressor(16))
    with pytest.raises(ValueError, match=r"\(17, V\).*got shape \(16, 6890"):
        load_h36m_regressor(path)
    np.save(path, _regressor().astype(str)[:, :4])
    with pytest.raises(ValueError, match=r"numeric regressor in .*got dtype"):
        load_h36m_regressor(path)
    reg = _regressor()
    reg[3, 5] = np.nan
    np.save(path, reg)
    with pytest.raises(ValueError, match=r"finite values in .*_h36m\.npy"):
        load_h36m_regressor(path)

"""Package-level contracts: public names resolve, core imports stay light."""

import subprocess
import sys

import bigraph_pyg


def test_public_names_resolve():
    for name in bigraph_pyg.__all__:
        assert getattr(bigraph_pyg, name) is not None, name


def test_core_import_needs_no_optional_dependency():
    code = ("import sys, bigraph_pyg, bigraph_pyg.nn; "
            "print(sorted(m for m in ('torchvision', 'smplx', 'trimesh', "
            "'pyrender', 'skimage', 'fast_simplification') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == "[]"

"""Package-level contracts: public names resolve, core imports stay light."""

import subprocess
import sys

import bigraph_pyg


def test_public_names_resolve():
    for name in bigraph_pyg.__all__:
        assert getattr(bigraph_pyg, name) is not None, name


def test_core_import_needs_no_optional_dependency():
    code = (
        "import sys, bigraph_pyg, bigraph_pyg.nn; "
        "print(sorted(m for m in ('torchvision', 'smplx', 'trimesh', "
        "'pyrender', 'skimage', 'fast_simplification') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"


def test_missing_torchvision_names_its_extra():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['torchvision'] = None\n"
        "import bigraph_pyg\n"
        "from bigraph_pyg import MeshConv  # the core needs no extra\n"
        "try:\n"
        "    from bigraph_pyg import BiGraphBody\n"
        "except ModuleNotFoundError as err:\n"
        "    print(err)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    assert "pip install 'bigraph_pyg[train]'" in out

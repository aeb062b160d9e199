"""The benchmark scripts' ``--quick`` mode, and their equality check."""

import csv
import importlib.util
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name):
    """Import a benchmark script (``_common`` as the scripts import it)."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    if name == "_common":
        return importlib.import_module("_common")
    key = f"bench_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, paths",
    [
        (
            "fusion_sparse_vs_dense",
            {
                "dense",
                "blocks",
                "auto",
                "message",
                "sparse",
                "knn3",
                "layer:dense",
                "layer:auto",
            },
        ),
        (
            "mesh_conv",
            {
                "loop",
                "dense",
                "sparse",
                "message",
                "auto",
                "layer:graphcmr",
                "layer:auto",
            },
        ),
    ],
)
def test_quick_run_checks_every_path(name, paths, tmp_path):
    result = _load(name).main(["--quick", "--out-dir", str(tmp_path)])
    files = result["files"]
    for kind in ("csv", "md", "png"):
        assert files[kind].exists() and files[kind].stat().st_size > 0
    rows = _rows(files["csv"])
    assert {r["mode"] for r in rows} == {"fwd", "fwd+bwd"}
    timed = {r["path"] for r in rows if r["status"] == "ok"}
    assert paths <= timed
    for r in rows:
        if r["status"] == "ok":
            # agreed with the dense reference before it was timed
            assert float(r["max_rel_err"]) <= 1e-4
            assert float(r["median_ms"]) > 0
        else:
            assert r["status"] == "skipped (torch-sparse not installed)"
    md = files["md"].read_text()
    assert "torch_geometric" in md and "| N | B | C |" in md


def test_check_close_catches_wrong_values():
    common = _load("_common")
    want = [torch.ones(3, 4), torch.zeros(3, 4)]
    assert (
        common.check_close("ok", [w.clone() for w in want], want, 1e-4) == 0.0
    )
    bad = [torch.ones(3, 4), torch.zeros(3, 4)]
    bad[0][1, 2] = 1.01
    with pytest.raises(common.MismatchError, match="output 0 differs"):
        common.check_close("bad", bad, want, 1e-4)
    with pytest.raises(common.MismatchError, match="missing"):
        common.check_close("no grad", [want[0], None], want, 1e-4)
    with pytest.raises(common.MismatchError, match="shape"):
        common.check_close("shape", [want[0], torch.zeros(4, 3)], want, 1e-4)
    nan = [torch.full((3, 4), float("nan")), want[1]]
    with pytest.raises(common.MismatchError):
        common.check_close("nan", nan, want, 1e-4)


class _DoubleGrad(torch.autograd.Function):
    """Identity forward, wrong (doubled) backward."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        return 2 * g


@pytest.mark.parametrize("mode", ["fwd", "fwd+bwd"])
def test_measure_rejects_a_wrong_path(mode):
    """A path that skips the row normalisation, or whose backward is wrong,
    is caught before it is timed."""
    mesh = _load("mesh_conv")
    common = _load("_common")
    from bigraph_pyg.testing import random_graph

    n, c = 12, 5
    ei, ew = random_graph(n, 40)
    adj = torch.zeros(n, n).index_put((ei[1], ei[0]), ew, accumulate=True)
    lin_w, bias = torch.randn(c, c), torch.randn(c)
    x = torch.randn(3, n, c, requires_grad=True)
    grad_out = torch.randn(3, n, c)

    def reference(kind, xc, gc):
        return mesh.reference_outputs(kind, ei, ew, n, xc, gc, lin_w, bias)

    budget = common.Budget(max_run_s=10.0, max_mem_mb=1e4)
    paths, _ = mesh.build_paths(
        ei, ew, n, 3, c, ["loop", "sparse"], "cpu", lin_w, bias
    )
    for path in paths:  # the real paths pass
        row = common.measure(
            path,
            x,
            grad_out,
            mode,
            3,
            reference,
            budget,
            torch.device("cpu"),
            rtol=1e-4,
            repeats=3,
            target_s=0.01,
        )
        assert row["status"] == "ok"
    unnormalised = common.BenchPath("raw", lambda x: adj @ x, [], "prop")
    with pytest.raises(common.MismatchError, match="raw"):
        common.measure(
            unnormalised,
            x,
            grad_out,
            mode,
            3,
            reference,
            budget,
            torch.device("cpu"),
            rtol=1e-4,
        )
    if mode == "fwd+bwd":
        sparse = paths[1]
        wrong_grad = common.BenchPath(
            "wrong_grad", lambda x: sparse.fn(_DoubleGrad.apply(x)), [], "prop"
        )
        with pytest.raises(common.MismatchError, match="output 1 differs"):
            common.measure(
                wrong_grad,
                x,
                grad_out,
                mode,
                3,
                reference,
                budget,
                torch.device("cpu"),
                rtol=1e-4,
            )


@pytest.mark.slow
def test_model_throughput_quick_with_bfloat16(tmp_path):
    result = _load("model_throughput").main(
        [
            "--quick",
            "--precisions",
            "float32",
            "bfloat16",
            "--out-dir",
            str(tmp_path),
        ]
    )
    rows = result["rows"]
    keys = {(r["model"], r["mode"], r["precision"]) for r in rows}
    assert keys == {
        (m, mode, p)
        for m in ("BiGraphBody", "GraphCMR")
        for mode in ("train", "inference")
        for p in ("float32", "bfloat16")
    }
    for r in rows:
        assert r["median_ms"] > 0
        if r["precision"] == "float32":
            assert r["speedup"] == 1.0
        else:  # the float32 row's time over this one's, same run
            ref = next(
                x["median_ms"]
                for x in rows
                if (x["model"], x["mode"], x["precision"])
                == (r["model"], r["mode"], "float32")
            )
            assert r["speedup"] == round(ref / r["median_ms"], 2)
    assert "speed-up vs float32" in result["files"]["md"].read_text()

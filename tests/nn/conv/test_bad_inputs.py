"""Bad inputs into the three layers: a clear error or the right answer.

One test per row of the reliability table (issue #13, layer side).
"""

import pytest
import torch

from bigraph_pyg.nn import BipartiteFusionConv, MeshConv, SkeletonConv
from bigraph_pyg.testing import complete_bipartite_graph, random_graph

J, V = 3, 5
N = J + V


def _layers():
    """(name, conv factory, x shape, graph) for each layer and path."""
    mesh = random_graph(10, 30, seed=1)
    skel = random_graph(12, 20, seed=2)
    _, f_ei, f_w = complete_bipartite_graph(J, V, seed=3)
    e = f_ei.size(1)
    cases = []
    for impl in ("sparse", "message", "dense"):
        cases.append(
            (f"mesh-{impl}", lambda i=impl: MeshConv(4, 3, impl=i), 10, mesh)
        )
        cases.append(
            (
                f"skeleton-{impl}",
                lambda i=impl: SkeletonConv(4, 3, impl=i),
                12,
                skel,
            )
        )
    for impl in ("sparse", "message", "dense", "blocks"):
        cases.append(
            (
                f"fusion-{impl}",
                lambda i=impl: BipartiteFusionConv(
                    4, 3, num_edges=e, impl=i, num_joints=J
                ),
                N,
                (f_ei, f_w),
            )
        )
    return cases


CASES = _layers()
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_layers_on_cpu(case, dtype):
    # CPU sparse kernels lack Half/BFloat16: the product runs in float32.
    _, make, n, (ei, w) = case
    conv = make()
    x = torch.randn(2, n, 4)
    ref = conv(x, ei, w)
    half = conv.to(dtype)
    out = half(x.to(dtype), ei, w)
    assert out.dtype == dtype
    assert torch.allclose(out.float(), ref, atol=5e-2, rtol=5e-2)
    out.float().sum().backward()
    assert half.lin.weight.grad is not None


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize(
    "dtype", [torch.float16, torch.bfloat16, torch.float64]
)
def test_input_dtype_other_than_layer(case, dtype):
    _, make, n, (ei, w) = case
    with pytest.raises(
        ValueError,
        match=r"Expected `x` of the layer's "
        r"dtype torch.float32 \(got " + str(dtype),
    ):
        make()(torch.randn(2, n, 4, dtype=dtype), ei, w)


def test_autocast_input_is_accepted():
    ei, w = random_graph(10, 30, seed=1)
    conv = MeshConv(4, 3)
    x = torch.randn(2, 10, 4, dtype=torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = conv(x, ei, w)
    assert out.shape == (2, 10, 3)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_empty_batch(case):
    _, make, n, (ei, w) = case
    conv = make()
    x = torch.randn(0, n, 4, requires_grad=True)
    out = conv(x, ei, w)
    assert out.shape == (0, n, 3)
    out.sum().backward()
    assert x.grad.shape == x.shape


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_device_mismatch(case):
    # "meta" stands in for a second device on a CPU-only machine.
    _, make, n, (ei, w) = case
    conv = make()
    x = torch.randn(2, n, 4)
    with pytest.raises(
        ValueError,
        match=r"graph \(`edge_index`\) on the "
        r"device of `x` \(cpu\) \(got meta\)",
    ):
        conv(x, ei.to("meta"), w.to("meta"))
    with pytest.raises(
        ValueError,
        match=r"`edge_weight` on the device of "
        r"`edge_index` \(cpu\) \(got meta\)",
    ):
        conv(x, ei, w.to("meta"))
    with pytest.raises(
        ValueError,
        match=r"`x` on the layer's device cpu "
        r"\(got meta\)",
    ):
        conv(x.to("meta"), ei, w)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_bool_edge_index_is_refused(case):
    _, make, n, (ei, w) = case
    with pytest.raises(
        ValueError,
        match=r"`edge_index` of an integer dtype "
        r"\(got torch.bool\)",
    ):
        make()(torch.randn(2, n, 4), ei.bool(), w)


def test_validation_switch_is_per_thread():
    """Switching validation off in one thread leaves another's on, and
    interleaved blocks restore each thread's own state."""
    import threading

    from bigraph_pyg.nn import validation, validation_enabled

    seen = {}
    inside, release = threading.Event(), threading.Event()

    def worker():
        with validation(False):
            inside.set()
            release.wait(5)
            seen["worker"] = validation_enabled()
        seen["worker_after"] = validation_enabled()

    t = threading.Thread(target=worker)
    t.start()
    inside.wait(5)
    seen["main"] = validation_enabled()
    release.set()
    t.join(5)
    assert seen == {"main": True, "worker": False, "worker_after": True}


def test_graph_first_seen_unvalidated_is_checked_later():
    """A bad graph cached while validation was off is still refused at its
    first use with validation on; `.data =` reassignment is seen."""
    from bigraph_pyg.nn import MeshConv, validation

    conv = MeshConv(3, 2)
    edge_index = torch.tensor([[0, 1, 2, 1], [1, 2, 0, 0]])
    weight = torch.tensor([1.0, float("nan"), 1.0, 1.0])
    x = torch.randn(3, 3)
    with validation(False):
        conv(x, edge_index, weight)
    with pytest.raises(ValueError, match="edge_weight"):
        conv(x, edge_index, weight)
    good = torch.tensor([1.0, 1.0, 1.0, 3.0])
    before = conv(x, edge_index, good)
    good.data = torch.tensor([1.0, 1.0, 3.0, 1.0])  # no version bump
    after = conv(x, edge_index, good)
    torch.testing.assert_close(after, conv(x, edge_index, good.clone()))
    assert not torch.allclose(before, after)

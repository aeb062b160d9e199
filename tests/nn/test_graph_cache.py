"""The layers' graph cache sees in-place edits of a cached graph (issue 27).

Writes through ``t.data`` or a NumPy view do not bump a tensor's version
counter; the cache compares the graph's values too (on the CPU always, on
an accelerator while validation is on).
"""

import pytest
import torch

from bigraph_pyg.nn import MeshConv, validation
from bigraph_pyg.nn.conv.normalized_graph_conv import GraphCache
from bigraph_pyg.testing import icosphere_graph


def _setup(impl: str = "sparse"):
    torch.manual_seed(0)
    _, edge_index, w = icosphere_graph(1)
    conv = MeshConv(8, 4, impl=impl)
    x = torch.randn(2, 42, 8)
    return conv, x, edge_index.clone(), w.clone()


def _fresh(conv, x, edge_index, w):
    """The answer for the graph's current values (uncached copies)."""
    return conv(x, edge_index.clone(), None if w is None else w.clone())


@pytest.mark.parametrize("validate", [True, False])
@pytest.mark.parametrize("impl", ["sparse", "message", "dense"])
def test_weight_edited_through_data_is_seen(impl, validate):
    """Issue 27: ``w.data[...] = 0`` after a layer cached the graph was used
    stale (max diff 1.05)."""
    conv, x, edge_index, w = _setup(impl)
    with validation(validate):
        before = conv(x, edge_index, w)
        version = w._version
        w.data[:100] = torch.rand(100) * 3  # uneven within rows
        assert w._version == version  # the counter did not move
        after = conv(x, edge_index, w)
        assert not torch.allclose(after, before)
        torch.testing.assert_close(after, _fresh(conv, x, edge_index, w))
        w.data[...] = 0
        torch.testing.assert_close(
            conv(x, edge_index, w), _fresh(conv, x, edge_index, w)
        )


@pytest.mark.parametrize("validate", [True, False])
def test_edge_index_edited_through_numpy_is_seen(validate):
    conv, x, edge_index, w = _setup()
    with validation(validate):
        before = conv(x, edge_index, None)
        view = edge_index.numpy()
        view[1, :40] = view[1, 40:80]  # rewire 40 edges
        after = conv(x, edge_index, None)
        assert not torch.allclose(after, before)
        torch.testing.assert_close(after, _fresh(conv, x, edge_index, None))


def test_unchanged_graph_is_still_built_once(monkeypatch):
    import bigraph_pyg.nn.conv.normalized_graph_conv as ngc

    calls = []
    build = ngc.csr_structure
    monkeypatch.setattr(
        ngc, "csr_structure", lambda *a: calls.append(1) or build(*a)
    )
    conv, x, edge_index, w = _setup()
    for _ in range(3):
        conv(x, edge_index, w)
    assert len(calls) == 1
    w.data[0] += 1.0
    conv(x, edge_index, w)
    conv(x, edge_index, w)
    assert len(calls) == 2


def test_nan_weights_do_not_defeat_the_cache():
    """A NaN equals itself here: a graph with a NaN weight stays cached."""
    cache = GraphCache()
    w = torch.tensor([1.0, float("nan")])
    entry = cache.put((w,), (), "graph")
    assert cache.get((w,), ()) is entry
    w.data[1] = 2.0
    assert cache.get((w,), ()) is None


def test_sparse_adjacency_values_edited_in_place_are_seen():
    cache = GraphCache()
    _, edge_index, w = icosphere_graph(1)
    adj_t = torch.sparse_coo_tensor(
        edge_index, w, (42, 42), check_invariants=True
    ).to_sparse_csr()
    entry = cache.put((adj_t, None), (), "graph")
    assert cache.get((adj_t, None), ()) is entry
    adj_t.values().data[0] = 7.0
    assert cache.get((adj_t, None), ()) is None

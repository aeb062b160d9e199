import pytest
import torch
from torch_geometric import EdgeIndex
from torch_geometric.typing import WITH_TORCH_SPARSE

from bigraph_pyg.nn import MeshConv
from bigraph_pyg.nn.dense_reference import dense_graph_conv
from bigraph_pyg.testing import graph_formats, icosphere_graph, with_device
from bigraph_pyg.utils import to_dense_adjacency

IMPLS = ["sparse", "message", "dense"]
if WITH_TORCH_SPARSE:
    IMPLS.append("torch_sparse")


@pytest.fixture(scope="module")
def ico():
    return icosphere_graph(1)  # 42 vertices, 282 edges with self-loops


def test_mesh_conv_smoke(ico):
    _, edge_index, _ = ico
    conv = MeshConv(8, 16)
    assert str(conv) == "MeshConv(8, 16, impl='auto')"
    assert conv(torch.randn(42, 8), edge_index).shape == (42, 16)
    assert conv(torch.randn(3, 42, 8), edge_index).shape == (3, 42, 16)


@pytest.mark.parametrize("impl", IMPLS)
def test_mesh_conv_matches_dense(ico, impl):
    _, edge_index, _ = ico
    conv = MeshConv(8, 16, impl=impl)
    with torch.no_grad():
        conv.bias.normal_()
    x = torch.randn(2, 42, 8, requires_grad=True)
    out = conv(x, edge_index)
    adj = to_dense_adjacency(edge_index[0], edge_index[1], None, (42, 42))
    # A_m of the paper: binary with self-loops, each row a 1-ring mean.
    assert torch.allclose(adj.diagonal(), torch.ones(42))
    x_ref = x.detach().clone().requires_grad_()
    ref = dense_graph_conv(x_ref, adj, conv.lin.weight, conv.bias)
    assert torch.allclose(out, ref, atol=1e-5)
    g = torch.randn_like(out)
    gx, gw = torch.autograd.grad(out, (x, conv.lin.weight), g)
    gx_ref, gw_ref = torch.autograd.grad(ref, (x_ref, conv.lin.weight), g)
    assert torch.allclose(gx, gx_ref, atol=1e-5)
    assert torch.allclose(gw, gw_ref, atol=1e-4)


def test_mesh_conv_is_one_ring_mean(ico):
    verts, edge_index, _ = ico
    conv = MeshConv(3, 3, bias=False)
    with torch.no_grad():
        conv.lin.weight.copy_(torch.eye(3))
    out = conv(verts, edge_index)
    i = 5
    ring = edge_index[0][edge_index[1] == i]
    assert torch.allclose(out[i], verts[ring].mean(0), atol=1e-6)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("weighted", [False, True])
def test_mesh_conv_graph_formats(ico, impl, weighted):
    _, edge_index, _ = ico
    w = torch.rand(edge_index.size(1)) + 0.5 if weighted else None
    conv = MeshConv(4, 6, impl=impl)
    x = torch.randn(3, 42, 4)
    ref = conv(x, edge_index, w)
    for name, (graph, weight) in graph_formats(edge_index, w, (42, 42)).items():
        out = conv(x, graph, weight)
        assert torch.allclose(out, ref, atol=1e-6), name


@pytest.mark.parametrize("impl", IMPLS)
def test_mesh_conv_batched_equals_loop(ico, impl):
    _, edge_index, _ = ico
    conv = MeshConv(4, 6, impl=impl)
    x = torch.randn(5, 42, 4)
    for name, (graph, weight) in graph_formats(
        edge_index, None, (42, 42)
    ).items():
        batched = conv(x, graph, weight)
        loop = torch.stack([conv(xb, graph, weight) for xb in x])
        assert torch.allclose(batched, loop, atol=1e-6), name


def test_mesh_conv_pre_normalized_weights_are_idempotent(ico):
    _, edge_index, _ = ico
    deg = torch.bincount(edge_index[1], minlength=42).float()
    w = 1.0 / deg[edge_index[1]]
    conv = MeshConv(4, 6)
    x = torch.randn(42, 4)
    assert torch.allclose(
        conv(x, edge_index, w), conv(x, edge_index), atol=1e-6
    )


@pytest.mark.parametrize("impl", IMPLS)
def test_mesh_conv_gradients(impl):
    # 6 vertices of an octahedron, float64 gradcheck through every path.
    faces = torch.tensor(
        [
            [0, 1, 2],
            [0, 2, 3],
            [0, 3, 4],
            [0, 4, 1],
            [5, 2, 1],
            [5, 3, 2],
            [5, 4, 3],
            [5, 1, 4],
        ]
    )
    e = torch.cat([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    e = torch.unique(torch.cat([e, e.flip(1)]), dim=0)
    loops = torch.arange(6).repeat(2, 1).t()
    edge_index = torch.cat([e, loops]).t().contiguous()
    conv = MeshConv(3, 2, impl=impl).double()
    x = torch.randn(2, 6, 3, dtype=torch.float64, requires_grad=True)
    w = torch.rand(edge_index.size(1), dtype=torch.float64) + 0.5
    assert torch.autograd.gradcheck(
        lambda x: conv(x, EdgeIndex(edge_index, sparse_size=(6, 6)), w), (x,)
    )


def test_mesh_conv_errors(ico):
    _, edge_index, _ = ico
    conv = MeshConv(4, 6)
    with pytest.raises(ValueError, match=r"shape \[N, C\] or \[B, N, C\]"):
        conv(torch.randn(42), edge_index)
    with pytest.raises(ValueError, match="with 4 channels"):
        conv(torch.randn(42, 5), edge_index)
    with pytest.raises(ValueError, match=r"of shape \[2, E\]"):
        conv(torch.randn(42, 4), edge_index[:1])
    with pytest.raises(ValueError, match="integer dtype"):
        conv(torch.randn(42, 4), edge_index.float())
    with pytest.raises(
        IndexError,
        match=r"source \(edge_index\[0\]\) index "
        r"in \[0, 10\) \(got values in "
        r"\[0, 41\]\)",
    ):
        conv(torch.randn(10, 4), edge_index)
    bad = edge_index.clone()
    bad[0, 0] = -1
    with pytest.raises(
        IndexError,
        match=r"source .* \(got values in "
        r"\[-1, 41\]\)",
    ):
        conv(torch.randn(42, 4), bad)
    with pytest.raises(ValueError, match=r"`edge_weight` of shape \(282,\)"):
        conv(torch.randn(42, 4), edge_index, torch.ones(3))
    w = torch.ones(edge_index.size(1))
    w[3] = -1.0
    with pytest.raises(ValueError, match="non-negative `edge_weight`"):
        conv(torch.randn(42, 4), edge_index, w)
    w[3] = float("nan")
    with pytest.raises(ValueError, match="finite `edge_weight`.*1 NaN"):
        conv(torch.randn(42, 4), edge_index, w)
    adj = torch.sparse_coo_tensor(
        edge_index.flip(0), w, (42, 42), check_invariants=True
    )
    with pytest.raises(ValueError, match="`edge_weight=None` when the graph"):
        conv(torch.randn(42, 4), adj, w)
    with pytest.raises(
        ValueError,
        match=r"source size to equal the number "
        r"of nodes in `x` \(41\)",
    ):
        conv(torch.randn(41, 4), EdgeIndex(edge_index, sparse_size=(42, 42)))
    with pytest.raises(ValueError, match="Expected `impl` in"):
        MeshConv(4, 6, impl="fast")
    with pytest.raises(ValueError, match="`in_channels` to be a positive"):
        MeshConv(0, 6)
    # one forward for every conv: a per-edge id is the fusion conv's only
    with pytest.raises(ValueError, match="no `edge_id` for MeshConv"):
        conv(torch.randn(42, 4), edge_index, edge_id=torch.arange(282))


def test_mesh_conv_vanishing_row_gives_bias(ico):
    _, edge_index, _ = ico
    w = torch.ones(edge_index.size(1))
    w[edge_index[1] == 7] = 0.0
    conv = MeshConv(4, 6)
    with torch.no_grad():
        conv.bias.normal_()
    out = conv(torch.randn(2, 42, 4), edge_index, w)
    assert torch.isfinite(out).all()
    assert torch.allclose(out[:, 7], conv.bias.expand(2, 6))


@with_device
@pytest.mark.parametrize("impl", IMPLS)
def test_mesh_conv_device_parity(ico, device, impl):
    _, edge_index, _ = ico
    conv = MeshConv(4, 6, impl=impl)
    x = torch.randn(3, 42, 4)
    ref = conv(x, edge_index)
    out = conv.to(device)(x.to(device), edge_index.to(device))
    assert out.device.type == device
    assert torch.allclose(out.cpu(), ref, atol=1e-5)


@pytest.mark.slow
def test_mesh_conv_compile_equals_eager(ico):
    _, edge_index, _ = ico
    conv = MeshConv(4, 6)
    x = torch.randn(3, 42, 4)
    compiled = torch.compile(conv)
    assert torch.allclose(
        compiled(x, edge_index), conv(x, edge_index), atol=1e-5
    )


# -- bipartite (x_src, x_dst) input, as PyG's GraphConv ----------------------


def _bipartite(n_src=7, n_dst=5, num_edges=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    flat = torch.randperm(n_src * n_dst, generator=g)[:num_edges]
    edge_index = torch.stack([flat % n_src, flat // n_src])
    return edge_index, torch.rand(num_edges, generator=g) + 0.1


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("in_channels", [8, (8, 5)])
def test_mesh_conv_bipartite_pair(impl, in_channels):
    edge_index, w = _bipartite()
    conv = MeshConv(in_channels, 4, impl=impl)
    with torch.no_grad():
        conv.bias.normal_()
    c_dst = 8 if in_channels == 8 else 5
    x_src, x_dst = torch.randn(3, 7, 8), torch.randn(3, 5, c_dst)
    adj = to_dense_adjacency(edge_index[0], edge_index[1], w, (7, 5))
    ref = dense_graph_conv(x_src, adj, conv.lin.weight, conv.bias)
    out = conv((x_src, x_dst), edge_index, w)
    assert out.shape == (3, 5, 4)
    assert torch.allclose(out, ref, atol=1e-5)
    # x_dst only gives N_dst: None with `size` is the same.
    assert torch.allclose(
        conv((x_src, None), edge_index, w, size=(7, 5)), ref, atol=1e-5
    )
    # Every graph format, as for square graphs.
    for name, (graph, weight) in graph_formats(edge_index, w, (7, 5)).items():
        assert torch.allclose(
            conv((x_src, x_dst), graph, weight), ref, atol=1e-5
        ), name


def test_mesh_conv_bipartite_errors():
    edge_index, w = _bipartite()
    conv = MeshConv((8, 5), 4)
    x_src = torch.randn(2, 7, 8)
    assert str(conv) == "MeshConv((8, 5), 4, impl='auto')"
    with pytest.raises(ValueError, match=r"`x\[1\] \(x_dst\)` with 5 "):
        conv((x_src, torch.randn(2, 5, 4)), edge_index, w)
    with pytest.raises(ValueError, match=r"`x\[0\] \(x_src\)` with 8 "):
        conv((torch.randn(2, 7, 5), torch.randn(2, 5, 5)), edge_index, w)
    with pytest.raises(ValueError, match="same batch shape"):
        conv((x_src, torch.randn(3, 5, 5)), edge_index, w)
    with pytest.raises(ValueError, match=r"a pair \(x_src, x_dst\)"):
        conv((x_src, x_src, x_src), edge_index, w)
    with pytest.raises(ValueError, match="target size to equal"):
        conv(
            (x_src, torch.randn(2, 6, 5)),
            EdgeIndex(edge_index, sparse_size=(7, 5)),
            w,
        )
    with pytest.raises(ValueError, match="`in_channels` to be an int or a"):
        MeshConv((8, 5, 3), 4)
    with pytest.raises(ValueError, match=r"`in_channels\[1\]` to be a "):
        MeshConv((8, 0), 4)


def test_mesh_conv_graph_cache(ico, monkeypatch):
    import bigraph_pyg.nn.conv.normalized_graph_conv as gcache
    import bigraph_pyg.nn.conv.normalized_graph_conv as ngc

    _, edge_index, w = ico
    calls = []
    check, build = gcache.check_edge_list, ngc.csr_structure
    monkeypatch.setattr(
        gcache, "check_edge_list", lambda g: calls.append("check") or check(g)
    )
    gcache._CHECKED.clear()  # checked once per process: forget earlier
    monkeypatch.setattr(
        ngc, "csr_structure", lambda *a: calls.append("csr") or build(*a)
    )
    conv = MeshConv(8, 4)
    x = torch.randn(2, 42, 8)
    adj_t = to_dense_adjacency(
        edge_index[0], edge_index[1], w, (42, 42)
    ).to_sparse_csr()
    ref = conv(x, edge_index, w)
    for _ in range(3):
        assert torch.allclose(conv(x, edge_index, w), ref, atol=1e-6)
        assert torch.allclose(conv(x, adj_t), ref, atol=1e-6)
    # One validation and one CSR build per graph, not per call.
    assert calls == ["check", "csr", "check", "csr"]
    # A new tensor with the same values is a new graph.
    conv(x, edge_index.clone(), w)
    assert calls[-2:] == ["check", "csr"]
    import copy
    import pickle

    assert len(copy.deepcopy(conv)._graph_cache) == 0
    assert len(pickle.loads(pickle.dumps(conv))._graph_cache) == 0


@pytest.mark.slow
@pytest.mark.parametrize("impl", ["sparse", "dense", "message"])
def test_mesh_conv_compile_no_graph_breaks(ico, impl):
    import torch._dynamo as dynamo

    _, edge_index, w = ico
    conv = MeshConv(8, 4, impl=impl)
    x = torch.randn(2, 42, 8, requires_grad=True)
    dynamo.reset()
    explained = dynamo.explain(conv)(x, edge_index, w)
    assert explained.graph_break_count == 0, explained.break_reasons
    out = torch.compile(conv, fullgraph=True)(x, edge_index, w)
    ref = conv(x, edge_index, w)
    assert torch.allclose(out, ref, atol=1e-5)
    g = torch.randn_like(out)
    (gx,) = torch.autograd.grad(out, x, g)
    (gx_ref,) = torch.autograd.grad(ref, x, g)
    assert torch.allclose(gx, gx_ref, atol=1e-5)


def test_mesh_conv_cache_inference_then_training(ico):
    # Structures built under inference mode are not reused by a training
    # forward (they could not be saved for backward).
    _, edge_index, w = ico
    conv = MeshConv(8, 4)
    with torch.inference_mode():
        ref = conv(torch.ones(2, 42, 8), edge_index, w)
    x = torch.ones(2, 42, 8, requires_grad=True)
    out = conv(x, edge_index, w)
    out.sum().backward()
    assert torch.allclose(out.detach(), ref) and x.grad is not None
    assert len(conv._graph_cache) == 2


@pytest.mark.parametrize("kind", ["mesh", "skeleton", "fusion", "pair"])
def test_lazy_in_channels(ico, kind):
    """PyG's lazy ``in_channels=-1``: sized at the first call, then the
    same layer as one built with the size (same weights, same output)."""
    from bigraph_pyg.nn import BipartiteFusionConv, SkeletonConv

    _, edge_index, w = ico
    n = int(edge_index.max()) + 1
    make = {
        "mesh": lambda c: MeshConv(c, 4),
        "skeleton": lambda c: SkeletonConv(c, 4),
        "fusion": lambda c: BipartiteFusionConv(
            c, 4, num_edges=edge_index.size(1)
        ),
        "pair": lambda c: MeshConv((c, -1 if c == -1 else 3), 4),
    }[kind]
    torch.manual_seed(0)
    lazy, sized = make(-1), make(8)
    x = torch.randn(2, n, 8)
    args = (x, edge_index, w) if kind != "pair" else ((x, None), edge_index)
    kwargs = {} if kind != "pair" else {"edge_weight": w, "size": (n, n)}
    out = lazy(*args, **kwargs)
    assert lazy.lin.weight.shape == (4, 8)
    sized.load_state_dict(lazy.state_dict())
    assert torch.equal(out, sized(*args, **kwargs))
    out.sum().backward()
    assert lazy.lin.weight.grad.shape == (4, 8)
    with pytest.raises(ValueError, match="with 8 channels"):
        lazy(torch.randn(2, n, 5), edge_index, w)
    with pytest.raises(ValueError, match=r"positive int or -1 .* \(got -2\)"):
        make(-2)

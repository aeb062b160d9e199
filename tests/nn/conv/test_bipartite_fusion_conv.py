import pytest
import torch
from torch_geometric.typing import WITH_TORCH_SPARSE

from bigraph_pyg.nn import BipartiteFusionConv
from bigraph_pyg.nn.dense_reference import dense_fusion_conv
from bigraph_pyg.testing import (
    complete_bipartite_graph,
    graph_formats,
    with_device,
)
from bigraph_pyg.utils import to_dense_adjacency

IMPLS = ["sparse", "message", "dense", "blocks"]
if WITH_TORCH_SPARSE:
    IMPLS.append("torch_sparse")
J, V = 4, 9  # joints, vertices of the tiny fusion graph
N = J + V


@pytest.fixture(scope="module")
def fusion():
    return complete_bipartite_graph(J, V, seed=1)


def _conv(in_channels, out_channels, impl, num_edges=72, **kwargs):
    if impl == "blocks":
        kwargs.setdefault("num_joints", J)
    return BipartiteFusionConv(
        in_channels, out_channels, num_edges, impl=impl, **kwargs
    )


def _perturbed(conv):
    with torch.no_grad():
        conv.fusion_weight.uniform_(0.2, 2.0)
        if conv.bias is not None:
            conv.bias.normal_()
    return conv


def test_bipartite_fusion_conv_smoke(fusion):
    _, edge_index, a_fs = fusion
    conv = BipartiteFusionConv(8, 16, num_edges=2 * J * V)
    assert str(conv) == (
        "BipartiteFusionConv(8, 16, num_edges=72, impl='auto')"
    )
    assert conv(torch.randn(N, 8), edge_index, a_fs).shape == (N, 16)
    assert conv(torch.randn(3, N, 8), edge_index, a_fs).shape == (3, N, 16)
    assert torch.equal(conv.fusion_weight.data, torch.ones(72))
    pair = BipartiteFusionConv((8, 4), 16, num_edges=J * V)
    assert "((8, 4), 16, num_edges=36" in str(pair)


@pytest.mark.parametrize("impl", IMPLS)
def test_bipartite_fusion_conv_matches_dense(fusion, impl):
    _, edge_index, a_fs = fusion
    conv = _perturbed(_conv(6, 5, impl))
    x = torch.randn(2, N, 6, requires_grad=True)
    out = conv(x, edge_index, a_fs)
    # Dense Eq. 5: A_f = RowNorm(A_fs * W_f), zero on joint-joint and
    # vertex-vertex blocks; 1735x1735 in the paper, 13x13 here.
    w_f = torch.zeros(N, N)
    w_f[edge_index[1], edge_index[0]] = conv.fusion_weight.detach()
    w_f.requires_grad_()
    a_dense = to_dense_adjacency(edge_index[0], edge_index[1], a_fs, (N, N))
    assert a_dense[:J, :J].abs().sum() == 0 and a_dense[J:, J:].abs().sum() == 0
    x_ref = x.detach().clone().requires_grad_()
    ref = dense_fusion_conv(x_ref, a_dense, w_f, conv.lin.weight, conv.bias)
    assert torch.allclose(out, ref, atol=1e-5)
    g = torch.randn_like(out)
    gx, gwf, gw = torch.autograd.grad(
        out, (x, conv.fusion_weight, conv.lin.weight), g
    )
    gx_ref, gwf_ref, gw_ref = torch.autograd.grad(
        ref, (x_ref, w_f, conv.lin.weight), g
    )
    assert torch.allclose(gx, gx_ref, atol=1e-5)
    assert torch.allclose(gw, gw_ref, atol=1e-4)
    assert torch.allclose(gwf, gwf_ref[edge_index[1], edge_index[0]], atol=1e-5)


def test_bipartite_fusion_conv_rows_sum_to_one(fusion):
    _, edge_index, a_fs = fusion
    conv = _perturbed(BipartiteFusionConv(3, 3, num_edges=72))
    a_f = conv.adjacency(edge_index, a_fs)
    rows = torch.zeros(N).index_add_(0, edge_index[1], a_f)
    assert torch.allclose(rows, torch.ones(N), atol=1e-6)
    # At initialisation (W_f = 1) A_f is RowNorm(A_fs) itself.
    conv.reset_parameters()
    a_f = conv.adjacency(edge_index, a_fs)
    denom = torch.zeros(N).index_add_(0, edge_index[1], a_fs)
    assert torch.allclose(a_f, a_fs / denom[edge_index[1]], atol=1e-6)


@pytest.mark.parametrize("impl", IMPLS)
def test_bipartite_fusion_conv_pair_equals_union(fusion, impl):
    """The two directions as PyG bipartite pairs give the union result."""
    _, edge_index, a_fs = fusion
    union = _perturbed(_conv(6, 5, impl))
    x = torch.randn(3, N, 6)
    ref = union(x, edge_index, a_fs)
    to_v = edge_index[1] >= J  # joint -> vertex edges
    for mask, (s0, d0), (n_src, n_dst), sl in (
        (to_v, (0, J), (J, V), slice(J, N)),
        (~to_v, (J, 0), (V, J), slice(0, J)),
    ):
        pair = BipartiteFusionConv(
            (6, 6),
            5,
            num_edges=int(mask.sum()),
            impl="dense" if impl == "blocks" else impl,
        )
        pair.lin.load_state_dict(union.lin.state_dict())
        with torch.no_grad():
            pair.bias.copy_(union.bias)
            pair.fusion_weight.copy_(union.fusion_weight[mask])
        ei = edge_index[:, mask] - torch.tensor([[s0], [d0]])
        x_src = x[:, :J] if s0 == 0 else x[:, J:]
        x_dst = x[:, J:] if s0 == 0 else x[:, :J]
        out = pair((x_src, x_dst), ei, a_fs[mask])
        assert torch.allclose(out, ref[:, sl], atol=1e-5)
        out = pair((x_src, None), ei, a_fs[mask], size=(n_src, n_dst))
        assert torch.allclose(out, ref[:, sl], atol=1e-5)


@pytest.mark.parametrize("impl", IMPLS)
def test_bipartite_fusion_conv_graph_formats(fusion, impl):
    _, edge_index, a_fs = fusion
    conv = _perturbed(_conv(4, 3, impl))
    x = torch.randn(2, N, 4)
    ref = conv(x, edge_index, a_fs)
    for name, (graph, weight) in graph_formats(
        edge_index, a_fs, (N, N)
    ).items():
        out = conv(x, graph, weight)
        assert torch.allclose(out, ref, atol=1e-6), name
        (grad,) = torch.autograd.grad(out.sum(), conv.fusion_weight)
        (ref_grad,) = torch.autograd.grad(
            ref.sum(), conv.fusion_weight, retain_graph=True
        )
        assert torch.allclose(grad, ref_grad, atol=1e-5), name


@pytest.mark.parametrize("impl", IMPLS)
def test_bipartite_fusion_conv_batched_equals_loop(fusion, impl):
    _, edge_index, a_fs = fusion
    conv = _perturbed(_conv(4, 3, impl))
    x = torch.randn(5, N, 4)
    for name, (graph, weight) in graph_formats(
        edge_index, a_fs, (N, N)
    ).items():
        loop = torch.stack([conv(xb, graph, weight) for xb in x])
        assert torch.allclose(conv(x, graph, weight), loop, atol=1e-6), name


@pytest.mark.parametrize("impl", IMPLS)
def test_bipartite_fusion_conv_gradients(impl):
    _, edge_index, a_fs = complete_bipartite_graph(2, 4, seed=2)
    conv = _conv(3, 2, impl, num_edges=16, num_joints=2).double()
    _perturbed(conv)
    x = torch.randn(2, 6, 3, dtype=torch.float64, requires_grad=True)
    w_f = conv.fusion_weight.detach().clone().requires_grad_()

    def f(x, w_f):  # differentiable in W_f through a functional call
        params = dict(conv.named_parameters())
        params["fusion_weight"] = w_f
        return torch.func.functional_call(
            conv, params, (x, edge_index, a_fs.double())
        )

    assert torch.autograd.gradcheck(f, (x, w_f))
    conv(x, edge_index, a_fs.double()).sum().backward()
    assert conv.fusion_weight.grad is not None
    assert conv.fusion_weight.grad.abs().sum() > 0


def test_bipartite_fusion_conv_vanishing_row(fusion):
    _, edge_index, a_fs = fusion
    conv = _perturbed(BipartiteFusionConv(4, 3, num_edges=72))
    with torch.no_grad():
        conv.fusion_weight[edge_index[1] == 0] = 0.0  # joint 0 loses all
    out = conv(torch.randn(2, N, 4), edge_index, a_fs)
    assert torch.isfinite(out).all()
    assert torch.allclose(out[:, 0], conv.bias.expand(2, 3))
    out.sum().backward()
    assert torch.isfinite(conv.fusion_weight.grad).all()


def test_bipartite_fusion_conv_auto_choice(fusion):
    _, edge_index, a_fs = fusion
    from bigraph_pyg.utils import unpack_graph

    graph = unpack_graph(edge_index, a_fs, (N, N))
    x = torch.randn(N, 4)
    assert _conv(4, 3, "auto").resolve_impl(graph, x) == "blocks"  # found
    conv = _conv(4, 3, "auto", num_joints=J)
    assert conv.resolve_impl(graph, x) == "blocks"
    to_v = edge_index[1] >= J
    pair = unpack_graph(
        edge_index[:, to_v] - torch.tensor([[0], [J]]), a_fs[to_v], (J, V)
    )
    assert _conv(4, 3, "auto", num_edges=36).resolve_impl(pair, x) == "dense"


def test_bipartite_fusion_conv_finds_the_joints(fusion, monkeypatch):
    """``auto`` without ``num_joints`` finds the split once per graph and
    takes the blocks, bit for bit the path with ``num_joints``."""
    from bigraph_pyg.nn.conv import bipartite_fusion_conv
    from bigraph_pyg.utils import unpack_graph

    _, edge_index, a_fs = fusion
    found = _perturbed(_conv(6, 5, "auto"))
    given = _conv(6, 5, "auto", num_joints=J)
    given.load_state_dict(found.state_dict())
    x = torch.randn(2, N, 6)
    calls = []
    real = bipartite_fusion_conv.union_split

    def counted(src, dst):
        calls.append(1)
        return real(src, dst)

    monkeypatch.setattr(bipartite_fusion_conv, "union_split", counted)
    out = found(x, edge_index, a_fs)
    found(x, edge_index, a_fs)
    assert len(calls) == 1  # once per cached graph
    assert torch.equal(out, given(x, edge_index, a_fs))
    ref = _dense_reference(found, x, edge_index, a_fs, N)
    assert torch.allclose(out, ref, atol=1e-5)
    # The split is J whichever way round the edges are listed, and there
    # is none once one joint-joint edge is added (then: the sparse path).
    graph = unpack_graph(edge_index.flip(0), a_fs, (N, N))
    assert found.joint_split(graph) == J
    extra = torch.cat([edge_index, torch.tensor([[0], [1]])], 1)
    graph = unpack_graph(extra, None, (N, N))
    assert found.joint_split(graph) is None
    assert found.resolve_impl(graph, x) == "sparse"
    # Vertices first: the split is then V, the blocks V x J and J x V.
    flipped = torch.where(edge_index < J, edge_index + V, edge_index - J)
    graph = unpack_graph(flipped, a_fs, (N, N))
    assert found.joint_split(graph) == V
    x_f = torch.cat([x[:, J:], x[:, :J]], 1)
    out_f = found(x_f, flipped, a_fs)
    assert torch.allclose(
        torch.cat([out_f[:, V:], out_f[:, :V]], 1), out, atol=1e-6
    )


def test_bipartite_fusion_conv_errors(fusion):
    _, edge_index, a_fs = fusion
    conv = BipartiteFusionConv(4, 3, num_edges=72)
    with pytest.raises(ValueError, match=r"`num_edges`=72 edges.*got 71"):
        conv(torch.randn(N, 4), edge_index[:, 1:], a_fs[1:])
    with pytest.raises(ValueError, match=r"`edge_weight` of shape \(72,\)"):
        conv(torch.randn(N, 4), edge_index, a_fs[1:])
    with pytest.raises(ValueError, match="non-negative"):
        conv(torch.randn(N, 4), edge_index, -a_fs)
    with pytest.raises(ValueError, match=r"x\[0\] \(x_src\)` with 4 channels"):
        conv((torch.randn(J, 5), torch.randn(V, 4)), edge_index, a_fs)
    with pytest.raises(ValueError, match="x_dst or `size=.*got x_dst=None"):
        conv((torch.randn(J, 4), None), edge_index, a_fs)
    with pytest.raises(ValueError, match="same batch shape"):
        conv((torch.randn(2, J, 4), torch.randn(3, V, 4)), edge_index, a_fs)
    with pytest.raises(ValueError, match=r"`size\[1\]` to equal the 9 nodes"):
        conv(
            (torch.randn(J, 4), torch.randn(V, 4)),
            edge_index,
            a_fs,
            size=(J, 8),
        )
    with pytest.raises(ValueError, match="`num_edges` to be a positive int"):
        BipartiteFusionConv(4, 3, num_edges=0)
    with pytest.raises(ValueError, match="an int or a pair"):
        BipartiteFusionConv((4, 3, 2), 3, num_edges=5)
    joint_edge = torch.cat([edge_index, torch.tensor([[0], [1]])], 1)
    with pytest.raises(ValueError, match=r"node of \[0, J\).*no such J"):
        BipartiteFusionConv(4, 3, num_edges=73, impl="blocks")(
            torch.randn(N, 4), joint_edge
        )
    blocks = _conv(4, 3, "blocks", num_joints=5)
    with pytest.raises(
        ValueError,
        match=r"only joint-vertex edges .* "
        r"`num_joints`=5 for impl='blocks' \(got 8 ",
    ):
        blocks(torch.randn(N, 4), edge_index, a_fs)


@with_device
@pytest.mark.parametrize("impl", IMPLS)
def test_bipartite_fusion_conv_device_parity(fusion, device, impl):
    _, edge_index, a_fs = fusion
    conv = _perturbed(_conv(4, 3, impl))
    x = torch.randn(3, N, 4)
    ref = conv(x, edge_index, a_fs)
    ref.sum().backward()
    ref_grad = conv.fusion_weight.grad.clone()
    conv.zero_grad()
    conv = conv.to(device)
    out = conv(x.to(device), edge_index.to(device), a_fs.to(device))
    out.sum().backward()
    assert torch.allclose(out.cpu(), ref, atol=1e-5)
    assert torch.allclose(conv.fusion_weight.grad.cpu(), ref_grad, atol=1e-5)


@pytest.mark.slow
def test_bipartite_fusion_conv_compile_equals_eager(fusion):
    _, edge_index, a_fs = fusion
    conv = _perturbed(BipartiteFusionConv(4, 3, num_edges=72))
    x = torch.randn(2, N, 4)
    out = torch.compile(conv)(x, edge_index, a_fs)
    assert torch.allclose(out, conv(x, edge_index, a_fs), atol=1e-5)


# -- edge identity: W_f follows the template edge id, not the position -------


def _dense_reference(conv, x, edge_index, a_fs, n):
    """Eq. 5 with dense tensors: RowNorm(A_fs * W_f) X W + b."""
    w_f = torch.zeros(n, n)
    w_f[edge_index[1], edge_index[0]] = conv.fusion_weight.detach()
    a_dense = to_dense_adjacency(edge_index[0], edge_index[1], a_fs, (n, n))
    return dense_fusion_conv(x, a_dense, w_f, conv.lin.weight, conv.bias)


@pytest.mark.parametrize("impl", IMPLS)
def test_bipartite_fusion_conv_reordered_edges(fusion, impl):
    from torch_geometric.utils import coalesce

    _, edge_index, a_fs = fusion
    conv = _perturbed(_conv(6, 5, impl))
    x = torch.randn(2, N, 6)
    ref = _dense_reference(conv, x, edge_index, a_fs, N)
    edge_id = torch.arange(edge_index.size(1))
    assert torch.allclose(
        conv(x, edge_index, a_fs, edge_id=edge_id), ref, atol=1e-5
    )
    # Shuffled: W_f travels with the edge id.
    perm = torch.randperm(
        edge_index.size(1), generator=torch.Generator().manual_seed(3)
    )
    shuffled = (edge_index[:, perm], a_fs[perm], edge_id[perm])
    out = conv(x, *shuffled[:2], edge_id=shuffled[2])
    assert torch.allclose(out, ref, atol=1e-5)
    # Coalesced (sorted by source, then target) from the shuffled order.
    ei_c, (a_c, id_c) = coalesce(
        shuffled[0], [shuffled[1], shuffled[2]], num_nodes=N
    )
    assert not torch.equal(ei_c, edge_index)  # the order really changed
    out = conv(x, ei_c, a_c, edge_id=id_c)
    assert torch.allclose(out, ref, atol=1e-5)
    # Gradients of W_f land on the template entries either way.
    g = torch.randn_like(ref)
    (g_ref,) = torch.autograd.grad(
        conv(x, edge_index, a_fs), conv.fusion_weight, g
    )
    (g_c,) = torch.autograd.grad(
        conv(x, ei_c, a_c, edge_id=id_c), conv.fusion_weight, g
    )
    assert torch.allclose(g_c, g_ref, atol=1e-5)


@pytest.mark.parametrize(
    "impl", ["sparse", "message", "dense", "auto", "auto_found"]
)
def test_bipartite_fusion_conv_pyg_batch(fusion, impl):
    from torch_geometric.data import Batch, Data

    from bigraph_pyg.nn import validation

    _, edge_index, a_fs = fusion
    e = edge_index.size(1)
    # "auto" with num_joints would take the dense J x V blocks of one union
    # graph; on a Batch it must notice and take the sparse path. Without
    # num_joints ("auto_found") no split of the Batch's nodes exists.
    extra = {"num_joints": J} if impl == "auto" else {}
    impl = "auto" if impl == "auto_found" else impl
    conv = _perturbed(_conv(6, 5, impl, **extra))
    gen = torch.Generator().manual_seed(4)
    graphs, refs = [], []
    for i in range(3):
        # Each sample: its own features and A_fs (another body shape), a
        # different edge order; the template W_f is shared.
        perm = torch.randperm(e, generator=gen)
        a_i = a_fs * (1.0 + i)
        x_i = torch.randn(N, 6, generator=gen)
        graphs.append(
            Data(
                x=x_i,
                edge_index=edge_index[:, perm],
                edge_weight=a_i[perm],
                edge_id=torch.arange(e)[perm],
            )
        )
        refs.append(_dense_reference(conv, x_i, edge_index, a_i, N))
    batch = Batch.from_data_list(graphs)
    assert batch.edge_id.shape == (3 * e,)  # repeated, not incremented
    assert int(batch.edge_id.max()) == e - 1
    out = conv(
        batch.x, batch.edge_index, batch.edge_weight, edge_id=batch.edge_id
    )
    assert torch.allclose(out, torch.cat(refs), atol=1e-5)
    with validation(False):  # no check to lean on: still the right answer
        fresh = _conv(6, 5, impl, **extra)
        fresh.load_state_dict(conv.state_dict())
        out = fresh(
            batch.x, batch.edge_index, batch.edge_weight, edge_id=batch.edge_id
        )
    assert torch.allclose(out, torch.cat(refs), atol=1e-5)
    with pytest.raises(ValueError, match=r"`num_edges`=72 .* pass `edge_id`"):
        conv(batch.x, batch.edge_index, batch.edge_weight)
    if impl == "auto":
        blocks = _conv(6, 5, "blocks")
        with pytest.raises(ValueError, match="Batch of fusion graphs"):
            blocks(
                batch.x,
                batch.edge_index,
                batch.edge_weight,
                edge_id=batch.edge_id,
            )


def test_bipartite_fusion_conv_edge_id_errors(fusion):
    _, edge_index, a_fs = fusion
    conv = BipartiteFusionConv(4, 3, num_edges=72)
    x = torch.randn(N, 4)
    ids = torch.arange(72)
    with pytest.raises(ValueError, match=r"`edge_id` of shape \(72,\)"):
        conv(x, edge_index, a_fs, edge_id=ids[1:])
    with pytest.raises(ValueError, match="`edge_id` of an integer dtype"):
        conv(x, edge_index, a_fs, edge_id=ids.float())
    with pytest.raises(ValueError, match="`edge_id` of an integer dtype"):
        conv(x, edge_index, a_fs, edge_id=ids > 3)
    with pytest.raises(IndexError, match=r"`edge_id` in \[0, 72\).*72\]"):
        conv(x, edge_index, a_fs, edge_id=ids + 1)


# -- the graph is validated and prepared once ---------------------------------


def test_bipartite_fusion_conv_caches_graph(fusion, monkeypatch):
    import bigraph_pyg.nn.conv.normalized_graph_conv as gcache

    _, edge_index, a_fs = fusion
    conv = _perturbed(_conv(4, 3, "blocks"))
    x = torch.randn(2, N, 4)
    calls = []
    check = gcache.check_edge_list
    monkeypatch.setattr(
        gcache, "check_edge_list", lambda g: calls.append(1) or check(g)
    )
    gcache._CHECKED.clear()  # checked once per process: forget earlier
    a_fs = a_fs.clone()
    out = conv(x, edge_index, a_fs)
    assert conv(x, edge_index, a_fs).equal(out) and len(calls) == 1
    assert len(conv._graph_cache) == 1
    # An in-place change of the graph is seen (and validated again).
    with torch.no_grad():
        a_fs.mul_(2.0)[0] = 5.0
    out2 = conv(x, edge_index, a_fs)
    assert len(calls) == 2 and not torch.allclose(out2, out)
    assert torch.allclose(
        out2, _dense_reference(conv, x, edge_index, a_fs, N), atol=1e-5
    )
    with torch.no_grad():
        a_fs[0] = -1.0
    with pytest.raises(ValueError, match="non-negative"):
        conv(x, edge_index, a_fs)
    conv.reset_parameters()
    assert len(conv._graph_cache) == 0


@pytest.mark.slow
@pytest.mark.parametrize("impl", ["sparse", "blocks", "dense"])
def test_bipartite_fusion_conv_compile_no_graph_breaks(fusion, impl):
    import torch._dynamo as dynamo

    _, edge_index, a_fs = fusion
    conv = _perturbed(_conv(4, 3, impl))
    x = torch.randn(2, N, 4, requires_grad=True)
    dynamo.reset()
    explained = dynamo.explain(conv)(x, edge_index, a_fs)
    assert explained.graph_break_count == 0, explained.break_reasons
    compiled = torch.compile(conv, fullgraph=True)
    out = compiled(x, edge_index, a_fs, edge_id=torch.arange(72))
    ref = conv(x, edge_index, a_fs)
    assert torch.allclose(out, ref, atol=1e-5)
    g = torch.randn_like(out)
    grads = torch.autograd.grad(out, (x, conv.fusion_weight), g)
    refs = torch.autograd.grad(ref, (x, conv.fusion_weight), g)
    for a, b in zip(grads, refs, strict=True):
        assert torch.allclose(a, b, atol=1e-5)

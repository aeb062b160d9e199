import pytest
import torch
from torch_geometric.typing import WITH_TORCH_SPARSE

from bigraph_pyg.nn import SkeletonConv
from bigraph_pyg.nn.dense_reference import dense_graph_conv
from bigraph_pyg.testing import graph_formats, with_device
from bigraph_pyg.utils import to_dense_adjacency

IMPLS = ["sparse", "message", "dense"]
if WITH_TORCH_SPARSE:
    IMPLS.append("torch_sparse")
# A 12-joint chain-and-torso graph built here, independently of topology/.
BONES = [
    (0, 1),
    (1, 2),
    (2, 3),
    (3, 4),
    (4, 5),
    (6, 7),
    (7, 8),
    (8, 9),
    (9, 10),
    (10, 11),
    (2, 8),
    (3, 9),
]


@pytest.fixture(scope="module")
def skeleton():
    g = torch.Generator().manual_seed(3)
    joints = torch.randn(12, 3, generator=g)
    b = torch.tensor(BONES)
    src = torch.cat([b[:, 0], b[:, 1], torch.arange(12)])
    dst = torch.cat([b[:, 1], b[:, 0], torch.arange(12)])
    perm = torch.argsort(dst * 12 + src)
    edge_index = torch.stack([src[perm], dst[perm]])
    d = (joints[edge_index[0]] - joints[edge_index[1]]).norm(dim=-1)
    w = torch.where(d > 0, 1.0 / d.clamp_min(1e-9), torch.tensor(2.0))
    return joints, edge_index, w


def test_skeleton_conv_smoke(skeleton):
    _, edge_index, w = skeleton
    conv = SkeletonConv(16, 32)
    assert str(conv) == "SkeletonConv(16, 32, impl='auto')"
    assert conv(torch.randn(12, 16), edge_index, w).shape == (12, 32)
    assert conv(torch.randn(4, 12, 16), edge_index, w).shape == (4, 12, 32)


@pytest.mark.parametrize("impl", IMPLS)
def test_skeleton_conv_matches_dense(skeleton, impl):
    joints, edge_index, w = skeleton
    conv = SkeletonConv(16, 8, impl=impl)
    with torch.no_grad():
        conv.bias.normal_()
    x = torch.randn(3, 12, 16, requires_grad=True)
    out = conv(x, edge_index, w)
    # Dense A_s of the paper: 1 / ||v_i - v_j|| on the bones, row-normalised.
    adj = torch.zeros(12, 12)
    for i, j in BONES:
        adj[i, j] = adj[j, i] = 1.0 / (joints[i] - joints[j]).norm()
    adj += torch.diag(
        to_dense_adjacency(edge_index[0], edge_index[1], w, (12, 12)).diagonal()
    )
    x_ref = x.detach().clone().requires_grad_()
    ref = dense_graph_conv(x_ref, adj, conv.lin.weight, conv.bias)
    assert torch.allclose(out, ref, atol=1e-5)
    g = torch.randn_like(out)
    (gx,) = torch.autograd.grad(out, x, g)
    (gx_ref,) = torch.autograd.grad(ref, x_ref, g)
    assert torch.allclose(gx, gx_ref, atol=1e-5)


@pytest.mark.parametrize("impl", IMPLS)
def test_skeleton_conv_graph_formats(skeleton, impl):
    _, edge_index, w = skeleton
    conv = SkeletonConv(5, 7, impl=impl)
    x = torch.randn(2, 12, 5)
    ref = conv(x, edge_index, w)
    for name, (graph, weight) in graph_formats(edge_index, w, (12, 12)).items():
        assert torch.allclose(conv(x, graph, weight), ref, atol=1e-6), name


@pytest.mark.parametrize("impl", IMPLS)
def test_skeleton_conv_batched_equals_loop(skeleton, impl):
    _, edge_index, w = skeleton
    conv = SkeletonConv(5, 7, impl=impl)
    x = torch.randn(6, 12, 5)
    for name, (graph, weight) in graph_formats(edge_index, w, (12, 12)).items():
        loop = torch.stack([conv(xb, graph, weight) for xb in x])
        assert torch.allclose(conv(x, graph, weight), loop, atol=1e-6), name


@pytest.mark.parametrize("impl", IMPLS)
def test_skeleton_conv_gradients(skeleton, impl):
    _, edge_index, w = skeleton
    conv = SkeletonConv(3, 2, impl=impl).double()
    x = torch.randn(2, 12, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x: conv(x, edge_index, w.double()), (x,)
    )


def test_skeleton_conv_errors(skeleton):
    _, edge_index, w = skeleton
    conv = SkeletonConv(5, 7)
    with pytest.raises(
        ValueError,
        match=r"\[N, C\] or \[B, N, C\] "
        r"\(got \[1, 2, 12, 5\]\)",
    ):
        conv(torch.randn(1, 2, 12, 5), edge_index, w)
    with pytest.raises(ValueError, match="non-negative"):
        conv(torch.randn(12, 5), edge_index, -w)
    inf = w.clone()
    inf[0] = float("inf")
    with pytest.raises(ValueError, match="finite"):
        conv(torch.randn(12, 5), edge_index, inf)
    with pytest.raises(ValueError, match=r"`size` None or \(12, 12\)"):
        conv(torch.randn(12, 5), edge_index, w, size=(12, 11))


@with_device
def test_skeleton_conv_device_parity(skeleton, device):
    _, edge_index, w = skeleton
    conv = SkeletonConv(5, 7)
    x = torch.randn(3, 12, 5)
    ref = conv(x, edge_index, w)
    out = conv.to(device)(x.to(device), edge_index.to(device), w.to(device))
    assert torch.allclose(out.cpu(), ref, atol=1e-5)


def test_skeleton_conv_bipartite_pair(skeleton):
    # The 12 joints into 5 of them: a bipartite sub-graph, as GraphConv.
    _, edge_index, w = skeleton
    keep = edge_index[1] < 5
    ei, wk = edge_index[:, keep], w[keep]
    conv = SkeletonConv((5, 3), 7)
    x_src, x_dst = torch.randn(2, 12, 5), torch.randn(2, 5, 3)
    adj = to_dense_adjacency(ei[0], ei[1], wk, (12, 5))
    ref = dense_graph_conv(x_src, adj, conv.lin.weight, conv.bias)
    assert torch.allclose(conv((x_src, x_dst), ei, wk), ref, atol=1e-5)
    with pytest.raises(ValueError, match=r"`x\[1\] \(x_dst\)` with 3 "):
        conv((x_src, torch.randn(2, 5, 5)), ei, wk)


@pytest.mark.slow
def test_skeleton_conv_compile_no_graph_breaks(skeleton):
    import torch._dynamo as dynamo

    _, edge_index, w = skeleton
    conv = SkeletonConv(5, 7)
    x = torch.randn(2, 12, 5)
    dynamo.reset()
    explained = dynamo.explain(conv)(x, edge_index, w)
    assert explained.graph_break_count == 0, explained.break_reasons
    out = torch.compile(conv, fullgraph=True)(x, edge_index, w)
    assert torch.allclose(out, conv(x, edge_index, w), atol=1e-5)

import pytest
import torch
import torch.nn.functional as F

from bigraph_pyg.nn import (
    BilayerBlock,
    BipartiteFusionConv,
    GraphCameraHead,
    GraphCoordinateHead,
    GraphGroupNorm,
    GraphLinear,
    GraphResBlock,
    MeshConv,
    PooledFusionConv,
    SkeletonConv,
)
from bigraph_pyg.nn.blocks import group_count
from bigraph_pyg.testing import (
    complete_bipartite_graph,
    random_graph,
    with_device,
)
from bigraph_pyg.utils import to_dense_adjacency

J, V = 4, 9  # joints and vertices of the tiny bilayer graph


@pytest.fixture(scope="module")
def graphs():
    mesh = random_graph(V, 30, seed=1)
    skel = random_graph(J, 8, seed=2)
    _, f_ei, f_w = complete_bipartite_graph(J, V, seed=3)
    return {"mesh": mesh, "skeleton": skel, "fusion": (f_ei, f_w)}


def _args(graphs):
    return (*graphs["mesh"], *graphs["skeleton"], *graphs["fusion"])


def _dense(edge_index, edge_weight, n):
    adj = to_dense_adjacency(edge_index[0], edge_index[1], edge_weight, (n, n))
    return adj / adj.sum(-1, keepdim=True).clamp_min(1e-12)


def test_group_count():
    assert group_count(512) == 64
    assert group_count(256) == 32
    assert group_count(20) == 2
    assert group_count(7) == 1
    assert group_count(36, channels_per_group=8) == 4
    with pytest.raises(ValueError, match="channels"):
        group_count(0)


def test_graph_linear_is_conv_with_identity_adjacency():
    lin = GraphLinear(6, 5)
    conv = MeshConv(6, 5)
    with torch.no_grad():
        conv.lin.weight.copy_(lin.weight)
        conv.bias.copy_(lin.bias)
    loops = torch.arange(V).repeat(2, 1)  # A = I
    x = torch.randn(3, V, 6)
    torch.testing.assert_close(lin(x), conv(x, loops))
    torch.testing.assert_close(lin(x[0]), conv(x[0], loops))
    with pytest.raises(ValueError, match="6 channels"):
        lin(torch.randn(V, 4))
    with pytest.raises(ValueError, match=r"\(N, C\) or \(B, N, C\)"):
        lin(torch.randn(6))


def test_graph_group_norm_matches_torch_layout():
    norm = GraphGroupNorm(16)
    assert norm.num_groups == 2
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    x = torch.randn(3, V, 16)
    ref = torch.nn.functional.group_norm(
        x.transpose(1, 2), 2, norm.weight, norm.bias
    ).transpose(1, 2)
    torch.testing.assert_close(norm(x), ref)
    torch.testing.assert_close(norm(x[1]), ref[1])
    with pytest.raises(ValueError, match="num_groups"):
        GraphGroupNorm(16, num_groups=3)


@with_device
def test_graph_res_block_matches_graphcmr_order(graphs, device):
    ei, w = (t.to(device) for t in graphs["mesh"])
    block = GraphResBlock(8, 16, MeshConv).to(device)
    assert block.hidden_channels == 8 and block.skip is not None
    assert "GraphResBlock(8, 16, hidden=8, conv=MeshConv" in str(block)
    x = torch.randn(2, V, 8, device=device)

    # GraphCMR: pre-activation GN/ReLU before each of lin1, conv, lin2.
    adj = _dense(ei, w, V)

    def gn(norm, t):
        return F.group_norm(
            t.transpose(1, 2), norm.num_groups, norm.weight, norm.bias
        ).transpose(1, 2)

    y = block.lin1(F.relu(gn(block.pre_norm, x)))
    y = adj @ block.conv.lin(F.relu(gn(block.norm1, y))) + block.conv.bias
    y = block.lin2(F.relu(gn(block.norm2, y)))
    torch.testing.assert_close(block(x, ei, w), block.skip(x) + y)

    same = GraphResBlock(16, 16, SkeletonConv).to(device)
    assert same.skip is None
    x16 = torch.randn(2, V, 16, device=device)
    out = same(x16, ei, w)
    loop = torch.stack([same(x16[i], ei, w) for i in range(2)])
    torch.testing.assert_close(out, loop, atol=1e-5, rtol=1e-5)

    no_res = GraphResBlock(8, 16, MeshConv, residual=False).to(device)
    assert no_res.skip is None
    assert no_res(x, ei, w).shape == (2, V, 16)


def test_graph_res_block_errors(graphs):
    with pytest.raises(ValueError, match="hidden_channels"):
        GraphResBlock(8, 16, hidden_channels=0)
    block = GraphResBlock(8, 16)
    with pytest.raises(ValueError, match="8 channels"):
        block(torch.randn(V, 7), *graphs["mesh"])


def test_pooled_fusion_mean_is_uniform_fusion_graph():
    _, ei, _ = complete_bipartite_graph(J, V)
    pool = PooledFusionConv(6, 5, num_joints=J, aggr="mean")
    conv = BipartiteFusionConv(6, 5, num_edges=ei.size(1))
    with torch.no_grad():
        conv.lin.weight.copy_(pool.lin.weight)
        conv.bias.copy_(pool.lin.bias)
    x = torch.randn(2, J + V, 6)
    torch.testing.assert_close(pool(x), conv(x, ei), atol=1e-6, rtol=1e-5)


def test_pooled_fusion_max():
    pool = PooledFusionConv(6, 5, num_joints=J, aggr="max")
    assert "aggr='max'" in str(pool)
    x = torch.randn(2, J + V, 6)
    out = pool(x)
    torch.testing.assert_close(out[:, 0], pool.lin(x[:, J:].amax(dim=1)))
    torch.testing.assert_close(out[:, -1], pool.lin(x[:, :J].amax(dim=1)))
    with pytest.raises(ValueError, match="aggr"):
        PooledFusionConv(6, 5, num_joints=J, aggr="sum")
    with pytest.raises(ValueError, match="more than num_joints"):
        pool(torch.randn(J, 6))


@pytest.mark.parametrize("fusion", ["graph", "avgpool", "maxpool", "none"])
def test_bilayer_block_fusion_reaches_both_branches(graphs, fusion):
    e_f = graphs["fusion"][0].size(1)
    block = BilayerBlock(
        8, 16, fusion=fusion, num_fusion_edges=e_f, num_joints=J
    )
    x_s = torch.randn(2, J, 8, requires_grad=True)
    x_m = torch.randn(2, V, 8, requires_grad=True)
    y_s, y_m = block(x_s, x_m, *_args(graphs))
    assert y_s.shape == (2, J, 16) and y_m.shape == (2, V, 16)

    # Perturbing one branch changes the other only through the fusion.
    y_s2, y_m2 = block(x_s + 1.0, x_m, *_args(graphs))
    _, y_m3 = block(x_s, x_m, *_args(graphs))
    torch.testing.assert_close(y_m, y_m3)
    assert (not torch.allclose(y_m, y_m2)) == (fusion != "none")
    y_s4, _ = block(x_s, x_m + 1.0, *_args(graphs))
    assert (not torch.allclose(y_s, y_s4)) == (fusion != "none")

    (y_s.square().sum() + y_m.square().sum()).backward()
    if fusion == "graph":
        w_f = block.fusion_conv.fusion_weight
        assert w_f.grad is not None and w_f.grad.abs().sum() > 0
    else:
        assert not isinstance(block.fusion_conv, BipartiteFusionConv)


def test_bilayer_block_fusion_uses_previous_features(graphs):
    # Fig. 3: the fusion input is the block input, not the branch outputs.
    e_f = graphs["fusion"][0].size(1)
    block = BilayerBlock(8, 8, num_fusion_edges=e_f, num_joints=J)
    x_s, x_m = torch.randn(J, 8), torch.randn(V, 8)
    y_s, y_m = block(x_s, x_m, *_args(graphs))
    f = block.fusion(torch.cat([x_s, x_m]), *graphs["fusion"])
    torch.testing.assert_close(
        y_s, block.skeleton(x_s, *graphs["skeleton"]) + f[:J]
    )
    torch.testing.assert_close(y_m, block.mesh(x_m, *graphs["mesh"]) + f[J:])


def test_bilayer_block_shared_and_mesh_only(graphs):
    e_f = graphs["fusion"][0].size(1)
    shared = BilayerBlock(
        8, 8, num_fusion_edges=e_f, num_joints=J, shared_weights=True
    )
    full = BilayerBlock(8, 8, num_fusion_edges=e_f, num_joints=J)
    assert shared.skeleton is shared.mesh

    def count(m):
        return sum(p.numel() for p in m.parameters())

    assert count(full) - count(shared) == count(full.skeleton)
    y_s, y_m = shared(
        torch.randn(2, J, 8), torch.randn(2, V, 8), *_args(graphs)
    )
    assert y_s.shape == (2, J, 8) and y_m.shape == (2, V, 8)

    mesh_only = BilayerBlock(8, 8, use_skeleton=False, fusion="none")
    assert mesh_only.skeleton is None and mesh_only.fusion is None
    y_s, y_m = mesh_only(None, torch.randn(2, V, 8), *graphs["mesh"])
    assert y_s is None and y_m.shape == (2, V, 8)


def test_bilayer_block_errors(graphs):
    with pytest.raises(ValueError, match="fusion"):
        BilayerBlock(8, 8, fusion="attention")
    with pytest.raises(ValueError, match="without a skeleton"):
        BilayerBlock(
            8, 8, use_skeleton=False, fusion="graph", num_fusion_edges=3
        )
    with pytest.raises(ValueError, match="num_fusion_edges"):
        BilayerBlock(8, 8, fusion="graph")
    block = BilayerBlock(
        8,
        8,
        fusion="graph",
        num_joints=J,
        num_fusion_edges=graphs["fusion"][0].size(1),
    )
    with pytest.raises(ValueError, match="x_s"):
        block(None, torch.randn(V, 8), *graphs["mesh"])
    with pytest.raises(ValueError, match="fusion_edge_index"):
        block(
            torch.randn(J, 8),
            torch.randn(V, 8),
            *graphs["mesh"],
            *graphs["skeleton"],
        )
    with pytest.raises(ValueError, match="batch shape"):
        block(torch.randn(2, J, 8), torch.randn(3, V, 8), *_args(graphs))


def test_heads():
    head = GraphCoordinateHead(16, 8)
    assert head(torch.randn(2, V, 16)).shape == (2, V, 3)
    camera = GraphCameraHead(16, V)
    cam = camera(torch.randn(2, V, 16))
    assert cam.shape == (2, 3)
    torch.testing.assert_close(
        camera.fc.bias.detach(), torch.tensor([1.0, 0.0, 0.0])
    )
    with pytest.raises(ValueError, match=f"\\(B, {V}, C\\)"):
        camera(torch.randn(2, V + 1, 16))

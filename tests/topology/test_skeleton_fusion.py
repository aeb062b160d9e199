import pytest
import torch

from bigraph_pyg.topology import (
    BONES,
    FLIP_PERM,
    JOINT_NAMES,
    SMPL_TO_JOINTS,
    BodyGraphs,
    fusion_bipartite,
    fusion_graph,
    num_connected_components,
    skeleton_graph,
)


def test_joint_tables_match_smplx():
    from smplx.joint_names import JOINT_NAMES as SMPLX_NAMES

    assert SMPL_TO_JOINTS == (8, 5, 2, 1, 4, 7, 21, 19, 17, 16, 18, 20)
    for i, name in zip(SMPL_TO_JOINTS, JOINT_NAMES, strict=False):
        assert SMPLX_NAMES[i] == name
    for i, j in enumerate(FLIP_PERM):
        a, b = JOINT_NAMES[i], JOINT_NAMES[j]
        assert a.split("_", 1)[1] == b.split("_", 1)[1] and a != b
    assert len(BONES) == 12


def test_skeleton_weights_are_reciprocal_distances(graphs):
    j = graphs.joints.double()
    g = skeleton_graph(j)
    a = g.to_dense()
    names = JOINT_NAMES
    dense = torch.zeros(12, 12, dtype=torch.float64)
    for x, y in BONES:
        p, q = names.index(x), names.index(y)
        dense[p, q] = dense[q, p] = 1.0 / torch.dist(j[p], j[q])
    dense += torch.diag(dense.max(dim=1).values)
    torch.testing.assert_close(a, dense)
    assert num_connected_components(g.edge_index, 12) == 1
    key = g.edge_index[1] * 12 + g.edge_index[0]
    assert bool((key[1:] > key[:-1]).all())
    with pytest.raises(ValueError, match=r"Expected 'joints' of shape"):
        skeleton_graph(j[:5])


def test_fusion_weights_are_reciprocal_distances(graphs):
    g = graphs.fusion_graph
    assert g.size == (1735, 1735) and g.num_edges == 41352
    v = graphs.hierarchy.vertices[1].double()
    j = graphs.joints.double()
    ref = 1.0 / torch.cdist(j, v)
    dense = g.to_dense().double()
    torch.testing.assert_close(dense[:12, 12:], ref, rtol=1e-5, atol=0)
    torch.testing.assert_close(dense[12:, :12], ref.t(), rtol=1e-5, atol=0)
    assert bool((dense[:12, :12] == 0).all())
    assert bool((dense[12:, 12:] == 0).all())
    key = g.edge_index[1] * 1735 + g.edge_index[0]
    assert bool((key[1:] > key[:-1]).all())
    j2v, v2j = graphs.fusion_bipartite()
    assert j2v.size == (12, 1723) and v2j.size == (1723, 12)
    torch.testing.assert_close(
        j2v.to_dense(), ref.t().float(), rtol=1e-5, atol=0
    )
    torch.testing.assert_close(v2j.to_dense(), ref.float(), rtol=1e-5, atol=0)
    torch.testing.assert_close(
        torch.cat([v2j.edge_weight, j2v.edge_weight]), g.edge_weight
    )


def test_fusion_k_nearest():
    j = torch.randn(5, 3)
    v = torch.randn(40, 3)
    g = fusion_graph(j, v, k=2)
    assert g.num_edges == 2 * 2 * 40
    dense = g.to_dense()[5:, :5]
    d = torch.cdist(v, j)
    near = d.topk(2, dim=1, largest=False).indices
    mask = torch.zeros_like(dense, dtype=torch.bool).scatter_(1, near, True)
    torch.testing.assert_close(dense[mask], 1.0 / d[mask])
    assert bool((dense[~mask] == 0).all())
    j2v, v2j = fusion_bipartite(g, 5)
    assert j2v.num_edges == v2j.num_edges == 80
    with pytest.raises(ValueError, match="Expected 'k' in"):
        fusion_graph(j, v, k=6)
    with pytest.raises(ValueError, match="Expected 'vertices'"):
        fusion_graph(j, v[:, :2])


def test_body_graphs_save_load_to(graphs, tmp_path):
    path = tmp_path / "graphs.npz"
    graphs.save(path)
    import numpy as np

    np.load(path, allow_pickle=False).close()
    back = BodyGraphs.load(path)
    assert back.hierarchy.sizes == graphs.hierarchy.sizes
    for name in ("mesh_graph", "skeleton_graph", "fusion_graph"):
        a, b = getattr(back, name), getattr(graphs, name)
        assert torch.equal(a.edge_index, b.edge_index)
        assert torch.equal(a.edge_weight, b.edge_weight)
        assert a.size == b.size
    for x, y in zip(back.hierarchy.up, graphs.hierarchy.up, strict=False):
        assert torch.equal(x.to_dense(), y.to_dense())
    moved = graphs.to(torch.float64)
    assert moved.fusion_graph.edge_weight.dtype == torch.float64
    assert moved.fusion_graph.edge_index.dtype == torch.int64
    assert moved.hierarchy.faces[1].dtype == torch.int64
    with pytest.raises(FileNotFoundError):
        BodyGraphs.load(tmp_path / "nope.npz")
    with pytest.raises(ValueError, match="Expected 'level'"):
        BodyGraphs.from_hierarchy(graphs.hierarchy, graphs.joints, level=3)


def test_body_graphs_rebuild_is_deterministic(body, graphs):
    again = BodyGraphs.from_body(body)
    assert torch.equal(
        again.mesh_graph.edge_index, graphs.mesh_graph.edge_index
    )
    assert torch.equal(
        again.fusion_graph.edge_weight, graphs.fusion_graph.edge_weight
    )


def test_skeleton_graph_refuses_coincident_joints(graphs):
    # A 1e8 weight (1 / clamped length) would swamp RowNorm: every other
    # bone of both joints would get ~0 weight.
    j = graphs.joints.clone()
    a, b = JOINT_NAMES.index("right_knee"), JOINT_NAMES.index("right_ankle")
    j[a] = j[b]
    with pytest.raises(
        ValueError,
        match=r"every bone longer than eps=1e-08"
        r".*'right_knee' and 'right_ankle' at distance 0",
    ):
        skeleton_graph(j)
    j[a, 0] = float("nan")
    with pytest.raises(ValueError, match=r"finite 'joints'.*in 1 joints"):
        skeleton_graph(j)
    # Distinct joints, however close, are fine (no clamping any more).
    j = graphs.joints.clone()
    j[a] = j[b] + 1e-3
    g = skeleton_graph(j)
    assert torch.isfinite(g.edge_weight).all()

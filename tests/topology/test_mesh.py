import pytest
import scipy.sparse as sp
import torch
import trimesh

from bigraph_pyg.topology import (
    check_manifold,
    mesh_edge_index,
    mesh_graph,
    num_connected_components,
)


def _ico():
    m = trimesh.creation.icosphere(subdivisions=2)
    return m, torch.tensor(m.vertices), torch.tensor(m.faces)


def test_mesh_graph_matches_trimesh_edges():
    m, _, f = _ico()
    ei = mesh_edge_index(f)
    ref = set(map(tuple, m.edges_unique.tolist()))
    ref = ref | {(b, a) for a, b in ref}
    assert set(map(tuple, ei.t().tolist())) == ref
    assert ei.size(1) == len(ref)
    # Sorted by target, then source.
    key = ei[1] * len(m.vertices) + ei[0]
    assert bool((key[1:] > key[:-1]).all())


def test_mesh_graph_self_loops_and_normalize():
    m, v, f = _ico()
    n = len(m.vertices)
    g = mesh_graph(f)
    a = g.to_dense()
    ref = sp.coo_matrix(
        (
            torch.ones(len(m.edges_unique)).numpy(),
            (*m.edges_unique.T.tolist(),),
        ),
        shape=(n, n),
    )
    dense = torch.tensor((ref + ref.T).toarray() > 0, dtype=torch.float32)
    dense += torch.eye(n)
    torch.testing.assert_close(a, dense)
    torch.testing.assert_close(a, a.t())
    gn = mesh_graph(f, normalize=True)
    torch.testing.assert_close(gn.to_dense(), dense / dense.sum(1, True))
    # CSR adj_t stores values in edge order.
    torch.testing.assert_close(gn.adj_t().to_dense(), gn.to_dense())
    torch.testing.assert_close(gn.adj_t().values(), gn.edge_weight)
    assert num_connected_components(g.edge_index, n) == 1


def test_mesh_graph_errors():
    f = torch.tensor([[0, 1, 2], [0, 2, 3]])
    with pytest.raises(ValueError, match=r"Expected 'faces' of shape"):
        mesh_graph(f.t())
    with pytest.raises(IndexError, match=r"Expected 'faces' ids in \[0, 3\)"):
        mesh_graph(f, num_vertices=3)
    with pytest.raises(IndexError, match="Expected"):
        mesh_graph(-f)
    with pytest.raises(ValueError, match="three distinct"):
        mesh_graph(torch.tensor([[0, 1, 1]]))
    with pytest.raises(ValueError, match="integer dtype"):
        mesh_graph(f.float())
    # Three faces on one edge: non-manifold.
    nm = torch.tensor([[0, 1, 2], [0, 1, 3], [0, 1, 4]])
    with pytest.raises(ValueError, match="manifold"):
        check_manifold(nm)
    v = torch.zeros(3, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="non-zero area"):
        check_manifold(torch.tensor([[0, 1, 2]]), v)

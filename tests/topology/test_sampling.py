import numpy as np
import pytest
import scipy.sparse as sp
import torch
import trimesh

from bigraph_pyg.nn import MeshSampler
from bigraph_pyg.topology import (
    decimate,
    load_graphcmr_sampling,
    mesh_graph,
    mesh_hierarchy,
    num_connected_components,
    upsampling_matrix,
)


def _dense(t):
    return t.to_dense()


def test_default_body_hierarchy(graphs):
    h = graphs.hierarchy
    assert h.sizes == (6890, 1723, 431)
    tolerance = {0: (0.004, 0.03), 1: (0.01, 0.08)}  # mean, max (metres)
    for i, (d, u) in enumerate(zip(h.down, h.up, strict=False)):
        n, m = h.sizes[i], h.sizes[i + 1]
        assert d.shape == (m, n) and u.shape == (n, m)
        dd, uu = _dense(d), _dense(u)
        # D selects vertices; U rows are convex weights.
        assert bool(((dd == 0) | (dd == 1)).all())
        torch.testing.assert_close(dd.sum(1), torch.ones(m))
        torch.testing.assert_close(uu.sum(1), torch.ones(n))
        assert bool((uu >= 0).all())
        torch.testing.assert_close(dd @ h.vertices[i], h.vertices[i + 1])
        err = (uu @ dd @ h.vertices[i] - h.vertices[i]).norm(dim=1)
        assert err.mean() < tolerance[i][0] and err.max() < tolerance[i][1]
        g = mesh_graph(h.faces[i + 1], m)
        assert num_connected_components(g.edge_index, m) == 1
        a = g.to_dense()
        torch.testing.assert_close(a, a.t())


def test_icosphere_as_body_mesh():
    m = trimesh.creation.icosphere(subdivisions=3)
    v, f = torch.tensor(m.vertices), torch.tensor(m.faces)
    h = mesh_hierarchy(v, f, sizes=(200, 50))
    assert h.sizes == (642, 200, 50)
    for i in range(2):
        # Every coarse vertex is a fine vertex; reconstruction stays on
        # the sphere's scale (unit radius).
        err = (_dense(h.up[i]) @ h.vertices[i + 1] - h.vertices[i]).norm(dim=1)
        assert err.max() < 0.25
        assert (
            num_connected_components(
                mesh_graph(h.faces[i + 1]).edge_index, h.sizes[i + 1]
            )
            == 1
        )


def test_upsampling_is_closest_point_barycentric():
    # Points above a single triangle project inside / onto its edges.
    cv = torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=torch.float64)
    cf = torch.tensor([[0, 1, 2]])
    p = torch.tensor(
        [[0.2, 0.3, 1.0], [2.0, 0.0, 0.0], [-1, -1, 0.5], [0.5, 0.5, 0.0]],
        dtype=torch.float64,
    )
    u = _dense(upsampling_matrix(p, cv, cf))
    exp = torch.tensor(
        [[0.5, 0.2, 0.3], [0, 1, 0], [1, 0, 0], [0, 0.5, 0.5]],
        dtype=torch.float64,
    )
    torch.testing.assert_close(u, exp)


def test_sampler_batched_equals_loop(graphs):
    sampler = MeshSampler.from_hierarchy(graphs.hierarchy)
    assert repr(sampler) == "MeshSampler(6890 -> 1723 -> 431)"
    x = torch.randn(3, 6890, 5)
    down = sampler.downsample(x)
    assert down.shape == (3, 431, 5)
    d0, d1 = (_dense(t) for t in graphs.hierarchy.down)
    for b in range(3):
        torch.testing.assert_close(down[b], d1 @ (d0 @ x[b]))
        torch.testing.assert_close(sampler.downsample(x[b]), down[b])
    up = sampler(down, 2, 0)
    assert up.shape == (3, 6890, 5)
    u0, u1 = (_dense(t) for t in graphs.hierarchy.up)
    torch.testing.assert_close(up[1], u0 @ (u1 @ down[1]), atol=1e-5, rtol=1e-5)
    assert sampler(x, 0, 1).shape == (3, 1723, 5)
    x.requires_grad_(True)
    sampler.downsample(x).sum().backward()
    assert x.grad.shape == x.shape
    with pytest.raises(ValueError, match="N = 1723"):
        sampler(x, 1, 2)
    state = sampler.state_dict()
    nnz = graphs.hierarchy.down[0].coalesce()._nnz()
    assert state["down_0_index"].shape == (2, nnz)
    torch.testing.assert_close(sampler.operator("up", 1).to_dense(), u1)
    sampler64 = MeshSampler.from_hierarchy(graphs.hierarchy).to(torch.float64)
    assert sampler64.down_0_weight.dtype == torch.float64
    assert sampler64.down_0_index.dtype == torch.int64


def test_sampler_loads_the_sparse_state_dict_layout(graphs):
    """Checkpoints written when the operators were sparse COO buffers
    (``down_0``) load into the index/weight layout, same operators."""
    sampler = MeshSampler.from_hierarchy(graphs.hierarchy)
    old = {
        f"{name}_{i}": sampler.operator(name, i)
        for name in ("down", "up")
        for i in range(2)
    }
    fresh = MeshSampler.from_hierarchy(graphs.hierarchy)
    for buf in fresh.buffers():
        buf.zero_()
    fresh.load_state_dict(old)
    for key, value in sampler.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[key], value)


def test_sampler_compiles_without_graph_breaks(graphs):
    sampler = MeshSampler.from_hierarchy(graphs.hierarchy)
    x = torch.randn(2, 431, 3)
    explained = torch._dynamo.explain(sampler.upsample)(x)
    assert explained.graph_break_count == 0
    torch.testing.assert_close(
        torch.compile(sampler.upsample, fullgraph=True)(x), sampler.upsample(x)
    )


def test_decimate_errors():
    m = trimesh.creation.icosphere(subdivisions=1)
    v, f = torch.tensor(m.vertices), torch.tensor(m.faces)
    with pytest.raises(ValueError, match=r"Expected 'num_vertices' in"):
        decimate(v, f, 100)
    with pytest.raises(ValueError, match="Expected each of"):
        mesh_hierarchy(v, f, sizes=(20, 30))
    with pytest.raises(IndexError, match="ids in"):
        decimate(v[:10], f, 5)
    with pytest.raises(ValueError, match="'vertices' of shape"):
        decimate(v[:, :2], f, 5)
    extra = torch.cat([v, torch.zeros(1, 3, dtype=v.dtype)])
    with pytest.raises(ValueError, match="isolated"):
        decimate(extra, f, 20)


def _write_graphcmr(path, h):
    def to_sp(t):
        t = t.coalesce()
        i = t.indices().numpy()
        return sp.csc_matrix(
            (t.values().numpy(), (i[0], i[1])), shape=tuple(t.shape)
        )

    a = np.empty(3, dtype=object)
    for i in range(3):
        g = mesh_graph(h.faces[i], h.sizes[i], self_loops=False)
        a[i] = to_sp(g.adj_t().to_sparse_coo())
    d = np.empty(2, dtype=object)
    u = np.empty(2, dtype=object)
    for i in range(2):
        d[i], u[i] = to_sp(h.down[i]), to_sp(h.up[i])
    np.savez(path, A=a, D=d, U=u)


def test_read_graphcmr_file(tmp_path):
    m = trimesh.creation.icosphere(subdivisions=2)
    h = mesh_hierarchy(torch.tensor(m.vertices), torch.tensor(m.faces))
    path = tmp_path / "mesh_downsampling.npz"
    _write_graphcmr(path, h)
    a, d, u = load_graphcmr_sampling(path)
    assert [t.size(0) for t in a] == list(h.sizes)
    for i in range(2):
        torch.testing.assert_close(_dense(d[i]), _dense(h.down[i]).float())
        torch.testing.assert_close(_dense(u[i]), _dense(h.up[i]).float())
    sampler = MeshSampler.from_graphcmr(path)
    assert sampler.sizes == h.sizes
    with pytest.raises(FileNotFoundError, match="mesh_downsampling.npz"):
        load_graphcmr_sampling(tmp_path / "missing.npz")
    np.savez(tmp_path / "bad.npz", A=np.zeros(3))
    with pytest.raises(ValueError, match="Expected keys 'A', 'D', 'U'"):
        load_graphcmr_sampling(tmp_path / "bad.npz")


_LOAD_GRAPHCMR = """
import sys
from bigraph_pyg.topology import load_graphcmr_sampling
try:
    load_graphcmr_sampling(sys.argv[1])
    print("loaded")
except Exception as err:
    print(type(err).__name__, str(err).replace(chr(10), " "))
"""


def test_graphcmr_file_with_broken_sparse_matrix_is_refused(tmp_path):
    """Issue 27: an indptr past the data crashed SciPy's tocoo (out-of-
    bounds write); the load runs in a child so a crash fails the test."""
    import subprocess
    import sys

    m = trimesh.creation.icosphere(subdivisions=2)
    h = mesh_hierarchy(torch.tensor(m.vertices), torch.tensor(m.faces))
    path = tmp_path / "mesh_downsampling.npz"
    _write_graphcmr(path, h)
    with np.load(path, allow_pickle=True) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["D"][1].indptr[-1] += 10**6  # set on the matrix, unchecked
    np.savez(path, **arrays)
    run = subprocess.run(
        [sys.executable, "-c", _LOAD_GRAPHCMR, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    line = run.stdout.strip()
    assert line.startswith("ValueError"), line
    assert f"'D' of '{path}'" in line and "'indptr' of" in line, line

import pytest
import torch
from torch_geometric import EdgeIndex

from bigraph_pyg.testing import graph_formats, random_graph, with_device
from bigraph_pyg.utils import (
    batched_spmm,
    bipartite_blocks_matmul,
    dense_row_normalize,
    fold_batch,
    row_normalize,
    to_dense_adjacency,
    unfold_batch,
    unpack_graph,
)
from bigraph_pyg.utils.sparse import crow_indices


def test_row_normalize_matches_dense():
    edge_index, w = random_graph(20, 80, seed=4)
    norm = row_normalize(edge_index[1], w, 20)
    dense = dense_row_normalize(
        to_dense_adjacency(edge_index[0], edge_index[1], w, (20, 20))
    )
    assert torch.allclose(
        to_dense_adjacency(edge_index[0], edge_index[1], norm, (20, 20)),
        dense,
        atol=1e-6,
    )
    rows = torch.zeros(20).index_add_(0, edge_index[1], norm)
    assert torch.allclose(rows, torch.ones(20), atol=1e-6)


def test_row_normalize_all_zero_row_stays_zero():
    dst = torch.tensor([0, 0, 1, 1])
    w = torch.tensor([0.0, 0.0, 1.0, 3.0], requires_grad=True)
    out = row_normalize(dst, w, 2)
    assert torch.equal(out.detach(), torch.tensor([0.0, 0.0, 0.25, 0.75]))
    out.sum().backward()
    assert torch.isfinite(w.grad).all()


def test_row_normalize_uses_absolute_row_sum():
    # A learnable factor that turns negative must not blow the row up.
    dst = torch.zeros(2, dtype=torch.long)
    out = row_normalize(dst, torch.tensor([1.0, -1.0]), 1)
    assert torch.equal(out, torch.tensor([0.5, -0.5]))


def test_unpack_graph_formats_agree():
    edge_index, w = random_graph(12, 40, seed=5)
    for name, (graph, weight) in graph_formats(edge_index, w, (12, 12)).items():
        el = unpack_graph(graph, weight)
        assert torch.equal(el.src, edge_index[0]), name
        assert torch.equal(el.dst, edge_index[1]), name
        assert torch.allclose(el.weight, w), name
    el = unpack_graph(EdgeIndex(edge_index, sparse_size=(12, 13)))
    assert el.size == (12, 13)


@pytest.mark.parametrize("batched", [False, True])
def test_batched_spmm_matches_dense_with_gradients(batched):
    edge_index, w = random_graph(15, 60, seed=6, dtype=torch.float64)
    w.requires_grad_()
    shape = (3, 15, 4) if batched else (15, 4)
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda w, x: batched_spmm(edge_index[0], edge_index[1], w, x, 15),
        (w, x),
    )
    out = batched_spmm(edge_index[0], edge_index[1], w, x, 15)
    adj = to_dense_adjacency(edge_index[0], edge_index[1], w, (15, 15))
    assert torch.allclose(out, adj @ x)


def test_batched_spmm_rectangular():
    src = torch.tensor([0, 1, 2, 2])
    dst = torch.tensor([1, 0, 0, 3])
    w = torch.tensor([1.0, 2.0, 3.0, 4.0])
    x = torch.randn(2, 3, 5)
    out = batched_spmm(src, dst, w, x, 4)
    adj = to_dense_adjacency(src, dst, w, (3, 4))
    assert out.shape == (2, 4, 5)
    assert torch.allclose(out, adj @ x)


def test_fold_unfold_roundtrip():
    x = torch.randn(3, 7, 5)
    f = fold_batch(x)
    assert f.shape == (7, 15)
    assert torch.equal(f[:, 5:10], x[1])
    assert torch.equal(unfold_batch(f, 3), x)


def test_unpack_graph_errors():
    with pytest.raises(ValueError, match="Expected `edge_index` to be a"):
        unpack_graph([[0, 1], [1, 0]])
    adj = torch.eye(3).to_sparse_csr()
    with pytest.raises(ValueError, match="`edge_weight=None`"):
        unpack_graph(adj, torch.ones(3))


@with_device
def test_batched_spmm_device(device):
    edge_index, w = random_graph(30, 100, seed=7)
    x = torch.randn(4, 30, 8)
    ref = batched_spmm(edge_index[0], edge_index[1], w, x, 30)
    out = batched_spmm(
        edge_index[0].to(device),
        edge_index[1].to(device),
        w.to(device),
        x.to(device),
        30,
    )
    assert torch.allclose(out.cpu(), ref, atol=1e-5)


@pytest.mark.parametrize("batched", [False, True])
def test_bipartite_blocks_matmul_matches_dense(batched):
    j, v = 3, 5
    a_jv = torch.rand(j, v, dtype=torch.float64, requires_grad=True)
    a_vj = torch.rand(v, j, dtype=torch.float64, requires_grad=True)
    shape = (2, j + v, 4) if batched else (j + v, 4)
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(bipartite_blocks_matmul, (a_jv, a_vj, x))
    full = torch.zeros(j + v, j + v, dtype=torch.float64)
    full[:j, j:] = a_jv.detach()
    full[j:, :j] = a_vj.detach()
    assert torch.allclose(bipartite_blocks_matmul(a_jv, a_vj, x), full @ x)


def test_csr_structure_matches_torch_csr():
    from bigraph_pyg.utils.sparse import csr_structure

    edge_index, w = random_graph(9, 30, seed=8)
    perm = torch.randperm(edge_index.size(1))
    src, dst, w = edge_index[0][perm], edge_index[1][perm], w[perm]
    s = csr_structure(src, dst, (9, 7 + 2))
    ref = to_dense_adjacency(src, dst, w, (9, 9)).to_sparse_csr()
    assert torch.equal(s.crow, ref.crow_indices())
    assert torch.equal(s.col, ref.col_indices())
    assert torch.equal(w[s.perm], ref.values())
    ref_t = to_dense_adjacency(dst, src, w, (9, 9)).to_sparse_csr()
    assert torch.equal(s.crow_t, ref_t.crow_indices())
    assert torch.equal(s.col_t, ref_t.col_indices())
    assert torch.equal(w[s.perm][s.perm_t], ref_t.values())
    assert torch.equal(crow_indices(dst, 9), ref.crow_indices())


def test_batched_spmm_cached_structure_and_custom_ops():
    from bigraph_pyg.utils.sparse import _csr_mm, _spmm, csr_structure

    edge_index, w = random_graph(11, 40, seed=9, dtype=torch.float64)
    src, dst = edge_index
    s = csr_structure(src, dst, (11, 11))
    x = torch.randn(3, 11, 4, dtype=torch.float64, requires_grad=True)
    w = w.requires_grad_()
    assert torch.autograd.gradcheck(
        lambda w, x: batched_spmm(src, dst, w, x, 11, structure=s), (w, x)
    )
    assert torch.equal(
        batched_spmm(src, dst, w, x, 11, structure=s),
        batched_spmm(src, dst, w, x, 11),
    )
    x2d = torch.randn(11, 5)
    values = w.detach().float()[s.perm]
    torch.library.opcheck(_csr_mm, (s.crow, s.col, values, x2d))
    torch.library.opcheck(
        _spmm,
        (
            s.crow,
            s.col,
            values.requires_grad_(),
            s.crow_t,
            s.col_t,
            s.perm_t,
            x2d.requires_grad_(),
        ),
    )


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_batched_spmm_half_on_cpu(dtype):
    edge_index, w = random_graph(10, 30, seed=10)
    x = torch.randn(2, 10, 3)
    ref = batched_spmm(edge_index[0], edge_index[1], w, x, 10)
    out = batched_spmm(edge_index[0], edge_index[1], w, x.to(dtype), 10)
    assert out.dtype == dtype
    assert torch.allclose(out.float(), ref, atol=3e-2, rtol=3e-2)


def test_batched_spmm_empty_batch():
    edge_index, w = random_graph(10, 30, seed=11)
    x = torch.randn(0, 10, 3, requires_grad=True)
    out = batched_spmm(edge_index[0], edge_index[1], w, x, 10)
    assert out.shape == (0, 10, 3)
    assert unfold_batch(torch.empty(10, 0), 0, 3).shape == (0, 10, 3)


def test_unpack_graph_refuses_bool_and_misplaced_weights():
    edge_index, w = random_graph(10, 30, seed=12)
    with pytest.raises(ValueError, match=r"integer dtype \(got torch.bool\)"):
        unpack_graph(edge_index.bool())
    with pytest.raises(ValueError, match=r"`edge_weight` on the device of "):
        unpack_graph(edge_index, w.to("meta"))

"""Utilities: sparse products, dense references, the CPU allocator's policy."""

from bigraph_pyg.utils.cpu_allocator import (
    CPU_ALLOCATOR_POLICIES,
    set_cpu_allocator,
)
from bigraph_pyg.utils.sparse import (
    EdgeList,
    batched_spmm,
    bipartite_blocks_matmul,
    check_edge_list,
    dense_row_normalize,
    fold_batch,
    row_normalize,
    to_csr_adj_t,
    to_dense_adjacency,
    torch_sparse_matmul,
    unfold_batch,
    unpack_graph,
)

__all__ = [
    "EdgeList",
    "unpack_graph",
    "check_edge_list",
    "row_normalize",
    "batched_spmm",
    "bipartite_blocks_matmul",
    "fold_batch",
    "unfold_batch",
    "to_csr_adj_t",
    "to_dense_adjacency",
    "torch_sparse_matmul",
    "dense_row_normalize",
    "set_cpu_allocator",
    "CPU_ALLOCATOR_POLICIES",
]

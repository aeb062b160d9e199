r"""Batched sparse products with a custom backward, used by the conv layers.

The products are :mod:`torch.library` custom operators
(``bigraph_pyg::spmm``, ``bigraph_pyg::csr_mm``, ``bigraph_pyg::csr_sddmm``,
``bigraph_pyg::blocks_mm``) with fake kernels and registered backwards, so
``torch.compile(fullgraph=True)`` keeps each one whole instead of breaking
the graph.  The CSR structure of a graph (:func:`csr_structure`) is built
once by the caller and reused.

The ``impl`` paths of :class:`~bigraph_pyg.nn.conv.NormalizedGraphConv` and
its subclasses compute :math:`\mathbf{A}\mathbf{X}` here:

* ``sparse``: :func:`batched_spmm`, the CSR product of the whole batch
  (sample by sample in place on the CPU, folded into the channels on a
  GPU), whose backward reaches both the features and
  the edge weights without per-edge message tensors;
* ``blocks``: :func:`bipartite_blocks_matmul`, the union joint/vertex graph
  of :class:`~bigraph_pyg.nn.conv.BipartiteFusionConv` through its two dense
  bipartite blocks;
* ``torch_sparse``: :func:`torch_sparse_matmul`, the same contract as
  :func:`batched_spmm` through torch-sparse's ``SparseTensor``.

Graph unpacking, normalisation, batch folding and the dense references live
in :mod:`bigraph_pyg.utils.sparse`.  Functions here are pure (tensors in,
tensors out); device and dtype follow the inputs.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import Tensor

from bigraph_pyg.utils.sparse import crow_indices, fold_batch, unfold_batch

__all__ = [
    "CSRStructure",
    "csr_structure",
    "batched_spmm",
    "bipartite_blocks_matmul",
    "torch_sparse_matmul",
]

# CPU sparse kernels (MKL) have no float16/bfloat16 version: the products
# below run in float32 there and cast the result back.
_CPU_UPCAST = (torch.float16, torch.bfloat16)


@dataclass(frozen=True)
class CSRStructure:
    r"""The index structure of an edge list as CSR ``adj_t`` and its transpose.

    Built once per graph (:func:`csr_structure`) and reused on every call
    while the graph is unchanged: a product then only gathers the edge
    weights into CSR order (``weight[perm]``).

    Attributes:
        crow (Tensor): ``(N_dst + 1,)`` row pointers of ``adj_t``.
        col (Tensor): ``(E,)`` source node of each CSR entry.
        perm (Tensor): ``(E,)`` edge of each CSR entry (values are
            ``weight[perm]``).
        crow_t (Tensor): ``(N_src + 1,)`` row pointers of ``adj_t``'s
            transpose (for the gradient of the features).
        col_t (Tensor): ``(E,)`` target node of each transposed entry.
        perm_t (Tensor): ``(E,)`` CSR entry of each transposed entry
            (transposed values are ``values[perm_t]``).
    """

    crow: Tensor
    col: Tensor
    perm: Tensor
    crow_t: Tensor
    col_t: Tensor
    perm_t: Tensor


def csr_structure(
    src: Tensor,
    dst: Tensor,
    size: tuple[int, int],
) -> CSRStructure:
    """Sort an edge list into :class:`CSRStructure` (two argsorts).

    No device-to-host sync and static shapes (traceable by
    :func:`torch.compile`).

    Args:
        src (Tensor): ``(E,)`` source node of each edge.
        dst (Tensor): ``(E,)`` target node of each edge.
        size (tuple[int, int]): ``(N_src, N_dst)``.

    Returns:
        CSRStructure: the structure of ``adj_t`` and of its transpose.
    """
    n_src, n_dst = size
    perm = torch.argsort(dst * n_src + src, stable=True)
    col = src[perm]
    row = dst[perm]
    perm_t = torch.argsort(col * n_dst + row, stable=True)
    return CSRStructure(
        crow_indices(dst, n_dst),
        col,
        perm,
        crow_indices(src, n_src),
        row[perm_t],
        perm_t,
    )


def _csr(
    crow: Tensor, col: Tensor, values: Tensor, shape: tuple[int, int]
) -> Tensor:
    with warnings.catch_warnings():  # "CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            crow, col, values, shape, check_invariants=False
        )


# -- custom operators (opaque to torch.compile, with fake kernels) ----------


def _csr_mm_impl(
    crow: Tensor, col: Tensor, values: Tensor, x: Tensor
) -> Tensor:
    """``A @ x`` for ``x`` of ``(N, C)`` or, sample by sample, ``(B, N, C)``.

    A batch is multiplied in place, one sample at a time into one output
    allocation (``addmm(out=)``): no ``[N, B*C]`` fold of ``x`` and its
    unfold, two transposed copies of the features that took 4/5 of the
    folded product's time on the CPU (measured at N=1723, B=64, C=256).
    """
    adj = _csr(crow, col, values, (crow.size(0) - 1, x.size(-2)))
    # In the dtype the caller chose (autocast would recast to half, which
    # the CPU kernel lacks).
    with torch.autocast(x.device.type, enabled=False):
        if x.dim() == 2:
            return torch.sparse.mm(adj, x)
        out = x.new_empty(x.size(0), adj.size(0), x.size(-1))
        for x_b, out_b in zip(x, out, strict=True):
            torch.addmm(out_b, adj, x_b, beta=0.0, out=out_b)
        return out


@torch.library.custom_op("bigraph_pyg::csr_mm", mutates_args=())
def _csr_mm(crow: Tensor, col: Tensor, values: Tensor, x: Tensor) -> Tensor:
    """``CSR(crow, col, values) @ x`` for a 2-D ``x``."""
    return _csr_mm_impl(crow, col, values, x)


@_csr_mm.register_fake
def _(crow, col, values, x):
    return x.new_empty(*x.shape[:-2], crow.size(0) - 1, x.size(-1))


@torch.library.custom_op("bigraph_pyg::csr_sddmm", mutates_args=())
def _csr_sddmm(crow: Tensor, col: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """``(a @ b.T)`` sampled at the CSR entries, in CSR order: ``(E,)``.

    ``a``, ``b`` of ``(N, C)``, or ``(B, N, C)``: then summed over the
    samples.
    """
    pattern = _csr(
        crow, col, a.new_zeros(col.size(0)), (crow.size(0) - 1, b.size(-2))
    )
    with torch.autocast(a.device.type, enabled=False):
        if a.dim() == 2:
            return (
                torch.sparse.sampled_addmm(pattern, a, b.t(), beta=0.0)
                .values()
                .clone()
            )
        out = a.new_zeros(col.size(0))
        for a_b, b_b in zip(a, b, strict=True):
            sampled = torch.sparse.sampled_addmm(pattern, a_b, b_b.t())
            out += sampled.values()
        return out


@_csr_sddmm.register_fake
def _(crow, col, a, b):
    return a.new_empty(col.size(0))


@torch.library.custom_op("bigraph_pyg::spmm", mutates_args=())
def _spmm(
    crow: Tensor,
    col: Tensor,
    values: Tensor,
    crow_t: Tensor,
    col_t: Tensor,
    perm_t: Tensor,
    x: Tensor,
) -> Tensor:
    """Differentiable ``CSR(crow, col, values) @ x``."""
    return _csr_mm_impl(crow, col, values, x)


@_spmm.register_fake
def _(crow, col, values, crow_t, col_t, perm_t, x):
    return x.new_empty(*x.shape[:-2], crow.size(0) - 1, x.size(-1))


def _spmm_setup(ctx, inputs, output):
    crow, col, values, crow_t, col_t, perm_t, x = inputs
    ctx.save_for_backward(crow, col, values, crow_t, col_t, perm_t, x)


def _spmm_backward(ctx, grad):
    """``dX = A^T dOut``; ``dA_e = <dOut[row_e], X[col_e]>``.

    No per-edge message tensor is built.
    """
    crow, col, values, crow_t, col_t, perm_t, x = ctx.saved_tensors
    grad = grad.contiguous()
    grad_v = grad_x = None
    if ctx.needs_input_grad[6]:
        grad_x = _csr_mm(crow_t, col_t, values[perm_t], grad)
    if ctx.needs_input_grad[2]:
        grad_v = _csr_sddmm(crow, col, grad, x)
    return None, None, grad_v, None, None, None, grad_x


_spmm.register_autograd(_spmm_backward, setup_context=_spmm_setup)


def batched_spmm(
    src: Tensor,
    dst: Tensor,
    weight: Tensor,
    x: Tensor,
    num_dst: int,
    structure: CSRStructure | None = None,
) -> Tensor:
    r"""Weighted sparse aggregation for ``[N, C]`` or batched ``[B, N, C]``.

    .. math::
        \mathbf{X}'_{b} = \mathbf{A} \mathbf{X}_{b}, \qquad
        a_{ij} = \sum_{e: \mathrm{dst}_e = i, \mathrm{src}_e = j} w_e

    One custom operator (``bigraph_pyg::spmm``, which :func:`torch.compile`
    keeps whole) for the whole batch: on the CPU sample by sample into one
    output (no transposed copies), elsewhere folded into the channels
    (``[N, B*C]``, one kernel); gradients reach both ``x`` and
    ``weight`` without materialising ``B x E x C`` per-edge messages.
    float16/bfloat16 on CPU, which the sparse kernels lack, run in float32.

    Args:
        src (Tensor): ``(E,)`` source node of each edge.
        dst (Tensor): ``(E,)`` target node of each edge.
        weight (Tensor): ``(E,)`` edge weights.
        x (Tensor): ``(N_src, C)`` or ``(B, N_src, C)``.
        num_dst (int): ``N_dst``.
        structure (CSRStructure, optional): :func:`csr_structure` of the
            graph, when cached by the caller. (default: built here)

    Returns:
        Tensor: ``(N_dst, C)`` or ``(B, N_dst, C)``.
    """
    if structure is None:
        structure = csr_structure(src, dst, (x.size(-2), num_dst))
    dtype = x.dtype
    # On the CPU a batch is multiplied sample by sample in place
    # (_csr_mm_impl); elsewhere it is folded into the channels, one product
    # for the whole batch (one kernel launch instead of B).
    fold = x.dim() == 3 and (x.device.type != "cpu" or x.size(0) == 0)
    batch = x.size(0) if fold else None
    xs = fold_batch(x) if fold else x
    if xs.device.type == "cpu" and dtype in _CPU_UPCAST:
        xs = xs.float()
    xs = xs.contiguous()
    values = weight.to(xs.dtype)[structure.perm]
    out = _spmm(
        structure.crow,
        structure.col,
        values,
        structure.crow_t,
        structure.col_t,
        structure.perm_t,
        xs,
    )
    return unfold_batch(out.to(dtype), batch, x.size(-1))


@torch.library.custom_op("bigraph_pyg::blocks_mm", mutates_args=())
def _blocks_mm(a_jv: Tensor, a_vj: Tensor, x: Tensor) -> Tensor:
    """``[A_jv X_v ; A_vj X_j]`` written into one allocation.

    No ``cat`` (on CPU every fresh 100 MB buffer costs as much as a GEMM
    here): the vertex rows through an ``out=`` view, the few joint rows by
    assignment (a batched product into a strided ``out=`` view of ``J``
    rows took 3x as long as the product and a copy, measured at J=12,
    V=431, B=64 on CPU).
    """
    # The blocks' gradient is the registered backward's; detached here, a
    # block that requires grad makes ``matmul`` skip its fold path and copy
    # ``x`` transposed in forward and again in backward (issue #26).
    a_jv, a_vj = a_jv.detach(), a_vj.detach()
    j = a_jv.size(0)
    out = torch.empty_like(x, memory_format=torch.contiguous_format)
    out[..., :j, :] = torch.matmul(a_jv, x[..., j:, :])
    torch.matmul(a_vj, x[..., :j, :], out=out[..., j:, :])
    return out


@_blocks_mm.register_fake
def _(a_jv, a_vj, x):
    return torch.empty_like(x, memory_format=torch.contiguous_format)


def _blocks_setup(ctx, inputs, output):
    ctx.save_for_backward(*inputs)


def _blocks_backward(ctx, grad):
    """The transposed blocks for ``x``; per-sample products for the blocks.

    Each block's gradient is a sum over the batch.
    """
    a_jv, a_vj, x = ctx.saved_tensors
    j = a_jv.size(0)
    g_j, g_v = grad[..., :j, :], grad[..., j:, :]
    grad_jv = grad_vj = grad_x = None
    if ctx.needs_input_grad[2]:
        grad_x = _blocks_mm(a_vj.t(), a_jv.t(), grad)
    if ctx.needs_input_grad[0]:
        grad_jv = g_j @ x[..., j:, :].transpose(-1, -2)
        grad_jv = grad_jv.sum(0) if grad_jv.dim() == 3 else grad_jv
    if ctx.needs_input_grad[1]:
        grad_vj = g_v @ x[..., :j, :].transpose(-1, -2)
        grad_vj = grad_vj.sum(0) if grad_vj.dim() == 3 else grad_vj
    return grad_jv, grad_vj, grad_x


_blocks_mm.register_autograd(_blocks_backward, setup_context=_blocks_setup)


def bipartite_blocks_matmul(a_jv: Tensor, a_vj: Tensor, x: Tensor) -> Tensor:
    r"""Multiply a union graph's two bipartite blocks with its features.

    For a union graph over ``J`` joints (nodes ``[0, J)``) and ``V`` vertices
    whose only edges join a joint and a vertex, the adjacency is
    :math:`\begin{pmatrix} 0 & A_{jv} \\ A_{vj} & 0 \end{pmatrix}` and

    .. math::
        \mathbf{A}\mathbf{X} = \begin{pmatrix} A_{jv} X_v \\
        A_{vj} X_j \end{pmatrix}

    at :math:`2 J V C` multiply-adds per sample instead of
    :math:`(J+V)^2 C`.  Runs as the custom operator
    ``bigraph_pyg::blocks_mm`` (one allocation for the result, opaque to
    :func:`torch.compile`).

    Args:
        a_jv (Tensor): ``(J, V)`` edges into the joints.
        a_vj (Tensor): ``(V, J)`` edges into the vertices.
        x (Tensor): ``(J+V, C)`` or ``(B, J+V, C)``, joints first.

    Returns:
        Tensor: same shape as ``x``.
    """
    return _blocks_mm(a_jv, a_vj, x)


def torch_sparse_matmul(
    src: Tensor,
    dst: Tensor,
    weight: Tensor,
    x: Tensor,
    num_src: int,
    num_dst: int,
) -> Tensor:
    r""":math:`\mathbf{A}\mathbf{X}` through torch-sparse's ``SparseTensor``.

    Same contract as :func:`batched_spmm` (batch folded into channels,
    gradients to ``x`` and ``weight``), computed by ``torch_sparse.matmul``.

    Args:
        src (Tensor): ``(E,)`` source node of each edge.
        dst (Tensor): ``(E,)`` target node of each edge.
        weight (Tensor): ``(E,)`` edge weights.
        x (Tensor): ``(N_src, C)`` or ``(B, N_src, C)``.
        num_src (int): ``N_src``.
        num_dst (int): ``N_dst``.

    Returns:
        Tensor: ``(N_dst, C)`` or ``(B, N_dst, C)``.

    Raises:
        ImportError: if torch-sparse is not installed.
    """
    import torch_sparse

    adj = torch_sparse.SparseTensor(
        row=dst, col=src, value=weight, sparse_sizes=(num_dst, num_src)
    )
    batch = x.size(0) if x.dim() == 3 else None
    return unfold_batch(torch_sparse.matmul(adj, fold_batch(x)), batch)

r"""Dense references of the layers: the paper's formulas on plain tensors.

These build the full adjacency matrix and multiply, exactly as Eqs. 2 and 5
are written.  They are slow and memory-hungry by design: the tests compare
every sparse path against them, and the benchmarks report every path as a
ratio to them.
"""

from __future__ import annotations

from torch import Tensor

from bigraph_pyg.utils.sparse import dense_row_normalize

__all__ = ["dense_graph_conv", "dense_fusion_adjacency", "dense_fusion_conv"]


def dense_graph_conv(
    x: Tensor,
    adj: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
) -> Tensor:
    r"""Eq. 2 with a dense adjacency: :math:`\mathrm{RowNorm}(A) X W + b`.

    Args:
        x (Tensor): ``(N_src, C_in)`` or ``(B, N_src, C_in)``.
        adj (Tensor): Un-normalised adjacency ``(N_dst, N_src)``; row ``i``
            holds the weights of the edges into node ``i``.
        weight (Tensor): ``(C_out, C_in)`` (``torch.nn.Linear`` layout).
        bias (Tensor, optional): ``(C_out,)``.

    Returns:
        Tensor: ``(N_dst, C_out)`` or ``(B, N_dst, C_out)``.
    """
    out = dense_row_normalize(adj) @ (x @ weight.t())
    return out if bias is None else out + bias


def dense_fusion_adjacency(a_fs: Tensor, w_f: Tensor) -> Tensor:
    r"""Eq. 5: :math:`A_f = \mathrm{RowNorm}(A_{f,s} \odot W_f)`.

    Args:
        a_fs (Tensor): Fixed part, ``(N_dst, N_src)`` (zero off the graph).
        w_f (Tensor): Learnable part, same shape.

    Returns:
        Tensor: ``(N_dst, N_src)``.
    """
    return dense_row_normalize(a_fs * w_f)


def dense_fusion_conv(
    x_src: Tensor,
    a_fs: Tensor,
    w_f: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
) -> Tensor:
    r"""Fusion convolution: :math:`\mathrm{RowNorm}(A_{f,s} \odot W_f) X W + b`.

    Args:
        x_src (Tensor): ``(N_src, C_in)`` or ``(B, N_src, C_in)``.
        a_fs (Tensor): ``(N_dst, N_src)`` fixed weights.
        w_f (Tensor): ``(N_dst, N_src)`` learnable weights.
        weight (Tensor): ``(C_out, C_in)``.
        bias (Tensor, optional): ``(C_out,)``.

    Returns:
        Tensor: ``(N_dst, C_out)`` or ``(B, N_dst, C_out)``.
    """
    out = dense_fusion_adjacency(a_fs, w_f) @ (x_src @ weight.t())
    return out if bias is None else out + bias

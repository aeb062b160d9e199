"""Graph convolution on the 12-joint skeleton graph (Eq. 2, Sec. 4.3.2)."""

from __future__ import annotations

from bigraph_pyg.nn.conv.normalized_graph_conv import NormalizedGraphConv


class SkeletonConv(NormalizedGraphConv):
    r"""Graph convolution on the fixed skeleton graph (paper Eq. 2, §4.3.2).

    .. math::
        \mathbf{X}' = \mathrm{RowNorm}(\mathbf{A}_s)\,\mathbf{X}\mathbf{W}
        + \mathbf{b}, \qquad
        (\mathbf{A}_s)_{ij} = \frac{1}{\lVert \mathbf{v}^T_{s,i} -
        \mathbf{v}^T_{s,j} \rVert_2}

    where :math:`\mathbf{A}_s` is the fixed weighted skeleton adjacency:
    reciprocal Euclidean distances between the template joints on the edges
    of the skeleton (and its self-loops), given as ``edge_weight``.  Build it
    with :func:`bigraph_pyg.topology.skeleton_graph`.  Without
    ``edge_weight`` every edge weighs 1 (a mean over neighbours).

    Args:
        in_channels (int): Size of each input node feature (``-1``:
            inferred at the first call, as in PyG).
        out_channels (int): Size of each output node feature.
        bias (bool, optional): If :obj:`False`, no additive bias.
            (default: :obj:`True`)
        impl (str, optional): ``"auto"``, ``"sparse"``, ``"message"`` or
            ``"dense"``; see :class:`NormalizedGraphConv`.
            (default: ``"auto"``)
        **kwargs (optional): Additional arguments of
            :class:`NormalizedGraphConv`.

    Shapes:
        - **input:** node features :math:`(N_s, F_{in})` or
          :math:`(B, N_s, F_{in})`, edge indices :math:`(2, E)`,
          an :class:`~torch_geometric.EdgeIndex`, or sparse
          :math:`\mathbf{A}_s` ``adj_t`` :math:`(N_s, N_s)`,
          edge weights :math:`(E)`
        - **output:** node features :math:`(N_s, F_{out})` or
          :math:`(B, N_s, F_{out})`

    Raises:
        ValueError: if ``x`` and the graph disagree on the number of nodes,
            or on malformed features, graphs or weights (negative, NaN or
            infinite weights included).
        IndexError: if an edge index is out of range.

    Example:
        >>> import torch
        >>> edge_index = torch.tensor([[0, 1, 1, 2, 0, 1, 2],
        ...                            [1, 0, 2, 1, 0, 1, 2]])
        >>> edge_weight = torch.tensor([2.0, 2.0, 4.0, 4.0, 2.0, 4.0, 4.0])
        >>> conv = SkeletonConv(4, 8)
        >>> conv(torch.randn(3, 4), edge_index, edge_weight).shape
        torch.Size([3, 8])
    """

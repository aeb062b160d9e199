"""Graph convolution on the body-mesh graph (paper Eq. 2, Sec. 4.3.1)."""

from __future__ import annotations

from bigraph_pyg.nn.conv.normalized_graph_conv import NormalizedGraphConv


class MeshConv(NormalizedGraphConv):
    r"""Graph convolution on the fixed mesh graph (paper Eq. 2, Sec. 4.3.1).

    .. math::
        \mathbf{X}' = \mathbf{A}_m \mathbf{X} \mathbf{W} + \mathbf{b}

    where :math:`\mathbf{A}_m` is the binary mesh adjacency with self-loops,
    row-normalised: each vertex takes the mean of its closed 1-ring, exactly
    GraphCMR's graph convolution.  An optional ``edge_weight`` is
    row-normalised the same way (``RowNorm`` of a row-normalised matrix is
    the matrix itself, so pre-normalised weights are also fine).  Build the
    graph with :func:`bigraph_pyg.topology.mesh_graph`, which adds the
    self-loops; the layer propagates over exactly the edges it is given.

    Unlike GraphCMR, which multiplies the adjacency one sample at a time in a
    Python loop, a batch ``[B, N, C]`` is one fused sparse product.

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
        - **input:** node features :math:`(N, F_{in})` or
          :math:`(B, N, F_{in})`, edge indices :math:`(2, E)`,
          an :class:`~torch_geometric.EdgeIndex`, or sparse
          :math:`\mathbf{A}_m` ``adj_t`` :math:`(N, N)`,
          edge weights :math:`(E)` *(optional)*
        - **output:** node features :math:`(N, F_{out})` or
          :math:`(B, N, F_{out})`

    Raises:
        ValueError: if ``x`` and the graph disagree on the number of nodes,
            or on malformed features, graphs or weights.
        IndexError: if an edge index is out of range.

    Example:
        >>> import torch
        >>> src = torch.tensor([0, 1, 2, 0, 2, 3, 0, 1, 2, 3])
        >>> dst = torch.tensor([1, 0, 0, 2, 3, 2, 0, 1, 2, 3])
        >>> conv = MeshConv(8, 16)
        >>> conv(torch.randn(2, 4, 8), torch.stack([src, dst])).shape
        torch.Size([2, 4, 16])
    """

"""The learnable joint<->vertex fusion graph convolution (Eq. 5, §4.3.3)."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import Parameter
from torch_geometric.typing import Adj, OptTensor, Size

from bigraph_pyg.nn.conv.normalized_graph_conv import (
    IMPLS,
    NormalizedGraphConv,
    _check_channels,
    _check_features,
)
from bigraph_pyg.utils.sparse import EdgeList, unpack_graph
from bigraph_pyg.utils.spmm import bipartite_blocks_matmul


class BipartiteFusionConv(NormalizedGraphConv):
    r"""Fusion-graph convolution with learnable edge weights (Eqs. 2 and 5).

    .. math::
        \mathbf{A}_f = \mathrm{RowNorm}(\mathbf{A}_{f,s} \odot
        \mathbf{W}_f), \qquad
        \mathbf{X}' = \mathbf{A}_f \mathbf{X} \mathbf{W} + \mathbf{b}

    :math:`\mathbf{A}_{f,s}` (reciprocal joint-vertex distances in the
    template, §4.3.3) arrives as ``edge_weight``; :math:`\mathbf{W}_f` is
    :attr:`fusion_weight`, a learnable :class:`~torch.nn.Parameter` with one
    entry per edge, aligned with the edge order of ``edge_index`` (for a
    sparse ``adj_t``: its row-major storage order, which is also the order
    of :func:`bigraph_pyg.topology.fusion_graph`), initialised to 1.
    ``RowNorm`` divides each edge weight by the sum over the edges of its
    *target* node (``edge_index[1]``, a row of ``adj_t``); the sum is of
    absolute values, equal to the paper's plain sum while
    :math:`\mathbf{W}_f \geq 0` (as at initialisation) and bounded if an
    entry turns negative.  A node whose weights all vanish receives no
    message: its output is the bias, never NaN.

    Two ways to call it:

    * **Union graph** (the paper's :math:`(N_s+N_m) \times (N_s+N_m)`
      :math:`\mathbf{A}_f`): ``x`` is one tensor over joints and vertices and
      ``edge_index`` holds the joint-vertex edges in both directions.
    * **Bipartite pair** (PyG style, one direction): ``x = (x_src, x_dst)``
      and ``size = (N_src, N_dst)``; ``x_dst`` may be ``None`` when ``size``
      gives ``N_dst``.  Only ``x_src`` is transformed and propagated (the
      fusion graph has no self-loops, paper §4.3.3).

    Args:
        in_channels (int or tuple): Size of each input feature, or
            ``(F_src, F_dst)`` for a bipartite pair.
        out_channels (int): Size of each output node feature.
        num_edges (int): Number of fusion edges :math:`E_f` (41,352 for the
            paper's 12 joints and 1723 vertices in both directions).
        bias (bool, optional): If :obj:`False`, no additive bias.
            (default: :obj:`True`)
        impl (str, optional): ``"auto"``, ``"sparse"``, ``"message"``,
            ``"dense"`` (see :class:`NormalizedGraphConv`) or ``"blocks"``:
            on a union graph with ``num_joints`` set, multiply the two dense
            joint-by-vertex blocks :math:`N_s \times N_m` and
            :math:`N_m \times N_s` instead of the
            :math:`(N_s+N_m)^2` matrix (the fastest path for the paper's
            fully connected fusion graph on CPU and GPU, see
            ``benchmarks/``).  ``"auto"`` takes ``"blocks"`` when
            ``num_joints`` is set, otherwise ``"dense"`` for a bipartite
            pair whose density ``E / (N_src N_dst)`` is at least
            :attr:`DENSE_MIN_DENSITY`, otherwise ``"sparse"``.
            (default: ``"auto"``)
        num_joints (int, optional): In union mode, nodes
            ``[0, num_joints)`` are the joints and the rest the mesh
            vertices; every edge must join a joint and a vertex.
            (default: :obj:`None`)
        **kwargs (optional): Additional arguments of
            :class:`NormalizedGraphConv`.

    Shapes:
        - **input:** node features :math:`(N, F_{in})` or
          :math:`(B, N, F_{in})`, or a pair
          :math:`((B,) N_{src}, F_{src})`, :math:`((B,) N_{dst}, F_{dst})`;
          edge indices :math:`(2, E_f)`, an
          :class:`~torch_geometric.EdgeIndex`, or sparse ``adj_t``
          :math:`(N_{dst}, N_{src})`; edge weights
          :math:`\mathbf{A}_{f,s}` :math:`(E_f)` *(optional)*
        - **output:** node features :math:`((B,) N_{dst}, F_{out})`

    Raises:
        ValueError: if the graph does not have ``num_edges`` edges, if ``x``
            and the graph disagree on node counts, or on malformed
            features, graphs or weights.
        IndexError: if an edge index is out of range.

    Example:
        >>> import torch
        >>> # 2 joints (nodes 0, 1) fully connected to 3 vertices (2, 3, 4)
        >>> j = torch.tensor([0, 0, 0, 1, 1, 1])
        >>> v = torch.tensor([2, 3, 4, 2, 3, 4])
        >>> edge_index = torch.stack([torch.cat([j, v]), torch.cat([v, j])])
        >>> conv = BipartiteFusionConv(8, 16, num_edges=12)
        >>> conv(torch.randn(4, 5, 8), edge_index).shape
        torch.Size([4, 5, 16])
        >>> conv.fusion_weight.shape
        torch.Size([12])
    """

    def __init__(
        self,
        in_channels: int | tuple[int, int],
        out_channels: int,
        num_edges: int,
        bias: bool = True,
        impl: str = "auto",
        num_joints: int | None = None,
        **kwargs,
    ) -> None:
        if isinstance(in_channels, (tuple, list)):
            if len(in_channels) != 2:
                raise ValueError(
                    "Expected `in_channels` to be an int or a pair "
                    f"(F_src, F_dst) (got {in_channels!r})")
            _check_channels("in_channels[0]", in_channels[0])
            _check_channels("in_channels[1]", in_channels[1])
            in_channels = (int(in_channels[0]), int(in_channels[1]))
        _check_channels("num_edges", num_edges)
        if num_joints is not None:
            _check_channels("num_joints", num_joints)
        if impl == "blocks" and num_joints is None:
            raise ValueError("Expected `num_joints` with impl='blocks' (the "
                             "union graph's joint/vertex split) (got None)")
        self.num_edges = num_edges
        self.num_joints = num_joints
        super().__init__(in_channels, out_channels, bias=bias,
                         impl="auto" if impl == "blocks" else impl,
                         **kwargs)  # type: ignore[arg-type]
        self.impl = impl
        self.fusion_weight = Parameter(torch.empty(num_edges))
        self.reset_parameters()

    #: ``impl="auto"`` multiplies a dense block at or above this density.
    DENSE_MIN_DENSITY = 0.05

    def resolve_impl(self, graph: EdgeList, x: Tensor) -> str:
        """The propagation path ``impl="auto"`` takes for this graph/input."""
        if self.impl != "auto":
            return self.impl
        n_src, n_dst = graph.size
        if self.num_joints is not None and n_src == n_dst:
            return "blocks"
        if graph.num_edges >= self.DENSE_MIN_DENSITY * n_src * n_dst:
            return "dense" if n_src != n_dst else "sparse"
        return "sparse"

    def _propagate(self, graph: EdgeList, weight: Tensor, x: Tensor) -> Tensor:
        if self.resolve_impl(graph, x) != "blocks":
            return super()._propagate(graph, weight, x)
        n_src, n_dst = graph.size
        j = self.num_joints
        if n_src != n_dst or not 0 < j < n_src:  # type: ignore[operator]
            raise ValueError(
                f"Expected a union graph with more than `num_joints`={j} "
                f"nodes for impl='blocks' (got size {graph.size})")
        weight = weight.to(x.dtype)
        to_joint = graph.dst < j
        if not torch.compiler.is_compiling():
            same_side = (graph.src < j) == to_joint
            if bool(same_side.any()):
                raise ValueError(
                    f"Expected only joint-vertex edges in a union fusion "
                    f"graph with `num_joints`={j} (got "
                    f"{int(same_side.sum())} joint-joint or vertex-vertex "
                    "edges)")
        to_vert = ~to_joint
        num_v = n_src - j
        a_jv = weight.new_zeros(j, num_v).index_put(
            (graph.dst[to_joint], graph.src[to_joint] - j), weight[to_joint],
            accumulate=True)
        a_vj = weight.new_zeros(num_v, j).index_put(
            (graph.dst[to_vert] - j, graph.src[to_vert]), weight[to_vert],
            accumulate=True)
        return bipartite_blocks_matmul(a_jv, a_vj, x)

    def _impls(self) -> tuple[str, ...]:
        return IMPLS + ("blocks",)

    def _lin_in_channels(self) -> int:
        if isinstance(self.in_channels, tuple):
            return self.in_channels[0]
        return self.in_channels

    def reset_parameters(self) -> None:
        r"""Re-initialise ``W``, the bias, and :math:`\mathbf{W}_f` to 1."""
        super().reset_parameters()
        if getattr(self, "fusion_weight", None) is not None:
            with torch.no_grad():
                self.fusion_weight.fill_(1.0)

    def edge_weights(self, graph: EdgeList) -> Tensor:
        r"""Return :math:`\mathbf{A}_{f,s} \odot \mathbf{W}_f` per edge."""
        if graph.num_edges != self.num_edges:
            raise ValueError(
                f"Expected a fusion graph with `num_edges`={self.num_edges} "
                f"edges, one per entry of `fusion_weight` (got "
                f"{graph.num_edges} edges)")
        weight = self.fusion_weight
        if graph.weight is not None:
            weight = graph.weight.to(weight.dtype) * weight
        return weight

    def _sizes(
        self,
        x: Tensor | tuple[Tensor, Tensor | None],
        size: Size,
    ) -> tuple[Tensor, tuple[int, int]]:
        """Validate ``x`` and return ``(x_src, (N_src, N_dst))``."""
        c_src, c_dst = (self.in_channels if isinstance(self.in_channels,
                        tuple) else (self.in_channels, self.in_channels))
        if isinstance(x, Tensor):
            _check_features("x", x, c_src)
            n = x.size(-2)
            if size is not None and tuple(size) != (n, n):
                raise ValueError(
                    f"Expected `size` None or ({n}, {n}) for a union graph "
                    f"on the {n} nodes of `x` (got {tuple(size)})")
            return x, (n, n)
        if not isinstance(x, (tuple, list)) or len(x) != 2:
            raise ValueError(
                "Expected `x` to be a Tensor or a pair (x_src, x_dst) "
                f"(got {type(x).__name__})")
        x_src, x_dst = x
        _check_features("x[0] (x_src)", x_src, c_src)
        n_src = x_src.size(-2)
        n_dst = None if size is None else size[1]
        if size is not None and size[0] is not None and size[0] != n_src:
            raise ValueError(
                f"Expected `size[0]` to equal the {n_src} nodes of x_src "
                f"(got {size[0]})")
        if x_dst is not None:
            _check_features("x[1] (x_dst)", x_dst, c_dst)
            if x_dst.shape[:-2] != x_src.shape[:-2]:
                raise ValueError(
                    "Expected x_src and x_dst with the same batch shape "
                    f"(got {list(x_src.shape)} and {list(x_dst.shape)})")
            if n_dst is not None and n_dst != x_dst.size(-2):
                raise ValueError(
                    f"Expected `size[1]` to equal the {x_dst.size(-2)} nodes "
                    f"of x_dst (got {n_dst})")
            n_dst = x_dst.size(-2)
        if n_dst is None:
            raise ValueError(
                "Expected x_dst or `size=(N_src, N_dst)` to give the number "
                "of target nodes (got x_dst=None and no size)")
        return x_src, (n_src, int(n_dst))

    def forward(  # type: ignore[override]
        self,
        x: Tensor | tuple[Tensor, Tensor | None],
        edge_index: Adj,
        edge_weight: OptTensor = None,
        size: Size = None,
    ) -> Tensor:
        """Run the layer (see the class docstring for shapes)."""
        x_src, sizes = self._sizes(x, size)
        graph = self._graph(edge_index, edge_weight, sizes)
        weight = self.normalized_edge_weights(graph)
        out = self._propagate(graph, weight, self.lin(x_src))
        if self.bias is not None:
            out = out + self.bias
        return out

    @torch.no_grad()
    def adjacency(
        self,
        edge_index: Adj,
        edge_weight: OptTensor = None,
        size: tuple[int, int] | None = None,
    ) -> Tensor:
        r"""Return the learned :math:`\mathbf{A}_f` per edge, ``(E_f,)``.

        The values of :math:`\mathrm{RowNorm}(\mathbf{A}_{f,s} \odot
        \mathbf{W}_f)` in edge order, e.g. to draw the paper's Fig. 4.
        ``size`` defaults to a square graph over ``max(index) + 1`` nodes.
        """
        graph = self._graph_unchecked_size(edge_index, edge_weight, size)
        return self.normalized_edge_weights(graph)

    def _graph_unchecked_size(self, edge_index, edge_weight, size):
        graph = unpack_graph(edge_index, edge_weight)
        if graph.size[0] is not None and graph.size[1] is not None:
            sizes = graph.size
        elif size is not None:
            sizes = tuple(size)
        else:
            n = int(torch.maximum(graph.src.max(), graph.dst.max())) + 1
            sizes = (n, n)
        return self._graph(edge_index, edge_weight, sizes)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, "
                f"{self.out_channels}, num_edges={self.num_edges}, "
                + ("" if self.num_joints is None
                   else f"num_joints={self.num_joints}, ")
                + f"impl={self.impl!r})")

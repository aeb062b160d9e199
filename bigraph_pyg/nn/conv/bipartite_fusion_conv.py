"""The learnable joint<->vertex fusion graph convolution (Eq. 5, §4.3.3)."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import Parameter
from torch_geometric.typing import Adj, OptTensor

from bigraph_pyg.nn.conv.normalized_graph_conv import (
    IMPLS,
    NormalizedGraphConv,
    PreparedGraph,
    observed,
)
from bigraph_pyg.utils._checks import check_positive_int
from bigraph_pyg.utils.sparse import (
    EdgeList,
    bipartite_blocks_matmul,
    row_normalize,
    unpack_graph,
)

#: ``impl`` values of :class:`BipartiteFusionConv`: those of
#: :class:`NormalizedGraphConv` and ``"blocks"``.
FUSION_IMPLS: tuple[str, ...] = (*IMPLS, "blocks")


class BipartiteFusionConv(NormalizedGraphConv):
    r"""Fusion-graph convolution with learnable edge weights (Eqs. 2 and 5).

    .. math::
        \mathbf{A}_f = \mathrm{RowNorm}(\mathbf{A}_{f,s} \odot
        \mathbf{W}_f), \qquad
        \mathbf{X}' = \mathbf{A}_f \mathbf{X} \mathbf{W} + \mathbf{b}

    :math:`\mathbf{A}_{f,s}` (reciprocal joint-vertex distances in the
    template, §4.3.3) arrives as ``edge_weight``; :math:`\mathbf{W}_f` is
    :attr:`fusion_weight`, a learnable :class:`~torch.nn.Parameter` with one
    entry per edge of the *template* fusion graph, initialised to 1.  Edge
    ``e`` uses the entry ``edge_id[e]``: pass ``edge_id`` (the edge's id in
    the template, e.g. ``torch.arange(E_f)`` stored with the graph) and the
    layer works on any order of the edges (sorted, shuffled, coalesced --
    permute ``edge_id`` with them) and on a PyG
    :class:`~torch_geometric.data.Batch` of several fusion graphs (batching
    concatenates ``edge_id`` unchanged, as its name holds no ``"index"``).
    Without ``edge_id`` edge ``e`` uses entry ``e``: the graph must then
    have exactly ``num_edges`` edges in the template's order (for a sparse
    ``adj_t``: its row-major storage order, which is also the order of
    :func:`bigraph_pyg.topology.fusion_graph`).
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
        in_channels (int or tuple): Size of each input feature (``-1``:
            inferred at the first call, as in PyG), or ``(F_src, F_dst)``
            for a bipartite pair.
        out_channels (int): Size of each output node feature.
        num_edges (int): Number of fusion edges :math:`E_f` (41,352 for the
            paper's 12 joints and 1723 vertices in both directions).
        bias (bool, optional): If :obj:`False`, no additive bias.
            (default: :obj:`True`)
        impl (str, optional): ``"auto"``, ``"sparse"``, ``"message"``,
            ``"dense"`` (see :class:`NormalizedGraphConv`) or ``"blocks"``:
            on a union graph, multiply the two dense joint-by-vertex blocks
            :math:`N_s \times N_m` and :math:`N_m \times N_s` instead of
            the :math:`(N_s+N_m)^2` matrix (the fastest path for the
            paper's fully connected fusion graph on CPU and GPU, see
            ``benchmarks/``).  ``"auto"`` takes ``"blocks"`` on a union
            graph whose edges all join ``[0, J)`` and ``[J, N)``
            (``J`` = ``num_joints``, or found from the graph once:
            :meth:`joint_split`), ``"dense"`` for a bipartite pair whose
            density ``E / (N_src N_dst)`` is at least
            :attr:`DENSE_MIN_DENSITY`, otherwise ``"sparse"``.
            (default: ``"auto"``)
        num_joints (int, optional): In union mode, nodes
            ``[0, num_joints)`` are the joints and the rest the mesh
            vertices; every edge must join a joint and a vertex. Needed
            for ``"blocks"`` under :func:`torch.compile` (no sync to find
            it there). (default: :obj:`None`: found from the graph)
        **kwargs (optional): Additional arguments of
            :class:`NormalizedGraphConv`.

    Shapes:
        - **input:** node features :math:`(N, F_{in})` or
          :math:`(B, N, F_{in})`, or a pair
          :math:`((B,) N_{src}, F_{src})`, :math:`((B,) N_{dst}, F_{dst})`;
          edge indices :math:`(2, E_f)`, an
          :class:`~torch_geometric.EdgeIndex`, or sparse ``adj_t``
          :math:`(N_{dst}, N_{src})`; edge weights
          :math:`\mathbf{A}_{f,s}` :math:`(E)` *(optional)*, template edge
          ids ``edge_id`` :math:`(E)` in ``[0, num_edges)`` *(optional)*
        - **output:** node features :math:`((B,) N_{dst}, F_{out})`

    Raises:
        ValueError: if the graph does not have ``num_edges`` edges (without
            ``edge_id``), if ``x`` and the graph disagree on node counts, or
            on malformed features, graphs, weights or ``edge_id``.
        IndexError: if an edge index or an ``edge_id`` is out of range.

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
        check_positive_int("num_edges", num_edges)
        if num_joints is not None:
            check_positive_int("num_joints", num_joints)
        self.num_edges = num_edges
        self.num_joints = num_joints
        super().__init__(
            in_channels,
            out_channels,
            bias=bias,
            impl="auto" if impl == "blocks" else impl,
            **kwargs,
        )  # type: ignore[arg-type]
        self.impl = impl
        self.fusion_weight = Parameter(torch.empty(num_edges))
        self.reset_parameters()

    #: ``impl="auto"`` multiplies a dense block at or above this density.
    DENSE_MIN_DENSITY = 0.05

    def resolve_impl(self, graph: EdgeList | PreparedGraph, x: Tensor) -> str:
        """The propagation path ``impl="auto"`` takes for this graph/input.

        ``"message"`` while a PyG hook or an explainer watches the layer
        (they need per-edge messages), ``"blocks"`` on a union graph whose
        edges all join ``[0, J)`` and ``[J, N)`` (:meth:`joint_split`), a
        fused path otherwise.
        """
        if self.impl != "auto":
            return self.impl
        if observed(self):
            return "message"
        edges = graph.graph if isinstance(graph, PreparedGraph) else graph
        n_src, n_dst = edges.size
        if n_src == n_dst:
            return "sparse" if self.joint_split(graph) is None else "blocks"
        if edges.num_edges >= self.DENSE_MIN_DENSITY * n_src * n_dst:
            return "dense"
        return "sparse"

    def joint_split(self, graph: EdgeList | PreparedGraph) -> int | None:
        """The joints ``[0, J)`` of a union graph: ``num_joints``, or found.

        Without ``num_joints``, the ``J`` for which every edge joins a node
        of ``[0, J)`` and one of ``[J, N)`` (the paper's fusion graph:
        ``J`` joints first), found once per cached graph (one sync);
        :obj:`None` if there is none, or while compiling (no sync there:
        pass ``num_joints``).
        """
        if self.num_joints is not None:
            return self.num_joints
        prepared = graph if isinstance(graph, PreparedGraph) else None
        if prepared is not None and "joint_split" in prepared.extras:
            return prepared.extras["joint_split"]
        if torch.compiler.is_compiling():
            return None
        edges = graph.graph if prepared is not None else graph
        split = union_split(edges.src, edges.dst)
        if prepared is not None and prepared.cacheable:
            prepared.extras["joint_split"] = split
        return split

    def _propagate(
        self, graph: EdgeList | PreparedGraph, weight: Tensor, x: Tensor
    ) -> Tensor:
        prepared = (
            graph
            if isinstance(graph, PreparedGraph)
            else PreparedGraph(graph, cacheable=False)
        )
        blocks = None
        if self.resolve_impl(prepared, x) == "blocks" and x.numel():
            blocks = self._blocks(prepared)
        if blocks is None:  # not one union graph (e.g. a Batch): sparse
            return super()._propagate(prepared, weight, x)
        weight = weight.to(x.dtype)
        j = self.joint_split(prepared)
        v = prepared.graph.size[0] - j  # type: ignore[operator]
        order_jv, order_vj = blocks
        a_jv = gather_block(weight, order_jv, j, v)  # type: ignore[arg-type]
        a_vj = gather_block(weight, order_vj, v, j)  # type: ignore[arg-type]
        return bipartite_blocks_matmul(a_jv, a_vj, x)

    def _blocks(self, prepared: PreparedGraph) -> tuple[Block, Block] | None:
        """Where each edge weight goes in the two dense blocks (cached).

        For each block a ``("gather", order)`` when its edges fill it
        exactly once (the paper's complete fusion graph: the block is
        ``weight[order].view(...)``), else ``("scatter", flat)`` with the
        flat position of every edge (``numel`` for edges of the other
        block), summed by ``index_add``.  Building it syncs; it runs once
        per graph. :obj:`None` when the graph is not one union graph of
        ``num_joints`` joints then the vertices (a PyG ``Batch`` of fusion
        graphs has joint-joint or vertex-vertex edges by this split):
        ``impl="auto"`` then takes the sparse path; ``impl="blocks"`` is an
        error. ``J`` is :meth:`joint_split`.
        """
        if "blocks" in prepared.extras:
            return prepared.extras["blocks"]
        graph = prepared.graph
        n_src, n_dst = graph.size
        j = self.joint_split(prepared) if n_src == n_dst else None
        if j is None:
            raise ValueError(
                "Expected a union graph whose every edge joins a node of "
                "[0, J) and one of [J, N) for impl='blocks' (pass "
                f"`num_joints` while compiling) (got size {graph.size}, no "
                "such J)"
            )
        if not 0 < j < n_src:
            raise ValueError(
                f"Expected a union graph with more than `num_joints`={j} "
                f"nodes for impl='blocks' (got size {graph.size})"
            )
        v = n_src - j
        to_joint = graph.dst < j
        from_joint = graph.src < j
        if not torch.compiler.is_compiling():  # once per graph (a sync)
            same_side = int((from_joint == to_joint).sum())
            if same_side and self.impl == "blocks":
                raise ValueError(
                    f"Expected only joint-vertex edges in a union fusion "
                    f"graph with `num_joints`={j} for impl='blocks' (got "
                    f"{same_side} joint-joint or vertex-vertex edges; a "
                    "Batch of fusion graphs needs impl='auto' or 'sparse')"
                )
            if same_side:
                if prepared.cacheable:
                    prepared.extras["blocks"] = None
                return None
        # Same-side edges (none outside compilation, checked above) would
        # go to the spare slot ``J * V`` of both blocks, never to a wrong
        # entry.
        flat_jv = torch.where(
            to_joint & ~from_joint, graph.dst * v + (graph.src - j), j * v
        )
        flat_vj = torch.where(
            ~to_joint & from_joint, (graph.dst - j) * j + graph.src, j * v
        )
        blocks = (("scatter", flat_jv), ("scatter", flat_vj))
        if prepared.cacheable:
            blocks = (
                gather_if_complete(flat_jv, j * v),
                gather_if_complete(flat_vj, j * v),
            )
            prepared.extras["blocks"] = blocks
        return blocks

    def _impls(self) -> tuple[str, ...]:
        return FUSION_IMPLS

    def reset_parameters(self) -> None:
        r"""Re-initialise ``W``, the bias, and :math:`\mathbf{W}_f` to 1."""
        super().reset_parameters()
        if getattr(self, "fusion_weight", None) is not None:
            with torch.no_grad():
                self.fusion_weight.fill_(1.0)

    def edge_weights(
        self, graph: EdgeList, edge_id: Tensor | None = None
    ) -> Tensor:
        r"""Return :math:`\mathbf{A}_{f,s} \odot \mathbf{W}_f` per edge."""
        if edge_id is None:
            if graph.num_edges != self.num_edges:
                raise ValueError(
                    f"Expected a fusion graph with `num_edges`="
                    f"{self.num_edges} edges, one per entry of "
                    f"`fusion_weight` (got {graph.num_edges} edges; pass "
                    "`edge_id` for a batch or a subset of the template)"
                )
            weight = self.fusion_weight
        else:
            weight = self.fusion_weight.index_select(0, edge_id)
        if graph.weight is not None:
            weight = graph.weight.to(weight.dtype) * weight
        return weight

    def normalized_edge_weights(
        self, graph: EdgeList, edge_id: Tensor | None = None
    ) -> Tensor:
        r"""Return :math:`\mathrm{RowNorm}(\mathbf{A}_{f,s}\odot\mathbf{W}_f)`.

        One value per edge, ``(E,)``.
        """
        return row_normalize(
            graph.dst,
            self.edge_weights(graph, edge_id),
            graph.size[1],
            self.eps,
        )

    def _validate_graph(self, graph: EdgeList, **kwargs) -> None:
        edge_id = kwargs.get("edge_id")
        if edge_id is not None and edge_id.numel() > 0:
            lo, hi = int(edge_id.min()), int(edge_id.max())
            if lo < 0 or hi >= self.num_edges:
                raise IndexError(
                    f"Expected every `edge_id` in [0, {self.num_edges}) "
                    f"(`num_edges`) (got values in [{lo}, {hi}])"
                )

    def _edge_tensors(
        self, edge_id: OptTensor, device: torch.device
    ) -> dict[str, Tensor]:
        """``edge_id`` (metadata checked), part of the graph's cache key."""
        if edge_id is None:
            return {}
        check_edge_id(edge_id, None, device)
        return {"edge_id": edge_id}

    def _normalized(  # type: ignore[override]
        self, prepared: PreparedGraph, edge_id: Tensor | None = None
    ) -> Tensor:
        r"""Eq. 5 on every call: :math:`\mathbf{W}_f` is a parameter."""
        if edge_id is not None:
            check_edge_id(edge_id, prepared.graph.num_edges, edge_id.device)
        return self.normalized_edge_weights(prepared.graph, edge_id)

    @torch.no_grad()
    def adjacency(
        self,
        edge_index: Adj,
        edge_weight: OptTensor = None,
        size: tuple[int, int] | None = None,
        edge_id: OptTensor = None,
    ) -> Tensor:
        r"""Return the learned :math:`\mathbf{A}_f` per edge, ``(E_f,)``.

        The values of :math:`\mathrm{RowNorm}(\mathbf{A}_{f,s} \odot
        \mathbf{W}_f)` in edge order, e.g. to draw the paper's Fig. 4.
        ``size`` defaults to a square graph over ``max(index) + 1`` nodes.
        """
        graph = self._graph_unchecked_size(edge_index, edge_weight, size)
        if edge_id is not None:
            check_edge_id(edge_id, graph.num_edges, None)
            self._validate_graph(graph, edge_id=edge_id)
        return self.normalized_edge_weights(graph, edge_id)

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
        return (
            f"{self.__class__.__name__}({self.in_channels}, "
            f"{self.out_channels}, num_edges={self.num_edges}, "
            + (
                ""
                if self.num_joints is None
                else f"num_joints={self.num_joints}, "
            )
            + f"impl={self.impl!r})"
        )


# -- its dense joint-vertex blocks (impl="blocks") ----------------------------


# On the paper's union graph (joints ``[0, J)``, then the ``V`` vertices)
# every fusion edge joins a joint and a vertex, so :math:`\mathbf{A}_f` is
# two dense blocks, :math:`J \times V` and :math:`V \times J`.
# :class:`~bigraph_pyg.nn.BipartiteFusionConv` finds once per graph where
# each edge weight goes in them (:func:`gather_if_complete`) and fills them
# on every call (:func:`gather_block`).


def union_split(src: Tensor, dst: Tensor) -> int | None:
    """The ``J`` that splits a union graph in two sides, or :obj:`None`.

    Every edge must join a node of ``[0, J)`` and one of ``[J, N)``; one
    sync.

    Such a ``J`` exists iff the largest lower end of an edge lies below its
    smallest upper end; then ``J`` = that lower end + 1 (the paper's union
    graph: the number of joints).
    """
    if src.numel() == 0:
        return None
    low, high = torch.minimum(src, dst), torch.maximum(src, dst)
    split, first_high = torch.stack([low.max() + 1, high.min()]).tolist()
    return int(split) if split <= first_high else None


#: How a dense block is filled from the edge weights: ``("gather", order)``
#: or ``("scatter", flat position per edge)``.
Block = tuple[str, Tensor]


def gather_if_complete(flat: Tensor, numel: int) -> Block:
    """``("gather", order)`` if the block's edges hit each entry once."""
    in_block = flat < numel
    if int(in_block.sum()) == numel:
        edges = in_block.nonzero().view(-1)
        pos = flat[edges]
        order = torch.argsort(pos)
        if bool((pos[order] == torch.arange(numel, device=flat.device)).all()):
            return "gather", edges[order]
    return "scatter", flat


def gather_block(weight: Tensor, block: Block, rows: int, cols: int) -> Tensor:
    """A dense ``(rows, cols)`` block of the per-edge weights."""
    kind, index = block
    if kind == "gather":
        return weight.index_select(0, index).view(rows, cols)
    out = weight.new_zeros(rows * cols + 1).index_add(0, index, weight)
    return out[:-1].view(rows, cols)


# -- its edge ids (metadata checks, every call) -------------------------------


def check_edge_id(
    edge_id: object,
    graph_edges: int | None,
    device: torch.device | None,
) -> None:
    """Metadata checks of the fusion conv's ``edge_id`` (every call, no sync).

    Args:
        edge_id (object): The template edge id of every edge, ``(E,)``.
        graph_edges (int, optional): ``E``, the edges of the graph
            (:obj:`None`: not known yet).
        device (torch.device, optional): The device of ``x``.
    """
    if not isinstance(edge_id, Tensor):
        raise ValueError(
            "Expected `edge_id` to be a Tensor or None "
            f"(got {type(edge_id).__name__})"
        )
    if (
        edge_id.is_floating_point()
        or edge_id.is_complex()
        or edge_id.dtype == torch.bool
        or edge_id.dim() != 1
    ):
        raise ValueError(
            "Expected `edge_id` of an integer dtype and shape (E,) "
            f"(got {edge_id.dtype} {list(edge_id.shape)})"
        )
    if graph_edges is not None and edge_id.numel() != graph_edges:
        raise ValueError(
            f"Expected `edge_id` of shape ({graph_edges},), one id per "
            f"edge of the graph (got {list(edge_id.shape)})"
        )
    if device is not None and edge_id.device != device:
        raise ValueError(
            f"Expected `edge_id` on the device of `x` ({device}) (got "
            f"{edge_id.device})"
        )

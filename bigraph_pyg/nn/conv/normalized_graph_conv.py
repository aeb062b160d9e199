"""The graph convolution of the paper's Eq. 2 on any fixed weighted graph."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import Parameter
from torch_geometric import EdgeIndex
from torch_geometric.nn.conv import MessagePassing
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.nn.inits import zeros
from torch_geometric.typing import WITH_TORCH_SPARSE, Adj, OptTensor, Size

from bigraph_pyg.nn.conv._inputs import (
    check_graph_device,
    check_graph_size,
    check_in_channels,
    split_features,
)
from bigraph_pyg.nn.conv._observers import observed
from bigraph_pyg.nn.graph_cache import (
    GraphCache,
    PreparedGraph,
    check_graph_once,
)
from bigraph_pyg.nn.validate import validation_enabled
from bigraph_pyg.utils._checks import check_positive_int
from bigraph_pyg.utils.sparse import (
    EdgeList,
    check_edge_list,
    row_normalize,
    to_dense_adjacency,
    unpack_graph,
)
from bigraph_pyg.utils.spmm import (
    batched_spmm,
    csr_structure,
    torch_sparse_matmul,
)

IMPLS = ("auto", "sparse", "message", "dense", "torch_sparse")

# Per-edge messages of the `message` path are materialised in batch chunks of
# at most this many bytes, never for the whole batch at once.
MESSAGE_CHUNK_BYTES = 1 << 28


class NormalizedGraphConv(MessagePassing):
    r"""Graph convolution with a row-normalised adjacency (paper Eq. 2).

    .. math::
        \mathbf{X}' = \mathrm{RowNorm}(\mathbf{A})\,\mathbf{X}\mathbf{W}
        + \mathbf{b}, \qquad
        \mathrm{RowNorm}(\mathbf{A})_{ij} =
        \frac{a_{ij}}{\max(\sum_k |a_{ik}|, \epsilon)}

    where :math:`a_{ij}` is the weight of the edge ``j -> i`` (``1`` when no
    ``edge_weight`` is given).  Self-loops are part of the graph, not added
    by the layer: the builders in :mod:`bigraph_pyg.topology` include them.
    A node whose incoming weights all vanish receives no message (its output
    is the bias), never NaN.  This is the shared base of :class:`MeshConv`,
    :class:`SkeletonConv` and :class:`BipartiteFusionConv`.

    As PyG's :class:`~torch_geometric.nn.conv.GraphConv`, ``x`` may be a
    pair ``(x_src, x_dst)`` for a bipartite graph with ``size=(N_src,
    N_dst)``; ``x_dst`` (or ``size``) only gives the number of target nodes
    (Eq. 2 has no root term; self-loops are edges).

    The graph is validated (indices in range, weights finite and
    non-negative) and sorted into CSR **once**: the layer caches what it
    derives from a graph while the same, unmodified tensors come back (see
    :mod:`bigraph_pyg.nn.graph_cache`), so a forward on the model's graph
    buffers makes no device-to-host sync.  :class:`~bigraph_pyg.nn.validation`
    switches the value checks off altogether.

    Args:
        in_channels (int or tuple): Size of each input node feature
            (``-1``: inferred at the first call, as in PyG), or
            ``(F_src, F_dst)`` for a bipartite pair.
        out_channels (int): Size of each output node feature.
        bias (bool, optional): If :obj:`False`, no additive bias.
            (default: :obj:`True`)
        impl (str, optional): How to propagate: ``"sparse"`` (one fused CSR
            product for the whole batch, batch folded into channels),
            ``"message"`` (PyG's per-edge :meth:`message` and scatter
            :meth:`aggregate`, in batch chunks of bounded memory),
            ``"dense"`` (materialise :math:`\mathbf{A}` and multiply),
            ``"torch_sparse"`` (torch-sparse's ``SparseTensor`` product,
            when installed), or
            ``"auto"`` (the fused sparse product). (default: ``"auto"``)
        eps (float, optional): Lower bound of the row sums.
            (default: ``1e-12``)
        **kwargs (optional): Additional arguments of
            :class:`torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input:** node features :math:`(N, F_{in})` or
          :math:`(B, N, F_{in})` (``B`` may be 0), or a pair
          :math:`((B,) N_{src}, F_{src})`, :math:`((B,) N_{dst}, F_{dst})`;
          edge indices :math:`(2, E)`, an
          :class:`~torch_geometric.EdgeIndex`, or a sparse
          :math:`\mathbf{A}` ``adj_t`` :math:`(N_{dst}, N_{src})`
          (torch.sparse or ``SparseTensor``), edge weights :math:`(E)`
          *(optional)*
        - **output:** node features :math:`((B,) N_{dst}, F_{out})`

    Raises:
        ValueError: on features of rank other than 2 or 3, of another
            dtype or device than the layer (outside autocast), a graph on
            another device than ``x``, a node count that disagrees with the
            graph, a malformed (e.g. float or bool) graph, an
            ``edge_weight`` of the wrong length, or negative / non-finite
            weights.
        IndexError: if an edge index is out of range.
    """

    SUPPORTS_FUSED_EDGE_INDEX = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        bias: bool = True,
        impl: str = "auto",
        eps: float = 1e-12,
        **kwargs,
    ) -> None:
        kwargs.setdefault("aggr", "add")
        kwargs.setdefault("node_dim", -2)
        super().__init__(**kwargs)
        if kwargs["aggr"] != "add":
            raise ValueError(
                f"Expected `aggr='add'` (got {kwargs['aggr']!r}): the paper's "
                "row-normalised product is a weighted sum"
            )
        in_channels = check_in_channels(in_channels)
        check_positive_int("out_channels", out_channels)
        impls = self._impls()
        if impl not in impls:
            raise ValueError(f"Expected `impl` in {impls} (got {impl!r})")
        if impl == "torch_sparse" and not WITH_TORCH_SPARSE:
            raise ValueError(
                "Expected torch-sparse to be installed for "
                "impl='torch_sparse' (got no `torch_sparse`); "
                "pip install --no-build-isolation torch-sparse"
            )
        if not eps > 0:
            raise ValueError(f"Expected `eps` > 0 (got {eps})")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.impl = impl
        self.eps = eps
        self._graph_cache = GraphCache()
        self.lin = Linear(
            self._lin_in_channels(),
            out_channels,
            bias=False,
            weight_initializer="glorot",
        )
        if bias:
            self.bias = Parameter(torch.empty(out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def _lin_in_channels(self) -> int:
        if isinstance(self.in_channels, tuple):
            return self.in_channels[0]
        return self.in_channels

    def _impls(self) -> tuple[str, ...]:
        return IMPLS

    def reset_parameters(self) -> None:
        """Re-initialise ``W`` (Glorot), the bias (zeros), the graph cache."""
        super().reset_parameters()
        self.lin.reset_parameters()
        zeros(self.bias)
        if getattr(self, "_graph_cache", None) is not None:
            self._graph_cache.clear()

    # -- graph handling ----------------------------------------------------

    def _graph(
        self,
        edge_index: Adj,
        edge_weight: OptTensor,
        size: tuple[int, int],
        check: bool = True,
    ) -> EdgeList:
        """Unpack, complete and (``check``) validate the graph."""
        graph = unpack_graph(edge_index, edge_weight)
        check_graph_size(graph.size, size)
        graph = EdgeList(graph.src, graph.dst, graph.weight, tuple(size))
        if check and validation_enabled():
            check_edge_list(graph)
        return graph

    def _validate_graph(self, graph: EdgeList, **kwargs) -> None:
        """Subclass hook: more value checks, once per graph."""

    def prepare_graph(
        self,
        edge_index: Adj,
        edge_weight: OptTensor,
        size: tuple[int, int],
        device: torch.device | None = None,
        **kwargs,
    ) -> PreparedGraph:
        """The validated graph and its cached structures (see the class).

        Args:
            edge_index: The graph in any accepted format.
            edge_weight (Tensor, optional): Its weights.
            size (tuple[int, int]): ``(N_src, N_dst)`` of ``x``.
            device (torch.device, optional): The device of ``x``; a graph
                elsewhere is an error.
            **kwargs: Further graph tensors of a subclass (``edge_id``).

        Returns:
            PreparedGraph: cached while the same tensors come back
            unmodified.
        """
        g_dev = check_graph_device(edge_index, device)
        if torch.compiler.is_compiling():  # traced: no cache, no checks
            graph = self._graph(edge_index, edge_weight, tuple(size))
            return PreparedGraph(graph, cacheable=False)
        tensors = (edge_index, edge_weight, *kwargs.values())
        # Structures built under inference mode cannot be saved for a
        # backward outside it: one entry per mode.
        key = (
            tuple(size),
            g_dev,
            tuple(kwargs),
            torch.is_inference_mode_enabled(),
        )
        prepared = self._graph_cache.get(tensors, key)
        if prepared is not None and (
            prepared.validated or not validation_enabled()
        ):
            return prepared
        graph = (
            self._graph(edge_index, edge_weight, tuple(size), check=False)
            if prepared is None
            else prepared.graph  # cached while validation was off
        )
        if validation_enabled():
            # Once per graph and process: the model's other convs, given
            # the same buffers, find it checked.
            check_graph_once(graph, tensors[:2], key[:2])
            self._validate_graph(graph, **kwargs)
        if prepared is None:
            prepared = self._graph_cache.put(tensors, key, graph)
        prepared.validated = validation_enabled()
        return prepared

    def edge_weights(self, graph: EdgeList) -> Tensor:
        """Return the un-normalised weight :math:`a_{ij}` of every edge."""
        if graph.weight is None:
            return torch.ones(graph.num_edges, device=graph.src.device)
        return graph.weight

    def normalized_edge_weights(self, graph: EdgeList) -> Tensor:
        r"""Return :math:`\mathrm{RowNorm}(\mathbf{A})` per edge, ``(E,)``."""
        return row_normalize(
            graph.dst, self.edge_weights(graph), graph.size[1], self.eps
        )

    def _normalized(self, prepared: PreparedGraph) -> Tensor:
        """:meth:`normalized_edge_weights`, cached for a fixed graph."""
        w = prepared.graph.weight
        if w is not None and w.requires_grad:
            return self.normalized_edge_weights(prepared.graph)
        norm = prepared.extras.get("norm")
        if norm is None:
            norm = self.normalized_edge_weights(prepared.graph)
            if prepared.cacheable:
                prepared.extras["norm"] = norm
        return norm

    def _csr(self, prepared: PreparedGraph):
        csr = prepared.extras.get("csr")
        if csr is None:
            g = prepared.graph
            csr = csr_structure(g.src, g.dst, g.size)
            if prepared.cacheable:
                prepared.extras["csr"] = csr
        return csr

    # -- propagation ---------------------------------------------------------

    def resolve_impl(self, graph: EdgeList, x: Tensor) -> str:
        """The propagation path ``impl="auto"`` takes for this graph/input.

        ``"message"`` while a PyG hook or an explainer watches the layer
        (they need per-edge messages), a fused path otherwise.
        """
        if self.impl != "auto":
            return self.impl
        if observed(self):
            return "message"
        return "sparse"

    def _propagate(
        self, graph: EdgeList | PreparedGraph, weight: Tensor, x: Tensor
    ) -> Tensor:
        prepared = (
            graph
            if isinstance(graph, PreparedGraph)
            else PreparedGraph(graph, cacheable=False)
        )
        graph = prepared.graph
        impl = self.resolve_impl(graph, x)
        n_src, n_dst = graph.size
        weight = weight.to(x.dtype)
        if x.numel() == 0:  # an empty batch: some kernels divide by B*C
            zero = 0 * x.sum() + 0 * weight.sum()  # keeps the autograd graph
            return x.new_zeros(*x.shape[:-2], n_dst, x.size(-1)) + zero
        if impl == "dense":
            adj = to_dense_adjacency(graph.src, graph.dst, weight, graph.size)
            return adj @ x
        if impl == "torch_sparse":
            return torch_sparse_matmul(
                graph.src, graph.dst, weight, x, n_src, n_dst
            )
        if impl == "sparse":
            # The fused product of `message_and_aggregate`, on the cached
            # CSR structure (`propagate` would need an `EdgeIndex` built
            # per call and breaks torch.compile).
            return batched_spmm(
                graph.src,
                graph.dst,
                weight,
                x,
                n_dst,
                structure=self._csr(prepared),
            )
        index = torch.stack([graph.src, graph.dst])
        if x.dim() == 2:
            return self.propagate(
                index, x=x, edge_weight=weight, size=(n_src, n_dst)
            )
        per_sample = graph.num_edges * x.size(-1) * x.element_size()
        chunk = max(1, MESSAGE_CHUNK_BYTES // max(per_sample, 1))
        outs = [
            self.propagate(index, x=xc, edge_weight=weight, size=(n_src, n_dst))
            for xc in x.split(chunk, dim=0)
        ]
        return torch.cat(outs, dim=0)

    def _sizes(
        self,
        x: Tensor | tuple[Tensor, Tensor | None],
        size: Size,
    ) -> tuple[Tensor, tuple[int, int]]:
        """Validate ``x`` and return ``(x_src, (N_src, N_dst))``."""
        channels = self.in_channels
        pair = isinstance(channels, tuple)
        if (channels[0] if pair else channels) < 0:  # lazy: PyG's Linear
            # knows the size once it has seen x
            f_src = self.lin.in_channels  # -1 until then
            channels = (f_src, channels[1]) if pair else f_src
        return split_features(x, size, channels, self.lin.weight)

    def forward(
        self,
        x: Tensor | tuple[Tensor, Tensor | None],
        edge_index: Adj,
        edge_weight: OptTensor = None,
        size: Size = None,
    ) -> Tensor:
        """Run the layer (see the class docstring for shapes)."""
        x_src, sizes = self._sizes(x, size)
        prepared = self.prepare_graph(
            edge_index, edge_weight, sizes, x_src.device
        )
        weight = self._normalized(prepared)
        out = self._propagate(prepared, weight, self.lin(x_src))
        if self.bias is not None:
            out = out + self.bias
        return out

    def message(self, x_j: Tensor, edge_weight: Tensor) -> Tensor:
        r"""Per-edge message :math:`a_{ij} \mathbf{x}_j`."""
        return edge_weight.view(-1, 1) * x_j

    def message_and_aggregate(
        self,
        edge_index: Adj,
        x: Tensor,
        edge_weight: Tensor,
        num_dst: int | None = None,
    ) -> Tensor:
        r"""Fused :math:`\mathbf{A}\mathbf{X}` as one sparse product.

        ``edge_index`` is a ``[2, E]`` tensor or an
        :class:`~torch_geometric.EdgeIndex`; ``num_dst`` defaults to its
        number of columns, else to ``x.size(-2)``.  The batch of ``x`` is
        folded into the channels (:func:`~bigraph_pyg.utils.batched_spmm`),
        so no per-edge message tensor is ever built.
        """
        if isinstance(edge_index, EdgeIndex):
            if num_dst is None:
                num_dst = int(edge_index.num_cols)
            edge_index = edge_index.as_tensor()
        if num_dst is None:
            num_dst = x.size(-2)
        return batched_spmm(
            edge_index[0], edge_index[1], edge_weight, x, num_dst
        )

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_channels}, "
            f"{self.out_channels}, impl={self.impl!r})"
        )

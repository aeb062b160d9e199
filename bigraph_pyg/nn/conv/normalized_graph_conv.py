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

from bigraph_pyg.utils.sparse import (
    EdgeList,
    check_edge_list,
    row_normalize,
    to_dense_adjacency,
    unpack_graph,
)
from bigraph_pyg.utils.spmm import batched_spmm, torch_sparse_matmul

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

    Args:
        in_channels (int): Size of each input node feature.
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
          :math:`(B, N, F_{in})`, edge indices :math:`(2, E)`, an
          :class:`~torch_geometric.EdgeIndex`, or a sparse
          :math:`\mathbf{A}` ``adj_t`` :math:`(N, N)` (torch.sparse or
          ``SparseTensor``), edge weights :math:`(E)` *(optional)*
        - **output:** node features :math:`(N, F_{out})` or
          :math:`(B, N, F_{out})`

    Raises:
        ValueError: on features of rank other than 2 or 3, a node count that
            disagrees with the graph, a malformed graph, an ``edge_weight``
            of the wrong length, or negative / non-finite weights.
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
                "row-normalised product is a weighted sum")
        if not isinstance(in_channels, tuple):  # pairs: checked by subclass
            _check_channels("in_channels", in_channels)
        _check_channels("out_channels", out_channels)
        impls = self._impls()
        if impl not in impls:
            raise ValueError(f"Expected `impl` in {impls} (got {impl!r})")
        if impl == "torch_sparse" and not WITH_TORCH_SPARSE:
            raise ValueError("Expected torch-sparse to be installed for "
                             "impl='torch_sparse' (got no `torch_sparse`); "
                             "pip install --no-build-isolation torch-sparse")
        if not eps > 0:
            raise ValueError(f"Expected `eps` > 0 (got {eps})")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.impl = impl
        self.eps = eps
        self.lin = Linear(self._lin_in_channels(), out_channels, bias=False,
                          weight_initializer="glorot")
        if bias:
            self.bias = Parameter(torch.empty(out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def _lin_in_channels(self) -> int:
        return self.in_channels

    def _impls(self) -> tuple[str, ...]:
        return IMPLS

    def reset_parameters(self) -> None:
        """Re-initialise ``W`` (Glorot) and the bias (zeros)."""
        super().reset_parameters()
        self.lin.reset_parameters()
        zeros(self.bias)

    # -- graph handling ----------------------------------------------------

    def _graph(
        self,
        edge_index: Adj,
        edge_weight: OptTensor,
        size: tuple[int, int],
    ) -> EdgeList:
        """Unpack, complete and validate the graph for the given sizes."""
        graph = unpack_graph(edge_index, edge_weight)
        n_src, n_dst = size
        g_src, g_dst = graph.size
        for side, got, want in (("source", g_src, n_src),
                                ("target", g_dst, n_dst)):
            if got is not None and got != want:
                raise ValueError(
                    f"Expected the graph's {side} size to equal the number "
                    f"of nodes in `x` ({want}) (got a graph of size {got})")
        graph = EdgeList(graph.src, graph.dst, graph.weight, (n_src, n_dst))
        check_edge_list(graph)
        return graph

    def edge_weights(self, graph: EdgeList) -> Tensor:
        """Return the un-normalised weight :math:`a_{ij}` of every edge."""
        if graph.weight is None:
            return torch.ones(graph.num_edges, device=graph.src.device)
        return graph.weight

    def normalized_edge_weights(self, graph: EdgeList) -> Tensor:
        r"""Return :math:`\mathrm{RowNorm}(\mathbf{A})` per edge, ``(E,)``."""
        return row_normalize(graph.dst, self.edge_weights(graph),
                             graph.size[1], self.eps)

    # -- propagation ---------------------------------------------------------

    def resolve_impl(self, graph: EdgeList, x: Tensor) -> str:
        """The propagation path ``impl="auto"`` takes for this graph/input."""
        if self.impl != "auto":
            return self.impl
        return "sparse"

    def _propagate(self, graph: EdgeList, weight: Tensor, x: Tensor) -> Tensor:
        impl = self.resolve_impl(graph, x)
        n_src, n_dst = graph.size
        weight = weight.to(x.dtype)
        if impl == "dense":
            adj = to_dense_adjacency(graph.src, graph.dst, weight,
                                     graph.size)
            return adj @ x
        if impl == "torch_sparse":
            return torch_sparse_matmul(graph.src, graph.dst, weight, x,
                                       n_src, n_dst)
        if impl == "sparse":
            # Called directly rather than through `propagate`, which would
            # need an `EdgeIndex` built per call (and breaks torch.compile).
            return self.message_and_aggregate(
                torch.stack([graph.src, graph.dst]), x=x, edge_weight=weight,
                num_dst=n_dst)
        index = torch.stack([graph.src, graph.dst])
        if x.dim() == 2:
            return self.propagate(index, x=x, edge_weight=weight,
                                  size=(n_src, n_dst))
        per_sample = graph.num_edges * x.size(-1) * x.element_size()
        chunk = max(1, MESSAGE_CHUNK_BYTES // max(per_sample, 1))
        outs = [self.propagate(index, x=xc, edge_weight=weight,
                               size=(n_src, n_dst))
                for xc in x.split(chunk, dim=0)]
        return torch.cat(outs, dim=0)

    def forward(
        self,
        x: Tensor,
        edge_index: Adj,
        edge_weight: OptTensor = None,
        size: Size = None,
    ) -> Tensor:
        """Run the layer (see the class docstring for shapes)."""
        _check_features("x", x, self.in_channels)
        n = x.size(-2)
        if size is not None and tuple(size) != (n, n):
            raise ValueError(f"Expected `size` None or ({n}, {n}) for a graph "
                             f"on the {n} nodes of `x` (got {tuple(size)})")
        graph = self._graph(edge_index, edge_weight, (n, n))
        weight = self.normalized_edge_weights(graph)
        out = self._propagate(graph, weight, self.lin(x))
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
        return batched_spmm(edge_index[0], edge_index[1], edge_weight, x,
                            num_dst)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, "
                f"{self.out_channels}, impl={self.impl!r})")


def _check_channels(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"Expected `{name}` to be a positive int "
                         f"(got {value!r})")


def _check_features(name: str, x: object, channels: int) -> None:
    if not isinstance(x, Tensor):
        raise ValueError(f"Expected `{name}` to be a Tensor "
                         f"(got {type(x).__name__})")
    if x.dim() not in (2, 3):
        raise ValueError(
            f"Expected `{name}` of shape [N, C] or [B, N, C] "
            f"(got {list(x.shape)})")
    if x.size(-1) != channels:
        raise ValueError(
            f"Expected `{name}` with {channels} channels in its last "
            f"dimension (got {list(x.shape)})")

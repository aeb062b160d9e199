r"""The graph convolution of the paper's Eq. 2 on any fixed weighted graph.

One module for one conv: :class:`NormalizedGraphConv` (the base of
:class:`~bigraph_pyg.nn.MeshConv`, :class:`~bigraph_pyg.nn.SkeletonConv`
and :class:`~bigraph_pyg.nn.BipartiteFusionConv`), whose :meth:`forward
<NormalizedGraphConv.forward>` reads top to bottom, and below it what that
forward calls: the metadata checks of its inputs (shapes, dtypes, devices;
no host sync, every call), whether a PyG hook or explainer watches it, and
the per-layer memo of prepared graphs.  The graph side (formats, value
checks, ``RowNorm``, every batched product) is
:mod:`bigraph_pyg.utils.sparse`.

**The graph memo** (validated once, CSR built once). A layer takes its graph
as a ``forward`` argument (the model passes the same buffers on every call).
Everything derived from the graph alone -- the canonical edge list, its
validation (host syncs), the CSR structure, the row-normalised weights of a
fixed graph, the fusion conv's block indices -- is computed at the first
call and reused while the *same* tensors come back unchanged. The key is the
identity of each graph tensor (a weak reference, so a freed tensor never
matches a new one at the same address), its version counter (bumped by every
in-place change, e.g. ``load_state_dict``) and its storage view (``.data =``
reassignment), plus the sizes and the device.

Some writes bypass the version counter: through ``t.data`` (``w.data[...]
= 0``) or through a NumPy view (``edge_index.numpy()[0, 0] = 5``). So
each entry also keeps a copy of the graph's values and compares them at
every look-up: on the CPU always (a memory comparison, no sync), on an
accelerator while :func:`~bigraph_pyg.nn.validation` is on (the comparison
is a device-to-host sync). With validation off on an accelerator, such a
write is not seen: call the layer's ``reset_parameters()`` (or
``_graph_cache.clear()``) after editing a graph that way.
"""

from __future__ import annotations

import weakref
from typing import Any

import torch
from torch import Tensor
from torch.nn import Parameter
from torch_geometric import EdgeIndex
from torch_geometric.nn.conv import MessagePassing
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.nn.inits import zeros
from torch_geometric.typing import WITH_TORCH_SPARSE, Adj, OptTensor, Size

from bigraph_pyg.nn.validate import validation_enabled
from bigraph_pyg.utils._checks import check_positive_int
from bigraph_pyg.utils.sparse import (
    EdgeList,
    batched_spmm,
    check_edge_list,
    csr_structure,
    row_normalize,
    to_dense_adjacency,
    torch_sparse_matmul,
    unpack_graph,
)

__all__ = [
    "IMPLS",
    "NormalizedGraphConv",
    "GraphCache",
    "PreparedGraph",
    "check_graph_once",
]

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
    the graph memo below), so a forward on the model's graph
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

    def forward(
        self,
        x: Tensor | tuple[Tensor, Tensor | None],
        edge_index: Adj,
        edge_weight: OptTensor = None,
        size: Size = None,
        edge_id: OptTensor = None,
    ) -> Tensor:
        """Run the layer (see the class docstring for shapes).

        The whole layer, every subclass included: check ``x``, prepare the
        graph (once per graph), ``RowNorm`` its weights, multiply, add the
        bias. ``edge_id`` is for a layer with per-edge parameters
        (:class:`~bigraph_pyg.nn.BipartiteFusionConv`); the others refuse
        it.
        """
        x_src, sizes = self._sizes(x, size)
        edge_tensors = self._edge_tensors(edge_id, x_src.device)
        prepared = self.prepare_graph(
            edge_index, edge_weight, sizes, x_src.device, **edge_tensors
        )
        weight = self._normalized(prepared, **edge_tensors)
        out = self._propagate(prepared, weight, self.lin(x_src))
        if self.bias is not None:
            out = out + self.bias
        return out

    def _edge_tensors(
        self, edge_id: OptTensor, device: torch.device
    ) -> dict[str, Tensor]:
        """Per-edge tensors beyond the weights: none for this layer."""
        if edge_id is not None:
            raise ValueError(
                f"Expected no `edge_id` for {type(self).__name__}, which has "
                "no per-edge parameters (got a tensor; `edge_id` is for "
                "BipartiteFusionConv)"
            )
        return {}

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


# -- its inputs (metadata checks, every call) ---------------------------------


def check_in_channels(in_channels: object) -> int | tuple[int, int]:
    """Check ``in_channels``, an int or a pair ``(F_src, F_dst)``.

    ``-1`` (either or both in a pair) is PyG's lazy size: inferred from
    the features at the first call.

    Returns:
        int or tuple[int, int]: ``in_channels``, a pair as a tuple of ints.
    """
    if isinstance(in_channels, (tuple, list)):
        if len(in_channels) != 2:
            raise ValueError(
                "Expected `in_channels` to be an int or a pair "
                f"(F_src, F_dst) (got {in_channels!r})"
            )
        return (
            _channels("in_channels[0]", in_channels[0]),
            _channels("in_channels[1]", in_channels[1]),
        )
    return _channels("in_channels", in_channels)


def _channels(name: str, value: object) -> int:
    """A positive int, or ``-1`` (lazy)."""
    if isinstance(value, int) and not isinstance(value, bool) and value == -1:
        return -1
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"Expected `{name}` to be a positive int or -1 (inferred at the "
            f"first call) (got {value!r})"
        )
    return value


def check_features(
    name: str, x: object, channels: int, like: Tensor | None = None
) -> Tensor:
    """Check a ``[N, C]`` / ``[B, N, C]`` feature tensor and return it.

    With ``like`` (the layer's weight), ``x`` must also share its device,
    and its dtype unless autocast is on for that device.
    """
    if not isinstance(x, Tensor):
        raise ValueError(
            f"Expected `{name}` to be a Tensor (got {type(x).__name__})"
        )
    if x.dim() not in (2, 3):
        raise ValueError(
            f"Expected `{name}` of shape [N, C] or [B, N, C] "
            f"(got {list(x.shape)})"
        )
    if channels != -1 and x.size(-1) != channels:  # -1: lazy, any
        raise ValueError(
            f"Expected `{name}` with {channels} channels in its last "
            f"dimension (got {list(x.shape)})"
        )
    if like is None:
        return x
    if x.device != like.device:
        raise ValueError(
            f"Expected `{name}` on the layer's device {like.device} (got "
            f"{x.device}); move one of them with .to()"
        )
    if x.dtype != like.dtype and not torch.is_autocast_enabled(x.device.type):
        raise ValueError(
            f"Expected `{name}` of the layer's dtype {like.dtype} (got "
            f"{x.dtype}); cast the input (x.to({like.dtype})) or the "
            f"layer (conv.to({x.dtype}))"
        )
    return x


def split_features(
    x: Tensor | tuple[Tensor, Tensor | None],
    size: Size,
    in_channels: int | tuple[int, int],
    like: Tensor | None = None,
) -> tuple[Tensor, tuple[int, int]]:
    """Check ``x`` (a tensor or a pair); return ``x_src`` and the sizes.

    The sizes are ``(N_src, N_dst)``; ``x_dst`` (or ``size[1]``) only
    gives the number of target nodes, as in PyG's bipartite convolutions.
    """
    c_src, c_dst = (
        in_channels
        if isinstance(in_channels, tuple)
        else (in_channels, in_channels)
    )
    if isinstance(x, Tensor):
        check_features("x", x, c_src, like)
        n = x.size(-2)
        if size is not None and tuple(size) != (n, n):
            raise ValueError(
                f"Expected `size` None or ({n}, {n}) for a graph on the "
                f"{n} nodes of `x` (got {tuple(size)})"
            )
        return x, (n, n)
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise ValueError(
            "Expected `x` to be a Tensor or a pair (x_src, x_dst) "
            f"(got {type(x).__name__})"
        )
    x_src, x_dst = x
    check_features("x[0] (x_src)", x_src, c_src, like)
    n_src = x_src.size(-2)
    n_dst = None if size is None else size[1]
    if size is not None and size[0] is not None and size[0] != n_src:
        raise ValueError(
            f"Expected `size[0]` to equal the {n_src} nodes of x_src "
            f"(got {size[0]})"
        )
    if x_dst is not None:
        check_features("x[1] (x_dst)", x_dst, c_dst, like)
        if x_dst.shape[:-2] != x_src.shape[:-2]:
            raise ValueError(
                "Expected x_src and x_dst with the same batch shape "
                f"(got {list(x_src.shape)} and {list(x_dst.shape)})"
            )
        if n_dst is not None and n_dst != x_dst.size(-2):
            raise ValueError(
                f"Expected `size[1]` to equal the {x_dst.size(-2)} nodes "
                f"of x_dst (got {n_dst})"
            )
        n_dst = x_dst.size(-2)
    if n_dst is None:
        raise ValueError(
            "Expected x_dst or `size=(N_src, N_dst)` to give the number "
            "of target nodes (got x_dst=None and no size)"
        )
    return x_src, (n_src, int(n_dst))


def graph_device(edge_index: object) -> torch.device | None:
    """The device of a graph in any accepted format (``None``: unknown)."""
    if isinstance(edge_index, Tensor):
        return edge_index.device
    storage = getattr(edge_index, "storage", None)  # torch_sparse
    row = getattr(storage, "row", None)
    return row().device if callable(row) else None


def check_graph_device(
    edge_index: object, device: torch.device | None
) -> torch.device | None:
    """Refuse a graph on another device than ``x``; return its device.

    ``device`` (of ``x``) or the graph's device (:func:`graph_device`) may
    be :obj:`None`: unknown, not checked.
    """
    g_dev = graph_device(edge_index)
    if device is not None and g_dev is not None and g_dev != device:
        raise ValueError(
            f"Expected the graph (`edge_index`) on the device of `x` "
            f"({device}) (got {g_dev})"
        )
    return g_dev


def check_graph_size(
    graph_size: tuple[int | None, int | None], size: tuple[int, int]
) -> None:
    """Refuse a graph whose known ``(N_src, N_dst)`` differs from ``x``'s.

    Args:
        graph_size: The sizes the graph states (``None``: unknown, e.g. an
            edge list).
        size: ``(N_src, N_dst)`` of ``x``.
    """
    for side, got, want in (
        ("source", graph_size[0], size[0]),
        ("target", graph_size[1], size[1]),
    ):
        if got is not None and got != want:
            raise ValueError(
                f"Expected the graph's {side} size to equal the number "
                f"of nodes in `x` ({want}) (got a graph of size {got})"
            )


# -- whether a PyG hook or an explainer watches it ----------------------------


#: The hook tables of :class:`~torch_geometric.nn.conv.MessagePassing` that
#: only the ``propagate`` path (``impl="message"``) runs.
HOOK_TABLES = (
    "_propagate_forward_pre_hooks",
    "_propagate_forward_hooks",
    "_message_forward_pre_hooks",
    "_message_forward_hooks",
    "_aggregate_forward_pre_hooks",
    "_aggregate_forward_hooks",
    "_message_and_aggregate_forward_pre_hooks",
    "_message_and_aggregate_forward_hooks",
)


def observed(conv: MessagePassing) -> bool:
    """``True`` if a PyG hook is registered on ``conv`` or it is explained.

    Args:
        conv (MessagePassing): The layer.

    Returns:
        bool: whether ``impl="auto"`` must take the ``"message"`` path.
    """
    if conv.explain:
        return True
    return any(getattr(conv, name, None) for name in HOOK_TABLES)


# -- the graph memo -----------------------------------------------------------


class PreparedGraph:
    """What a layer derives from one graph; fields are filled lazily.

    Attributes:
        graph: the validated :class:`~bigraph_pyg.utils.sparse.EdgeList`.
        extras (dict): derived structures by name (``"csr"``,
            ``"blocks"``, normalised weights per dtype, ...).
        cacheable (bool): :obj:`False` while tracing or for untracked
            tensors: derived structures are then rebuilt on every call.
        validated (bool): the value checks ran on this graph (a graph
            first seen with validation off is checked at its first use
            with validation on).
    """

    __slots__ = ("graph", "extras", "cacheable", "validated")

    def __init__(self, graph: Any, cacheable: bool) -> None:
        self.graph = graph
        self.extras: dict[str, Any] = {}
        self.cacheable = cacheable
        self.validated = False


def _version(t: Tensor) -> tuple | None:
    """What changes when ``t``'s values may have (metadata only, no sync).

    Its version counter (every in-place op) and its storage view
    (``t.data = ...`` and ``set_`` do not bump the counter).
    """
    try:
        version = t._version
    except (RuntimeError, AttributeError):  # inference tensors
        return None
    if t.layout != torch.strided:  # sparse: its version counter only
        return (version, tuple(t.shape))
    return (
        version,
        t.data_ptr(),
        tuple(t.shape),
        t.stride(),
        t.storage_offset(),
    )


def _parts(t: Tensor) -> tuple[Tensor, ...]:
    """The dense tensors holding ``t``'s values (a sparse one's arrays)."""
    if t.layout == torch.sparse_coo:
        return (t._indices(), t._values())
    if t.layout in (torch.sparse_csr, torch.sparse_bsr):
        return (t.crow_indices(), t.col_indices(), t.values())
    if t.layout in (torch.sparse_csc, torch.sparse_bsc):
        return (t.ccol_indices(), t.row_indices(), t.values())
    return (t,)


def _snapshot(t: Tensor) -> tuple[Tensor, ...]:
    """A copy of ``t``'s values (no sync: a device-side copy)."""
    return tuple(p.detach().clone() for p in _parts(t))


def _same_values(t: Tensor, snapshot: tuple[Tensor, ...]) -> bool:
    """``t`` holds the values of ``snapshot`` (NaN equal to NaN).

    Compared on the CPU always, elsewhere only while validation is on (a
    host sync); otherwise assumed equal.
    """
    if t.device.type != "cpu" and not validation_enabled():
        return True
    for part, old in zip(_parts(t), snapshot, strict=True):
        part = part.detach()
        if torch.equal(part, old):
            continue
        if not part.is_floating_point():
            return False
        if not (
            torch.equal(part.isnan(), old.isnan())
            and torch.equal(part.nan_to_num(0.0), old.nan_to_num(0.0))
        ):
            return False
    return True


class GraphCache:
    """A small LRU memo ``graph tensors -> PreparedGraph``.

    Args:
        capacity (int): Graphs kept (a layer called alternately on a few
            graphs, e.g. shared weights on the mesh and skeleton graphs,
            stays cached). (default: ``4``)
    """

    def __init__(self, capacity: int = 4) -> None:
        self.capacity = capacity
        self._entries: list[tuple[tuple, tuple, PreparedGraph]] = []

    @staticmethod
    def _keys(tensors: tuple[object, ...]) -> tuple | None:
        keys = []
        for t in tensors:
            if t is None:
                keys.append((None, None, None))
                continue
            if not isinstance(t, Tensor):
                return None  # e.g. a torch_sparse.SparseTensor
            v = _version(t)
            if v is None:
                return None
            keys.append((weakref.ref(t), v, _snapshot(t)))
        return tuple(keys)

    def get(
        self, tensors: tuple[object, ...], extra: tuple
    ) -> PreparedGraph | None:
        """The entry for these tensors (same objects, unmodified), if any."""
        if torch.compiler.is_compiling():
            return None
        for i, (keys, ext, value) in enumerate(self._entries):
            if ext != extra or len(keys) != len(tensors):
                continue
            if all(
                (ref is None and t is None)
                or (
                    ref is not None
                    and ref() is t
                    and _version(t) == v
                    and _same_values(t, values)
                )
                for (ref, v, values), t in zip(keys, tensors, strict=True)
            ):
                if i:
                    self._entries.insert(0, self._entries.pop(i))
                return value
        return None

    def put(
        self, tensors: tuple[object, ...], extra: tuple, graph: Any
    ) -> PreparedGraph:
        """Store (when the tensors can be tracked) and return an entry."""
        keys = None if torch.compiler.is_compiling() else self._keys(tensors)
        value = PreparedGraph(graph, cacheable=keys is not None)
        if keys is not None:
            self._entries.insert(0, (keys, extra, value))
            del self._entries[self.capacity :]
        return value

    def clear(self) -> None:
        """Forget every graph."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    # Weak references cannot be pickled: a pickled layer starts empty.
    def __getstate__(self) -> dict:
        return {"capacity": self.capacity}

    def __setstate__(self, state: dict) -> None:
        self.capacity = state["capacity"]
        self._entries = []

    def __deepcopy__(self, memo) -> GraphCache:
        return GraphCache(self.capacity)


#: Graphs whose values :func:`check_graph_once` checked, shared by every
#: layer of the process: a model passes the same graph buffers to each of
#: its convs, and they are checked at the first one only.
_CHECKED = GraphCache(capacity=32)


def check_graph_once(graph: EdgeList, tensors: tuple, key: tuple) -> None:
    """:func:`~bigraph_pyg.utils.sparse.check_edge_list`, once per graph.

    Skipped when these very ``tensors`` (same objects, unmodified, see
    :class:`GraphCache`) with this ``key`` (sizes, device) were checked
    before, by any layer.

    Args:
        graph (EdgeList): The unpacked graph.
        tensors (tuple): The caller's graph tensors it came from.
        key (tuple): What else the check depends on (sizes, device).

    Raises:
        ValueError, IndexError: as ``check_edge_list``.
    """
    if _CHECKED.get(tensors, key) is None:
        check_edge_list(graph)
        _CHECKED.put(tensors, key, graph)

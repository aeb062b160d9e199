r"""Blocks of the bilayer graph network (paper Sec. 4.3.4, Fig. 3).

* :class:`GraphLinear` -- a per-node linear layer, i.e. Eq. 2 with
  :math:`\mathbf{A} = \mathbf{I}`.
* :class:`GraphGroupNorm` -- GroupNorm over channel-last node features.
* :class:`GraphResBlock` -- GraphCMR's pre-activation residual block
  (GraphLinear, graph convolution, GraphLinear at half width in the middle),
  with any of our graph convolutions in the middle.
* :class:`PooledFusionConv` -- the pooling replacement of the fusion graph
  convolution (Table 5, "avgpool/maxpool-as-fusion").
* :class:`BilayerBlock` -- Skeleton-GCN, Mesh-GCN and Fusion-GCN sub-blocks
  (Fig. 3).
* :class:`GraphCoordinateHead`, :class:`GraphCameraHead` -- the xyz heads
  after the blocks and GraphCMR's weak-perspective camera head.

Every module takes node features ``(N, C)`` or ``(B, N, C)`` (channels
last, as PyG) and the graph as a ``forward`` argument.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.typing import Adj, OptTensor

from bigraph_pyg.nn.conv import (
    BipartiteFusionConv,
    MeshConv,
    NormalizedGraphConv,
    SkeletonConv,
)

__all__ = [
    "FUSIONS",
    "GraphLinear",
    "GraphGroupNorm",
    "GraphResBlock",
    "PooledFusionConv",
    "BilayerBlock",
    "GraphCoordinateHead",
    "GraphCameraHead",
    "group_count",
]

#: Fusion variants of :class:`BilayerBlock` (paper Table 5).
FUSIONS: tuple[str, ...] = ("graph", "avgpool", "maxpool", "none")


def _check_positive(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"Expected `{name}` to be a positive int "
                         f"(got {value!r})")


def _check_nodes(name: str, x: object, channels: int) -> None:
    if not isinstance(x, Tensor) or x.dim() not in (2, 3):
        raise ValueError(
            f"Expected `{name}` of shape (N, C) or (B, N, C) (got "
            f"{tuple(getattr(x, 'shape', ())) or type(x).__name__})")
    if x.size(-1) != channels:
        raise ValueError(f"Expected `{name}` with {channels} channels in "
                         f"its last dimension (got {tuple(x.shape)})")


def group_count(channels: int, channels_per_group: int = 8) -> int:
    """Number of GroupNorm groups for ``channels`` (GraphCMR's ``C // 8``).

    The largest divisor of ``channels`` that is at most
    ``max(1, channels // channels_per_group)``, so any width works (GraphCMR
    requires multiples of 8).

    Args:
        channels (int): Number of channels.
        channels_per_group (int, optional): Target group size.
            (default: ``8``)

    Returns:
        int: the group count.

    Example:
        >>> group_count(512), group_count(20), group_count(3)
        (64, 2, 1)
    """
    _check_positive("channels", channels)
    _check_positive("channels_per_group", channels_per_group)
    groups = max(1, channels // channels_per_group)
    while channels % groups:
        groups -= 1
    return groups


class GraphLinear(nn.Linear):
    r"""Per-node linear layer: Eq. 2 with an identity adjacency (§4.3.4).

    .. math::
        \mathbf{X}' = \mathbf{I}\,\mathbf{X}\mathbf{W} + \mathbf{b}
        = \mathbf{X}\mathbf{W} + \mathbf{b}

    GraphCMR's ``GraphLinear`` (a 1x1 convolution over nodes), written
    channel-last; initialised as :class:`torch.nn.Linear`.

    Args:
        in_channels (int): Size of each input node feature.
        out_channels (int): Size of each output node feature.
        bias (bool, optional): If :obj:`False`, no additive bias.
            (default: :obj:`True`)

    Shapes:
        - **input:** :math:`(N, F_{in})` or :math:`(B, N, F_{in})`
        - **output:** :math:`(N, F_{out})` or :math:`(B, N, F_{out})`

    Raises:
        ValueError: features of another rank or width.

    Example:
        >>> GraphLinear(8, 4)(torch.randn(2, 5, 8)).shape
        torch.Size([2, 5, 4])
    """

    def __init__(self, in_channels: int, out_channels: int,
                 bias: bool = True) -> None:
        _check_positive("in_channels", in_channels)
        _check_positive("out_channels", out_channels)
        super().__init__(in_channels, out_channels, bias=bias)
        self.in_channels = in_channels
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> Tensor:
        """Apply the layer (see the class docstring for shapes)."""
        _check_nodes("x", x, self.in_channels)
        return super().forward(x)


class GraphGroupNorm(nn.GroupNorm):
    r"""GroupNorm of channel-last node features (Wu & He, 2018).

    Normalises each sample over the nodes and the channels of each group,
    exactly :class:`torch.nn.GroupNorm` on GraphCMR's ``(B, C, N)`` layout;
    an unbatched ``(N, C)`` input is one sample.

    Args:
        channels (int): Number of channels ``C``.
        num_groups (int, optional): Groups (default:
            :func:`group_count` of ``channels``).
        eps (float, optional): Added to the variance. (default: ``1e-5``)

    Shapes:
        - **input:** :math:`(N, C)` or :math:`(B, N, C)`
        - **output:** same shape
    """

    def __init__(self, channels: int, num_groups: int | None = None,
                 eps: float = 1e-5) -> None:
        _check_positive("channels", channels)
        num_groups = group_count(channels) if num_groups is None else \
            num_groups
        _check_positive("num_groups", num_groups)
        if channels % num_groups:
            raise ValueError(f"Expected `num_groups` dividing {channels} "
                             f"channels (got {num_groups})")
        super().__init__(num_groups, channels, eps=eps)

    def forward(self, x: Tensor) -> Tensor:
        """Normalise (see the class docstring for shapes)."""
        _check_nodes("x", x, self.num_channels)
        if x.dim() == 2:
            return super().forward(x.t().unsqueeze(0)).squeeze(0).t()
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class GraphResBlock(nn.Module):
    r"""GraphCMR's pre-activation residual graph block (§4.3.4, Fig. 3).

    .. math::
        \mathbf{Y} &= \mathrm{Lin}_1(\mathrm{ReLU}(\mathrm{GN}_0(\mathbf{X})))
        \\
        \mathbf{Y} &= \mathrm{Conv}(\mathrm{ReLU}(\mathrm{GN}_1(\mathbf{Y})),
        \mathbf{A}) \\
        \mathbf{Y} &= \mathrm{Lin}_2(\mathrm{ReLU}(\mathrm{GN}_2(\mathbf{Y})))
        \\
        \mathbf{X}' &= \mathrm{Skip}(\mathbf{X}) + \mathbf{Y}

    (``nkolot/GraphCMR: models/graph_layers.py`` ``GraphResBlock``): a graph
    linear layer to ``hidden_channels`` (half the output width by default),
    the graph convolution at that width, a graph linear layer back to
    ``out_channels``; every layer is preceded by GroupNorm and ReLU.
    ``Skip`` is the identity, or a :class:`GraphLinear` when the widths
    differ, or absent when ``residual=False`` (the fusion sub-block of
    :class:`BilayerBlock`, whose output is added to branches that already
    carry their own identity path).

    Args:
        in_channels (int): Size of each input node feature.
        out_channels (int): Size of each output node feature.
        conv_cls (type, optional): The graph convolution, built as
            ``conv_cls(hidden, hidden, **conv_kwargs)``: :class:`MeshConv`,
            :class:`SkeletonConv`, :class:`BipartiteFusionConv` (union mode),
            :class:`PooledFusionConv`... (default: :class:`MeshConv`)
        hidden_channels (int, optional): Middle width.
            (default: ``out_channels // 2``, at least 1)
        residual (bool, optional): Add the skip path. (default: :obj:`True`)
        channels_per_group (int, optional): GroupNorm group size, see
            :func:`group_count`. (default: ``8``)
        **conv_kwargs (optional): Extra arguments of ``conv_cls`` (e.g.
            ``num_edges``, ``impl``).

    Shapes:
        - **input:** node features :math:`(N, F_{in})` or
          :math:`(B, N, F_{in})`, the graph of ``conv`` (edge indices
          :math:`(2, E)` or sparse ``adj_t``, weights :math:`(E)`)
        - **output:** :math:`(N, F_{out})` or :math:`(B, N, F_{out})`

    Raises:
        ValueError: bad widths; from ``forward``, features or a graph that
            the convolution rejects.

    Example:
        >>> ei = torch.tensor([[0, 1, 1, 0, 2], [1, 0, 2, 0, 2]])
        >>> block = GraphResBlock(16, 32, MeshConv)
        >>> block(torch.randn(2, 3, 16), ei).shape
        torch.Size([2, 3, 32])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        conv_cls: type[nn.Module] = MeshConv,
        hidden_channels: int | None = None,
        residual: bool = True,
        channels_per_group: int = 8,
        **conv_kwargs,
    ) -> None:
        super().__init__()
        _check_positive("in_channels", in_channels)
        _check_positive("out_channels", out_channels)
        if hidden_channels is None:
            hidden_channels = max(1, out_channels // 2)
        _check_positive("hidden_channels", hidden_channels)
        _check_positive("channels_per_group", channels_per_group)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.hidden_channels = hidden_channels
        self.residual = residual

        def norm(c: int) -> GraphGroupNorm:
            return GraphGroupNorm(c, group_count(c, channels_per_group))

        self.pre_norm = norm(in_channels)
        self.lin1 = GraphLinear(in_channels, hidden_channels)
        self.norm1 = norm(hidden_channels)
        self.conv = conv_cls(hidden_channels, hidden_channels, **conv_kwargs)
        self.norm2 = norm(hidden_channels)
        self.lin2 = GraphLinear(hidden_channels, out_channels)
        self.skip = (GraphLinear(in_channels, out_channels)
                     if residual and in_channels != out_channels else None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise every layer (the convolution's own scheme)."""
        for module in (self.pre_norm, self.lin1, self.norm1, self.conv,
                       self.norm2, self.lin2, self.skip):
            if module is not None:
                module.reset_parameters()

    def forward(self, x: Tensor, edge_index: Adj | None = None,
                edge_weight: OptTensor = None) -> Tensor:
        """Run the block (see the class docstring for shapes)."""
        _check_nodes("x", x, self.in_channels)
        y = self.lin1(F.relu(self.pre_norm(x)))
        y = self.conv(F.relu(self.norm1(y)), edge_index, edge_weight)
        y = self.lin2(F.relu(self.norm2(y)))
        if not self.residual:
            return y
        return (x if self.skip is None else self.skip(x)) + y

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, "
                f"{self.out_channels}, hidden={self.hidden_channels}, "
                f"conv={self.conv.__class__.__name__}, "
                f"residual={self.residual})")


class PooledFusionConv(nn.Module):
    r"""Pooling in place of the fusion graph convolution (Table 5).

    The "avgpool/maxpool-as-fusion" ablation: every joint receives the same
    pooled mesh feature and every vertex the same pooled joint feature,
    through one shared linear layer (the :math:`\mathbf{W}` of Eq. 2):

    .. math::
        \mathbf{x}'_{s,i} = \mathbf{W}^\top \mathrm{pool}_{v}
        \mathbf{x}_{m,v} + \mathbf{b}, \qquad
        \mathbf{x}'_{m,v} = \mathbf{W}^\top \mathrm{pool}_{i}
        \mathbf{x}_{s,i} + \mathbf{b}

    With ``aggr="mean"`` this is :class:`BipartiteFusionConv` on the
    complete bipartite graph with uniform, frozen weights; it loses the
    individual joint-vertex interactions (paper Sec. 5.4).

    Args:
        in_channels (int): Size of each input node feature.
        out_channels (int): Size of each output node feature.
        num_joints (int): :math:`N_s`; the first ``num_joints`` nodes of
            ``x`` are joints, the rest vertices (the union layout of
            :func:`bigraph_pyg.topology.fusion_graph`).
        aggr (str, optional): ``"mean"`` or ``"max"``. (default: ``"mean"``)
        bias (bool, optional): If :obj:`False`, no additive bias.
            (default: :obj:`True`)

    Shapes:
        - **input:** union node features :math:`(N_s + N_m, F_{in})` or
          :math:`(B, N_s + N_m, F_{in})`; ``edge_index`` / ``edge_weight``
          are accepted for a uniform call signature and ignored.
        - **output:** :math:`((B,) N_s + N_m, F_{out})`

    Raises:
        ValueError: an unknown ``aggr``, or ``x`` with at most
            ``num_joints`` nodes.

    Example:
        >>> conv = PooledFusionConv(8, 4, num_joints=2, aggr="max")
        >>> conv(torch.randn(3, 7, 8)).shape
        torch.Size([3, 7, 4])
    """

    def __init__(self, in_channels: int, out_channels: int, num_joints: int,
                 aggr: str = "mean", bias: bool = True) -> None:
        super().__init__()
        _check_positive("num_joints", num_joints)
        if aggr not in ("mean", "max"):
            raise ValueError(f"Expected `aggr` in ('mean', 'max') "
                             f"(got {aggr!r})")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_joints = num_joints
        self.aggr = aggr
        self.lin = GraphLinear(in_channels, out_channels, bias=bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise the linear layer."""
        self.lin.reset_parameters()

    def _pool(self, x: Tensor) -> Tensor:
        if self.aggr == "mean":
            return x.mean(dim=-2, keepdim=True)
        return x.amax(dim=-2, keepdim=True)

    def forward(self, x: Tensor, edge_index: Adj | None = None,
                edge_weight: OptTensor = None) -> Tensor:
        """Exchange pooled features (see the class docstring for shapes)."""
        _check_nodes("x", x, self.in_channels)
        n_s = self.num_joints
        if x.size(-2) <= n_s:
            raise ValueError(
                f"Expected more than num_joints={n_s} nodes in `x` (joints "
                f"first, then vertices) (got {tuple(x.shape)})")
        x_s, x_m = x[..., :n_s, :], x[..., n_s:, :]
        to_s = self._pool(x_m).expand_as(x_s)
        to_m = self._pool(x_s).expand_as(x_m)
        return self.lin(torch.cat([to_s, to_m], dim=-2))

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, "
                f"{self.out_channels}, num_joints={self.num_joints}, "
                f"aggr={self.aggr!r})")


class BilayerBlock(nn.Module):
    r"""One Bilayer-Graph block (paper Sec. 4.3.4, Fig. 3).

    .. math::
        \mathbf{X}'_s &= \mathcal{G}_s(\mathbf{X}_s, \mathbf{A}_s)
        + [\mathcal{G}_f(\mathbf{X}_s \oplus \mathbf{X}_m,
        \mathbf{A}_f)]_{s} \\
        \mathbf{X}'_m &= \mathcal{G}_m(\mathbf{X}_m, \mathbf{A}_m)
        + [\mathcal{G}_f(\mathbf{X}_s \oplus \mathbf{X}_m,
        \mathbf{A}_f)]_{m}

    :math:`\mathcal{G}_s`, :math:`\mathcal{G}_m` are residual
    :class:`GraphResBlock`\ s with :class:`SkeletonConv` /
    :class:`MeshConv`. The Fusion-GCN sub-block :math:`\mathcal{G}_f` takes
    the block's *input* skeleton and mesh features (the outputs of the
    previous block), concatenated over nodes with the joints first, and its
    output is split back and added to each branch after that branch's own
    sub-block (Fig. 3). :math:`\mathcal{G}_f` is a :class:`GraphResBlock`
    without the identity path (``residual=False``; each branch already has
    one) whose convolution depends on ``fusion``:

    * ``"graph"``: :class:`BipartiteFusionConv` with the learnable
      :math:`\mathbf{A}_f = \mathrm{RowNorm}(\mathbf{A}_{f,s} \odot
      \mathbf{W}_f)` (Eq. 5), the paper's model;
    * ``"avgpool"`` / ``"maxpool"``: :class:`PooledFusionConv` (Table 5);
    * ``"none"``: no fusion sub-block.

    With ``use_skeleton=False`` the block is a single mesh
    :class:`GraphResBlock` (GraphCMR, Table 4 row A); with
    ``shared_weights=True`` the skeleton and mesh sub-blocks are one module
    (:class:`NormalizedGraphConv` inside), called on each graph (Table 5,
    "shared weight").

    Args:
        in_channels (int): Input width of both branches.
        out_channels (int): Output width of both branches.
        hidden_channels (int, optional): Middle width of every sub-block.
            (default: ``out_channels // 2``)
        use_skeleton (bool, optional): Build the skeleton branch.
            (default: :obj:`True`)
        fusion (str, optional): One of :data:`FUSIONS`.
            (default: ``"graph"``)
        num_fusion_edges (int, optional): :math:`E_f` of the union fusion
            graph; required for ``fusion="graph"``.
        num_joints (int, optional): :math:`N_s`, for pooled fusion.
            (default: ``12``)
        shared_weights (bool, optional): Share the skeleton and mesh
            sub-blocks. (default: :obj:`False`)
        channels_per_group (int, optional): GroupNorm group size.
            (default: ``8``)
        fusion_impl (str, optional): ``impl`` of
            :class:`BipartiteFusionConv`. (default: ``"auto"``)

    Shapes:
        - **input:** ``x_s`` :math:`((B,) N_s, F_{in})` (or :obj:`None`
          without skeleton), ``x_m`` :math:`((B,) N_m, F_{in})`, and the
          three graphs as ``edge_index`` :math:`(2, E)` (or sparse
          ``adj_t``) with optional ``edge_weight`` :math:`(E)`; the fusion
          graph is on the union :math:`N_s + N_m` nodes, joints first.
        - **output:** ``(x_s, x_m)`` with :math:`F_{out}` channels
          (``x_s`` is :obj:`None` without skeleton).

    Raises:
        ValueError: incompatible options; from ``forward``, a missing graph
            or skeleton features, or mismatched batch shapes.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        hidden_channels: int | None = None,
        *,
        use_skeleton: bool = True,
        fusion: str = "graph",
        num_fusion_edges: int | None = None,
        num_joints: int = 12,
        shared_weights: bool = False,
        channels_per_group: int = 8,
        fusion_impl: str = "auto",
    ) -> None:
        super().__init__()
        if fusion not in FUSIONS:
            raise ValueError(f"Expected `fusion` in {FUSIONS} "
                             f"(got {fusion!r})")
        if not use_skeleton and (fusion != "none" or shared_weights):
            raise ValueError(
                "Expected fusion='none' and shared_weights=False without a "
                f"skeleton branch (got fusion={fusion!r}, "
                f"shared_weights={shared_weights})")
        if fusion == "graph" and num_fusion_edges is None:
            raise ValueError("Expected `num_fusion_edges` for "
                             "fusion='graph' (got None)")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.use_skeleton = use_skeleton
        self.fusion_kind = fusion
        self.shared_weights = shared_weights
        self.num_joints = num_joints
        common = dict(hidden_channels=hidden_channels,
                      channels_per_group=channels_per_group)
        if shared_weights:
            self.mesh = GraphResBlock(in_channels, out_channels,
                                      NormalizedGraphConv, **common)
            self.skeleton = self.mesh
        else:
            self.mesh = GraphResBlock(in_channels, out_channels, MeshConv,
                                      **common)
            self.skeleton = (GraphResBlock(in_channels, out_channels,
                                           SkeletonConv, **common)
                             if use_skeleton else None)
        if fusion == "graph":
            # num_joints: the union graph's joint/vertex split, so the
            # conv can multiply two dense joint-vertex blocks.
            self.fusion = GraphResBlock(
                in_channels, out_channels, BipartiteFusionConv,
                residual=False, num_edges=num_fusion_edges,
                impl=fusion_impl, num_joints=num_joints, **common)
        elif fusion in ("avgpool", "maxpool"):
            self.fusion = GraphResBlock(
                in_channels, out_channels, PooledFusionConv, residual=False,
                num_joints=num_joints,
                aggr="mean" if fusion == "avgpool" else "max", **common)
        else:
            self.fusion = None

    def reset_parameters(self) -> None:
        """Re-initialise every sub-block."""
        for module in (self.mesh, self.skeleton, self.fusion):
            if module is not None:
                module.reset_parameters()

    @property
    def fusion_conv(self) -> nn.Module | None:
        """The convolution inside the fusion sub-block, if any."""
        return None if self.fusion is None else self.fusion.conv

    def forward(
        self,
        x_s: Tensor | None,
        x_m: Tensor,
        mesh_edge_index: Adj,
        mesh_edge_weight: OptTensor = None,
        skeleton_edge_index: Adj | None = None,
        skeleton_edge_weight: OptTensor = None,
        fusion_edge_index: Adj | None = None,
        fusion_edge_weight: OptTensor = None,
    ) -> tuple[Tensor | None, Tensor]:
        """Run the block (see the class docstring for shapes)."""
        y_m = self.mesh(x_m, mesh_edge_index, mesh_edge_weight)
        if not self.use_skeleton:
            return None, y_m
        if x_s is None or skeleton_edge_index is None:
            raise ValueError(
                "Expected skeleton features `x_s` and `skeleton_edge_index` "
                "for a block with a skeleton branch (got "
                f"x_s={None if x_s is None else tuple(x_s.shape)}, "
                f"skeleton_edge_index={type(skeleton_edge_index).__name__})")
        if x_s.shape[:-2] != x_m.shape[:-2]:
            raise ValueError(
                "Expected `x_s` and `x_m` with the same batch shape (got "
                f"{tuple(x_s.shape)} and {tuple(x_m.shape)})")
        y_s = self.skeleton(x_s, skeleton_edge_index, skeleton_edge_weight)
        if self.fusion is None:
            return y_s, y_m
        if self.fusion_kind == "graph" and fusion_edge_index is None:
            raise ValueError("Expected `fusion_edge_index` for "
                             "fusion='graph' (got None)")
        n_s = x_s.size(-2)
        f = self.fusion(torch.cat([x_s, x_m], dim=-2), fusion_edge_index,
                        fusion_edge_weight)
        return y_s + f[..., :n_s, :], y_m + f[..., n_s:, :]

    def extra_repr(self) -> str:
        """Show the options in ``repr``."""
        return (f"in_channels={self.in_channels}, "
                f"out_channels={self.out_channels}, "
                f"use_skeleton={self.use_skeleton}, "
                f"fusion={self.fusion_kind!r}, "
                f"shared_weights={self.shared_weights}")


class GraphCoordinateHead(nn.Module):
    r"""Two graph linear layers to 3D coordinates (paper Sec. 4.3.4).

    .. math::
        \hat{\mathbf{V}} = \mathrm{Lin}_2(\mathrm{ReLU}(\mathrm{GN}(
        \mathrm{Lin}_1(\mathbf{X}))))

    "followed by two graph linear layers to regress the skeleton vertices
    and [mesh] vertices separately. The first linear layer also follows a
    group normalization and ReLU."

    Args:
        in_channels (int): Width of the last block.
        hidden_channels (int): Width after the first layer.
        out_channels (int, optional): Coordinates per node.
            (default: ``3``)
        channels_per_group (int, optional): GroupNorm group size.
            (default: ``8``)

    Shapes:
        - **input:** :math:`((B,) N, F_{in})`
        - **output:** :math:`((B,) N, 3)`
    """

    def __init__(self, in_channels: int, hidden_channels: int,
                 out_channels: int = 3, channels_per_group: int = 8) -> None:
        super().__init__()
        self.lin1 = GraphLinear(in_channels, hidden_channels)
        self.norm = GraphGroupNorm(
            hidden_channels, group_count(hidden_channels, channels_per_group))
        self.lin2 = GraphLinear(hidden_channels, out_channels)

    def reset_parameters(self) -> None:
        """Re-initialise every layer."""
        for module in (self.lin1, self.norm, self.lin2):
            module.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        """Regress coordinates (see the class docstring for shapes)."""
        return self.lin2(F.relu(self.norm(self.lin1(x))))


class GraphCameraHead(nn.Module):
    r"""GraphCMR's weak-perspective camera head (paper Sec. 4.4).

    .. math::
        (s, t_x, t_y) = \mathbf{W}_c^\top \mathrm{vec}\bigl(\mathrm{ReLU}(
        \mathrm{Lin}(\mathrm{ReLU}(\mathrm{GN}(\mathbf{X}_m))))\bigr)
        + \mathbf{b}_c

    "two graph linear layers" on the Mesh-GCN features: a graph linear layer
    to one channel per vertex, then a linear layer over the
    :math:`N_m` vertices to 3 numbers (``nkolot/GraphCMR:
    models/graph_cnn.py`` ``camera_fc``). Unlike GraphCMR the last bias
    starts at :math:`(1, 0, 0)`, so an untrained model projects metres to
    the normalised crop at unit scale rather than collapsing it to a point.

    Args:
        in_channels (int): Width of the mesh features.
        num_vertices (int): :math:`N_m`.
        channels_per_group (int, optional): GroupNorm group size.
            (default: ``8``)

    Shapes:
        - **input:** :math:`(B, N_m, F_{in})`
        - **output:** :math:`(B, 3)` as ``(s, t_x, t_y)``
    """

    def __init__(self, in_channels: int, num_vertices: int,
                 channels_per_group: int = 8) -> None:
        super().__init__()
        _check_positive("num_vertices", num_vertices)
        self.num_vertices = num_vertices
        self.norm = GraphGroupNorm(
            in_channels, group_count(in_channels, channels_per_group))
        self.lin = GraphLinear(in_channels, 1)
        self.fc = nn.Linear(num_vertices, 3)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise; the output bias to the unit camera (1, 0, 0)."""
        self.norm.reset_parameters()
        self.lin.reset_parameters()
        self.fc.reset_parameters()
        with torch.no_grad():
            bound = 1.0 / math.sqrt(self.num_vertices)
            self.fc.weight.uniform_(-bound * 0.1, bound * 0.1)
            self.fc.bias.copy_(self.fc.bias.new_tensor([1.0, 0.0, 0.0]))

    def forward(self, x_m: Tensor) -> Tensor:
        """Regress the camera (see the class docstring for shapes)."""
        if x_m.dim() != 3 or x_m.size(1) != self.num_vertices:
            raise ValueError(
                f"Expected mesh features of shape (B, {self.num_vertices}, "
                f"C) (got {tuple(x_m.shape)})")
        h = F.relu(self.lin(F.relu(self.norm(x_m)))).squeeze(-1)
        return self.fc(h)

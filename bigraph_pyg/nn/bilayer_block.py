r"""The Bilayer-Graph block of the paper (Sec. 4.3.4, Fig. 3).

* :class:`PooledFusionConv` -- the pooling replacement of the fusion graph
  convolution (Table 5, "avgpool/maxpool-as-fusion").
* :class:`BilayerBlock` -- Skeleton-GCN, Mesh-GCN and Fusion-GCN sub-blocks
  (Fig. 3), each a :class:`~bigraph_pyg.nn.GraphResBlock`.

Both take node features ``(N, C)`` or ``(B, N, C)`` (channels last, as PyG)
and the graphs as ``forward`` arguments.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.typing import Adj, OptTensor

from bigraph_pyg.nn.blocks import (
    FUSIONS,
    GraphLinear,
    GraphResBlock,
    _check_nodes,
)
from bigraph_pyg.nn.conv import (
    BipartiteFusionConv,
    MeshConv,
    NormalizedGraphConv,
    SkeletonConv,
)
from bigraph_pyg.utils._checks import check_positive_int

__all__ = ["PooledFusionConv", "BilayerBlock"]


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

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        num_joints: int,
        aggr: str = "mean",
        bias: bool = True,
    ) -> None:
        super().__init__()
        check_positive_int("num_joints", num_joints)
        if aggr not in ("mean", "max"):
            raise ValueError(
                f"Expected `aggr` in ('mean', 'max') (got {aggr!r})"
            )
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

    def forward(
        self,
        x: Tensor,
        edge_index: Adj | None = None,
        edge_weight: OptTensor = None,
    ) -> Tensor:
        """Exchange pooled features (see the class docstring for shapes)."""
        _check_nodes("x", x, self.in_channels)
        n_s = self.num_joints
        if x.size(-2) <= n_s:
            raise ValueError(
                f"Expected more than num_joints={n_s} nodes in `x` (joints "
                f"first, then vertices) (got {tuple(x.shape)})"
            )
        x_s, x_m = x[..., :n_s, :], x[..., n_s:, :]
        to_s = self._pool(x_m).expand_as(x_s)
        to_m = self._pool(x_s).expand_as(x_m)
        return self.lin(torch.cat([to_s, to_m], dim=-2))

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_channels}, "
            f"{self.out_channels}, num_joints={self.num_joints}, "
            f"aggr={self.aggr!r})"
        )


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
            raise ValueError(f"Expected `fusion` in {FUSIONS} (got {fusion!r})")
        if not use_skeleton and (fusion != "none" or shared_weights):
            raise ValueError(
                "Expected fusion='none' and shared_weights=False without a "
                f"skeleton branch (got fusion={fusion!r}, "
                f"shared_weights={shared_weights})"
            )
        if fusion == "graph" and num_fusion_edges is None:
            raise ValueError(
                "Expected `num_fusion_edges` for fusion='graph' (got None)"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.use_skeleton = use_skeleton
        self.fusion_kind = fusion
        self.shared_weights = shared_weights
        self.num_joints = num_joints
        common = dict(
            hidden_channels=hidden_channels,
            channels_per_group=channels_per_group,
        )
        if shared_weights:
            self.mesh = GraphResBlock(
                in_channels, out_channels, NormalizedGraphConv, **common
            )
            self.skeleton = self.mesh
        else:
            self.mesh = GraphResBlock(
                in_channels, out_channels, MeshConv, **common
            )
            self.skeleton = (
                GraphResBlock(in_channels, out_channels, SkeletonConv, **common)
                if use_skeleton
                else None
            )
        if fusion == "graph":
            # num_joints: the union graph's joint/vertex split, so the
            # conv can multiply two dense joint-vertex blocks.
            self.fusion = GraphResBlock(
                in_channels,
                out_channels,
                BipartiteFusionConv,
                residual=False,
                num_edges=num_fusion_edges,
                impl=fusion_impl,
                num_joints=num_joints,
                **common,
            )
        elif fusion in ("avgpool", "maxpool"):
            self.fusion = GraphResBlock(
                in_channels,
                out_channels,
                PooledFusionConv,
                residual=False,
                num_joints=num_joints,
                aggr="mean" if fusion == "avgpool" else "max",
                **common,
            )
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
                f"skeleton_edge_index={type(skeleton_edge_index).__name__})"
            )
        if x_s.shape[:-2] != x_m.shape[:-2]:
            raise ValueError(
                "Expected `x_s` and `x_m` with the same batch shape (got "
                f"{tuple(x_s.shape)} and {tuple(x_m.shape)})"
            )
        y_s = self.skeleton(x_s, skeleton_edge_index, skeleton_edge_weight)
        if self.fusion is None:
            return y_s, y_m
        if self.fusion_kind == "graph" and fusion_edge_index is None:
            raise ValueError(
                "Expected `fusion_edge_index` for fusion='graph' (got None)"
            )
        n_s = x_s.size(-2)
        f = self.fusion(
            torch.cat([x_s, x_m], dim=-2), fusion_edge_index, fusion_edge_weight
        )
        return y_s + f[..., :n_s, :], y_m + f[..., n_s:, :]

    def extra_repr(self) -> str:
        """Show the options in ``repr``."""
        return (
            f"in_channels={self.in_channels}, "
            f"out_channels={self.out_channels}, "
            f"use_skeleton={self.use_skeleton}, "
            f"fusion={self.fusion_kind!r}, "
            f"shared_weights={self.shared_weights}"
        )

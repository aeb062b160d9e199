r"""Blocks of the bilayer graph network (paper Sec. 4.3.4, Fig. 3).

* :class:`GraphLinear` -- a per-node linear layer, i.e. Eq. 2 with
  :math:`\mathbf{A} = \mathbf{I}`.
* :class:`GraphGroupNorm` -- GroupNorm over channel-last node features.
* :class:`GraphResBlock` -- GraphCMR's pre-activation residual block
  (GraphLinear, graph convolution, GraphLinear at half width in the middle),
  with any of our graph convolutions in the middle.
* :func:`group_count` (GroupNorm groups for any width) and :data:`FUSIONS`
  (the fusion variants of :class:`BilayerBlock`).

The blocks built from these live in their own modules (all exported by
:mod:`bigraph_pyg.nn`): :class:`~bigraph_pyg.nn.PooledFusionConv` and
:class:`~bigraph_pyg.nn.BilayerBlock` (Fig. 3) in
``bigraph_pyg.nn.bilayer_block``, :class:`~bigraph_pyg.nn.GraphCoordinateHead`
and :class:`~bigraph_pyg.nn.GraphCameraHead` in ``bigraph_pyg.nn.heads``.

Every module takes node features ``(N, C)`` or ``(B, N, C)`` (channels
last, as PyG) and the graph as a ``forward`` argument.
"""

from __future__ import annotations

import torch  # noqa: F401 - the doctests use it
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.typing import Adj, OptTensor

from bigraph_pyg.nn.conv import MeshConv
from bigraph_pyg.utils._checks import check_positive_int

__all__ = [
    "FUSIONS",
    "GraphLinear",
    "GraphGroupNorm",
    "GraphResBlock",
    "group_count",
]

#: Fusion variants of :class:`BilayerBlock` (paper Table 5).
FUSIONS: tuple[str, ...] = ("graph", "avgpool", "maxpool", "none")


def _check_nodes(name: str, x: object, channels: int) -> None:
    if not isinstance(x, Tensor) or x.dim() not in (2, 3):
        raise ValueError(
            f"Expected `{name}` of shape (N, C) or (B, N, C) (got "
            f"{tuple(getattr(x, 'shape', ())) or type(x).__name__})"
        )
    if x.size(-1) != channels:
        raise ValueError(
            f"Expected `{name}` with {channels} channels in "
            f"its last dimension (got {tuple(x.shape)})"
        )


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
    check_positive_int("channels", channels)
    check_positive_int("channels_per_group", channels_per_group)
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

    def __init__(
        self, in_channels: int, out_channels: int, bias: bool = True
    ) -> None:
        check_positive_int("in_channels", in_channels)
        check_positive_int("out_channels", out_channels)
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

    def __init__(
        self, channels: int, num_groups: int | None = None, eps: float = 1e-5
    ) -> None:
        check_positive_int("channels", channels)
        num_groups = group_count(channels) if num_groups is None else num_groups
        check_positive_int("num_groups", num_groups)
        if channels % num_groups:
            raise ValueError(
                f"Expected `num_groups` dividing {channels} "
                f"channels (got {num_groups})"
            )
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
        check_positive_int("in_channels", in_channels)
        check_positive_int("out_channels", out_channels)
        if hidden_channels is None:
            hidden_channels = max(1, out_channels // 2)
        check_positive_int("hidden_channels", hidden_channels)
        check_positive_int("channels_per_group", channels_per_group)
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
        self.skip = (
            GraphLinear(in_channels, out_channels)
            if residual and in_channels != out_channels
            else None
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise every layer (the convolution's own scheme)."""
        for module in (
            self.pre_norm,
            self.lin1,
            self.norm1,
            self.conv,
            self.norm2,
            self.lin2,
            self.skip,
        ):
            if module is not None:
                module.reset_parameters()

    def forward(
        self,
        x: Tensor,
        edge_index: Adj | None = None,
        edge_weight: OptTensor = None,
    ) -> Tensor:
        """Run the block (see the class docstring for shapes)."""
        _check_nodes("x", x, self.in_channels)
        y = self.lin1(F.relu(self.pre_norm(x)))
        y = self.conv(F.relu(self.norm1(y)), edge_index, edge_weight)
        y = self.lin2(F.relu(self.norm2(y)))
        if not self.residual:
            return y
        return (x if self.skip is None else self.skip(x)) + y

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_channels}, "
            f"{self.out_channels}, hidden={self.hidden_channels}, "
            f"conv={self.conv.__class__.__name__}, "
            f"residual={self.residual})"
        )

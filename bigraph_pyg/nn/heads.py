r"""Regression heads on top of the graph network (paper Sec. 4.3.4).

* :class:`SMPLParamRegressor` -- GraphCMR's SMPL regressor: an MLP from the
  predicted (coarse) mesh to SMPL pose and shape (:class:`SMPLParams`).
* :class:`GraphCoordinateHead` -- the two graph linear layers after the
  blocks that regress the skeleton and the mesh vertices.
* :class:`GraphCameraHead` -- GraphCMR's weak-perspective camera head on the
  Mesh-GCN features.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bigraph_pyg.geometry import rot6d_to_matrix
from bigraph_pyg.nn.blocks import (
    GraphGroupNorm,
    GraphLinear,
    group_count,
)
from bigraph_pyg.utils._checks import check_positive_int

__all__ = [
    "SMPLParamRegressor",
    "SMPLParams",
    "GraphCoordinateHead",
    "GraphCameraHead",
]

# 6D representation of the identity rotation (see geometry.matrix_to_rot6d).
_IDENTITY_6D = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


class SMPLParams(NamedTuple):
    """SMPL parameters predicted by :class:`SMPLParamRegressor`.

    Attributes:
        rotmat (Tensor): Joint rotations ``(B, 24, 3, 3)`` (global orientation
            first, then the 23 body joints, SMPL order).
        betas (Tensor): Shape coefficients ``(B, 10)``.
    """

    rotmat: Tensor
    betas: Tensor


class _FCResBlock(nn.Module):
    """GraphCMR's ``FCResBlock``: ``relu(x + BN(W2 relu(BN(W1 x))))``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.lin1 = nn.Linear(channels, channels)
        self.norm1 = nn.BatchNorm1d(channels)
        self.lin2 = nn.Linear(channels, channels)
        self.norm2 = nn.BatchNorm1d(channels)

    def reset_parameters(self) -> None:
        for module in (self.lin1, self.norm1, self.lin2, self.norm2):
            module.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.norm1(self.lin1(x)))
        return F.relu(x + self.norm2(self.lin2(h)))


class SMPLParamRegressor(nn.Module):
    r"""MLP from the predicted mesh to SMPL pose and shape (Sec. 4.3.4).

    Follows GraphCMR (``models/smpl_param_regressor.py``): the predicted
    coarse mesh, concatenated per vertex with the template mesh, is
    flattened and fed to ``Linear-BN-ReLU`` and two residual FC blocks, then
    a linear layer to :math:`24 \times 6 + 10` numbers. Unlike GraphCMR
    (9 numbers per joint projected with an SVD), each rotation is regressed
    in the continuous 6D representation and mapped with
    :func:`~bigraph_pyg.geometry.rot6d_to_matrix` (Zhou et al., as SPIN),
    which needs no SVD and is always a proper rotation.

    .. math::
        [\hat{\theta}_{6D}, \hat{\beta}] =
        \mathrm{MLP}\bigl(\mathrm{vec}(\hat{\mathbf{V}}_m \oplus
        \mathbf{V}^T_m)\bigr), \qquad
        \hat{R}_k = \mathrm{GS}(\hat{\theta}_{6D,k})

    The last layer starts near zero with its bias at the identity rotation
    and zero shape (SPIN's initialisation about the mean pose), so an
    untrained regressor outputs the rest pose.

    Args:
        num_vertices (int, optional): Vertices of the input mesh.
            (default: ``1723``, GraphCMR's 4x-downsampled SMPL mesh)
        use_template (bool, optional): Concatenate the template vertices to
            the predicted ones, as GraphCMR. (default: :obj:`True`)
        hidden_channels (int, optional): MLP width. (default: ``1024``)
        num_joints (int, optional): Rotations to predict. (default: ``24``)
        num_betas (int, optional): Shape coefficients. (default: ``10``)
        detach_input (bool, optional): Stop gradients into the mesh, as
            GraphCMR does, so the regressor does not disturb the graph
            network. (default: :obj:`True`)

    Shapes:
        - **input:** vertices :math:`(B, N, 3)`, template :math:`(N, 3)` or
          :math:`(B, N, 3)` (required iff ``use_template``).
        - **output:** :class:`SMPLParams` ``(rotmat (B, 24, 3, 3),
          betas (B, 10))``.

    Note:
        BatchNorm needs ``B > 1`` in training mode (as in GraphCMR).

    Example:
        >>> reg = SMPLParamRegressor(num_vertices=20, hidden_channels=32).eval()
        >>> out = reg(torch.randn(2, 20, 3), template=torch.randn(20, 3))
        >>> out.rotmat.shape, out.betas.shape
        (torch.Size([2, 24, 3, 3]), torch.Size([2, 10]))
    """

    def __init__(
        self,
        num_vertices: int = 1723,
        use_template: bool = True,
        hidden_channels: int = 1024,
        num_joints: int = 24,
        num_betas: int = 10,
        detach_input: bool = True,
    ) -> None:
        super().__init__()
        for name, value in (
            ("num_vertices", num_vertices),
            ("hidden_channels", hidden_channels),
            ("num_joints", num_joints),
        ):
            check_positive_int(name, value)
        if not isinstance(num_betas, int) or num_betas < 0:
            raise ValueError(
                "Expected a non-negative int for `num_betas` "
                f"(got {num_betas!r})"
            )
        self.num_vertices = num_vertices
        self.use_template = use_template
        self.hidden_channels = hidden_channels
        self.num_joints = num_joints
        self.num_betas = num_betas
        self.detach_input = detach_input

        in_features = num_vertices * (6 if use_template else 3)
        self.lin_in = nn.Linear(in_features, hidden_channels)
        self.norm_in = nn.BatchNorm1d(hidden_channels)
        self.blocks = nn.ModuleList(
            [_FCResBlock(hidden_channels) for _ in range(2)]
        )
        self.lin_out = nn.Linear(hidden_channels, num_joints * 6 + num_betas)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise every layer; the output layer as the rest pose."""
        self.lin_in.reset_parameters()
        self.norm_in.reset_parameters()
        for block in self.blocks:
            block.reset_parameters()
        nn.init.xavier_uniform_(self.lin_out.weight, gain=0.01)
        with torch.no_grad():
            bias = torch.zeros_like(self.lin_out.bias)
            identity = bias.new_tensor(_IDENTITY_6D)
            bias[: 6 * self.num_joints] = identity.repeat(self.num_joints)
            self.lin_out.bias.copy_(bias)

    def forward(
        self, vertices: Tensor, template: Tensor | None = None
    ) -> SMPLParams:
        """Regress SMPL parameters; see the class docstring for shapes."""
        if (
            not isinstance(vertices, Tensor)
            or vertices.dim() != 3
            or vertices.shape[1:] != (self.num_vertices, 3)
        ):
            raise ValueError(
                f"Expected shape (B, {self.num_vertices}, 3) for `vertices` "
                f"(got {tuple(getattr(vertices, 'shape', ()))})"
            )
        batch = vertices.shape[0]
        x = vertices.detach() if self.detach_input else vertices
        if self.use_template:
            if template is None or template.shape[-2:] != (
                self.num_vertices,
                3,
            ):
                raise ValueError(
                    f"Expected a ({self.num_vertices}, 3) or (B, "
                    f"{self.num_vertices}, 3) `template` (got "
                    f"{None if template is None else tuple(template.shape)})"
                )
            template = template.to(x).expand(batch, -1, -1)
            x = torch.cat((x, template), dim=-1)
        elif template is not None:
            raise ValueError(
                "Expected no `template` when use_template=False (got a tensor)"
            )
        h = F.relu(self.norm_in(self.lin_in(x.reshape(batch, -1))))
        for block in self.blocks:
            h = block(h)
        out = self.lin_out(h)
        rot6d = out[:, : 6 * self.num_joints].reshape(batch, self.num_joints, 6)
        betas = out[:, 6 * self.num_joints :]
        return SMPLParams(rot6d_to_matrix(rot6d), betas)

    def extra_repr(self) -> str:
        """Show the hyper-parameters in ``repr``."""
        return (
            f"num_vertices={self.num_vertices}, "
            f"use_template={self.use_template}, "
            f"num_joints={self.num_joints}, num_betas={self.num_betas}, "
            f"detach_input={self.detach_input}"
        )


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

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int = 3,
        channels_per_group: int = 8,
    ) -> None:
        super().__init__()
        self.lin1 = GraphLinear(in_channels, hidden_channels)
        self.norm = GraphGroupNorm(
            hidden_channels, group_count(hidden_channels, channels_per_group)
        )
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

    def __init__(
        self, in_channels: int, num_vertices: int, channels_per_group: int = 8
    ) -> None:
        super().__init__()
        check_positive_int("num_vertices", num_vertices)
        self.num_vertices = num_vertices
        self.norm = GraphGroupNorm(
            in_channels, group_count(in_channels, channels_per_group)
        )
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
                f"C) (got {tuple(x_m.shape)})"
            )
        h = F.relu(self.lin(F.relu(self.norm(x_m)))).squeeze(-1)
        return self.fc(h)

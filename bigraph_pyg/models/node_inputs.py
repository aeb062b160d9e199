r"""The node inputs of :class:`~bigraph_pyg.models.BiGraphBody` (Eqs. 3, 4).

:func:`mesh_node_input` computes a mesh node's input
:math:`\mathbf{F}_m^0` (Eq. 3): its template position with the global
image feature, through a shared graph linear layer.
:func:`skeleton_node_input` computes a skeleton node's input
:math:`\mathbf{F}_s^0` (Eq. 4): its joint embedding (:func:`pose_embedding`
for ``joint_embedding="pose"``, else the 2D joint in crop units)
concatenated with its image features (:func:`joint_image_features`: RoI
Align around the joint, or the global feature), through a shared graph
linear layer of :func:`skeleton_input_channels` inputs; :class:`PoseContext`
adds a whole-pose context to it (``pose_context_channels``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from bigraph_pyg.geometry import center_joints
from bigraph_pyg.metrics import HIP_INDICES
from bigraph_pyg.models.config import BiGraphConfig
from bigraph_pyg.nn.blocks import GraphLinear
from bigraph_pyg.nn.encoders import EncoderOutput, ResNetEncoder
from bigraph_pyg.nn.roi_features import joint_box_size, roi_joint_features

__all__ = ["pose_embedding"]


def mesh_node_input(
    input_layer: GraphLinear,
    template: Tensor,
    global_feature: Tensor,
    image_gate: Tensor | None = None,
) -> Tensor:
    r"""Eq. 3: template xyz (+) the global feature, through F_m^0.

    Args:
        input_layer (GraphLinear): The shared :math:`\mathbf{F}_m^0`.
        template (Tensor): :math:`(N_m, 3)` template vertices.
        global_feature (Tensor): :math:`(B, C)` (zeros for an image-free
            forward).
        image_gate (Tensor, optional): Scalar the global feature is
            multiplied by (``image_feature_gate``).

    Returns:
        Tensor: :math:`(B, N_m, d_0)`.
    """
    g = global_feature
    if image_gate is not None:
        g = g * image_gate.to(g.dtype)
    return input_layer(
        torch.cat(
            [
                template.expand(g.shape[0], -1, -1),
                g[:, None].expand(-1, template.shape[0], -1),
            ],
            dim=-1,
        )
    )


def pose_embedding(uv: Tensor, identity: Tensor) -> Tensor:
    r"""The ``"pose"`` joint embedding of the skeleton input (Eq. 4).

    .. math::
        e_i = \bigl(\mathbf{u}_i,\ (\mathbf{u}_i - \bar{\mathbf{u}})
        / \sigma,\ \mathbf{1}_i\bigr)

    the crop-normalised 2D joint :math:`\mathbf{u}_i` (the paper's
    embedding), the same pelvis-relative (:math:`\bar{\mathbf{u}}` the mean
    of the hips) and divided by the pose's spread :math:`\sigma` (the std
    of its pelvis-relative coordinates, so the body's size in the crop
    drops out), and the one-hot joint identity: with shared weights the
    nodes of the skeleton graph are otherwise told apart only by their
    position, and lifting needs to know which joint is which.

    Args:
        uv (Tensor): :math:`(B, 12, 2)` joints in ``[-1, 1]`` crop units.
        identity (Tensor): :math:`(12, 12)` identity matrix.

    Returns:
        Tensor: :math:`(B, 12, 16)`.

    Example:
        >>> uv = torch.rand(2, 12, 2) * 2 - 1
        >>> e = pose_embedding(uv, torch.eye(12))
        >>> e.shape, bool((e[..., :2] == uv).all())
        (torch.Size([2, 12, 16]), True)
    """
    return torch.cat(
        [uv, scale_free_pose(uv), identity.to(uv).expand(uv.shape[0], -1, -1)],
        -1,
    )


def scale_free_pose(uv: Tensor) -> Tensor:
    r"""The 2D pose relative to the pelvis and divided by its spread.

    :math:`(\mathbf{u}_i - \bar{\mathbf{u}}) / \sigma`, with
    :math:`\bar{\mathbf{u}}` the mean of the hips and :math:`\sigma` the std
    of the pelvis-relative coordinates (clamped at ``1e-3``).

    Args:
        uv (Tensor): :math:`(B, J, 2)`.

    Returns:
        Tensor: :math:`(B, J, 2)`.
    """
    rel = center_joints(uv, HIP_INDICES)
    return rel / rel.flatten(1).std(1).clamp_min(1e-3)[:, None, None]


class PoseContext(nn.Module):
    r"""A global pose context for the skeleton nodes (Eq. 4 input).

    .. math::
        \mathbf{C} = \mathrm{reshape}_{J \times d_0}\bigl(W_o\,
        \mathrm{ResBlock}(\mathrm{ReLU}(W_i\,\mathrm{vec}(\tilde{U})))\bigr)

    with :math:`\tilde{U}` the :math:`(J, 2)` pelvis-relative, scale-free 2D
    pose of :func:`pose_embedding` and the residual block two
    Linear-LayerNorm-ReLU layers (a lifting MLP, Martinez et al. 2017,
    narrower). Row :math:`i` is added to skeleton node :math:`i`'s input
    :math:`\mathbf{F}_s^0`. The output layer starts at zero, so at
    initialisation the model is the paper's.

    Args:
        num_joints (int): :math:`J`.
        hidden_channels (int): MLP width.
        out_channels (int): :math:`d_0`.

    Shapes:
        - **input:** :math:`(B, J, 2)`
        - **output:** :math:`(B, J, d_0)`
    """

    def __init__(
        self, num_joints: int, hidden_channels: int, out_channels: int
    ) -> None:
        super().__init__()
        self.num_joints, self.out_channels = num_joints, out_channels
        self.inp = nn.Linear(2 * num_joints, hidden_channels)
        self.block = nn.Sequential(
            nn.Linear(hidden_channels, hidden_channels),
            nn.LayerNorm(hidden_channels),
            nn.ReLU(),
            nn.Linear(hidden_channels, hidden_channels),
            nn.LayerNorm(hidden_channels),
            nn.ReLU(),
        )
        self.out = nn.Linear(hidden_channels, num_joints * out_channels)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, rel: Tensor) -> Tensor:
        """The context rows of a batch of scale-free 2D poses (see above)."""
        h = torch.relu(self.inp(rel.flatten(1)))
        h = h + self.block(h)
        return self.out(h).view(-1, self.num_joints, self.out_channels)


def skeleton_input_channels(
    config: BiGraphConfig, encoder: ResNetEncoder, num_joints: int
) -> int:
    """Width of a skeleton node's input in Eq. 4, before the linear layer.

    The joint embedding (2 crop coordinates; with ``joint_embedding="pose"``
    also the 2 scale-free ones and the ``num_joints`` one-hot identity) and
    the image features (RoI Align of every encoder stage, ``roi_size`` by
    ``roi_size``, or the global feature).

    Args:
        config (BiGraphConfig): The architecture.
        encoder (ResNetEncoder): The image encoder.
        num_joints (int): :math:`J`.

    Returns:
        int: :math:`d_e + d_s`.
    """
    d_s = (
        sum(encoder.stage_channels) * config.roi_size**2
        if config.use_local_features
        else encoder.out_channels
    )
    d_e = 4 + num_joints if config.joint_embedding == "pose" else 2
    return d_e + d_s


def joint_image_features(
    config: BiGraphConfig,
    joints_2d: Tensor,
    global_feature: Tensor,
    enc: EncoderOutput,
    bones: Tensor,
) -> Tensor:
    r"""The image features of each skeleton node (Eq. 4).

    With ``use_local_features``, :math:`\mathbf{RoI}(\hat{\mathbf{s}}_i,
    \dots)`: the encoder's stage maps pooled around each joint in a box of
    side the average 2D bone length (:func:`joint_box_size`); otherwise
    (Table 4 row B) the global feature, the same for every joint.

    Args:
        config (BiGraphConfig): The architecture.
        joints_2d (Tensor): :math:`(B, J, 2)` pixels.
        global_feature (Tensor): :math:`(B, C)`.
        enc (EncoderOutput): The encoder's output.
        bones (Tensor): :math:`(E, 2)` joint index pairs.

    Returns:
        Tensor: :math:`(B, J, d_s)`.
    """
    if not config.use_local_features:
        return global_feature[:, None].expand(-1, joints_2d.shape[1], -1)
    h, w = config.image_size
    box = joint_box_size(joints_2d, bones, (h, w))
    return roi_joint_features(
        enc.feature_maps,
        joints_2d,
        (h, w),
        box,
        output_size=config.roi_size,
        strides=enc.strides,
        max_outside=config.max_joint_outside,
    )


def skeleton_node_input(
    config: BiGraphConfig,
    input_layer: GraphLinear,
    joints_2d: Tensor,
    global_feature: Tensor | None,
    enc: EncoderOutput | None,
    bones: Tensor,
    *,
    joint_identity: Tensor | None = None,
    pose_context: PoseContext | None = None,
    image_gate: Tensor | None = None,
) -> Tensor:
    r"""Eq. 4: the joint embedding (+) the image features, through F_s^0.

    The embedding is the 2D joint normalised to the crop, with
    ``joint_embedding="pose"`` also pelvis-relative and scale-free, and the
    joint's identity (:func:`pose_embedding`). ``enc`` :obj:`None` is the
    image-free input: zero image features.

    Args:
        config (BiGraphConfig): The architecture.
        input_layer (GraphLinear): The shared :math:`\mathbf{F}_s^0`.
        joints_2d (Tensor): :math:`(B, J, 2)` pixels.
        global_feature (Tensor, optional): :math:`(B, C)`.
        enc (EncoderOutput, optional): The encoder's output.
        bones (Tensor): :math:`(E, 2)` joint index pairs (RoI box sides).
        joint_identity (Tensor, optional): :math:`(J, J)` identity, for
            ``joint_embedding="pose"``.
        pose_context (PoseContext, optional): Added to the output.
        image_gate (Tensor, optional): Scalar the image features are
            multiplied by (``image_feature_gate``).

    Returns:
        Tensor: :math:`(B, J, d_0)`.
    """
    h, w = config.image_size
    # Per-axis scalars, not a (2,) tensor: building one on a GPU copies
    # from the host (a sync the forward must not make). Bit-identical on
    # the CPU; CUDA divides by a scalar as a product with its reciprocal
    # (up to 1 ulp from the old tensor division).
    uv = (
        torch.stack(
            (2.0 * joints_2d[..., 0] / w, 2.0 * joints_2d[..., 1] / h), -1
        )
        - 1.0
    )
    context = (
        None if pose_context is None else pose_context(scale_free_pose(uv))
    )
    if config.joint_embedding == "pose":
        uv = pose_embedding(uv, joint_identity)
    if enc is None:
        d_s = input_layer.in_channels - uv.shape[-1]
        feats = uv.new_zeros(*uv.shape[:-1], d_s)
    else:
        feats = joint_image_features(
            config, joints_2d, global_feature, enc, bones
        )
        if image_gate is not None:
            feats = feats * image_gate.to(feats.dtype)
    x = input_layer(torch.cat([uv, feats], dim=-1))
    return x if context is None else x + context

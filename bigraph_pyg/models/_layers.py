r"""The layers of :class:`~bigraph_pyg.models.BiGraphBody`, from its config.

Builders, config to modules (paper Fig. 2): the shared input layers of
Eqs. 3 and 4, the Bilayer-Graph blocks (Fig. 3) and the heads
(Sec. 4.3.4, 4.4). Each builds its modules in the order the model has
always created them, the order their random initialisation follows.
"""

from __future__ import annotations

from torch import nn

from bigraph_pyg.models.config import BiGraphConfig
from bigraph_pyg.models.node_inputs import (
    PoseContext,
    skeleton_input_channels,
)
from bigraph_pyg.nn.bilayer_block import BilayerBlock
from bigraph_pyg.nn.blocks import GraphLinear
from bigraph_pyg.nn.encoders import ResNetEncoder
from bigraph_pyg.nn.heads import (
    GraphCameraHead,
    GraphCoordinateHead,
    SMPLParamRegressor,
)


def build_input_layers(
    config: BiGraphConfig, encoder: ResNetEncoder, num_joints: int
) -> tuple[GraphLinear, GraphLinear | None, PoseContext | None]:
    r"""The shared input layers :math:`\mathbf{F}_m^0`, :math:`\mathbf{F}_s^0`.

    Args:
        config (BiGraphConfig): The architecture.
        encoder (ResNetEncoder): The image encoder (its widths).
        num_joints (int): :math:`J`.

    Returns:
        tuple: the mesh input layer (Eq. 3: ``xyz`` and the global
        feature to :math:`d_0`), the skeleton input layer (Eq. 4;
        :obj:`None` without a skeleton branch) and the
        :class:`PoseContext` (:obj:`None` for ``pose_context_channels=0``).
    """
    d_0 = config.input_channels
    mesh_input = GraphLinear(3 + encoder.out_channels, d_0)
    skeleton_input = (
        GraphLinear(skeleton_input_channels(config, encoder, num_joints), d_0)
        if config.use_skeleton
        else None
    )
    pose_context = (
        PoseContext(num_joints, config.pose_context_channels, d_0)
        if config.pose_context_channels
        else None
    )
    return mesh_input, skeleton_input, pose_context


def build_blocks(
    config: BiGraphConfig, num_fusion_edges: int | None, num_joints: int
) -> nn.ModuleList:
    """The ``num_blocks`` Bilayer-Graph blocks (Fig. 3).

    Args:
        config (BiGraphConfig): The architecture (``fusion_blocks`` says
            which blocks fuse).
        num_fusion_edges (int, optional): :math:`E_f` of the fusion graph
            (:obj:`None` without the graph fusion).
        num_joints (int): :math:`J`.

    Returns:
        nn.ModuleList: the blocks, the first from ``input_channels``.
    """
    fused = set(config.fusion_block_indices())
    return nn.ModuleList(
        [
            BilayerBlock(
                config.input_channels if i == 0 else config.channels,
                config.channels,
                config.block_hidden_channels,
                use_skeleton=config.use_skeleton,
                fusion=config.fusion if i in fused else "none",
                num_fusion_edges=num_fusion_edges,
                num_joints=num_joints,
                shared_weights=config.shared_weights,
                channels_per_group=config.channels_per_group,
                fusion_impl=config.fusion_impl,
            )
            for i in range(config.num_blocks)
        ]
    )


def build_heads(
    config: BiGraphConfig, num_vertices: int
) -> tuple[
    GraphCoordinateHead,
    GraphCoordinateHead | None,
    GraphCameraHead,
    SMPLParamRegressor,
]:
    """The heads on the last block's features (Sec. 4.3.4, 4.4).

    Args:
        config (BiGraphConfig): The architecture.
        num_vertices (int): :math:`N_m`.

    Returns:
        tuple: the mesh and the skeleton coordinate heads (:obj:`None`
        without a skeleton branch), the camera head and the SMPL regressor.
    """
    mesh_head = GraphCoordinateHead(
        config.channels,
        config.head_channels,
        channels_per_group=config.channels_per_group,
    )
    skeleton_head = (
        GraphCoordinateHead(
            config.channels,
            config.head_channels,
            channels_per_group=config.channels_per_group,
        )
        if config.use_skeleton
        else None
    )
    camera_head = GraphCameraHead(
        config.channels, num_vertices, config.channels_per_group
    )
    smpl_regressor = SMPLParamRegressor(
        num_vertices=num_vertices,
        hidden_channels=config.smpl_hidden_channels,
    )
    return mesh_head, skeleton_head, camera_head, smpl_regressor

"""Neural-network layers and blocks of bigraph_pyg."""

from bigraph_pyg.nn.bilayer_block import BilayerBlock, PooledFusionConv
from bigraph_pyg.nn.blocks import GraphGroupNorm, GraphLinear, GraphResBlock
from bigraph_pyg.nn.conv import (
    BipartiteFusionConv,
    MeshConv,
    NormalizedGraphConv,
    SkeletonConv,
)
from bigraph_pyg.nn.heads import GraphCameraHead, GraphCoordinateHead

__all__ = [
    "NormalizedGraphConv",
    "MeshConv",
    "SkeletonConv",
    "BipartiteFusionConv",
    "GraphLinear",
    "GraphGroupNorm",
    "GraphResBlock",
    "PooledFusionConv",
    "BilayerBlock",
    "GraphCoordinateHead",
    "GraphCameraHead",
]

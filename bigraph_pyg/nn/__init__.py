"""Neural-network layers and blocks of bigraph_pyg."""

from bigraph_pyg.nn.blocks import (
    BilayerBlock,
    GraphCameraHead,
    GraphCoordinateHead,
    GraphGroupNorm,
    GraphLinear,
    GraphResBlock,
    PooledFusionConv,
)
from bigraph_pyg.nn.conv import (
    BipartiteFusionConv,
    MeshConv,
    NormalizedGraphConv,
    SkeletonConv,
)

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

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
from bigraph_pyg.nn.sampling import MeshSampler
from bigraph_pyg.nn.validate import (
    set_validation,
    validation,
    validation_enabled,
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
    "MeshSampler",
    "validation",
    "validation_enabled",
    "set_validation",
]

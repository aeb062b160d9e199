"""Message-passing layers of the bilayer graph (paper Eqs. 2 and 5)."""

from bigraph_pyg.nn.conv.bipartite_fusion_conv import BipartiteFusionConv
from bigraph_pyg.nn.conv.mesh_conv import MeshConv
from bigraph_pyg.nn.conv.normalized_graph_conv import NormalizedGraphConv
from bigraph_pyg.nn.conv.skeleton_conv import SkeletonConv

__all__ = [
    "NormalizedGraphConv",
    "MeshConv",
    "SkeletonConv",
    "BipartiteFusionConv",
]

classes = __all__

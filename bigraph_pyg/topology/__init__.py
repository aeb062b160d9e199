"""Fixed graphs of the bilayer model: mesh, sampling, skeleton, fusion."""

from bigraph_pyg.topology.body_graphs import BodyGraphs
from bigraph_pyg.topology.decimation import (
    decimate,
    downsampling_matrix,
    upsampling_matrix,
)
from bigraph_pyg.topology.fusion import fusion_bipartite, fusion_graph
from bigraph_pyg.topology.graph import Graph, sort_by_target
from bigraph_pyg.topology.graphcmr_sampling import load_graphcmr_sampling
from bigraph_pyg.topology.mesh import (
    check_faces,
    check_manifold,
    mesh_edge_index,
    mesh_graph,
    num_connected_components,
)
from bigraph_pyg.topology.sampling import (
    MeshHierarchy,
    default_sizes,
    mesh_hierarchy,
)
from bigraph_pyg.topology.skeleton import (
    BONES,
    FLIP_PERM,
    JOINT_NAMES,
    SMPL_JOINT_NAMES,
    SMPL_TO_JOINTS,
    skeleton_edge_index,
    skeleton_graph,
)

__all__ = [
    "BONES",
    "FLIP_PERM",
    "JOINT_NAMES",
    "SMPL_JOINT_NAMES",
    "SMPL_TO_JOINTS",
    "BodyGraphs",
    "Graph",
    "MeshHierarchy",
    "check_faces",
    "check_manifold",
    "decimate",
    "default_sizes",
    "downsampling_matrix",
    "fusion_bipartite",
    "fusion_graph",
    "load_graphcmr_sampling",
    "mesh_edge_index",
    "mesh_graph",
    "mesh_hierarchy",
    "num_connected_components",
    "skeleton_edge_index",
    "skeleton_graph",
    "sort_by_target",
    "upsampling_matrix",
]

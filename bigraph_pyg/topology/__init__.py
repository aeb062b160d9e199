"""Fixed graphs of the bilayer model: mesh, sampling, skeleton, fusion."""

from bigraph_pyg.topology.graph import Graph, sort_by_target
from bigraph_pyg.topology.mesh import (
    check_faces,
    check_manifold,
    mesh_edge_index,
    mesh_graph,
    num_connected_components,
)
from bigraph_pyg.topology.sampling import (
    MeshHierarchy,
    MeshSampler,
    decimate,
    default_sizes,
    downsampling_matrix,
    load_graphcmr_sampling,
    mesh_hierarchy,
    upsampling_matrix,
)

__all__ = [
    'Graph',
    'MeshHierarchy',
    'MeshSampler',
    'check_faces',
    'check_manifold',
    'decimate',
    'default_sizes',
    'downsampling_matrix',
    'load_graphcmr_sampling',
    'mesh_edge_index',
    'mesh_graph',
    'mesh_hierarchy',
    'num_connected_components',
    'sort_by_target',
    'upsampling_matrix',
]

"""bigraph_pyg: bilayer-graph 3D human shape and pose recovery on PyG.

The library implements Yu et al., *Joint 3D Human Shape Recovery and Pose
Estimation from a Single Image with Bilayer Graph* (3DV 2021): a skeleton
graph, a mesh graph and a learnable bipartite fusion graph between them.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]

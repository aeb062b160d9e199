"""bigraph_pyg: bilayer-graph 3D human shape and pose recovery on PyG.

The library implements Yu et al., *Joint 3D Human Shape Recovery and Pose
Estimation from a Single Image with Bilayer Graph* (3DV 2021): a skeleton
graph, a mesh graph and a learnable bipartite fusion graph between them.

The layers live in :mod:`bigraph_pyg.nn`, the graphs in
:mod:`bigraph_pyg.topology`, the bodies in :mod:`bigraph_pyg.body`, the
model in :mod:`bigraph_pyg.models`; datasets and training in
:mod:`bigraph_pyg.data` and :mod:`bigraph_pyg.engine` (their optional
dependencies are imported on first use).
"""

from __future__ import annotations

import importlib

from bigraph_pyg.nn import BipartiteFusionConv, MeshConv, SkeletonConv

__version__ = "0.1.0"

# Names whose modules need optional dependencies (torchvision, smplx, ...)
# are imported on first access, so ``import bigraph_pyg`` works with the core
# dependencies alone (PEP 562).
_LAZY = {
    "BodyGraphs": "bigraph_pyg.topology",
    "BiGraphBody": "bigraph_pyg.models",
    "BiGraphConfig": "bigraph_pyg.models",
    "BiGraphOutput": "bigraph_pyg.models",
    "list_presets": "bigraph_pyg.models",
    "predict": "bigraph_pyg.apps",
    "pretrained": "bigraph_pyg.hub",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bigraph_pyg' has no attribute {name!r}")


__all__ = [
    "__version__",
    "MeshConv",
    "SkeletonConv",
    "BipartiteFusionConv",
    "BodyGraphs",
    "BiGraphBody",
    "BiGraphConfig",
    "BiGraphOutput",
    "list_presets",
    "predict",
    "pretrained",
]

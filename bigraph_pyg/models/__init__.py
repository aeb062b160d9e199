"""Models: the bilayer-graph body model, its configuration and presets."""

from bigraph_pyg.models.bigraph_body import (
    BiGraphBody,
    BiGraphOutput,
    pose_embedding,
)
from bigraph_pyg.models.config import (
    ABLATIONS,
    PRESETS,
    BiGraphConfig,
    list_presets,
)
from bigraph_pyg.models.graph_cmr import graph_cmr, graph_cmr_config

__all__ = [
    "ABLATIONS",
    "PRESETS",
    "BiGraphBody",
    "BiGraphConfig",
    "BiGraphOutput",
    "graph_cmr",
    "graph_cmr_config",
    "list_presets",
    "pose_embedding",
]

"""Models: the bilayer-graph body model, its configuration and presets."""

from bigraph_pyg.models.bigraph_body import BiGraphBody
from bigraph_pyg.models.config import BiGraphConfig
from bigraph_pyg.models.graph_cmr import graph_cmr, graph_cmr_config
from bigraph_pyg.models.node_inputs import pose_embedding
from bigraph_pyg.models.output import BiGraphOutput
from bigraph_pyg.models.presets import ABLATIONS, PRESETS, list_presets

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

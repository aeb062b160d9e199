"""Test helpers: device parametrisation and tiny graph fixtures.

Used by the test-suite and the benchmarks; nothing here needs a licensed
body-model file or a GPU.
"""

from bigraph_pyg.testing.decorators import available_devices, with_device
from bigraph_pyg.testing.graphs import (
    complete_bipartite_graph,
    graph_formats,
    icosphere_graph,
    random_graph,
)

__all__ = [
    "available_devices",
    "with_device",
    "random_graph",
    "icosphere_graph",
    "complete_bipartite_graph",
    "graph_formats",
]

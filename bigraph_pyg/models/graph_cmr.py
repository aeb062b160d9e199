r"""The mesh-only GraphCMR baseline (paper Table 4 row A) as a configuration.

GraphCMR (Kolotouros et al., CVPR 2019) is :class:`BiGraphBody` without the
skeleton graph, the fusion graph and the localised features: template
``xyz`` with the global image feature (Eq. 3) through residual mesh-graph
blocks, the xyz and camera heads and the SMPL regressor. This module only
names that configuration; there is no second model class.
"""

from __future__ import annotations

from typing import Any

from bigraph_pyg.models.bigraph_body import BiGraphBody
from bigraph_pyg.models.config import BiGraphConfig
from bigraph_pyg.topology import BodyGraphs

__all__ = ["graph_cmr", "graph_cmr_config"]


def graph_cmr_config(base: str = "paper", **overrides: Any) -> BiGraphConfig:
    """The ``"graphcmr"`` ablation of :meth:`BiGraphConfig.preset`.

    Args:
        base (str, optional): ``"paper"`` or ``"cpu"``.
            (default: ``"paper"``)
        **overrides: Further :class:`BiGraphConfig` fields.

    Returns:
        BiGraphConfig: with ``use_skeleton``, ``use_fusion`` and
        ``use_local_features`` off.

    Example:
        >>> cfg = graph_cmr_config("cpu")
        >>> cfg.use_skeleton, cfg.use_fusion, cfg.mesh_level
        (False, False, 2)
    """
    return BiGraphConfig.preset("graphcmr", base=base, **overrides)


def graph_cmr(
    graphs: BodyGraphs | None = None,
    body=None,
    base: str = "paper",
    encoder_weights=None,
    **overrides: Any,
) -> BiGraphBody:
    """Build the GraphCMR baseline (a :class:`BiGraphBody`).

    Args:
        graphs (BodyGraphs, optional): Graphs at the config's mesh level
            (default: built from ``body``, a few seconds).
        body (BodyModel, optional): (default: the default body)
        base (str, optional): Base preset. (default: ``"paper"``)
        encoder_weights (optional): See :class:`BiGraphBody`.
        **overrides: Further :class:`BiGraphConfig` fields.

    Returns:
        BiGraphBody: the mesh-only model; ``forward`` ignores ``joints_2d``.
    """
    config = graph_cmr_config(base, **overrides)
    if graphs is None:
        return BiGraphBody.from_body(config, body, encoder_weights)
    return BiGraphBody(config, graphs, body, encoder_weights)

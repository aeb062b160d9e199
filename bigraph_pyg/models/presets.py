"""Named models: presets and the paper's ablations (Tables 4 and 5).

Each is a set of :class:`~bigraph_pyg.models.BiGraphConfig` field values:
:data:`PRESETS` are base models, :data:`ABLATIONS` overrides applied on a
base preset (``BiGraphConfig.preset(name, base=...)``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ABLATIONS", "PRESETS", "list_presets"]

#: Base models by name: field values of
#: :class:`~bigraph_pyg.models.BiGraphConfig`.
PRESETS: dict[str, dict[str, Any]] = {
    # Sec. 4 / 5.2: ResNet-50, 224^2 crops, 1723-vertex mesh, 5 blocks.
    "paper": {},
    # Trains in minutes on a laptop CPU: ResNet-18, 128^2, 431 vertices.
    "cpu": dict(
        encoder="resnet18",
        image_size=(128, 128),
        mesh_level=2,
        input_channels=64,
        channels=64,
        head_channels=32,
        num_blocks=3,
        smpl_hidden_channels=256,
        joint_embedding="pose",
        image_feature_gate=True,
        pose_context_channels=512,
    ),
}

#: Ablations (paper Tables 4 and 5) as overrides of a base preset.
ABLATIONS: dict[str, dict[str, Any]] = {
    # Table 4 row A: mesh graph with global features only (GraphCMR).
    "graphcmr": dict(
        use_skeleton=False,
        use_fusion=False,
        use_local_features=False,
        pose_context_channels=0,
    ),
    # Table 4 row B: skeleton + fusion graph, no localized features.
    "row_b": dict(use_local_features=False),
    # Table 4 row C: skeleton graph + localized features, no fusion.
    "row_c": dict(use_fusion=False),
    # Table 4 row D: the full model.
    "row_d": {},
    # Table 5.
    "avgpool_fusion": dict(fusion="avgpool"),
    "maxpool_fusion": dict(fusion="maxpool"),
    "fusion_at_first": dict(fusion_blocks="first"),
    "fusion_at_last": dict(fusion_blocks="last"),
    "shared_weight": dict(shared_weights=True),
    # Table 5 "no FL" changes the loss, not the model:
    # bigraph_pyg.losses.LOSS_ABLATIONS["no_focal"].
}


def list_presets() -> list[str]:
    """Names accepted by ``BiGraphConfig.preset``, presets first.

    Returns:
        list[str]: The keys of :data:`PRESETS`, then those of
        :data:`ABLATIONS`.

    Example:
        >>> list_presets()[:4]
        ['paper', 'cpu', 'graphcmr', 'row_b']
    """
    return [*PRESETS, *ABLATIONS]

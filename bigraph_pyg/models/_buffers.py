r"""The fixed data :class:`~bigraph_pyg.models.BiGraphBody` holds as buffers.

The graphs (:math:`\mathbf{A}_m`, :math:`\mathbf{A}_s`,
:math:`\mathbf{A}_{f,s}`) as ``edge_index``/``edge_weight`` pairs, the
template mesh, the joint regressor and the skeleton's bones: buffers, as
smplx keeps its ``faces_tensor``, so ``.to()`` and ``state_dict`` carry them.
"""

from __future__ import annotations

import torch
from torch import Tensor

from bigraph_pyg.models.config import BiGraphConfig
from bigraph_pyg.topology import BONES, JOINT_NAMES, SMPL_TO_JOINTS, BodyGraphs


def body_buffers(
    config: BiGraphConfig, graphs: BodyGraphs, body
) -> dict[str, Tensor]:
    """The persistent buffers of a model, by name, in registration order.

    ``mesh_edge_index``/``mesh_edge_weight``; with a skeleton
    ``skeleton_edge_index``/``skeleton_edge_weight``; with the graph fusion
    ``fusion_edge_index``/``fusion_edge_weight`` (the union graph, joints
    first); ``template_vertices`` :math:`(N_m, 3)` and ``joint_regressor``
    :math:`(12, N_0)` (the body's rows of the 12 joints, float32).

    Args:
        config (BiGraphConfig): The architecture.
        graphs (BodyGraphs): The body's graphs at ``config.mesh_level``.
        body (BodyModel): Provides the joint regressor.

    Returns:
        dict[str, Tensor]: the tensors (the graphs' own, not copies; the
        template is a copy).
    """
    buffers = {
        "mesh_edge_index": graphs.mesh_graph.edge_index,
        "mesh_edge_weight": graphs.mesh_graph.edge_weight,
    }
    if config.use_skeleton:
        buffers["skeleton_edge_index"] = graphs.skeleton_graph.edge_index
        buffers["skeleton_edge_weight"] = graphs.skeleton_graph.edge_weight
    if config.use_fusion and config.fusion == "graph":
        buffers["fusion_edge_index"] = graphs.fusion_graph.edge_index
        buffers["fusion_edge_weight"] = graphs.fusion_graph.edge_weight
    template = graphs.hierarchy.vertices[config.mesh_level].clone()
    buffers["template_vertices"] = template
    regressor = body.joint_regressor.detach()
    buffers["joint_regressor"] = regressor[list(SMPL_TO_JOINTS)].to(
        device=template.device, dtype=torch.float32
    )
    return buffers


def bone_index() -> Tensor:
    """The skeleton's bones as joint index pairs, :math:`(E, 2)` int64.

    In :data:`~bigraph_pyg.topology.JOINT_NAMES` order, from
    :data:`~bigraph_pyg.topology.BONES`.
    """
    bones = [(JOINT_NAMES.index(a), JOINT_NAMES.index(b)) for a, b in BONES]
    return torch.tensor(bones)

r"""Skeleton graph :math:`\mathbf{A}_s` on the 12 joints (paper Sec. 4.3.2).

The 12 joints are those common to the training datasets (LSP's 14 without
neck and head top), in LSP order. :math:`\mathbf{A}_s` is fixed: a bone
between joints ``i`` and ``j`` has weight :math:`1 / \lVert
\mathbf{v}_i - \mathbf{v}_j \rVert` in the template pose.

The paper draws the skeleton (Fig. 1b) but does not list its edges. The
limbs are unambiguous (ankle-knee-hip, wrist-elbow-shoulder); the torso is
left open, and we close it as a quadrilateral: hip-hip, shoulder-shoulder,
and hip-shoulder on each side (:data:`BONES`). Self-loops (not stated in the
paper; GraphCMR-style convolutions keep them) get the largest weight of the
joint's bones, so a joint keeps itself on par with its nearest neighbour.
"""

from __future__ import annotations

import torch
from torch import Tensor

from bigraph_pyg.topology.graph import Graph, sort_by_target

__all__ = [
    "BONES",
    "FLIP_PERM",
    "JOINT_NAMES",
    "SMPL_JOINT_NAMES",
    "SMPL_TO_JOINTS",
    "skeleton_edge_index",
    "skeleton_graph",
]

#: The 12 joints, LSP order.
JOINT_NAMES: tuple[str, ...] = (
    "right_ankle",
    "right_knee",
    "right_hip",
    "left_hip",
    "left_knee",
    "left_ankle",
    "right_wrist",
    "right_elbow",
    "right_shoulder",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
)

#: SMPL's 24 joints (``smplx.joint_names.JOINT_NAMES[:24]``).
SMPL_JOINT_NAMES: tuple[str, ...] = (
    "pelvis",
    "left_hip",
    "right_hip",
    "spine1",
    "left_knee",
    "right_knee",
    "spine2",
    "left_ankle",
    "right_ankle",
    "spine3",
    "left_foot",
    "right_foot",
    "neck",
    "left_collar",
    "right_collar",
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hand",
    "right_hand",
)

#: Index into SMPL's 24 joints of each of the 12 joints:
#: ``joints12 = smpl_joints[..., SMPL_TO_JOINTS, :]``.
SMPL_TO_JOINTS: tuple[int, ...] = tuple(
    SMPL_JOINT_NAMES.index(n) for n in JOINT_NAMES
)

#: Bones as joint-name pairs: the limb chains, then the torso (our choice).
BONES: tuple[tuple[str, str], ...] = (
    ("right_ankle", "right_knee"),
    ("right_knee", "right_hip"),
    ("left_ankle", "left_knee"),
    ("left_knee", "left_hip"),
    ("right_wrist", "right_elbow"),
    ("right_elbow", "right_shoulder"),
    ("left_wrist", "left_elbow"),
    ("left_elbow", "left_shoulder"),
    ("right_hip", "left_hip"),
    ("right_shoulder", "left_shoulder"),
    ("right_hip", "right_shoulder"),
    ("left_hip", "left_shoulder"),
)


def _mirror(name: str) -> str:
    if name.startswith("left_"):
        return "right_" + name[5:]
    return "left_" + name[6:]


#: ``x[..., FLIP_PERM, :]`` swaps left and right joints (mirror augmentation).
FLIP_PERM: tuple[int, ...] = tuple(
    JOINT_NAMES.index(_mirror(n)) for n in JOINT_NAMES
)


def skeleton_edge_index(
    bones: tuple[tuple[str, str], ...] = BONES,
    joint_names: tuple[str, ...] = JOINT_NAMES,
) -> Tensor:
    """Both directions of every bone, sorted by target then source.

    Args:
        bones: Bones as name pairs. (default: :data:`BONES`)
        joint_names: Node order. (default: :data:`JOINT_NAMES`)

    Returns:
        Tensor: ``edge_index`` :math:`(2, 2 |bones|)` int64, no self-loops.

    Raises:
        ValueError: a bone names an unknown joint or a joint twice.
    """
    pairs = []
    for a, b in bones:
        for name in (a, b):
            if name not in joint_names:
                raise ValueError(
                    f"Expected bone joints in 'joint_names' (got {name!r})"
                )
        if a == b:
            raise ValueError(f"Expected a bone between two joints (got {a!r})")
        i, j = joint_names.index(a), joint_names.index(b)
        pairs += [(i, j), (j, i)]
    index = torch.tensor(pairs, dtype=torch.long).t()
    n = len(joint_names)
    index = torch.unique(index[1] * n + index[0])
    return torch.stack([index % n, index // n])


def skeleton_graph(
    joints: Tensor,
    bones: tuple[tuple[str, str], ...] = BONES,
    joint_names: tuple[str, ...] = JOINT_NAMES,
    self_loops: bool = True,
    eps: float = 1e-8,
) -> Graph:
    r"""Skeleton adjacency :math:`\mathbf{A}_s` (paper Sec. 4.3.2).

    .. math::
        (\mathbf{A}_s)_{ij} = 1 / \lVert \mathbf{v}_i - \mathbf{v}_j \rVert

    for every bone ``(i, j)``, and with ``self_loops``
    :math:`(\mathbf{A}_s)_{ii} = \max_j (\mathbf{A}_s)_{ij}` over the bones
    of ``i``. Raw weights; the layer row-normalises.

    Args:
        joints (Tensor): Template joint positions :math:`(J, 3)` in
            ``joint_names`` order (e.g. ``template_joints[SMPL_TO_JOINTS]``).
        bones: Bones as name pairs. (default: :data:`BONES`)
        joint_names: Node order. (default: :data:`JOINT_NAMES`)
        self_loops (bool): Add self-loops. (default: :obj:`True`)
        eps (float): Shortest bone length accepted. (default: ``1e-8``)

    Returns:
        Graph: ``size=(J, J)``, sorted by target then source; dtype and
        device of ``joints``.

    Raises:
        ValueError: ``joints`` not of shape ``(len(joint_names), 3)``, not
            finite, or two joints of a bone coincident (closer than
            ``eps``: the weight :math:`1 / \lVert \mathbf{v}_i -
            \mathbf{v}_j \rVert` would dominate the row normalisation).
    """
    n = len(joint_names)
    if joints.dim() != 2 or tuple(joints.shape) != (n, 3):
        raise ValueError(
            f"Expected 'joints' of shape ({n}, 3) (got {tuple(joints.shape)})"
        )
    edge_index = skeleton_edge_index(bones, joint_names).to(joints.device)
    if not bool(torch.isfinite(joints).all()):
        raise ValueError(
            "Expected finite 'joints' (got NaN or inf in "
            f"{int((~torch.isfinite(joints)).any(-1).sum())} joints)"
        )
    dist = (joints[edge_index[0]] - joints[edge_index[1]]).norm(dim=-1)
    short = (dist <= eps).nonzero().view(-1).tolist()
    if short:
        i, j = edge_index[:, short[0]].tolist()
        raise ValueError(
            f"Expected every bone longer than eps={eps:g}: its weight is "
            f"1 / length, which would dominate RowNorm (got "
            f"{joint_names[i]!r} and {joint_names[j]!r} at distance "
            f"{float(dist[short[0]]):.3g}; {len(short) // 2} such bones)"
        )
    weight = 1.0 / dist
    if self_loops:
        loop_w = torch.zeros(n, dtype=joints.dtype, device=joints.device)
        loop_w = loop_w.scatter_reduce(
            0, edge_index[1], weight, reduce="amax", include_self=True
        )
        loop = torch.arange(n, device=joints.device).expand(2, n)
        edge_index = torch.cat([edge_index, loop], dim=1)
        weight = torch.cat([weight, loop_w])
        edge_index, weight = sort_by_target(edge_index, weight, n)
    return Graph(edge_index, weight, (n, n))

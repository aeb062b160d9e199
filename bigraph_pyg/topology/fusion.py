r"""Fusion graph :math:`\mathbf{A}_{f,s}` between joints and mesh vertices.

Paper Sec. 4.3.3, Eq. 5: :math:`\mathbf{A}_f = \mathrm{RowNorm}(
\mathbf{A}_{f,s} \odot \mathbf{W}_f)`. The fixed part :math:`\mathbf{A}_{f,s}`
connects every skeleton joint with every (coarse) mesh vertex, weighted by
the reciprocal Euclidean distance in the template pose; joint-joint and
vertex-vertex entries are zero (those live in :math:`\mathbf{A}_s` and
:math:`\mathbf{A}_m`). The learnable :math:`\mathbf{W}_f` (one value per
edge, initialised to 1) belongs to the layer, aligned with the edge order
returned here.

Node layout of the union graph :math:`\mathcal{V}_s \cup \mathcal{V}_m`:
nodes ``0 .. N_s - 1`` are joints, ``N_s .. N_s + N_m - 1`` are vertices
(1735 nodes for 12 joints and 1723 vertices, with 2 x 12 x 1723 = 41,352
edges).
"""

from __future__ import annotations

import torch
from torch import Tensor

from bigraph_pyg.topology.graph import Graph

__all__ = ["fusion_bipartite", "fusion_graph"]


def fusion_graph(
    joints: Tensor,
    vertices: Tensor,
    k: int | None = None,
    eps: float = 1e-8,
) -> Graph:
    r"""Fixed fusion adjacency :math:`\mathbf{A}_{f,s}` (paper Eq. 5).

    .. math::
        (\mathbf{A}_{f,s})_{ij} = (\mathbf{A}_{f,s})_{ji}
        = 1 / \lVert \mathbf{v}_{s,i} - \mathbf{v}_{m,j} \rVert

    for every joint ``i`` and vertex ``j`` (both directions), zero
    elsewhere.

    Args:
        joints (Tensor): Template joints :math:`(N_s, 3)`.
        vertices (Tensor): Template mesh vertices :math:`(N_m, 3)`, same
            units and pose as ``joints``.
        k (int, optional): If set, keep for each vertex only its ``k``
            nearest joints (both directions of those pairs); otherwise all
            pairs (the paper). (default: :obj:`None`)
        eps (float): Lower bound on a distance, so a vertex on a joint
            gets weight ``1 / eps`` rather than ``inf``. (default: ``1e-8``)

    Returns:
        Graph: on ``N_s + N_m`` nodes, raw weights, sorted by target then
        source: first the vertex-to-joint edges (targets ``0..N_s-1``),
        then the joint-to-vertex edges. ``E = 2 N_s N_m`` without ``k``.

    Raises:
        ValueError: wrong shapes or ``k`` not in ``[1, N_s]``.

    Example:
        >>> g = fusion_graph(torch.zeros(2, 3), torch.ones(4, 3))
        >>> g.num_edges, g.size
        (16, (6, 6))
    """
    for name, t in (("joints", joints), ("vertices", vertices)):
        if t.dim() != 2 or t.size(1) != 3 or t.size(0) == 0:
            raise ValueError(
                f"Expected '{name}' of shape (N, 3), N > 0 "
                f"(got {tuple(t.shape)})"
            )
    ns, nm = joints.size(0), vertices.size(0)
    if k is not None and not 1 <= k <= ns:
        raise ValueError(f"Expected 'k' in [1, {ns}] (got {k})")
    vertices = vertices.to(joints.dtype)
    dist = torch.cdist(  # exact differences, not the matmul expansion
        joints, vertices, compute_mode="donot_use_mm_for_euclid_dist"
    )  # (N_s, N_m)
    weight = 1.0 / dist.clamp_min(eps)
    if k is None or k == ns:
        mask = torch.ones_like(dist, dtype=torch.bool)
    else:
        nearest = dist.topk(k, dim=0, largest=False).indices  # (k, N_m)
        mask = torch.zeros_like(dist, dtype=torch.bool)
        mask.scatter_(0, nearest, True)
    # Vertex -> joint edges, target joint i, sources sorted by vertex id.
    j_idx, v_idx = mask.nonzero(as_tuple=True)  # row-major: sorted by joint
    vj = torch.stack([v_idx + ns, j_idx])
    w_vj = weight[j_idx, v_idx]
    # Joint -> vertex edges, target vertex j, sources sorted by joint id.
    v_idx2, j_idx2 = mask.t().nonzero(as_tuple=True)
    jv = torch.stack([j_idx2, v_idx2 + ns])
    w_jv = weight[j_idx2, v_idx2]
    edge_index = torch.cat([vj, jv], dim=1)
    n = ns + nm
    return Graph(edge_index, torch.cat([w_vj, w_jv]), (n, n))


def fusion_bipartite(graph: Graph, num_joints: int) -> tuple[Graph, Graph]:
    r"""Split the union fusion graph into its two bipartite directions.

    Node ids become local to each side. Because the union graph is sorted
    by target, the vertex-to-joint edges are its first half and the
    joint-to-vertex edges its second half, in the same order.

    Args:
        graph (Graph): Output of :func:`fusion_graph`.
        num_joints (int): ``N_s``.

    Returns:
        (Graph, Graph): ``joint_to_vertex`` with ``size=(N_s, N_m)``
        (sources joints, targets vertices) and ``vertex_to_joint`` with
        ``size=(N_m, N_s)``; each sorted by target then source.

    Raises:
        ValueError: an edge joins two joints or two vertices.
    """
    ns = num_joints
    nm = graph.num_nodes - ns
    src, dst = graph.edge_index
    to_joint = dst < ns
    if bool(((src < ns) == to_joint).any()):
        raise ValueError(
            f"Expected only joint-vertex edges in 'graph' with "
            f"num_joints={ns} (got a joint-joint or vertex-vertex edge)"
        )
    e_vj = graph.edge_index[:, to_joint]
    e_jv = graph.edge_index[:, ~to_joint]
    vertex_to_joint = Graph(
        torch.stack([e_vj[0] - ns, e_vj[1]]),
        graph.edge_weight[to_joint],
        (nm, ns),
    )
    joint_to_vertex = Graph(
        torch.stack([e_jv[0], e_jv[1] - ns]),
        graph.edge_weight[~to_joint],
        (ns, nm),
    )
    return joint_to_vertex, vertex_to_joint

"""All fixed graphs of one body, built once (paper Fig. 1, Sec. 4.3)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from bigraph_pyg.topology._body_graphs_arrays import body_graphs_from_arrays
from bigraph_pyg.topology.fusion import fusion_bipartite, fusion_graph
from bigraph_pyg.topology.graph import Graph
from bigraph_pyg.topology.mesh import mesh_graph
from bigraph_pyg.topology.sampling import MeshHierarchy, mesh_hierarchy
from bigraph_pyg.topology.skeleton import SMPL_TO_JOINTS, skeleton_graph
from bigraph_pyg.utils.io import load_npz

__all__ = ["BodyGraphs"]


def _sparse_arrays(prefix: str, t: Tensor) -> dict:
    t = t.coalesce()
    return {
        f"{prefix}_indices": t.indices().cpu().numpy(),
        f"{prefix}_values": t.values().cpu().numpy(),
        f"{prefix}_shape": np.array(t.shape, dtype=np.int64),
    }


@dataclass(frozen=True)
class BodyGraphs:
    r"""A body's mesh hierarchy and its mesh, skeleton and fusion graphs.

    Attributes:
        hierarchy (MeshHierarchy): template at every resolution with
            :math:`\mathbf{D}_l`, :math:`\mathbf{U}_l`.
        level (int): hierarchy level of the GCN mesh (1: 1723 vertices).
        joints (Tensor): template joints :math:`(N_s, 3)` (12, LSP order).
        mesh_graph (Graph): :math:`\mathbf{A}_m` at ``level``, binary with
            self-loops.
        skeleton_graph (Graph): :math:`\mathbf{A}_s`, reciprocal bone
            lengths with self-loops.
        fusion_graph (Graph): :math:`\mathbf{A}_{f,s}` on the union
            ``N_s + N_m`` nodes (joints first), reciprocal distances.
    """

    hierarchy: MeshHierarchy
    level: int
    joints: Tensor
    mesh_graph: Graph
    skeleton_graph: Graph
    fusion_graph: Graph

    @classmethod
    def from_body(
        cls,
        body,
        sizes=None,
        level: int = 1,
        fusion_k: int | None = None,
    ) -> BodyGraphs:
        """Build from a :class:`~bigraph_pyg.body.BodyModel`.

        Args:
            body (BodyModel): A body (SMPL or the default body).
            sizes (Sequence[int], optional): Coarse sizes (default: 6890 ->
                1723 -> 431 for a 6890-vertex body).
            level (int): Level used by the GCN. (default: ``1``)
            fusion_k (int, optional): Keep the ``k`` nearest joints per
                vertex in the fusion graph (default: all, as the paper).

        Returns:
            BodyGraphs: the graphs, float32, on the body's device.

        Raises:
            ValueError: a body without SMPL's joints (the 12 skeleton
                joints are picked from them by SMPL index).
        """
        needed = max(SMPL_TO_JOINTS) + 1
        if body.num_joints < needed:
            raise ValueError(
                "Expected a body with SMPL's joint order (at least "
                f"{needed} joints: the skeleton joints are picked by SMPL "
                f"index) (got {body.num_joints} joints in "
                f"{getattr(body, 'name', 'body')!r})"
            )
        with torch.no_grad():
            joints = body.template_joints()[list(SMPL_TO_JOINTS)]
            return cls.from_mesh(
                body.template_vertices,
                body.faces,
                joints,
                sizes,
                level,
                fusion_k,
            )

    @classmethod
    def from_mesh(
        cls,
        vertices: Tensor,
        faces: Tensor,
        joints: Tensor,
        sizes=None,
        level: int = 1,
        fusion_k: int | None = None,
    ) -> BodyGraphs:
        """Build from any template mesh and its 12 joints.

        Args:
            vertices (Tensor): :math:`(N, 3)`.
            faces (Tensor): :math:`(F, 3)` int64.
            joints (Tensor): :math:`(12, 3)` in
                :data:`~bigraph_pyg.topology.skeleton.JOINT_NAMES` order.
            sizes (Sequence[int], optional): as in :meth:`from_body`.
            level (int): as in :meth:`from_body`.
            fusion_k (int, optional): as in :meth:`from_body`.

        Returns:
            BodyGraphs: the graphs.

        Raises:
            ValueError: ``level`` outside the hierarchy, or bad mesh.
        """
        h = mesh_hierarchy(vertices, faces, sizes)
        return cls.from_hierarchy(h, joints, level, fusion_k)

    @classmethod
    def from_hierarchy(
        cls,
        hierarchy: MeshHierarchy,
        joints: Tensor,
        level: int = 1,
        fusion_k: int | None = None,
    ) -> BodyGraphs:
        """Build the three graphs on an existing hierarchy."""
        if not 0 <= level < len(hierarchy.sizes):
            raise ValueError(
                f"Expected 'level' in [0, {len(hierarchy.sizes) - 1}] "
                f"(got {level})"
            )
        verts = hierarchy.vertices[level]
        joints = joints.to(verts)
        return cls(
            hierarchy=hierarchy,
            level=level,
            joints=joints,
            mesh_graph=mesh_graph(
                hierarchy.faces[level], verts.size(0), dtype=verts.dtype
            ),
            skeleton_graph=skeleton_graph(joints),
            fusion_graph=fusion_graph(joints, verts, k=fusion_k),
        )

    @property
    def num_joints(self) -> int:
        """``N_s`` (12)."""
        return self.joints.size(0)

    @property
    def num_vertices(self) -> int:
        """``N_m`` at the GCN level (1723 by default)."""
        return self.hierarchy.sizes[self.level]

    def fusion_bipartite(self) -> tuple[Graph, Graph]:
        """``(joint_to_vertex, vertex_to_joint)`` bipartite graphs."""
        return fusion_bipartite(self.fusion_graph, self.num_joints)

    def to(self, *args, **kwargs) -> BodyGraphs:
        """Move every tensor (as :meth:`torch.Tensor.to`)."""
        return dataclasses.replace(
            self,
            hierarchy=self.hierarchy.to(*args, **kwargs),
            joints=self.joints.to(*args, **kwargs),
            mesh_graph=self.mesh_graph.to(*args, **kwargs),
            skeleton_graph=self.skeleton_graph.to(*args, **kwargs),
            fusion_graph=self.fusion_graph.to(*args, **kwargs),
        )

    def save(self, path: str | Path) -> None:
        """Write plain arrays to an ``.npz`` (``allow_pickle=False``)."""
        h = self.hierarchy
        out = {
            "level": np.array(self.level),
            "num_levels": np.array(len(h.sizes)),
            "joints": self.joints.cpu().numpy(),
        }
        for i in range(len(h.sizes)):
            out[f"vertices_{i}"] = h.vertices[i].cpu().numpy()
            out[f"faces_{i}"] = h.faces[i].cpu().numpy()
        for i in range(len(h.down)):
            out.update(_sparse_arrays(f"down_{i}", h.down[i]))
            out.update(_sparse_arrays(f"up_{i}", h.up[i]))
        for name in ("mesh_graph", "skeleton_graph", "fusion_graph"):
            g = getattr(self, name)
            out[f"{name}_edge_index"] = g.edge_index.cpu().numpy()
            out[f"{name}_edge_weight"] = g.edge_weight.cpu().numpy()
            out[f"{name}_size"] = np.array(g.size, dtype=np.int64)
        np.savez_compressed(Path(path), **out)

    @classmethod
    def load(cls, path: str | Path) -> BodyGraphs:
        """Read what :meth:`save` wrote (``allow_pickle=False``).

        Every array is checked here, against the others: shapes, integer
        index dtypes, vertex and node ids in range, sampling matrices that
        chain the levels, finite weights. A damaged or hand-edited file
        fails at load, naming the file and the array, not at first use.

        Args:
            path (str or Path): The ``.npz`` file.

        Returns:
            BodyGraphs: the graphs (CPU).

        Raises:
            FileNotFoundError: no such file.
            ValueError: not a readable ``.npz``, a key missing, or arrays
                that do not fit together (the message names the file and
                the key, what was expected and what was got).
        """
        path = Path(path).expanduser()
        data = load_npz(
            path,
            "a BodyGraphs .npz (written by BodyGraphs.save)",
            required=("num_levels", "level", "joints"),
        )
        return body_graphs_from_arrays(cls, data, f"'{path}'")

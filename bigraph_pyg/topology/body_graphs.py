"""All fixed graphs of one body, built once (paper Fig. 1, Sec. 4.3).

:class:`BodyGraphs` holds a body's mesh hierarchy and its mesh, skeleton
and fusion graphs, and writes them to and reads them from an ``.npz`` of
plain arrays (no pickles). Below it, the two sides of that file: a
sparse sampling matrix written as three plain arrays (for
:meth:`BodyGraphs.save`), and the checked reading (:class:`ArrayReader`,
:func:`body_graphs_from_arrays`, for :meth:`BodyGraphs.load`). Every
array is checked as it is read, against the others: shapes, integer
index dtypes, vertex and node ids in range, sampling matrices that chain
the levels, finite weights. A damaged or hand-edited file fails at
:meth:`BodyGraphs.load`, naming the file and the key, not at first use.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from bigraph_pyg.topology.fusion import fusion_bipartite, fusion_graph
from bigraph_pyg.topology.graph import Graph
from bigraph_pyg.topology.mesh import mesh_graph
from bigraph_pyg.topology.sampling import MeshHierarchy, mesh_hierarchy
from bigraph_pyg.topology.skeleton import SMPL_TO_JOINTS, skeleton_graph
from bigraph_pyg.utils.io import load_npz

__all__ = ["BodyGraphs"]


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


# -- writing: plain arrays ----------------------------------------------------


def _sparse_arrays(prefix: str, t: Tensor) -> dict:
    t = t.coalesce()
    return {
        f"{prefix}_indices": t.indices().cpu().numpy(),
        f"{prefix}_values": t.values().cpu().numpy(),
        f"{prefix}_shape": np.array(t.shape, dtype=np.int64),
    }


# -- reading: every array checked ---------------------------------------------


class ArrayReader:
    """Typed, checked access to the arrays of one file.

    Every method raises :class:`ValueError` naming the key and ``source``,
    what was expected and what was got.

    Args:
        data (dict): The arrays by key.
        source (str): Where they come from (the quoted file name).
    """

    def __init__(self, data: dict, source: str):
        self.data = data
        self.source = source

    def fail(self, key: str, expected: str, got) -> ValueError:
        """The error for ``key``: ``expected``, but ``got``."""
        return ValueError(
            f"Expected '{key}' {expected} in {self.source} (got {got})"
        )

    def scalar(self, key: str) -> int:
        """An integer scalar."""
        a = self.data[key]
        if a.shape != () or a.dtype.kind not in "iu":
            raise self.fail(
                key, "to be an integer scalar", f"{a.dtype} of shape {a.shape}"
            )
        return int(a)

    def array(self, key: str, ndim: int, kind: str) -> np.ndarray:
        """An ``ndim``-D array of dtype kind ``kind`` (``'iu'`` or ``'f'``).

        A floating-point array must be finite.
        """
        if key not in self.data:
            raise ValueError(
                f"Expected key '{key}' in {self.source} (got "
                f"{sorted(self.data)})"
            )
        a = self.data[key]
        if a.ndim != ndim or a.dtype.kind not in kind:
            want = "integer" if kind == "iu" else "floating-point"
            raise self.fail(
                key,
                f"to be a {ndim}-D {want} array",
                f"{a.dtype} of shape {a.shape}",
            )
        if kind == "f" and not np.isfinite(a).all():
            raise self.fail(key, "to be finite", "NaN or inf")
        return a

    def coords(self, key: str, rows: int | None = None) -> Tensor:
        """Positions :math:`(N, 3)` (``N = rows`` if given)."""
        a = self.array(key, 2, "f")
        if a.shape[1] != 3 or (rows is not None and a.shape[0] != rows):
            raise self.fail(key, f"of shape ({rows or 'N'}, 3)", a.shape)
        return torch.from_numpy(a)

    def faces(self, key: str, num_vertices: int) -> Tensor:
        """Triangles :math:`(F, 3)` int64 over ``num_vertices`` vertices."""
        a = self.array(key, 2, "iu")
        if a.shape[1:] != (3,):
            raise self.fail(key, "of shape (F, 3)", a.shape)
        self._check_range(key, a, num_vertices, "vertex ids")
        return torch.from_numpy(a.astype(np.int64))

    def ids(self, key: str, bounds: tuple[int, int]) -> Tensor:
        """Index pairs :math:`(2, E)` int64, row ``r`` in ``[0, bounds[r])``."""
        a = self.array(key, 2, "iu")
        if a.shape[0] != 2:
            raise self.fail(key, "of shape (2, E)", a.shape)
        for row, bound in enumerate(bounds):
            self._check_range(key, a[row], bound, f"ids in row {row}")
        return torch.from_numpy(a.astype(np.int64))

    def _check_range(self, key: str, a, bound: int, what: str) -> None:
        """Refuse ids of ``a`` (``what``) outside ``[0, bound)``."""
        if a.size and (a.min() < 0 or a.max() >= bound):
            raise self.fail(
                key, f"{what} in [0, {bound})", f"range [{a.min()}, {a.max()}]"
            )

    def sparse(self, prefix: str, shape: tuple[int, int]) -> Tensor:
        """The coalesced sparse COO matrix ``<prefix>_*`` of ``shape``."""
        size = self.array(f"{prefix}_shape", 1, "iu")
        if tuple(size.tolist()) != shape:
            raise self.fail(
                f"{prefix}_shape",
                f"= {shape} (the levels it joins)",
                tuple(size.tolist()),
            )
        idx = self.ids(f"{prefix}_indices", shape)
        val = self.array(f"{prefix}_values", 1, "f")
        if val.shape[0] != idx.size(1):
            raise self.fail(
                f"{prefix}_values", f"of shape ({idx.size(1)},)", val.shape
            )
        return torch.sparse_coo_tensor(
            idx,
            torch.from_numpy(val),
            shape,
            check_invariants=True,
        ).coalesce()

    def graph(self, name: str, nodes: int) -> Graph:
        """The weighted graph ``<name>_*`` on ``nodes`` nodes."""
        size = self.array(f"{name}_size", 1, "iu")
        if tuple(size.tolist()) != (nodes, nodes):
            raise self.fail(
                f"{name}_size", f"= {(nodes, nodes)}", tuple(size.tolist())
            )
        index = self.ids(f"{name}_edge_index", (nodes, nodes))
        weight = self.array(f"{name}_edge_weight", 1, "f")
        if weight.shape[0] != index.size(1):
            raise self.fail(
                f"{name}_edge_weight",
                f"of shape ({index.size(1)},)",
                weight.shape,
            )
        return Graph(index, torch.from_numpy(weight), (nodes, nodes))


def body_graphs_from_arrays(cls, data: dict, source: str):
    """Build ``cls`` from the arrays :meth:`BodyGraphs.save` writes.

    Args:
        cls (type): :class:`~bigraph_pyg.topology.BodyGraphs`.
        data (dict): The arrays by key.
        source (str): Where they come from (the quoted file name).

    Returns:
        BodyGraphs: the graphs (CPU).

    Raises:
        ValueError: a key missing, or arrays that do not fit together.
    """
    read = ArrayReader(data, source)
    n = read.scalar("num_levels")
    if n < 1:
        raise read.fail("num_levels", ">= 1", n)
    level = read.scalar("level")
    if not 0 <= level < n:
        raise read.fail("level", f"in [0, {n - 1}]", level)
    vertices, faces = [], []
    for i in range(n):
        v = read.coords(f"vertices_{i}")
        vertices.append(v)
        faces.append(read.faces(f"faces_{i}", v.size(0)))
    sizes = [v.size(0) for v in vertices]
    h = MeshHierarchy(
        tuple(vertices),
        tuple(faces),
        tuple(
            read.sparse(f"down_{i}", (sizes[i + 1], sizes[i]))
            for i in range(n - 1)
        ),
        tuple(
            read.sparse(f"up_{i}", (sizes[i], sizes[i + 1]))
            for i in range(n - 1)
        ),
    )
    joints = read.coords("joints", len(SMPL_TO_JOINTS))
    nm, ns = sizes[level], joints.size(0)
    graphs = {
        "mesh_graph": read.graph("mesh_graph", nm),
        "skeleton_graph": read.graph("skeleton_graph", ns),
        "fusion_graph": read.graph("fusion_graph", ns + nm),
    }
    return cls(h, level, joints, **graphs)

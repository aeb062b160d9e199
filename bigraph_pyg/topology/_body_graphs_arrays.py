"""Checked reading of the plain arrays :meth:`BodyGraphs.save` writes.

Every array is checked as it is read, against the others: shapes, integer
index dtypes, vertex and node ids in range, sampling matrices that chain
the levels, finite weights. A damaged or hand-edited file fails at
:meth:`~bigraph_pyg.topology.BodyGraphs.load`, naming the file and the
key, not at first use.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from bigraph_pyg.topology.graph import Graph
from bigraph_pyg.topology.sampling import MeshHierarchy
from bigraph_pyg.topology.skeleton import SMPL_TO_JOINTS


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
        if a.size and (a.min() < 0 or a.max() >= num_vertices):
            raise self.fail(
                key,
                f"vertex ids in [0, {num_vertices})",
                f"range [{a.min()}, {a.max()}]",
            )
        return torch.from_numpy(a.astype(np.int64))

    def ids(self, key: str, bounds: tuple[int, int]) -> Tensor:
        """Index pairs :math:`(2, E)` int64, row ``r`` in ``[0, bounds[r])``."""
        a = self.array(key, 2, "iu")
        if a.shape[0] != 2:
            raise self.fail(key, "of shape (2, E)", a.shape)
        for row, bound in enumerate(bounds):
            if a.shape[1] and (a[row].min() < 0 or a[row].max() >= bound):
                raise self.fail(
                    key,
                    f"ids in row {row} in [0, {bound})",
                    f"range [{a[row].min()}, {a[row].max()}]",
                )
        return torch.from_numpy(a.astype(np.int64))

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

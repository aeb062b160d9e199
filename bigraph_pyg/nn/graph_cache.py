r"""Per-layer memo of prepared graphs (validated once, CSR built once).

A layer takes its graph as a ``forward`` argument (the model passes the same
buffers on every call).  Everything derived from the graph alone -- the
canonical edge list, its validation (host syncs), the CSR structure, the
row-normalised weights of a fixed graph, the fusion conv's block indices --
is computed at the first call and reused while the *same* tensors come back
unchanged.  The key is the identity of each graph tensor (a weak
reference, so a freed tensor never matches a new one at the same address),
its version counter (bumped by every in-place change, e.g.
``load_state_dict``) and its storage view (``.data =`` reassignment), plus
the sizes and the device.

Some writes bypass the version counter: through ``t.data`` (``w.data[...]
= 0``) or through a NumPy view (``edge_index.numpy()[0, 0] = 5``). So
each entry also keeps a copy of the graph's values and compares them at
every look-up: on the CPU always (a memory comparison, no sync), on an
accelerator while :func:`~bigraph_pyg.nn.validation` is on (the comparison
is a device-to-host sync). With validation off on an accelerator, such a
write is not seen: call the layer's ``reset_parameters()`` (or
``_graph_cache.clear()``) after editing a graph that way.
"""

from __future__ import annotations

import weakref
from typing import Any

import torch
from torch import Tensor

from bigraph_pyg.nn.validate import validation_enabled
from bigraph_pyg.utils.sparse import EdgeList, check_edge_list

__all__ = ["GraphCache", "PreparedGraph", "check_graph_once"]


class PreparedGraph:
    """What a layer derives from one graph; fields are filled lazily.

    Attributes:
        graph: the validated :class:`~bigraph_pyg.utils.sparse.EdgeList`.
        extras (dict): derived structures by name (``"csr"``,
            ``"blocks"``, normalised weights per dtype, ...).
        cacheable (bool): :obj:`False` while tracing or for untracked
            tensors: derived structures are then rebuilt on every call.
        validated (bool): the value checks ran on this graph (a graph
            first seen with validation off is checked at its first use
            with validation on).
    """

    __slots__ = ("graph", "extras", "cacheable", "validated")

    def __init__(self, graph: Any, cacheable: bool) -> None:
        self.graph = graph
        self.extras: dict[str, Any] = {}
        self.cacheable = cacheable
        self.validated = False


def _version(t: Tensor) -> tuple | None:
    """What changes when ``t``'s values may have (metadata only, no sync).

    Its version counter (every in-place op) and its storage view
    (``t.data = ...`` and ``set_`` do not bump the counter).
    """
    try:
        version = t._version
    except (RuntimeError, AttributeError):  # inference tensors
        return None
    if t.layout != torch.strided:  # sparse: its version counter only
        return (version, tuple(t.shape))
    return (
        version,
        t.data_ptr(),
        tuple(t.shape),
        t.stride(),
        t.storage_offset(),
    )


def _parts(t: Tensor) -> tuple[Tensor, ...]:
    """The dense tensors holding ``t``'s values (a sparse one's arrays)."""
    if t.layout == torch.sparse_coo:
        return (t._indices(), t._values())
    if t.layout in (torch.sparse_csr, torch.sparse_bsr):
        return (t.crow_indices(), t.col_indices(), t.values())
    if t.layout in (torch.sparse_csc, torch.sparse_bsc):
        return (t.ccol_indices(), t.row_indices(), t.values())
    return (t,)


def _snapshot(t: Tensor) -> tuple[Tensor, ...]:
    """A copy of ``t``'s values (no sync: a device-side copy)."""
    return tuple(p.detach().clone() for p in _parts(t))


def _same_values(t: Tensor, snapshot: tuple[Tensor, ...]) -> bool:
    """``t`` holds the values of ``snapshot`` (NaN equal to NaN).

    Compared on the CPU always, elsewhere only while validation is on (a
    host sync); otherwise assumed equal.
    """
    if t.device.type != "cpu" and not validation_enabled():
        return True
    for part, old in zip(_parts(t), snapshot, strict=True):
        part = part.detach()
        if torch.equal(part, old):
            continue
        if not part.is_floating_point():
            return False
        if not (
            torch.equal(part.isnan(), old.isnan())
            and torch.equal(part.nan_to_num(0.0), old.nan_to_num(0.0))
        ):
            return False
    return True


class GraphCache:
    """A small LRU memo ``graph tensors -> PreparedGraph``.

    Args:
        capacity (int): Graphs kept (a layer called alternately on a few
            graphs, e.g. shared weights on the mesh and skeleton graphs,
            stays cached). (default: ``4``)
    """

    def __init__(self, capacity: int = 4) -> None:
        self.capacity = capacity
        self._entries: list[tuple[tuple, tuple, PreparedGraph]] = []

    @staticmethod
    def _keys(tensors: tuple[object, ...]) -> tuple | None:
        keys = []
        for t in tensors:
            if t is None:
                keys.append((None, None, None))
                continue
            if not isinstance(t, Tensor):
                return None  # e.g. a torch_sparse.SparseTensor
            v = _version(t)
            if v is None:
                return None
            keys.append((weakref.ref(t), v, _snapshot(t)))
        return tuple(keys)

    def get(
        self, tensors: tuple[object, ...], extra: tuple
    ) -> PreparedGraph | None:
        """The entry for these tensors (same objects, unmodified), if any."""
        if torch.compiler.is_compiling():
            return None
        for i, (keys, ext, value) in enumerate(self._entries):
            if ext != extra or len(keys) != len(tensors):
                continue
            if all(
                (ref is None and t is None)
                or (
                    ref is not None
                    and ref() is t
                    and _version(t) == v
                    and _same_values(t, values)
                )
                for (ref, v, values), t in zip(keys, tensors, strict=True)
            ):
                if i:
                    self._entries.insert(0, self._entries.pop(i))
                return value
        return None

    def put(
        self, tensors: tuple[object, ...], extra: tuple, graph: Any
    ) -> PreparedGraph:
        """Store (when the tensors can be tracked) and return an entry."""
        keys = None if torch.compiler.is_compiling() else self._keys(tensors)
        value = PreparedGraph(graph, cacheable=keys is not None)
        if keys is not None:
            self._entries.insert(0, (keys, extra, value))
            del self._entries[self.capacity :]
        return value

    def clear(self) -> None:
        """Forget every graph."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    # Weak references cannot be pickled: a pickled layer starts empty.
    def __getstate__(self) -> dict:
        return {"capacity": self.capacity}

    def __setstate__(self, state: dict) -> None:
        self.capacity = state["capacity"]
        self._entries = []

    def __deepcopy__(self, memo) -> GraphCache:
        return GraphCache(self.capacity)


#: Graphs whose values :func:`check_graph_once` checked, shared by every
#: layer of the process: a model passes the same graph buffers to each of
#: its convs, and they are checked at the first one only.
_CHECKED = GraphCache(capacity=32)


def check_graph_once(graph: EdgeList, tensors: tuple, key: tuple) -> None:
    """:func:`~bigraph_pyg.utils.sparse.check_edge_list`, once per graph.

    Skipped when these very ``tensors`` (same objects, unmodified, see
    :class:`GraphCache`) with this ``key`` (sizes, device) were checked
    before, by any layer.

    Args:
        graph (EdgeList): The unpacked graph.
        tensors (tuple): The caller's graph tensors it came from.
        key (tuple): What else the check depends on (sizes, device).

    Raises:
        ValueError, IndexError: as ``check_edge_list``.
    """
    if _CHECKED.get(tensors, key) is None:
        check_edge_list(graph)
        _CHECKED.put(tensors, key, graph)

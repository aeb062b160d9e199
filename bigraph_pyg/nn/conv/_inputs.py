"""Metadata checks of the conv layers' inputs (no host sync, every call).

Shapes, dtypes and devices only (and the channel sizes given to
``__init__``); the value checks of a graph run once per graph
(:mod:`bigraph_pyg.nn.graph_cache`).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.typing import Size


def check_in_channels(in_channels: object) -> int | tuple[int, int]:
    """Check ``in_channels``, an int or a pair ``(F_src, F_dst)``.

    ``-1`` (either or both in a pair) is PyG's lazy size: inferred from
    the features at the first call.

    Returns:
        int or tuple[int, int]: ``in_channels``, a pair as a tuple of ints.
    """
    if isinstance(in_channels, (tuple, list)):
        if len(in_channels) != 2:
            raise ValueError(
                "Expected `in_channels` to be an int or a pair "
                f"(F_src, F_dst) (got {in_channels!r})"
            )
        return (
            _channels("in_channels[0]", in_channels[0]),
            _channels("in_channels[1]", in_channels[1]),
        )
    return _channels("in_channels", in_channels)


def _channels(name: str, value: object) -> int:
    """A positive int, or ``-1`` (lazy)."""
    if isinstance(value, int) and not isinstance(value, bool) and value == -1:
        return -1
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"Expected `{name}` to be a positive int or -1 (inferred at the "
            f"first call) (got {value!r})"
        )
    return value


def check_features(
    name: str, x: object, channels: int, like: Tensor | None = None
) -> Tensor:
    """Check a ``[N, C]`` / ``[B, N, C]`` feature tensor and return it.

    With ``like`` (the layer's weight), ``x`` must also share its device,
    and its dtype unless autocast is on for that device.
    """
    if not isinstance(x, Tensor):
        raise ValueError(
            f"Expected `{name}` to be a Tensor (got {type(x).__name__})"
        )
    if x.dim() not in (2, 3):
        raise ValueError(
            f"Expected `{name}` of shape [N, C] or [B, N, C] "
            f"(got {list(x.shape)})"
        )
    if channels != -1 and x.size(-1) != channels:  # -1: lazy, any
        raise ValueError(
            f"Expected `{name}` with {channels} channels in its last "
            f"dimension (got {list(x.shape)})"
        )
    if like is None:
        return x
    if x.device != like.device:
        raise ValueError(
            f"Expected `{name}` on the layer's device {like.device} (got "
            f"{x.device}); move one of them with .to()"
        )
    if x.dtype != like.dtype and not torch.is_autocast_enabled(x.device.type):
        raise ValueError(
            f"Expected `{name}` of the layer's dtype {like.dtype} (got "
            f"{x.dtype}); cast the input (x.to({like.dtype})) or the "
            f"layer (conv.to({x.dtype}))"
        )
    return x


def split_features(
    x: Tensor | tuple[Tensor, Tensor | None],
    size: Size,
    in_channels: int | tuple[int, int],
    like: Tensor | None = None,
) -> tuple[Tensor, tuple[int, int]]:
    """Check ``x`` (a tensor or a pair); return ``x_src`` and the sizes.

    The sizes are ``(N_src, N_dst)``; ``x_dst`` (or ``size[1]``) only
    gives the number of target nodes, as in PyG's bipartite convolutions.
    """
    c_src, c_dst = (
        in_channels
        if isinstance(in_channels, tuple)
        else (in_channels, in_channels)
    )
    if isinstance(x, Tensor):
        check_features("x", x, c_src, like)
        n = x.size(-2)
        if size is not None and tuple(size) != (n, n):
            raise ValueError(
                f"Expected `size` None or ({n}, {n}) for a graph on the "
                f"{n} nodes of `x` (got {tuple(size)})"
            )
        return x, (n, n)
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise ValueError(
            "Expected `x` to be a Tensor or a pair (x_src, x_dst) "
            f"(got {type(x).__name__})"
        )
    x_src, x_dst = x
    check_features("x[0] (x_src)", x_src, c_src, like)
    n_src = x_src.size(-2)
    n_dst = None if size is None else size[1]
    if size is not None and size[0] is not None and size[0] != n_src:
        raise ValueError(
            f"Expected `size[0]` to equal the {n_src} nodes of x_src "
            f"(got {size[0]})"
        )
    if x_dst is not None:
        check_features("x[1] (x_dst)", x_dst, c_dst, like)
        if x_dst.shape[:-2] != x_src.shape[:-2]:
            raise ValueError(
                "Expected x_src and x_dst with the same batch shape "
                f"(got {list(x_src.shape)} and {list(x_dst.shape)})"
            )
        if n_dst is not None and n_dst != x_dst.size(-2):
            raise ValueError(
                f"Expected `size[1]` to equal the {x_dst.size(-2)} nodes "
                f"of x_dst (got {n_dst})"
            )
        n_dst = x_dst.size(-2)
    if n_dst is None:
        raise ValueError(
            "Expected x_dst or `size=(N_src, N_dst)` to give the number "
            "of target nodes (got x_dst=None and no size)"
        )
    return x_src, (n_src, int(n_dst))


def graph_device(edge_index: object) -> torch.device | None:
    """The device of a graph in any accepted format (``None``: unknown)."""
    if isinstance(edge_index, Tensor):
        return edge_index.device
    storage = getattr(edge_index, "storage", None)  # torch_sparse
    row = getattr(storage, "row", None)
    return row().device if callable(row) else None


def check_graph_device(
    edge_index: object, device: torch.device | None
) -> torch.device | None:
    """Refuse a graph on another device than ``x``; return its device.

    ``device`` (of ``x``) or the graph's device (:func:`graph_device`) may
    be :obj:`None`: unknown, not checked.
    """
    g_dev = graph_device(edge_index)
    if device is not None and g_dev is not None and g_dev != device:
        raise ValueError(
            f"Expected the graph (`edge_index`) on the device of `x` "
            f"({device}) (got {g_dev})"
        )
    return g_dev


def check_graph_size(
    graph_size: tuple[int | None, int | None], size: tuple[int, int]
) -> None:
    """Refuse a graph whose known ``(N_src, N_dst)`` differs from ``x``'s.

    Args:
        graph_size: The sizes the graph states (``None``: unknown, e.g. an
            edge list).
        size: ``(N_src, N_dst)`` of ``x``.
    """
    for side, got, want in (
        ("source", graph_size[0], size[0]),
        ("target", graph_size[1], size[1]),
    ):
        if got is not None and got != want:
            raise ValueError(
                f"Expected the graph's {side} size to equal the number "
                f"of nodes in `x` ({want}) (got a graph of size {got})"
            )


def check_edge_id(
    edge_id: object,
    graph_edges: int | None,
    device: torch.device | None,
) -> None:
    """Metadata checks of the fusion conv's ``edge_id`` (every call, no sync).

    Args:
        edge_id (object): The template edge id of every edge, ``(E,)``.
        graph_edges (int, optional): ``E``, the edges of the graph
            (:obj:`None`: not known yet).
        device (torch.device, optional): The device of ``x``.
    """
    if not isinstance(edge_id, Tensor):
        raise ValueError(
            "Expected `edge_id` to be a Tensor or None "
            f"(got {type(edge_id).__name__})"
        )
    if (
        edge_id.is_floating_point()
        or edge_id.is_complex()
        or edge_id.dtype == torch.bool
        or edge_id.dim() != 1
    ):
        raise ValueError(
            "Expected `edge_id` of an integer dtype and shape (E,) "
            f"(got {edge_id.dtype} {list(edge_id.shape)})"
        )
    if graph_edges is not None and edge_id.numel() != graph_edges:
        raise ValueError(
            f"Expected `edge_id` of shape ({graph_edges},), one id per "
            f"edge of the graph (got {list(edge_id.shape)})"
        )
    if device is not None and edge_id.device != device:
        raise ValueError(
            f"Expected `edge_id` on the device of `x` ({device}) (got "
            f"{edge_id.device})"
        )

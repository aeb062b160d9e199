"""Whether PyG's message hooks or an explainer watch a conv layer.

The fused paths (``"sparse"``, ``"blocks"``, ``"dense"``) never build
per-edge messages, so PyG's ``register_message_forward_hook`` and friends
and the explainers (which mask each edge's message, ``explain=True``) would
see nothing. ``impl="auto"`` therefore takes the ``"message"`` path while
any of them is active, and the fused one otherwise.
"""

from __future__ import annotations

from torch_geometric.nn import MessagePassing

#: The hook tables of :class:`~torch_geometric.nn.conv.MessagePassing` that
#: only the ``propagate`` path (``impl="message"``) runs.
HOOK_TABLES = (
    "_propagate_forward_pre_hooks",
    "_propagate_forward_hooks",
    "_message_forward_pre_hooks",
    "_message_forward_hooks",
    "_aggregate_forward_pre_hooks",
    "_aggregate_forward_hooks",
    "_message_and_aggregate_forward_pre_hooks",
    "_message_and_aggregate_forward_hooks",
)


def observed(conv: MessagePassing) -> bool:
    """``True`` if a PyG hook is registered on ``conv`` or it is explained.

    Args:
        conv (MessagePassing): The layer.

    Returns:
        bool: whether ``impl="auto"`` must take the ``"message"`` path.
    """
    if conv.explain:
        return True
    return any(getattr(conv, name, None) for name in HOOK_TABLES)

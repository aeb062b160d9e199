"""PyG's message hooks and explainers see every layer, also with impl='auto'.

The fused paths build no per-edge messages; while a hook or an explainer
watches a layer, ``impl="auto"`` takes the ``"message"`` path instead.
"""

import pytest
import torch
from torch_geometric.explain.algorithm.utils import clear_masks, set_masks

from bigraph_pyg.nn import BipartiteFusionConv, MeshConv, SkeletonConv
from bigraph_pyg.testing import complete_bipartite_graph, icosphere_graph
from bigraph_pyg.utils.sparse import dense_row_normalize, to_dense_adjacency

J, V = 4, 9


def _mesh():
    _, edge_index, w = icosphere_graph(1)
    return MeshConv(5, 3), edge_index, w, 42


def _skeleton():
    _, edge_index, w = icosphere_graph(1)  # any graph: same base class
    return SkeletonConv(5, 3), edge_index, w, 42


def _fusion():
    _, edge_index, a_fs = complete_bipartite_graph(J, V, seed=1)
    conv = BipartiteFusionConv(5, 3, num_edges=edge_index.size(1))
    with torch.no_grad():
        conv.fusion_weight.uniform_(0.2, 2.0)
    return conv, edge_index, a_fs, J + V


LAYERS = {"mesh": _mesh, "skeleton": _skeleton, "fusion": _fusion}


def _dense(src, dst, values, n):
    return to_dense_adjacency(src, dst, values, (n, n))


def _edge_weights(conv, edge_index, w):
    """The per-edge weights the layer's messages carry (before a mask)."""
    if isinstance(conv, BipartiteFusionConv):
        w = w * conv.fusion_weight.detach()
    return w


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_message_hooks_fire_with_auto(layer):
    torch.manual_seed(0)
    conv, edge_index, w, n = LAYERS[layer]()
    x = torch.randn(2, n, 5)
    assert conv.impl == "auto"
    fused = conv(x, edge_index, w)
    seen = []
    handle = conv.register_message_forward_hook(
        lambda module, inputs, out: seen.append(out.shape)
    )
    hooked = conv(x, edge_index, w)
    # Every edge's message was seen (2-D chunks of the batch), and the
    # per-edge path gives the fused path's result.
    assert seen and all(s[-2] == edge_index.size(1) for s in seen)
    torch.testing.assert_close(hooked, fused)
    handle.remove()
    count = len(seen)
    conv(x, edge_index, w)  # no hook left: the fused path again
    assert len(seen) == count


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_explainer_masks_each_edge(layer):
    # PyG's explainers multiply each edge's message by its mask: the result
    # is (RowNorm(A) ⊙ M) X W + b, the dense reference with the mask.
    torch.manual_seed(1)
    conv, edge_index, w, n = LAYERS[layer]()
    x = torch.randn(n, 5)
    mask = torch.rand(edge_index.size(1))
    set_masks(conv, mask, edge_index, apply_sigmoid=False)
    try:
        out = conv(x, edge_index, w)
    finally:
        clear_masks(conv)
    src, dst = edge_index
    weights = _edge_weights(conv, edge_index, w)
    norm = dense_row_normalize(_dense(src, dst, weights, n))
    ref = (norm * _dense(src, dst, mask, n)) @ (x @ conv.lin.weight.t())
    if conv.bias is not None:
        ref = ref + conv.bias
    torch.testing.assert_close(out, ref.detach())
    unmasked = conv(x, edge_index, w)
    assert not torch.allclose(out, unmasked)

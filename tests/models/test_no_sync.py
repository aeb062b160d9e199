"""No device-to-host sync in a BiGraphBody forward (issue #15, item 3).

A graph is validated and sorted into CSR once, when a layer first sees it
(here: the warm-up forward on the model's graph buffers).  The per-sample
value checks of the inputs (finite 2D joints inside the image, RoI boxes)
run while :class:`~bigraph_pyg.nn.validation` is on -- the default in eager
mode -- and are switched off for a sync-free forward.
"""

import pytest
import torch

from bigraph_pyg.models import BiGraphBody, BiGraphConfig
from bigraph_pyg.nn import validation
from bigraph_pyg.nn.validate import validation_enabled

B, S = 2, 64
TINY = dict(
    input_channels=16,
    channels=16,
    head_channels=8,
    smpl_hidden_channels=16,
    image_size=S,
)

#: Python entry points that copy a tensor's value to the host.
SYNCS = [
    (torch.Tensor, name)
    for name in (
        "item",
        "tolist",
        "__bool__",
        "__int__",
        "__float__",
        "__index__",
        "nonzero",
    )
] + [(torch, "nonzero")]


def _inputs(device="cpu"):
    g = torch.Generator().manual_seed(0)
    images = torch.rand(B, 3, S, S, generator=g)
    joints = torch.rand(B, 12, 2, generator=g) * (S - 8) + 4
    return images.to(device), joints.to(device)


@pytest.fixture
def trap(monkeypatch):
    """Make every host-sync entry point raise; yields the list of hits."""
    hits = []

    def install():
        for owner, name in SYNCS:

            def raiser(*args, _name=name, **kwargs):
                hits.append(_name)
                raise AssertionError(f"host sync: Tensor.{_name}")

            monkeypatch.setattr(owner, name, raiser)

    def remove():
        monkeypatch.undo()

    return install, remove, hits


@pytest.mark.parametrize("fusion_impl", ["auto", "sparse"])
@pytest.mark.parametrize("train", [False, True])
def test_forward_makes_no_host_sync(graphs, body, trap, fusion_impl, train):
    install, remove, hits = trap
    cfg = BiGraphConfig.preset("cpu", fusion_impl=fusion_impl, **TINY)
    model = BiGraphBody(cfg, graphs, body).train(train)
    images, joints = _inputs()
    ref = model(images, joints)  # warm-up: validates and caches the graphs
    with validation(False):
        install()
        try:
            out = model(images, joints)
            image_free = model(None, joints)
            lifted = model.lift(joints)
        finally:
            remove()
    assert hits == []
    if not train:  # BatchNorm statistics move in training mode
        assert torch.allclose(out.vertices, ref.vertices, atol=1e-5)
    assert image_free.vertices.shape == out.vertices.shape
    assert lifted.shape == (B, 12, 3)


def test_graph_checks_run_once_input_checks_follow_the_switch(
    graphs, body, trap
):
    install, remove, hits = trap
    model = BiGraphBody(
        BiGraphConfig.preset("cpu", **TINY), graphs, body
    ).eval()
    images, joints = _inputs()
    model(images, joints)
    assert validation_enabled()  # the default in eager mode
    install()
    try:  # validation on: the first per-sample value check syncs
        with pytest.raises(AssertionError, match="host sync"):
            model(images, joints)
    finally:
        remove()
    # ... and it is what catches bad joints; switched off, nothing checks.
    bad = joints.clone()
    bad[0, 3] = float("nan")
    with pytest.raises(ValueError, match="finite values in `joints_2d`"):
        model(images, bad)
    with validation(False):
        model(None, bad)  # no error: the caller vouches for the inputs
    assert validation_enabled()


def test_first_forward_checks_each_graph_once(graphs, body, monkeypatch):
    """Issue #26: the 9 convs share 3 graphs; each is value-checked once."""
    from bigraph_pyg.nn.conv import normalized_graph_conv as graph_cache

    checked = []
    real = graph_cache.check_edge_list

    def counted(graph, **kwargs):
        checked.append(graph.size)
        return real(graph, **kwargs)

    monkeypatch.setattr(graph_cache, "check_edge_list", counted)
    graph_cache._CHECKED.clear()  # the fixture's graphs, checked before
    model = BiGraphBody(BiGraphConfig.preset("cpu", **TINY), graphs, body)
    convs = [m for m in model.modules() if hasattr(m, "prepare_graph")]
    names = [n for n, _ in model.named_buffers() if n.endswith("edge_index")]
    images, joints = _inputs()
    model.eval()(images, joints)
    assert len(convs) == 9 and len(names) == 3
    assert len(checked) == 3  # mesh, skeleton, fusion: not once per conv
    model(images, joints)
    assert len(checked) == 3
    with torch.no_grad():  # an in-place edit is a new graph: checked again
        model.skeleton_edge_weight.mul_(2.0)
    model(images, joints)
    assert len(checked) == 4


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_forward_makes_no_cuda_sync(graphs, body):
    model = (
        BiGraphBody(BiGraphConfig.preset("cpu", **TINY), graphs, body)
        .cuda()
        .eval()
    )
    images, joints = _inputs("cuda")
    model(images, joints)  # warm-up: validates and caches the graphs
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        with validation(False):
            out = model(images, joints)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert torch.isfinite(out.vertices).all()

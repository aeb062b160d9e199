import pytest
import torch

from bigraph_pyg.losses import BiGraphLoss
from bigraph_pyg.models import (
    ABLATIONS,
    BiGraphBody,
    BiGraphConfig,
    BiGraphOutput,
    graph_cmr,
)
from bigraph_pyg.nn import BipartiteFusionConv
from bigraph_pyg.utils.sparse import row_normalize

B, J, S = 2, 12, 64  # batch, joints, image side
#: Tiny widths on top of the presets: fast on two CPU cores.
TINY = dict(
    input_channels=16,
    channels=16,
    head_channels=8,
    smpl_hidden_channels=16,
    image_size=S,
)


def _config(name, **overrides):
    kwargs = {**TINY, **overrides}
    if name == "cpu":
        return BiGraphConfig.preset("cpu", **kwargs)
    if name == "paper":  # ResNet-50 on 1723 vertices, tiny widths
        return BiGraphConfig.preset("paper", **kwargs)
    return BiGraphConfig.preset(name, base="cpu", **kwargs)


def _model(name, graphs, body, graphs_level1=None, **overrides):
    cfg = _config(name, **overrides)
    g = graphs_level1 if cfg.mesh_level == 1 else graphs
    return BiGraphBody(cfg, g, body)


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(B, 3, S, S, generator=g)
    joints = torch.rand(B, J, 2, generator=g) * (S - 8) + 4
    return images, joints


def _batch(n_vertices=6890):
    return dict(
        gt_vertices=torch.randn(B, n_vertices, 3) * 0.3,
        gt_joints_3d=torch.randn(B, J, 3) * 0.3,
        gt_joints_2d=torch.rand(B, J, 2) * 2 - 1,
        has_smpl=torch.tensor([True, False]),
        has_pose_3d=torch.tensor([True, True]),
        gt_rotmat=torch.eye(3).expand(B, 24, 3, 3),
        gt_betas=torch.zeros(B, 10),
    )


def _loss(model, out, batch):
    return BiGraphLoss.for_config(model.config).model_loss(out, batch)


def _fusion_convs(model):
    return [m for m in model.modules() if isinstance(m, BipartiteFusionConv)]


@pytest.mark.parametrize("name", ["paper", "cpu", *ABLATIONS])
def test_forward_backward_every_preset(name, graphs, graphs_level1, body):
    model = _model(name, graphs, body, graphs_level1)
    cfg = model.config
    n_m = 1723 if cfg.mesh_level == 1 else 431
    images, joints = _inputs()
    out = model(images, joints)
    assert isinstance(out, BiGraphOutput)
    assert out.vertices.shape == (B, 6890, 3)
    assert out.coarse_vertices.shape == (B, n_m, 3)
    assert out.mesh_joints.shape == (B, J, 3)
    assert out.camera.shape == (B, 3)
    assert out.rotmat.shape == (B, 24, 3, 3) and out.betas.shape == (B, 10)
    assert out.mesh_joints_2d.shape == (B, J, 2)
    if cfg.use_skeleton:
        assert out.skeleton_joints.shape == (B, J, 3)
        assert out.skeleton_joints_2d.shape == (B, J, 2)
    else:
        assert out.skeleton_joints is None and out.skeleton_joints_2d is None

    total, terms = _loss(model, out, _batch())
    assert torch.isfinite(total)
    assert ("skeleton_joints_3d" in terms) == cfg.use_skeleton
    assert {
        "vertices",
        "mesh_joints_3d",
        "mesh_joints_2d",
        "smpl_pose",
        "smpl_shape",
    } <= set(terms)
    total.backward()

    # Every parameter is trained by Eq. 6, W_f of every fusion conv included.
    no_grad = [
        n
        for n, p in model.named_parameters()
        if p.grad is None or not torch.isfinite(p.grad).all()
    ]
    assert no_grad == []
    convs = _fusion_convs(model)
    expected = (
        len(cfg.fusion_block_indices())
        if cfg.use_fusion and cfg.fusion == "graph"
        else 0
    )
    assert len(convs) == expected
    for conv in convs:
        assert conv.fusion_weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "name, mesh_sees_joints",
    [
        ("graphcmr", False),
        ("row_b", True),
        ("row_c", False),
        ("row_d", True),
        ("avgpool_fusion", True),
        ("fusion_at_last", True),
    ],
)
def test_fusion_carries_skeleton_input_to_mesh(
    name, mesh_sees_joints, graphs, body
):
    model = _model(name, graphs, body).eval()
    images, joints = _inputs()
    with torch.no_grad():
        ref = model(images, joints)
        moved = model(images, joints.flip(1))
    changed = not torch.allclose(ref.coarse_vertices, moved.coarse_vertices)
    assert changed == mesh_sees_joints
    if model.config.use_skeleton:
        assert not torch.allclose(ref.skeleton_joints, moved.skeleton_joints)


def test_graphcmr_ignores_joints(graphs, body):
    model = graph_cmr(graphs, body, base="cpu", **TINY).eval()
    assert model.skeleton_input is None and model.skeleton_head is None
    assert not hasattr(model, "skeleton_edge_index")
    assert not hasattr(model, "fusion_edge_index")
    images, joints = _inputs()
    with torch.no_grad():
        a = model(images)
        b = model(images, joints)
        c = model(images, torch.full((B, J, 2), float("nan")))
    torch.testing.assert_close(a.vertices, b.vertices)
    torch.testing.assert_close(a.vertices, c.vertices)
    torch.testing.assert_close(a.camera, c.camera)


def test_buffers_follow_dtype_and_state_dict(graphs, body):
    model = _model("cpu", graphs, body)
    keys = set(model.state_dict())
    for name in (
        "mesh_edge_index",
        "mesh_edge_weight",
        "skeleton_edge_index",
        "skeleton_edge_weight",
        "fusion_edge_index",
        "fusion_edge_weight",
        "template_vertices",
        "joint_regressor",
        "sampler.down_0_index",
        "sampler.up_0_weight",
        "sampler.up_1_weight",
    ):
        assert name in keys
    assert model.fusion_edge_index.shape == (2, 2 * J * 431)

    model = model.to(torch.float64).eval()
    assert model.template_vertices.dtype == torch.float64
    assert model.fusion_edge_weight.dtype == torch.float64
    assert model.sampler.up_1_weight.dtype == torch.float64
    assert model.mesh_edge_index.dtype == torch.int64
    images, joints = _inputs()
    out = model(images.double(), joints.double())
    assert out.vertices.dtype == torch.float64
    assert out.rotmat.dtype == torch.float64

    # Round trip into a differently initialised model: same predictions.
    with torch.no_grad():
        for conv in _fusion_convs(model):
            conv.fusion_weight.uniform_(0.5, 2.0)
        model.fusion_edge_weight.mul_(2.0)
    torch.manual_seed(1)
    other = _model("cpu", graphs, body).to(torch.float64).eval()
    other.load_state_dict(model.state_dict())
    torch.testing.assert_close(
        other.fusion_edge_weight, model.fusion_edge_weight
    )
    with torch.no_grad():
        a = model(images.double(), joints.double())
        b = other(images.double(), joints.double())
    torch.testing.assert_close(a.vertices, b.vertices)
    torch.testing.assert_close(a.skeleton_joints, b.skeleton_joints)


def test_fusion_adjacency(graphs, body):
    model = _model("cpu", graphs, body)
    assert model.fusion_block_indices() == (0, 1, 2)
    a_f = model.fusion_adjacency()
    ei = model.fusion_edge_index
    assert a_f.shape == (ei.size(1),)
    # Initially W_f = 1, so A_f = RowNorm(A_fs): rows (targets) sum to 1.
    torch.testing.assert_close(
        a_f, row_normalize(ei[1], model.fusion_edge_weight, 12 + 431)
    )
    with torch.no_grad():
        model.blocks[2].fusion_conv.fusion_weight[:5].mul_(3.0)
    assert torch.equal(model.fusion_adjacency(block=1), a_f)
    assert not torch.equal(model.fusion_adjacency(block=-1), a_f)
    sums = torch.zeros(12 + 431).index_add_(0, ei[1], model.fusion_adjacency(2))
    torch.testing.assert_close(sums, torch.ones(12 + 431))

    last = _model("fusion_at_last", graphs, body)
    assert last.fusion_block_indices() == (2,)
    with pytest.raises(ValueError, match=r"`block` in \[2\]"):
        last.fusion_adjacency(block=0)
    for name in ("row_c", "maxpool_fusion"):
        with pytest.raises(ValueError, match="fusion graph"):
            _model(name, graphs, body).fusion_adjacency()


def test_fusion_impls_agree(graphs, body):
    torch.manual_seed(3)
    auto = _model("cpu", graphs, body).eval()
    torch.manual_seed(3)
    dense = _model("cpu", graphs, body, fusion_impl="dense").eval()
    images, joints = _inputs()
    with torch.no_grad():
        a, b = auto(images, joints), dense(images, joints)
    torch.testing.assert_close(a.vertices, b.vertices, atol=1e-4, rtol=1e-4)


def test_parameter_counts(graphs, body):
    def count(model):
        return sum(p.numel() for p in model.parameters())

    models = {
        n: _model(n, graphs, body)
        for n in (
            "cpu",
            "graphcmr",
            "row_c",
            "avgpool_fusion",
            "fusion_at_first",
            "shared_weight",
        )
    }
    n = {k: count(m) for k, m in models.items()}
    full = models["cpu"]
    e_f = full.fusion_edge_index.size(1)
    fusion_blocks = [b.fusion for b in full.blocks]
    # Pooled fusion has the same layers minus W_f (one entry per edge).
    assert n["cpu"] - n["avgpool_fusion"] == len(fusion_blocks) * e_f
    # Fusion in one block instead of three.
    assert n["cpu"] - n["fusion_at_first"] == sum(
        count(f) for f in fusion_blocks[1:]
    )
    # No fusion at all, then no skeleton at all.
    assert n["cpu"] - n["row_c"] == sum(count(f) for f in fusion_blocks)
    skeleton = (
        count(full.skeleton_input)
        + count(full.skeleton_head)
        + count(full.pose_context)
        + sum(count(b.skeleton) for b in full.blocks)
        + full.skeleton_image_gate.numel()
    )
    assert n["row_c"] - n["graphcmr"] == skeleton
    # Shared weights drop the skeleton sub-blocks.
    assert n["cpu"] - n["shared_weight"] == sum(
        count(b.skeleton) for b in full.blocks
    )
    # Total = encoder + graph network + SMPL regressor.
    parts = (
        count(full.encoder)
        + count(full.smpl_regressor)
        + count(full.mesh_input)
        + count(full.skeleton_input)
        + count(full.pose_context)
        + count(full.blocks)
        + count(full.mesh_head)
        + count(full.skeleton_head)
        + count(full.camera_head)
        + full.mesh_image_gate.numel()
        + full.skeleton_image_gate.numel()
    )
    assert n["cpu"] == parts


def test_zero_bone_length_falls_back(graphs, body):
    model = _model("cpu", graphs, body).eval()
    images, _ = _inputs()
    joints = torch.full((B, J, 2), S / 2)  # all joints on one pixel
    with torch.no_grad():
        out = model(images, joints)
    assert torch.isfinite(out.vertices).all()
    assert torch.isfinite(out.skeleton_joints).all()


def test_input_errors(graphs, body):
    model = _model("cpu", graphs, body).eval()
    images, joints = _inputs()
    with pytest.raises(ValueError, match=r"\(B, 3, 64, 64\)"):
        model(torch.rand(B, 3, 32, 64), joints)
    with pytest.raises(ValueError, match=r"\(B, 3, 64, 64\)"):
        model(torch.rand(B, 1, 64, 64), joints)
    with pytest.raises(ValueError, match="float images"):
        model((images * 255).to(torch.uint8), joints)
    with pytest.raises(ValueError, match="got None"):
        model(images)
    with pytest.raises(ValueError, match=r"\(2, 12, 2\)"):
        model(images, joints[:, :10])
    bad = joints.clone()
    bad[1, 3, 0] = float("nan")
    with pytest.raises(ValueError, match="finite"):
        model(images, bad)
    bad = joints.clone()
    bad[0, 0, 1] = S + 5.0
    with pytest.raises(ValueError, match="inside the 64x64 image"):
        model(images, bad)
    lenient = _model("cpu", graphs, body, max_joint_outside=0.25).eval()
    with torch.no_grad():
        assert torch.isfinite(lenient(images, bad).vertices).all()


def test_construction_errors(graphs, graphs_level1, body):
    with pytest.raises(ValueError, match="mesh_level=1"):
        BiGraphBody(_config("paper"), graphs, body)
    with pytest.raises(ValueError, match="BiGraphConfig"):
        BiGraphBody({"channels": 16}, graphs, body)

    class SmallBody:
        num_vertices = 100

    with pytest.raises(ValueError, match="6890 vertices"):
        BiGraphBody(_config("cpu"), graphs, SmallBody())


def test_loss_inputs(graphs, body):
    model = _model("cpu", graphs, body)
    out = model(*_inputs())
    coarse = _batch(n_vertices=431)
    total, terms = _loss(model, out, coarse)
    assert torch.isfinite(total)
    smpl_free = {
        k: v for k, v in _batch().items() if k not in ("gt_rotmat", "gt_betas")
    }
    _, terms = _loss(model, out, smpl_free)
    assert "smpl_pose" not in terms
    with pytest.warns(UserWarning, match="gt_betas"):
        _loss(model, out, {**smpl_free, "gt_rotmat": _batch()["gt_rotmat"]})
    with pytest.raises(ValueError, match="missing \\['has_pose_3d'\\]"):
        _loss(
            model,
            out,
            {k: v for k, v in _batch().items() if k != "has_pose_3d"},
        )
    with pytest.raises(ValueError, match="gt_vertices"):
        _loss(model, out, _batch(n_vertices=1000))


def test_image_free_forward_is_the_gated_forward_at_zero(graphs, body):
    """With the image gates at 0 (their start), images change nothing: the
    image-free forward is the same model."""
    model = _model("cpu", graphs, body).eval()
    assert model.config.image_feature_gate
    images, joints = _inputs()
    with torch.no_grad():
        a = model(images, joints)
        b = model(None, joints)
    for name in ("vertices", "skeleton_joints", "camera", "rotmat"):
        torch.testing.assert_close(getattr(a, name), getattr(b, name))
    with torch.no_grad():
        model.skeleton_image_gate.fill_(1.0)
        model.mesh_image_gate.fill_(1.0)
        c = model(images, joints)
    assert not torch.allclose(c.skeleton_joints, b.skeleton_joints)
    assert not torch.allclose(c.vertices, b.vertices)


def test_lift_is_the_skeleton_branch_alone(graphs, body):
    """lift() = the image-free skeleton output of the same weights without
    fusion (row C), and it trains the weights forward() uses."""
    model = _model("row_c", graphs, body).eval()
    _, joints = _inputs(1)
    with torch.no_grad():
        torch.testing.assert_close(
            model.lift(joints), model(None, joints).skeleton_joints
        )
    full = _model("cpu", graphs, body)
    full.lift(joints).sum().backward()
    grads = {n for n, p in full.named_parameters() if p.grad is not None}
    assert any(n.startswith("blocks.0.skeleton.") for n in grads)
    assert "skeleton_input.weight" in grads
    assert not any(
        n.startswith(("encoder.", "mesh_input.", "blocks.0.mesh."))
        for n in grads
    )
    with pytest.raises(ValueError, match="skeleton branch"):
        _model("graphcmr", graphs, body).lift(joints)
    with pytest.raises(ValueError, match="needs 2D joints"):
        _model("graphcmr", graphs, body)(None, joints)


def test_pose_embedding_is_pelvis_relative_scale_free_and_named():
    from bigraph_pyg.models import pose_embedding

    g = torch.Generator().manual_seed(3)
    uv = torch.rand(2, J, 2, generator=g) * 0.8 - 0.4
    e = pose_embedding(uv, torch.eye(J))
    moved = pose_embedding(0.5 * uv + 0.2, torch.eye(J))
    torch.testing.assert_close(e[..., 2:4], moved[..., 2:4])
    torch.testing.assert_close(e[..., 4:], torch.eye(J).expand(2, J, J))
    rel = e[..., 2:4]
    torch.testing.assert_close(
        rel[:, [2, 3]].mean(1), torch.zeros(2, 2), atol=1e-6, rtol=0
    )
    torch.testing.assert_close(rel.flatten(1).std(1), torch.ones(2))


def test_pose_context_starts_as_the_paper_and_sees_the_whole_pose(graphs, body):
    """The context's output layer starts at 0: the same weights give the
    output of the model without it. Trained, every joint's context row
    depends on every 2D joint (one Skeleton-GCN block sees only neighbours)
    and not on where the pose is or how large it is in the crop."""
    from bigraph_pyg.models.node_inputs import scale_free_pose

    with_ctx = _model("cpu", graphs, body, pose_context_channels=32).eval()
    without = _model("cpu", graphs, body, pose_context_channels=0).eval()
    missing = without.load_state_dict(with_ctx.state_dict(), strict=False)
    assert missing.missing_keys == []
    assert {k.split(".")[0] for k in missing.unexpected_keys} == {
        "pose_context"
    }
    images, joints = _inputs(2)
    with torch.no_grad():
        a, b = with_ctx(images, joints), without(images, joints)
    torch.testing.assert_close(a.skeleton_joints, b.skeleton_joints)
    torch.testing.assert_close(a.vertices, b.vertices)

    ctx = with_ctx.pose_context
    torch.nn.init.normal_(ctx.out.weight)
    uv = torch.rand(B, J, 2, generator=torch.Generator().manual_seed(4))
    moved = uv.clone()
    moved[:, 0] += 0.05  # one joint moves
    with torch.no_grad():
        c = ctx(scale_free_pose(uv))
        d = ctx(scale_free_pose(moved))
        e = ctx(scale_free_pose(0.5 * uv + 0.3))
        out = with_ctx(images, joints)
    assert c.shape == (B, J, with_ctx.config.input_channels)
    assert ((c - d).abs().amax(-1) > 1e-4).all()  # every row changes
    torch.testing.assert_close(c, e, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(out.skeleton_joints, b.skeleton_joints)


def test_forward_compiles_as_one_graph(graphs, body):
    """#15: a BiGraphBody forward traces with zero graph breaks (the
    products are custom operators, the sampler holds plain tensors), and
    the traced graph computes the eager outputs."""
    model = _model("cpu", graphs, body, pose_context_channels=32).eval()
    images, joints = _inputs(5)
    with torch.no_grad():
        eager = model(images, joints)
        explained = torch._dynamo.explain(model)(images, joints)
        traced = torch.compile(model, backend="eager", fullgraph=True)(
            images, joints
        )
    assert explained.graph_break_count == 0, explained.break_reasons
    for name in ("vertices", "skeleton_joints", "camera", "rotmat"):
        torch.testing.assert_close(getattr(traced, name), getattr(eager, name))


def test_output_float_casts_autocast_predictions(graphs, body):
    model = _model("cpu", graphs, body).eval()
    with torch.no_grad():
        out = model(*_inputs())
        assert out.float() is out  # float32 already: no copy
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(*_inputs())
    assert low.vertices.dtype == torch.bfloat16
    cast = low.float()
    for name in ("vertices", "mesh_joints", "skeleton_joints", "camera"):
        assert getattr(cast, name).dtype == torch.float32
        torch.testing.assert_close(
            getattr(cast, name), getattr(low, name).float()
        )


def test_forward_names_dtype_empty_batch_single_training_sample_and_meta(
    graphs, body
):
    """Each is a ValueError naming what was expected and what came, not
    torch's "expected scalar type Double", an empty-batch message that
    contradicted itself, BatchNorm's "more than 1 value per channel", or
    "Tensor on device meta is not on the expected device"."""
    model = _model("cpu", graphs, body).eval()
    images, joints = _inputs()
    with pytest.raises(ValueError, match=r"`images` of the model's dtype "):
        model(images.double(), joints)
    with pytest.raises(ValueError, match=r"one sample in `images` \(got an "):
        model(images[:0], joints[:0])
    with pytest.raises(ValueError, match=r"one sample in `joints_2d` \(got"):
        model(None, joints[:0])
    model.train()
    for args in ((images[:1], joints[:1]), (None, joints[:1])):
        with pytest.raises(ValueError, match=r"at least 2 samples .*\(got 1\)"):
            model(*args)
    model(images, joints)  # two samples train
    model.eval()
    with torch.no_grad():
        assert model(images[:1], joints[:1]).vertices.shape[0] == 1
    with pytest.raises(ValueError, match=r"`images` on the model's device"):
        model(images.to("meta"), joints)
    model.to("meta")
    with pytest.raises(ValueError, match=r"on the meta device"):
        model(images, joints)

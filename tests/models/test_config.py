import dataclasses

import pytest

from bigraph_pyg.losses import LOSS_ABLATIONS, BiGraphLoss, LossWeights
from bigraph_pyg.models import (
    ABLATIONS,
    PRESETS,
    BiGraphConfig,
    graph_cmr_config,
    list_presets,
)
from bigraph_pyg.models.config import MOVED_FIELDS


def test_list_presets():
    names = list_presets()
    assert names[:2] == ["paper", "cpu"]
    assert set(names) == set(PRESETS) | set(ABLATIONS)
    for name in (
        "graphcmr",
        "row_b",
        "row_c",
        "row_d",
        "avgpool_fusion",
        "maxpool_fusion",
        "fusion_at_first",
        "fusion_at_last",
        "shared_weight",
    ):
        assert name in ABLATIONS
    # "no FL" changes the loss, not the model.
    assert "no_focal" not in ABLATIONS
    assert LOSS_ABLATIONS["no_focal"] == {"use_focal": False}


def test_paper_preset_is_the_paper():
    cfg = BiGraphConfig.preset("paper")
    assert cfg == BiGraphConfig()
    assert cfg.encoder == "resnet50" and cfg.image_size == (224, 224)
    assert cfg.mesh_level == 1 and cfg.num_blocks == 5
    assert cfg.input_channels == 512 and cfg.block_hidden_channels == 256
    assert cfg.use_skeleton and cfg.use_fusion and cfg.use_local_features
    assert cfg.fusion == "graph" and cfg.fusion_block_indices() == tuple(
        range(5)
    )
    assert BiGraphConfig.preset("row_d") == cfg


def test_ablations_change_only_their_fields():
    paper = dataclasses.asdict(BiGraphConfig.preset("paper"))
    for name, delta in ABLATIONS.items():
        cfg = dataclasses.asdict(BiGraphConfig.preset(name))
        changed = {k for k in paper if paper[k] != cfg[k]}
        assert changed == {k for k, v in delta.items() if paper[k] != v}


def test_ablations_on_cpu_base():
    cfg = BiGraphConfig.preset("fusion_at_first", base="cpu", num_blocks=4)
    assert cfg.encoder == "resnet18" and cfg.mesh_level == 2
    assert cfg.fusion_block_indices() == (0,)
    assert cfg.replace(fusion_blocks="last").fusion_block_indices() == (3,)
    gcmr = graph_cmr_config("cpu")
    assert not (gcmr.use_skeleton or gcmr.use_fusion or gcmr.use_local_features)
    assert gcmr.fusion_block_indices() == ()


def test_config_is_frozen_and_normalised():
    cfg = BiGraphConfig(image_size=96)
    assert cfg.image_size == (96, 96)
    assert BiGraphConfig(image_size=[64, 96]).image_size == (64, 96)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.channels = 3  # type: ignore[misc]
    assert hash(cfg) == hash(BiGraphConfig(image_size=(96, 96)))
    assert cfg.to_dict()["image_size"] == (96, 96)


def test_loss_weights_for_a_config():
    # The architecture holds no loss setting; the criterion takes the
    # training's weights and switches off what the model lacks.
    assert "use_focal" not in BiGraphConfig().to_dict()
    assert BiGraphLoss.for_config(BiGraphConfig()).weights == LossWeights()
    no_fl = LossWeights(**LOSS_ABLATIONS["no_focal"])
    assert not BiGraphLoss.for_config(BiGraphConfig(), no_fl).weights.use_focal
    w = BiGraphLoss.for_config(
        BiGraphConfig.preset("graphcmr"), LossWeights(focal=2.0)
    ).weights
    assert w.skeleton_joints_3d == 0 and w.skeleton_joints_2d == 0
    assert not w.use_focal and w.focal == 2.0
    with pytest.raises(ValueError, match="`weights` to be a LossWeights"):
        BiGraphLoss.for_config(BiGraphConfig(), {"use_focal": False})


def test_from_dict_drops_moved_fields_and_refuses_unknown_ones():
    # A checkpoint of an older version stored use_focal in the config.
    old = {**BiGraphConfig.preset("cpu").to_dict(), "use_focal": False}
    assert BiGraphConfig.from_dict(old) == BiGraphConfig.preset("cpu")
    assert "use_focal" in MOVED_FIELDS
    with pytest.raises(ValueError, match="unknown \\['width'\\]"):
        BiGraphConfig.from_dict({**old, "width": 3})
    with pytest.raises(ValueError, match="`use_focal` is now .*LossWeights"):
        BiGraphConfig.preset("cpu", use_focal=False)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(use_skeleton=False), "use_fusion"),
        (dict(use_skeleton=False, use_fusion=False), "use_local_features"),
        (
            dict(
                use_skeleton=False,
                use_fusion=False,
                use_local_features=False,
                shared_weights=True,
            ),
            "shared_weights",
        ),
        (dict(use_fusion=False, fusion="maxpool"), "fusion"),
        (dict(use_fusion=False, fusion_blocks="last"), "fusion_blocks"),
        (dict(fusion="attention"), "fusion"),
        (dict(fusion_blocks="middle"), "fusion_blocks"),
        (dict(encoder="vgg16"), "encoder"),
        (dict(smpl_rotation="axis_angle"), "smpl_rotation"),
        (dict(fusion_impl="fast"), "fusion_impl"),
        (dict(channels=0), "channels"),
        (dict(num_blocks=2.5), "num_blocks"),
        (dict(hidden_channels=-1), "hidden_channels"),
        (dict(mesh_level=-1), "mesh_level"),
        (dict(image_size=(224,)), "image_size"),
        (dict(image_size=16), "image_size"),
        (dict(use_skeleton=1), "use_skeleton"),
        (dict(max_joint_outside=2.0), "max_joint_outside"),
        (dict(num_blocks=1, fusion_blocks="last"), "num_blocks"),
        (dict(pose_context_channels=-1), "pose_context_channels"),
        (
            dict(
                use_skeleton=False,
                use_fusion=False,
                use_local_features=False,
                pose_context_channels=8,
            ),
            "pose_context_channels",
        ),
    ],
)
def test_invalid_configs_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=f"`{field}`"):
        BiGraphConfig(**kwargs)


def test_preset_errors():
    with pytest.raises(ValueError, match="`name`"):
        BiGraphConfig.preset("metro")
    with pytest.raises(ValueError, match="`base`"):
        BiGraphConfig.preset("cpu", base="paper")
    with pytest.raises(ValueError, match="`base`"):
        BiGraphConfig.preset("row_b", base="row_c")
    with pytest.raises(ValueError, match="unknown \\['chanels'\\]"):
        BiGraphConfig.preset("paper", chanels=3)
    with pytest.raises(ValueError, match="unknown"):
        BiGraphConfig().replace(blocks=3)
    # An override that contradicts the ablation is caught.
    with pytest.raises(ValueError, match="`fusion`"):
        BiGraphConfig.preset("row_c", fusion="avgpool")

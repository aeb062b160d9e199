r"""One frozen, validated description of a bilayer-graph model.

:class:`BiGraphConfig` holds every architectural choice of
:class:`~bigraph_pyg.models.BiGraphBody`; presets (defined in
``bigraph_pyg.models.presets``) give the paper's model (``"paper"``), a small
model for CPUs (``"cpu"``) and the ablations of the paper's Tables 4 and 5
(``"graphcmr"``, ``"row_b"``, ..., ``"shared_weight"``), each a set of
field overrides on a base preset. The mesh-only GraphCMR
baseline is a configuration of the same model, not another model. Loss
settings are not architecture: Table 5's "no FL" is a
:class:`~bigraph_pyg.losses.LossWeights` (``LOSS_ABLATIONS["no_focal"]``).

Example:
    >>> cfg = BiGraphConfig.preset("fusion_at_last", base="cpu")
    >>> cfg.fusion_blocks, cfg.fusion_block_indices()
    ('last', (2,))
    >>> BiGraphConfig.preset("graphcmr").use_skeleton
    False
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from bigraph_pyg.models.presets import ABLATIONS, PRESETS, list_presets
from bigraph_pyg.nn.blocks import FUSIONS
from bigraph_pyg.nn.conv.bipartite_fusion_conv import FUSION_IMPLS
from bigraph_pyg.nn.encoders import STAGE_CHANNELS as ENCODER_STAGE_CHANNELS
from bigraph_pyg.utils._checks import (
    check_non_negative_int,
    check_positive_int,
)

__all__ = ["BiGraphConfig"]

# The choice lists of the layers they configure (one owner each); a model
# with a fusion always has one, so the blocks' "none" is not a choice here.
_ENCODERS = tuple(ENCODER_STAGE_CHANNELS)
_FUSIONS = tuple(f for f in FUSIONS if f != "none")
_FUSION_BLOCKS = ("all", "first", "last")
_ROTATIONS = ("6d",)
_IMPLS = FUSION_IMPLS
_EMBEDDINGS = ("crop", "pose")


@dataclass(frozen=True)
class BiGraphConfig:
    r"""Architecture of a :class:`~bigraph_pyg.models.BiGraphBody`.

    Defaults are the paper's model (Sec. 4, 5.2; Table 4 row D).

    Attributes:
        encoder (str): ResNet trunk, ``"resnet50"`` (paper, Sec. 4.2),
            ``"resnet34"`` or ``"resnet18"``.
        image_size (tuple[int, int]): Input ``(H, W)``; an int means square.
            (default: ``(224, 224)``)
        mesh_level (int): Level of the mesh hierarchy the Mesh-GCN runs on
            (``0`` = full 6890, ``1`` = 1723, ``2`` = 431 vertices); must
            match the :class:`~bigraph_pyg.topology.BodyGraphs`.
        input_channels (int): :math:`d_0` of Eqs. 3 and 4, the width of the
            shared input linear layers ("typically 512"). (default: ``512``)
        channels (int): Width of the Bilayer-Graph blocks. (default: ``512``)
        hidden_channels (int or None): Middle width of every sub-block
            (``None``: ``channels // 2`` = 256, GraphCMR's bottleneck).
        head_channels (int): Width of the first layer of the xyz heads
            (GraphCMR's shape head narrows 512 -> 64). (default: ``64``)
        num_blocks (int): Stacked Bilayer-Graph blocks. (default: ``5``)
        use_skeleton (bool): Skeleton graph branch (Table 4 column 1).
        use_fusion (bool): Fusion between the branches (Table 4 column 2).
        use_local_features (bool): RoI-Align joint features of Eq. 4 as the
            skeleton input (Table 4 column 3); otherwise the skeleton input
            is the 2D joint position with the global image feature.
        fusion (str): ``"graph"`` (Eq. 5), ``"avgpool"`` or ``"maxpool"``
            (Table 5, "\*-as-fusion").
        fusion_blocks (str): Blocks with a fusion sub-block: ``"all"``,
            ``"first"`` or ``"last"`` (Table 5, "fusion-at-first/last").
        shared_weights (bool): One sub-block for both the skeleton and the
            mesh branch in every block (Table 5, "shared weight").
        smpl_rotation (str): SMPL rotation parametrisation of the SMPL
            regressor; only ``"6d"``.
        smpl_hidden_channels (int): Width of the SMPL regressor MLP.
            (default: ``1024``, GraphCMR)
        roi_size (int): RoI Align output side per joint and stage.
            (default: ``1``)
        channels_per_group (int): GroupNorm group size (GraphCMR: 8).
        fusion_impl (str): ``impl`` of
            :class:`~bigraph_pyg.nn.BipartiteFusionConv`: ``"auto"``,
            ``"sparse"``, ``"message"``, ``"dense"`` or ``"blocks"`` (the
            last where the layer supports it). (default: ``"auto"``)
        joint_embedding (str): The positional embedding of a skeleton node
            in Eq. 4: ``"crop"``, the estimated 2D joint in crop units (the
            paper's), or ``"pose"``, that plus the pelvis-relative,
            scale-free 2D joint and the one-hot joint identity
            (:func:`~bigraph_pyg.models.node_inputs.pose_embedding`; the
            ``cpu`` preset's: it lifts faster, see ``docs/training.md``).
            (default: ``"crop"``)
        image_feature_gate (bool): Multiply the image features of the
            mesh input (Eq. 3) and of the skeleton input (Eq. 4) each by a
            learned scalar that starts at 0 (ReZero-style): at the start a
            node's input is its template position or joint embedding alone
            — as in the image-free lifting samples — and the image features
            enter as far as they help. Without it (the
            paper's), the features of an encoder trained from scratch on a
            few thousand images add noise that undoes the lifting (measured
            in ``docs/training.md``; the ``cpu`` preset's). (default:
            :obj:`False`)
        pose_context_channels (int): Width of a global pose context: an
            MLP over the whole pelvis-relative, scale-free 2D pose whose
            output, one :math:`d_0`-vector per joint, is added to each
            skeleton node's input :math:`\mathbf{F}_s^0` (Eq. 4). A node of
            the paper's Skeleton-GCN sees only its graph neighbourhood, a
            few hops after a few blocks, while lifting a joint needs the
            whole pose; this gives every node what a lifting MLP knows, and
            the Skeleton-GCN refines it. ``0``: off (the paper's).
            (default: ``0``)
        max_joint_outside (float): How far (fraction of the image side) an
            input 2D joint may lie outside the image before it is an error.
            (default: ``0.0``: joints must be inside)

    Raises:
        ValueError: (from ``__init__``) a value of the wrong type or range,
            an unknown name, or incompatible fields; the message names the
            field.
    """

    encoder: str = "resnet50"
    image_size: Any = (224, 224)
    mesh_level: int = 1
    input_channels: int = 512
    channels: int = 512
    hidden_channels: int | None = None
    head_channels: int = 64
    num_blocks: int = 5
    use_skeleton: bool = True
    use_fusion: bool = True
    use_local_features: bool = True
    fusion: str = "graph"
    fusion_blocks: str = "all"
    shared_weights: bool = False
    smpl_rotation: str = "6d"
    smpl_hidden_channels: int = 1024
    roi_size: int = 1
    channels_per_group: int = 8
    fusion_impl: str = "auto"
    joint_embedding: str = "crop"
    image_feature_gate: bool = False
    pose_context_channels: int = 0
    max_joint_outside: float = field(default=0.0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_size", _image_size(self.image_size))
        _check_choices(self)
        _check_sizes(self)
        _check_flags(self)
        _check_compatible(self)

    # -- derived values -------------------------------------------------------

    @property
    def block_hidden_channels(self) -> int:
        """Middle width of the sub-blocks (``channels // 2`` if unset)."""
        if self.hidden_channels is not None:
            return self.hidden_channels
        return max(1, self.channels // 2)

    def fusion_block_indices(self) -> tuple[int, ...]:
        """Indices of the blocks that have a fusion sub-block."""
        if not self.use_fusion:
            return ()
        if self.fusion_blocks == "first":
            return (0,)
        if self.fusion_blocks == "last":
            return (self.num_blocks - 1,)
        return tuple(range(self.num_blocks))

    def replace(self, **overrides: Any) -> BiGraphConfig:
        """A copy with some fields changed (validated again)."""
        _check_fields(overrides)
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (e.g. to save with a checkpoint)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, fields: dict[str, Any]) -> BiGraphConfig:
        """The config of :meth:`to_dict`'s ``fields`` (e.g. a checkpoint's).

        Fields that older versions stored and this one moved elsewhere
        (:data:`MOVED_FIELDS`) are dropped; any other unknown field is
        refused.

        Args:
            fields (dict): Field name to value.

        Returns:
            BiGraphConfig: the validated config.

        Raises:
            ValueError: an unknown field or an invalid value.
        """
        kept = {k: v for k, v in fields.items() if k not in MOVED_FIELDS}
        _check_fields(kept)
        return cls(**kept)

    # -- presets --------------------------------------------------------------

    @classmethod
    def preset(
        cls, name: str, base: str | None = None, **overrides: Any
    ) -> BiGraphConfig:
        """A named model: a preset, or an ablation on a base preset.

        Args:
            name (str): One of :func:`list_presets` (``"paper"``, ``"cpu"``,
                ``"graphcmr"``, ``"row_b"``, ...).
            base (str, optional): The preset an ablation modifies.
                (default: ``"paper"``; must be :obj:`None` for a preset)
            **overrides: Field values applied last.

        Returns:
            BiGraphConfig: the validated configuration.

        Raises:
            ValueError: an unknown name or field, a ``base`` for a preset,
                or invalid values.
        """
        if name in PRESETS:
            if base is not None:
                raise ValueError(
                    f"Expected `base`=None for the preset {name!r} (got "
                    f"{base!r}; bases apply to ablations {tuple(ABLATIONS)})"
                )
            fields = dict(PRESETS[name])
        elif name in ABLATIONS:
            base = "paper" if base is None else base
            if base not in PRESETS:
                raise ValueError(
                    f"Expected `base` in {tuple(PRESETS)} (got {base!r})"
                )
            fields = {**PRESETS[base], **ABLATIONS[name]}
        else:
            raise ValueError(
                f"Expected `name` in {list_presets()} (got {name!r})"
            )
        _check_fields(overrides)
        fields.update(overrides)
        return cls(**fields)


def _image_size(value: object) -> tuple[int, int]:
    """``image_size`` as ``(H, W)``: an int means square; both ``>= 32``."""
    size = value
    if isinstance(size, int) and not isinstance(size, bool):
        size = (size, size)
    if (
        not isinstance(size, (tuple, list))
        or len(size) != 2
        or any(
            isinstance(s, bool) or not isinstance(s, int) or s < 32
            for s in size
        )
    ):
        raise ValueError(
            "Expected `image_size` to be an int or (H, W) ints >= 32 "
            f"(got {value!r})"
        )
    return tuple(size)


def _check_choices(config: BiGraphConfig) -> None:
    """Refuse a name outside its choice list (encoder, fusion, ...)."""
    for name, choices in (
        ("encoder", _ENCODERS),
        ("fusion", _FUSIONS),
        ("fusion_blocks", _FUSION_BLOCKS),
        ("smpl_rotation", _ROTATIONS),
        ("fusion_impl", _IMPLS),
        ("joint_embedding", _EMBEDDINGS),
    ):
        value = getattr(config, name)
        if value not in choices:
            raise ValueError(f"Expected `{name}` in {choices} (got {value!r})")


def _check_sizes(config: BiGraphConfig) -> None:
    """Refuse widths, counts and levels that are not ints in range.

    Also refuses a pose context without the skeleton graph it feeds.
    """
    for name in (
        "input_channels",
        "channels",
        "head_channels",
        "num_blocks",
        "smpl_hidden_channels",
        "roi_size",
        "channels_per_group",
    ):
        check_positive_int(name, getattr(config, name))
    check_non_negative_int("mesh_level", config.mesh_level)
    check_non_negative_int(
        "pose_context_channels", config.pose_context_channels
    )
    if config.pose_context_channels and not config.use_skeleton:
        raise ValueError(
            "Expected `pose_context_channels`=0 when use_skeleton=False "
            f"(got {config.pose_context_channels}: the pose context feeds "
            "the skeleton graph)"
        )
    if config.hidden_channels is not None:
        check_positive_int("hidden_channels", config.hidden_channels)


#: Fields of older configs that now live elsewhere: dropped by
#: :meth:`BiGraphConfig.from_dict` (name -> new home).
MOVED_FIELDS = {"use_focal": "bigraph_pyg.losses.LossWeights.use_focal"}


def _check_flags(config: BiGraphConfig) -> None:
    """Refuse non-bool switches and ``max_joint_outside`` outside [0, 1]."""
    for name in (
        "use_skeleton",
        "use_fusion",
        "use_local_features",
        "shared_weights",
        "image_feature_gate",
    ):
        if not isinstance(getattr(config, name), bool):
            raise ValueError(
                f"Expected a bool for `{name}` (got {getattr(config, name)!r})"
            )
    if (
        isinstance(config.max_joint_outside, bool)
        or not isinstance(config.max_joint_outside, (int, float))
        or not 0 <= config.max_joint_outside <= 1
    ):
        raise ValueError(
            "Expected `max_joint_outside` in [0, 1] "
            f"(got {config.max_joint_outside!r})"
        )


def _check_compatible(config: BiGraphConfig) -> None:
    """Refuse fields that ask for a branch or a fusion the model lacks."""
    if not config.use_skeleton:
        for name in ("use_fusion", "use_local_features", "shared_weights"):
            if getattr(config, name):
                raise ValueError(
                    f"Expected `{name}`=False when use_skeleton=False "
                    f"(got {name}=True, which needs the skeleton graph)"
                )
    if not config.use_fusion:
        for name, default in (
            ("fusion", "graph"),
            ("fusion_blocks", "all"),
        ):
            if getattr(config, name) != default:
                raise ValueError(
                    f"Expected `{name}`={default!r} (the default) when "
                    f"use_fusion=False (got {getattr(config, name)!r}, "
                    "which asks for a fusion)"
                )
    if (
        config.use_fusion
        and config.fusion_blocks != "all"
        and config.num_blocks < 2
    ):
        raise ValueError(
            f"Expected `num_blocks` >= 2 for fusion_blocks="
            f"{config.fusion_blocks!r} (got {config.num_blocks}: first and "
            "last are the same block)"
        )


def _check_fields(overrides: dict[str, Any]) -> None:
    known = {f.name for f in dataclasses.fields(BiGraphConfig)}
    unknown = sorted(set(overrides) - known)
    moved = [
        f"`{k}` is now {MOVED_FIELDS[k]}" for k in unknown if k in MOVED_FIELDS
    ]
    if unknown:
        raise ValueError(
            f"Expected BiGraphConfig fields {sorted(known)} "
            f"(got unknown {unknown})" + "".join(f"; {m}" for m in moved)
        )

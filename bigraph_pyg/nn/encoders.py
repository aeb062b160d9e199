r"""Image encoder (paper Sec. 4.2) and RoI joint features (Eq. 4).

:class:`ResNetEncoder` wraps a torchvision ResNet and returns the global
average-pooled feature (the :math:`\mathbf{x}^g_{im}` of Eq. 3) together with
the stage feature maps :math:`\{\mathbf{x}^{k}_{im}\}` (layer1..layer4).
:func:`roi_joint_features` pools those maps around each 2D joint with
RoI Align, the :math:`\mathbf{RoI}(\cdot)` of Eq. 4; :func:`joint_box_size`
gives the box side, the image's average 2D bone length.

Weights are random unless asked for: nothing is downloaded at construction
except when a torchvision weights enum (or its name) is passed explicitly.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor, nn

try:
    from torchvision import models
    from torchvision.models import WeightsEnum
    from torchvision.ops import roi_align
except ModuleNotFoundError as _err:  # an optional dependency: name its extra
    raise ModuleNotFoundError(
        "Expected torchvision for the image encoder (got ModuleNotFoundError:"
        f" {_err}); install it with: pip install 'bigraph_pyg[train]'",
        name=_err.name,
    ) from _err

from bigraph_pyg.nn.validate import check_joints_in_image, validation_enabled  # noqa: E402

__all__ = [
    "EncoderOutput",
    "RESNET_STRIDES",
    "ResNetEncoder",
    "joint_box_size",
    "roi_joint_features",
]

#: Output strides of ResNet layer1..layer4 with respect to the input image.
RESNET_STRIDES: tuple[int, ...] = (4, 8, 16, 32)

#: Channels of layer1..layer4 per architecture (the encoders one can build).
STAGE_CHANNELS: dict[str, tuple[int, ...]] = {
    "resnet18": (64, 128, 256, 512),
    "resnet34": (64, 128, 256, 512),
    "resnet50": (256, 512, 1024, 2048),
}

_WEIGHT_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".tar")

WeightsArg = WeightsEnum | str | os.PathLike | None


class EncoderOutput(NamedTuple):
    """Output of :class:`ResNetEncoder`.

    Attributes:
        global_feature (Tensor): Average-pooled layer4 feature ``(B, C)``,
            ``C = 2048`` (ResNet-50) or ``512`` (ResNet-18/34).
        feature_maps (list[Tensor]): layer1..layer4 outputs, each
            ``(B, C_k, ceil(H / s_k), ceil(W / s_k))``.
        strides (tuple[int, ...]): ``s_k`` of each map, ``(4, 8, 16, 32)``.
    """

    global_feature: Tensor
    feature_maps: list[Tensor]
    strides: tuple[int, ...]


def _resolve_enum(arch: str, weights: WeightsEnum | str) -> WeightsEnum | None:
    """Map an enum or enum name to the arch's weights enum, else None."""
    enum_cls = models.get_model_weights(arch)
    if isinstance(weights, WeightsEnum):
        if not isinstance(weights, enum_cls):
            raise ValueError(
                f"Expected a {enum_cls.__name__} member for `weights` of "
                f"{arch!r} (got {weights!r})"
            )
        return weights
    name = weights.split(".", 1)[1] if "." in weights else weights
    prefix = weights.split(".", 1)[0] if "." in weights else enum_cls.__name__
    if prefix == enum_cls.__name__ and name in enum_cls.__members__:
        return enum_cls[name]
    return None


def _load_state_dict(path: Path) -> dict[str, Tensor]:
    if not path.is_file():
        raise FileNotFoundError(
            f"Expected a state-dict file for `weights` (got {str(path)!r}, "
            "which does not exist). Pass None for random weights, a local "
            "file saved with torch.save(model.state_dict(), path), or a "
            "torchvision weights enum/name such as 'IMAGENET1K_V1' (that one "
            "downloads)."
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # unpickling errors have many types
        raise ValueError(
            f"Expected a torch state dict in `weights` file {str(path)!r} "
            f"(could not load it: {err})"
        ) from err
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(
            f"Expected a dict of tensors in `weights` file {str(path)!r} "
            f"(got {type(state).__name__})"
        )
    return state


class ResNetEncoder(nn.Module):
    r"""ResNet trunk returning the global feature and stage maps (Sec. 4.2).

    .. math::
        \{\mathbf{x}^{(k)}_{im}\}_{k=1}^{4},\ \mathbf{x}^g_{im}
        = \mathcal{F}_{im}(\mathbf{I})

    The classifier (``fc``) is dropped; the module keeps torchvision's
    attribute names (``conv1``, ``bn1``, ``layer1``..``layer4``), so
    torchvision ResNet state dicts load directly (their ``fc.*`` entries are
    ignored).

    Args:
        arch (str, optional): ``'resnet50'`` (the paper), ``'resnet34'`` or
            ``'resnet18'``. (default: ``'resnet50'``)
        weights (optional): Initial weights. (default: :obj:`None`)

            - :obj:`None`: random initialisation, no file access.
            - a torchvision weights enum member of the arch (e.g.
              ``ResNet50_Weights.IMAGENET1K_V2``) or its name (``'DEFAULT'``,
              ``'IMAGENET1K_V1'``, ``'ResNet50_Weights.IMAGENET1K_V2'``):
              **downloads** into the torch hub cache on first use, which needs
              internet access.
            - a path (``str`` or :class:`os.PathLike`) to a local state dict
              (torchvision's or this encoder's, optionally under a
              ``'state_dict'`` key), loaded strictly.

    Shapes:
        - **input:** images :math:`(B, 3, H, W)`, float, normalised as the
          weights expect (ImageNet mean/std for torchvision's).
        - **output:** :class:`EncoderOutput` with ``global_feature``
          :math:`(B, C)` and four maps
          :math:`(B, C_k, \lceil H/s_k \rceil, \lceil W/s_k \rceil)`.

    Raises:
        ValueError: unknown ``arch``, enum of another arch, a state dict that
            does not match the architecture (names the file and the keys).
        FileNotFoundError: a ``weights`` path that does not exist.

    Example:
        >>> enc = ResNetEncoder("resnet18").eval()
        >>> out = enc(torch.randn(1, 3, 64, 96))
        >>> out.global_feature.shape, [tuple(f.shape[-2:]) for f in out.feature_maps]
        (torch.Size([1, 512]), [(16, 24), (8, 12), (4, 6), (2, 3)])
    """  # noqa: E501

    def __init__(self, arch: str = "resnet50", weights: WeightsArg = None):
        super().__init__()
        if arch not in STAGE_CHANNELS:
            raise ValueError(
                f"Expected `arch` in {tuple(STAGE_CHANNELS)} (got {arch!r})"
            )
        self.arch = arch
        self.stage_channels = STAGE_CHANNELS[arch]
        self.out_channels = self.stage_channels[-1]
        self.strides = RESNET_STRIDES

        enum = None
        path = None
        if isinstance(weights, WeightsEnum | str):
            enum = _resolve_enum(arch, weights)
        if weights is not None and enum is None:
            if not isinstance(weights, str | os.PathLike):
                raise ValueError(
                    "Expected None, a torchvision weights enum, its name or a "
                    f"file path for `weights` (got {type(weights).__name__})"
                )
            path = Path(weights)
        self.weights = str(enum) if enum is not None else path

        net = getattr(models, arch)(weights=enum)
        self.conv1, self.bn1 = net.conv1, net.bn1
        self.relu, self.maxpool = net.relu, net.maxpool
        self.layer1, self.layer2 = net.layer1, net.layer2
        self.layer3, self.layer4 = net.layer3, net.layer4
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        if path is not None:
            self._load_file(path)

    def _load_file(self, path: Path) -> None:
        state = _load_state_dict(path)
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
        try:
            self.load_state_dict(state, strict=True)
        except RuntimeError as err:
            own = self.state_dict()
            missing = sorted(set(own) - set(state))[:5]
            unexpected = sorted(set(state) - set(own))[:5]
            raise ValueError(
                f"Expected a {self.arch} state dict in `weights` file "
                f"{str(path)!r} (missing keys {missing}, unexpected keys "
                f"{unexpected}; {str(err).splitlines()[-1].strip()})"
            ) from err

    def forward(self, images: Tensor) -> EncoderOutput:
        """Encode a batch of images; see the class docstring for shapes."""
        if (
            not isinstance(images, Tensor)
            or images.dim() != 4
            or images.shape[1] != 3
            or not images.is_floating_point()
        ):
            raise ValueError(
                "Expected float images of shape (B, 3, H, W) for `images` "
                f"(got {getattr(images, 'dtype', type(images).__name__)} "
                f"{tuple(getattr(images, 'shape', ()))})"
            )
        x = self.maxpool(self.relu(self.bn1(self.conv1(images))))
        maps = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            maps.append(x)
        global_feature = self.avgpool(x).flatten(1)
        return EncoderOutput(global_feature, maps, self.strides)

    def extra_repr(self) -> str:
        """Show the architecture and the weights source."""
        return f"arch={self.arch!r}, weights={self.weights!r}"


def _image_hw(image_size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    size = tuple(image_size)
    if len(size) != 2 or any(not isinstance(s, int) or s <= 0 for s in size):
        raise ValueError(
            "Expected positive ints (H, W) for `image_size` "
            f"(got {image_size!r})"
        )
    return size  # type: ignore[return-value]


def _check_joints(joints_2d: Tensor) -> None:
    if (
        not isinstance(joints_2d, Tensor)
        or joints_2d.dim() != 3
        or joints_2d.shape[-1] != 2
    ):
        raise ValueError(
            "Expected shape (B, J, 2) for `joints_2d` "
            f"(got {tuple(getattr(joints_2d, 'shape', ()))})"
        )


def joint_box_size(
    joints_2d: Tensor,
    bones: Tensor | Sequence[tuple[int, int]],
    image_size: int | Sequence[int],
    fallback_fraction: float = 0.1,
) -> Tensor:
    r"""Side of the RoI boxes: the image's average 2D bone length (Sec. 4.3.2).

    .. math::
        b = \frac{1}{|\mathcal{E}|} \sum_{(i, j) \in \mathcal{E}}
        \| \hat{\mathbf{s}}_i - \hat{\mathbf{s}}_j \|_2

    **Fallback:** where :math:`b` is not a positive finite number (all joints
    collapsed, or NaN joints), the side is
    ``fallback_fraction * min(H, W)`` instead, so no NaN or empty box ever
    reaches RoI Align.

    Args:
        joints_2d (Tensor): 2D joints in pixels ``(B, J, 2)``, ``(x, y)``.
        bones (Tensor or sequence of pairs): Joint index pairs ``(E, 2)``
            (e.g. the skeleton's bones).
        image_size (int or (int, int)): ``(H, W)`` of the input image.
        fallback_fraction (float, optional): Fallback side as a fraction of
            the shorter image side. (default: ``0.1``)

    Returns:
        Tensor: Box sides in pixels, ``(B,)``.

    Example:
        >>> j = torch.tensor([[[0., 0.], [3., 4.], [3., 10.]]])
        >>> joint_box_size(j, [(0, 1), (1, 2)], (224, 224))
        tensor([5.5000])
        >>> joint_box_size(torch.zeros(1, 3, 2), [(0, 1)], (100, 200))
        tensor([10.])
    """
    _check_joints(joints_2d)
    height, width = _image_hw(image_size)
    if not 0 < fallback_fraction <= 1:
        raise ValueError(
            f"Expected `fallback_fraction` in (0, 1] (got {fallback_fraction})"
        )
    bones = torch.as_tensor(bones, dtype=torch.long, device=joints_2d.device)
    num_joints = joints_2d.shape[1]
    if (
        bones.dim() != 2
        or bones.shape[1] != 2
        or bones.shape[0] == 0
        or (
            validation_enabled()
            and bool((bones.min() < 0) | (bones.max() >= num_joints))
        )
    ):
        raise ValueError(
            f"Expected `bones` of shape (E, 2) with indices in [0, "
            f"{num_joints}) (got {bones.tolist()})"
        )
    lengths = (joints_2d[:, bones[:, 0]] - joints_2d[:, bones[:, 1]]).norm(
        dim=-1
    )
    size = lengths.mean(dim=-1)
    fallback = torch.full_like(size, fallback_fraction * min(height, width))
    ok = torch.isfinite(size) & (size > 0)
    return torch.where(ok, size, fallback)


def roi_joint_features(
    feature_maps: Sequence[Tensor],
    joints_2d: Tensor,
    image_size: int | Sequence[int],
    box_size: Tensor | float,
    output_size: int | tuple[int, int] = 1,
    strides: Sequence[int] = RESNET_STRIDES,
    sampling_ratio: int = -1,
    max_outside: float = 1.0,
) -> Tensor:
    r"""Pool multi-scale features around each 2D joint (RoI part of Eq. 4).

    .. math::
        \mathbf{RoI}(\hat{\mathbf{s}}_i, \mathbf{x}^1_{im}, \dots,
        \mathbf{x}^K_{im}) = \bigoplus_{k=1}^{K}
        \mathrm{RoIAlign}\bigl(\mathbf{x}^k_{im},
        \mathrm{box}(\hat{\mathbf{s}}_i, b)\bigr)

    For every joint a square box of side :math:`b` (``box_size``, usually
    :func:`joint_box_size`) is centred at :math:`\hat{\mathbf{s}}_i`, pooled
    from each map with :func:`torchvision.ops.roi_align` (``aligned=True``,
    ``spatial_scale = 1 / stride``) and the results are flattened and
    concatenated over the maps.

    Coordinates are continuous pixels of the input image: ``x`` to the
    right, ``y`` down, pixel ``(row, col)`` covering
    ``[col, col + 1) x [row, row + 1)`` (centre at ``+0.5``). Normalised
    ``[-1, 1]`` crop coordinates map to pixels as ``(u + 1) / 2 * W``.
    The features are not differentiable with respect to ``joints_2d``
    (RoI Align has no box gradient); they are with respect to the maps.

    Args:
        feature_maps (sequence of Tensor): Maps ``(B, C_k, H_k, W_k)`` with
            ``H_k = ceil(H / s_k)``, ``W_k = ceil(W / s_k)``, e.g.
            ``EncoderOutput.feature_maps``.
        joints_2d (Tensor): Joint centres in pixels ``(B, J, 2)``, ``(x, y)``.
        image_size (int or (int, int)): ``(H, W)`` of the encoder's input.
        box_size (Tensor or float): Box side in pixels, ``(B,)`` or scalar,
            positive and finite.
        output_size (int or (int, int), optional): RoI Align output
            ``(h, w)``. (default: ``1``)
        strides (sequence of int, optional): Stride ``s_k`` of each map.
            (default: :data:`RESNET_STRIDES`)
        sampling_ratio (int, optional): Samples per bin, ``-1`` adaptive.
            (default: ``-1``)
        max_outside (float, optional): Joints may lie outside the image by
            at most this fraction of its width/height (people are often
            cropped); further away is an error. (default: ``1.0``)

    Returns:
        Tensor: ``(B, J, sum_k C_k * h * w)``.

    Raises:
        ValueError: NaN/inf joints, joints further than ``max_outside``
            outside the image, a map whose size does not match
            ``image_size``/``strides``, batch mismatches, bad ``box_size``.

    Example:
        >>> maps = [torch.ones(1, 8, 16, 16), torch.ones(1, 4, 8, 8)]
        >>> j = torch.tensor([[[20.0, 30.0], [40.0, 10.0]]])
        >>> roi_joint_features(maps, j, (64, 64), 8.0, strides=(4, 8)).shape
        torch.Size([1, 2, 12])
    """
    _check_joints(joints_2d)
    height, width = _image_hw(image_size)
    maps = list(feature_maps)
    strides = tuple(int(s) for s in strides)
    if len(maps) == 0 or len(maps) != len(strides):
        raise ValueError(
            f"Expected one stride per feature map (got {len(maps)} maps and "
            f"strides {strides})"
        )
    batch, num_joints = joints_2d.shape[:2]
    for k, (fmap, stride) in enumerate(zip(maps, strides, strict=True)):
        expected = (math.ceil(height / stride), math.ceil(width / stride))
        if (
            not isinstance(fmap, Tensor)
            or fmap.dim() != 4
            or fmap.shape[0] != batch
            or tuple(fmap.shape[-2:]) != expected
        ):
            raise ValueError(
                f"Expected feature map {k} of shape ({batch}, C, "
                f"{expected[0]}, {expected[1]}) for image size "
                f"{(height, width)} and stride {stride} (got "
                f"{tuple(getattr(fmap, 'shape', ()))})"
            )
    if validation_enabled():  # value checks: host syncs
        check_joints_in_image(
            joints_2d,
            height,
            width,
            max_outside,
            "replace missing detections before pooling",
        )
    box = torch.as_tensor(box_size, device=joints_2d.device)
    box = box.to(joints_2d.dtype).expand(batch) if box.dim() == 0 else box
    if box.shape != (batch,) or (
        validation_enabled()
        and not bool((torch.isfinite(box) & (box > 0)).all())
    ):
        raise ValueError(
            f"Expected positive finite `box_size`, a float or ({batch},) "
            f"(got {box_size!r})"
        )

    centres = joints_2d.detach().reshape(batch * num_joints, 2)
    half = (box.detach().to(centres.dtype) / 2).repeat_interleave(num_joints)
    index = torch.arange(batch, device=centres.device, dtype=centres.dtype)
    index = index.repeat_interleave(num_joints)
    rois = torch.stack(
        (
            index,
            centres[:, 0] - half,
            centres[:, 1] - half,
            centres[:, 0] + half,
            centres[:, 1] + half,
        ),
        dim=1,
    )
    pooled = []
    for fmap, stride in zip(maps, strides, strict=True):
        feats = roi_align(
            fmap,
            rois.to(fmap.dtype),
            output_size,
            spatial_scale=1.0 / stride,
            sampling_ratio=sampling_ratio,
            aligned=True,
        )
        pooled.append(feats.reshape(batch, num_joints, -1))
    return torch.cat(pooled, dim=-1)

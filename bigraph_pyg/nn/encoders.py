r"""Image encoder (paper Sec. 4.2).

:class:`ResNetEncoder` wraps a torchvision ResNet and returns the global
average-pooled feature (the :math:`\mathbf{x}^g_{im}` of Eq. 3) together with
the stage feature maps :math:`\{\mathbf{x}^{k}_{im}\}` (layer1..layer4).
:func:`~bigraph_pyg.nn.roi_features.roi_joint_features` pools those maps
around each 2D joint (Eq. 4).

Weights are random unless asked for: nothing is downloaded at construction
except when a torchvision weights enum (or its name) is passed explicitly.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor, nn

try:
    from torchvision import models
    from torchvision.models import WeightsEnum
except ModuleNotFoundError as _err:  # an optional dependency: name its extra
    raise ModuleNotFoundError(
        "Expected torchvision for the image encoder (got ModuleNotFoundError:"
        f" {_err}); install it with: pip install 'bigraph_pyg[train]'",
        name=_err.name,
    ) from _err

__all__ = [
    "EncoderOutput",
    "RESNET_STRIDES",
    "ResNetEncoder",
]

#: Output strides of ResNet layer1..layer4 with respect to the input image.
RESNET_STRIDES: tuple[int, ...] = (4, 8, 16, 32)

#: Channels of layer1..layer4 per architecture (the encoders one can build).
STAGE_CHANNELS: dict[str, tuple[int, ...]] = {
    "resnet18": (64, 128, 256, 512),
    "resnet34": (64, 128, 256, 512),
    "resnet50": (256, 512, 1024, 2048),
}


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
        from bigraph_pyg.utils.io import torch_load_reason

        raise ValueError(
            f"Expected a torch state dict in `weights` file {str(path)!r} "
            f"(got {torch_load_reason(err)})"
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

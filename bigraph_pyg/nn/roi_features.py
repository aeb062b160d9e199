r"""RoI joint features of the skeleton input (paper Eq. 4).

:func:`roi_joint_features` pools the encoder's stage maps
(:class:`~bigraph_pyg.nn.encoders.ResNetEncoder`) around each 2D joint with
RoI Align, the :math:`\mathbf{RoI}(\cdot)` of Eq. 4; :func:`joint_box_size`
gives the box side, the image's average 2D bone length.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

try:
    from torchvision.ops import roi_align
except ModuleNotFoundError as _err:  # an optional dependency: name its extra
    raise ModuleNotFoundError(
        "Expected torchvision for the RoI joint features (got "
        f"ModuleNotFoundError: {_err}); install it with: pip install "
        "'bigraph_pyg[train]'",
        name=_err.name,
    ) from _err

from bigraph_pyg.nn.encoders import RESNET_STRIDES  # noqa: E402
from bigraph_pyg.nn.validate import check_joints_in_image, validation_enabled  # noqa: E402

__all__ = ["joint_box_size", "roi_joint_features"]


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
    maps, strides, box = _check_roi_inputs(
        feature_maps, joints_2d, image_size, box_size, strides, max_outside
    )
    return _pool_joint_boxes(
        maps, strides, joints_2d, box, output_size, sampling_ratio
    )


def _check_roi_inputs(
    feature_maps: Sequence[Tensor],
    joints_2d: Tensor,
    image_size: int | Sequence[int],
    box_size: Tensor | float,
    strides: Sequence[int],
    max_outside: float,
) -> tuple[list[Tensor], tuple[int, ...], Tensor]:
    """Check the inputs of :func:`roi_joint_features`.

    Returns:
        tuple: the maps as a list, the strides as ints, and the box sides
        ``(B,)`` (a scalar ``box_size`` expanded to the batch).
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
    batch = joints_2d.shape[0]
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
    return maps, strides, box


def _pool_joint_boxes(
    maps: list[Tensor],
    strides: tuple[int, ...],
    joints_2d: Tensor,
    box: Tensor,
    output_size: int | tuple[int, int],
    sampling_ratio: int,
) -> Tensor:
    """RoI Align of a box of side ``box[b]`` around every joint, every map.

    Returns:
        Tensor: ``(B, J, sum_k C_k * h * w)``.
    """
    batch, num_joints = joints_2d.shape[:2]
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

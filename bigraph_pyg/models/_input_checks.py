"""Checks of :class:`~bigraph_pyg.models.BiGraphBody`'s arguments.

The parts a model is built from (config, graphs, body) and the metadata of
its per-sample inputs (images, 2D joints: shapes and dtypes, no host sync).
The value checks of the 2D joints
(:func:`~bigraph_pyg.nn.validate.check_joints_in_image`) run in the model,
while validation is enabled.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from bigraph_pyg.models.config import BiGraphConfig
from bigraph_pyg.topology import JOINT_NAMES, BodyGraphs


def check_config_and_graphs(config: object, graphs: object) -> None:
    """Refuse a config or graphs of another type, level or joint count.

    Raises:
        ValueError: naming the argument, what was expected and what came.
    """
    if not isinstance(config, BiGraphConfig):
        raise ValueError(
            "Expected a BiGraphConfig for `config` "
            f"(got {type(config).__name__})"
        )
    if not isinstance(graphs, BodyGraphs):
        raise ValueError(
            f"Expected a BodyGraphs for `graphs` (got {type(graphs).__name__})"
        )
    if graphs.level != config.mesh_level:
        raise ValueError(
            f"Expected graphs at config.mesh_level={config.mesh_level} "
            f"(got graphs.level={graphs.level}; build them with "
            f"BodyGraphs.from_body(body, level={config.mesh_level}))"
        )
    num_joints = len(JOINT_NAMES)
    if graphs.num_joints != num_joints:
        raise ValueError(
            f"Expected graphs with {num_joints} joints "
            f"(got {graphs.num_joints})"
        )


def resolve_body(body, num_vertices: int | None = None):
    """``body``, or the default body for :obj:`None`.

    Args:
        body (BodyModel, optional): The body.
        num_vertices (int, optional): The vertices it must have (the
            graphs' finest level). (default: not checked)

    Raises:
        ValueError: a body with another vertex count.
    """
    if body is None:
        from bigraph_pyg.body import default_body

        body = default_body()
    if num_vertices is not None and body.num_vertices != num_vertices:
        raise ValueError(
            f"Expected a body with {num_vertices} vertices, "
            f"as the graphs' finest level (got {body.num_vertices})"
        )
    return body


def check_images(
    images: object, image_size: tuple[int, int], like: Tensor
) -> Tensor:
    """Refuse anything but float images ``(B, 3, H, W)``, ``B > 0``.

    Args:
        images (object): The model's ``images``.
        image_size (tuple[int, int]): ``config.image_size``.
        like (Tensor): A model buffer: the device and dtype expected
            (:func:`check_placement`).

    Raises:
        ValueError: naming ``images``, the expected shape and what came;
            an empty batch, another device or dtype named as such.
    """
    h, w = image_size
    if (
        not isinstance(images, Tensor)
        or images.dim() != 4
        or images.shape[1] != 3
        or tuple(images.shape[2:]) != (h, w)
        or not images.is_floating_point()
    ):
        raise ValueError(
            f"Expected float images of shape (B, 3, {h}, {w}) for "
            "`images` (config.image_size) (got "
            f"{getattr(images, 'dtype', type(images).__name__)} "
            f"{tuple(getattr(images, 'shape', ()))})"
        )
    check_placement("images", images, like)
    return images


def check_placement(name: str, x: Tensor, like: Tensor) -> None:
    """Refuse an empty batch, or an input on another device or dtype.

    Under autocast any float dtype is taken (autocast casts it).

    Args:
        name (str): The argument, for the message.
        x (Tensor): The input, batch first.
        like (Tensor): A model buffer: the model's device and float dtype.

    Raises:
        ValueError: ``x`` holds no sample, the model is on the meta device
            (no weights), or ``x`` is on another device, or of another
            dtype outside autocast.
    """
    if x.shape[0] == 0:
        raise ValueError(
            f"Expected at least one sample in `{name}` (got an empty batch "
            f"of shape {tuple(x.shape)})"
        )
    if like.device.type == "meta":
        raise ValueError(
            "Expected a model with weights on a real device (got its "
            "tensors on the meta device, which holds no values); build it "
            "on the CPU, or use model.to_empty(device=...) then "
            "load_state_dict()"
        )
    if x.device != like.device:
        raise ValueError(
            f"Expected `{name}` on the model's device {like.device} (got "
            f"{x.device}); move one of them with .to()"
        )
    if x.dtype != like.dtype and not torch.is_autocast_enabled(
        like.device.type
    ):
        raise ValueError(
            f"Expected `{name}` of the model's dtype {like.dtype} (got "
            f"{x.dtype}); cast the input (.to({like.dtype})) or the model"
        )


def check_train_batch(model: nn.Module, batch: int) -> None:
    """Refuse a training-mode forward of one sample through BatchNorm.

    BatchNorm normalises over the batch: in training mode one sample has
    no variance (torch stops with "Expected more than 1 value per
    channel").

    Args:
        model (nn.Module): The model (its modes are read).
        batch (int): :math:`B`.

    Raises:
        ValueError: ``model.training``, ``batch == 1`` and a BatchNorm
            layer in training mode.
    """
    if not model.training or batch != 1:
        return
    norms = [
        name
        for name, m in model.named_modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training
    ]
    if norms:
        raise ValueError(
            "Expected at least 2 samples in a training-mode forward (got 1):"
            f" BatchNorm ({norms[0]}) normalises over the batch; call "
            "model.eval() to predict one sample"
        )


def check_joints_2d(
    joints_2d: object, batch: int | None, num_joints: int
) -> Tensor:
    """Refuse missing 2D joints or joints not of float shape ``(B, J, 2)``.

    Args:
        joints_2d (object): The model's ``joints_2d``.
        batch (int, optional): ``B`` of the images; :obj:`None` for an
            image-free forward, where the joints set the batch.
        num_joints (int): :math:`J`.

    Raises:
        ValueError: naming ``joints_2d``, the expected shape and what came.
    """
    if batch is None:  # image-free forward: the joints set the batch
        batch = getattr(joints_2d, "shape", (0,))[0]
    if joints_2d is None:
        raise ValueError(
            f"Expected `joints_2d` of shape ({batch}, {num_joints}, "
            "2) in pixels: this config uses the skeleton graph (got "
            "None; use the 'graphcmr' preset for a model without it)"
        )
    if (
        not isinstance(joints_2d, Tensor)
        or tuple(joints_2d.shape) != (batch, num_joints, 2)
        or not joints_2d.is_floating_point()
    ):
        raise ValueError(
            f"Expected float `joints_2d` of shape ({batch}, "
            f"{num_joints}, 2) in pixels (got "
            f"{getattr(joints_2d, 'dtype', type(joints_2d).__name__)} "
            f"{tuple(getattr(joints_2d, 'shape', ()))})"
        )
    return joints_2d


def check_fusion_block(
    block: object,
    fused: tuple[int, ...],
    num_blocks: int,
    config: BiGraphConfig,
) -> int:
    """The index in ``[0, num_blocks)`` of a block with a fusion graph.

    Args:
        block (object): A block index (negative counts from the end);
            :obj:`None` for the first of ``fused``.
        fused (tuple[int, ...]): The blocks with a fusion graph.
        num_blocks (int): The blocks of the model.
        config (BiGraphConfig): The model's (named in the error).

    Raises:
        ValueError: the model has no fusion graph, or ``block`` is not one
            of ``fused``.
    """
    if not fused:
        raise ValueError(
            "Expected a model with a fusion graph (got use_fusion="
            f"{config.use_fusion}, fusion={config.fusion!r})"
        )
    n = num_blocks
    if block is None:
        block = fused[0]
    if (
        isinstance(block, bool)
        or not isinstance(block, int)
        or not -n <= block < n
        or block % n not in fused
    ):
        raise ValueError(
            f"Expected `block` in {list(fused)} (the blocks "
            f"with a fusion graph) (got {block!r})"
        )
    return block % n

r"""The weak-perspective camera ``(s, tx, ty)`` of GraphCMR (3D to 2D)."""

from __future__ import annotations

from torch import Tensor

from bigraph_pyg.geometry._checks import check_last_dims

__all__ = ["weak_perspective_projection"]


def weak_perspective_projection(points: Tensor, camera: Tensor) -> Tensor:
    r"""Project 3D points with a weak-perspective camera ``(s, tx, ty)``.

    GraphCMR's ``orthographic_projection`` convention
    (``nkolot/GraphCMR: models/geometric_layers.py``): translate **then**
    scale, and drop depth:

    .. math::
        \mathbf{x}_{2d} = s \, (\mathbf{X}_{xy} + \mathbf{t})

    With GraphCMR's data pipeline the result is in normalised image
    coordinates (``[-1, 1]`` across the crop), the units the 2D keypoint
    targets use; ``s`` is dimensionless per metre.

    Args:
        points (Tensor): 3D points, shape ``(..., N, 3)``.
        camera (Tensor): Cameras ``(s, tx, ty)``, shape ``(..., 3)`` with the
            same leading dimensions as ``points`` (e.g. ``(B, 3)`` for
            ``(B, N, 3)`` points).

    Returns:
        Tensor: 2D points, shape ``(..., N, 2)``.

    Example:
        >>> import torch
        >>> X = torch.tensor([[[1., 2., 5.]]])
        >>> weak_perspective_projection(X, torch.tensor([[2., .5, -1.]]))
        tensor([[[3., 2.]]])
    """
    check_last_dims(points, "points", (3,))
    check_last_dims(camera, "camera", (3,))
    if points.dim() < 2 or camera.shape[:-1] != points.shape[:-2]:
        raise ValueError(
            "Expected `camera` of shape (*batch, 3) matching `points` "
            f"(*batch, N, 3) (got {tuple(camera.shape)} and "
            f"{tuple(points.shape)})"
        )
    scale = camera[..., None, :1]
    trans = camera[..., None, 1:]
    return scale * (points[..., :2] + trans)

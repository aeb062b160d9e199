r"""Aligning point sets: root centring and batched Procrustes (PA-MPJPE).

:func:`center_joints` subtracts a root made of named joints (GraphCMR's
pelvis); :func:`batched_procrustes` solves for the least-squares similarity
transform (Umeyama, 1991) and :func:`procrustes_align` applies it.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from bigraph_pyg.geometry._checks import check_last_dims

__all__ = [
    "SimilarityTransform",
    "batched_procrustes",
    "center_joints",
    "procrustes_align",
]


def center_joints(
    joints: Tensor, root_indices: int | tuple[int, ...]
) -> Tensor:
    r"""Subtract the root, the mean of the joints ``root_indices``.

    With ``root_indices = (right_hip, left_hip)`` this is GraphCMR's
    pelvis centring (the pelvis taken as the mid-point of the hips).

    Args:
        joints (Tensor): Points, shape ``(..., J, D)``.
        root_indices (int or tuple of int): Joint(s) whose mean is the root.

    Returns:
        Tensor: ``joints - root``, shape ``(..., J, D)``.

    Example:
        >>> j = torch.tensor([[0., 0.], [2., 0.], [4., 2.]])
        >>> center_joints(j, (0, 1)).tolist()
        [[-1.0, 0.0], [1.0, 0.0], [3.0, 2.0]]
    """
    if joints.dim() < 2:
        raise ValueError(
            "Expected shape (..., J, D) for `joints` "
            f"(got {tuple(joints.shape)})"
        )
    idx = (root_indices,) if isinstance(root_indices, int) else root_indices
    idx = tuple(int(i) for i in idx)
    num_joints = joints.shape[-2]
    if len(idx) == 0 or any(not -num_joints <= i < num_joints for i in idx):
        raise ValueError(
            f"Expected `root_indices` in [0, {num_joints}) "
            f"(got {root_indices!r})"
        )
    # Integer views (a list index is copied from the host: a GPU sync).
    root = torch.stack([joints[..., i, :] for i in idx], -2).mean(
        dim=-2, keepdim=True
    )
    return joints - root


class SimilarityTransform(NamedTuple):
    """Batched similarity ``y = scale * x @ rotation.T + translation``.

    Attributes:
        scale (Tensor): Scale factors, shape ``(B,)``.
        rotation (Tensor): Proper rotations (``det = +1``), ``(B, 3, 3)``.
        translation (Tensor): Translations, shape ``(B, 3)``.
    """

    scale: Tensor
    rotation: Tensor
    translation: Tensor

    def apply(self, points: Tensor) -> Tensor:
        """Transform points of shape ``(B, N, 3)``."""
        rotated = points @ self.rotation.transpose(-1, -2)
        return self.scale[:, None, None] * rotated + self.translation[:, None]


def _normalized_weights(
    source: Tensor, target: Tensor, weights: Tensor | None, eps: float
) -> Tensor:
    """Check Procrustes' inputs; return weights ``(B, N)`` summing to 1."""
    check_last_dims(source, "source", (3,))
    check_last_dims(target, "target", (3,))
    if source.dim() != 3 or source.shape != target.shape:
        raise ValueError(
            "Expected `source` and `target` of the same shape (B, N, 3) "
            f"(got {tuple(source.shape)} and {tuple(target.shape)})"
        )
    if weights is None:
        weights = torch.ones(
            source.shape[:2], dtype=source.dtype, device=source.device
        )
    elif weights.shape != source.shape[:2]:
        raise ValueError(
            f"Expected shape {tuple(source.shape[:2])} for `weights` "
            f"(got {tuple(weights.shape)})"
        )
    w = weights.to(source.dtype)
    return w / w.sum(dim=1, keepdim=True).clamp_min(eps)


def _proper_rotation(cov: Tensor) -> tuple[Tensor, Tensor]:
    r"""Umeyama's rotation of a covariance ``(B, 3, 3)``, with no reflection.

    With the SVD :math:`\mathrm{cov} = U \Sigma V^\top` and
    :math:`D = \mathrm{diag}(1, 1, \mathrm{sign}\det(UV^\top))`, returns
    :math:`R = U D V^\top` ``(B, 3, 3)`` and :math:`\mathrm{tr}(\Sigma D)`
    ``(B,)``, the numerator of the optimal scale.
    """
    u, sigma, vh = torch.linalg.svd(cov)
    det = torch.linalg.det(u @ vh)
    d = torch.ones_like(sigma)
    d[:, 2] = torch.where(det < 0, -1.0, 1.0).to(sigma.dtype)
    rotation = u @ (d[..., None] * vh)
    return rotation, (sigma * d).sum(-1)


def batched_procrustes(
    source: Tensor,
    target: Tensor,
    weights: Tensor | None = None,
    eps: float = 1e-12,
) -> SimilarityTransform:
    r"""Least-squares similarity transform from ``source`` to ``target``.

    Umeyama (1991): solves, per batch element,

    .. math::
        \min_{s, R, \mathbf{t}} \sum_i w_i
        \| s R \mathbf{x}_i + \mathbf{t} - \mathbf{y}_i \|^2,
        \quad R \in SO(3)

    With weighted centroids :math:`\mu_x, \mu_y`, centred points
    :math:`\tilde{X}, \tilde{Y}`, the SVD
    :math:`\tilde{Y}^\top W \tilde{X} = U \Sigma V^\top` and the reflection
    fix :math:`D = \mathrm{diag}(1, 1, \mathrm{sign}\det(UV^\top))`:
    :math:`R = U D V^\top`,
    :math:`s = \mathrm{tr}(\Sigma D) / \sum_i w_i \|\tilde{\mathbf{x}}_i\|^2`,
    :math:`\mathbf{t} = \mu_y - s R \mu_x`. ``R`` is always a proper
    rotation, even when ``target`` is a mirrored copy of ``source``.

    Degenerate inputs never give NaN: if all (weighted) source points
    coincide, ``scale = 0`` and everything maps onto the target centroid
    (the least-squares optimum); ``R`` is then an arbitrary rotation. Zero
    total weight in a sample gives the identity-like solution with zero
    scale. Gradients through the SVD are undefined when singular values
    repeat (e.g. those degenerate cases); use this for evaluation or on
    generic data when differentiating.

    Args:
        source (Tensor): Points to align, shape ``(B, N, 3)``.
        target (Tensor): Reference points, shape ``(B, N, 3)``.
        weights (Tensor, optional): Non-negative per-point weights ``(B, N)``
            (e.g. a joint visibility mask). (default: all ones)
        eps (float, optional): Clamp for the source variance.
            (default: ``1e-12``)

    Returns:
        SimilarityTransform: ``scale (B,)``, ``rotation (B, 3, 3)``,
        ``translation (B, 3)`` with ``target ≈ T.apply(source)``.

    Example:
        >>> x = torch.randn(2, 8, 3)
        >>> T = batched_procrustes(x, 2 * x + 1)
        >>> torch.allclose(T.apply(x), 2 * x + 1, atol=1e-4)
        True
    """
    w = _normalized_weights(source, target, weights, eps)  # (B, N)
    w3 = w[..., None]
    mu_x = (w3 * source).sum(dim=1)  # (B, 3)
    mu_y = (w3 * target).sum(dim=1)
    x0 = source - mu_x[:, None]
    y0 = target - mu_y[:, None]
    var_x = (w * (x0 * x0).sum(-1)).sum(-1)  # (B,)
    cov = (w3 * y0).transpose(1, 2) @ x0  # (B, 3, 3) = Y0^T W X0
    rotation, trace = _proper_rotation(cov)
    scale = trace / var_x.clamp_min(eps)
    translation = mu_y - scale[:, None] * (rotation @ mu_x[..., None])[..., 0]
    return SimilarityTransform(scale, rotation, translation)


def procrustes_align(
    source: Tensor, target: Tensor, weights: Tensor | None = None
) -> Tensor:
    r"""Align ``source`` to ``target`` by the best similarity transform.

    The rigid alignment of PA-MPJPE ("reconstruction error"); see
    :func:`batched_procrustes` for the maths and degenerate cases.

    Args:
        source (Tensor): Points to align, shape ``(B, N, 3)``.
        target (Tensor): Reference points, shape ``(B, N, 3)``.
        weights (Tensor, optional): Per-point weights ``(B, N)``.

    Returns:
        Tensor: Aligned source ``s * source @ R.T + t``, shape ``(B, N, 3)``.

    Example:
        >>> x = torch.randn(1, 5, 3)
        >>> torch.allclose(procrustes_align(3 * x - 2, x), x, atol=1e-4)
        True
    """
    return batched_procrustes(source, target, weights).apply(source)

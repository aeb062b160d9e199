r"""Rotations, weak-perspective projection and batched Procrustes.

Pure functions on tensors with arbitrary leading batch dimensions; every new
tensor takes its ``device`` and ``dtype`` from the inputs.

Conventions (used across the package):

- Rotation matrices act on column vectors, ``x' = R @ x``; a point cloud
  ``(..., N, 3)`` is rotated as ``points @ R.transpose(-1, -2)``.
- The 6D rotation representation is the one of Zhou et al. (CVPR 2019) as
  implemented in SPIN (``nkolot/SPIN: utils/geometry.py``): the first two
  **columns** of ``R``, stored interleaved row-major, i.e.
  ``rot6d = R[..., :, :2].reshape(..., 6)``.
- Axis-angle vectors are ``angle * unit_axis`` with angle in radians.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "SimilarityTransform",
    "axis_angle_to_matrix",
    "batched_procrustes",
    "center_joints",
    "matrix_to_axis_angle",
    "matrix_to_rot6d",
    "procrustes_align",
    "rot6d_to_matrix",
    "weak_perspective_projection",
]

# Below this squared angle (rad^2) Taylor series replace sin(t)/t etc.
_SMALL_ANGLE_SQ = 1e-6


def _check_last_dims(x: Tensor, name: str, shape: tuple[int, ...]) -> None:
    if not isinstance(x, Tensor):
        raise ValueError(
            f"Expected a tensor for `{name}` (got {type(x).__name__})"
        )
    n = len(shape)
    if x.dim() < n or tuple(x.shape[-n:]) != shape:
        want = ", ".join(["..."] + [str(s) for s in shape])
        raise ValueError(
            f"Expected shape ({want}) for `{name}` (got {tuple(x.shape)})"
        )


def rot6d_to_matrix(x: Tensor) -> Tensor:
    r"""Map the 6D rotation representation to rotation matrices.

    Gram-Schmidt orthonormalisation of Zhou et al. (CVPR 2019), as used by
    GraphCMR/SPIN. With the 6 numbers read as a :math:`3 \times 2` matrix
    :math:`[\mathbf{a}_1, \mathbf{a}_2]` (row-major):

    .. math::
        \mathbf{b}_1 = \frac{\mathbf{a}_1}{\|\mathbf{a}_1\|},\quad
        \mathbf{b}_2 = \frac{\mathbf{a}_2 - (\mathbf{b}_1 \cdot \mathbf{a}_2)
        \mathbf{b}_1}{\|\cdot\|},\quad
        \mathbf{b}_3 = \mathbf{b}_1 \times \mathbf{b}_2,\quad
        R = [\mathbf{b}_1, \mathbf{b}_2, \mathbf{b}_3]

    Norms are clamped (``F.normalize``), so a zero input gives a finite
    (degenerate) matrix rather than NaN.

    Args:
        x (Tensor): 6D representation, shape ``(..., 6)``.

    Returns:
        Tensor: Rotation matrices, shape ``(..., 3, 3)``, ``det = +1``.

    Example:
        >>> R = rot6d_to_matrix(torch.tensor([1., 0., 0., 1., 0., 0.]))
        >>> torch.allclose(R, torch.eye(3))
        True
    """
    _check_last_dims(x, "x", (6,))
    m = x.reshape(*x.shape[:-1], 3, 2)
    a1, a2 = m[..., 0], m[..., 1]
    b1 = F.normalize(a1, dim=-1)
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack((b1, b2, b3), dim=-1)


def matrix_to_rot6d(matrix: Tensor) -> Tensor:
    r"""Inverse of :func:`rot6d_to_matrix`: the first two columns of ``R``.

    Args:
        matrix (Tensor): Rotation matrices, shape ``(..., 3, 3)``.

    Returns:
        Tensor: 6D representation ``R[..., :, :2]`` flattened, ``(..., 6)``.

    Example:
        >>> matrix_to_rot6d(torch.eye(3)).tolist()
        [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
    """
    _check_last_dims(matrix, "matrix", (3, 3))
    return matrix[..., :, :2].reshape(*matrix.shape[:-2], 6)


def _skew(v: Tensor) -> Tensor:
    """Cross-product matrix ``[v]_x`` of ``(..., 3)`` → ``(..., 3, 3)``."""
    x, y, z = v.unbind(-1)
    zero = torch.zeros_like(x)
    return torch.stack((zero, -z, y, z, zero, -x, -y, x, zero), dim=-1).reshape(
        *v.shape[:-1], 3, 3
    )


def axis_angle_to_matrix(axis_angle: Tensor) -> Tensor:
    r"""Rodrigues' formula: axis-angle vectors to rotation matrices.

    .. math::
        R = I + \frac{\sin\theta}{\theta} K
              + \frac{1 - \cos\theta}{\theta^2} K^2,
        \qquad K = [\mathbf{v}]_\times,\ \theta = \|\mathbf{v}\|

    Below :math:`\theta^2 < 10^{-6}` the two coefficients are replaced by
    their Taylor series, so the value **and the gradient** are finite at
    :math:`\mathbf{v} = 0`.

    Args:
        axis_angle (Tensor): Rotation vectors (radians), shape ``(..., 3)``.

    Returns:
        Tensor: Rotation matrices, shape ``(..., 3, 3)``.

    Example:
        >>> R = axis_angle_to_matrix(torch.tensor([0., 0., torch.pi / 2]))
        >>> R @ torch.tensor([1., 0., 0.])  # doctest: +SKIP
        tensor([0., 1., 0.])
    """
    _check_last_dims(axis_angle, "axis_angle", (3,))
    theta_sq = (axis_angle * axis_angle).sum(-1)
    small = theta_sq < _SMALL_ANGLE_SQ
    # Keep the unused branch finite so that its gradient is not NaN.
    theta = torch.where(small, torch.ones_like(theta_sq), theta_sq).sqrt()
    a = torch.where(small, 1.0 - theta_sq / 6.0, torch.sin(theta) / theta)
    b = torch.where(
        small,
        0.5 - theta_sq / 24.0,
        (1.0 - torch.cos(theta)) / (theta * theta),
    )
    k = _skew(axis_angle)
    eye = torch.eye(3, dtype=axis_angle.dtype, device=axis_angle.device)
    return eye + a[..., None, None] * k + b[..., None, None] * (k @ k)


def _sqrt_positive_part(x: Tensor) -> Tensor:
    """``sqrt(max(0, x))`` with a zero (not infinite) gradient at 0."""
    positive = x > 0
    safe = torch.where(positive, x, torch.ones_like(x))
    return torch.where(positive, safe.sqrt(), torch.zeros_like(x))


def _matrix_to_quaternion(matrix: Tensor) -> Tensor:
    """Rotation matrices ``(..., 3, 3)`` → unit quaternions ``(..., 4)``.

    Real part first, ``w >= 0``. Of the four algebraically equivalent
    formulas the best-conditioned one (largest denominator) is used, which
    keeps the result accurate for every angle, including near pi.
    """
    m = matrix.reshape(*matrix.shape[:-2], 9)
    m00, m01, m02, m10, m11, m12, m20, m21, m22 = m.unbind(-1)
    q_abs = _sqrt_positive_part(
        torch.stack(
            (
                1.0 + m00 + m11 + m22,
                1.0 + m00 - m11 - m22,
                1.0 - m00 + m11 - m22,
                1.0 - m00 - m11 + m22,
            ),
            dim=-1,
        )
    )
    # Row i: the quaternion computed from component i (scaled by 2 q_i).
    q0, q1, q2, q3 = (q_abs**2).unbind(-1)
    candidates = torch.stack(
        (
            torch.stack((q0, m21 - m12, m02 - m20, m10 - m01), -1),
            torch.stack((m21 - m12, q1, m10 + m01, m02 + m20), -1),
            torch.stack((m02 - m20, m10 + m01, q2, m12 + m21), -1),
            torch.stack((m10 - m01, m20 + m02, m21 + m12, q3), -1),
        ),
        dim=-2,
    )
    # The clamp only affects rows that are not selected below.
    candidates = candidates / (2.0 * q_abs[..., None].clamp_min(0.1))
    best = q_abs.argmax(dim=-1)
    index = best[..., None, None].expand(*best.shape, 1, 4)
    quat = candidates.gather(-2, index).squeeze(-2)
    return torch.where(quat[..., :1] < 0, -quat, quat)


def matrix_to_axis_angle(matrix: Tensor) -> Tensor:
    r"""Rotation matrices to axis-angle vectors, angle in :math:`[0, \pi]`.

    Goes through the unit quaternion :math:`(w, \mathbf{u})` (chosen with
    :math:`w \ge 0`) and :math:`\theta = 2\,\mathrm{atan2}(\|\mathbf{u}\|, w)`:

    .. math::
        \mathbf{v} = \frac{\theta}{\sin(\theta / 2)}\,\mathbf{u}

    which is stable near 0 (Taylor series
    :math:`\theta / \sin(\theta/2) \approx 2 + \theta^2 / 12`) and near
    :math:`\pi` (no division by :math:`\sin\theta`). At exactly
    :math:`\pi` the sign of the axis is arbitrary, as for any convention.

    Args:
        matrix (Tensor): Rotation matrices, shape ``(..., 3, 3)``.

    Returns:
        Tensor: Axis-angle vectors (radians), shape ``(..., 3)``.

    Example:
        >>> matrix_to_axis_angle(torch.eye(3)).tolist()
        [0.0, 0.0, 0.0]
    """
    _check_last_dims(matrix, "matrix", (3, 3))
    quat = _matrix_to_quaternion(matrix)
    w, xyz = quat[..., 0], quat[..., 1:]
    sin_half = xyz.norm(dim=-1)
    angle = 2.0 * torch.atan2(sin_half, w)
    small = angle.abs() < 1e-3
    safe_sin = torch.where(small, torch.ones_like(sin_half), sin_half)
    factor = torch.where(small, 2.0 + angle * angle / 12.0, angle / safe_sin)
    return factor[..., None] * xyz


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
        >>> X = torch.tensor([[[1., 2., 5.]]])
        >>> weak_perspective_projection(X, torch.tensor([[2., .5, -1.]]))
        tensor([[[3., 2.]]])
    """
    _check_last_dims(points, "points", (3,))
    _check_last_dims(camera, "camera", (3,))
    if points.dim() < 2 or camera.shape[:-1] != points.shape[:-2]:
        raise ValueError(
            "Expected `camera` of shape (*batch, 3) matching `points` "
            f"(*batch, N, 3) (got {tuple(camera.shape)} and "
            f"{tuple(points.shape)})"
        )
    scale = camera[..., None, :1]
    trans = camera[..., None, 1:]
    return scale * (points[..., :2] + trans)


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
    root = joints[..., list(idx), :].mean(dim=-2, keepdim=True)
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
    _check_last_dims(source, "source", (3,))
    _check_last_dims(target, "target", (3,))
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
    w = w / w.sum(dim=1, keepdim=True).clamp_min(eps)  # (B, N), sums to 1
    w3 = w[..., None]
    mu_x = (w3 * source).sum(dim=1)  # (B, 3)
    mu_y = (w3 * target).sum(dim=1)
    x0 = source - mu_x[:, None]
    y0 = target - mu_y[:, None]
    var_x = (w * (x0 * x0).sum(-1)).sum(-1)  # (B,)
    cov = (w3 * y0).transpose(1, 2) @ x0  # (B, 3, 3) = Y0^T W X0
    u, sigma, vh = torch.linalg.svd(cov)
    det = torch.linalg.det(u @ vh)
    d = torch.ones_like(sigma)
    d[:, 2] = torch.where(det < 0, -1.0, 1.0).to(sigma.dtype)
    rotation = u @ (d[..., None] * vh)
    scale = (sigma * d).sum(-1) / var_x.clamp_min(eps)
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

r"""Rotation conversions: 6D, rotation matrices and axis-angle vectors.

Conventions (see :mod:`bigraph_pyg.geometry`): rotation matrices act on
column vectors, ``x' = R @ x``; the 6D representation is the first two
**columns** of ``R`` (Zhou et al., CVPR 2019, as SPIN stores it); axis-angle
vectors are ``angle * unit_axis`` with the angle in radians.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from bigraph_pyg.geometry._checks import check_last_dims

__all__ = [
    "axis_angle_to_matrix",
    "matrix_to_axis_angle",
    "matrix_to_rot6d",
    "rot6d_to_matrix",
]

# Below this squared angle (rad^2) Taylor series replace sin(t)/t etc.
_SMALL_ANGLE_SQ = 1e-6


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
    check_last_dims(x, "x", (6,))
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
    check_last_dims(matrix, "matrix", (3, 3))
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
    check_last_dims(axis_angle, "axis_angle", (3,))
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
    check_last_dims(matrix, "matrix", (3, 3))
    quat = _matrix_to_quaternion(matrix)
    w, xyz = quat[..., 0], quat[..., 1:]
    sin_half = xyz.norm(dim=-1)
    angle = 2.0 * torch.atan2(sin_half, w)
    small = angle.abs() < 1e-3
    safe_sin = torch.where(small, torch.ones_like(sin_half), sin_half)
    factor = torch.where(small, 2.0 + angle * angle / 12.0, angle / safe_sin)
    return factor[..., None] * xyz

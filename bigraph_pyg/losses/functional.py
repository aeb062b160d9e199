r"""Functional L1 and SMPL losses of the paper (the terms of Eq. 6).

Pure functions on tensors, and the private validation and masking helpers
that ``bigraph_pyg.losses.focal`` and ``bigraph_pyg.losses.bigraph_loss``
share (the focal loss of Sec. 4.4 is in ``focal``). Every loss takes an
optional per-sample boolean mask (``has_smpl``, ``has_pose_3d``: does this
sample have that ground truth?). Masked samples never influence the value
or the gradient, even if their targets hold garbage or NaN, and a batch with
no valid sample gives an exact 0 that is still connected to the graph
(``backward()`` works, no NaN).

Units follow GraphCMR's data pipeline: 3D quantities in metres, 2D keypoints
in normalised crop coordinates ``[-1, 1]``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from bigraph_pyg.geometry import center_joints
from bigraph_pyg.metrics import HIP_INDICES

__all__ = [
    "keypoint_2d_l1_loss",
    "keypoint_3d_l1_loss",
    "smpl_param_loss",
    "vertex_l1_loss",
]


def _check_pair(pred: Tensor, target: Tensor, name: str, dims: int) -> None:
    if not isinstance(pred, Tensor) or not isinstance(target, Tensor):
        raise ValueError(
            f"Expected tensors for `{name}` and its target (got "
            f"{type(pred).__name__} and {type(target).__name__})"
        )
    if pred.dim() != dims or pred.shape != target.shape:
        raise ValueError(
            f"Expected `{name}` and its target of the same {dims}-D shape "
            f"(got {tuple(pred.shape)} and {tuple(target.shape)})"
        )


def _sample_mask(mask: Tensor | None, pred: Tensor, name: str) -> Tensor:
    """Validate a ``(B,)`` mask; return it as bool on ``pred.device``."""
    batch = pred.shape[0]
    if mask is None:
        return torch.ones(batch, dtype=torch.bool, device=pred.device)
    if not isinstance(mask, Tensor) or mask.shape != (batch,):
        raise ValueError(
            f"Expected a ({batch},) tensor for `{name}` (got "
            f"{tuple(getattr(mask, 'shape', ())) or type(mask).__name__})"
        )
    return mask.to(device=pred.device) > 0


def _joint_weights(weights: Tensor | None, pred: Tensor, name: str) -> Tensor:
    """Validate per-joint weights ``(B, J)``; default ones."""
    if weights is None:
        return torch.ones(pred.shape[:2], dtype=pred.dtype, device=pred.device)
    if not isinstance(weights, Tensor) or weights.shape != pred.shape[:2]:
        raise ValueError(
            f"Expected a {tuple(pred.shape[:2])} tensor for `{name}` (got "
            f"{tuple(getattr(weights, 'shape', ())) or type(weights)})"
        )
    return weights.to(device=pred.device, dtype=pred.dtype)


def _masked_target(target: Tensor, valid: Tensor) -> Tensor:
    """Zero the targets of invalid entries so NaN/garbage cannot leak."""
    while valid.dim() < target.dim():
        valid = valid[..., None]
    return torch.where(valid, target, torch.zeros_like(target))


def _masked_mean(values: Tensor, valid: Tensor, weights: Tensor) -> Tensor:
    """``sum(w * v) / (num_valid_samples * elements_per_sample)``.

    ``values`` ``(B, ...)``; ``valid`` ``(B,)``; ``weights`` broadcastable.
    Normalising by all elements of the valid samples (not by the weight sum)
    is GraphCMR's ``(conf * loss).mean()`` over the selected samples.
    """
    per_sample = values[0].numel() if values.dim() > 0 else 1
    mask = valid.reshape(-1, *([1] * (values.dim() - 1))).to(values.dtype)
    total = (values * weights * mask).sum()
    count = valid.sum().to(values.dtype) * per_sample
    return total / count.clamp_min(1.0)


def vertex_l1_loss(
    pred_vertices: Tensor,
    gt_vertices: Tensor,
    has_smpl: Tensor | None = None,
) -> Tensor:
    r"""Per-vertex L1 loss :math:`\mathcal{L}_m` (paper Sec. 4.4, Eq. 6).

    .. math::
        \mathcal{L}_m = \frac{1}{3 N |\mathcal{B}|}
        \sum_{b \in \mathcal{B}} \sum_{i=1}^{N}
        \| \hat{\mathbf{v}}_{b,i} - \mathbf{v}_{b,i} \|_1

    over the samples :math:`\mathcal{B}` with SMPL ground truth.

    Args:
        pred_vertices (Tensor): Predicted mesh in metres, ``(B, N, 3)``.
        gt_vertices (Tensor): Ground-truth mesh in metres, ``(B, N, 3)``.
        has_smpl (Tensor, optional): Samples with a ground-truth mesh,
            ``(B,)`` bool. (default: all)

    Returns:
        Tensor: Scalar loss (metres); 0 if no sample is valid.

    Example:
        >>> v = torch.zeros(2, 4, 3)
        >>> vertex_l1_loss(v + 0.1, v, torch.tensor([True, False])).item()
        0.10000000149011612
    """
    _check_pair(pred_vertices, gt_vertices, "pred_vertices", 3)
    valid = _sample_mask(has_smpl, pred_vertices, "has_smpl")
    target = _masked_target(gt_vertices, valid)
    diff = (pred_vertices - target).abs()
    return _masked_mean(diff, valid, torch.ones_like(diff[:1]))


def keypoint_3d_l1_loss(
    pred_joints: Tensor,
    gt_joints: Tensor,
    has_pose_3d: Tensor | None = None,
    confidence: Tensor | None = None,
    root_indices: tuple[int, ...] | None = HIP_INDICES,
) -> Tensor:
    r"""Pelvis-centred 3D joint L1 loss (paper Eq. 6).

    Used for :math:`\mathcal{L}_s` and :math:`\mathcal{L}_m^{j3d}`.

    As GraphCMR's ``keypoint_3d_loss``: both joint sets are centred on their
    own root (the mid-hip pelvis by default), then

    .. math::
        \mathcal{L} = \frac{1}{3 J |\mathcal{B}|}
        \sum_{b \in \mathcal{B}} \sum_{j} c_{b,j}
        \| (\hat{\mathbf{p}}_{b,j} - \hat{\mathbf{r}}_b)
          - (\mathbf{p}_{b,j} - \mathbf{r}_b) \|_1

    (L1 as the paper says; GraphCMR used MSE).

    Args:
        pred_joints (Tensor): Predicted joints in metres, ``(B, J, 3)``.
        gt_joints (Tensor): Ground-truth joints in metres, ``(B, J, 3)``.
        has_pose_3d (Tensor, optional): Samples with 3D joints, ``(B,)``.
            (default: all)
        confidence (Tensor, optional): Per-joint weights ``(B, J)`` (e.g. 0/1
            visibility). The root is computed from the root joints whatever
            their confidence (as GraphCMR), so they must be finite in valid
            samples; other zero-confidence joints may hold NaN.
            (default: ones)
        root_indices (tuple of int, optional): Joints whose mean is the root;
            :obj:`None` for no centring. (default: :data:`HIP_INDICES`)

    Returns:
        Tensor: Scalar loss (metres); 0 if no sample is valid.

    Example:
        >>> j = torch.zeros(2, 12, 3)
        >>> keypoint_3d_l1_loss(j + 5.0, j).item()  # a shift is centred out
        0.0
    """
    _check_pair(pred_joints, gt_joints, "pred_joints", 3)
    valid = _sample_mask(has_pose_3d, pred_joints, "has_pose_3d")
    conf = _joint_weights(confidence, pred_joints, "confidence")
    target = _masked_target(gt_joints, valid)
    if root_indices is not None:
        pred_joints = center_joints(pred_joints, root_indices)
        target = center_joints(target, root_indices)
    # After centring (the root uses the root joints whatever their
    # confidence), so NaN in non-root unannotated joints cannot leak.
    target = _masked_target(target, valid[:, None] & (conf > 0))
    diff = (pred_joints - target).abs()
    return _masked_mean(diff, valid, conf[..., None])


def keypoint_2d_l1_loss(
    pred_keypoints: Tensor,
    gt_keypoints: Tensor,
    confidence: Tensor | None = None,
) -> Tensor:
    r"""2D reprojection L1 loss (paper Eq. 6).

    Used for :math:`\mathcal{L}_m^{j2d}` and :math:`\mathcal{L}_s^{j2d}`.

    .. math::
        \mathcal{L} = \frac{1}{2 J B} \sum_{b, j} c_{b,j}
        \| \hat{\mathbf{x}}_{b,j} - \mathbf{x}_{b,j} \|_1

    with :math:`\hat{\mathbf{x}}` typically
    :func:`~bigraph_pyg.geometry.weak_perspective_projection` of the 3D
    joints. Joints with zero confidence (missing annotations) are ignored
    (their targets may be NaN).

    Args:
        pred_keypoints (Tensor): Projected joints, ``(B, J, 2)``, normalised
            crop coordinates.
        gt_keypoints (Tensor): Annotated joints, ``(B, J, 2)``.
        confidence (Tensor, optional): Per-joint confidence / visibility
            ``(B, J)``, ``>= 0``. (default: ones)

    Returns:
        Tensor: Scalar loss; 0 if every confidence is 0.

    Example:
        >>> x = torch.zeros(1, 12, 2)
        >>> keypoint_2d_l1_loss(x + 0.5, x).item()
        0.5
    """
    _check_pair(pred_keypoints, gt_keypoints, "pred_keypoints", 3)
    if pred_keypoints.shape[-1] != 2:
        raise ValueError(
            "Expected shape (B, J, 2) for `pred_keypoints` "
            f"(got {tuple(pred_keypoints.shape)})"
        )
    conf = _joint_weights(confidence, pred_keypoints, "confidence")
    target = _masked_target(gt_keypoints, conf > 0)
    diff = (pred_keypoints - target).abs()
    valid = torch.ones(diff.shape[0], dtype=torch.bool, device=diff.device)
    return _masked_mean(diff, valid, conf[..., None])


def smpl_param_loss(
    pred_rotmat: Tensor,
    pred_betas: Tensor,
    gt_rotmat: Tensor,
    gt_betas: Tensor,
    has_smpl: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    r"""SMPL parameter losses (paper Eq. 6).

    :math:`\mathcal{L}_\theta` and :math:`\mathcal{L}_\beta`.

    MSE on the pose as rotation matrices (as GraphCMR, which avoids the
    discontinuity of axis-angle) and on the shape coefficients, over the
    samples with SMPL ground truth:

    .. math::
        \mathcal{L}_\theta = \mathrm{mean}_{b \in \mathcal{B}}
        \| \hat{R}_b - R_b \|_2^2 / (24 \cdot 9), \quad
        \mathcal{L}_\beta = \mathrm{mean}_{b \in \mathcal{B}}
        \| \hat{\beta}_b - \beta_b \|_2^2 / 10

    The caller weighs them, :math:`\mathcal{L}_\theta + \lambda
    \mathcal{L}_\beta` (see :class:`LossWeights`).

    Args:
        pred_rotmat (Tensor): Predicted rotations ``(B, 24, 3, 3)``.
        pred_betas (Tensor): Predicted shape ``(B, 10)``.
        gt_rotmat (Tensor): Ground-truth rotations ``(B, 24, 3, 3)`` (use
            :func:`~bigraph_pyg.geometry.axis_angle_to_matrix` on SMPL's
            ``(B, 72)`` pose reshaped to ``(B, 24, 3)``).
        gt_betas (Tensor): Ground-truth shape ``(B, 10)``.
        has_smpl (Tensor, optional): Samples with SMPL ground truth ``(B,)``.

    Returns:
        tuple[Tensor, Tensor]: ``(pose_loss, shape_loss)``, scalars.

    Example:
        >>> R = torch.eye(3).expand(2, 24, 3, 3)
        >>> b = torch.zeros(2, 10)
        >>> [v.item() for v in smpl_param_loss(R, b + 1, R, b)]
        [0.0, 1.0]
    """
    if pred_rotmat.dim() != 4 or pred_rotmat.shape[-2:] != (3, 3):
        raise ValueError(
            "Expected shape (B, K, 3, 3) for `pred_rotmat` "
            f"(got {tuple(pred_rotmat.shape)})"
        )
    _check_pair(pred_rotmat, gt_rotmat, "pred_rotmat", 4)
    _check_pair(pred_betas, gt_betas, "pred_betas", 2)
    if pred_betas.shape[0] != pred_rotmat.shape[0]:
        raise ValueError(
            "Expected the same batch size for `pred_betas` and `pred_rotmat` "
            f"(got {pred_betas.shape[0]} and {pred_rotmat.shape[0]})"
        )
    valid = _sample_mask(has_smpl, pred_rotmat, "has_smpl")
    sq_pose = (pred_rotmat - _masked_target(gt_rotmat, valid)) ** 2
    sq_betas = (pred_betas - _masked_target(gt_betas, valid)) ** 2
    one = torch.ones((), dtype=pred_rotmat.dtype, device=pred_rotmat.device)
    return (
        _masked_mean(sq_pose, valid, one),
        _masked_mean(sq_betas, valid, one),
    )

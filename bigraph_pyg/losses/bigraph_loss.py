r"""Loss modules of the paper (Eq. 6 and the focal loss, Sec. 4.4).

:class:`FocalRegressionLoss` wraps
:func:`~bigraph_pyg.losses.focal_regression_loss`; :class:`LossWeights`
holds the weights of the terms of Eq. 6 and :class:`BiGraphLoss` sums them.
The terms themselves are the functions of
``bigraph_pyg.losses.functional``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from torch import Tensor, nn

from bigraph_pyg.geometry import center_joints, weak_perspective_projection
from bigraph_pyg.losses.functional import (
    DEFAULT_FOCAL_TAU,
    _check_pair,
    _joint_weights,
    _masked_target,
    _sample_mask,
    focal_regression_loss,
    keypoint_2d_l1_loss,
    keypoint_3d_l1_loss,
    smpl_param_loss,
    vertex_l1_loss,
)
from bigraph_pyg.metrics import HIP_INDICES

#: What :meth:`BiGraphLoss.model_loss` needs in its batch.
_REQUIRED_BATCH_KEYS = (
    "gt_vertices",
    "gt_joints_3d",
    "gt_joints_2d",
    "has_smpl",
    "has_pose_3d",
)

__all__ = ["BiGraphLoss", "FocalRegressionLoss", "LossWeights"]


class FocalRegressionLoss(nn.Module):
    r"""Module wrapper of :func:`focal_regression_loss` (paper Sec. 4.4).

    Args:
        alpha (float, optional): Error scale. (default: ``1.0``)
        gamma (float, optional): Focusing exponent. (default: ``1.0``)
        tau (float, optional): Truncation. (default: ``0.99``)
        reduction (str, optional): ``'mean'``, ``'sum'`` or ``'none'``.

    Shapes:
        - **input:** predicted joints :math:`(B, J, D)`, targets
          :math:`(B, J, D)` (metres for :math:`\alpha = 1`), mask
          :math:`(B)` or :math:`(B, J)` *(optional)*
        - **output:** scalar, or :math:`(B, J)` with ``reduction='none'``
    """

    def __init__(
        self,
        alpha: float = 1.0,
        gamma: float = 1.0,
        tau: float = DEFAULT_FOCAL_TAU,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.alpha = alpha
        self.gamma = gamma
        self.tau = tau
        self.reduction = reduction

    def forward(
        self, pred: Tensor, target: Tensor, mask: Tensor | None = None
    ) -> Tensor:
        """Apply the loss; see :func:`focal_regression_loss`."""
        return focal_regression_loss(
            pred, target, self.alpha, self.gamma, self.tau, mask, self.reduction
        )

    def extra_repr(self) -> str:
        """Show the hyper-parameters in ``repr``."""
        return (
            f"alpha={self.alpha}, gamma={self.gamma}, tau={self.tau}, "
            f"reduction={self.reduction!r}"
        )


@dataclass(frozen=True)
class LossWeights:
    r"""Weights of the terms of Eq. 6 (and the focal loss of Sec. 5.2).

    Attributes:
        vertices (float): :math:`\mathcal{L}_m`. (default: ``1.0``)
        mesh_joints_3d (float): :math:`\mathcal{L}_m^{j3d}`.
        mesh_joints_2d (float): :math:`\mathcal{L}_m^{j2d}`.
        skeleton_joints_3d (float): :math:`\mathcal{L}_s` when
            ``use_focal=False`` (plain L1).
        skeleton_joints_2d (float): :math:`\mathcal{L}_s^{j2d}`.
        smpl_pose (float): :math:`\mathcal{L}_\theta`.
        smpl_shape (float): :math:`\lambda` before :math:`\mathcal{L}_\beta`
            (default: ``0.1``, GraphCMR's value; the paper does not state it).
        use_focal (bool): Replace the L1 :math:`\mathcal{L}_s` on the
            skeleton joints by the focal loss (Sec. 5.2); ``False`` is the
            "no FL" ablation of Table 5. (default: :obj:`True`)
        focal (float): Coefficient of the focal term. (default: ``5.0``)
        focal_alpha (float): :math:`\alpha`. (default: ``1.0``)
        focal_gamma (float): :math:`\gamma`. (default: ``1.0``)
        focal_tau (float): :math:`\tau`. (default: ``0.99``)
    """

    vertices: float = 1.0
    mesh_joints_3d: float = 1.0
    mesh_joints_2d: float = 1.0
    skeleton_joints_3d: float = 1.0
    skeleton_joints_2d: float = 1.0
    smpl_pose: float = 1.0
    smpl_shape: float = 0.1
    use_focal: bool = True
    focal: float = 5.0
    focal_alpha: float = 1.0
    focal_gamma: float = 1.0
    focal_tau: float = DEFAULT_FOCAL_TAU


class BiGraphLoss(nn.Module):
    r"""Total training loss of the paper (Eq. 6 with the focal term, Sec. 4.4).

    .. math::
        \mathcal{L} = \mathcal{L}_m + \mathcal{L}_m^{j3d}
        + \mathcal{L}_m^{j2d} + \mathcal{L}_s + \mathcal{L}_s^{j2d}
        + \mathcal{L}_\theta + \lambda \mathcal{L}_\beta

    each term multiplied by its :class:`LossWeights` entry; with
    ``use_focal`` the skeleton 3D term :math:`\mathcal{L}_s` is
    ``focal * focal_regression_loss`` on the pelvis-centred skeleton joints
    (Sec. 5.2: :math:`\alpha = \gamma = 1`, coefficient 5.0) instead of
    the L1 (joints with zero 3D confidence are left out; the focal term
    does not weight by confidence). Both 2D terms use the same predicted
    camera. The SMPL terms are skipped when ``pred_rotmat``,
    ``pred_betas``, ``gt_rotmat`` and ``gt_betas`` are all :obj:`None`.

    Args:
        weights (LossWeights, optional): Term weights. (default:
            ``LossWeights()``)
        root_indices (tuple of int, optional): Joints whose mean is the pelvis
            for the 3D joint terms. (default: :data:`HIP_INDICES`)

    Shapes:
        - **input:** (keyword-only) predicted vertices :math:`(B, N, 3)`
          metres, predicted skeleton and mesh joints :math:`(B, J, 3)`,
          camera :math:`(B, 3)`, ground-truth vertices :math:`(B, N, 3)`,
          3D joints :math:`(B, J, 3)`, normalised 2D joints
          :math:`(B, J, 2)`, flags ``has_smpl`` and ``has_pose_3d``
          :math:`(B)`, confidences :math:`(B, J)` *(optional)*, rotations
          :math:`(B, 24, 3, 3)` and betas :math:`(B, 10)` *(optional)*;
          see :meth:`forward`
        - **output:** scalar total and a dict of scalar terms

    Returns from :meth:`forward`:
        ``(total, terms)``: the weighted scalar sum, and a dict of the
        **unweighted** scalar terms with keys ``vertices``,
        ``mesh_joints_3d``, ``mesh_joints_2d``, ``skeleton_joints_3d``
        (focal or L1), ``skeleton_joints_2d`` and, if given, ``smpl_pose``,
        ``smpl_shape``.
    """

    def __init__(
        self,
        weights: LossWeights | None = None,
        root_indices: tuple[int, ...] = HIP_INDICES,
    ) -> None:
        super().__init__()
        weights = LossWeights() if weights is None else weights
        if not isinstance(weights, LossWeights):
            raise ValueError(
                "Expected a LossWeights for `weights` "
                f"(got {type(weights).__name__})"
            )
        self.weights = weights
        self.root_indices = tuple(root_indices)

    @classmethod
    def for_config(cls, config) -> BiGraphLoss:
        """The loss a model of ``config`` trains with.

        Args:
            config (BiGraphConfig): Its
                :meth:`~bigraph_pyg.models.BiGraphConfig.loss_weights` (the
                focal term as configured; skeleton weights 0 without a
                skeleton branch).

        Returns:
            BiGraphLoss: the criterion.
        """
        return cls(config.loss_weights())

    def model_loss(
        self, output, batch: Mapping[str, Tensor]
    ) -> tuple[Tensor, dict[str, Tensor]]:
        r"""Eq. 6 on a :class:`~bigraph_pyg.models.BiGraphOutput`.

        ``batch`` holds ``gt_vertices`` (full resolution :math:`(B, N_0, 3)`
        or coarse :math:`(B, N_m, 3)`; the matching prediction is used),
        ``gt_joints_3d`` :math:`(B, 12, 3)`, ``gt_joints_2d``
        :math:`(B, 12, 2)` in normalised crop coordinates, ``has_smpl`` and
        ``has_pose_3d`` :math:`(B,)` bool; optionally
        ``gt_joints_2d_confidence``, ``gt_joints_3d_confidence``
        :math:`(B, 12)`, and ``gt_rotmat`` :math:`(B, 24, 3, 3)` with
        ``gt_betas`` :math:`(B, 10)` for the SMPL terms. Without a skeleton
        branch (``output.skeleton_joints`` None) the skeleton terms are left
        out. The targets :func:`~bigraph_pyg.engine.batching.prepare_batch`
        builds are such a batch.

        Args:
            output (BiGraphOutput): The model's predictions.
            batch (Mapping[str, Tensor]): The targets above.

        Returns:
            tuple[Tensor, dict[str, Tensor]]: the total and the unweighted
            terms (see :meth:`forward`).

        Raises:
            ValueError: missing keys or a ``gt_vertices`` with a vertex
                count of neither resolution.
        """
        missing = [k for k in _REQUIRED_BATCH_KEYS if k not in batch]
        if missing:
            raise ValueError(
                f"Expected batch keys {_REQUIRED_BATCH_KEYS} "
                f"(got {sorted(batch)}; missing {missing})"
            )
        gt_vertices = batch["gt_vertices"]
        n = gt_vertices.shape[-2] if gt_vertices.dim() >= 2 else None
        if n == output.vertices.shape[-2]:
            pred_vertices = output.vertices
        elif n == output.coarse_vertices.shape[-2]:
            pred_vertices = output.coarse_vertices
        else:
            raise ValueError(
                "Expected `gt_vertices` of shape (B, "
                f"{output.vertices.shape[-2]}, 3) or (B, "
                f"{output.coarse_vertices.shape[-2]}, 3) (got "
                f"{tuple(gt_vertices.shape)})"
            )
        if ("gt_rotmat" in batch) != ("gt_betas" in batch):
            warnings.warn(
                "Only one of `gt_rotmat` and `gt_betas` in the "
                "batch: the SMPL terms are left out",
                stacklevel=2,
            )
        smpl = "gt_rotmat" in batch and "gt_betas" in batch
        return self(
            pred_vertices=pred_vertices,
            pred_skeleton_joints=output.skeleton_joints,
            pred_mesh_joints=output.mesh_joints,
            pred_camera=output.camera,
            gt_vertices=gt_vertices,
            gt_joints_3d=batch["gt_joints_3d"],
            gt_joints_2d=batch["gt_joints_2d"],
            has_smpl=batch["has_smpl"],
            has_pose_3d=batch["has_pose_3d"],
            gt_joints_2d_confidence=batch.get("gt_joints_2d_confidence"),
            gt_joints_3d_confidence=batch.get("gt_joints_3d_confidence"),
            pred_rotmat=output.rotmat if smpl else None,
            pred_betas=output.betas if smpl else None,
            gt_rotmat=batch["gt_rotmat"] if smpl else None,
            gt_betas=batch["gt_betas"] if smpl else None,
        )

    def skeleton_joints_3d_term(
        self,
        pred_skeleton_joints: Tensor,
        gt_joints_3d: Tensor,
        has_pose_3d: Tensor | None = None,
        gt_joints_3d_confidence: Tensor | None = None,
    ) -> tuple[Tensor, float]:
        r""":math:`\mathcal{L}_s`, unweighted, and its weight.

        The focal loss on the pelvis-centred skeleton joints (coefficient
        ``focal``) with ``use_focal``, else their L1 (coefficient
        ``skeleton_joints_3d``): the term :meth:`forward` adds, on its own
        (e.g. to train :meth:`BiGraphBody.lift
        <bigraph_pyg.models.BiGraphBody.lift>`, the Skeleton-GCN alone).

        Args:
            pred_skeleton_joints (Tensor): :math:`(B, J, 3)`.
            gt_joints_3d (Tensor): :math:`(B, J, 3)`.
            has_pose_3d (Tensor, optional): :math:`(B)` bool.
            gt_joints_3d_confidence (Tensor, optional): :math:`(B, J)`.

        Returns:
            tuple[Tensor, float]: the term and its weight.
        """
        w, root = self.weights, self.root_indices
        if not w.use_focal:
            return keypoint_3d_l1_loss(
                pred_skeleton_joints,
                gt_joints_3d,
                has_pose_3d,
                gt_joints_3d_confidence,
                root,
            ), w.skeleton_joints_3d
        _check_pair(pred_skeleton_joints, gt_joints_3d, "pred_joints", 3)
        valid = _sample_mask(has_pose_3d, pred_skeleton_joints, "has_pose_3d")
        conf = _joint_weights(
            gt_joints_3d_confidence, pred_skeleton_joints, "confidence"
        )
        valid_joints = valid[:, None] & (conf > 0)
        target = center_joints(_masked_target(gt_joints_3d, valid), root)
        term = focal_regression_loss(
            center_joints(pred_skeleton_joints, root),
            target,
            w.focal_alpha,
            w.focal_gamma,
            w.focal_tau,
            mask=valid_joints,
        )
        return term, w.focal

    def forward(
        self,
        *,
        pred_vertices: Tensor,
        pred_skeleton_joints: Tensor | None,
        pred_mesh_joints: Tensor,
        pred_camera: Tensor,
        gt_vertices: Tensor,
        gt_joints_3d: Tensor,
        gt_joints_2d: Tensor,
        has_smpl: Tensor,
        has_pose_3d: Tensor,
        gt_joints_2d_confidence: Tensor | None = None,
        gt_joints_3d_confidence: Tensor | None = None,
        pred_rotmat: Tensor | None = None,
        pred_betas: Tensor | None = None,
        gt_rotmat: Tensor | None = None,
        gt_betas: Tensor | None = None,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        r"""Compute Eq. 6.

        Args:
            pred_vertices (Tensor): Mesh-GCN output :math:`\hat{V}_m`,
                ``(B, N, 3)`` metres.
            pred_skeleton_joints (Tensor or None): Skeleton-GCN output
                :math:`\hat{V}_s`, ``(B, J, 3)``; ``None`` for a model with
                no skeleton branch (GraphCMR, Table 4 A): the two skeleton
                terms are then left out of the sum and of ``terms``.
            pred_mesh_joints (Tensor): Joints regressed from the mesh,
                :math:`\hat{V}_m^{j3d}`, ``(B, J, 3)``.
            pred_camera (Tensor): Weak-perspective camera ``(B, 3)``.
            gt_vertices (Tensor): ``(B, N, 3)``; used where ``has_smpl``.
            gt_joints_3d (Tensor): ``(B, J, 3)``; used where ``has_pose_3d``.
            gt_joints_2d (Tensor): ``(B, J, 2)`` normalised crop coordinates.
            has_smpl (Tensor): ``(B,)`` bool.
            has_pose_3d (Tensor): ``(B,)`` bool.
            gt_joints_2d_confidence (Tensor, optional): ``(B, J)``
                visibility of the 2D joints. (default: ones)
            gt_joints_3d_confidence (Tensor, optional): ``(B, J)``.
            pred_rotmat (Tensor, optional): ``(B, 24, 3, 3)``.
            pred_betas (Tensor, optional): ``(B, 10)``.
            gt_rotmat (Tensor, optional): ``(B, 24, 3, 3)``.
            gt_betas (Tensor, optional): ``(B, 10)``.

        Returns:
            tuple[Tensor, dict[str, Tensor]]: ``(total, terms)``.
        """
        w = self.weights
        root = self.root_indices
        terms: dict[str, Tensor] = {}
        factors: dict[str, float] = {}

        terms["vertices"] = vertex_l1_loss(pred_vertices, gt_vertices, has_smpl)
        factors["vertices"] = w.vertices
        terms["mesh_joints_3d"] = keypoint_3d_l1_loss(
            pred_mesh_joints,
            gt_joints_3d,
            has_pose_3d,
            gt_joints_3d_confidence,
            root,
        )
        factors["mesh_joints_3d"] = w.mesh_joints_3d
        terms["mesh_joints_2d"] = keypoint_2d_l1_loss(
            weak_perspective_projection(pred_mesh_joints, pred_camera),
            gt_joints_2d,
            gt_joints_2d_confidence,
        )
        factors["mesh_joints_2d"] = w.mesh_joints_2d

        if pred_skeleton_joints is not None:
            (terms["skeleton_joints_3d"], factors["skeleton_joints_3d"]) = (
                self.skeleton_joints_3d_term(
                    pred_skeleton_joints,
                    gt_joints_3d,
                    has_pose_3d,
                    gt_joints_3d_confidence,
                )
            )
            terms["skeleton_joints_2d"] = keypoint_2d_l1_loss(
                weak_perspective_projection(pred_skeleton_joints, pred_camera),
                gt_joints_2d,
                gt_joints_2d_confidence,
            )
            factors["skeleton_joints_2d"] = w.skeleton_joints_2d

        smpl_given = [
            t is not None
            for t in (pred_rotmat, pred_betas, gt_rotmat, gt_betas)
        ]
        if any(smpl_given) and not all(smpl_given):
            raise ValueError(
                "Expected all or none of `pred_rotmat`, `pred_betas`, "
                f"`gt_rotmat`, `gt_betas` (got {smpl_given})"
            )
        if all(smpl_given):
            pose, shape = smpl_param_loss(
                pred_rotmat, pred_betas, gt_rotmat, gt_betas, has_smpl
            )
            terms["smpl_pose"], factors["smpl_pose"] = pose, w.smpl_pose
            terms["smpl_shape"], factors["smpl_shape"] = shape, w.smpl_shape

        total = sum(factors[k] * v for k, v in terms.items())
        return total, terms

    def extra_repr(self) -> str:
        """Show the weights in ``repr``."""
        fields = ", ".join(f"{k}={v}" for k, v in asdict(self.weights).items())
        return f"{fields}, root_indices={self.root_indices}"

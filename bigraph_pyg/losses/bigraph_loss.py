r"""The total training loss of the paper (Eq. 6 with the focal term).

:class:`BiGraphLoss` sums the terms of Eq. 6, each multiplied by its
:class:`~bigraph_pyg.losses.LossWeights` entry
(``bigraph_pyg.losses.loss_weights``). The terms themselves are the functions of
``bigraph_pyg.losses.functional`` and, for the skeleton joints,
:func:`~bigraph_pyg.losses.focal_regression_loss`
(``bigraph_pyg.losses.focal``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import asdict

from torch import Tensor, nn

from bigraph_pyg.geometry import weak_perspective_projection
from bigraph_pyg.losses.focal import _keypoint_3d_focal_loss
from bigraph_pyg.losses.functional import (
    keypoint_2d_l1_loss,
    keypoint_3d_l1_loss,
    smpl_param_loss,
    vertex_l1_loss,
)
from bigraph_pyg.losses.loss_weights import LossWeights
from bigraph_pyg.metrics import HIP_INDICES

#: What :meth:`BiGraphLoss.model_loss` needs in its batch.
_REQUIRED_BATCH_KEYS = (
    "gt_vertices",
    "gt_joints_3d",
    "gt_joints_2d",
    "has_smpl",
    "has_pose_3d",
)

__all__ = ["BiGraphLoss"]


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
    def for_config(
        cls, config, weights: LossWeights | None = None
    ) -> BiGraphLoss:
        """The loss a model of ``config`` trains with.

        Args:
            config (BiGraphConfig): The model's architecture: without a
                skeleton branch the skeleton weights are 0 and the focal
                term off, so the weights say what :meth:`model_loss`
                computes (it leaves the skeleton terms out).
            weights (LossWeights, optional): The training's weights.
                (default: ``LossWeights()``, the paper's)

        Returns:
            BiGraphLoss: the criterion.
        """
        weights = LossWeights() if weights is None else weights
        if not isinstance(weights, LossWeights):
            raise ValueError(
                f"Expected `weights` to be a LossWeights (got "
                f"{type(weights).__name__})"
            )
        return cls(weights.for_model(config))

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
        term = _keypoint_3d_focal_loss(
            pred_skeleton_joints,
            gt_joints_3d,
            has_pose_3d,
            gt_joints_3d_confidence,
            root,
            w.focal_alpha,
            w.focal_gamma,
            w.focal_tau,
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
        weighted = {
            "vertices": (
                vertex_l1_loss(pred_vertices, gt_vertices, has_smpl),
                w.vertices,
            )
        }
        targets = dict(
            pred_camera=pred_camera,
            gt_joints_3d=gt_joints_3d,
            gt_joints_2d=gt_joints_2d,
            has_pose_3d=has_pose_3d,
            gt_joints_2d_confidence=gt_joints_2d_confidence,
            gt_joints_3d_confidence=gt_joints_3d_confidence,
        )
        weighted.update(self._joint_terms("mesh", pred_mesh_joints, **targets))
        if pred_skeleton_joints is not None:
            weighted.update(
                self._joint_terms("skeleton", pred_skeleton_joints, **targets)
            )
        weighted.update(
            self._smpl_terms(
                pred_rotmat, pred_betas, gt_rotmat, gt_betas, has_smpl
            )
        )
        terms = {name: term for name, (term, _) in weighted.items()}
        total = sum(factor * term for term, factor in weighted.values())
        return total, terms

    def _joint_terms(
        self,
        branch: str,
        joints: Tensor,
        *,
        pred_camera: Tensor,
        gt_joints_3d: Tensor,
        gt_joints_2d: Tensor,
        has_pose_3d: Tensor,
        gt_joints_2d_confidence: Tensor | None,
        gt_joints_3d_confidence: Tensor | None,
    ) -> dict[str, tuple[Tensor, float]]:
        """The 3D and 2D joint terms of a ``"mesh"`` or ``"skeleton"`` branch.

        ``name -> (term, weight)``: the mesh's 3D term is the L1, the
        skeleton's :meth:`skeleton_joints_3d_term` (focal or L1); both 2D
        terms are the L1 of the joints projected with ``pred_camera``.
        """
        w = self.weights
        if branch == "skeleton":
            joints_3d = self.skeleton_joints_3d_term(
                joints, gt_joints_3d, has_pose_3d, gt_joints_3d_confidence
            )
        else:
            joints_3d = (
                keypoint_3d_l1_loss(
                    joints,
                    gt_joints_3d,
                    has_pose_3d,
                    gt_joints_3d_confidence,
                    self.root_indices,
                ),
                w.mesh_joints_3d,
            )
        joints_2d = keypoint_2d_l1_loss(
            weak_perspective_projection(joints, pred_camera),
            gt_joints_2d,
            gt_joints_2d_confidence,
        )
        weight_2d = getattr(w, f"{branch}_joints_2d")
        return {
            f"{branch}_joints_3d": joints_3d,
            f"{branch}_joints_2d": (joints_2d, weight_2d),
        }

    def _smpl_terms(
        self,
        pred_rotmat: Tensor | None,
        pred_betas: Tensor | None,
        gt_rotmat: Tensor | None,
        gt_betas: Tensor | None,
        has_smpl: Tensor,
    ) -> dict[str, tuple[Tensor, float]]:
        """The SMPL terms as ``name -> (term, weight)``, if any.

        Both terms when all four tensors are given, none when none is.

        Raises:
            ValueError: some but not all of the four are given.
        """
        smpl_given = [
            t is not None
            for t in (pred_rotmat, pred_betas, gt_rotmat, gt_betas)
        ]
        if any(smpl_given) and not all(smpl_given):
            raise ValueError(
                "Expected all or none of `pred_rotmat`, `pred_betas`, "
                f"`gt_rotmat`, `gt_betas` (got {smpl_given})"
            )
        if not all(smpl_given):
            return {}
        pose, shape = smpl_param_loss(
            pred_rotmat, pred_betas, gt_rotmat, gt_betas, has_smpl
        )
        return {
            "smpl_pose": (pose, self.weights.smpl_pose),
            "smpl_shape": (shape, self.weights.smpl_shape),
        }

    def extra_repr(self) -> str:
        """Show the weights in ``repr``."""
        fields = ", ".join(f"{k}={v}" for k, v in asdict(self.weights).items())
        return f"{fields}, root_indices={self.root_indices}"

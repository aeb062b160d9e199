r"""The weights of the terms of the paper's training loss (Eq. 6).

:class:`LossWeights` is what :class:`~bigraph_pyg.losses.BiGraphLoss`
multiplies each term by, with the settings of the focal term on the
skeleton joints (Sec. 5.2).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bigraph_pyg.losses.focal import DEFAULT_FOCAL_TAU

__all__ = ["LOSS_ABLATIONS", "LossWeights"]


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

    def for_model(self, config) -> LossWeights:
        """These weights with the terms a model of ``config`` lacks at 0.

        Args:
            config (BiGraphConfig): The architecture; without a skeleton
                branch the skeleton weights are 0 and the focal term off.

        Returns:
            LossWeights: the weights the model's loss computes.
        """
        if config.use_skeleton:
            return self
        return replace(
            self,
            use_focal=False,
            skeleton_joints_3d=0.0,
            skeleton_joints_2d=0.0,
        )


#: Ablations of the loss (paper Table 5) as :class:`LossWeights` overrides;
#: the model is its base preset's (``TrainConfig(loss=LossWeights(...))``).
LOSS_ABLATIONS: dict[str, dict[str, object]] = {
    # Table 5 "no FL": plain L1 on the skeleton joints.
    "no_focal": dict(use_focal=False),
}

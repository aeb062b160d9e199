r"""Training losses of the paper (Eq. 6 and the focal loss, Sec. 4.4).

Pure functions on tensors plus two thin modules (:class:`FocalRegressionLoss`,
:class:`BiGraphLoss`). Every loss takes an optional per-sample boolean mask
(``has_smpl``, ``has_pose_3d``: does this sample have that ground truth?).
Masked samples never influence the value or the gradient, even if their
targets hold garbage or NaN, and a batch with no valid sample gives an exact
0 that is still connected to the graph (``backward()`` works, no NaN).

Units follow GraphCMR's data pipeline: 3D quantities in metres, 2D keypoints
in normalised crop coordinates ``[-1, 1]``.

The L1 and SMPL terms are defined in ``bigraph_pyg.losses.functional``, the
focal loss (function and module) in ``bigraph_pyg.losses.focal``, the weights
of Eq. 6 in ``bigraph_pyg.losses.loss_weights`` and the total loss in
``bigraph_pyg.losses.bigraph_loss``; import them all from here.
"""

from bigraph_pyg.losses.bigraph_loss import BiGraphLoss
from bigraph_pyg.losses.focal import (
    FocalRegressionLoss,
    focal_regression_loss,
)
from bigraph_pyg.losses.functional import (
    keypoint_2d_l1_loss,
    keypoint_3d_l1_loss,
    smpl_param_loss,
    vertex_l1_loss,
)
from bigraph_pyg.losses.loss_weights import LOSS_ABLATIONS, LossWeights

__all__ = [
    "LOSS_ABLATIONS",
    "BiGraphLoss",
    "FocalRegressionLoss",
    "LossWeights",
    "focal_regression_loss",
    "keypoint_2d_l1_loss",
    "keypoint_3d_l1_loss",
    "smpl_param_loss",
    "vertex_l1_loss",
]

r"""Evaluation metrics of the paper (Sec. 5.1): MPJPE, PA-MPJPE, MPVE, LSP seg.

Pure functions returning tensors (never numpy). The 3D metrics take
coordinates in **metres** and return **millimetres**, as the tables of the
paper report them. Root alignment is by named joints: pass the indices of the
joints whose mean is the root (for the 12-joint LSP order of the project,
:data:`HIP_INDICES`, the mid-point of the hips, as GraphCMR/MeshTransformer do).

The 3D errors are defined in ``bigraph_pyg.metrics.positions``, the
segmentation scores in ``bigraph_pyg.metrics.segmentation``; import them
from here.
"""

from bigraph_pyg.metrics.positions import (
    HIP_INDICES,
    mpjpe,
    mpve,
    pa_mpjpe,
    per_joint_error,
)
from bigraph_pyg.metrics.segmentation import (
    segmentation_accuracy_f1,
    segmentation_confusion_matrix,
    segmentation_scores,
)
from bigraph_pyg.topology.skeleton import JOINT_NAMES

__all__ = [
    "HIP_INDICES",
    "JOINT_NAMES",
    "mpjpe",
    "mpve",
    "pa_mpjpe",
    "per_joint_error",
    "segmentation_accuracy_f1",
    "segmentation_confusion_matrix",
    "segmentation_scores",
]

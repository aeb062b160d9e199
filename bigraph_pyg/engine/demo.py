"""Former home of the demo's library side; now :mod:`bigraph_pyg.apps`.

Kept so that old imports keep working: the keypoint readers and mappings
come from :mod:`bigraph_pyg.apps.keypoints`, :func:`load_image` from
:mod:`bigraph_pyg.utils.images`. :func:`bigraph_pyg.apps.predict` replaces
``reconstruct`` and :func:`bigraph_pyg.apps.save_prediction` replaces
``save_outputs``.
"""

from bigraph_pyg.apps.keypoints import (
    COCO_TO_JOINTS,
    MEDIAPIPE_TO_JOINTS,
    OPENPOSE18_TO_JOINTS,
    OPENPOSE25_TO_JOINTS,
    read_keypoints,
)
from bigraph_pyg.utils.images import load_image

__all__ = [
    "COCO_TO_JOINTS",
    "MEDIAPIPE_TO_JOINTS",
    "OPENPOSE18_TO_JOINTS",
    "OPENPOSE25_TO_JOINTS",
    "load_image",
    "read_keypoints",
]

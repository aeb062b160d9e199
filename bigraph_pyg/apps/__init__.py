"""Applications: from a photograph to a 3D body (:func:`predict`).

:mod:`~bigraph_pyg.apps.detection` finds the 2D joints (MediaPipe, the
``detect`` extra) and :mod:`~bigraph_pyg.apps.keypoints` reads them from a
keypoint file instead; :mod:`~bigraph_pyg.apps.inference` runs the model on
the crop of :mod:`~bigraph_pyg.apps.camera` and returns a
:class:`Prediction` (:mod:`~bigraph_pyg.apps.prediction`) in the field's
conventions; :mod:`~bigraph_pyg.apps.export` writes meshes, parameters,
keypoints and the overlay, under the names of
:mod:`~bigraph_pyg.apps.output_files`, which never replaces a file
unasked. :mod:`~bigraph_pyg.apps.quality` gives each person a verdict
(full body, upper body, refused) that the demo acts on.
``examples/demo.py`` is a thin CLI over these.
:mod:`~bigraph_pyg.apps.datasets` builds the training and evaluation sets
of ``examples/train_bigraph.py`` and ``eval_bigraph.py``;
:mod:`~bigraph_pyg.apps.detector_joints` gives them the detector's own 2D
joints on the synthetic renders (``--joint-noise detector``).
"""

from bigraph_pyg.apps.camera import (
    SPIN_FOCAL_RATIO,
    crop_person,
    default_focal_length,
    full_perspective_translation,
    perspective_translation,
    solve_translation,
)
from bigraph_pyg.apps.detection import (
    DETECT_EXTRA,
    PeopleSearch,
    detect_people,
    find_people,
    landmarks_to_person,
    person_score,
    select_person,
)
from bigraph_pyg.apps.export import (
    MESH_AXES,
    render_overlay,
    save_prediction,
    to_y_up,
)
from bigraph_pyg.apps.fitting import (
    BodyFit,
    FitWeights,
    fit_body,
    fit_person,
)
from bigraph_pyg.apps.inference import (
    clear_cache,
    default_model_name,
    load_default_model,
    predict,
)
from bigraph_pyg.apps.keypoints import (
    COCO_TO_JOINTS,
    MEDIAPIPE_TO_JOINTS,
    OPENPOSE18_TO_JOINTS,
    OPENPOSE25_TO_JOINTS,
    NoPersonError,
    Person,
    keypoint_box,
    read_keypoints,
)
from bigraph_pyg.apps.output_files import (
    check_new_files,
    output_stems,
    prediction_paths,
)
from bigraph_pyg.apps.prediction import Prediction, smplx_parameters
from bigraph_pyg.apps.quality import Quality, assess_quality

__all__ = [
    "COCO_TO_JOINTS",
    "DETECT_EXTRA",
    "MEDIAPIPE_TO_JOINTS",
    "MESH_AXES",
    "OPENPOSE18_TO_JOINTS",
    "OPENPOSE25_TO_JOINTS",
    "SPIN_FOCAL_RATIO",
    "BodyFit",
    "FitWeights",
    "NoPersonError",
    "PeopleSearch",
    "Person",
    "Prediction",
    "Quality",
    "assess_quality",
    "check_new_files",
    "clear_cache",
    "crop_person",
    "default_focal_length",
    "default_model_name",
    "detect_people",
    "find_people",
    "fit_body",
    "fit_person",
    "full_perspective_translation",
    "keypoint_box",
    "landmarks_to_person",
    "load_default_model",
    "output_stems",
    "person_score",
    "perspective_translation",
    "predict",
    "prediction_paths",
    "read_keypoints",
    "render_overlay",
    "save_prediction",
    "select_person",
    "smplx_parameters",
    "solve_translation",
    "to_y_up",
]

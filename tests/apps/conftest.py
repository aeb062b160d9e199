"""Fixtures for the photo-to-body pipeline: the shipped model, a fake detector.

The fake detector stands in for MediaPipe Pose (the ``detect`` extra), so
these tests need neither mediapipe nor a real person in the picture.
"""

import numpy as np
import pytest

from bigraph_pyg.apps import MEDIAPIPE_TO_JOINTS


def standing_landmarks(x0=0.3, x1=0.7, y0=0.1, y1=0.9):
    """33 MediaPipe-style landmarks (normalised x, y, visibility)."""
    lm = np.zeros((33, 3))
    lm[:, 2] = 0.9
    xs = np.linspace(x0, x1, 33)
    ys = np.linspace(y0, y1, 33)
    lm[:, 0], lm[:, 1] = xs, ys
    # The 12 joints at plausible places of a person facing the camera.
    pts = {
        28: (0.45, 0.9),
        26: (0.45, 0.7),
        24: (0.45, 0.5),
        23: (0.55, 0.5),
        25: (0.55, 0.7),
        27: (0.55, 0.9),
        16: (0.35, 0.5),
        14: (0.38, 0.4),
        12: (0.42, 0.25),
        11: (0.58, 0.25),
        13: (0.62, 0.4),
        15: (0.65, 0.5),
    }
    for i, (x, y) in pts.items():
        lm[i, :2] = (
            x0 + (x1 - x0) * (x - 0.3) / 0.4,
            y0 + (y1 - y0) * (y - 0.1) / 0.8,
        )
    assert set(pts) == set(MEDIAPIPE_TO_JOINTS)
    return lm


class FakePoseModule:
    """``mediapipe.python.solutions.pose`` returning fixed landmark sets.

    Each ``Pose().process(image)`` pops the next set (``None``: no person;
    a ``(landmarks, segmentation)`` pair gives a segmentation mask too, of
    the image's size, as ``enable_segmentation=True`` does), and records
    the image it was given.
    """

    def __init__(self, results):
        self.results = list(results)
        self.images = []
        module = self

        class _Landmark:
            def __init__(self, row):
                self.x, self.y, self.visibility = (float(v) for v in row)

        class _Result:
            def __init__(self, lm):
                self.segmentation_mask = None
                if isinstance(lm, tuple):
                    lm, self.segmentation_mask = lm
                self.pose_landmarks = (
                    None
                    if lm is None
                    else type(
                        "L", (), {"landmark": [_Landmark(r) for r in lm]}
                    )()
                )

        class Pose:
            def __init__(self, **kwargs):
                self.kwargs = kwargs

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def process(self, image):
                module.images.append(np.array(image))
                lm = module.results.pop(0) if module.results else None
                return _Result(lm)

        self.Pose = Pose


@pytest.fixture
def fake_detector(monkeypatch):
    """Install a fake MediaPipe; call it with the landmark sets to return.

    ``install(results, cls=FakePoseModule)``. The process's MediaPipe
    graph (kept by :mod:`bigraph_pyg.apps.detection`) is forgotten after
    the test, so the next test builds its own from its own fake.
    """
    import bigraph_pyg.apps.detection as detection

    def install(results, cls=FakePoseModule):
        fake = cls(results)
        monkeypatch.setattr(detection, "_mediapipe", lambda: fake)
        return fake

    yield install
    detection.clear_detector_cache()


@pytest.fixture(scope="session")
def shipped_model(body):
    from bigraph_pyg import pretrained

    return pretrained("synthetic", body)

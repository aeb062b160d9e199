"""predict() keeps the default model, body and detector once per process."""

import numpy as np
import pytest
import torch

from bigraph_pyg.apps import clear_cache, load_default_model, predict
from tests.apps.conftest import standing_landmarks


def _photo(seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)


@pytest.fixture
def loads(monkeypatch):
    """Count the shipped models and default bodies loaded."""
    import bigraph_pyg.body as body_module
    from bigraph_pyg import hub

    clear_cache()
    counts = {"models": [], "bodies": 0}
    real_pretrained, real_body = hub.pretrained, body_module.default_body

    def pretrained(name="synthetic", body=None):
        counts["models"].append(name)
        return real_pretrained(name, body)

    def default_body(*args, **kwargs):
        counts["bodies"] += 1
        return real_body(*args, **kwargs)

    monkeypatch.setattr(hub, "pretrained", pretrained)
    monkeypatch.setattr(body_module, "default_body", default_body)
    yield counts
    clear_cache()


def test_default_model_and_body_are_loaded_once(loads, fake_detector):
    """Two photos, then given keypoints (another model): each model and
    the body loaded once; load_default_model hands out the same objects."""
    fake_detector([standing_landmarks(), None] * 2)
    first = predict(_photo(0))
    second = predict(_photo(1))
    assert loads == {"models": ["synthetic-mediapipe"], "bodies": 1}
    model, body = load_default_model(detected=True)
    assert load_default_model(detected=True)[0] is model
    assert loads["models"] == ["synthetic-mediapipe"]
    # Given keypoints: the model trained on clean joints, its own entry.
    from bigraph_pyg.apps import landmarks_to_person

    person = landmarks_to_person(standing_landmarks(), 320, 240)
    predict(_photo(0), keypoints=person)
    predict(_photo(1), keypoints=person)
    assert loads["models"] == ["synthetic-mediapipe", "synthetic"]
    assert load_default_model(detected=False)[0] is not model
    assert load_default_model(detected=False)[1] is body  # one body
    assert loads["bodies"] == 1
    assert not np.allclose(first.vertices_mesh, second.vertices_mesh)
    clear_cache()
    assert load_default_model(detected=True)[0] is not model
    assert loads["models"][-1] == "synthetic-mediapipe"


def test_the_cached_model_is_left_as_it_was(loads, fake_detector):
    """predict() puts the shared model in eval mode on its device for the
    call and hands it back unchanged; the faces returned are a copy."""
    model, body = load_default_model(detected=True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    fake_detector([standing_landmarks(), None] * 2)
    pred = predict(_photo(), device="cpu")
    assert model.training  # the mode it came in
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    faces = body.faces.clone()
    pred.faces[:] = 0  # a caller editing the result
    assert torch.equal(body.faces, faces)
    model.eval()
    again = predict(_photo())
    np.testing.assert_allclose(again.vertices_mesh, pred.vertices_mesh)

"""examples/demo.py: refused people, --force, upper bodies, --all-people."""

import json

import demo
import numpy as np
import pytest
from PIL import Image

from tests.apps.conftest import FakePoseModule, standing_landmarks


@pytest.fixture
def fake_person(monkeypatch):
    import bigraph_pyg.apps.detection as detection

    def install(results):
        fake = FakePoseModule(results)
        monkeypatch.setattr(detection, "_mediapipe", lambda: fake)
        return fake

    yield install
    detection.clear_detector_cache()


@pytest.fixture
def photo(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "portrait.jpg"
    Image.fromarray(rng.integers(0, 255, (240, 320, 3), np.uint8)).save(path)
    return path


def _head_and_shoulders():
    """The astronaut's case: the face and shoulders seen, nothing else."""
    lm = standing_landmarks(0.2, 0.8, 0.1, 2.5)
    lm[13:, 2] = 0.05  # elbows, wrists, hands, hips, legs: guessed
    return lm


def _upper_body():
    lm = standing_landmarks(0.2, 0.8, -0.05, 1.9)
    lm[23:, 2] = 0.0
    lm[[23, 24], 2] = 0.9  # the hips at the bottom edge
    return lm


def test_a_refused_person_is_one_error_line_and_no_file(
    photo, tmp_path, fake_person
):
    out = tmp_path / "out"
    fake_person([_head_and_shoulders(), None])
    with pytest.raises(SystemExit) as info:
        demo.main([str(photo), "--out", str(out), "--max-side", "64"])
    msg = str(info.value.code)
    assert msg.startswith(f"error: {photo}: refused: too little of the body")
    assert "--force writes it marked low-confidence" in msg
    assert "\n" not in msg
    assert not out.exists() or not list(out.iterdir())


def test_force_writes_it_marked_low_confidence(
    photo, tmp_path, fake_person, capsys
):
    out = tmp_path / "out"
    fake_person([_head_and_shoulders(), None])
    demo.main([str(photo), "--out", str(out), "--max-side", "64", "--force"])
    err = capsys.readouterr().err
    assert f"warning: {photo}: written with --force, marked low-conf" in err
    params = json.loads((out / "portrait_params.json").read_text())
    q = params["quality"]
    assert q["verdict"] == "refused" and q["low_confidence"] is True
    assert q["reasons"][0].startswith("too little of the body seen")
    assert q["legs_seen"] is False
    assert np.load(out / "portrait_params.npz")["body_pose"].shape == (69,)


def test_an_upper_body_is_written_with_its_legs_flagged(
    photo, tmp_path, fake_person, capsys
):
    out = tmp_path / "out"
    fake_person([_upper_body(), None])
    demo.main([str(photo), "--out", str(out), "--max-side", "64"])
    printed = capsys.readouterr().out
    q = json.loads((out / "portrait_params.json").read_text())["quality"]
    if q["verdict"] == "refused":  # the fit, not the legs, refused it
        pytest.skip(f"the shipped model's fit was refused: {q['reasons']}")
    assert q["verdict"] == "upper body" and q["low_confidence"] is False
    assert q["legs_seen"] is False
    assert {"left_knee", "right_ankle"} <= set(q["unseen"])
    assert "upper body" in printed and "not seen" in printed


def test_all_people_writes_every_person(tmp_path, fake_person, capsys):
    photos = tmp_path / "in"
    photos.mkdir()
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 255, (240, 320, 3), np.uint8)).save(
        photos / "two.png"
    )
    left = standing_landmarks(0.05, 0.45, 0.05, 0.95)
    right = standing_landmarks(0.55, 0.95, 0.1, 0.9)
    fake_person([left, right, None])
    out = tmp_path / "out"
    argv = [str(photos / "two.png"), "--out", str(out), "--max-side", "64"]
    demo.main([*argv, "--all-people", "--mesh-format", "obj"])
    for stem in ("two_p0", "two_p1"):
        params = json.loads((out / f"{stem}_params.json").read_text())
        assert params["quality"]["verdict"] in ("full body", "refused")
    assert not (out / "two_p2_params.json").exists()
    assert not (out / "two_params.json").exists()
    kp0 = json.loads((out / "two_p0_keypoints.json").read_text())
    assert kp0["box_xywh"][0] < 160  # the first: the left, taller one
    # A second run would replace them: refused before any work.
    with pytest.raises(SystemExit, match=r"two_p0_"):
        demo.main([*argv, "--all-people"])
    capsys.readouterr()


def test_all_people_with_person_is_refused(capsys):
    with pytest.raises(SystemExit) as info:
        demo.parse_args(["p.jpg", "--all-people", "--person", "1"])
    assert info.value.code == 2
    assert "argument --all-people: Expected neither --person" in (
        capsys.readouterr().err
    )


def test_batch_mode_loads_the_model_once(tmp_path, fake_person, monkeypatch):
    """A folder of photos shares predict()'s model and body: one load."""
    from bigraph_pyg import hub
    from bigraph_pyg.apps import clear_cache

    clear_cache()
    loaded = []
    real = hub.pretrained

    def spy(name="synthetic", body=None):
        loaded.append(name)
        return real(name, body)

    monkeypatch.setattr(hub, "pretrained", spy)
    photos = tmp_path / "in"
    photos.mkdir()
    rng = np.random.default_rng(2)
    for name in ("a.png", "b.png", "c.png"):
        Image.fromarray(rng.integers(0, 255, (240, 320, 3), np.uint8)).save(
            photos / name
        )
    fake_person([standing_landmarks(), None] * 3)
    out = tmp_path / "out"
    demo.main([str(photos), "--out", str(out), "--max-side", "64", "--force"])
    assert loaded == ["synthetic-mediapipe"]
    assert len(list(out.glob("*_params.json"))) == 3
    clear_cache()

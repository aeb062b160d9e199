"""examples/demo.py on a folder (batch mode), with a fake detector."""

import json

import demo
import numpy as np
from PIL import Image

from tests.apps.conftest import FakePoseModule, standing_landmarks


def test_batch_mode_on_a_folder(monkeypatch, tmp_path, capsys):
    import bigraph_pyg.apps.detection as detection

    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.jpg", "b.png"):  # two b's: kept apart
        Image.fromarray(rng.integers(0, 255, (160, 120, 3), np.uint8)).save(
            photos / name
        )
    (photos / "c_broken.jpg").write_bytes(b"junk")
    (photos / "notes.txt").write_text("not a photo")
    # Per photo: one person, then nothing (detect_people's second pass).
    fake = FakePoseModule([standing_landmarks(), None] * 3)
    monkeypatch.setattr(detection, "_mediapipe", lambda: fake)
    out = tmp_path / "out"
    demo.main(
        [
            str(photos),
            "--out",
            str(out),
            "--max-side",
            "96",
            "--mesh-format",
            "obj",
        ]
    )
    for stem in ("a", "b_jpg", "b_png"):
        for suffix in (
            "_mesh.obj",
            "_smpl.obj",
            "_params.json",
            "_params.npz",
            "_keypoints.json",
            "_overlay.png",
        ):
            assert (out / f"{stem}{suffix}").is_file(), stem + suffix
        text = (out / f"{stem}_keypoints.json").read_text()
        assert "NaN" not in text and "Infinity" not in text  # strict JSON
        kp = json.loads(text)
        assert np.asarray(kp["keypoints"]).shape == (12, 2)
    assert not list(out.glob("c_broken*")) and not list(out.glob("notes*"))
    captured = capsys.readouterr()
    assert "skipped c_broken.jpg: Expected an image file" in captured.err
    assert "photos" in captured.err  # tqdm's bar
    assert "3 of 4 photos written" in captured.out

"""examples/demo.py: folders, output files, values (a fake detector)."""

import json

import demo
import numpy as np
import pytest
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


def _save_photos(folder, names, seed=0):
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in names:
        Image.fromarray(rng.integers(0, 255, (160, 120, 3), np.uint8)).save(
            folder / name
        )


def test_folder_whose_names_would_collide_is_refused(tmp_path):
    """a.jpg and a.png are written as a_jpg_* and a_png_*; a_jpg.png would
    be written as a_jpg_* too (it replaced a.jpg's files, and the demo
    said "3 of 3 written"): refused before any work, naming both."""
    photos = tmp_path / "photos"
    _save_photos(photos, ("a.jpg", "a.png", "a_jpg.png"))
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as info:
        demo.main([str(photos), "--out", str(out)])
    msg = str(info.value.code)
    assert msg.startswith("error: Expected photos whose outputs are named")
    assert "a.jpg and " in msg and "a_jpg.png, both written as a_jpg_*" in msg
    assert not out.exists()


@pytest.fixture
def fake_person(monkeypatch):
    import bigraph_pyg.apps.detection as detection

    def install(results):
        fake = FakePoseModule(results)
        monkeypatch.setattr(detection, "_mediapipe", lambda: fake)

    return install


def test_demo_never_replaces_a_users_file(tmp_path, fake_person, capsys):
    photos = tmp_path / "in"
    _save_photos(photos, ("photo.jpg",))
    out = tmp_path / "out"
    out.mkdir()
    mine = out / "photo_overlay.png"
    mine.write_bytes(b"the user's own picture")
    argv = [str(photos / "photo.jpg"), "--out", str(out), "--max-side", "64"]
    with pytest.raises(SystemExit) as info:
        demo.main(argv)
    msg = str(info.value.code)
    assert msg.startswith("error: Expected no files where the outputs go")
    assert str(mine) in msg and "--overwrite" in msg
    assert mine.read_bytes() == b"the user's own picture"
    assert sorted(p.name for p in out.iterdir()) == ["photo_overlay.png"]
    fake_person([standing_landmarks(), None])
    demo.main([*argv, "--overwrite"])
    assert Image.open(mine).size[1] == 64  # replaced, as asked
    # The same for a folder: every photo's files are checked first.
    _save_photos(photos, ("other.png",))
    with pytest.raises(SystemExit, match=r"photo_mesh\.obj"):
        demo.main([str(photos), "--out", str(out)])
    assert not (out / "other_mesh.obj").exists()
    capsys.readouterr()


def test_no_person_names_the_photo(tmp_path, fake_person):
    _save_photos(tmp_path, ("empty_beach.jpg",))
    fake_person([None])
    with pytest.raises(SystemExit) as info:
        demo.main(
            [str(tmp_path / "empty_beach.jpg"), "--out", str(tmp_path / "o")]
        )
    msg = str(info.value.code)
    assert msg.startswith("error: Expected a person in ")
    assert str(tmp_path / "empty_beach.jpg") in msg


def test_demo_out_that_is_a_file_is_one_error_line(tmp_path, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    for out, message in [
        (a_file, f"Expected a folder (got '{a_file}', a regular file)"),
        (
            a_file / "below",
            f"Expected a path below folders (got '{a_file / 'below'}', "
            f"below the regular file {a_file})",
        ),
    ]:
        with pytest.raises(SystemExit) as info:
            demo.parse_args(["photo.jpg", "--out", str(out)])
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert f"argument --out: {message}" in err
        assert "Traceback" not in err
    assert a_file.read_text() == "x"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--max-side", "0"], "argument --max-side: Expected an integer >= 1"),
        (["--person", "-1"], "argument --person: Expected an integer >= 0"),
        (
            ["--focal-length", "-500"],
            "argument --focal-length: Expected a finite number > 0",
        ),
        (["--focal-length", "nan"], "argument --focal-length: Expected a"),
        (["--device", "bogus"], "argument --device: Expected a device such"),
        (
            ["--keypoints", "kp.json", "--person", "1"],
            "argument --person: Expected 0 with --keypoints",
        ),
    ],
)
def test_demo_refuses_nonsensical_values(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        demo.parse_args(["photo.jpg", *argv])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_demo_refuses_a_gpu_it_does_not_have(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    with pytest.raises(SystemExit) as info:
        demo.parse_args(["photo.jpg", "--device", "cuda"])
    assert info.value.code == 2
    assert "torch sees 0 CUDA GPU(s)" in capsys.readouterr().err


def test_demo_bad_box_is_one_error_line(tmp_path, fake_person):
    _save_photos(tmp_path, ("p.jpg",))
    for box, message in [
        (["10", "10", "-50", "100"], "error: Expected `box` (x, y, w, h)"),
        (["0", "0", "1e6", "1e6"], "error: Expected a crop of at most"),
        (["5000", "0", "50", "50"], "error: Expected the person box to"),
    ]:
        fake_person([standing_landmarks(), None])
        with pytest.raises(SystemExit) as info:
            demo.main(
                [str(tmp_path / "p.jpg"), "--out", str(tmp_path / "o")]
                + ["--box", *box]
            )
        assert str(info.value.code).startswith(message)
    assert not (tmp_path / "o").exists()

"""output_files: one stem per photo, the files of a stem, no replacing."""

import pytest

from bigraph_pyg.apps import check_new_files, output_stems, prediction_paths


def test_output_stems_keep_photos_apart():
    stems = output_stems(["p/a.jpg", "p/a.png", "p/b.jpg", "p/my.photo.jpg"])
    assert list(stems.values()) == ["a_jpg", "a_png", "b", "my.photo"]
    # Names that differ only in case collide on a case-insensitive disk.
    assert set(output_stems(["p/A.jpg", "p/a.png"]).values()) == {
        "A_jpg",
        "a_png",
    }


def test_output_stems_that_still_collide_are_refused():
    """a.jpg beside a.png is written as a_jpg_*, as is a_jpg.png: the demo
    reported "3 of 3 written" with one photo's files replaced."""
    with pytest.raises(ValueError, match=r"p/a\.jpg and p/a_jpg\.png, both"):
        output_stems(["p/a.jpg", "p/a.png", "p/a_jpg.png"])
    with pytest.raises(ValueError, match=r"b.jpg and q/B.JPG, both .*B_JPG_\*"):
        output_stems(["p/b.jpg", "q/B.JPG"])


def test_prediction_paths_and_their_checks(tmp_path):
    paths = prediction_paths(tmp_path, "x", ("ply",), npz=False)
    assert sorted(p.name for p in paths.values()) == [
        "x_keypoints.json",
        "x_mesh.ply",
        "x_overlay.png",
        "x_params.json",
        "x_smpl.ply",
    ]
    with pytest.raises(ValueError, match=r"mesh formats among .* \['stl'\]"):
        prediction_paths(tmp_path, "x", ("stl",))
    for stem in ("", "..", "a/b"):
        with pytest.raises(ValueError, match="stem without folders"):
            prediction_paths(tmp_path, stem)


def test_check_new_files(tmp_path):
    paths = list(prediction_paths(tmp_path, "x").values())
    check_new_files(paths)  # nothing there yet
    for p in paths[:5]:
        p.write_text("mine")
    with pytest.raises(FileExistsError, match=r"x_mesh\.obj.* and 2 more"):
        check_new_files(paths)
    check_new_files(paths, overwrite=True)
    a_file = tmp_path / "f"
    a_file.write_text("x")
    with pytest.raises(NotADirectoryError, match="the regular file"):
        check_new_files([a_file / "deeper" / "y.png"], overwrite=True)

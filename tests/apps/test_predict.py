"""predict(): keypoint mapping, detection, smplx layout, camera, y-up export."""

import dataclasses
import json
import sys

import numpy as np
import pytest
import torch

from bigraph_pyg.apps import (
    MEDIAPIPE_TO_JOINTS,
    NoPersonError,
    detect_people,
    landmarks_to_person,
    predict,
    save_prediction,
    select_person,
    to_y_up,
)
from bigraph_pyg.topology import JOINT_NAMES
from tests.apps.conftest import standing_landmarks


def _photo(h=240, w=320, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 255, (h, w, 3), dtype=np.uint8)


def test_landmarks_map_to_the_twelve_joints():
    lm = np.zeros((33, 4))  # x, y, visibility, and an extra column
    lm[:, 0] = np.arange(33) / 100  # normalised x
    lm[:, 1] = np.arange(33) / 50  # normalised y
    lm[:, 2] = np.linspace(-0.2, 1.3, 33)  # visibility, out of range too
    p = landmarks_to_person(lm, width=200, height=100)
    # By name: the person's left wrist is MediaPipe's landmark 15, etc.
    expected = {
        "left_wrist": 15,
        "right_wrist": 16,
        "left_shoulder": 11,
        "right_ankle": 28,
        "left_hip": 23,
        "right_knee": 26,
    }
    for name, i in expected.items():
        k = JOINT_NAMES.index(name)
        assert MEDIAPIPE_TO_JOINTS[k] == i
        assert p.joints[k].tolist() == pytest.approx([i * 2.0, i * 2.0])
    assert p.joints.shape == (12, 2) and p.confidence.shape == (12,)
    assert p.confidence.min() >= 0 and p.confidence.max() <= 1
    assert p.confidence[JOINT_NAMES.index("right_ankle")] == 1.0
    # The box spans the landmarks with visibility > 0.5 (all 33 kinds).
    vis = np.clip(lm[:, 2], 0, 1) > 0.5
    xs, ys = lm[vis, 0] * 200, lm[vis, 1] * 100
    assert p.box.tolist() == pytest.approx(
        [xs.min(), ys.min(), np.ptp(xs), np.ptp(ys)], rel=1e-6
    )
    assert p.landmarks.shape == (33, 3)
    with pytest.raises(ValueError, match=r"shape \(33, 3\)"):
        landmarks_to_person(np.zeros((17, 3)))


def test_detect_people_largest_first_and_chosen_index(fake_detector):
    small = standing_landmarks(0.05, 0.25, 0.5, 0.9)
    large = standing_landmarks(0.5, 0.9, 0.05, 0.95)
    fake = fake_detector([small, large, None])
    img = _photo()
    people = detect_people(img)
    assert len(people) == 2 and len(fake.images) == 3
    assert people[0].area > people[1].area
    assert people[0].box[0] > 0.45 * img.shape[1]  # the large one, right
    # After the first pass the first person's box is painted over.
    x, y, w, h = people[1].box.astype(int)
    patch = fake.images[1][y + 2 : y + h - 2, x + 2 : x + w - 2]
    assert (patch == patch[0, 0]).all()
    assert select_person(people) is people[0]
    assert select_person(people, 1) is people[1]
    with pytest.raises(IndexError, match=r"\[0, 2\)"):
        select_person(people, 2)


def test_no_person_is_a_clear_error(fake_detector, shipped_model, body):
    fake_detector([None])
    with pytest.raises(NoPersonError, match="Expected a person in the image"):
        predict(_photo(), shipped_model, body)
    fake_detector([None])  # the photo named, as the demo passes it
    with pytest.raises(NoPersonError, match=r"a person in photos/beach\.jpg"):
        predict(_photo(), shipped_model, body, source="photos/beach.jpg")


def test_predict_leaves_the_model_as_it_was(fake_detector, shipped_model, body):
    """predict() runs in eval mode and hands the model back in the mode
    (and on the device) it came in."""
    fake_detector([standing_landmarks(), None])
    shipped_model.train()
    try:
        pred = predict(_photo(), shipped_model, body)
        assert shipped_model.training
        assert next(shipped_model.parameters()).device.type == "cpu"
    finally:
        shipped_model.eval()
    fake_detector([standing_landmarks(), None])
    again = predict(_photo(), shipped_model, body)
    np.testing.assert_allclose(again.vertices_mesh, pred.vertices_mesh)


def test_missing_extra_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "mediapipe", None)
    with pytest.raises(
        ImportError, match=r"pip install 'bigraph_pyg\[detect\]'"
    ):
        detect_people(_photo())


@pytest.fixture
def prediction(fake_detector, shipped_model, body):
    fake_detector([standing_landmarks(), None])
    return predict(_photo(), shipped_model, body)


def test_prediction_shapes_and_camera(prediction):
    p = prediction
    assert p.vertices_mesh.shape == p.vertices_smpl.shape == (6890, 3)
    assert p.keypoints.shape == (12, 2) and p.faces.shape[1] == 3
    assert set(p.params) == {"global_orient", "body_pose", "betas", "transl"}
    assert p.params["body_pose"].shape == (69,)
    # A real camera: the focal length is the photo's diagonal, and the
    # network's joints, at the network's translation, project where its
    # weak camera of the crop put them (up to perspective: the body's
    # depth range over its distance).
    assert p.focal_length == pytest.approx(np.hypot(240, 320))
    err = np.abs(p.project(p.joints_3d_mesh, "mesh") - p.joints_2d_mesh)
    assert err.max() < 0.05 * p.crop_box[2]
    # The body stands metres away, not SPIN's 39-60 m: its height in
    # pixels is f times its height in metres over its distance.
    for branch, v in (("mesh", p.vertices_mesh), ("smpl", p.vertices_smpl)):
        z = float(p.vertices_camera(branch)[:, 2].mean())
        assert 1.0 < z < 10.0
        tall_px = np.ptp(p.project(v, branch)[:, 1])
        assert tall_px == pytest.approx(
            p.focal_length * np.ptp(v[:, 1]) / z, rel=0.1
        )
    # The default output is fitted; the fit never raises the 2D error.
    assert p.fit is not None and p.fit.steps > 0
    assert p.fit.landmark_error[1] <= p.fit.landmark_error[0]
    assert np.isfinite(p.reprojection_error) and p.branch_distance > 0


def test_smplx_layout_round_trip(prediction, body, tmp_path):
    """The written parameters, posed by the body model, give the written
    SMPL mesh (the mesh branch is a different mesh, written beside it)."""
    import trimesh

    img = _photo()
    paths = save_prediction(prediction, img, tmp_path, "p", overlay=False)
    params = json.loads(paths["params"].read_text())
    assert params["body_model"] == "default body"
    assert params["cam_t"] == params["transl"]
    t = {
        k: torch.tensor(params[k], dtype=torch.float32)[None]
        for k in ("global_orient", "body_pose", "betas", "transl")
    }
    with torch.no_grad():
        posed = body(**t).vertices[0].numpy()
        rest = (
            body(**{k: v for k, v in t.items() if k != "transl"})
            .vertices[0]
            .numpy()
        )
    np.testing.assert_allclose(
        posed, prediction.vertices_camera("smpl"), atol=1e-4
    )
    written = trimesh.load(paths["smpl_obj"], process=False).vertices
    m = np.asarray(params["mesh_transform"])
    expected = rest @ m[:3, :3].T + m[:3, 3]
    np.testing.assert_allclose(written, expected, atol=1e-5)
    npz = np.load(paths["params_npz"])
    np.testing.assert_allclose(npz["body_pose"], params["body_pose"], atol=1e-7)
    # Both branches are written, named; the mesh branch differs from the
    # SMPL branch before the fit (params_network) by branch_distance.
    mesh = trimesh.load(paths["mesh_obj"], process=False).vertices
    net = params["params_network"]
    with torch.no_grad():
        unfitted = body(
            **{
                k: torch.tensor(net[k], dtype=torch.float32)[None]
                for k in ("global_orient", "body_pose", "betas")
            }
        ).vertices[0]
    gap = np.linalg.norm(mesh - to_y_up(unfitted.numpy()), axis=-1).mean()
    assert gap == pytest.approx(params["branch_mean_distance_m"], rel=1e-4)


def test_export_is_y_up(prediction, body, tmp_path):
    import trimesh

    # An upright body facing the camera in the model's OpenCV frame (the
    # data's global orientation at yaw 0: 180 degrees about x).
    with torch.no_grad():
        v = (
            body(global_orient=torch.tensor([[np.pi, 0.0, 0.0]]))
            .vertices[0]
            .numpy()
        )
    pred = dataclasses.replace(prediction, vertices_smpl=v, vertices_mesh=v)
    paths = save_prediction(
        pred, _photo(), tmp_path, "up", ("obj", "ply"), npz=False, overlay=False
    )
    head = int(body.template_vertices[:, 1].argmax())  # top of the rest pose
    feet = int(body.template_vertices[:, 1].argmin())
    for key in ("smpl_obj", "mesh_ply"):
        w = trimesh.load(paths[key], process=False).vertices
        np.testing.assert_allclose(w, to_y_up(v), atol=1e-5)
        assert w[head, 1] == pytest.approx(w[:, 1].max())  # head up
        assert w[head, 1] - w[feet, 1] > 1.0
        # Facing the camera, the body is written as the rest-pose template
        # is defined (y up, facing +z, towards the viewer), up to a shift.
        t = body.template_vertices.numpy()
        np.testing.assert_allclose(w - w.mean(0), t - t.mean(0), atol=1e-4)


def test_overlay_is_the_whole_photo(prediction):
    from bigraph_pyg.apps import render_overlay

    img = _photo(300, 500)
    pred = dataclasses.replace(prediction, image_size=(300, 500))
    over = render_overlay(pred, img, max_side=250)
    assert over.shape == (150, 250 + 75, 3) and over.dtype == np.uint8


def test_missing_writer_names_the_demo_extra(prediction, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "trimesh", None)
    with pytest.raises(ImportError, match=r"pip install 'bigraph_pyg\[demo\]'"):
        save_prediction(prediction, _photo(), tmp_path, "x")


def test_mediapipe_finds_the_astronaut():
    """The real detector (the ``detect`` extra), offline, on a photo."""
    pytest.importorskip("mediapipe")
    from skimage import data

    img = data.astronaut()
    try:
        people = detect_people(img)
    except ImportError as err:  # e.g. an unsupported protobuf release
        pytest.skip(str(err))
    assert people, "no person found in the astronaut photo"
    p = people[0]
    shoulders = [
        JOINT_NAMES.index(n) for n in ("left_shoulder", "right_shoulder")
    ]
    assert (p.confidence[shoulders] > 0.5).all()
    # The person's left shoulder is on the image's right (facing us).
    assert p.joints[shoulders[0], 0] > p.joints[shoulders[1], 0]
    x, y, w, h = p.box
    assert 0 <= x and x + w <= img.shape[1] + 1 and w > 100 and h > 100


def test_default_model_matches_the_2d_input(fake_detector, body, monkeypatch):
    """Without a model, predict() loads the shipped model trained on the
    source of its 2D joints: MediaPipe's, or the user's keypoints."""
    from bigraph_pyg import hub
    from bigraph_pyg.apps import clear_cache, default_model_name

    assert set(map(default_model_name, (True, False))) <= set(hub.PRETRAINED)
    clear_cache()  # predict() keeps the shipped models once loaded
    loaded = []
    real = hub.pretrained

    def spy(name="synthetic", body=None):
        loaded.append(name)
        return real(name, body)

    monkeypatch.setattr(hub, "pretrained", spy)
    fake_detector([standing_landmarks(), None])
    person = detect_people(_photo())[0]
    fake_detector([standing_landmarks(), None])
    detected = predict(_photo(), body=body)
    given = predict(_photo(), body=body, keypoints=person)
    assert loaded == ["synthetic-mediapipe", "synthetic"]
    clear_cache()  # not the spy's models for the next tests
    # The same joints and crop in, other weights: another body out.
    np.testing.assert_array_equal(detected.keypoints, given.keypoints)
    np.testing.assert_array_equal(detected.crop, given.crop)
    assert not np.allclose(detected.vertices_mesh, given.vertices_mesh)


def _person(shift=(0.0, 0.0)):
    """The standing person of the fake detector, as given keypoints."""
    p = landmarks_to_person(standing_landmarks(), 320, 240)
    return landmarks_to_person(
        p.landmarks + np.array([*shift, 0.0], np.float32)
    )


BAD_NUMBERS = [
    (dict(box=(10, 10, -50, 100)), r"`box` \(x, y, w, h\).*got \(10, 10, -50"),
    (dict(box=(10, np.nan, 50, 100)), r"`box` \(x, y, w, h\): 4 finite"),
    (dict(box=(1, 2, 3)), r"`box` \(x, y, w, h\)"),
    (dict(focal_length=-500.0), r"`focal_length` a finite number > 0 in "),
    (dict(focal_length=np.nan), r"`focal_length` .*\(got nan\)"),
    (dict(crop_scale=-2.0), r"`crop_scale` a finite number > 0 \(got -2"),
    (dict(crop_scale=np.nan), r"`crop_scale` .*\(got nan\)"),
    (dict(threshold=np.nan), r"`threshold` a confidence in \[0, 1\)"),
    (dict(threshold=1.5), r"`threshold` .*\(got 1\.5\)"),
    (dict(person=-1), r"`person` None .* or an int >= 0.*\(got -1\)"),
    (dict(person=1), r"`person` 0 with `keypoints`.*\(got 1\)"),
    (dict(device="bogus"), r"`device` such as 'cpu'.*\(got 'bogus'\)"),
    # A box of 10^12 pixels: refused before Pillow allocates the crop.
    (dict(box=(0, 0, 1e6, 1e6)), r"at most 100000000 pixels.*side 1300000"),
    (dict(box=(5000, 10, 50, 100)), r"box to overlap the image, a 320x240"),
]


@pytest.mark.parametrize("kwargs, message", BAD_NUMBERS)
def test_predict_refuses_bad_numbers(kwargs, message, shipped_model, body):
    """Each nonsensical number is a ValueError naming the argument, what
    was expected and what came; none becomes a prediction (a focal of
    -500 put the body 2.56 m behind the camera)."""
    with pytest.raises(ValueError, match=message) as info:
        predict(_photo(), shipped_model, body, keypoints=_person(), **kwargs)
    assert "Expected" in str(info.value) and "got" in str(info.value)


def test_predict_refuses_a_gpu_it_does_not_have(shipped_model, body):
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    with pytest.raises(ValueError, match=r"torch sees 0 CUDA GPU"):
        predict(
            _photo(), shipped_model, body, keypoints=_person(), device="cuda"
        )


def test_keypoints_outside_the_photo_are_refused(shipped_model, body):
    """Keypoints of another (e.g. a larger) photo: the crop would be all
    black, the prediction meaningless; the photo is named."""
    with pytest.raises(ValueError, match=r"keypoints inside a\.jpg, a 320x240"):
        # The box still overlaps the photo; no joint lies in it.
        person = _person(shift=(400.0, 0.0))
        predict(
            _photo(),
            shipped_model,
            body,
            keypoints=person,
            box=(300, 0, 200, 240),
            source="a.jpg",
        )
    with pytest.raises(ValueError, match=r"box to overlap the image, a 320x"):
        predict(_photo(), shipped_model, body, keypoints=_person((900, 0)))
    for image in (np.zeros((0, 5, 3), np.uint8), np.zeros((4, 4), np.uint8)):
        with pytest.raises(ValueError, match=r"non-empty \(H, W, 3\) uint8"):
            predict(image, shipped_model, body, keypoints=_person())


@pytest.mark.parametrize(
    "doc, message",
    [
        ({"keypoints": ["a"] * 51}, r"numbers \[x, y, v\].*51 other.*'a'"),
        ({"keypoints": [None] * 51}, r"numbers .*first None"),
        ({"keypoints": [True] * 51}, r"numbers .*first True"),
        ({"keypoints": [[1, 2, 3]] * 17}, r"51 COCO keypoint numbers"),
        ({"people": ["x"]}, r"'people' .* an object .*\(got str\)"),
        (
            {"people": [{"pose_keypoints_2d": [{}] * 75}]},
            r"numbers \[x, y, v\] \* K in BODY_25",
        ),
        ({"keypoints": [1e400] * 51}, r"finite keypoints"),
    ],
)
def test_bad_keypoint_json_contents_name_the_file(doc, message, tmp_path):
    from bigraph_pyg.apps import read_keypoints

    path = tmp_path / "kp.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=message) as info:
        read_keypoints(path)
    assert str(path) in str(info.value)


def test_keypoints_path_that_is_a_folder_is_named(tmp_path):
    from bigraph_pyg.apps import read_keypoints

    with pytest.raises(FileNotFoundError, match=r"JSON file .*\(got a folder"):
        read_keypoints(tmp_path)


def test_save_prediction_never_replaces_files_unasked(prediction, tmp_path):
    img = _photo()
    paths = save_prediction(prediction, img, tmp_path, "p", overlay=False)
    paths["keypoints"].write_text("the user's own notes")
    with pytest.raises(FileExistsError, match=r"p_mesh\.obj.*--overwrite"):
        save_prediction(prediction, img, tmp_path, "p", overlay=False)
    assert paths["keypoints"].read_text() == "the user's own notes"
    again = save_prediction(
        prediction, img, tmp_path, "p", overlay=False, overwrite=True
    )
    assert json.loads(again["keypoints"].read_text())["joint_names"]
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    for out in (a_file, a_file / "below"):
        with pytest.raises(NotADirectoryError, match=r"regular file .*a_file"):
            save_prediction(prediction, img, out, "p", overlay=False)
    with pytest.raises(ValueError, match=r"`max_side` to be a positive int"):
        save_prediction(prediction, img, tmp_path / "new", "p", max_side=0)
    assert not (tmp_path / "new").exists()  # refused before any write


def test_a_body_reaching_through_the_camera_plane_is_moved_back():
    """grace_hopper's close-up: the network's camera put the body 0.532 m
    away while its SMPL body reached 0.529 m towards the lens; the fit
    refused that start with a ValueError. The placement now moves such a
    body back along its root's ray."""
    from bigraph_pyg.apps.inference import MIN_NEAR, _in_front

    verts = np.array([[0.1, 0.2, -0.529], [-0.2, -0.3, 0.1], [0.0, 0.0, 0.0]])
    t = np.array([0.05, -0.02, 0.532])
    moved = _in_front(t, verts)
    assert (verts + moved)[:, 2].min() == pytest.approx(MIN_NEAR)
    # The root projects where it did (x/z, y/z unchanged), further away.
    np.testing.assert_allclose(moved[:2] / moved[2], t[:2] / t[2])
    assert moved[2] > t[2]
    # A body already in front is left where it is.
    far = np.array([0.05, -0.02, 3.0])
    np.testing.assert_array_equal(_in_front(far, verts), far)
    # A root behind the camera goes on the optical axis, in front.
    back = _in_front(np.array([0.3, 0.1, -1.0]), verts)
    np.testing.assert_allclose(back, [0.0, 0.0, MIN_NEAR + 0.529])

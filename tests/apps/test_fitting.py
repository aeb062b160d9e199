"""fit_body: the body fitted to 2D landmarks, a mask, priors, 3D joints."""

import numpy as np
import pytest
import torch

from bigraph_pyg.apps.fitting import (
    MEDIAPIPE_LANDMARK_NAMES,
    FitWeights,
    PosePrior,
    _SkinnedSubset,
    fit_body,
    landmark_regressor,
    load_pose_prior,
    mesh_roughness,
    silhouette_iou,
)
from bigraph_pyg.topology import JOINT_NAMES, SMPL_JOINT_NAMES

F, CENTER = 1000.0, np.array([320.0, 480.0])
TRUE_T = np.array([0.05, 0.1, 4.0])


def _pose(body, pose, betas, orient=(np.pi, 0.0, 0.0)):
    """Posed vertices (V, 3) float64, model frame."""
    with torch.no_grad():
        v = body(
            betas=torch.as_tensor(betas, dtype=torch.float32)[None],
            body_pose=torch.as_tensor(pose, dtype=torch.float32)[None],
            global_orient=torch.as_tensor(orient, dtype=torch.float32)[None],
        ).vertices[0]
    return v.double().numpy()


def _project(points, t=TRUE_T):
    x = points + t
    return x[:, :2] / x[:, 2:] * F + CENTER


@pytest.fixture(scope="module")
def scene(body):
    """A posed body 4 m away, its 33 landmarks and 12 joints."""
    from bigraph_pyg.data.poses import sample_body_pose
    from bigraph_pyg.topology import SMPL_TO_JOINTS

    rng = np.random.default_rng(3)
    pose = sample_body_pose(rng).body_pose.astype(np.float64)
    betas = rng.standard_normal(10) * 0.8
    v = _pose(body, pose, betas)
    reg = landmark_regressor(body).double().numpy()
    jr = body.joint_regressor.double().numpy()[list(SMPL_TO_JOINTS)]
    return {
        "pose": pose,
        "betas": betas,
        "vertices": v,
        "landmarks": _project(reg @ v),
        "joints_3d": jr @ v,
        "rng": rng,
    }


def _perturbed(scene, rng, size=0.12):
    return {
        "global_orient": np.array([np.pi, 0.0, 0.0]) + rng.normal(0, 0.1, 3),
        "body_pose": scene["pose"] + rng.normal(0, size, 69),
        "betas": np.zeros(10),
        "transl": TRUE_T + np.array([0.15, -0.1, 0.8]),
    }


def test_landmark_regressor_rows(body):
    """Joints are joint-regressor rows; face, hand and foot points are one
    vertex each, where the rest pose puts them (y up, facing +z, left at
    +x)."""
    reg = landmark_regressor(body)
    assert reg.shape == (33, body.num_vertices)
    jr = body.joint_regressor
    for name in JOINT_NAMES:
        k = MEDIAPIPE_LANDMARK_NAMES.index(name)
        torch.testing.assert_close(reg[k], jr[SMPL_JOINT_NAMES.index(name)])
    lm = (reg @ body.template_vertices).numpy()
    at = {n: lm[k] for k, n in enumerate(MEDIAPIPE_LANDMARK_NAMES)}
    for k, name in enumerate(MEDIAPIPE_LANDMARK_NAMES):
        if name not in JOINT_NAMES:
            row = reg[k]
            assert int((row != 0).sum()) == 1 and float(row.max()) == 1.0
    head = body.template_joints()[SMPL_JOINT_NAMES.index("head")].numpy()
    tv = body.template_vertices.numpy()
    assert at["nose"][2] == pytest.approx(tv[tv[:, 1] > head[1], 2].max())
    for side, sign in (("left", 1), ("right", -1)):
        assert sign * at[f"{side}_eye"][0] > 0
        assert sign * at[f"{side}_ear"][0] > sign * at[f"{side}_eye"][0]
        assert at[f"{side}_eye"][1] > at["nose"][1] > at[f"mouth_{side}"][1]
        assert sign * at[f"{side}_index"][0] > sign * at[f"{side}_wrist"][0]
        assert at[f"{side}_index"][2] > at[f"{side}_pinky"][2]
        assert at[f"{side}_foot_index"][2] > at[f"{side}_heel"][2]
        assert at[f"{side}_heel"][1] < at[f"{side}_ankle"][1]
    with pytest.raises(ValueError, match="landmark names"):
        landmark_regressor(body, ("nose", "tail"))


@pytest.mark.parametrize("smpl", [False, True])
def test_skinned_subset_matches_the_body_model(body, smpl, tmp_path):
    """The fit's skinning of some vertices equals the body model's output
    at those vertices (dense reference), pose blend shapes included."""
    from bigraph_pyg.geometry import axis_angle_to_matrix

    if smpl:
        from bigraph_pyg.body import load_smpl
        from bigraph_pyg.testing.fake_smpl import write_fake_smpl

        write_fake_smpl(tmp_path)
        body = load_smpl(tmp_path)  # random posedirs
    g = torch.Generator().manual_seed(0)
    betas = torch.randn(10, generator=g)
    aa = torch.randn(24, 3, generator=g) * 0.4
    index = torch.randperm(body.num_vertices, generator=g)[:500]
    with torch.no_grad():
        ref = body(
            betas=betas[None], body_pose=aa[None, 1:], global_orient=aa[None, 0]
        ).vertices[0]
        out = _SkinnedSubset(body, index)(betas, axis_angle_to_matrix(aa))
    torch.testing.assert_close(out, ref[index], atol=1e-5, rtol=1e-5)


def test_gradients_flow_through_the_body_model():
    """gradcheck (float64) of the skinning w.r.t. shape and rotations."""
    from bigraph_pyg.body import default_body
    from bigraph_pyg.geometry import axis_angle_to_matrix

    body = default_body(dtype=torch.float64)
    skin = _SkinnedSubset(body, torch.arange(0, body.num_vertices, 700))
    betas = torch.randn(10, dtype=torch.float64, requires_grad=True)
    aa = (torch.randn(24, 3, dtype=torch.float64) * 0.3).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda b, a: skin(b, axis_angle_to_matrix(a)), (betas, aa)
    )


def test_fit_recovers_a_posed_body(body, scene):
    """From a perturbed start, the fit to the body's own projected
    landmarks (and its 3D joints) brings the 2D error to ~0 and the
    body close in 3D, at the right distance."""
    rng = np.random.default_rng(0)
    init = _perturbed(scene, rng)
    fit = fit_body(
        body,
        init,
        scene["landmarks"],
        np.ones(33),
        F,
        CENTER,
        joints_3d=scene["joints_3d"],
        steps=80,
    )
    start, end = fit.landmark_error
    assert start > 0.05 and end < 0.005
    # The body's shape and pose within 2 cm (centred), its distance within
    # 3%: one view leaves a slightly larger body slightly further away.
    centred = fit.vertices - fit.vertices.mean(0)
    truth = scene["vertices"] - scene["vertices"].mean(0)
    assert np.linalg.norm(centred - truth, axis=1).mean() < 0.02  # metres
    depth = fit.params["transl"][2] + fit.vertices[:, 2].mean()
    true_depth = TRUE_T[2] + scene["vertices"][:, 2].mean()
    assert depth == pytest.approx(true_depth, rel=0.03)
    assert fit.loss[1] < fit.loss[0]
    # The result is what its parameters pose, and where they project.
    np.testing.assert_allclose(
        _pose(
            body,
            fit.params["body_pose"],
            fit.params["betas"],
            fit.params["global_orient"],
        ),
        fit.vertices,
        atol=1e-4,
    )
    reg = landmark_regressor(body).double().numpy()
    np.testing.assert_allclose(
        _project(reg @ fit.vertices, fit.params["transl"]),
        fit.landmarks_2d,
        atol=0.05,
    )


def test_fit_to_twelve_joints(body, scene):
    """A keypoint file's 12 joints are fitted too (JOINT_NAMES order)."""
    from bigraph_pyg.topology import SMPL_TO_JOINTS

    jr = body.joint_regressor.double().numpy()[list(SMPL_TO_JOINTS)]
    j2d = _project(jr @ scene["vertices"])
    init = _perturbed(scene, np.random.default_rng(1))
    fit = fit_body(body, init, j2d, np.ones(12), F, CENTER, steps=60)
    assert fit.landmarks_2d.shape == (12, 2)
    assert fit.landmark_error[1] < 0.3 * fit.landmark_error[0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_never_raises_the_landmark_error(body, scene, seed):
    """Even where the priors pull away from the landmarks (the start is
    the truth, the pose prior is heavy, the landmarks noisy), the
    returned body's landmark error is at most the start's."""
    rng = np.random.default_rng(seed)
    init = {
        "global_orient": np.array([np.pi, 0.0, 0.0]),
        "body_pose": scene["pose"],
        "betas": scene["betas"],
        "transl": TRUE_T,
    }
    noisy = scene["landmarks"] + rng.normal(0, 3.0, (33, 2))
    conf = rng.uniform(0.2, 1.0, 33)
    fit = fit_body(
        body,
        init,
        noisy,
        conf,
        F,
        CENTER,
        steps=20,
        weights=FitWeights(pose_prior=10.0, shape_prior=10.0),
    )
    assert fit.landmark_error[1] <= fit.landmark_error[0]


def _mask_of(vertices, faces, t=TRUE_T, size=(960, 640)):
    """A silhouette: the projected body's triangles filled."""
    from PIL import Image, ImageDraw

    img = Image.new("L", (size[1], size[0]), 0)
    draw = ImageDraw.Draw(img)
    for tri in _project(vertices, t)[faces]:
        draw.polygon([tuple(p) for p in tri], fill=1)
    return np.asarray(img, np.float32)


def test_silhouette_iou_and_the_mask_term(body, scene):
    """The IoU of the body with its own silhouette is ~1; fitted to the
    joints and the silhouette, a body's outline matches it better than
    fitted to the joints alone."""
    faces = body.faces.numpy()
    mask = _mask_of(scene["vertices"], faces)
    p2d = _project(scene["vertices"])
    box = [*p2d.min(0), *(p2d.max(0) - p2d.min(0))]
    # Up to the grid's resolution (thin fingers, edges).
    assert silhouette_iou(p2d, faces, mask, box) > 0.93
    assert silhouette_iou(p2d, faces, mask, box, resolution=640) > 0.96
    assert silhouette_iou(p2d + [40, 0], faces, mask, box) < 0.9
    assert silhouette_iou(p2d, faces, np.zeros_like(mask)) == 0.0
    # Only the 12 joints and a wrong shape: the mask tells the outline.
    from bigraph_pyg.topology import SMPL_TO_JOINTS

    jr = body.joint_regressor.double().numpy()[list(SMPL_TO_JOINTS)]
    j2d = _project(jr @ scene["vertices"])
    init = _perturbed(scene, np.random.default_rng(2), size=0.05)
    init["betas"] = -scene["betas"]
    ious = []
    for m in (None, mask):
        fit = fit_body(
            body, init, j2d, np.ones(12), F, CENTER, mask=m, steps=60
        )
        placed = _project(fit.vertices, fit.params["transl"])
        ious.append(silhouette_iou(placed, faces, mask, box))
    assert ious[1] > ious[0] + 0.02


def test_pose_prior_is_the_training_poses_gaussian():
    """The shipped prior: the mean and spread of the generator's poses."""
    from bigraph_pyg.data.poses import sample_body_pose

    prior = load_pose_prior()
    assert isinstance(prior, PosePrior) and prior.num_samples >= 10000
    assert prior.mean.shape == (69,) and prior.covariance.shape == (69, 69)
    np.linalg.cholesky(prior.covariance)
    rng = np.random.default_rng(123)
    fresh = np.stack([sample_body_pose(rng).body_pose for _ in range(300)])
    se = np.sqrt(np.diag(prior.covariance) / len(fresh))
    assert (np.abs(fresh.mean(0) - prior.mean) < 5 * se + 1e-3).all()
    white = prior.whitening()
    energy = ((fresh - prior.mean) @ white.T) ** 2
    assert 0.5 < energy.mean() < 2.0  # ~1 for the training poses
    wild = ((np.full(69, 1.5) - prior.mean) @ white.T) ** 2
    assert wild.mean() > 50 * energy.mean()


def test_mesh_roughness_orders_smooth_and_ragged(body):
    faces = body.faces.numpy()
    v = body.template_vertices.double().numpy()
    rough = v + np.random.default_rng(0).normal(0, 0.01, v.shape)
    assert mesh_roughness(rough, faces) > 1.5 * mesh_roughness(v, faces)
    smooth_n = mesh_roughness(v, faces, normal=True)
    assert smooth_n < mesh_roughness(v, faces)  # tangential part left out
    assert mesh_roughness(rough, faces, normal=True) > 2 * smooth_n
    assert mesh_roughness(v * 3.0, faces) == pytest.approx(
        mesh_roughness(v, faces)
    )  # scale-free
    with pytest.raises(ValueError, match=r"vertices \(V, 3\)"):
        mesh_roughness(v[:, :2], faces)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"init": {"betas": np.zeros(10)}}, "init with keys"),
        (
            {"points": np.zeros((5, 2)), "conf": np.ones(5)},
            "33 landmarks or the 12 joints",
        ),
        ({"conf": np.ones(7)}, r"confidence \(K,\)"),
        ({"focal": -5.0}, "focal_length > 0"),
        ({"steps": -1}, "steps to be an int >= 0"),
        ({"transl": [0.0, 0.0, -3.0]}, "in front of the camera"),
        ({"mask": np.zeros(5)}, r"mask \(H, W\)"),
    ],
)
def test_fit_errors_name_the_argument(body, scene, change, message):
    init = _perturbed(scene, np.random.default_rng(0))
    if "transl" in change:
        init["transl"] = np.asarray(change["transl"])
    kwargs = dict(
        body=body,
        init=change.get("init", init),
        points_2d=change.get("points", scene["landmarks"]),
        confidence=change.get("conf", np.ones(33)),
        focal_length=change.get("focal", F),
        camera_center=CENTER,
        mask=change.get("mask"),
        steps=change.get("steps", 2),
    )
    with pytest.raises(ValueError, match=message):
        fit_body(**kwargs)
    with pytest.raises(ValueError, match="FitWeights.pose_prior"):
        FitWeights(pose_prior=-1.0)


def test_fit_on_a_real_photo():
    """MediaPipe on scikit-image's astronaut: the fitted body is closer to
    the detected landmarks than the network's (the ``detect`` extra)."""
    pytest.importorskip("mediapipe")
    data = pytest.importorskip("skimage.data")
    from bigraph_pyg.apps import predict

    try:
        pred = predict(data.astronaut())
    except ImportError as err:  # e.g. an unsupported protobuf release
        pytest.skip(str(err))
    start, end = pred.fit.landmark_error
    assert end < start
    assert pred.fit.params["transl"][2] < 10.0  # metres, not SPIN's 40+
    plain = predict(data.astronaut(), fit=False)
    assert plain.fit is None
    np.testing.assert_allclose(
        plain.params["transl"], pred.params_network["transl"], atol=1e-5
    )


def test_predict_refuses_a_mask_of_another_size(
    fake_detector, shipped_model, body
):
    from bigraph_pyg.apps import predict
    from tests.apps.conftest import standing_landmarks

    fake_detector([standing_landmarks(), None])
    photo = np.random.default_rng(0).integers(0, 255, (240, 320, 3), np.uint8)
    with pytest.raises(ValueError, match=r"mask of the photo's size \(240"):
        predict(photo, shipped_model, body, mask=np.zeros((10, 10)))


def test_a_body_cut_by_the_frame_keeps_its_legs(body, scene):
    """Below the photo the mask says nothing: the legs of a body cut by the
    frame at mid-body cost nothing there (they were pulled into the frame,
    against the landmarks), and the outline is compared in the photo."""
    faces = body.faces.numpy()
    lm = scene["landmarks"]
    p2d = _project(scene["vertices"])
    cut = int(np.median(p2d[:, 1]))  # the frame ends at mid-body
    mask = _mask_of(scene["vertices"], faces)[:cut]
    conf = (lm[:, 1] < cut - 5).astype(float)
    init = _perturbed(scene, np.random.default_rng(5), size=0.05)
    init["betas"] = scene["betas"]
    fit = fit_body(
        body,
        init,
        lm,
        conf,
        F,
        CENTER,
        mask=mask,
        joints_3d=scene["joints_3d"],
        steps=40,
    )
    # Before the fix: 0.38, and a landmark error twice as large.
    assert fit.terms["silhouette_inside"] < 0.01
    assert fit.landmark_error[1] < 0.1 * fit.landmark_error[0]
    box = [*p2d.min(0), *(p2d.max(0) - p2d.min(0))]
    assert silhouette_iou(p2d, faces, mask, box) > 0.93  # in the photo


def _folded_upper_body(scene):
    """The scene's 33 landmarks with MediaPipe's guesses for legs below the
    frame: folded up to the hips (basketball2.png's cut man), the right
    knee and ankle unconfident, the left ones confident."""
    from bigraph_pyg.apps.keypoints import MEDIAPIPE_TO_JOINTS, Person

    lm = np.zeros((33, 3))
    lm[:, :2] = scene["landmarks"]
    lm[:, 2] = 0.95
    hips = lm[[23, 24], :2].mean(0)
    legs = np.arange(25, 33)
    lm[legs, :2] = hips + 0.3 * (lm[legs, :2] - hips)  # folded up
    lm[legs, 0] -= 40.0
    lm[[26, 28, 30, 32], 2] = 0.1  # the right leg: not seen
    idx = list(MEDIAPIPE_TO_JOINTS)
    return Person(lm[idx, :2], lm[idx, 2], np.zeros(4), landmarks=lm)


def test_an_upper_body_keeps_the_networks_legs(body, scene):
    """A knee or an ankle unseen: the legs' landmarks leave the 2D term and
    the legs' rotations stay the network's (the start), flagged in the
    record; fitted to the guesses, the legs fold (the old behaviour)."""
    from bigraph_pyg.apps.fitting import LEG_JOINTS, LEG_LANDMARKS, fit_person

    person = _folded_upper_body(scene)
    init = _perturbed(scene, np.random.default_rng(2), size=0.05)
    kw = dict(joints_3d=scene["joints_3d"], steps=20)
    fit = fit_person(body, init, person, F, CENTER, **kw)
    assert fit.kept_joints == LEG_JOINTS
    assert set(LEG_LANDMARKS) <= set(fit.unseen_landmarks)
    assert "left_wrist" not in fit.unseen_landmarks
    pose = fit.params["body_pose"].reshape(23, 3)
    start = np.asarray(init["body_pose"], np.float32).reshape(23, 3)
    legs = [SMPL_JOINT_NAMES.index(n) - 1 for n in LEG_JOINTS]
    np.testing.assert_array_equal(pose[legs], start[legs])
    assert np.abs(pose - start).max() > 1e-3  # the rest was fitted
    followed = fit_person(body, init, person, F, CENTER, legs_seen=True, **kw)
    assert followed.kept_joints == ()
    moved = followed.params["body_pose"].reshape(23, 3)[legs] - start[legs]
    assert np.abs(moved).max() > 0.05  # the guesses pull the legs


def test_upper_body_options_name_the_argument(body, scene):
    from bigraph_pyg.apps.fitting import fit_person

    person = _folded_upper_body(scene)
    init = _perturbed(scene, np.random.default_rng(2))
    with pytest.raises(ValueError, match="legs_seen"):
        fit_person(body, init, person, F, CENTER, legs_seen="no", steps=0)
    with pytest.raises(ValueError, match="keep_pose"):
        fit_person(body, init, person, F, CENTER, keep_pose=["pelvis"])

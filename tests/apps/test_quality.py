"""The quality verdict: full body, upper body (legs not seen), refused."""

import json

import numpy as np
import pytest

from bigraph_pyg.apps import Quality, assess_quality, predict
from bigraph_pyg.apps.detection import clear_detector_cache
from bigraph_pyg.apps.quality import (
    HEIGHT_PER_TORSO,
    MAX_REPROJECTION,
    body_box,
    body_height,
)
from bigraph_pyg.topology import JOINT_NAMES
from tests.apps.conftest import standing_landmarks

H, W = 240, 320
LEGS = ("left_knee", "right_knee", "left_ankle", "right_ankle")


def _photo(seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 255, (H, W, 3), dtype=np.uint8)


def _upper_body_landmarks():
    """A portrait: the person from the face to the hips fills the photo,
    the legs below the frame (MediaPipe guesses them with low visibility:
    the astronaut's case)."""
    lm = standing_landmarks(0.2, 0.8, -0.05, 1.9)  # legs far below
    lm[23:, 2] = 0.0  # hips, knees, ankles, feet: not seen...
    lm[[23, 24], 2] = 0.9  # ...but the hips, at the bottom edge
    return lm


def _joints(lm):
    from bigraph_pyg.apps import MEDIAPIPE_TO_JOINTS

    return lm[list(MEDIAPIPE_TO_JOINTS), :2], lm[list(MEDIAPIPE_TO_JOINTS), 2]


def test_full_body_when_torso_and_legs_are_seen():
    lm = standing_landmarks(30, 90, 10, 230)  # pixels
    joints, conf = _joints(lm)
    box = np.array([30, 10, 60, 220.0])
    q = assess_quality(joints, conf, box, joints + 3.0)
    assert q.verdict == "full body" and q.confident and q.legs_seen
    assert q.reasons == () and q.unseen == ()
    assert q.reprojection_error == pytest.approx(np.hypot(3, 3) / 220)
    json.dumps(q.as_dict())  # plain JSON


def test_a_body_that_does_not_fit_is_refused():
    lm = standing_landmarks(30, 90, 10, 230)
    joints, conf = _joints(lm)
    box = np.array([30, 10, 60, 220.0])
    far = joints + np.array([0.0, 0.2 * 220])  # 0.2 of the height off
    q = assess_quality(joints, conf, box, far)
    assert q.verdict == "refused" and not q.confident
    (reason,) = q.reasons
    assert reason.startswith("the body does not fit the detected joints")
    assert f"at most {MAX_REPROJECTION:g}" in reason
    assert q.as_dict()["low_confidence"] is True


def test_head_and_shoulders_are_refused():
    lm = standing_landmarks(30, 90, 10, 230)
    joints, conf = _joints(lm)
    conf = np.where(
        [n.endswith("shoulder") for n in JOINT_NAMES], conf, 0.1
    )  # the astronaut: shoulders only
    q = assess_quality(joints, conf, np.array([30, 10, 60, 80.0]), joints)
    assert q.verdict == "refused"
    assert "too little of the body seen: 2 of 12 joints" in q.reasons[0]
    assert "left hip, right hip" in q.reasons[0]


def test_a_tiny_person_is_refused():
    lm = standing_landmarks(3, 9, 1, 23)  # 22 px
    joints, conf = _joints(lm)
    q = assess_quality(joints, conf, np.array([3, 1, 6, 22.0]), joints)
    assert q.verdict == "refused" and "too small: 22 px" in q.reasons[0]


def test_upper_body_is_scaled_from_its_torso():
    """Legs unseen: the body's height is HEIGHT_PER_TORSO torsos, and the
    box grows down to it, its top and sides kept."""
    lm = _upper_body_landmarks() * np.array([W, H, 1.0])
    joints, conf = _joints(lm)
    box = np.array([60.0, 0.0, 200.0, 120.0])
    sh = joints[JOINT_NAMES.index("left_shoulder"), 1]
    hip = joints[JOINT_NAMES.index("left_hip"), 1]
    torso = float(hip - sh)
    assert body_height(joints, conf, box) == pytest.approx(
        HEIGHT_PER_TORSO * torso
    )
    grown = body_box(joints, conf, box)
    assert grown[:3].tolist() == box[:3].tolist()
    assert grown[3] == pytest.approx(HEIGHT_PER_TORSO * torso)
    q = assess_quality(joints, conf, box, joints)
    assert q.verdict == "upper body" and not q.legs_seen
    assert set(LEGS) <= set(q.unseen)


def test_predict_gives_an_upper_body_never_a_tiny_full_body(
    fake_detector, shipped_model, body
):
    """A portrait (legs below the frame): the crop is the whole person's,
    scaled from the torso, so the body's hips land near the photo's hips
    and its head near the face, not a whole tiny body over the face (the
    demo drew one, 38.7 box heights off)."""
    lm = _upper_body_landmarks()
    fake_detector([lm, None])
    pred = predict(_photo(), shipped_model, body)
    q = pred.quality
    assert q.verdict in ("upper body", "refused")
    assert set(LEGS) <= set(q.unseen) and not q.legs_seen
    torso = q.body_height / HEIGHT_PER_TORSO
    assert pred.crop_box[2] >= 1.2 * q.body_height  # the whole body's crop
    # The mesh's shoulders-to-hips span in the photo is a torso, not a
    # torso of a whole body squeezed into the face-to-hips box.
    ix = [JOINT_NAMES.index(n) for n in ("left_shoulder", "left_hip")]
    span = float(np.diff(pred.project(pred.joints_3d_mesh)[ix, 1])[0])
    assert span > 0.5 * torso
    params = pred.quality.as_dict()
    assert params["legs_seen"] is False and "left_ankle" in params["unseen"]


def test_quality_on_the_prediction_is_a_quality(
    fake_detector, shipped_model, body
):
    fake_detector([standing_landmarks(), None])
    pred = predict(_photo(), shipped_model, body)
    assert isinstance(pred.quality, Quality)
    assert pred.reprojection_error == pred.quality.reprojection_error


def test_the_astronaut_portrait_is_refused_not_a_tiny_body():
    """The real detector (the ``detect`` extra) on scikit-image's astronaut:
    head and shoulders only. Refused (the demo drew a tiny whole body over
    the face and printed it as normal); the crop, if forced, is scaled from
    the shoulders to a whole person's height."""
    pytest.importorskip("mediapipe")
    from skimage import data

    try:
        pred = predict(data.astronaut(), fit=False)
    except ImportError as err:  # e.g. an unsupported protobuf release
        pytest.skip(str(err))
    q = pred.quality
    assert q.verdict == "refused" and not q.legs_seen
    assert q.reasons[0].startswith("too little of the body seen")
    assert q.body_height > 1.5 * q.box_height  # scaled from the shoulders
    assert pred.crop_box[2] >= 1.2 * q.body_height


def _offset(joints, fraction, height):
    """Joints moved right by ``fraction`` of ``height`` pixels."""
    return np.asarray(joints, np.float64) + [fraction * height, 0.0]


def test_the_verdict_judges_the_fitted_body():
    """With the fit, the fitted body's error decides (held to
    MAX_FIT_ERROR) and the network mesh's is kept in the record: a good
    fit passes over a poor network mesh, a bad fit is refused over a good
    one."""
    from bigraph_pyg.apps.quality import MAX_FIT_ERROR

    kp, conf = _joints(standing_landmarks())
    kp = kp * [W, H]
    box = [0.3 * W, 0.1 * H, 0.4 * W, 0.8 * H]
    h = box[3]
    good = assess_quality(
        kp,
        conf,
        box,
        _offset(kp, 0.02, h),
        network_joints_2d=_offset(kp, 0.15, h),
    )
    assert good.verdict == "full body" and good.fitted
    assert good.reprojection_error == pytest.approx(0.02)
    assert good.network_error == pytest.approx(0.15)
    bad = assess_quality(
        kp,
        conf,
        box,
        _offset(kp, MAX_FIT_ERROR + 0.02, h),
        network_joints_2d=_offset(kp, 0.02, h),
    )
    assert bad.verdict == "refused"
    assert "fitted body does not fit" in bad.reasons[0]
    record = bad.as_dict()
    assert record["judged"] == "fitted body"
    assert record["network_reprojection_error_body_fraction"] == (
        pytest.approx(0.02)
    )
    assert record["thresholds"]["max_fit_error"] == MAX_FIT_ERROR
    # Without a fit the network's error decides, at MAX_REPROJECTION.
    plain = assess_quality(kp, conf, box, _offset(kp, 0.08, h))
    assert plain.verdict == "full body" and not plain.fitted
    assert plain.network_error == plain.reprojection_error
    assert 0.08 < MAX_REPROJECTION


def test_an_upper_bodys_legs_are_not_judged():
    """The legs of an upper body are the model's guess (not fitted): a
    fitted body whose legs miss MediaPipe's leg guesses still passes."""
    kp, conf = _joints(standing_landmarks())
    kp = kp * [W, H]
    conf = conf.copy()
    conf[JOINT_NAMES.index("right_ankle")] = 0.1
    box = [0.3 * W, 0.1 * H, 0.4 * W, 0.8 * H]
    fitted = np.array(kp)
    legs = [JOINT_NAMES.index(n) for n in LEGS]
    fitted[legs] += [0.0, -80.0]  # the kept legs, away from the guesses
    q = assess_quality(kp, conf, box, fitted, network_joints_2d=kp)
    assert q.verdict == "upper body" and q.reprojection_error == 0.0


def test_the_verdict_refuses_joints_of_another_shape():
    kp, conf = _joints(standing_landmarks())
    with pytest.raises(ValueError, match="joints_2d of shape"):
        assess_quality(kp, conf, [0, 0, 10, 10], kp[:11])
    with pytest.raises(ValueError, match="network_joints_2d"):
        assess_quality(
            kp, conf, [0, 0, 10, 10], kp, network_joints_2d=np.zeros(3)
        )


def test_predict_judges_the_fitted_body(fake_detector, shipped_model, body):
    """predict()'s verdict is the fitted body's (its joints through the
    photo's pinhole); the network mesh's error is kept; fit=False judges
    the mesh."""
    lm = standing_landmarks()
    fake_detector([lm, None])
    pred = predict(_photo(), shipped_model, body)
    q = pred.quality
    assert q.fitted and pred.reprojection_error == q.reprojection_error
    kp, conf = pred.keypoints, pred.keypoint_confidence
    fitted = pred.project(pred.fit.joints)
    mine = np.linalg.norm(fitted - kp, axis=-1)[conf > 0.5].mean()
    assert q.reprojection_error == pytest.approx(mine / q.body_height, 1e-4)
    net = np.linalg.norm(pred.joints_2d_mesh - kp, axis=-1)[conf > 0.5]
    assert q.network_error == pytest.approx(net.mean() / q.body_height, 1e-4)
    clear_detector_cache()
    fake_detector([lm, None])
    plain = predict(_photo(), shipped_model, body, fit=False)
    assert not plain.quality.fitted
    assert plain.quality.reprojection_error == pytest.approx(
        q.network_error, 1e-4
    )

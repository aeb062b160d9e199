"""The pose world: families, sampling, recombination, self-contact, splits."""

import numpy as np
import pytest
import torch

from bigraph_pyg.data import (
    ACTIVITIES,
    HELD_OUT_ACTIVITIES,
    JOINT_LIMITS,
    SelfContact,
    SyntheticConfig,
    sample_body_pose,
    sample_global_orient,
    training_activities,
)
from bigraph_pyg.data.generator import SampleGenerator
from bigraph_pyg.data.pose_families import (
    ARM_FAMILIES,
    HELD_OUT_FAMILIES,
    LEG_FAMILIES,
    ORIENTATIONS,
    TORSO_FAMILIES,
)
from bigraph_pyg.data.poses import _rot, euler_to_matrix, limits_array
from bigraph_pyg.data.self_contact import segment_distances
from bigraph_pyg.geometry import axis_angle_to_matrix
from bigraph_pyg.topology import SMPL_JOINT_NAMES


@pytest.fixture(scope="module")
def contact(body):
    return SelfContact(
        body.template_joints().detach().double().numpy(),
        body.parents.numpy(),
    )


def _limits(joint: str) -> np.ndarray:
    return np.array(JOINT_LIMITS[joint])


# ------------------------------------------------------------- families
def test_world_is_wide_and_every_family_range_within_the_limits():
    assert len(ACTIVITIES) >= 25 and len(training_activities()) >= 25
    tables = (
        (ARM_FAMILIES, "left_", {"collar", "shoulder", "elbow", "wrist"}),
        (LEG_FAMILIES, "left_", {"hip", "knee", "ankle", "foot"}),
        (TORSO_FAMILIES, "", {"spine", "neck", "head"}),
    )
    for table, prefix, keys in tables:
        for name, spec in table.items():
            assert set(spec) <= keys, name
            for key, ranges in spec.items():
                joints = (
                    ("spine1", "spine2", "spine3")
                    if key == "spine"
                    else (prefix + key,)
                )
                for joint in joints:
                    lim, r = _limits(joint), np.array(ranges)
                    assert (r[:, 0] <= r[:, 1]).all(), (name, key)
                    assert (lim[:, 0] <= r[:, 0]).all(), (name, joint, r)
                    assert (r[:, 1] <= lim[:, 1]).all(), (name, joint, r)
    parts = {"torso": TORSO_FAMILIES, "arm": ARM_FAMILIES, "leg": LEG_FAMILIES}
    for name, act in ACTIVITIES.items():
        for part, names in act.items():
            table = (
                ORIENTATIONS
                if part == "orientation"
                else parts[part.split("_")[-1]]
            )
            assert set(names) <= set(table), (name, part)
        # A training activity never names a held-out family.
        if name not in HELD_OUT_ACTIVITIES:
            for limb, held in (("arm", "arm"), ("leg", "leg")):
                for side in ("left", "right"):
                    assert not set(act[f"{side}_{limb}"]) & set(
                        HELD_OUT_FAMILIES[held]
                    ), name
    # Every held-out activity has a family of its own.
    for name in HELD_OUT_ACTIVITIES:
        own = {
            f
            for part in ("left_arm", "right_arm", "left_leg", "right_leg")
            for f in ACTIVITIES[name][part]
        }
        assert own & {*HELD_OUT_FAMILIES["arm"], *HELD_OUT_FAMILIES["leg"]}


def _euler_ok(pose: np.ndarray, lim: np.ndarray) -> np.ndarray:
    """Whether each joint's rotation has an Euler triple within the limits."""
    R = axis_angle_to_matrix(
        torch.tensor(pose.reshape(23, 3), dtype=torch.float64)
    ).numpy()
    y = np.arcsin(np.clip(R[:, 0, 2], -1, 1))
    x = np.arctan2(-R[:, 1, 2], R[:, 2, 2])
    z = np.arctan2(-R[:, 0, 1], R[:, 0, 0])
    np.testing.assert_allclose(
        _rot(0, x) @ _rot(1, y) @ _rot(2, z), R, atol=1e-5
    )

    def wrap(a):
        return (a + np.pi) % (2 * np.pi) - np.pi

    good = np.zeros(23, bool)
    for ang in (  # Euler angles are unique up to (x + pi, pi - y, z + pi)
        np.stack([x, y, z], 1),
        np.stack([wrap(x + np.pi), wrap(np.pi - y), wrap(z + np.pi)], 1),
    ):
        good |= ((ang >= lim[..., 0] - 1e-4) & (ang <= lim[..., 1] + 1e-4)).all(
            1
        )
    return good


def test_training_draws_within_limits_and_never_held_out(contact):
    lim = np.radians(limits_array())
    rng = np.random.default_rng(0)
    seen = set()
    held_families = {*HELD_OUT_FAMILIES["arm"], *HELD_OUT_FAMILIES["leg"]}
    for _ in range(400):
        draw = sample_body_pose(rng, contact=contact)
        seen.add(draw.activity)
        assert draw.activity not in HELD_OUT_ACTIVITIES
        assert not set(draw.families.values()) & held_families
        assert _euler_ok(draw.body_pose, lim).all()
        np.testing.assert_allclose(
            axis_angle_to_matrix(
                torch.from_numpy(draw.body_pose.astype(np.float64)).view(23, 3)
            ).numpy(),
            euler_to_matrix(draw.angles),
            atol=1e-5,
        )
        assert not contact.collides(euler_to_matrix(draw.angles))
    assert seen == set(training_activities())
    held = {
        sample_body_pose(rng, held_out=True, contact=contact).activity
        for _ in range(60)
    }
    assert held == set(HELD_OUT_ACTIVITIES)
    with pytest.raises(ValueError, match="activity weights"):
        sample_body_pose(rng, {"kneeling": 1.0})  # held out of training
    with pytest.raises(ValueError, match="activity weights"):
        sample_body_pose(rng, {"standing": float("nan")})
    with pytest.raises(ValueError, match="recombine"):
        sample_body_pose(rng, recombine=1.5)


def test_recombination_makes_combinations_no_activity_names():
    rng = np.random.default_rng(1)
    act = ACTIVITIES["phone_call"]
    arms = set(act["left_arm"]) | set(act["right_arm"])
    legs = set(act["left_leg"]) | set(act["right_leg"])

    def limbs(draw):
        return (
            {draw.families["left_arm"], draw.families["right_arm"]},
            {draw.families["left_leg"], draw.families["right_leg"]},
        )

    for _ in range(50):  # no recombination: the activity's own families
        a, g = limbs(sample_body_pose(rng, {"phone_call": 1.0}, 0.0))
        assert a <= arms and g <= legs
    foreign = 0
    for _ in range(50):
        a, g = limbs(sample_body_pose(rng, {"phone_call": 1.0}, 1.0))
        foreign += bool(a - arms or g - legs)
    assert foreign >= 40


def test_mirrored_draws_swap_sides():
    # A one-sided activity shows its phone arm on either side.
    rng = np.random.default_rng(2)
    sides = {
        "left" if d.families["left_arm"] == "phone_at_ear" else "right"
        for d in (
            sample_body_pose(rng, {"phone_call": 1.0}, 0.0) for _ in range(40)
        )
    }
    assert sides == {"left", "right"}


def test_global_orientations_tilt_lie_and_look_from_above():
    rng = np.random.default_rng(3)

    def up_axis(orientation, **kw):
        R = axis_angle_to_matrix(
            torch.from_numpy(
                sample_global_orient(rng, orientation, **kw).astype(np.float64)
            )
        ).numpy()
        return R @ np.array([0.0, 1.0, 0.0])  # the body's up, camera frame

    # Upright, seen at eye level: up is the camera's -y.
    up = up_axis("upright", elevation_prob=0.0)
    assert up[1] < -np.cos(np.radians(15))
    # Lying: up is horizontal.
    for orient in ("lying_back", "lying_front", "lying_side"):
        assert abs(up_axis(orient, elevation_prob=0.0)[1]) < np.sin(
            np.radians(30)
        )
    # Seen from above (elevation 40): the head tips towards the camera.
    up = up_axis("upright", elevation_range=(40.0, 40.0), elevation_prob=1.0)
    assert up[2] < -0.5
    with pytest.raises(ValueError, match="orientation"):
        sample_global_orient(rng, "handstand")


# --------------------------------------------------------- self-contact
def test_segment_distances_match_a_dense_search():
    rng = np.random.default_rng(4)
    p0, p1, q0, q1 = rng.normal(size=(4, 100, 3))
    p1[:20] = p0[:20]  # degenerate segments
    q1[20:30] = q0[20:30] + 1e-14
    # Parallel segments one unit apart, the offset perpendicular to them.
    d = p1[30:40] - p0[30:40]
    n = np.cross(d, [0.0, 0.0, 1.0])
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    q0[30:40], q1[30:40] = p0[30:40] + n, p1[30:40] + n
    got = segment_distances(p0, p1, q0, q1)
    t = np.linspace(0, 1, 401)
    a = p0[:, None] + t[None, :, None] * (p1 - p0)[:, None]
    b = q0[:, None] + t[None, :, None] * (q1 - q0)[:, None]
    dense = np.linalg.norm(a[:, :, None] - b[:, None], axis=-1).min((1, 2))
    assert (got <= dense + 1e-9).all()
    np.testing.assert_allclose(got, dense, atol=5e-3)
    np.testing.assert_allclose(got[30:40], 1.0, atol=1e-9)  # parallel


def test_forward_kinematics_match_the_body_model(body, contact):
    rng = np.random.default_rng(5)
    draw = sample_body_pose(rng, contact=contact)
    with torch.no_grad():
        out = body(
            betas=torch.zeros(1, 10),
            body_pose=torch.from_numpy(draw.body_pose[None]),
            global_orient=torch.zeros(1, 3),
        )
    ours = contact.posed_joints(euler_to_matrix(draw.angles))
    np.testing.assert_allclose(ours, out.joints[0, :24].numpy(), atol=2e-5)


def test_self_contact_rejects_an_arm_through_the_chest(contact):
    rest = np.tile(np.eye(3), (23, 1, 1))
    assert not contact.collides(rest)  # the T-pose
    bad = rest.copy()
    # The left arm turned to point at the body's midline (along -x): the
    # upper arm passes through the trunk.
    bad[SMPL_JOINT_NAMES.index("left_shoulder") - 1] = _rot(1, np.pi)
    assert contact.collides(bad)
    with pytest.raises(ValueError, match="overlap"):
        SelfContact(contact.joints, contact.parents, overlap=0.0)
    with pytest.raises(ValueError, match="template_joints"):
        SelfContact(contact.joints[:12], contact.parents)


# ------------------------------------------------------- the generator
def test_generator_splits_partial_views_and_visibility():
    cfg = SyntheticConfig(image_size=64, partial_prob=1.0)
    gen = SampleGenerator(cfg, render=False)
    names = sorted(ACTIVITIES)
    held = gen.geometry(0, "heldout", list(range(24)))
    train = gen.geometry(0, "train", list(range(48)))
    assert {names[i] for i in held["activity"]} <= set(HELD_OUT_ACTIVITIES)
    assert not {names[i] for i in train["activity"]} & set(HELD_OUT_ACTIVITIES)
    # Visibility = inside the crop; estimates only for visible joints.
    for a in (held, train):
        uv = a["joints_2d"]
        inside = ((uv >= 0) & (uv <= 63)).all(-1)
        np.testing.assert_array_equal(a["joints_2d_visible"] > 0, inside)
        assert (a["joints_2d_est_visible"] <= a["joints_2d_visible"]).all()
    # Every partial view cuts something: most samples lose a joint.
    assert (train["joints_2d_visible"].min(1) == 0).mean() > 0.5
    whole = SampleGenerator(
        SyntheticConfig(image_size=64, partial_prob=0.0), render=False
    ).geometry(0, "train", list(range(48)))
    assert (whole["joints_2d_visible"] == 1).all()


def test_config_refuses_held_out_weights_and_bad_ranges():
    with pytest.raises(ValueError, match="held out"):
        SyntheticConfig(activity_weights={"yoga_tree": 1.0})
    with pytest.raises(ValueError, match="partial_prob"):
        SyntheticConfig(partial_prob=-0.1)
    with pytest.raises(ValueError, match="clothing_range"):
        SyntheticConfig(clothing_range=(0.05, 0.01))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"image_size": 64.0}, "image_size an integer"),
        ({"image_size": "224"}, "image_size an integer"),
        ({"image_size": True}, "image_size an integer"),
        ({"jpeg_quality": 1000}, r"jpeg_quality an integer in \[1, 100\]"),
        ({"fill_range": (0, 0)}, "fill_range a pair"),
        ({"fill_range": (0.9, 0.7)}, "fill_range a pair"),
        ({"depth_range": (float("nan"), 3.0)}, "depth_range a pair"),
        ({"beta_std": float("nan")}, "beta_std a number"),
        ({"pixel_noise": -1.0}, "pixel_noise a number"),
        ({"background_weights": (0, 0, 0)}, "background_weights 3 finite"),
        ({"background_weights": (1, 1)}, "background_weights 3 finite"),
        ({"activity_weights": {"standing": -1.0}}, "activity_weights 1"),
        ({"joint_noise": 0.02}, "joint_noise a JointNoise"),
    ],
)
def test_config_names_each_bad_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SyntheticConfig(**kwargs)


def test_pose_only_level_must_be_a_mesh_level(tmp_path):
    from bigraph_pyg.data import SyntheticPoses

    with pytest.raises(ValueError, match="level an integer >= 0"):
        SyntheticPoses(tmp_path, 4, level=-3, progress=False)
    assert not any(tmp_path.iterdir())


def test_cached_image_of_the_wrong_size_names_the_file(
    synthetic_root, tmp_path
):
    import shutil

    from PIL import Image

    from bigraph_pyg.data import SyntheticHumans
    from bigraph_pyg.data.synthetic_cache import _image_path

    from .conftest import SYN_CONFIG, SYN_N

    root = tmp_path / "copy"
    shutil.copytree(synthetic_root, root)
    path = _image_path(root / "train", 1)
    Image.new("RGB", (32, 32)).save(path)
    ds = SyntheticHumans(
        root, "train", SYN_N, config=SYN_CONFIG, progress=False, generate=False
    )
    ds[0]  # the others still read
    with pytest.raises(ValueError, match=r"Expected a \(224, 224, 3\) uint8"):
        ds[1]

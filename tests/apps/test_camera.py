"""The photo's pinhole camera: focal length, translation from 2D points."""

import numpy as np
import pytest

from bigraph_pyg.apps.camera import (
    default_focal_length,
    full_perspective_translation,
    perspective_translation,
    solve_translation,
)


def _project(x, t, f, c):
    p = x + t
    return p[:, :2] / p[:, 2:] * f + c


def _standing(height=1.7, n=40, seed=0):
    """Points of a 1.7 m body (OpenCV axes: y down), 0.4 m wide/deep."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-0.2, 0.2, (n, 3))
    x[:, 1] = np.linspace(-height / 2, height / 2, n)
    x[[0, -1], 0] = x[[0, -1], 2] = 0.0  # head top and sole on the axis
    return x


def test_default_focal_length_is_the_diagonal():
    assert default_focal_length((480, 640)) == 800.0
    # 53.1 degrees diagonal field of view, whatever the aspect.
    for hw in ((576, 768), (1080, 1920), (512, 512)):
        f = default_focal_length(hw)
        fov = 2 * np.degrees(np.arctan(np.hypot(*hw) / 2 / f))
        assert fov == pytest.approx(53.13, abs=0.01)
    for bad in ((0, 640), (480,), (np.nan, 5), "photo"):
        with pytest.raises(ValueError, match="image_size"):
            default_focal_length(bad)


def test_a_body_stands_at_the_distance_of_its_pixel_height():
    """A 1.7 m body 400 px tall, f = 800 px: 3.4 m away (pinhole)."""
    x = _standing()
    f, c = 800.0, np.array([320.0, 240.0])
    for true in ([0.0, 0.0, 3.4], [0.3, -0.2, 5.0], [-1.0, 0.4, 12.0]):
        true = np.asarray(true)
        u = _project(x, true, f, c)
        t = solve_translation(x, u, f, c)
        np.testing.assert_allclose(t, true, atol=1e-9)
        tall = u[-1, 1] - u[0, 1]
        assert t[2] == pytest.approx(f * 1.7 / tall, rel=1e-9)


def test_solve_translation_weights():
    """A point of weight 0 is ignored; weights scale the equations."""
    x = _standing()
    f, c = 1000.0, np.array([400.0, 300.0])
    true = np.array([0.1, 0.2, 4.0])
    u = _project(x, true, f, c)
    u[3] += 250.0  # an outlier
    w = np.ones(len(x))
    w[3] = 0.0
    np.testing.assert_allclose(solve_translation(x, u, f, c, w), true)
    assert np.abs(solve_translation(x, u, f, c) - true).max() > 1e-3


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"pixels": np.zeros((3, 2))}, r"points \(N, 3\) and pixels"),
        ({"weights": np.ones(3)}, r"weights \(40,\)"),
        ({"weights": np.r_[1.0, np.zeros(39)]}, "at least 2 points"),
        ({"weights": -np.ones(40)}, "weights >= 0"),
        ({"focal_length": 0.0}, "focal length > 0"),
        ({"camera_center": [np.nan, 1.0]}, "finite"),
    ],
)
def test_solve_translation_errors(kwargs, message):
    x = _standing()
    args = dict(
        points=x,
        pixels=_project(x, np.array([0, 0, 3.0]), 800.0, np.zeros(2)),
        focal_length=800.0,
        camera_center=np.zeros(2),
    )
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        solve_translation(**args)


def test_perspective_translation_keeps_the_weak_cameras_drawing():
    """The network's body, placed by the pinhole at a few metres, projects
    where its weak camera drew it, up to perspective (depth range over
    distance); SPIN's focal length gave 40+ m for the same drawing."""
    x = _standing()
    cam = np.array([0.9, 0.05, -0.02])  # (s, tx, ty): the body fills 80%
    origin, side, hw = np.array([100.0, 20.0]), 440.0, (480, 640)
    weak = origin + side / 2 + side * cam[0] / 2 * (x[:, :2] + cam[1:])
    f = default_focal_length(hw)
    t = perspective_translation(x, cam, origin, side, hw, f)
    assert 1.5 < t[2] < 6.0
    err = np.abs(_project(x, t, f, np.array([320.0, 240.0])) - weak)
    assert err.max() < 0.02 * side
    spin = full_perspective_translation(
        cam, origin, side, hw, 5000 / 224 * side
    )
    assert spin[2] > 40
    # One point does not determine a translation: the closed form.
    np.testing.assert_allclose(
        perspective_translation(x[:1], cam, origin, side, hw, f),
        full_perspective_translation(cam, origin, side, hw, f),
    )

import numpy as np
import pytest
import smplx
import torch

from bigraph_pyg.body import (
    SMPL_URL,
    BodyModel,
    default_body_path,
    load_body,
    load_body_arrays,
    load_smpl,
    read_smpl_file,
)
from bigraph_pyg.testing.fake_smpl import write_fake_smpl
from bigraph_pyg.topology import SMPL_JOINT_NAMES


def test_fake_smpl_matches_smplx_own_loader(tmp_path):
    path = write_fake_smpl(tmp_path)
    ours = load_smpl(tmp_path)  # folder -> SMPL_NEUTRAL.pkl
    ref = smplx.SMPLLayer(model_path=str(path))  # smplx's pickle.load
    pose = torch.randn(2, 23, 3) * 0.3
    betas = torch.randn(2, 10)
    out = ours(betas=betas, body_pose=pose)
    rot = smplx.lbs.batch_rodrigues(pose.reshape(-1, 3)).view(2, 23, 3, 3)
    exp = ref(betas=betas, body_pose=rot)
    assert out.vertices.shape == (2, 6890, 3)
    assert out.joints.shape == (2, 24, 3)
    torch.testing.assert_close(out.vertices, exp.vertices)
    torch.testing.assert_close(out.joints, exp.joints[:, :24])
    assert ours.faces.dtype == torch.int64 and ours.faces.shape[1] == 3


def test_default_body_poses_and_gives_joints(body):
    assert body.num_vertices == 6890 and body.num_joints == 24
    assert body.faces.shape == (13776, 3)
    out = body()
    torch.testing.assert_close(out.vertices[0], body.template_vertices)
    torch.testing.assert_close(out.joints[0], body.template_joints())
    # Bend the left elbow 90 degrees: the wrist moves, the right one not.
    pose = torch.zeros(1, 23, 3)
    le = SMPL_JOINT_NAMES.index("left_elbow")
    pose[0, le - 1, 1] = torch.pi / 2
    bent = body(body_pose=pose).joints[0]
    lw = SMPL_JOINT_NAMES.index("left_wrist")
    rw = SMPL_JOINT_NAMES.index("right_wrist")
    rest = body.template_joints()
    forearm = (rest[lw] - rest[le]).norm()
    torch.testing.assert_close((bent[lw] - bent[le]).norm(), forearm)
    assert (bent[lw] - rest[lw]).norm() > 0.5 * forearm
    torch.testing.assert_close(bent[rw], rest[rw])
    # Shape changes the body, translation shifts it.
    shaped = body(betas=torch.ones(1, 10)).vertices[0]
    assert (shaped - body.template_vertices).norm(dim=-1).mean() > 0.01
    moved = body(transl=torch.tensor([[1.0, 2.0, 3.0]])).vertices[0]
    torch.testing.assert_close(
        moved - body.template_vertices,
        torch.tensor([1.0, 2.0, 3.0]).expand(6890, 3),
    )


def test_default_body_is_smpl_like(body):
    v = body.template_vertices
    height = v[:, 1].max() - v[:, 1].min()
    assert 1.5 < height < 2.0  # metres, Y up
    j = body.template_joints()
    names = SMPL_JOINT_NAMES
    # Left at +X, T-pose: wrists level with shoulders and far out.
    assert j[names.index("left_hip"), 0] > 0 > j[names.index("right_hip"), 0]
    for side in ("left", "right"):
        s, w = (
            j[names.index(f"{side}_shoulder")],
            j[names.index(f"{side}_wrist")],
        )
        assert abs(float(w[1] - s[1])) < 0.02
        assert abs(float(w[0])) > abs(float(s[0])) + 0.4
    w = body.skinning_weights
    torch.testing.assert_close(w.sum(1), torch.ones(6890))
    reg = body.joint_regressor
    torch.testing.assert_close(reg.sum(1), torch.ones(24))
    assert bool((reg >= 0).all())
    assert body.parents.tolist()[:4] == [-1, 0, 0, 0]


def test_default_body_asset_plain_arrays():
    with np.load(default_body_path(), allow_pickle=False) as data:
        assert data["v_template"].dtype == np.float32
        assert data["v_template"].shape == (6890, 3)
        assert data["shapedirs"].shape == (6890, 3, 10)
    assert default_body_path().stat().st_size < 5e6
    arrays = load_body_arrays()
    assert arrays["J_regressor"].shape == (24, 6890)


def test_load_body_default_and_smpl(tmp_path):
    assert load_body().num_vertices == 6890
    write_fake_smpl(tmp_path, num_vertices=100)
    assert load_body(tmp_path).num_vertices == 100


def test_chumpy_pickle_is_read(tmp_path, monkeypatch):
    import pickle
    import sys
    import types

    # A stand-in "chumpy" module, pickled like the official SMPL files.
    mod = types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x):
            self.x = x

    Ch.__module__ = "chumpy.ch"
    Ch.__qualname__ = "Ch"
    mod.Ch = Ch
    monkeypatch.setitem(sys.modules, "chumpy", types.ModuleType("chumpy"))
    monkeypatch.setitem(sys.modules, "chumpy.ch", mod)
    src = write_fake_smpl(tmp_path / "a.pkl", num_vertices=50)
    data = read_smpl_file(src)
    data["shapedirs"] = Ch(data["shapedirs"])
    with open(tmp_path / "b.pkl", "wb") as fh:
        pickle.dump(data, fh, protocol=2)
    monkeypatch.delitem(sys.modules, "chumpy.ch")
    monkeypatch.delitem(sys.modules, "chumpy")
    got = read_smpl_file(tmp_path / "b.pkl")
    np.testing.assert_array_equal(got["shapedirs"], data["shapedirs"].x)


def test_missing_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_smpl(tmp_path)
    msg = str(err.value)
    assert "SMPL_NEUTRAL.pkl" in msg
    assert "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl" in msg
    assert str(tmp_path.resolve()) in msg
    assert SMPL_URL in msg
    with pytest.raises(FileNotFoundError, match="smpl.is.tue.mpg.de"):
        load_smpl(tmp_path / "nope.pkl")
    with pytest.raises(ValueError, match="Expected 'gender'"):
        load_smpl(tmp_path, gender="other")


def test_bad_file_errors(tmp_path):
    write_fake_smpl(tmp_path, num_vertices=50, drop_keys=("weights",))
    with pytest.raises(ValueError, match=r"missing \['weights'\]"):
        load_smpl(tmp_path)
    (tmp_path / "SMPL_NEUTRAL.pkl").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="Expected a SMPL pickle"):
        load_smpl(tmp_path)


def test_array_validation_errors():
    arrays = dict(load_body_arrays())
    bad = dict(arrays, J_regressor=np.ones((24, 100)))
    with pytest.raises(ValueError, match="Expected 'J_regressor' of shape"):
        BodyModel(bad)
    bad = dict(arrays, f=np.array([[0, 1, 7000]]))
    with pytest.raises(IndexError, match="Expected 'f' ids"):
        BodyModel(bad)
    bad = dict(arrays, f=np.array([[0, 1]]))
    with pytest.raises(ValueError, match=r"Expected 'f' of shape \(F, 3\)"):
        BodyModel(bad)
    bad = dict(arrays, weights=np.ones((6890, 23)))
    with pytest.raises(ValueError, match="Expected 'weights' of shape"):
        BodyModel(bad)
    with pytest.raises(ValueError, match="Expected 'num_betas'"):
        BodyModel(arrays, num_betas=11)


def test_forward_errors(body):
    with pytest.raises(ValueError, match="Expected 'body_pose'"):
        body(body_pose=torch.zeros(1, 22, 3))
    with pytest.raises(ValueError, match="Expected 'betas'"):
        body(betas=torch.zeros(1, 11))
    with pytest.raises(ValueError, match="same batch size"):
        body(betas=torch.zeros(2, 10), body_pose=torch.zeros(3, 69))


class _Exec:
    """Pickles to numpy.testing's ``runstring`` (exec) of some code."""

    def __init__(self, code):
        self.code = code

    def __reduce__(self):
        from numpy.testing._private.utils import runstring

        return (runstring, (self.code, {}))


def test_smpl_pickle_cannot_run_code(tmp_path):
    """A numpy callable is not an array: the allow-list names exact
    globals, so a crafted SMPL_NEUTRAL.pkl is refused, not executed."""
    import pickle

    marker = tmp_path / "pwned"
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    code = f"open({str(marker)!r}, 'w').close()"
    path.write_bytes(pickle.dumps({"v_template": _Exec(code)}, protocol=2))
    with pytest.raises(ValueError, match="numpy.testing._private.utils"):
        read_smpl_file(path)
    assert not marker.exists()

"""The example scripts: eval and demo on tiny inputs; errors are one line."""

import json

import demo
import eval_bigraph
import numpy as np
import pytest
import torch
import train_bigraph
from PIL import Image


def test_eval_on_tiny_checkpoint(
    tiny_checkpoint, synthetic_root, tmp_path, capsys
):
    out = tmp_path / "m.json"
    eval_bigraph.main(
        [
            str(tiny_checkpoint),
            "--synthetic-root",
            str(synthetic_root),
            "--num-samples",
            "4",
            "--json",
            str(out),
            "--quiet",
        ]
    )
    text = capsys.readouterr().out
    assert "| PA-MPJPE (mesh joints) [mm] |" in text
    metrics = json.loads(out.read_text())["metrics"]
    for key in (
        "mpjpe",
        "pa_mpjpe",
        "mpve",
        "mpve_smpl",
        "fb_acc",
        "fb_f1",
        "parts_acc",
        "parts_f1",
    ):
        assert np.isfinite(metrics[key]), key
    assert metrics["num_samples"] == 4
    assert 0 <= metrics["fb_acc"] <= 1
    # Both synthetic splits: in distribution and the held-out families,
    # each its own table, the held-out one on other samples.
    assert "held-out pose families" in text and "in distribution" in text
    held = json.loads(out.read_text())["metrics_heldout"]
    assert held["num_samples"] == 4
    assert held["pa_mpjpe"] != metrics["pa_mpjpe"]


def test_eval_under_the_detector_noise(
    tiny_checkpoint, synthetic_root, tmp_path
):
    runs = {}
    for run, noise in (("a", "cache"), ("b", "mediapipe"), ("c", "mediapipe")):
        out = tmp_path / f"{run}.json"
        argv = [str(tiny_checkpoint), "--synthetic-root", str(synthetic_root)]
        eval_bigraph.main(
            argv
            + ["--num-samples", "4", "--json", str(out), "--quiet"]
            + ["--no-segmentation", "--joint-noise", noise]
        )
        runs[run] = json.loads(out.read_text())
    assert [runs[r]["joint_noise"] for r in "abc"] == ["cache"] + 2 * [
        "mediapipe"
    ]
    # The model reads other 2D joints; the same seed redraws the same ones.
    assert runs["a"]["metrics"]["pa_mpjpe"] != runs["b"]["metrics"]["pa_mpjpe"]
    assert runs["b"]["metrics"] == runs["c"]["metrics"]


def test_eval_on_the_detectors_joints(
    tiny_checkpoint, synthetic_root, tmp_path, monkeypatch, capsys
):
    """``--joint-noise detector`` scores the renders with a person only."""
    import sys

    from bigraph_pyg.apps import detector_joints

    argv = [str(tiny_checkpoint), "--synthetic-root", str(synthetic_root)]
    argv += ["--num-samples", "4", "--quiet", "--no-segmentation"]
    argv += ["--joint-noise", "detector"]
    monkeypatch.setitem(sys.modules, "mediapipe", None)
    with pytest.raises(
        SystemExit, match=r"pip install 'bigraph_pyg\[detect\]'"
    ):
        eval_bigraph.main(argv)
    monkeypatch.undo()
    real = detector_joints.detect_split

    def fake(folder, n, detect=None, progress=True):  # no person in render 1
        det = real(folder, n, lambda img: [], progress=False)
        det["person"] = np.arange(n) != 1
        det["joints"][:] = 100.0  # all joints at one point: a poor input
        det["confidence"][:] = 1.0
        return det

    monkeypatch.setattr(detector_joints, "detect_split", fake)
    out = tmp_path / "d.json"
    eval_bigraph.main(argv + ["--json", str(out)])
    assert "found a person in 3 of 4 test renders" in capsys.readouterr().out
    run = json.loads(out.read_text())
    assert run["joint_noise"] == "detector" and run["num_samples"] == 3
    assert run["metrics"]["num_samples"] == 3


def _astronaut(tmp_path):
    from skimage import data

    path = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)
    # Hand-placed COCO keypoints (x, y, v) of the astronaut (512x512, upper
    # body; hips at the bottom edge, legs below it marked unlabelled).
    k = {
        "left_shoulder": (330, 250),
        "right_shoulder": (160, 250),
        "left_elbow": (380, 380),
        "right_elbow": (120, 380),
        "left_wrist": (330, 470),
        "right_wrist": (175, 470),
        "left_hip": (300, 505),
        "right_hip": (200, 505),
        "left_knee": (300, 640),
        "right_knee": (200, 640),
        "left_ankle": (300, 780),
        "right_ankle": (200, 780),
    }
    names = (
        "nose",
        "left_eye",
        "right_eye",
        "left_ear",
        "right_ear",
        "left_shoulder",
        "right_shoulder",
        "left_elbow",
        "right_elbow",
        "left_wrist",
        "right_wrist",
        "left_hip",
        "right_hip",
        "left_knee",
        "right_knee",
        "left_ankle",
        "right_ankle",
    )
    flat = []
    for n in names:
        x, y = k.get(n, (250, 150))
        flat += [x, y, 0 if "knee" in n or "ankle" in n else 2]
    kp = tmp_path / "astronaut_keypoints.json"
    kp.write_text(json.dumps({"annotations": [{"keypoints": flat}]}))
    return path, kp


def test_demo_on_a_real_photograph(tiny_checkpoint, tmp_path, capsys):
    image, kp = _astronaut(tmp_path)
    out = tmp_path / "out"
    demo.main(
        [
            str(image),
            "--checkpoint",
            str(tiny_checkpoint),
            "--keypoints",
            str(kp),
            "--out",
            str(out),
            "--force",  # a 1-step checkpoint's body does not fit: refused
        ]
    )
    import trimesh

    for branch in ("mesh", "smpl"):
        mesh = trimesh.load(out / f"astronaut_{branch}.obj", process=False)
        assert mesh.vertices.shape == (6890, 3)
        assert (out / f"astronaut_{branch}.ply").is_file()
    params = json.loads((out / "astronaut_params.json").read_text())
    assert len(params["betas"]) == 10 and len(params["body_pose"]) == 69
    assert len(params["global_orient"]) == 3 and len(params["transl"]) == 3
    assert params["body_model"] == "default body"
    kps = json.loads((out / "astronaut_keypoints.json").read_text())
    assert np.asarray(kps["reprojected_mesh_joints"]).shape == (12, 2)
    png = np.asarray(Image.open(out / "astronaut_overlay.png"))
    assert png.shape == (512, 512 + 256, 3)  # the whole photo | side view
    printed = capsys.readouterr()
    assert "of the body height from them" in printed.out
    assert "written with --force, marked low-confidence" in printed.err
    assert params["quality"]["legs_seen"] is False
    demo.main(
        [
            str(image),
            "--checkpoint",
            str(tiny_checkpoint),
            "--keypoints",
            str(kp),
            "--out",
            str(out),
            "--overwrite",  # the first run's files are there
            "--force",
            "--mesh-format",
            "ply",
            "--box",
            "100",
            "200",
            "300",
            "312",
        ]
    )
    assert np.load(out / "astronaut_params.npz")["body_pose"].shape == (69,)


def test_openpose_keypoints(tmp_path):
    from bigraph_pyg.apps import read_keypoints

    flat = np.arange(75, dtype=float).reshape(25, 3)
    flat[:, 2] = 1
    path = tmp_path / "op.json"
    path.write_text(
        json.dumps({"people": [{"pose_keypoints_2d": flat.ravel().tolist()}]})
    )
    person = read_keypoints(path)
    assert person.joints.shape == (12, 2) and person.confidence.all()
    assert person.joints[0].tolist() == flat[11, :2].tolist()  # right ankle


def test_mediapipe_mapping():
    from bigraph_pyg.apps import MEDIAPIPE_TO_JOINTS

    assert MEDIAPIPE_TO_JOINTS == (
        28,
        26,
        24,
        23,
        25,
        27,
        16,
        14,
        12,
        11,
        13,
        15,
    )


def test_user_errors_are_one_line(tiny_checkpoint, tmp_path):
    image, kp = _astronaut(tmp_path)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"junk")
    text = tmp_path / "notimage.jpg"
    text.write_text("hello")
    bad_kp = tmp_path / "bad.json"
    bad_kp.write_text(json.dumps({"keypoints": [1, 2, 3]}))
    cases = [
        (eval_bigraph.main, [str(junk)], "readable checkpoint"),
        (eval_bigraph.main, [str(tmp_path / "none.pt")], "no such file"),
        (
            eval_bigraph.main,
            [
                str(tiny_checkpoint),
                "--synthetic-root",
                str(tmp_path / "nowhere"),
            ],
            "no such folder",
        ),
        (
            eval_bigraph.main,
            [
                str(tiny_checkpoint),
                "--dataset",
                "lsp",
                "--data-root",
                str(tmp_path / "nowhere"),
            ],
            "no such folder",
        ),
        (
            demo.main,
            [str(text), "--checkpoint", str(tiny_checkpoint)],
            "Expected an image file",
        ),
        (
            demo.main,
            [
                str(image),
                "--checkpoint",
                str(tiny_checkpoint),
                "--keypoints",
                str(bad_kp),
            ],
            "51 COCO keypoint",
        ),
        (
            train_bigraph.main,
            ["--resume", "--out", str(tmp_path / "r")],
            "drop --resume",
        ),
        (
            train_bigraph.main,
            [
                "--data",
                "real",
                "--data-root",
                str(tmp_path / "nowhere"),
                "--out",
                str(tmp_path / "r2"),
            ],
            "no such folder",
        ),
        (
            train_bigraph.main,
            [
                "--data",
                "real",
                "--joint-noise",
                "mediapipe",
                "--out",
                str(tmp_path / "r3"),
            ],
            "--joint-noise cache with --data real",
        ),
        (  # a run trained on the cache's noise, resumed under another
            train_bigraph.main,
            [
                "--resume",
                "--out",
                str(tiny_checkpoint.parent.parent),
                "--joint-noise",
                "mediapipe",
            ],
            "Expected --joint-noise cache to resume",
        ),
        (
            eval_bigraph.main,
            [
                str(tiny_checkpoint),
                "--dataset",
                "lsp",
                "--joint-noise",
                "mediapipe",
            ],
            "--joint-noise cache with --dataset lsp",
        ),
    ]
    for fn, argv, match in cases:
        with pytest.raises(SystemExit) as info:
            fn(argv)
        msg = str(info.value.code)
        assert msg.startswith("error: ") and match in msg, msg
        assert "\n" not in msg


def test_other_config_checkpoint_is_refused(tiny_checkpoint, tmp_path):
    from bigraph_pyg.engine import CheckpointError, load_checkpoint

    other = tiny_config("graphcmr").to_dict()
    with pytest.raises(CheckpointError, match="same model config"):
        load_checkpoint(tiny_checkpoint, other)


from fakes import tiny_config  # noqa: E402


def test_lifting_baseline_scores_beside_the_baselines(
    tmp_path, capsys, monkeypatch
):
    """Both splits, every baseline row of the accuracy tables, ratios to
    the strongest baseline and to the lookup; the lookup is the library's
    NearestNeighbourLifter over the training poses, from the same input."""
    import lifting_baseline

    from bigraph_pyg.data import SampleGenerator, SyntheticConfig
    from bigraph_pyg.engine.nearest_lift import NearestNeighbourLifter

    out = tmp_path / "lift.json"
    argv = ["--seconds", "1", "--num-train", "64", "--num-test", "16"]
    argv += ["--cache", str(tmp_path)]
    calls = []
    call = NearestNeighbourLifter.__call__

    def spy(self, joints_2d, weights=None):
        calls.append((len(self), joints_2d.clone(), weights))
        return call(self, joints_2d, weights)

    monkeypatch.setattr(NearestNeighbourLifter, "__call__", spy)
    lifting_baseline.main([*argv, "--json", str(out)])
    result = json.loads(out.read_text())
    assert set(result["splits"]) == {"test", "heldout"}
    gen = SampleGenerator(SyntheticConfig(), render=False)
    for (split, scored), (bank, j2d, seen) in zip(
        result["splits"].items(), calls, strict=True
    ):
        rows = scored["rows"]
        assert set(rows) == {"lifting MLP", *lifting_baseline.BASELINES}
        # A flat lift has PA-MPJPE > 0 and the mean pose is no exact answer.
        assert all(r["pa_mpjpe"] > 10 for r in rows.values())
        best = min(rows[t]["pa_mpjpe"] for t in lifting_baseline.BASELINES)
        assert scored["best_baseline_pa_mpjpe"] == best
        for r in rows.values():
            assert r["pa_over_best_baseline"] == pytest.approx(
                r["pa_mpjpe"] / best
            )
        # With 16 test samples, "the first 64" are all of them.
        assert all(
            r["pa_mpjpe_first16"] == r["pa_mpjpe"] for r in rows.values()
        )
        # The lookup: 64 poses x 24 yaws, the split's estimated joints
        # weighted by their visibility, as evaluate() scores it.
        test = gen.geometry(0, split, list(range(16)))
        assert bank == 64 * 24
        assert torch.equal(j2d, torch.from_numpy(test["joints_2d_est"]))
        assert torch.equal(
            seen, torch.from_numpy(test["joints_2d_est_visible"]).float()
        )
        # The input's 2D error, over the joints flagged seen.
        err = scored["input_2d_error"]
        ok = test["joints_2d_est_visible"] > 0
        px = np.linalg.norm(test["joints_2d_est"] - test["joints_2d"], axis=-1)
        assert err["median_px"] == pytest.approx(float(np.median(px[ok])))
        assert err["unseen_share"] == pytest.approx(1 - ok.mean())
        assert 0 < err["median_of_height"] < err["median_px"]
    assert result["timing"]["lifting MLP"]["steps"] >= 1
    printed = capsys.readouterr().out
    assert "| lifting MLP |" in printed and "heldout:" in printed
    # --input true: trained and scored on the true 2D joints; the flat
    # lift of the input is then the true-2D row, not repeated.
    estimated = result["splits"]["heldout"]["rows"]
    lifting_baseline.main(
        [*argv, "--input", "true", "--splits", "heldout", "--json", str(out)]
    )
    result = json.loads(out.read_text())
    assert list(result["splits"]) == ["heldout"] and result["input"] == "true"
    rows = result["splits"]["heldout"]["rows"]
    assert "true 2D joints, depth 0" not in rows
    flat, true_flat = (
        rows["flat lift (depth 0)"],
        estimated["true 2D joints, depth 0"],
    )
    assert flat["pa_mpjpe"] == true_flat["pa_mpjpe"]
    assert flat["mpjpe"] == true_flat["mpjpe"]
    assert calls[-1][2] is None  # true joints: all seen
    for bad, match in (
        (["--input", "true", "--redraw"], "--input estimated"),
        (["--splits", "val"], "--splits"),
    ):
        with pytest.raises(SystemExit, match=match):
            lifting_baseline.main([*argv, *bad])


def test_lifting_baseline_trains_the_skeleton_branch_alone(tmp_path):
    """--models skeleton trains the cpu preset's lift() for --steps steps;
    two runs print the same figures."""
    import lifting_baseline

    argv = [
        "--steps",
        "3",
        "--models",
        "skeleton,skeleton-paper",
        "--num-train",
        "64",
        "--num-test",
        "8",
        "--batch-size",
        "8",
        "--cache",
        str(tmp_path),
    ]
    results = []
    for i in range(2):
        out = tmp_path / f"lift{i}.json"
        lifting_baseline.main([*argv, "--json", str(out)])
        result = json.loads(out.read_text())
        results.append(result["splits"]["test"]["rows"])
        results[-1].update(
            {k: {**results[-1][k], **v} for k, v in result["timing"].items()}
        )
    ctx = "Skeleton-GCN alone + pose context (cpu preset)"
    paper = "Skeleton-GCN alone, paper's node input"
    assert results[0][ctx]["steps"] == results[0][paper]["steps"] == 3
    for row in (ctx, paper):
        assert results[0][row]["pa_mpjpe"] == results[1][row]["pa_mpjpe"]
    assert results[0][ctx]["pa_mpjpe"] != results[0][paper]["pa_mpjpe"]
    with pytest.raises(SystemExit, match="--models"):
        lifting_baseline.main(["--models", "transformer"])


def test_lifting_baseline_training_switches(tmp_path, monkeypatch, capsys):
    """--warmup/--schedule set Adam's rate from the library's schedule,
    --mix-start mixes GT 2D in by Sec. 5.2's decay over 6 'epochs',
    --loss eq6 trains on the focal L_s and l1 on its L1, the mix draws
    from its own stream (the batches stay); both schedules need --steps."""
    import lifting_baseline

    from bigraph_pyg.data import SyntheticPoses
    from bigraph_pyg.engine import schedule
    from bigraph_pyg.losses import BiGraphLoss

    ratios, rates, focal, drawn = [], [], [], []
    batch = SyntheticPoses.batch

    redraws = []

    def spy_batch(self, index, redraw=None):
        drawn.append(index.tolist())
        redraws.append(redraw)
        return batch(self, index, redraw=redraw)

    mix, rate = schedule.mix_joints_2d, schedule.learning_rate
    term = BiGraphLoss.skeleton_joints_3d_term

    def spy_mix(gt, est, ratio, generator=None):
        ratios.append(ratio)
        return mix(gt, est, ratio, generator)

    def spy_rate(*args):
        rates.append(rate(*args))
        return rates[-1]

    def spy_term(self, *args, **kwargs):
        focal.append(self.weights.use_focal)
        return term(self, *args, **kwargs)

    monkeypatch.setattr(schedule, "mix_joints_2d", spy_mix)
    monkeypatch.setattr(schedule, "learning_rate", spy_rate)
    monkeypatch.setattr(BiGraphLoss, "skeleton_joints_3d_term", spy_term)
    monkeypatch.setattr(SyntheticPoses, "batch", spy_batch)
    argv = ["--num-train", "32", "--num-test", "8", "--batch-size", "4"]
    argv += ["--cache", str(tmp_path), "--models", "skeleton"]
    lifting_baseline.main(
        [*argv, "--steps", "6", "--mix-start", "1", "--loss", "eq6"]
        + ["--warmup", "2", "--schedule", "cosine", "--lr", "1e-3", "--amp"]
    )
    assert ratios == pytest.approx([1.0, 0.8, 0.6, 0.4, 0.2, 0.0])
    assert rates[:3] == pytest.approx([1e-4, 5.5e-4, 1e-3])
    assert rates[-1] < rates[2] and len(rates) == 6
    assert focal == [True] * 6
    mixed, focal[:] = drawn[-6:], []
    lifting_baseline.main([*argv, "--steps", "6", "--loss", "l1"])
    assert focal == [False] * 6
    assert drawn[-6:] == mixed  # the same batches without the mix
    assert redraws[-6:] == [None] * 6
    # --redraw: fresh detector errors each step from one seeded stream,
    # the same batches; two runs score the same.
    scores = []
    for _ in range(2):
        out = tmp_path / "redraw.json"
        lifting_baseline.main(
            [*argv, "--steps", "6", "--redraw", "--json", str(out)]
        )
        scores.append(json.loads(out.read_text())["splits"])
        assert drawn[-6:] == mixed
        streams = redraws[-6:]
        assert all(isinstance(r, np.random.Generator) for r in streams)
        assert len({id(r) for r in streams}) == 1  # one stream, advancing
    assert scores[0] == scores[1]
    with pytest.raises(SystemExit, match="--steps"):
        lifting_baseline.main([*argv, "--seconds", "1", "--mix-start", "1"])
    with pytest.raises(SystemExit) as info:  # argparse: before any work
        lifting_baseline.main([*argv, "--steps", "1", "--mix-start", "2"])
    assert info.value.code == 2
    assert "--mix-start: Expected a number in [0, 1]" in capsys.readouterr().err


def test_demo_defaults_to_the_shipped_model(tmp_path):
    image, kp = _astronaut(tmp_path)
    out = tmp_path / "out"
    demo.main(
        [
            str(image),
            "--keypoints",
            str(kp),
            "--out",
            str(out),
            "--max-side",
            "256",
            "--force",  # an upper body the shipped model fits 0.13 off
        ]
    )
    png = np.asarray(Image.open(out / "astronaut_overlay.png"))
    assert png.shape == (256, 256 + 128, 3)  # the photo, scaled | side
    assert (out / "astronaut_mesh.obj").is_file()


def test_train_bigraph_skeleton_lift_weight_option(capsys):
    """--skeleton-lift-weight takes a finite number >= 0 and names what it
    expected otherwise."""
    args = train_bigraph.parse_args(["--skeleton-lift-weight", "80"])
    assert args.skeleton_lift_weight == 80.0
    assert train_bigraph.parse_args([]).skeleton_lift_weight is None
    for bad in ("-1", "nan", "inf", "heavy"):
        with pytest.raises(SystemExit):
            train_bigraph.parse_args(["--skeleton-lift-weight", bad])
        err = capsys.readouterr().err
        assert "--skeleton-lift-weight" in err and "finite number >= 0" in err


def test_cross_eval_script_tabulates_eval(
    tiny_checkpoint, synthetic_root, tmp_path, monkeypatch
):
    """scripts/cross_eval.py: each row is eval_bigraph's own figures."""
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).parents[2] / "scripts"))
    import cross_eval

    common = ["--synthetic-root", str(synthetic_root), "--num-samples", "4"]
    out = tmp_path / "x.json"
    res = cross_eval.main(
        [f"a={tiny_checkpoint}", *common]
        + ["--joint-noise", "cache", "mediapipe", "--out", str(out)]
    )
    assert json.loads(out.read_text())["results"] == res["results"]
    for noise in ("cache", "mediapipe"):
        one = tmp_path / f"{noise}.json"
        eval_bigraph.main(
            [str(tiny_checkpoint), *common, "--joint-noise", noise]
            + ["--no-segmentation", "--quiet", "--json", str(one)]
        )
        record = json.loads(one.read_text())
        for suffix, key in (("", "metrics"), ("/heldout", "metrics_heldout")):
            want = record[key]
            got = res["results"][f"a/{noise}{suffix}"]
            assert got == {k: want.get(k) for k in got}
            assert got["pa_mpjpe"] == want["pa_mpjpe"] is not None
    assert res["table"].count("\n| a |") == 4  # 2 inputs x 2 splits
    assert res["table"].count("| held-out families |") == 2
    with pytest.raises(SystemExit):
        cross_eval.main(["no-equals-sign"])


def test_detector_agreement_script(
    tiny_checkpoint, synthetic_root, tmp_path, monkeypatch
):
    """scripts/detector_agreement.py: with the true joints as the detector's,
    agreeing with the detector is being right; the paired difference of a
    model with itself is zero."""
    from pathlib import Path

    from bigraph_pyg.apps import detector_joints

    monkeypatch.syspath_prepend(str(Path(__file__).parents[2] / "scripts"))
    import detector_agreement

    real = detector_joints.detect_split

    def perfect(folder, n, detect=None, progress=True):
        det = real(folder, n, lambda img: [], progress=False)
        arrays = np.load(Path(folder) / "shard_00000.npz")
        det["joints"][:] = arrays["joints_2d"][:n]  # render pixels
        det["confidence"][:] = 1.0
        det["person"][:] = True
        return det

    monkeypatch.setattr(detector_joints, "detect_split", perfect)
    ckpt = str(tiny_checkpoint)
    res = detector_agreement.main(
        [f"a={ckpt}", f"b={ckpt}", "--synthetic-root", str(synthetic_root)]
        + ["--num-samples", "4", "--out", str(tmp_path / "a.json")]
    )["results"]
    a = res["a"]
    assert a["num_samples"] == 4 and a["detector_to_truth"] < 1e-4
    assert abs(a["to_detector"] - a["to_truth"]) < 1e-4
    assert a["to_truth"] > 0 and np.isfinite(a["pa_mpjpe"])
    assert res["b"]["pa_mpjpe_minus_a"] == 0.0


def test_lifting_baseline_scores_a_shipped_models_lift(tmp_path):
    """--models pretrained:NAME: the shipped model's lift(), untrained, on
    the trainer's pixels; the same PA-MPJPE as calling it directly."""
    import lifting_baseline

    from bigraph_pyg import pretrained
    from bigraph_pyg.data import SampleGenerator, SyntheticConfig
    from bigraph_pyg.metrics import pa_mpjpe

    out = tmp_path / "lift.json"
    lifting_baseline.main(
        ["--models", "pretrained:synthetic", "--num-train", "32"]
        + ["--num-test", "8", "--splits", "heldout", "--cache", str(tmp_path)]
        + ["--json", str(out)]
    )
    result = json.loads(out.read_text())
    assert result["timing"] == {}  # nothing trained
    row = "pretrained:synthetic, its lift() (image-free, as shipped)"
    got = result["splits"]["heldout"]["rows"][row]["pa_mpjpe"]
    test = SampleGenerator(SyntheticConfig(), render=False).geometry(
        0, "heldout", list(range(8))
    )
    model = pretrained("synthetic")
    side = torch.tensor(model.config.image_size[::-1], dtype=torch.float)
    scale = side / SyntheticConfig().image_size
    px = torch.from_numpy(test["joints_2d_est"]) * scale
    with torch.no_grad():
        pred = model.lift(torch.minimum(px.clamp_min(0.0), side))
    want = float(pa_mpjpe(pred, torch.from_numpy(test["joints_3d"])))
    assert got == pytest.approx(want, rel=1e-6)
    with pytest.raises(SystemExit, match="--models"):
        lifting_baseline.main(["--models", "pretrained:nonesuch"])

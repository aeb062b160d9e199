"""Every script ends bad input with one ``error:`` line and status 1 or 2.

Bad numbers, paths, devices and seeds are refused before any work; the
scripts of ``scripts/`` are imported from there.
"""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).parents[2]


@pytest.fixture
def script(monkeypatch):
    """Import a script of examples/ or scripts/ by name."""
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    monkeypatch.syspath_prepend(str(ROOT / "examples"))
    return importlib.import_module


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "a_file"
    path.write_text("x")
    return path


def one_error(main, argv, capsys) -> str:
    """Run ``main(argv)``: the one ``error:`` line (status 1 or 2)."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    code = info.value.code
    err = capsys.readouterr().err
    text, status = (code, 1) if isinstance(code, str) else (err, code)
    lines = [line for line in text.splitlines() if "error:" in line]
    assert status in (1, 2), (status, text)
    assert len(lines) == 1, text
    assert "Traceback" not in err
    return lines[0]


BIG = str(10**11)

CASES = [
    ("train_bigraph", ["--seed", "1e20"], "--seed: Expected an integer"),
    ("train_bigraph", ["--seed", str(10**20)], "--seed: Expected an integer"),
    ("train_bigraph", ["--num-train", BIG], "[1, 10000000]"),
    ("train_bigraph", ["--num-lift", BIG], "[1, 10000000]"),
    ("train_bigraph", ["--batch-size", "1"], "--batch-size: Expected"),
    ("train_bigraph", ["--lr", "nan"], "--lr: Expected"),
    ("train_bigraph", ["--device", "bogus"], "--device: Expected"),
    ("eval_bigraph", ["x.pt", "--num-samples", BIG], "[1, 10000000]"),
    ("eval_bigraph", ["x.pt", "--seed", "-1"], "--seed: Expected"),
    ("eval_bigraph", ["x.pt", "--device", "bogus"], "--device: Expected"),
    ("lifting_baseline", ["--seconds", "-1"], "finite number > 0"),
    ("lifting_baseline", ["--steps", "-5"], "--steps: Expected an integer"),
    ("lifting_baseline", ["--warmup", "-1"], "--warmup: Expected an integer"),
    ("lifting_baseline", ["--num-train", BIG], "[1, 10000000]"),
    ("lifting_baseline", ["--seed", "1e20"], "--seed: Expected an integer"),
    ("lifting_baseline", ["--mix-start", "2"], "[0, 1]"),
    ("lifting_baseline", ["--models", "mlp,cnn"], "Expected --models"),
    ("lifting_baseline", ["--cache", __file__], "(got a regular file)"),
    ("bilayer_layers_demo", ["--batch", "0"], "--batch: Expected"),
    ("bilayer_layers_demo", ["--channels", BIG], "[1, 1024]"),
    ("plot_training_curves", ["no/such/tb", "x.png"], "no such folder"),
    ("synthetic_contact_sheet", ["--num", "0"], "--num: Expected"),
    ("synthetic_contact_sheet", ["--num", BIG], "[1, 1024]"),
    ("synthetic_contact_sheet", ["--seed", "1e20"], "--seed: Expected"),
    ("model_table", ["--batch", "1"], "--batch: Expected an integer in [2"),
    ("model_table", ["--threads", "0"], "--threads: Expected"),
    ("model_table", ["--only", "row_x"], "invalid choice: 'row_x'"),
    ("plot_body_graphs", ["--joint", "nose"], "invalid choice: 'nose'"),
    ("detector_noise", ["--num", "0"], "--num: Expected"),
    ("detector_noise", ["--threshold", "nan"], "--threshold: Expected"),
    ("detector_noise", ["--seed", "1e20"], "--seed: Expected"),
    ("cross_eval", ["a=x.pt", "--num-samples", BIG], "[1, 10000000]"),
    ("detector_noise_preset", ["--seed", "-1"], "--seed: Expected"),
    ("detector_noise_preset", ["--measured", "no.json"], "no.json"),
    ("demo_gallery", ["--max-side", "0"], "--max-side: Expected"),
    (
        "export_pretrained",
        ["x.pt", "new.pt", "--metrics", "no/metrics.json"],
        "Expected a run's metrics.json at 'no/metrics.json'",
    ),
    ("reproduce_ablation", ["--rows", "AX"], "no row X"),
    ("reproduce_ablation", ["--scale", str(10**9)], "--scale at most 6250"),
    ("reproduce_ablation", ["--seed", "1e20"], "--seed: Expected"),
    ("reproduce_ablation", ["--device", "bogus"], "--device: Expected a"),
]


@pytest.mark.parametrize("name, argv, message", CASES)
def test_script_refuses_bad_values_in_one_line(
    name, argv, message, script, capsys
):
    line = one_error(script(name).main, argv, capsys)
    assert message in line


@pytest.mark.parametrize(
    "name, argv",
    [
        ("lifting_baseline", ["--json", "{}/r.json"]),
        ("lifting_baseline", ["--cache", "{}/poses"]),
        ("plot_training_curves", [".", "{}/x.png"]),
        ("synthetic_contact_sheet", ["--out", "{}/x.png"]),
        ("plot_body_graphs", ["--out", "{}/x.png"]),
        ("cross_eval", ["a=x.pt", "--out", "{}/x.json"]),
        ("detector_noise", ["--out", "{}/x.json"]),
        ("detector_noise_preset", ["--out", "{}/x.json"]),
        ("demo_gallery", ["--out", "{}/images"]),
        ("export_pretrained", ["x.pt", "{}/x.pt"]),
        ("make_default_body", ["--out", "{}/x.npz"]),
    ],
)
def test_script_output_below_a_file_is_refused_first(
    name, argv, script, a_file, capsys
):
    argv = [a.format(a_file) for a in argv]
    line = one_error(script(name).main, argv, capsys)
    assert f"below the regular file {a_file}" in line


def test_device_without_that_gpu_is_one_line(script, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    line = one_error(
        script("reproduce_ablation").main, ["--device", "cuda"], capsys
    )
    assert "torch sees 0 CUDA GPU(s)" in line and "--device cpu" in line


def test_make_default_body_names_the_assets_extra(
    script, tmp_path, monkeypatch, capsys
):
    monkeypatch.setitem(sys.modules, "anny", None)  # import fails
    line = one_error(
        script("make_default_body").main,
        ["--out", str(tmp_path / "b.npz")],
        capsys,
    )
    assert "bigraph_pyg[assets" in line
    assert not (tmp_path / "b.npz").exists()


def test_export_never_replaces_the_checkpoint(
    tiny_checkpoint, script, tmp_path, capsys
):
    main = script("export_pretrained").main
    ckpt = tmp_path / "last.pt"
    ckpt.write_bytes(tiny_checkpoint.read_bytes())
    before = ckpt.read_bytes()
    for extra in ([], ["--overwrite"]):
        line = one_error(main, [str(ckpt), str(ckpt), *extra], capsys)
        assert "the checkpoint" in line and "itself" in line
    assert ckpt.read_bytes() == before
    # Another existing file: only with --overwrite.
    out = tmp_path / "model.pt"
    out.write_bytes(b"a user's file")
    line = one_error(main, [str(ckpt), str(out)], capsys)
    assert "--overwrite" in line and str(out) in line
    assert out.read_bytes() == b"a user's file"
    main([str(ckpt), str(out), "--overwrite"])
    assert out.read_bytes() != b"a user's file"
    # A missing checkpoint is named.
    line = one_error(main, [str(tmp_path / "no.pt"), "new.pt"], capsys)
    assert str(tmp_path / "no.pt") in line


def test_a_script_process_exits_with_one_error_line(tmp_path):
    """The real process: status 1, one line on stderr, no traceback."""
    same = tmp_path / "last.pt"
    same.write_bytes(b"not a checkpoint")
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "export_pretrained.py"),
            str(same),
            str(same),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.count("error:") == 1 and "Traceback" not in proc.stderr
    assert same.read_bytes() == b"not a checkpoint"


_HOLDER = (
    "import sys\n"
    "from bigraph_pyg.engine.run_lock import RunLock\n"
    "RunLock(sys.argv[1]).acquire()\n"
    "print('held', flush=True)\n"
    "sys.stdin.read()\n"
)


@pytest.mark.parametrize("extra", [[], ["--overwrite"]])
def test_training_into_a_folder_a_live_run_holds_is_one_line(
    script, tmp_path, capsys, extra
):
    """train_bigraph.py and reproduce_ablation.py refuse, before any data,
    a folder whose run lock another process holds."""
    holders = []
    for folder in (tmp_path / "train", tmp_path / "ablation" / "row_D"):
        proc = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, str(folder)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        holders.append(proc)
        assert proc.stdout.readline().strip() == "held"
    ablation = str(tmp_path / "ablation")
    runs = [
        ("train_bigraph", ["--out", str(tmp_path / "train")]),
        ("reproduce_ablation", ["--rows", "D", "--out", ablation]),
    ]
    try:
        for (name, argv), holder in zip(runs, holders, strict=True):
            line = one_error(script(name).main, argv + extra, capsys)
            assert "Expected no other run writing to" in line
            assert f"held by process {holder.pid} on" in line
    finally:
        for proc in holders:
            proc.kill()
            proc.wait()

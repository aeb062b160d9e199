"""Nonsensical command-line values are refused before any work starts."""

import sys
from pathlib import Path

import eval_bigraph
import pytest
import train_bigraph

sys.path.insert(0, str(Path(__file__).parents[2] / "examples"))
import reproduce_ablation  # noqa: E402


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "a_file"
    path.write_text("x")
    return path


TRAIN_CASES = [
    (["--epochs", "0"], "argument --epochs: Expected an integer >= 1 (got 0)"),
    (["--epochs", "-3"], "argument --epochs: Expected an integer >= 1"),
    (
        ["--epochs", "two"],
        "argument --epochs: Expected an integer >= 1 (got 'two')",
    ),
    (
        ["--batch-size", "0"],
        "argument --batch-size: Expected an integer in [2, 65536] (got 0)",
    ),
    (["--threads", "0"], "argument --threads: Expected an integer >= 1"),
    (
        ["--threads", "-1"],
        "argument --threads: Expected an integer >= 1 (got -1)",
    ),
    (
        ["--num-train", "0"],
        "argument --num-train: Expected an integer in [1, 10000000]",
    ),
    (["--max-steps", "0"], "argument --max-steps: Expected an integer >= 1"),
    (
        ["--num-workers", "-1"],
        "argument --num-workers: Expected an integer >= 0",
    ),
    (["--image-dir", "h36m"], "argument --image-dir: Expected NAME=PATH"),
    (["--image-dir", "=imgs"], "argument --image-dir: Expected NAME=PATH"),
]


@pytest.mark.parametrize("argv, message", TRAIN_CASES)
def test_train_refuses_nonsensical_values(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        train_bigraph.parse_args(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_output_below_a_regular_file_is_refused(a_file, capsys):
    below = str(a_file / "run")
    for parse, argv in [
        (train_bigraph.parse_args, ["--out", below]),
        (
            eval_bigraph.parse_args,
            ["ckpt.pt", "--json", str(a_file / "m.json")],
        ),
        (reproduce_ablation.parse_args, ["--out", below]),
    ]:
        with pytest.raises(SystemExit) as info:
            parse(argv)
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert "Expected a path below folders" in err
        assert f"below the regular file {a_file}" in err
    # The output folder itself a regular file: refused before any work.
    with pytest.raises(SystemExit) as info:
        train_bigraph.main(["--out", str(a_file)])
    msg = str(info.value.code)
    assert msg.startswith("error: ") and "regular file" in msg
    assert str(a_file) in msg


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--batch-size", "0"], "argument --batch-size: Expected an integer"),
        (["--num-samples", "0"], "argument --num-samples: Expected an integer"),
        (["--image-dir", "lsp"], "argument --image-dir: Expected NAME=PATH"),
    ],
)
def test_eval_refuses_nonsensical_values(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        eval_bigraph.parse_args(["ckpt.pt", *argv])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_eval_json_into_a_folder_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        eval_bigraph.parse_args(["ckpt.pt", "--json", str(tmp_path)])
    assert "an existing folder" in capsys.readouterr().err


def test_new_run_into_an_old_runs_folder_is_refused(tmp_path):
    ckpt = tmp_path / "checkpoints"
    ckpt.mkdir()
    (ckpt / "last.pt").write_bytes(b"an old run")
    with pytest.raises(SystemExit) as info:
        train_bigraph.main(["--out", str(tmp_path)])
    msg = str(info.value.code)
    assert msg.startswith("error: ") and "\n" not in msg
    assert "--resume" in msg and "--overwrite" in msg and str(ckpt) in msg
    assert (ckpt / "last.pt").read_bytes() == b"an old run"
    assert train_bigraph.parse_args(["--overwrite"]).overwrite


def test_ablation_refuses_to_replace_an_old_row(tmp_path):
    ckpt = tmp_path / "row_A" / "checkpoints"
    ckpt.mkdir(parents=True)
    (ckpt / "best.pt").write_bytes(b"old")
    with pytest.raises(SystemExit) as info:
        reproduce_ablation.main(["--rows", "AD", "--out", str(tmp_path)])
    msg = str(info.value.code)
    assert "--overwrite" in msg and "--resume" not in msg
    assert str(ckpt) in msg
    assert (ckpt / "best.pt").read_bytes() == b"old"


def test_eval_names_an_unknown_shipped_model(capsys):
    """eval_bigraph.py pretrained:NAME scores a shipped model; an unknown
    name is a one-line error naming the known ones."""
    import eval_bigraph

    with pytest.raises(SystemExit) as info:
        eval_bigraph.main(["pretrained:imagenet", "--quiet"])
    msg = str(info.value)
    assert msg.startswith("error: ") and "synthetic" in msg, msg

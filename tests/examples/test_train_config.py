"""``train_bigraph.py --config FILE.toml``: the flags from a file.

The shipped long recipe equals the README's command; a flag beside the
file overrides it; a bad file ends in one ``error:`` line naming the file
and the key, with status 2, before any work.
"""

import shlex
from pathlib import Path

import pytest
import train_bigraph

ROOT = Path(__file__).parents[2]
LONG_RECIPE = ROOT / "examples" / "configs" / "long_recipe.toml"


def _readme_command(start: str) -> list[str]:
    """The README's command that begins with ``start``, as argv."""
    lines = (ROOT / "README.md").read_text().splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith(start))
    words = []
    for line in lines[i:]:
        words.append(line.rstrip("\\").strip())
        if not line.endswith("\\"):
            break
    return shlex.split(" ".join(words))[2:]  # after python script.py


def _parsed(argv) -> dict:
    args = vars(train_bigraph.parse_args(argv))
    args.pop("config")
    return args


def test_the_long_recipe_file_equals_the_readme_flags():
    flags = _readme_command("python examples/train_bigraph.py --num-train")
    assert "--skeleton-lift-weight" in flags  # the longer recipe's
    from_file = _parsed(["--config", str(LONG_RECIPE)])
    assert from_file == _parsed(flags)
    assert from_file != _parsed([])  # the file changes the run
    readme = (ROOT / "README.md").read_text()
    assert "--config examples/configs/long_recipe.toml" in readme


def test_a_flag_overrides_the_file(tmp_path):
    argv = ["--config", str(LONG_RECIPE), "--epochs", "3", "--out", "x"]
    args = train_bigraph.parse_args(argv)
    assert args.epochs == 3 and args.out == "x"  # the command line's
    assert args.num_train == 4800 and args.amp  # the file's
    assert args.skeleton_lift_weight == 80.0
    assert args.config == str(LONG_RECIPE)
    conf = tmp_path / "dirs.toml"
    conf.write_text('image_dir = ["h36m=/a"]\nseed = 7\n')
    args = train_bigraph.parse_args(
        ["--config", str(conf), "--image-dir", "lsp=/b"]
    )
    assert args.image_dir == ["h36m=/a", "lsp=/b"] and args.seed == 7


def one_error(argv, capsys) -> str:
    """Run the script's ``main(argv)``: its one ``error:`` line, status 2."""
    with pytest.raises(SystemExit) as info:
        train_bigraph.main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert info.value.code == 2, err
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


BAD = [
    ("nm_train = 4800", "nm_train", "Expected an option's name as key"),
    ("config = 'other.toml'", "config", "Expected an option's name as key"),
    ("num_train = '4800'", "key num_train", "Expected an integer (got a str"),
    ("num_train = 48.5", "key num_train", "Expected an integer"),
    ("lr = 'fast'", "key lr", "Expected a finite number > 0"),
    ("lr = '0.1'", "key lr", "Expected a number (got a string '0.1')"),
    ("amp = 1", "key amp", "Expected true or false (got an integer 1)"),
    ("synthetic_root = 5", "key synthetic_root", "Expected a string"),
    ("preset = 'gpu'", "key preset", "Expected one of cpu, paper"),
    ("num_lift = [1, 2]", "key num_lift", "Expected a number or a string"),
    ("image_dir = 'a=b'", "key image_dir", "Expected an array"),
    ("num_train = 100000000000", "key num_train", "[1, 10000000]"),
]


@pytest.mark.parametrize(("text", "key", "expected"), BAD)
def test_a_bad_key_or_value_is_one_error_line(
    text, key, expected, tmp_path, capsys
):
    conf = tmp_path / "run.toml"
    conf.write_text(f"epochs = 2\n{text}\n")
    line = one_error(["--config", str(conf)], capsys)
    assert f"--config {conf}" in line and key in line
    assert expected in line


def test_an_unreadable_file_is_one_error_line(tmp_path, capsys):
    missing = tmp_path / "missing.toml"
    line = one_error(["--config", str(missing)], capsys)
    assert str(missing) in line and "Expected a readable TOML file" in line
    broken = tmp_path / "broken.toml"
    broken.write_text("epochs = \n")
    line = one_error(["--config", str(broken)], capsys)
    assert str(broken) in line and "Expected a TOML file" in line

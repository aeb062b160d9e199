"""docs/reliability.md: every row names tests, and every named test exists."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "docs" / "reliability.md"


def _rows():
    for line in TABLE.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[2] not in ("test", "---"):
            yield cells


def _named_tests(cell):
    """``a/b.py::t1``, ``::t2`` (same file), ``a/b.py`` (t3, t4) forms."""
    current = None
    for token in re.findall(r"`([^`]+)`", cell):
        path, _, name = token.partition("::")
        if path:
            current = path
        if name:
            yield current, name
    for path, names in re.findall(r"`([\w/]+\.py)` \(([^)]*)\)", cell):
        for name in re.findall(r"`(\w+)`", names):
            yield path, name


def test_every_row_names_existing_tests():
    rows = list(_rows())
    assert len(rows) >= 30
    for bad_input, _, tests in rows:
        named = list(_named_tests(tests))
        assert named, f"no test named for {bad_input!r}"
        for path, name in named:
            file = ROOT / "tests" / path
            assert file.is_file(), f"{path} (row {bad_input!r})"
            assert re.search(
                rf"^def {name}\(", file.read_text(), re.MULTILINE
            ), f"{path}::{name} missing"

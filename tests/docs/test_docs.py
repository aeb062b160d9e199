"""The documentation builds without a warning, and its examples run.

* ``test_docs_build``: ``sphinx-build -W --keep-going -b html`` of
  ``docs/`` into ``tmp_path``, as ``make docs`` does; any warning fails it,
  and every public name must have its API page.
* ``test_docs_examples``: every fenced ``python`` block of every
  ``docs/*.md`` page runs, in page order, in one namespace per page (a page
  reads like a notebook), from an empty working directory with ``HOME``
  pointing there. A block preceded by ``<!-- no-test -->`` (optionally
  ``<!-- no-test: why -->``) is shown but not run. A line
  ``name = ...  # [4, 641, 64]`` claims a shape, which is checked.
* ``test_api_lists_every_public_name``: the API reference built by
  ``docs/conf.py`` covers every entry of every ``__all__``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

NO_TEST = re.compile(r"<!--\s*no-test\b.*?-->\s*$")
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```", re.S | re.M)
CLAIM = re.compile(r"^(\w+) = .*#\s*\[([\d, ]+)\]\s*$", re.M)


def python_blocks(page: Path) -> list[tuple[int, str, bool]]:
    """``(line, code, runnable)`` of each fenced ``python`` block."""
    text = page.read_text()
    blocks = []
    for m in FENCE.finditer(text):
        before = [ln for ln in text[: m.start()].splitlines() if ln.strip()]
        marked = bool(before) and bool(NO_TEST.match(before[-1].strip()))
        line = text.count("\n", 0, m.start()) + 2
        blocks.append((line, m.group(1), not marked))
    return blocks


PAGES = sorted(p for p in DOCS.glob("*.md") if python_blocks(p))


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_docs_examples(page: Path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    namespace: dict = {"__name__": "__docs__"}
    ran = 0
    for line, code, runnable in python_blocks(page):
        if not runnable:
            continue
        where = f"{page.relative_to(ROOT)}:{line}"
        # Pad so tracebacks give the line number in the page.
        exec(compile("\n" * (line - 1) + code, str(page), "exec"), namespace)
        for name, shape in CLAIM.findall(code):
            claimed = [int(v) for v in shape.split(",")]
            got = list(namespace[name].shape)
            assert got == claimed, f"{where}: {name} is {got}, not {claimed}"
        ran += 1
    if not ran:
        pytest.skip(f"{page.name}: every python block is marked no-test")


def test_docs_pages_have_examples():
    # The tutorial and installation pages are programs, not sketches.
    for name in ("own_mesh.md", "install.md"):
        blocks = python_blocks(DOCS / name)
        assert blocks and all(run for _, _, run in blocks), name


def _load_conf():
    pytest.importorskip("sphinx")
    spec = importlib.util.spec_from_file_location(
        "_bigraph_docs_conf", DOCS / "conf.py"
    )
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    return conf


def _all_public_names() -> set[str]:
    import bigraph_pyg

    names = set()
    for info in pkgutil.walk_packages(bigraph_pyg.__path__, "bigraph_pyg."):
        mod = importlib.import_module(info.name)
        names.update(getattr(mod, "__all__", ()))
    return {n for n in names if not n.startswith("__")}


def test_api_lists_every_public_name():
    conf = _load_conf()
    documented = {name for s in conf.api_sections() for name, _ in s["names"]}
    missing = _all_public_names() - documented
    assert not missing, f"public names missing from api.rst: {missing}"


@pytest.mark.slow
def test_docs_build(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_parser")
    out = tmp_path / "html"
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            "-d",
            str(tmp_path / "doctrees"),
            str(DOCS),
            str(out),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    log = proc.stdout + proc.stderr
    warnings = [
        ln
        for ln in log.splitlines()
        if "WARNING" in ln or "ERROR" in ln or "CRITICAL" in ln
    ]
    assert proc.returncode == 0 and not warnings, (
        f"sphinx-build failed ({proc.returncode}):\n{log[-6000:]}"
    )
    assert (out / "index.html").exists()
    # Every public name has its page in the API reference.
    conf = _load_conf()
    for section in conf.api_sections():
        for name, _ in section["names"]:
            page = out / "generated" / f"{section['module']}.{name}.html"
            assert page.exists(), page
    # The gallery shows every picture of docs/images.
    gallery = (out / "gallery.html").read_text()
    for image in sorted((DOCS / "images").glob("*.png")):
        assert image.name in gallery, f"{image.name} not in the gallery"

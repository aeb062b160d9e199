"""Package layout limits (docs/contributing.md): modules <= 400 lines,
functions <= 80.

A function counts from its ``def`` line to its last line, docstring
included; a module counts every line.
"""

import ast
from pathlib import Path

import bigraph_pyg

PACKAGE = Path(bigraph_pyg.__file__).parent
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80


def _modules():
    return sorted(PACKAGE.rglob("*.py"))


def long_modules(limit: int = MAX_MODULE_LINES) -> list[str]:
    out = []
    for path in _modules():
        n = len(path.read_text().splitlines())
        if n > limit:
            out.append(f"{path.relative_to(PACKAGE.parent)}: {n} lines")
    return out


def long_functions(limit: int = MAX_FUNCTION_LINES) -> list[str]:
    out = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                if n > limit:
                    rel = path.relative_to(PACKAGE.parent)
                    out.append(f"{rel}:{node.lineno} {node.name}: {n} lines")
    return out


def test_no_module_over_400_lines():
    assert long_modules() == []


def test_no_function_over_80_lines():
    assert long_functions() == []


def test_the_counters_see_a_long_function(tmp_path, monkeypatch):
    # The check itself can fail: a 90-line function in a 500-line module.
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(89))
    (pkg / "big.py").write_text(
        f"def f():\n{body}\n" + "\n" * 410, encoding="utf-8"
    )
    monkeypatch.setattr(f"{__name__}.PACKAGE", pkg)
    assert long_functions() == [f"{pkg.name}/big.py:1 f: 90 lines"]
    assert long_modules() == [
        f"{pkg.name}/big.py: {len(body.splitlines()) + 411} lines"
    ]


if __name__ == "__main__":
    print("\n".join(long_modules() + long_functions()))

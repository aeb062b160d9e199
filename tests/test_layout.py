"""Package layout (docs/contributing.md): functions <= 80 lines, no import
circles.

A function counts from its ``def`` line to its last line, docstring
included. Module length is left to review: a module holds one idea,
whatever its length (a 400-line limit made modules split to fit it, issue
#26). Every import counts, lazy ones (inside a function) and those under
``if TYPE_CHECKING`` too: each is a dependency a reader follows. They
form no circle (issue #26 removed the last one, the trainer's), and no
library module imports the scripts' argparse types (``bigraph_pyg.cli``).
"""

import ast
from pathlib import Path

import bigraph_pyg

PACKAGE = Path(bigraph_pyg.__file__).parent
MAX_FUNCTION_LINES = 80


def _modules(package: Path | None = None):
    return sorted((package or PACKAGE).rglob("*.py"))


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


def _module_name(path: Path, package: Path) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.Module, name: str, is_package: bool):
    """``(module, names)`` of every import, lazy and typing-only ones too."""
    base = name if is_package else name.rpartition(".")[0]
    for sub in ast.walk(tree):
        if isinstance(sub, ast.Import):
            yield from ((a.name, ()) for a in sub.names)
        elif isinstance(sub, ast.ImportFrom):
            mod = sub.module or ""
            if sub.level:
                up = base.split(".")[: len(base.split(".")) - sub.level + 1]
                mod = ".".join([*up, mod] if mod else up)
            yield mod, tuple(a.name for a in sub.names)


def import_graph(package: Path | None = None) -> dict[str, set[str]]:
    """Module -> the package's modules it imports at import time."""
    package = package or PACKAGE
    names = {}
    for path in _modules(package):
        names[_module_name(path, package)] = path
    graph = {}
    for name, path in names.items():
        tree = ast.parse(path.read_text())
        deps = set()
        for mod, imported in _imports(tree, name, path.name == "__init__.py"):
            # `from pkg import sub` needs the module sub; `from pkg import
            # name` (or `import pkg`) needs pkg's __init__.
            subs = {f"{mod}.{n}" for n in imported} & set(names)
            deps |= subs
            if len(subs) < len(imported) or not imported:
                deps.add(mod)
        graph[name] = (deps & set(names)) - {name}
    return graph


def import_circles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_function_over_80_lines():
    assert long_functions() == []


def test_no_import_circles():
    assert import_circles(import_graph()) == []


def test_only_the_scripts_import_the_cli():
    graph = import_graph()
    assert "bigraph_pyg.cli" in graph
    users = sorted(m for m, deps in graph.items() if "bigraph_pyg.cli" in deps)
    assert users == [], users


def test_the_checks_see_a_long_function_and_a_circle(tmp_path, monkeypatch):
    # The checks themselves can fail: a 90-line function, a 3-module loop.
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    body = "\n".join(f"    x{i} = {i}" for i in range(89))
    (pkg / "__init__.py").write_text("")
    (pkg / "big.py").write_text(f"def f():\n{body}\n", encoding="utf-8")
    (pkg / "a.py").write_text("from pkg.sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("from . import c\n")
    (pkg / "sub" / "c.py").write_text(
        "import typing\nif typing.TYPE_CHECKING:\n    import pkg.sub.b\n"
        "def g():\n    import pkg.big\nfrom pkg import a\n"
    )
    monkeypatch.setattr(f"{__name__}.PACKAGE", pkg)
    assert long_functions() == [f"{pkg.name}/big.py:1 f: 90 lines"]
    graph = import_graph(pkg)
    # `from pkg import a` needs pkg.a; lazy and typing imports count.
    assert graph["pkg.sub.c"] == {"pkg.a", "pkg.big", "pkg.sub.b"}
    assert {"pkg.a", "pkg.sub.b", "pkg.sub.c"} in import_circles(graph)


if __name__ == "__main__":
    print("\n".join(long_functions()))
    print(import_circles(import_graph()))

"""Sphinx configuration of the bigraph_pyg documentation.

Build with ``make docs`` (``sphinx-build -W --keep-going -b html docs
docs/_build/html``): every warning is an error.

The API reference is generated, not written: :func:`api_sections` walks the
package and lists every name in every ``__all__`` once, under the shallowest
module that exports it; ``api.rst`` is rendered from those sections (jinja,
as PyG renders ``torch_geometric.nn.conv.classes``) and one stub per name is
written into ``docs/generated/`` (git-ignored) before Sphinx reads the
sources.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import bigraph_pyg  # noqa: E402

# -- Project -----------------------------------------------------------------

project = "bigraph_pyg"
author = "bigraph_pyg developers"
copyright = "bigraph_pyg developers"  # noqa: A001
release = bigraph_pyg.__version__
version = ".".join(release.split(".")[:2])

# -- General -----------------------------------------------------------------

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx.ext.intersphinx",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = [
    "_build",
    "Thumbs.db",
    ".DS_Store",
    "README.md",
    "results",
]  # raw run outputs, named by path in the pages
templates_path = ["_templates"]
nitpicky = False
# Intersphinx needs the network; CI and the test build offline.
intersphinx_mapping: dict = {}

# Markdown: $...$ / $$...$$ maths, "#anchor" links to headings up to ###.
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# -- autodoc / napoleon ------------------------------------------------------

autosummary_generate = False  # stubs are written by write_api_stubs()
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_class_signature = "mixed"
autodoc_default_options = {"members": True, "show-inheritance": True}
# Only truly optional, heavy dependencies missing from ``.[all]``; both
# modules that need them (apps.detection: mediapipe, data.render: pyrender)
# import them lazily, so nothing has to be mocked today.
autodoc_mock_imports: list[str] = []

napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_use_ivar = True
# PyG's "Shapes:" section (contributing.md) is rendered as a titled block.
napoleon_custom_sections = ["Shapes", "Shape"]

# autosummary's table shows each name's first sentence; the paper's
# abbreviations must not end it ("... (paper Eq." would).
import sphinx.ext.autosummary as _autosummary  # noqa: E402

_autosummary.WELL_KNOWN_ABBREVIATIONS = tuple(
    sorted(
        {
            *_autosummary.WELL_KNOWN_ABBREVIATIONS,
            "Eq.",
            "Eqs.",
            "Sec.",
            "Secs.",
            "Fig.",
            "Figs.",
            "Tab.",
            "cf.",
            "approx.",
        }
    )
)

# -- HTML --------------------------------------------------------------------

html_theme = "alabaster"  # built into Sphinx: no theme dependency
html_title = f"bigraph_pyg {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "description": "Bilayer-graph human shape and pose on PyG",
    "fixed_sidebar": True,
    "page_width": "1180px",
    "sidebar_width": "240px",
}

# -- API reference -----------------------------------------------------------

GENERATED = HERE / "generated"

#: Order of the API reference. A name is documented under the first of
#: these that exports it and contains its defining module, so the layers
#: sit under ``bigraph_pyg.nn.conv`` (as PyG's ``torch_geometric.nn.conv``)
#: although ``bigraph_pyg.nn`` re-exports them. Submodules with names of
#: their own follow their package; modules not listed come last.
ORDER = (
    "bigraph_pyg.nn.conv",
    "bigraph_pyg.nn",
    "bigraph_pyg.topology",
    "bigraph_pyg.body",
    "bigraph_pyg.models",
    "bigraph_pyg.geometry",
    "bigraph_pyg.losses",
    "bigraph_pyg.metrics",
    "bigraph_pyg.data",
    "bigraph_pyg.engine",
    "bigraph_pyg.apps",
    "bigraph_pyg.utils",
    "bigraph_pyg.testing",
)


def _order_key(modname: str, walk_index: int) -> tuple:
    owners = [
        i
        for i, m in enumerate(ORDER)
        if modname == m or modname.startswith(m + ".")
    ]
    # The most specific listed package owns the module.
    owner = max(owners, key=lambda i: len(ORDER[i])) if owners else len(ORDER)
    return (owner, modname.count("."), walk_index)


def _public_modules() -> list[str]:
    """Every ``bigraph_pyg`` module that defines ``__all__``, shallow first.

    Packages come before their submodules, so a name is documented where a
    user imports it (``bigraph_pyg.topology.mesh_graph``, not
    ``bigraph_pyg.topology.mesh.mesh_graph``). The top-level package only
    re-exports and is skipped. Sorted by :data:`ORDER`.
    """
    names = [
        m.name
        for m in pkgutil.walk_packages(bigraph_pyg.__path__, "bigraph_pyg.")
        if not m.name.rsplit(".", 1)[-1].startswith("_")
    ]
    mods = []
    for name in names:
        mod = importlib.import_module(name)
        if getattr(mod, "__all__", None):
            mods.append(name)
    return sorted(mods, key=lambda n: _order_key(n, names.index(n)))


def _kind(obj) -> str:
    if inspect.isclass(obj):
        return "class"
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return "function"
    return "data"


def _defines(modname: str, name: str) -> bool:
    """Whether the source of ``modname`` assigns ``name`` at top level."""
    try:
        source = inspect.getsource(importlib.import_module(modname))
    except (OSError, TypeError):
        return False
    return (
        re.search(rf"^{re.escape(name)}\s*(:[^=\n]*)?=", source, re.M)
        is not None
    )


def api_sections() -> list[dict]:
    """The API reference: ``[{module, noindex, names: [(name, kind)]}]``.

    Every name of every ``__all__`` in the package appears exactly once.
    An object exported by several modules (a package re-exporting its
    submodule's name) is listed under the shallowest exporter that contains
    the module defining it (``bigraph_pyg.topology.JOINT_NAMES``, defined in
    ``topology/skeleton.py``), or else the shallowest exporter.
    """
    modules = _public_modules()
    exporters: dict[tuple[str, int], list[str]] = {}
    objects = {}
    for modname in modules:
        mod = importlib.import_module(modname)
        for name in mod.__all__:
            if name.startswith("__"):
                continue
            obj = getattr(mod, name)
            key = (name, id(obj))
            objects[key] = obj
            exporters.setdefault(key, []).append(modname)
    home: dict[tuple[str, int], str] = {}
    for key, mods in exporters.items():
        name, obj = key[0], objects[key]
        if _kind(obj) == "data":
            defining = [m for m in mods if _defines(m, name)]
            origin = defining[-1] if defining else mods[0]
        else:
            origin = getattr(obj, "__module__", mods[0]) or mods[0]
        inside = [m for m in mods if origin == m or origin.startswith(m + ".")]
        home[key] = inside[0] if inside else mods[0]

    sections = []
    for modname in modules:
        mod = importlib.import_module(modname)
        entries = []
        for name in mod.__all__:
            if name.startswith("__"):
                continue
            obj = getattr(mod, name)
            if home[(name, id(obj))] == modname:
                entries.append((name, _kind(obj)))
        if entries:
            parent, _, base = modname.rpartition(".")
            shadowed = not inspect.ismodule(
                getattr(importlib.import_module(parent), base, None)
            )
            sections.append(
                {
                    "module": modname,
                    # ``engine.evaluate`` is both a submodule and the
                    # function the package exports: index the function.
                    "noindex": shadowed,
                    "names": entries,
                }
            )
    return sections


_STUB = {
    "class": ".. autoclass:: {name}\n",
    "function": ".. autofunction:: {name}\n",
    "data": ".. autodata:: {name}\n",
}


def _stub(modname: str, name: str, kind: str) -> str:
    full = f"{modname}.{name}"
    body = _STUB[kind].format(name=name)
    if kind == "data":
        obj = getattr(importlib.import_module(modname), name)
        if len(repr(obj)) > 300:
            body += "   :no-value:\n"
    return (
        f"{full}\n{'=' * len(full)}\n\n.. currentmodule:: {modname}\n\n{body}"
    )


def _write_if_changed(path: Path, text: str) -> None:
    # Unchanged stubs keep their mtime, so incremental builds stay cheap.
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def write_api_stubs(app) -> None:
    """Write one ``docs/generated/<module>.<name>.rst`` per public name."""
    GENERATED.mkdir(exist_ok=True)
    wanted = set()
    for section in api_sections():
        for name, kind in section["names"]:
            fname = f"{section['module']}.{name}.rst"
            wanted.add(fname)
            _write_if_changed(
                GENERATED / fname, _stub(section["module"], name, kind)
            )
    for path in GENERATED.glob("*.rst"):
        if path.name not in wanted:
            path.unlink()


def render_templates(app, docname: str, source: list[str]) -> None:
    """Render ``api.rst`` (jinja) and drop missing pending pages."""
    if docname == "api":
        from jinja2 import Template

        source[0] = Template(source[0]).render(sections=api_sections())
    elif docname == "gallery":
        source[0] = _expand_gallery(source[0])


def _expand_gallery(text: str) -> str:
    """Expand the gallery's picture markers into MyST figures.

    ``<!-- gallery: PATTERN | caption -->`` becomes one figure per file of
    ``docs/`` matching ``PATTERN`` (sorted, ``{stem}`` in the caption is the
    file name), skipping pictures already shown above it; a pattern that
    matches nothing yields a short note, not a warning, so the gallery
    builds while pictures made by other scripts are pending.
    ``<!-- gallery-rest: TITLE -->`` shows, under a ``## TITLE`` heading,
    every picture of ``docs/images`` not shown yet (nothing if none).
    """
    shown = set(re.findall(r"\((images/[^)\s]+)\)", text))
    out = []
    for line in text.splitlines(keepends=True):
        m = re.fullmatch(r"\s*<!--\s*(gallery|gallery-rest):(.*)-->\s*", line)
        if not m:
            out.append(line)
            continue
        if m.group(1) == "gallery":
            pattern, _, caption = (s.strip() for s in m.group(2).partition("|"))
            title = None
        else:
            pattern, caption, title = "images/*.png", "", m.group(2).strip()
        files = [
            p.relative_to(HERE).as_posix() for p in sorted(HERE.glob(pattern))
        ]
        files = [f for f in files if f not in shown]
        shown.update(files)
        if not files:
            if title is None:
                out.append(f"\n*Not generated yet (`docs/{pattern}`).*\n\n")
            continue
        if title:
            out.append(f"\n## {title}\n\n")
        for f in files:
            stem = Path(f).stem
            cap = caption.replace("{stem}", stem) if caption else f"`{stem}`"
            out.append(
                f"\n```{{figure}} {f}\n:alt: {stem}\n:width: 100%\n\n"
                f"{cap}\n```\n\n"
            )
    return "".join(out)


_LITERAL_GLUED = re.compile(
    r"(``[^`\s](?:[^`]*[^`\s])?``)"  # an inline literal ...
    r"(?=[^\s\-.,:;!?\\/'\")\]}>])"  # ... glued to a letter
)


def _attr_doc(modname: str, attr: str) -> list[str] | None:
    """The ``#:`` comment or docstring of ``modname.attr``, if any."""
    from sphinx.pycode import ModuleAnalyzer

    try:
        docs = ModuleAnalyzer.for_module(modname).find_attr_docs()
    except Exception:  # noqa: BLE001 - extension modules, no source
        return None
    return list(docs.get(("", attr), [])) or None


def _defining_doc(fullname: str, obj) -> list[str] | None:
    """A constant's ``#:`` doc, from the submodule that defines it."""
    modname, _, attr = fullname.rpartition(".")
    doc = _attr_doc(modname, attr)
    if doc:
        return doc
    for other in _public_modules():
        if not other.startswith(modname + ".") or other == modname:
            continue
        mod = importlib.import_module(other)
        if attr in mod.__all__ and getattr(mod, attr) is obj:
            doc = _attr_doc(other, attr)
            if doc:
                return doc
    return None


def process_docstring(app, what, name, obj, options, lines) -> None:
    """Clean docstrings before Sphinx parses them.

    * A constant re-exported by a package is documented with the ``#:``
      comment of the submodule that defines it, never with its type's
      docstring (``tuple``'s or ``dict``'s, which is invalid RST).
    * An inline literal glued to a letter (````size``²``) gets an escaped
      space, as its author meant; plain RST would reject it.
    """
    if what in ("data", "attribute") and not (
        inspect.isclass(obj) or callable(obj)
    ):
        type_doc = type(obj).__doc__
        type_doc = (
            type_doc.strip().splitlines() if isinstance(type_doc, str) else []
        )
        if lines and type_doc and lines[0].strip() == type_doc[0].strip():
            lines[:] = _defining_doc(name, obj) or []
    for i, line in enumerate(lines):
        lines[i] = _LITERAL_GLUED.sub(r"\1\\ ", line)


def always_reread(app, env, added, changed, removed) -> list[str]:
    """Re-read the rendered pages: their inputs are not files Sphinx sees."""
    return [d for d in ("api", "index", "gallery") if d in env.found_docs]


def setup(app):
    """Connect the stub writer and the source and docstring hooks."""
    app.connect("builder-inited", write_api_stubs)
    app.connect("source-read", render_templates)
    app.connect("autodoc-process-docstring", process_docstring)
    app.connect("env-get-outdated", always_reread)
    return {"parallel_read_safe": True}

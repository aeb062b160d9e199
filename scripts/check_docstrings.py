"""List public names whose docstrings miss what the house style asks for.

Public names are the entries of every ``__all__`` in ``bigraph_pyg``. The
checks (docs/contributing.md, "Docstrings"):

* every class and function has a docstring;
* a function or class that takes arguments has an ``Args:`` section;
* a ``torch.nn.Module`` whose ``forward`` takes tensors has a ``Shapes:``
  section (PyG's template), unless its ``forward`` docstring has one;
* a function with a return value has ``Returns:`` (or ``Yields:``) — shapes
  go there.

Constants are skipped (they are documented with ``#:`` comments).

Usage: ``python scripts/check_docstrings.py [--strict]``; prints one line
per problem, ``module.name: problem``, and with ``--strict`` exits 1 if
there is any.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
import sys
import warnings


def public_objects():
    """Yield ``(qualified name, object)`` once per public class/function."""
    import bigraph_pyg

    seen = set()
    mods = sorted(
        (
            m.name
            for m in pkgutil.walk_packages(bigraph_pyg.__path__, "bigraph_pyg.")
        ),
        key=lambda n: (n.count("."), n),
    )
    for modname in mods:
        mod = importlib.import_module(modname)
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            yield f"{modname}.{name}", obj


def _params(obj) -> list[str]:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return []
    return [p for p in sig.parameters if p not in ("self", "cls")]


def problems(qualname: str, obj) -> list[str]:
    """The style problems of one public class or function."""
    import torch

    doc = inspect.getdoc(obj) or ""
    if not doc.strip() or (inspect.isclass(obj) and obj.__doc__ is None):
        return ["no docstring"]
    out = []
    own_init = inspect.isclass(obj) and "__init__" in vars(obj)
    init_doc = ""
    if own_init:
        init_doc = inspect.getdoc(vars(obj)["__init__"]) or ""
    takes_args = _params(obj) if (inspect.isfunction(obj) or own_init) else []
    if (
        takes_args
        and "Args:" not in doc
        and "Args:" not in init_doc
        and "Attributes:" not in doc
    ):
        out.append("no Args: section")
    if (
        inspect.isclass(obj)
        and issubclass(obj, torch.nn.Module)
        and "forward" in vars(obj)
    ):
        fwd_doc = inspect.getdoc(obj.forward) or ""
        if (
            "Shapes:" not in doc
            and "Shapes:" not in fwd_doc
            and "Shape:" not in doc
        ):
            out.append("nn.Module without a Shapes: section")
    if inspect.isfunction(obj):
        ret = inspect.signature(obj).return_annotation
        returns = ret not in (None, "None", inspect.Signature.empty)
        if returns and not any(
            s in doc for s in ("Returns:", "Yields:", "Return:")
        ):
            out.append("no Returns: section")
    return out


def main(argv=None) -> int:
    """Print the problems; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a problem is found"
    )
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    count = total = 0
    for qualname, obj in public_objects():
        total += 1
        for problem in problems(qualname, obj):
            print(f"{qualname}: {problem}")
            count += 1
    print(
        f"{count} problem(s) in {total} public classes and functions",
        file=sys.stderr,
    )
    return 1 if (args.strict and count) else 0


if __name__ == "__main__":
    sys.exit(main())

"""The scripts' argparse types (``bigraph_pyg.cli``)."""

import pytest


def test_unit_float_names_what_it_expected():
    import argparse

    from bigraph_pyg.cli import unit_float

    assert unit_float("0") == 0.0 and unit_float("0.25") == 0.25
    assert unit_float("1") == 1.0
    for bad in ("1.5", "-0.1", "half", "nan"):
        with pytest.raises(argparse.ArgumentTypeError, match=r"\[0, 1\]"):
            unit_float(bad)

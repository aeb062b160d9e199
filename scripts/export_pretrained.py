r"""Write a training checkpoint as a shippable pretrained weights file.

Usage::

    python scripts/export_pretrained.py runs/cpu_long/checkpoints/best.pt \\
        bigraph_pyg/assets/bigraph_cpu_synthetic.pt --metrics \\
        runs/cpu_long/metrics.json

Prints the file's size and SHA-256, the values for
``bigraph_pyg.hub.PRETRAINED``. An existing output file is replaced only
with ``--overwrite``, and never the checkpoint itself.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bigraph_pyg.cli import output_file, script_errors


def _check_output(checkpoint: str, out: str, overwrite: bool) -> None:
    """Refuse to replace the checkpoint, or any file without --overwrite."""
    target = Path(out)
    if not target.exists():
        return
    if Path(checkpoint).exists() and target.samefile(checkpoint):
        raise ValueError(
            f"Expected an output other than the checkpoint (got {out}, the "
            f"checkpoint {checkpoint} itself); pass another output path"
        )
    if not overwrite:
        raise ValueError(
            f"Expected a new output file (got {out}, which exists); pass "
            "--overwrite to replace it, or another output path"
        )


def main(argv=None) -> None:
    """Parse the arguments, export, print the size and SHA-256."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint")
    p.add_argument("out", type=output_file)
    p.add_argument(
        "--metrics", help="the run's metrics.json, stored in the file's card"
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing output file (never the checkpoint)",
    )
    args = p.parse_args(argv)
    from bigraph_pyg.hub import export_pretrained
    from bigraph_pyg.utils.io import load_json

    with script_errors():
        _check_output(args.checkpoint, args.out, args.overwrite)
        card = {"checkpoint": Path(args.checkpoint).name}
        if args.metrics:
            card["metrics"] = load_json(args.metrics, "a run's metrics.json")
        sha = export_pretrained(args.checkpoint, args.out, card)
    size = Path(args.out).stat().st_size / 2**20
    print(f"{args.out}: {size:.1f} MiB, sha256 {sha}")


if __name__ == "__main__":
    main()

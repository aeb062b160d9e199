r"""Write a training checkpoint as a shippable pretrained weights file.

Usage::

    python scripts/export_pretrained.py runs/cpu_long/checkpoints/best.pt \\
        bigraph_pyg/assets/bigraph_cpu_synthetic.pt --metrics \\
        runs/cpu_long/metrics.json

Prints the file's size and SHA-256, the values for
``bigraph_pyg.hub.PRETRAINED``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main(argv=None) -> None:
    """Parse the arguments, export, print the size and SHA-256."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint")
    p.add_argument("out")
    p.add_argument(
        "--metrics", help="the run's metrics.json, stored in the file's card"
    )
    args = p.parse_args(argv)
    from bigraph_pyg.hub import export_pretrained

    card = {"checkpoint": Path(args.checkpoint).name}
    if args.metrics:
        card["metrics"] = json.loads(Path(args.metrics).read_text())
    sha = export_pretrained(args.checkpoint, args.out, card)
    size = Path(args.out).stat().st_size / 2**20
    print(f"{args.out}: {size:.1f} MiB, sha256 {sha}")


if __name__ == "__main__":
    main()

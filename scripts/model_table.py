"""Measure every preset and ablation and write the table into docs/models.md.

For each model: parameter counts (total, encoder, graph network, SMPL
regressor) and the best wall time of one batch over a few runs (the least
disturbed by other jobs on a shared machine), forward (``eval``,
``no_grad``) and forward + backward of the Eq. 6 loss (``train``), with
random weights and random inputs on the CPU. The table replaces the text
between ``<!-- model-table:start -->`` and ``<!-- model-table:end -->``.

    python scripts/model_table.py                   # all rows, write docs
    python scripts/model_table.py --base cpu --no-write
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

# The random inputs and the machine description of the benchmarks.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import _common as C  # noqa: E402
from model_throughput import make_inputs  # noqa: E402

from bigraph_pyg.body import default_body  # noqa: E402
from bigraph_pyg.cli import (  # noqa: E402
    int_range,
    positive_int,
    script_errors,
)
from bigraph_pyg.losses import BiGraphLoss  # noqa: E402
from bigraph_pyg.models import (  # noqa: E402
    ABLATIONS,
    BiGraphBody,
    BiGraphConfig,
)
from bigraph_pyg.topology import BodyGraphs  # noqa: E402

DOC = Path(__file__).resolve().parents[1] / "docs" / "models.md"
START, END = "<!-- model-table:start -->", "<!-- model-table:end -->"


def _count(module: torch.nn.Module | None) -> int:
    if module is None:
        return 0
    return sum(p.numel() for p in module.parameters())


def _best_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * min(times)


def measure(model: BiGraphBody, batch: int, repeats: int) -> dict:
    """Parameter counts and best fwd / fwd+bwd times of one model."""
    cfg = model.config
    images, joints, gt = make_inputs(cfg, batch, model.num_full_vertices, "cpu")

    def forward():
        model.eval()
        with torch.no_grad():
            model(images, joints)

    criterion = BiGraphLoss.for_config(cfg)

    def forward_backward():
        model.train()
        model.zero_grad(set_to_none=True)
        loss, _ = criterion.model_loss(model(images, joints), gt)
        loss.backward()

    total = _count(model)
    encoder = _count(model.encoder)
    smpl = _count(model.smpl_regressor)
    return dict(
        total=total,
        encoder=encoder,
        smpl=smpl,
        graph=total - encoder - smpl,
        fwd=_best_ms(forward, repeats),
        fwd_bwd=_best_ms(forward_backward, repeats),
    )


def table(
    rows: list[tuple[str, str, dict]], batch: int, threads: int, repeats: int
) -> str:
    """Markdown of the measured rows with the machine description."""
    head = (
        f"Measured by `scripts/model_table.py` on {C.cpu_model()}, "
        f"{os.cpu_count()} cores shared with other jobs, "
        f"`torch.set_num_threads({threads})`, torch {torch.__version__}, "
        f"float32, random weights, batch {batch}, best of {repeats} runs "
        "after one warm-up (other jobs were running: expect noise of tens "
        "of percent); forward in `eval()` under `no_grad`, "
        "forward + backward of Eq. 6 (`BiGraphLoss.model_loss`) in `train()`. "
        "Parameters in millions; the graph network is everything but the "
        "encoder and the SMPL regressor (inputs, blocks, heads, camera).\n\n"
        "| model | base | params | encoder | graph net | SMPL reg. "
        "| fwd (ms) | fwd+bwd (ms) |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|\n"
    )
    lines = [
        f"| `{name}` | {base} | {m['total'] / 1e6:.2f} | "
        f"{m['encoder'] / 1e6:.2f} | {m['graph'] / 1e6:.3f} | "
        f"{m['smpl'] / 1e6:.2f} | {m['fwd']:.0f} | {m['fwd_bwd']:.0f} |"
        for name, base, m in rows
    ]
    return head + "\n".join(lines) + "\n"


def _marked_doc(path: Path) -> str:
    """The text of ``path``, which must hold the table's markers."""
    doc = path.read_text()
    if START not in doc or END not in doc:
        raise ValueError(
            f"Expected {START} and {END} in {path} (got a file without them)"
        )
    return doc


def write(text: str, path: Path = DOC) -> None:
    """Replace the marked section of ``path`` with ``text``."""
    doc = _marked_doc(path)
    pre, rest = doc.split(START, 1)
    _, post = rest.split(END, 1)
    path.write_text(f"{pre}{START}\n{text}{END}{post}")


def main(argv: list[str] | None = None) -> None:
    """Measure the selected models and print or write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base", choices=["paper", "cpu", "both"], default="both"
    )
    # At least 2 (BatchNorm in train()); at most what fits in memory.
    parser.add_argument("--batch", type=int_range(2, 64), default=2)
    parser.add_argument("--repeats", type=positive_int, default=3)
    parser.add_argument("--threads", type=positive_int, default=1)
    parser.add_argument(
        "--only",
        nargs="*",
        choices=list(ABLATIONS),
        default=None,
        help="ablation names to measure (default: all)",
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    if not args.no_write:
        with script_errors():  # before minutes of measuring
            _marked_doc(DOC)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    with script_errors():  # a damaged body file names itself
        body = default_body()
        base_graphs = BodyGraphs.from_body(body, level=1)
    graphs = {
        level: BodyGraphs.from_hierarchy(
            base_graphs.hierarchy, base_graphs.joints, level=level
        )
        for level in (1, 2)
    }
    bases = ["paper", "cpu"] if args.base == "both" else [args.base]
    names = list(ABLATIONS) if args.only is None else args.only
    rows = []
    for base in bases:
        configs = [(base, "-", BiGraphConfig.preset(base))]
        configs += [
            (n, base, BiGraphConfig.preset(n, base=base))
            for n in names
            if n != "row_d"
        ]  # row_d == base
        for name, label, cfg in configs:
            model = BiGraphBody(cfg, graphs[cfg.mesh_level], body)
            rows.append((name, label, measure(model, args.batch, args.repeats)))
            del model
    text = table(rows, args.batch, args.threads, args.repeats)
    if args.no_write:
        print(text)  # noqa: T201 - a script's output
    else:
        with script_errors():
            write(text)


if __name__ == "__main__":
    main()

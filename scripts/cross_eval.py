r"""Score several checkpoints under several 2D-input conditions, one table.

    python scripts/cross_eval.py synthetic=pretrained:synthetic \
        synthetic-mediapipe=pretrained:synthetic-mediapipe \
        --synthetic-root data/synthetic_eval512_v3 --num-samples 512 \
        --joint-noise cache mediapipe detector \
        --out docs/results/detector_input_eval.json

Each ``NAME=CHECKPOINT`` (a path or ``pretrained:NAME``) is scored by
``examples/eval_bigraph.py`` on the same synthetic test samples under each
``--joint-noise``: the cache's estimates, the MediaPipe-like redraw, or
MediaPipe's own joints on the renders (``detector``: the renders without a
person are left out, the same ones for every model), on both synthetic
splits (in distribution: ``NAME/NOISE``; the held-out pose families:
``NAME/NOISE/heldout``). Prints a markdown table (PA-MPJPE of the skeleton
and mesh joints, MPVE, the best trivial baseline on the same samples) and
writes it all as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # a checkout without install
from bigraph_pyg.cli import (  # noqa: E402
    output_file,
    sample_count,
    script_errors,
    seed,
)

#: Metrics kept per (model, condition).
KEYS = (
    "pa_mpjpe_skeleton",
    "pa_mpjpe",
    "mpjpe_skeleton",
    "mpjpe",
    "mpve",
    "mpve_smpl",
    "best_baseline_pa_mpjpe",
    "best_baseline_mpve",
    "depth_corr_skeleton",
    "depth_corr",
    "num_samples",
)

#: Result-key suffix -> eval_bigraph's JSON key, one per synthetic split.
SPLITS = {"": "metrics", "/heldout": "metrics_heldout"}
#: The table's name of each split.
SPLIT_NAMES = {"": "in distribution", "/heldout": "held-out families"}


def _f(x, digits: int = 1) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def models_parser(doc: str) -> argparse.ArgumentParser:
    """The arguments these scripts share (also ``detector_agreement.py``).

    ``NAME=CKPT ...`` scored on the synthetic test samples of
    ``--synthetic-root``; the JSON to ``--out``.
    """
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument(
        "models", nargs="+", type=named_checkpoint, metavar="NAME=CKPT"
    )
    p.add_argument("--synthetic-root", default="data/synthetic")
    p.add_argument("--num-samples", type=sample_count, default=64)
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--out", type=json_path, help="JSON path")
    return p


def json_path(text: str) -> Path:
    """Argparse ``type``: a JSON file to write, checked before any work.

    Not a folder, not below a regular file (:func:`output_file`).
    """
    return Path(output_file(text))


def check_out(args) -> None:
    """Create ``--out``'s folder before the work, so it fails first."""
    if args.out is not None:
        with script_errors():
            args.out.parent.mkdir(parents=True, exist_ok=True)


def finish(
    script: str, argv, args, start: float, results: dict, table: str, **extra
) -> dict:
    """Print the table, write the result to ``args.out``, return it.

    The result: the command, the models, ``extra``, the time, the results
    and the table.
    """
    print(table)
    result = {
        "command": f"python scripts/{script} "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "checkpoints": dict(args.models),
        **extra,
        "seconds": round(time.perf_counter() - start, 1),
        "results": results,
        "table": table,
    }
    if args.out is not None:
        with script_errors():
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.out}")
    return result


def named_checkpoint(text: str) -> tuple[str, str]:
    """``NAME=CHECKPOINT`` as ``(name, checkpoint)`` (an argparse type)."""
    name, sep, ckpt = text.partition("=")
    if not sep or not name or not ckpt:
        raise argparse.ArgumentTypeError(
            f"Expected NAME=CHECKPOINT (got {text!r})"
        )
    return name, ckpt


def main(argv=None) -> dict:
    """Run the cross-evaluation; return what ``--out`` gets."""
    p = models_parser(__doc__)
    p.add_argument(
        "--joint-noise",
        nargs="+",
        default=["cache", "mediapipe", "detector"],
    )
    args = p.parse_args(argv)
    check_out(args)
    sys.path.insert(0, str(ROOT / "examples"))
    import eval_bigraph

    results = {}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name, ckpt in args.models:
            for noise in args.joint_noise:
                out = Path(tmp) / f"{name}_{noise}.json"
                eval_bigraph.main(
                    [ckpt, "--synthetic-root", args.synthetic_root]
                    + ["--num-samples", str(args.num_samples)]
                    + ["--joint-noise", noise, "--seed", str(args.seed)]
                    + ["--no-segmentation", "--quiet", "--json", str(out)]
                )
                record = json.loads(out.read_text())
                for split, key in SPLITS.items():
                    if key in record:
                        m = record[key]
                        results[f"{name}/{noise}{split}"] = {
                            k: m.get(k) for k in KEYS
                        }
    rows = [
        "| model | 2D input | split | samples | skeleton PA-MPJPE "
        "| mesh PA-MPJPE | MPVE np / SMPL | best baseline PA / MPVE |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for noise in args.joint_noise:
        for split in SPLITS:
            for name, _ in args.models:
                r = results.get(f"{name}/{noise}{split}")
                if r is None:
                    continue
                rows.append(
                    f"| {name} | {noise} | {SPLIT_NAMES[split]} | "
                    f"{_f(r['num_samples'], 0)} | "
                    f"{_f(r['pa_mpjpe_skeleton'])} | {_f(r['pa_mpjpe'])} | "
                    f"{_f(r['mpve'])} / {_f(r['mpve_smpl'])} | "
                    f"{_f(r['best_baseline_pa_mpjpe'])} / "
                    f"{_f(r['best_baseline_mpve'])} |"
                )
    return finish(
        "cross_eval.py",
        argv,
        args,
        start,
        results,
        "\n".join(rows),
        synthetic_root=args.synthetic_root,
    )


if __name__ == "__main__":
    main()

"""Table 4 (rows A-D) and Fig. 5 on the synthetic data, same seed and budget.

Trains the mesh-only GraphCMR baseline (A), the bilayer graph without
localized features (B), without the fusion graph (C) and the full model
(D) on the same synthetic split with the same seed and the main job's CPU
recipe and budget (``examples/train_bigraph.py``: 1600 samples x 4 epochs,
lr 1e-3 warm-up + cosine, 96 pose-only samples a step for the rows with a
skeleton branch — row A has no 2D input to lift); writes ``OUT/table4.md``
(PA-MPJPE / MPJPE / MPVE on the in-distribution test split and on the
held-out pose families, the PA-MPJPE skill ratio and the trivial baselines
scored on the same samples, next to the paper's numbers) and
``OUT/loss_curves.png`` (the training curves of the mesh-joint and vertex
losses of A and D, as Fig. 5, with the same losses of the constant mean
pose and mesh as dashed lines).

Examples::

    python examples/reproduce_ablation.py             # CPU, under an hour
    python examples/reproduce_ablation.py --quick     # minutes, smoke run
    python examples/reproduce_ablation.py --long --amp --out runs/ablation_long
    python examples/reproduce_ablation.py --scale 8 --device cuda --amp
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import torch

from bigraph_pyg.cli import (
    MAX_SAMPLES,
    device,
    output_path,
    positive_int,
    script_errors,
    seed,
)
from bigraph_pyg.engine.runner import check_run_folder

BASE = dict(
    num_train=1600,
    num_test=64,
    epochs=4,
    batch_size=16,
    num_lift=8192,
    lift_batch_size=96,
    skeleton_lift_batch_size=0,
)
#: The longer recipe's budget (docs/training.md, "The longer recipe", v2;
#: with --amp as there): 4800 samples x 6 epochs, 65536 pose-only samples,
#: 512 a step through the Skeleton-GCN alone.
LONG = dict(
    BASE,
    num_train=4800,
    epochs=6,
    num_lift=65536,
    skeleton_lift_batch_size=512,
)
QUICK = dict(
    num_train=32,
    num_test=16,
    epochs=2,
    batch_size=8,
    num_lift=256,
    lift_batch_size=8,
    skeleton_lift_batch_size=16,
)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", choices=("cpu", "paper"), default="cpu")
    p.add_argument("--rows", default="ABCD", help="subset, e.g. AD")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--quick", action="store_true", help="tiny budget")
    budget.add_argument(
        "--long",
        action="store_true",
        help="the v2 longer recipe's budget (6 epochs, 512 pose-only "
        "samples a step through the Skeleton-GCN; data/synthetic_long; "
        "add --amp)",
    )
    p.add_argument(
        "--scale",
        type=positive_int,
        default=1,
        help="multiply samples and epochs (GPU budgets)",
    )
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--device", type=device, default="cpu")
    p.add_argument("--amp", action="store_true")
    p.add_argument(
        "--synthetic-root",
        default=None,
        help="default: the main job's data/synthetic (or "
        "data/synthetic_quick with --quick, "
        "data/synthetic_xK with --scale K: a cache holds "
        "one size)",
    )
    p.add_argument("--out", type=output_path, default="runs/ablation")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the checkpoints of an earlier run of the "
        "same rows in OUT, or a table of other rows trained with other "
        "settings (default: refused; rows of the same settings are "
        "merged into OUT's table)",
    )
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    from bigraph_pyg.apps.datasets import synthetic_splits
    from bigraph_pyg.body import default_body
    from bigraph_pyg.data import SyntheticPoses
    from bigraph_pyg.engine import (
        DistributedContext,
        TrainConfig,
        TrainingStatistics,
        train_and_evaluate,
    )
    from bigraph_pyg.engine.ablation import (
        TABLE4_ROWS,
        ablation_table,
        earlier_rows,
        parse_rows,
        plot_loss_curves,
    )
    from bigraph_pyg.losses import keypoint_3d_l1_loss, vertex_l1_loss
    from bigraph_pyg.models import BiGraphBody, BiGraphConfig

    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    start = time.perf_counter()
    out = Path(args.out)
    budget = dict(QUICK if args.quick else LONG if args.long else BASE)
    for k in ("num_train", "num_test", "epochs", "num_lift"):
        budget[k] *= args.scale
    root = args.synthetic_root or (
        "data/synthetic_quick"
        if args.quick
        else "data/synthetic_long"
        if args.long and args.scale == 1
        else "data/synthetic"
        if args.scale == 1
        else f"data/synthetic_x{args.scale}"
    )
    settings = dict(
        budget, seed=args.seed, preset=args.preset, amp=args.amp, data=root
    )
    with script_errors():  # before any data is generated
        rows = parse_rows(args.rows)
        for k in ("num_train", "num_test", "num_lift"):
            if budget[k] > MAX_SAMPLES:
                most = MAX_SAMPLES // (budget[k] // args.scale)
                raise ValueError(
                    f"Expected --scale at most {most} (got {args.scale}: "
                    f"{budget[k]:_} {k.removeprefix('num_')} samples, more "
                    f"than {MAX_SAMPLES:_})"
                )
        for row in rows:
            check_run_folder(
                out / f"row_{row}",
                overwrite=args.overwrite,
                advice="pass --overwrite to replace it, or another --out",
            )
        earlier = earlier_rows(
            out / "table4.json", rows, settings, args.overwrite
        )
    try:
        body = default_body()
        size = BiGraphConfig.preset(args.preset).image_size
        splits = synthetic_splits(
            root,
            {
                "train": budget["num_train"],
                "test": budget["num_test"],
                "heldout": budget["num_test"],
            },
            size,
            body,
            seed=0,
            progress=not args.quiet,
        )
        ctx = DistributedContext(device=torch.device(args.device))
        stats = TrainingStatistics.from_dataset(splits["train"])
        recipe = (
            dict(lr=1e-3, warmup_steps=20, lr_schedule="cosine")
            if args.preset == "cpu"
            else {}
        )
        metrics = dict(earlier.get("metrics", {}))
        metrics_heldout = dict(earlier.get("metrics_heldout", {}))
        times = dict(earlier.get("train_seconds", {}))
        histories = dict(earlier.get("histories", {}))
        lift_set = None
        for row in rows:
            cfg = BiGraphConfig.preset(TABLE4_ROWS[row], base=args.preset)
            torch.manual_seed(args.seed)
            model = BiGraphBody.from_body(cfg, body)
            lift = (
                budget["lift_batch_size"]
                if cfg.use_skeleton and args.preset == "cpu"
                else 0
            )
            if lift and lift_set is None:
                lift_set = SyntheticPoses(
                    Path(root) / "poses",
                    budget["num_lift"],
                    seed=0,
                    level=cfg.mesh_level,
                    sampler=model.sampler,
                    progress=not args.quiet,
                )
            train_cfg = TrainConfig(
                epochs=budget["epochs"],
                batch_size=budget["batch_size"],
                seed=args.seed,
                amp=args.amp,
                progress=not args.quiet,
                lift_batch_size=lift,
                skeleton_lift_batch_size=(
                    budget["skeleton_lift_batch_size"] if lift else 0
                ),
                **recipe,
            )
            s = train_and_evaluate(
                model,
                splits["train"],
                train_cfg,
                out / f"row_{row}",
                None,
                splits["test"],
                ctx,
                body,
                test_segmentation=False,
                extra_state={"training_stats": stats.to_dict()},
                lift_set=lift_set if lift else None,
                overwrite=args.overwrite,
                more_test_sets={"heldout": splits["heldout"]},
            )
            metrics[row] = s.metrics
            metrics_heldout[row] = s.more_metrics["heldout"]
            histories[f"{row} ({TABLE4_ROWS[row]})"] = s.result.history
            times[row] = s.train_seconds
            print(
                f"row {row}: PA-MPJPE {s.metrics['pa_mpjpe']:.1f}, MPJPE "
                f"{s.metrics['mpjpe']:.1f}, MPVE {s.metrics['mpve']:.1f} "
                f"mm; held-out families PA-MPJPE "
                f"{metrics_heldout[row]['pa_mpjpe']:.1f} mm "
                f"({s.train_seconds:.0f} s)"
            )
    except (OSError, ValueError) as err:
        raise SystemExit(f"error: {err}") from None
    metrics = {r: metrics[r] for r in TABLE4_ROWS if r in metrics}
    metrics_heldout = {
        r: metrics_heldout[r] for r in TABLE4_ROWS if r in metrics_heldout
    }
    curves = {k: v for k, v in sorted(histories.items()) if k[0] in "AD"}
    table = ablation_table(metrics)
    if metrics_heldout:
        table += "\n\n" + ablation_table(
            metrics_heldout, data_name="held-out families"
        )
    budget_line = (
        f"Budget: {budget['num_train']} training / "
        f"{budget['num_test']} test synthetic samples of the training "
        f"activities and {budget['num_test']} of the held-out pose "
        "families, "
        f"{budget['epochs']} epochs, batch {budget['batch_size']},"
        f" seed {args.seed}, preset {args.preset}"
        + (
            f", {budget['lift_batch_size']} pose-only samples a "
            f"step (of {budget['num_lift']}) for rows B-D"
            + (
                f" and {budget['skeleton_lift_batch_size']} more through "
                "the Skeleton-GCN alone"
                if budget["skeleton_lift_batch_size"]
                else ""
            )
            + (", bfloat16 autocast" if args.amp else "")
            if args.preset == "cpu"
            else ""
        )
        + ". The paper's columns are real-data numbers (H36M, "
        "UP-3D), shown for the ranking only."
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "table4.md").write_text(f"{table}\n\n{budget_line}\n")
    (out / "table4.json").write_text(
        json.dumps(
            {
                "metrics": metrics,
                "metrics_heldout": metrics_heldout,
                "train_seconds": times,
                "budget": budget,
                "settings": settings,
                "histories": curves,  # merged by the next run of other rows
            },
            indent=1,
        )
    )
    if curves:
        # The same L1 losses of the constant predictors, on the test split.
        test = splits["test"].data
        n = len(splits["test"])
        base = {
            "mesh_joints_3d": {
                "constant mean pose": float(
                    keypoint_3d_l1_loss(
                        stats.mean_joints.expand(n, -1, -1),
                        test["joints_3d"].float(),
                    )
                )
            }
        }
        if stats.mean_vertices is not None:
            base["vertices"] = {
                "constant mean mesh": float(
                    vertex_l1_loss(
                        stats.mean_vertices.expand(n, -1, -1),
                        test["vertices"].float(),
                    )
                )
            }
        plot_loss_curves(curves, out / "loss_curves.png", baselines=base)
    print(table)
    print(budget_line)
    print(
        f"wrote {out / 'table4.md'} and {out / 'loss_curves.png'}; wall "
        f"time {time.perf_counter() - start:.0f} s"
    )


if __name__ == "__main__":
    main()

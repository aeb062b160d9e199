"""Evaluate a checkpoint: a metrics table (paper Sec. 5.1), also as JSON.

Examples::

    python examples/eval_bigraph.py runs/train_bigraph/checkpoints/best.pt
    python examples/eval_bigraph.py CKPT --dataset h36m_p2 \\
        --data-root GraphCMR/data --image-root images \\
        --h36m-regressor GraphCMR/data/J_regressor_h36m.npy
    python examples/eval_bigraph.py CKPT --dataset lsp --data-root ... \\
        --image-root ... --json lsp.json
    python examples/eval_bigraph.py pretrained:synthetic --joint-noise mediapipe

Datasets: ``synthetic`` (two held-out synthetic splits, each its own
table: new samples of the training activities, in distribution, and the
held-out pose families, never drawn for training), ``h36m_p1``,
``h36m_p2`` (MPJPE / PA-MPJPE; with the 14-joint H36M regressor when
given), ``up3d`` (MPVE, non-parametric and SMPL), ``lsp`` (foreground and
part segmentation accuracy and F1 of the projected mesh).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bigraph_pyg.apps.datasets import EVAL_SPLITS, JOINT_NOISES
from bigraph_pyg.cli import (
    device,
    name_equals_path,
    output_file,
    positive_int,
    sample_count,
    seed,
)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "checkpoint",
        help="a training checkpoint, or pretrained:NAME for a shipped model "
        "(e.g. pretrained:synthetic)",
    )
    p.add_argument(
        "--dataset",
        default="synthetic",
        choices=["synthetic", *sorted(EVAL_SPLITS)],
    )
    p.add_argument("--synthetic-root", default="data/synthetic")
    p.add_argument(
        "--num-samples",
        type=sample_count,
        default=64,
        help="synthetic test samples",
    )
    p.add_argument(
        "--joint-noise",
        choices=JOINT_NOISES,
        default="cache",
        help="the synthetic test samples' estimated 2D joints: the cache's, "
        "redrawn as the demo's detector errs (as train_bigraph.py "
        "--joint-noise with the same --seed), or the demo detector's own "
        "joints on each render (the samples where it finds no person are "
        "left out; needs the detect extra)",
    )
    p.add_argument(
        "--seed",
        type=seed,
        default=0,
        help="the training run's --seed: of the synthetic cache and of "
        "--joint-noise mediapipe",
    )
    p.add_argument("--data-root", help="GraphCMR .npz folder")
    p.add_argument("--image-root")
    p.add_argument(
        "--image-dir",
        action="append",
        default=[],
        type=name_equals_path,
        metavar="NAME=PATH",
    )
    p.add_argument("--h36m-regressor", help="J_regressor_h36m.npy")
    p.add_argument("--batch-size", type=positive_int, default=16)
    p.add_argument("--device", type=device, default="cpu")
    p.add_argument("--no-segmentation", action="store_true")
    p.add_argument(
        "--json", type=output_file, help="also write the metrics here"
    )
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def _with_pose_bank(stats, args, model):
    """A checkpoint older than the lookup baseline: give it a pose bank.

    The bank is what a run gets: the pose-only training samples of the
    synthetic world (drawn from the training stream, cached in
    ``--synthetic-root/poses``), the first 16,384 of them.
    """
    from bigraph_pyg.data import SyntheticPoses
    from bigraph_pyg.engine.baselines import MAX_BANK_POSES

    if args.dataset != "synthetic":
        return stats
    poses = SyntheticPoses(
        Path(args.synthetic_root) / "poses",
        MAX_BANK_POSES,
        seed=args.seed,
        level=model.config.mesh_level,
        sampler=model.sampler,
        progress=not args.quiet,
    )
    return stats.with_pose_bank(poses)


def main(argv=None) -> None:
    args = parse_args(argv)
    import numpy as np
    from torch.utils.data import DataLoader, Subset

    from bigraph_pyg.apps.datasets import (
        apply_joint_noise,
        real_eval_set,
        synthetic_splits,
    )
    from bigraph_pyg.body import default_body
    from bigraph_pyg.engine import (
        CheckpointError,
        TrainingStatistics,
        collate_samples,
        evaluate,
        format_metrics,
        load_h36m_regressor,
    )
    from bigraph_pyg.hub import load_model

    start = time.perf_counter()
    if args.joint_noise != "cache" and args.dataset != "synthetic":
        raise SystemExit(
            "error: Expected --joint-noise cache with --dataset "
            f"{args.dataset} (got {args.joint_noise!r}); only the synthetic "
            "samples are redrawn"
        )
    try:
        body = default_body()
        model, state = load_model(
            args.checkpoint, body, map_location=args.device
        )
        model = model.to(args.device)
        if args.dataset == "synthetic":
            root = Path(args.synthetic_root)
            if not root.is_dir():
                raise FileNotFoundError(
                    f"Expected the synthetic data folder {root} (got no such "
                    "folder); pass --synthetic-root of the training run"
                )
            splits = synthetic_splits(
                root,
                {"test": args.num_samples, "heldout": args.num_samples},
                model.config.image_size,
                body,
                seed=args.seed,
                progress=not args.quiet,
            )
            found = apply_joint_noise(
                args.joint_noise,
                splits,
                args.seed,
                root,
                progress=not args.quiet,
            )
            sets = {}
            for split, data in splits.items():
                if split in found:
                    kept = int(found[split].sum())
                    print(
                        f"MediaPipe found a person in {kept} of {len(data)} "
                        f"{split} renders: scoring those"
                    )
                    data = Subset(data, np.flatnonzero(found[split]).tolist())
                sets[split] = data
        else:
            if args.data_root is None:
                raise FileNotFoundError(
                    f"Expected --data-root for --dataset {args.dataset} "
                    "(got none)"
                )
            dirs = dict(d.split("=", 1) for d in args.image_dir)
            sets = {
                "test": real_eval_set(
                    args.dataset, args.data_root, args.image_root, dirs, body
                )
            }
        reg = (
            load_h36m_regressor(args.h36m_regressor)
            if args.h36m_regressor
            else None
        )
        seg = not args.no_segmentation and args.dataset in ("synthetic", "lsp")
        stats = state.get("extra", {}).get("training_stats")
        stats = None if stats is None else TrainingStatistics.from_dict(stats)
        if stats is not None and stats.pose_bank is None and sets:
            stats = _with_pose_bank(stats, args, model)
        results = {}
        for split, data in sets.items():
            results[split] = evaluate(
                model,
                DataLoader(
                    data, batch_size=args.batch_size, collate_fn=collate_samples
                ),
                args.device,
                body=body,
                h36m_regressor=reg,
                segmentation=seg,
                progress=not args.quiet,
                baselines=stats,
            )
    except (CheckpointError, FileNotFoundError, ImportError, ValueError) as err:
        raise SystemExit(f"error: {err}") from None
    name = state.get("extra", {}).get("ablation") or state.get("extra", {}).get(
        "preset", "model"
    )
    what = {"test": "in distribution", "heldout": "held-out pose families"}
    for split, metrics in results.items():
        where = args.dataset
        if args.dataset == "synthetic":
            where += f", {what[split]}"
        print(f"{args.checkpoint} (step {state.get('step')}) on {where}:")
        print(format_metrics(metrics, name))
    print(f"wall time {time.perf_counter() - start:.0f} s")
    if args.json:
        record = {
            "checkpoint": str(args.checkpoint),
            "dataset": args.dataset,
            "joint_noise": args.joint_noise,
            "num_samples": int(results["test"]["num_samples"]),
            "seed": args.seed,
            "step": state.get("step"),
            "metrics": results["test"],
        }
        if "heldout" in results:
            record["metrics_heldout"] = results["heldout"]
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()

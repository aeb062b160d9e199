"""Train a bilayer-graph model, then evaluate it (paper Secs. 4.4, 5.2).

With no arguments: the small ``cpu`` preset on the built-in synthetic
humans (generated once into ``data/synthetic``), validated every epoch,
then the best checkpoint scored on two held-out synthetic test splits: new
samples of the training activities (in distribution) and the held-out pose
families (activities and part families never drawn for training). Both
metrics tables are printed and written to ``runs/train_bigraph/metrics.json``.

Examples::

    python examples/train_bigraph.py                      # CPU main job
    python examples/train_bigraph.py --resume             # continue it
    python examples/train_bigraph.py --ablation graphcmr  # Table 4 row A
    python examples/train_bigraph.py --joint-noise mediapipe  # demo's noise
    python examples/train_bigraph.py --joint-noise detector   # its joints
    python examples/train_bigraph.py --config examples/configs/long_recipe.toml
    python examples/train_bigraph.py --preset paper --device cuda --amp \\
        --data real --data-root GraphCMR/data --image-root images
    torchrun --nproc_per_node=4 examples/train_bigraph.py --preset paper \\
        --device cuda --data real --data-root ... --image-root ...

TensorBoard: ``tensorboard --logdir runs``.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import torch

from bigraph_pyg.apps.datasets import JOINT_NOISES
from bigraph_pyg.cli import (
    device,
    int_range,
    name_equals_path,
    non_negative_float,
    non_negative_int,
    output_path,
    parse_with_config,
    positive_float,
    positive_int,
    sample_count,
    seed,
    unit_float,
)
from bigraph_pyg.engine.runner import check_run_folder
from bigraph_pyg.losses import LOSS_ABLATIONS, LossWeights
from bigraph_pyg.models import ABLATIONS, PRESETS, BiGraphBody, BiGraphConfig

DEFAULTS = {  # per preset: optimisation and synthetic split sizes
    # The CPU recipe (docs/training.md): every step adds pose-only samples,
    # run image-free, so the skeleton branch learns to lift from thousands
    # of poses while only a few hundred images are rendered.
    "cpu": dict(
        batch_size=16,
        epochs=4,
        num_train=1600,
        num_val=32,
        num_test=64,
        lr=1e-3,
        warmup_steps=20,
        lr_schedule="cosine",
        lift_batch_size=96,
        skeleton_lift_batch_size=0,
        num_lift=8192,
    ),
    # The paper's recipe (Sec. 5.2): images only, constant 2.5e-4.
    "paper": dict(
        batch_size=64,
        epochs=50,
        num_train=8192,
        num_val=256,
        num_test=1024,
        lr=2.5e-4,
        warmup_steps=0,
        lr_schedule="constant",
        lift_batch_size=0,
        skeleton_lift_batch_size=0,
        num_lift=0,
    ),
}


def build_parser() -> argparse.ArgumentParser:
    """The flags, by topic; ``--config FILE.toml`` gives any of them."""
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="A run's flags can live in a TOML file, keys named as the "
        "flags with _ for - (examples/configs/long_recipe.toml); flags given "
        "beside --config override it.",
    )
    p.add_argument(
        "--config",
        metavar="FILE.toml",
        help="flags from a TOML file, e.g. num_train = 4800 (the command "
        "line overrides them)",
    )
    _model_flags(p.add_argument_group("model"))
    _data_flags(p.add_argument_group("data"))
    _optimisation_flags(p.add_argument_group("optimisation"))
    _lifting_flags(
        p.add_argument_group(
            "pose-only lifting",
            "synthetic poses trained beside the images, image-free "
            "(batch sizes and --num-lift default to the preset's)",
        )
    )
    _run_flags(p.add_argument_group("output and run"))
    return p


def parse_args(argv=None) -> argparse.Namespace:
    return parse_with_config(build_parser(), argv)


def _model_flags(g) -> None:
    g.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="cpu",
        help="the model and its recipe: batch, epochs, split sizes, lr, "
        "pose-only samples (docs/training.md)",
    )
    g.add_argument(
        "--ablation",
        choices=sorted([*ABLATIONS, *LOSS_ABLATIONS]),
        default=None,
        help="Table 4/5 variant of the preset",
    )
    g.add_argument(
        "--graphcmr",
        action="store_true",
        help="the mesh-only GraphCMR baseline (= --ablation graphcmr)",
    )


def _data_flags(g) -> None:
    g.add_argument("--data", choices=("synthetic", "real"), default="synthetic")
    g.add_argument("--synthetic-root", default="data/synthetic")
    g.add_argument("--num-train", type=sample_count)
    g.add_argument("--num-val", type=sample_count)
    g.add_argument("--num-test", type=sample_count)
    g.add_argument(
        "--joint-noise",
        choices=JOINT_NOISES,
        default="cache",
        help="estimated 2D joints of every synthetic set: the cache's "
        "(JointNoise()), redrawn as the demo's detector errs "
        "(JointNoise.mediapipe(), docs/data.md), or the demo detector's own "
        "joints on each render (detector: MediaPipe, the detect extra, run "
        "once per split and kept beside the renders; the fitted noise "
        "where there is no render or no person)",
    )
    g.add_argument("--data-root", help="GraphCMR .npz folder (--data real)")
    g.add_argument(
        "--image-root",
        help="folder with h36m/, up3d/, lsp/, "
        "coco/, mpii/ image folders (--data real)",
    )
    g.add_argument(
        "--image-dir",
        action="append",
        default=[],
        type=name_equals_path,
        metavar="NAME=PATH",
        help="one dataset's image folder",
    )


def _optimisation_flags(g) -> None:
    g.add_argument("--epochs", type=positive_int)
    g.add_argument(
        "--batch-size",
        type=int_range(2, 65536),
        help="per process (BatchNorm needs 2)",
    )
    g.add_argument("--lr", type=positive_float, help="Adam learning rate")
    g.add_argument("--warmup-steps", type=non_negative_int)
    g.add_argument("--lr-schedule", choices=("constant", "cosine"))
    g.add_argument("--seed", type=seed, default=0)
    g.add_argument("--max-steps", type=positive_int)
    g.add_argument(
        "--amp",
        action="store_true",
        help="mixed precision (bfloat16 autocast on the CPU)",
    )
    g.add_argument("--compile", action="store_true", help="torch.compile")


def _lifting_flags(g) -> None:
    g.add_argument(
        "--lift-batch-size",
        type=non_negative_int,
        help="pose-only samples per step, run image-free (0: images only)",
    )
    g.add_argument(
        "--skeleton-lift-batch-size",
        type=non_negative_int,
        help="further pose-only samples per step through the Skeleton-GCN "
        "alone (BiGraphBody.lift; 0: none)",
    )
    g.add_argument(
        "--skeleton-lift-loss",
        choices=("eq6", "l1"),
        default="eq6",
        help="the skeleton-only lifting term: Eq. 6's L_s (the focal term) "
        "or its L1 form (the images keep Eq. 6)",
    )
    g.add_argument(
        "--skeleton-lift-weight",
        type=non_negative_float,
        help="weight of the skeleton-only lifting term in the step's total "
        "(default: its coefficient in Eq. 6: 5 for eq6, 1 for l1)",
    )
    g.add_argument(
        "--lift-mix-start",
        type=unit_float,
        help="ground-truth 2D-joint share of the pose-only samples' input "
        "at step 0, falling to 0 as the images' does (default: as the "
        "images', 1.0; 0: the estimated joints from the first step)",
    )
    g.add_argument(
        "--num-lift",
        type=sample_count,
        help="pose-only samples drawn (synthetic data)",
    )
    g.add_argument(
        "--lift-redraw-noise",
        action="store_true",
        help="draw the pose-only samples' detector noise afresh each step "
        "instead of the one draw cached with each pose",
    )


def _run_flags(g) -> None:
    g.add_argument(
        "--device", type=device, default="cpu", help="cpu, cuda or cuda:K"
    )
    g.add_argument("--num-workers", type=non_negative_int, default=0)
    g.add_argument("--threads", type=positive_int, help="torch CPU threads")
    g.add_argument("--out", type=output_path, default="runs/train_bigraph")
    g.add_argument(
        "--resume",
        action="store_true",
        help="continue from OUT/checkpoints/last.pt",
    )
    g.add_argument(
        "--overwrite",
        action="store_true",
        help="a new run may replace the checkpoints already in "
        "OUT (default: refused)",
    )
    g.add_argument(
        "--no-segmentation",
        action="store_true",
        help="skip the rendered segmentation metrics",
    )
    g.add_argument("--quiet", action="store_true", help="no progress bars")


def _check_same_joint_noise(last: Path, joint_noise: str) -> None:
    """Refuse to resume a run under another 2D-joint noise model."""
    from bigraph_pyg.engine import CheckpointError, load_checkpoint

    extra = load_checkpoint(last).get("extra") or {}
    was = extra.get("joint_noise", "cache")
    if was != joint_noise:
        raise CheckpointError(
            f"Expected --joint-noise {was} to resume {last} (got "
            f"{joint_noise}); pass the run's own --joint-noise"
        )


def main(argv=None) -> None:
    args = parse_args(argv)
    from bigraph_pyg.apps.datasets import (
        apply_joint_noise,
        real_eval_set,
        real_training_mix,
        synthetic_splits,
    )
    from bigraph_pyg.engine import (
        CheckpointError,
        TrainConfig,
        cleanup_distributed,
        format_metrics,
        init_distributed,
        train_and_evaluate,
    )

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    start = time.perf_counter()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.joint_noise != "cache" and args.data != "synthetic":
        raise SystemExit(
            "error: Expected --joint-noise cache with --data real (got "
            f"{args.joint_noise!r}); a real set draws its own estimates"
        )
    last = Path(args.out) / "checkpoints" / "last.pt"
    if args.resume and not last.is_file():
        raise SystemExit(
            f"error: Expected a checkpoint to resume at {last} "
            "(got none); drop --resume to start a new run, or "
            "pass the run's --out folder"
        )
    try:  # before any data is generated
        check_run_folder(args.out, args.resume, args.overwrite)
        if args.resume:
            _check_same_joint_noise(last, args.joint_noise)
    except CheckpointError as err:
        raise SystemExit(f"error: {err}") from None
    sizes = DEFAULTS[args.preset]
    ablation = "graphcmr" if args.graphcmr else args.ablation
    try:
        model_cfg = (
            BiGraphConfig.preset(ablation, base=args.preset)
            if ablation in ABLATIONS
            else BiGraphConfig.preset(args.preset)
        )
        loss = LossWeights(**LOSS_ABLATIONS.get(ablation, {}))
        ctx = init_distributed(args.device)

        def pick(name):
            value = getattr(args, name)
            return sizes[name] if value is None else value

        # Pose-only samples: synthetic data, and a skeleton to lift them
        # (the mesh-only GraphCMR rows train on images alone).
        lifting = args.data == "synthetic" and model_cfg.use_skeleton
        lift = pick("lift_batch_size") if lifting else 0
        skeleton_lift = pick("skeleton_lift_batch_size") if lifting else 0
        train_cfg = TrainConfig(
            epochs=pick("epochs"),
            batch_size=pick("batch_size"),
            lr=pick("lr"),
            warmup_steps=pick("warmup_steps"),
            lr_schedule=pick("lr_schedule"),
            lift_batch_size=lift,
            skeleton_lift_batch_size=skeleton_lift,
            skeleton_lift_loss=args.skeleton_lift_loss,
            skeleton_lift_weight=args.skeleton_lift_weight,
            lift_mix_start=args.lift_mix_start,
            lift_redraw_noise=args.lift_redraw_noise,
            loss=loss,
            seed=args.seed,
            amp=args.amp,
            compile=args.compile,
            num_workers=args.num_workers,
            max_steps=args.max_steps,
            progress=not args.quiet,
        )
        torch.manual_seed(args.seed)
        from bigraph_pyg.body import default_body

        body = default_body()
        if args.data == "synthetic":
            splits = synthetic_splits(
                args.synthetic_root,
                {
                    "train": args.num_train or sizes["num_train"],
                    "val": args.num_val or sizes["num_val"],
                    "test": args.num_test or sizes["num_test"],
                    "heldout": args.num_test or sizes["num_test"],
                },
                model_cfg.image_size,
                body,
                seed=args.seed,
                progress=not args.quiet,
            )
            train_set, val_set, test_set = (
                splits["train"],
                splits["val"],
                splits["test"],
            )
            more_test = {"heldout": splits["heldout"]}
        else:
            dirs = dict(d.split("=", 1) for d in args.image_dir)
            if args.data_root is None:
                raise SystemExit(
                    "error: --data real needs --data-root (the "
                    "folder of GraphCMR's .npz files)"
                )
            train_set = real_training_mix(
                args.data_root,
                args.image_root,
                image_dirs=dirs,
                body=body,
                seed=args.seed,
            )
            val_set = None
            more_test = {}
            test_set = real_eval_set(
                "h36m_p2", args.data_root, args.image_root, dirs, body
            )
        model = BiGraphBody.from_body(model_cfg, body)
        lift_set = None
        if train_cfg.lift_batch_size or train_cfg.skeleton_lift_batch_size:
            from bigraph_pyg.data import SyntheticPoses

            lift_set = SyntheticPoses(
                Path(args.synthetic_root) / "poses",
                pick("num_lift"),
                seed=args.seed,
                level=model_cfg.mesh_level,
                sampler=model.sampler,
                progress=not args.quiet,
            )
        apply_joint_noise(
            args.joint_noise,
            dict(
                train=train_set,
                val=val_set,
                test=test_set,
                lift=lift_set,
                **more_test,
            ),
            args.seed,
            args.synthetic_root,
            progress=not args.quiet,
        )
        summary = train_and_evaluate(
            model,
            train_set,
            train_cfg,
            args.out,
            val_set,
            test_set,
            ctx,
            body,
            resume=args.resume,
            overwrite=args.overwrite,
            test_segmentation=not args.no_segmentation,
            extra_state={
                "data": args.data,
                "ablation": ablation,
                "preset": args.preset,
                "joint_noise": args.joint_noise,
            },
            lift_set=lift_set,
            more_test_sets=more_test,
        )
    except (CheckpointError, ImportError, OSError, ValueError) as err:
        raise SystemExit(f"error: {err}") from None
    finally:
        cleanup_distributed()
    if ctx.is_main:
        r = summary.result
        losses = [h["loss"] for h in r.history if "loss" in h]
        k = max(1, min(10, len(losses) // 4))
        name = ablation or args.preset
        print(
            f"\n{name}: {r.step} steps, loss {sum(losses[:k]) / k:.3f} "
            f"(first {k}) -> {sum(losses[-k:]) / k:.3f} (last {k}); "
            f"{r.nonfinite_steps} non-finite steps skipped"
        )
        tables = [("in distribution", summary.metrics)]
        tables += [
            ("held-out pose families", summary.more_metrics.get("heldout")),
        ]
        for what, metrics in tables:
            if metrics:
                print(
                    f"test metrics, {what} ({summary.evaluated}, "
                    f"{int(metrics['num_samples'])} held-out samples):"
                )
                print(format_metrics(metrics, name))
        print(
            f"wall time {time.perf_counter() - start:.0f} s (training "
            f"{summary.train_seconds:.0f} s); checkpoints and TensorBoard "
            f"logs in {args.out}"
        )


if __name__ == "__main__":
    main()

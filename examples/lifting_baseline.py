"""The anchor for the skeleton branch: a plain 2D-to-3D lifting MLP.

A two-residual-block MLP of width 1024 (Martinez et al., 2017) trained on
the synthetic generator's pose-only samples (the same poses, cameras and
detector-like 2D noise as the rendered training split, never rendered) and
scored on the main job's synthetic test splits — ``test`` (new samples of
the training activities) and ``heldout`` (the activities and part families
never drawn for training) — on the same samples, from the same 2D joints,
by the same metric code, beside the baselines of every accuracy table: the
constant mean pose, the zero-depth lift of the input and of the *true* 2D
joints, and the lookup (the mean of the 16 nearest of the first 16,384
training poses × 24 yaws by 2D Procrustes on the input,
:class:`~bigraph_pyg.engine.NearestNeighbourLifter`, as ``evaluate()``
scores it). The skeleton branch of ``train_bigraph.py`` sees the same 2D
joints; this is what a model that only lifts gets from them.

``--input true`` trains and scores the lifters on the true 2D joints
instead: what lifting reaches when the 2D is perfect, a bound on what any
predictor that takes its depth from the 2D pose alone can do in this world.
``--redraw`` draws the training samples' detector errors afresh each step
(:meth:`SyntheticPoses.batch <bigraph_pyg.data.SyntheticPoses.batch>`'s
``redraw``) instead of the cached draw.

``--models`` also trains, on the same samples, loss and budget, the
``cpu`` preset's Skeleton-GCN alone (:meth:`BiGraphBody.lift
<bigraph_pyg.models.BiGraphBody.lift>`, image-free): ``skeleton`` with the
preset's global pose context, ``skeleton-paper`` without it
(``pose_context_channels=0``, the paper's node input); and
``pretrained:NAME`` scores a shipped model's ``lift()`` as it is, untrained
(its skeleton branch, image-free, on the same input).

The training switches are the joint recipe's, one at a time, to see what
each costs a lifter: ``--warmup`` / ``--schedule cosine`` (the
library's :func:`~bigraph_pyg.engine.schedule.learning_rate`), ``--amp``
(bfloat16 autocast), ``--loss eq6`` (the paper's focal L_s, Eq. 6,
instead of L1) and ``--mix-start`` (Sec. 5.2's ground-truth / estimated 2D
mixing, decaying from that share to 0 at 5/6 of the steps, as in a 6-epoch
run).

Examples::

    python examples/lifting_baseline.py                 # 2 minutes
    python examples/lifting_baseline.py --models mlp,skeleton,skeleton-paper \
        --steps 1000 --threads 1
    # the lifting bound of docs/training.md (the longer recipe's 65,536
    # pose-only samples, 2048 test samples per split; 11 minutes on two
    # threads, plus ~5 the first time to draw the poses)
    python examples/lifting_baseline.py --models mlp --input true \
        --steps 6000 --batch-size 512 --warmup 20 --schedule cosine \
        --num-train 65536 --cache data/synthetic_long/poses --num-test 2048
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch import nn

from bigraph_pyg.cli import (
    non_negative_int,
    output_file,
    output_path,
    positive_float,
    positive_int,
    sample_count,
    script_errors,
    seed,
    unit_float,
)


class Lifter(nn.Module):
    """Linear -> 2 residual blocks (Linear, ReLU, Dropout x2) -> Linear."""

    def __init__(self, width: int = 1024, dropout: float = 0.1) -> None:
        super().__init__()
        self.inp = nn.Linear(24, width)
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.Linear(width, width),
                nn.ReLU(),
                nn.Dropout(dropout),
                nn.Linear(width, width),
                nn.ReLU(),
                nn.Dropout(dropout),
            )
            for _ in range(2)
        )
        self.out = nn.Linear(width, 36)

    def forward(self, joints_2d: torch.Tensor) -> torch.Tensor:
        from bigraph_pyg.models import pose_embedding

        # The pelvis-relative, scale-free 2D pose of the "pose" embedding.
        rel = pose_embedding(joints_2d, torch.eye(12))[..., 2:4]
        h = torch.relu(self.inp(rel.flatten(1)))
        for block in self.blocks:
            h = h + block(h)
        return self.out(h).view(-1, 12, 3)


#: What --models can train: the MLP, the cpu preset's Skeleton-GCN with
#: and without its pose context. ``pretrained:NAME`` scores a shipped
#: model's ``lift()`` (its skeleton branch, image-free) untrained.
MODELS = ("mlp", "skeleton", "skeleton-paper")


def _skeleton_lifter(pose_context: bool) -> nn.Module:
    from bigraph_pyg.models import BiGraphBody, BiGraphConfig

    cfg = BiGraphConfig.preset("cpu")
    if not pose_context:
        cfg = cfg.replace(pose_context_channels=0)
    return BiGraphBody.from_body(cfg)


def _lift_pixels(net: nn.Module, pixels: torch.Tensor, size: int):
    """``net.lift`` on the trainer's input: model pixels, clamped in."""
    side = torch.tensor(net.config.image_size[::-1], dtype=torch.float)
    px = pixels * side / size
    return net.lift(torch.minimum(px.clamp_min(0.0), side))


def _input_error(test: dict, size: int) -> dict[str, float]:
    """How far the split's estimated 2D joints are from the true ones.

    Over the joints flagged seen (a missed joint's position is a
    placeholder): the error in pixels of the ``size``-pixel crop and as a
    share of the sample's 2D height (its true joints' vertical extent);
    and the share of joints flagged unseen.
    """
    import numpy as np

    uv, est = test["joints_2d"], test["joints_2d_est"]
    seen = test["joints_2d_est_visible"] > 0
    err = np.linalg.norm(est - uv, axis=-1)
    height = np.ptp(uv[..., 1], axis=1)[:, None].repeat(uv.shape[1], 1)
    return {
        "median_px": float(np.median(err[seen])),
        "p90_px": float(np.quantile(err[seen], 0.9)),
        "median_of_height": float(np.median(err[seen] / height[seen])),
        "unseen_share": float(1.0 - seen.mean()),
        "crop_px": int(size),
    }


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--num-train",
        type=sample_count,
        default=16384,
        help="pose-only training samples",
    )
    p.add_argument(
        "--num-test",
        type=sample_count,
        default=64,
        help="test samples, in distribution (the main job's: 64)",
    )
    p.add_argument(
        "--seconds",
        type=positive_float,
        default=120.0,
        help="training wall-clock budget per model",
    )
    p.add_argument(
        "--steps",
        type=positive_int,
        help="a fixed number of steps per model instead of "
        "--seconds (the same figures in every run)",
    )
    p.add_argument(
        "--models",
        default="mlp",
        help="comma-separated, of " + ", ".join(MODELS) + ", or "
        "pretrained:NAME (a shipped model's lift(), scored as it is)",
    )
    p.add_argument("--batch-size", type=positive_int, default=256)
    p.add_argument("--lr", type=positive_float, default=1e-3)
    p.add_argument(
        "--warmup", type=non_negative_int, default=0, help="warm-up steps"
    )
    p.add_argument(
        "--schedule",
        choices=("constant", "cosine"),
        default="constant",
        help="learning-rate schedule after the warm-up (cosine needs --steps)",
    )
    p.add_argument(
        "--loss",
        choices=("l1", "eq6"),
        default="l1",
        help="L1 on pelvis-relative joints, or the paper's focal L_s (Eq. 6)",
    )
    p.add_argument(
        "--mix-start",
        type=unit_float,
        default=0.0,
        help="share of ground-truth 2D inputs at step 0, decaying to 0 at "
        "5/6 of --steps (the paper's mixing; 0: estimates only)",
    )
    p.add_argument(
        "--input",
        choices=("estimated", "true"),
        default="estimated",
        help="the 2D joints the lifters train and are scored on: the "
        "detector-like estimates (the model's input) or the true 2D joints "
        "(the bound of a perfect 2D input)",
    )
    p.add_argument(
        "--redraw",
        action="store_true",
        help="draw the training samples' 2D errors afresh each step",
    )
    p.add_argument(
        "--splits",
        default="test,heldout",
        help="comma-separated test splits: test (the training activities), "
        "heldout (the held-out families)",
    )
    p.add_argument("--amp", action="store_true", help="bfloat16 autocast (CPU)")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--threads", type=positive_int)
    p.add_argument(
        "--cache",
        type=output_path,
        default="data/synthetic/poses",
        help="pose-only cache folder",
    )
    p.add_argument(
        "--json", type=output_file, help="also write the results here"
    )
    return p.parse_args(argv)


def _check_args(args: argparse.Namespace) -> list[str]:
    """Refuse bad combinations before any data is made; the model names."""
    if not args.steps and (args.schedule == "cosine" or args.mix_start):
        raise SystemExit(
            "error: Expected --steps with --schedule cosine or --mix-start "
            "(both follow the run's length; got --seconds only)"
        )
    if args.input == "true" and (args.redraw or args.mix_start):
        raise SystemExit(
            "error: Expected --input estimated with --redraw or --mix-start "
            "(both change the estimated 2D joints; got --input true)"
        )
    from bigraph_pyg.hub import PRETRAINED

    names = [m.strip() for m in args.models.split(",") if m.strip()]
    known = {*MODELS, *(f"pretrained:{k}" for k in PRETRAINED)}
    unknown = sorted(set(names) - known)
    if unknown or not names:
        raise SystemExit(
            f"error: Expected --models from {sorted(known)} "
            f"(got {args.models!r})"
        )
    splits = [m.strip() for m in args.splits.split(",") if m.strip()]
    if not splits or set(splits) - {"test", "heldout"}:
        raise SystemExit(
            "error: Expected --splits from ['test', 'heldout'] "
            f"(got {args.splits!r})"
        )
    if Path(args.cache).exists() and not Path(args.cache).is_dir():
        raise SystemExit(
            f"error: Expected a pose-only cache folder at --cache "
            f"{args.cache} (got a regular file); pass another --cache"
        )
    args.splits = splits
    return names


TITLES = {
    "mlp": "lifting MLP",
    "skeleton": "Skeleton-GCN alone + pose context (cpu preset)",
    "skeleton-paper": "Skeleton-GCN alone, paper's node input",
}
#: The baselines' rows; the strongest of them is the bar.
LOOKUP = "lookup (16 nearest training poses, 2D Procrustes)"
BASELINES = (
    "flat lift (depth 0)",
    "true 2D joints, depth 0",
    "constant mean training pose",
    LOOKUP,
)


def main(argv=None) -> None:
    args = parse_args(argv)
    names = _check_args(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    import numpy as np
    from tqdm.auto import tqdm

    from bigraph_pyg import pretrained
    from bigraph_pyg.data import (
        SampleGenerator,
        SyntheticConfig,
        SyntheticPoses,
    )
    from bigraph_pyg.engine import TrainingStatistics, flat_lift
    from bigraph_pyg.engine.nearest_lift import NearestNeighbourLifter
    from bigraph_pyg.engine.schedule import (
        gt_mix_ratio,
        learning_rate,
        mix_joints_2d,
    )
    from bigraph_pyg.losses import BiGraphLoss, LossWeights
    from bigraph_pyg.metrics import HIP_INDICES, mpjpe, pa_mpjpe
    from bigraph_pyg.models import BiGraphConfig

    torch.manual_seed(args.seed)
    threads = torch.get_num_threads()  # the generator pins one thread
    t0 = time.perf_counter()
    cfg = BiGraphConfig.preset("cpu")
    with script_errors():  # a damaged or foreign cache names its file
        # The cache of train_bigraph.py's pose-only samples (its mesh level).
        train = SyntheticPoses(
            args.cache,
            args.num_train,
            seed=args.seed,
            level=cfg.mesh_level,
            sampler=_skeleton_lifter(pose_context=True).sampler,
        )
        gen = SampleGenerator(SyntheticConfig(), render=False)
        tests = {
            split: gen.geometry(args.seed, split, list(range(args.num_test)))
            for split in args.splits
        }
    torch.set_num_threads(threads)
    size = gen.config.image_size
    n = len(train)
    # The mean pose, in chunks and without the meshes: 65536 level-0
    # meshes at once (5.4 GB, twice in float64) do not fit in 24 GB.
    stats = TrainingStatistics.from_batches(
        {
            **{
                k: torch.from_numpy(train.arrays[k][i.numpy()])
                for k in ("joints_3d", "pose")
            },
            "has_pose_3d": torch.ones(len(i), dtype=torch.bool),
            "has_smpl": torch.ones(len(i), dtype=torch.bool),
        }
        for i in torch.arange(n).split(4096)
    ).with_pose_bank(train)
    lookup = NearestNeighbourLifter(stats.pose_bank)
    key = "joints_2d" if args.input == "true" else "joints_2d_est"

    def uv(pixels: torch.Tensor) -> torch.Tensor:
        return 2.0 * pixels / size - 1.0

    # L_s as the joint training's: --loss eq6 is the focal term with the
    # paper's coefficients, --loss l1 its L1 (skeleton_lift_loss "l1").
    criterion = BiGraphLoss.for_config(
        cfg, LossWeights(use_focal=args.loss == "eq6")
    )
    preds = {split: {} for split in args.splits}
    timing = {}

    def fit(net: nn.Module, forward, name: str) -> dict:
        """Train ``net`` for --steps or --seconds; its steps and time."""
        opt = torch.optim.Adam(net.parameters(), lr=args.lr)
        g = torch.Generator().manual_seed(args.seed)
        # Their own streams, so --mix-start and --redraw leave the batches
        # drawn unchanged.
        g_mix = torch.Generator().manual_seed(args.seed + 1)
        redraw = np.random.default_rng([args.seed, 2]) if args.redraw else None
        steps, t1 = 0, time.perf_counter()
        bar = tqdm(total=args.steps, desc=name, unit="step", leave=False)
        while (
            steps < args.steps
            if args.steps
            else time.perf_counter() - t1 < args.seconds
        ):
            for group in opt.param_groups:
                group["lr"] = learning_rate(
                    steps, args.steps or 0, args.lr, args.warmup, args.schedule
                )
            index = torch.randint(n, (args.batch_size,), generator=g)
            b = train.batch(index, redraw=redraw)
            joints_2d = b[key]
            if args.mix_start:
                ratio = gt_mix_ratio(
                    steps, -(-args.steps // 6), 6, args.mix_start
                )
                joints_2d = mix_joints_2d(
                    b["joints_2d"], joints_2d, ratio, g_mix
                )
            with torch.autocast("cpu", torch.bfloat16, enabled=args.amp):
                pred = forward(joints_2d)
            pred = pred.float()
            loss, _ = criterion.skeleton_joints_3d_term(pred, b["joints_3d"])
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
            bar.update()
        bar.close()
        return {"steps": steps, "train_seconds": time.perf_counter() - t1}

    for name in names:
        torch.manual_seed(args.seed)
        shipped = name.startswith("pretrained:")
        title = TITLES.get(name, f"{name}, its lift() (image-free, as shipped)")
        if name == "mlp":
            net = Lifter()

            def forward(pixels, net=net):
                return net(uv(pixels))
        else:
            net = (
                pretrained(name.removeprefix("pretrained:"))
                if shipped
                else _skeleton_lifter(pose_context=name == "skeleton")
            )

            def forward(pixels, net=net):
                return _lift_pixels(net, pixels, size)

        if not shipped:
            timing[title] = fit(net, forward, name)
        net.eval()
        with torch.no_grad():
            for split, test in tests.items():
                preds[split][title] = forward(torch.from_numpy(test[key]))
    for split, test in tests.items():
        j2d = torch.from_numpy(test[key])
        seen = (
            None
            if args.input == "true"
            else torch.from_numpy(test["joints_2d_est_visible"]).float()
        )
        rows = preds[split]
        rows["flat lift (depth 0)"] = flat_lift(j2d, stats.mean_joints)
        if args.input != "true":  # else the row above
            rows["true 2D joints, depth 0"] = flat_lift(
                torch.from_numpy(test["joints_2d"]), stats.mean_joints
            )
        rows["constant mean training pose"] = stats.mean_joints.expand(
            len(j2d), -1, -1
        )
        rows[LOOKUP] = lookup(j2d, seen)
    result = {
        "num_train": n,
        "num_test": args.num_test,
        "batch_size": args.batch_size,
        **{
            k: getattr(args, k)
            for k in (
                "input",
                "redraw",
                "lr",
                "warmup",
                "schedule",
                "loss",
                "mix_start",
                "amp",
            )
        },
        "threads": threads,
        "timing": timing,
        "splits": {},
    }
    for title, t in timing.items():
        print(
            f"{title}: {t['steps']} steps of {args.batch_size} in "
            f"{t['train_seconds']:.0f} s"
        )
    print(
        f"on {n} pose-only samples ({time.perf_counter() - t0:.0f} s in "
        f"all, {threads} threads); {args.num_test} test samples per split, "
        f"{args.input} 2D joints as the input"
    )
    # The main job's 64 test samples are the first 64 of each split.
    first = min(64, args.num_test)
    for split, test in tests.items():
        gt = torch.from_numpy(test["joints_3d"])
        scored = {}
        for title, p in preds[split].items():
            scored[title] = {
                "mpjpe": float(mpjpe(p, gt, HIP_INDICES)),
                "pa_mpjpe": float(pa_mpjpe(p, gt)),
                f"pa_mpjpe_first{first}": float(
                    pa_mpjpe(p[:first], gt[:first])
                ),
            }
        best = min(scored[t]["pa_mpjpe"] for t in scored if t in BASELINES)
        print(
            f"\n{split}:\n| predictor | MPJPE [mm] | PA-MPJPE [mm] | "
            f"PA-MPJPE, first {first} [mm] | PA / best baseline | PA / "
            "lookup |\n|---|---:|---:|---:|---:|---:|"
        )
        for title, r in scored.items():
            r["pa_over_best_baseline"] = r["pa_mpjpe"] / best
            r["pa_over_lookup"] = r["pa_mpjpe"] / scored[LOOKUP]["pa_mpjpe"]
            print(
                f"| {title} | {r['mpjpe']:.1f} | {r['pa_mpjpe']:.1f} | "
                f"{r[f'pa_mpjpe_first{first}']:.1f} | "
                f"{r['pa_over_best_baseline']:.2f} | "
                f"{r['pa_over_lookup']:.2f} |"
            )
        result["splits"][split] = {
            "best_baseline_pa_mpjpe": best,
            "rows": scored,
            "input_2d_error": _input_error(test, size),
        }
        e = result["splits"][split]["input_2d_error"]
        print(
            f"estimated 2D joints of {split}: error median {e['median_px']:.1f}"
            f" px, 90th percentile {e['p90_px']:.1f} px in the {size}-pixel "
            f"crop (median {100 * e['median_of_height']:.1f} % of the body's"
            f" 2D height); {100 * e['unseen_share']:.1f} % flagged unseen"
        )
    if args.json:
        with script_errors():
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

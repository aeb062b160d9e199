"""Training and inference throughput (images/s) of BiGraphBody and the
GraphCMR baseline, per preset, with peak memory.

For each preset (``BiGraphConfig.preset(name)``) two models are built on the
default body's graphs: the bilayer model itself and GraphCMR, the
``"graphcmr"`` ablation on the same base (mesh graph only; Table 4 row A).
Random weights and random inputs; one training step is forward, the Eq. 6
loss (``BiGraphLoss.model_loss``), backward and an Adam step; one inference
step is ``eval()`` forward under ``torch.inference_mode``.  Warm-up, then the
median of repeated steps (CUDA events and ``torch.cuda.synchronize`` on a GPU).
With ``--precisions float32 bfloat16`` every step is also measured under
bfloat16 autocast (``TrainConfig(amp=True)`` on a CPU), and each row gets its
speed-up over float32 in the same run.

Usage::

    python benchmarks/model_throughput.py --device cpu
    python benchmarks/model_throughput.py --device cpu --presets cpu \
        --precisions float32 bfloat16
    python benchmarks/model_throughput.py --device cuda --batch 32
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

from bigraph_pyg.body import default_body  # noqa: E402
from bigraph_pyg.losses import BiGraphLoss  # noqa: E402
from bigraph_pyg.models import (  # noqa: E402
    BiGraphBody,
    BiGraphConfig,
    graph_cmr_config,  # noqa: E402
)
from bigraph_pyg.topology import BodyGraphs  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NAME = "model_throughput"
#: Default batch per preset and device type.
BATCH = {
    ("cpu", "cpu"): 16,
    ("paper", "cpu"): 4,
    ("cpu", "cuda"): 128,
    ("paper", "cuda"): 32,
}


def make_inputs(
    cfg: BiGraphConfig, batch: int, num_full_vertices: int, device
) -> tuple:
    """Random images, 2D joints inside the crop, and a loss batch."""
    h, w = cfg.image_size
    g = torch.Generator().manual_seed(0)
    images = torch.rand(batch, 3, h, w, generator=g)
    joints = torch.rand(batch, 12, 2, generator=g) * torch.tensor(
        [w * 0.8, h * 0.8]
    ) + torch.tensor([w * 0.1, h * 0.1])
    gt = dict(
        gt_vertices=torch.randn(batch, num_full_vertices, 3, generator=g) * 0.3,
        gt_joints_3d=torch.randn(batch, 12, 3, generator=g) * 0.3,
        gt_joints_2d=torch.rand(batch, 12, 2, generator=g) * 2 - 1,
        has_smpl=torch.ones(batch, dtype=torch.bool),
        has_pose_3d=torch.ones(batch, dtype=torch.bool),
        gt_rotmat=torch.eye(3).expand(batch, 24, 3, 3).contiguous(),
        gt_betas=torch.zeros(batch, 10),
    )
    gt = {k: v.to(device) for k, v in gt.items()}
    joints = joints.to(device) if cfg.use_skeleton else None
    return images.to(device), joints, gt


def steps(model: BiGraphBody, images, joints, gt, precision="float32"):
    """``(train_step, infer_step)`` callables (autocast below float32)."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    criterion = BiGraphLoss.for_config(model.config)
    dtype = getattr(torch, precision)

    def autocast():
        return torch.autocast(
            images.device.type, dtype=dtype, enabled=dtype != torch.float32
        )

    def train_step():
        model.train()
        opt.zero_grad(set_to_none=True)
        with autocast():
            out = model(images, joints)
        loss, _ = criterion.model_loss(out.float(), gt)
        loss.backward()
        opt.step()

    def infer_step():
        model.eval()
        with torch.inference_mode(), autocast():
            return model(images, joints)

    return train_step, infer_step


def measure_model(model, name, preset, batch, device, args) -> list[dict]:
    rows = []
    for precision in args.precisions:
        rows += _measure_precision(
            model, name, preset, batch, device, args, precision
        )
    return rows


def _measure_precision(
    model, name, preset, batch, device, args, precision
) -> list[dict]:
    images, joints, gt = make_inputs(
        model.config, batch, model.num_full_vertices, device
    )
    train_step, infer_step = steps(model, images, joints, gt, precision)
    rows = []
    for mode, fn in (("train", train_step), ("inference", infer_step)):
        fn()  # warm-up (allocates the optimizer state)
        t0 = time.perf_counter()
        _, peak_mb = C.measure_peak(fn, device)
        C.synchronize(device)
        first_s = time.perf_counter() - t0
        timing = C.benchmark(
            fn,
            device,
            first_s,
            warmup=args.warmup,
            repeats=args.repeats,
            min_repeats=args.min_repeats,
            target_s=args.target_s,
        )
        rows.append(
            dict(
                device=str(device),
                preset=preset,
                model=name,
                mode=mode,
                precision=precision,
                batch=batch,
                image_size="x".join(map(str, model.config.image_size)),
                num_vertices=model.num_vertices,
                params_m=round(
                    sum(p.numel() for p in model.parameters()) / 1e6, 2
                ),
                median_ms=round(timing.median * 1e3, 2),
                images_per_s=round(batch / timing.median, 2),
                repeats=timing.repeats,
                peak_mb=round(peak_mb, 1),
            )
        )
    return rows


def run(args, log=print) -> tuple[list[dict], dict]:
    device, meta, _ = C.start_run(args, log)
    body = default_body()
    hierarchy = None
    rows: list[dict] = []
    t_start = time.perf_counter()
    for preset in args.presets:
        base = BiGraphConfig.preset(preset)
        if hierarchy is None:
            graphs = BodyGraphs.from_body(body, level=base.mesh_level)
            hierarchy, joints = graphs.hierarchy, graphs.joints
        graphs = BodyGraphs.from_hierarchy(
            hierarchy, joints, level=base.mesh_level
        )
        batch = args.batch or BATCH.get((preset, device.type), 8)
        for name, cfg in (
            ("BiGraphBody", base),
            ("GraphCMR", graph_cmr_config(preset)),
        ):
            torch.manual_seed(0)
            model = BiGraphBody(cfg, graphs, body).to(device)
            for row in measure_model(model, name, preset, batch, device, args):
                rows.append(row)
                log(
                    f"{preset:<6} {name:<12} {row['mode']:<10} B={batch:<4}"
                    f" {row['precision']:<9}{row['images_per_s']:>9.2f} img/s  "
                    f"{row['median_ms']:>9.1f} ms/step  peak "
                    f"{row['peak_mb']:>8.1f} MB (x{row['repeats']})"
                )
            del model
    C.end_run(meta, t_start)
    _add_speedups(rows)
    return rows, meta


def _add_speedups(rows: list[dict]) -> None:
    """``speedup``: the float32 row's time over this row's, same run."""
    key = ("preset", "model", "mode")
    base = {
        tuple(r[k] for k in key): r["median_ms"]
        for r in rows
        if r["precision"] == "float32"
    }
    for r in rows:
        ref = base.get(tuple(r[k] for k in key))
        r["speedup"] = None if ref is None else round(ref / r["median_ms"], 2)


def write_reports(rows, meta, args, argv) -> dict:
    out_dir = Path(args.out_dir)
    tag = args.tag or f"{NAME}_{torch.device(args.device).type}"
    files = {"csv": out_dir / f"{tag}.csv", "md": out_dir / f"{tag}.md"}
    C.write_csv(files["csv"], rows)
    parts = C.header_lines(
        f"Model throughput ({meta['info']['device']})",
        "benchmarks/model_throughput.py",
        argv,
        meta,
    )
    parts += [
        "",
        "Training step: forward, `BiGraphLoss.model_loss` (Eq. "
        "6), backward, Adam. Inference: `eval()` forward under "
        "`inference_mode`. "
        "Random weights and inputs; float32 weights, the step in "
        "`precision` (bfloat16: autocast); median of repeated "
        "steps after warm-up; peak memory of one step above the "
        "memory in use before it.",
        "",
    ]
    body = [
        [
            r["preset"],
            r["model"],
            r["mode"],
            r["precision"],
            r["batch"],
            r["image_size"],
            r["num_vertices"],
            r["params_m"],
            r["images_per_s"],
            r["median_ms"],
            r["peak_mb"],
            C.fmt_ratio(r["speedup"]),
        ]
        for r in rows
    ]
    parts += [
        C.markdown_table(
            [
                "preset",
                "model",
                "mode",
                "precision",
                "B",
                "image",
                "mesh N",
                "params (M)",
                "images/s",
                "ms/step",
                "peak MB",
                "speed-up vs float32",
            ],
            body,
        ),
        "",
    ]
    files["md"].parent.mkdir(parents=True, exist_ok=True)
    files["md"].write_text("\n".join(parts) + "\n")
    return files


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--presets",
        nargs="+",
        default=["cpu", "paper"],
        choices=["cpu", "paper"],
    )
    p.add_argument(
        "--batch",
        type=int,
        default=None,
        help="batch for every preset (default: per preset and "
        f"device, {BATCH})",
    )
    p.add_argument(
        "--quick", action="store_true", help="cpu preset, batch 2, few repeats"
    )
    p.add_argument(
        "--precisions",
        nargs="+",
        default=["float32"],
        choices=["float32", "bfloat16", "float16"],
        help="autocast dtypes to measure (float32: none)",
    )
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--min-repeats", type=int, default=3)
    p.add_argument("--target-s", type=float, default=5.0)
    p.add_argument("--threads", type=int, default=None)
    C.add_allocator_arg(p)
    p.add_argument("--wait-load", type=float, default=None)
    p.add_argument("--wait-timeout", type=float, default=600)
    p.add_argument("--out-dir", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--tag", default=None)
    args = p.parse_args(argv)
    if args.quick:
        args.presets, args.batch = ["cpu"], args.batch or 2
        args.repeats, args.target_s, args.warmup = 3, 0.1, 0
    return args


def main(argv=None) -> dict:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    rows, meta = run(args)
    files = write_reports(rows, meta, args, argv)
    for kind, path in files.items():
        print(f"# wrote {kind}: {path}")
    return {"files": files, "rows": rows, "meta": meta}


if __name__ == "__main__":
    main()

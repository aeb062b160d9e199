"""Synthetic-data generation speed (images/s) at 224², by worker count.

Writes a fresh cache per run into a temporary folder with
``generate_synthetic`` (the code path of ``SyntheticHumans``), and reports
two rates: end to end (process start-up included) and steady state (after
the first shard of every worker, i.e. the throughput of a long run). The
machine's load average is printed with each row: the machine may be shared.

    python benchmarks/synthetic_generation.py --num-samples 512 \
        --workers 1 2 --out benchmarks/results/synthetic_generation_cpu.md
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

from bigraph_pyg.data import SyntheticConfig, generate_synthetic


def run(num_samples: int, workers: int, shard_size: int) -> dict:
    config = SyntheticConfig(shard_size=shard_size)
    with tempfile.TemporaryDirectory() as tmp:
        load0 = os.getloadavg()[0]
        own0 = resource.getrusage(resource.RUSAGE_SELF)
        kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        folder = generate_synthetic(
            tmp,
            "train",
            num_samples,
            seed=0,
            config=config,
            num_workers=workers,
            progress=False,
        )
        total = time.perf_counter() - t0
        # CPU seconds of this process and the (reaped) workers, start-up
        # included: independent of what else the machine is running.
        own1 = resource.getrusage(resource.RUSAGE_SELF)
        kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = sum(
            b.ru_utime + b.ru_stime - a.ru_utime - a.ru_stime
            for a, b in ((own0, own1), (kids0, kids1))
        )
        # Shard files are written when done: their mtimes give the
        # steady-state rate (first shard of each worker excluded).
        times = sorted(p.stat().st_mtime for p in folder.glob("shard_*"))
        first = max(1, workers)
        steady_n = (len(times) - first) * shard_size
        steady = (
            steady_n / (times[-1] - times[first - 1])
            if len(times) > first and times[-1] > times[first - 1]
            else float("nan")
        )
        load1 = os.getloadavg()[0]
    return {
        "workers": workers,
        "samples": num_samples,
        "total_s": total,
        "end_to_end": num_samples / total,
        "steady": steady,
        "load": (load0 + load1) / 2,
        "cpu_ms": 1000.0 * cpu / num_samples,
        "capacity": os.cpu_count() * num_samples / cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--num-samples", type=int, default=512)
    parser.add_argument("--shard-size", type=int, default=32)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    rows = [run(args.num_samples, w, args.shard_size) for w in args.workers]
    lines = [
        "# Synthetic generation speed (224², CPU, pyrender/EGL llvmpipe)",
        "",
        f"Machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPU cores (shared), "
        f"`python benchmarks/synthetic_generation.py --num-samples "
        f"{args.num_samples} --shard-size {args.shard_size}`.",
        "",
        "Wall-clock rates depend on what else runs on the machine (load "
        "average column: other jobs included). `CPU ms/img` is the CPU time "
        "of all processes (start-up included) per image; `2-core capacity` "
        f"= {os.cpu_count()} cores / that time, the rate of an otherwise "
        "idle machine.",
        "",
        "| workers | samples | wall (s) | end-to-end (img/s) | "
        "steady (img/s) | load avg | CPU ms/img | "
        f"{os.cpu_count()}-core capacity (img/s) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['workers']} | {r['samples']} | {r['total_s']:.1f} | "
            f"{r['end_to_end']:.1f} | {r['steady']:.1f} | {r['load']:.1f} | "
            f"{r['cpu_ms']:.1f} | {r['capacity']:.1f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()

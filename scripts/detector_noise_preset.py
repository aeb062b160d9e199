"""Check :meth:`JointNoise.mediapipe` against the measured MediaPipe noise.

    python scripts/detector_noise_preset.py --num 2000 \
        --out docs/results/detector_noise_preset.json

Draws the ground-truth 2D joints of the first ``num`` samples of the
synthetic test stream (seed 0, the generator's default 224² crops; the
geometry only, nothing is rendered), corrupts them with the default
:class:`~bigraph_pyg.data.JointNoise` and with
:meth:`JointNoise.mediapipe() <bigraph_pyg.data.JointNoise.mediapipe>`, and
scores both with the statistics of ``scripts/detector_noise.py``, next to
MediaPipe's own figures from ``docs/results/detector_noise.json`` (200
rendered samples; over the images where it found a person). Seconds on one
core; no detector needed.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detector_noise import gt_box_size, joint_stats  # noqa: E402

from bigraph_pyg.cli import (  # noqa: E402
    int_range,
    output_file,
    script_errors,
    seed,
)

ROWS = (
    ("median error (box)", "median"),
    ("p90 error (box)", "p90"),
    ("miss (per joint)", "miss_rate"),
    ("outlier > 0.25 box (per detected joint)", "outlier_rate"),
    ("samples with an outlier", "samples_with_outlier"),
    ("outliers per sample with one", "outliers_per_outlier_sample"),
    ("left/right swap (per detected joint)", "swap_rate"),
    ("samples with a swap", "samples_with_swap"),
    ("swapped joints per sample with one", "swapped_joints_per_swapped_sample"),
    ("hip width / true", "hip_width_ratio"),
    ("shoulder width / true", "shoulder_width_ratio"),
)


def markdown(result: dict) -> str:
    """The overall table and the per-joint miss rates."""
    src = ("mediapipe", "preset", "default")
    lines = [
        "| statistic | MediaPipe (measured) | `JointNoise.mediapipe()` "
        "| `JointNoise()` |",
        "|---|---:|---:|---:|",
    ]
    for label, key in ROWS:
        vals = [result[s]["overall"].get(key) for s in src]
        cells = ["–" if v is None else f"{v:.3f}" for v in vals]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "| joint | MediaPipe miss | preset miss | default miss |"]
    lines.append("|---|---:|---:|---:|")
    for name in result["mediapipe"]["per_joint"]:
        vals = [result[s]["per_joint"][name]["miss_rate"] for s in src]
        lines.append(
            f"| {name} | " + " | ".join(f"{v:.3f}" for v in vals) + " |"
        )
    return "\n".join(lines)


def main(argv=None) -> dict:
    """Score both noise models; print the tables, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int_range(1, 100_000), default=2000)
    parser.add_argument("--seed", type=seed, default=0)
    parser.add_argument(
        "--measured",
        type=Path,
        default=Path("docs/results/detector_noise.json"),
        help="scripts/detector_noise.py's JSON",
    )
    parser.add_argument("--out", type=output_file, default=None, help="JSON")
    args = parser.parse_args(argv)
    with script_errors(extra="data"):
        return _run(args, argv)


def _run(args, argv) -> dict:
    """Score both models (in ``main``'s one-line error handling)."""
    import torch

    from bigraph_pyg.data import (
        JointNoise,
        SampleGenerator,
        SyntheticConfig,
        draw_estimates,
    )
    from bigraph_pyg.utils.io import load_json

    torch.set_num_threads(1)
    measured = load_json(args.measured, "scripts/detector_noise.py's JSON")
    gen = SampleGenerator(SyntheticConfig(), render=False)
    gt = gen.geometry(args.seed, "test", list(range(args.num)))["joints_2d"]
    gt = gt.astype(np.float64)
    box = gt_box_size(gt)
    result = {
        "command": "python scripts/detector_noise_preset.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "num_samples": args.num,
        "mediapipe": measured["mediapipe"],
        "preset_params": asdict(JointNoise.mediapipe()),
    }
    for name, noise in (
        ("preset", JointNoise.mediapipe()),
        ("default", JointNoise()),
    ):
        est, vis = draw_estimates(noise, gt, args.seed)
        result[name] = joint_stats(
            est.astype(np.float64), vis > 0, gt, box, measured["swap_margin"]
        )
    print(markdown(result))
    if args.out is not None:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()

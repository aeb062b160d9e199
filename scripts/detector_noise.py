"""Measure MediaPipe's 2D joint errors against the simulated detector noise.

    python scripts/detector_noise.py --num 200 \
        --out docs/results/detector_noise.json

Renders ``num`` samples of the synthetic test stream (seed 0, the
generator's default 224² crops), runs the demo's detector on each image
(:func:`bigraph_pyg.apps.detection.detect_people`, its first person: the
most complete and nearest, ranked by
:func:`~bigraph_pyg.apps.detection.person_score`, the mean visibility of
the 12 joints times the box height; the demo's confidence threshold), and
compares both MediaPipe's joints and the samples' stored
:class:`~bigraph_pyg.data.noise.JointNoise` estimates (``joints_2d_est``)
with the ground truth ``joints_2d``.

Errors are fractions of the person's box, as :class:`JointNoise` scales its
noise: the larger side of the ground-truth joints' bounding box. Error
percentiles, outliers and swaps are over the detected joints (confidence
above the threshold / ``visible = 1``); a missed joint's position is a
placeholder. A joint is *swapped* when it lies closer to its mirror joint's
ground truth than to its own by more than ``--swap-margin`` box.

Measurement only: nothing in the library or the noise parameters changes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from bigraph_pyg.cli import (
    int_range,
    output_file,
    script_errors,
    seed,
    unit_float,
)
from bigraph_pyg.topology import FLIP_PERM, JOINT_NAMES

#: Error above which a joint counts as an outlier, fraction of the box.
OUTLIER = 0.25


def gt_box_size(joints_2d: np.ndarray) -> np.ndarray:
    """Larger side of the joints' bounding box, per sample (as JointNoise)."""
    ptp = joints_2d.max(axis=1) - joints_2d.min(axis=1)
    return np.maximum(ptp.max(axis=-1), 1e-6)


def joint_stats(
    pred: np.ndarray,
    found: np.ndarray,
    gt: np.ndarray,
    box: np.ndarray,
    swap_margin: float,
) -> dict:
    """Error statistics of one source over the same samples.

    Args:
        pred (np.ndarray): :math:`(n, 12, 2)` estimated joints, pixels.
        found (np.ndarray): :math:`(n, 12)` bool, joint detected.
        gt (np.ndarray): :math:`(n, 12, 2)` ground truth, pixels.
        box (np.ndarray): :math:`(n,)` box size, pixels.
        swap_margin (float): Swap margin, fraction of the box.

    Returns:
        dict: per-joint and overall median / p90 error (box fraction), miss,
        outlier and swap rates (outlier and swap over detected joints).
    """
    err = np.linalg.norm(pred - gt, axis=-1) / box[:, None]
    err_mirror = (
        np.linalg.norm(pred - gt[:, list(FLIP_PERM)], axis=-1) / box[:, None]
    )
    swapped = found & (err_mirror + swap_margin < err)
    outlier = found & (err > OUTLIER)

    def summary(mask, e, sw, out):
        n = int(mask.sum())
        ev = e[mask]
        return {
            "median": float(np.median(ev)) if n else None,
            "p90": float(np.percentile(ev, 90)) if n else None,
            "miss_rate": float(1.0 - mask.mean()) if mask.size else None,
            "outlier_rate": float(out[mask].mean()) if n else None,
            "swap_rate": float(sw[mask].mean()) if n else None,
            "num_detected": n,
        }

    per_joint = {
        name: summary(found[:, j], err[:, j], swapped[:, j], outlier[:, j])
        for j, name in enumerate(JOINT_NAMES)
    }
    overall = summary(found, err, swapped, outlier)
    overall["samples_with_swap"] = float(swapped.any(axis=1).mean())
    overall["samples_with_outlier"] = float(outlier.any(axis=1).mean())
    # Do errors come one joint at a time or as whole-person failures?
    n_sw, n_out = swapped.sum(axis=1), outlier.sum(axis=1)
    overall["swapped_joints_per_swapped_sample"] = (
        float(n_sw[n_sw > 0].mean()) if (n_sw > 0).any() else None
    )
    overall["outliers_per_outlier_sample"] = (
        float(n_out[n_out > 0].mean()) if (n_out > 0).any() else None
    )
    for pair in (
        ("left_hip", "right_hip"),
        ("left_shoulder", "right_shoulder"),
    ):
        overall[f"{pair[0][5:]}_width_ratio"] = width_ratio(
            pred, found, gt, box, pair
        )
    return {"overall": overall, "per_joint": per_joint}


def width_ratio(
    pred: np.ndarray,
    found: np.ndarray,
    gt: np.ndarray,
    box: np.ndarray,
    pair: tuple[str, str],
) -> float | None:
    """Median estimated / true distance of a left/right pair.

    Over samples with both joints detected and the true pair wider than
    0.1 box (not seen edge-on): ≠ 1 means the detector places the joints
    elsewhere on the body (a definition offset, not noise).
    """
    i, k = (JOINT_NAMES.index(n) for n in pair)
    true = np.linalg.norm(gt[:, i] - gt[:, k], axis=-1)
    ok = found[:, i] & found[:, k] & (true > 0.1 * box)
    if not ok.any():
        return None
    est = np.linalg.norm(pred[:, i] - pred[:, k], axis=-1)
    return float(np.median(est[ok] / true[ok]))


def run_detector(images: list[np.ndarray], threshold: float):
    """The demo's detection: the first MediaPipe person, its 12 joints.

    The first of :func:`~bigraph_pyg.apps.detection.detect_people`: the
    most complete and nearest (visibility-weighted size,
    :func:`~bigraph_pyg.apps.detection.person_score`).
    """
    from bigraph_pyg.apps.detection import detect_people

    n = len(images)
    joints = np.zeros((n, len(JOINT_NAMES), 2), np.float64)
    conf = np.zeros((n, len(JOINT_NAMES)), np.float64)
    person = np.zeros(n, bool)
    for k, img in enumerate(images):
        people = detect_people(img)
        if people:  # select_person(people, 0): the best person_score
            joints[k] = people[0].joints
            conf[k] = people[0].confidence
            person[k] = True
    return joints, conf > threshold, person


def _fmt(x) -> str:
    return "–" if x is None else f"{x:.3f}"


def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def markdown(result: dict) -> str:
    """The per-joint and summary tables."""
    mp, jn = result["mediapipe"], result["joint_noise"]
    lines = [
        "| joint | MediaPipe median | MediaPipe p90 | MediaPipe miss "
        "| JointNoise median | JointNoise p90 | JointNoise miss |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in JOINT_NAMES:
        a, b = mp["per_joint"][name], jn["per_joint"][name]
        lines.append(
            f"| {name} | {_fmt(a['median'])} | {_fmt(a['p90'])} | "
            f"{_pct(a['miss_rate'])} | {_fmt(b['median'])} | "
            f"{_fmt(b['p90'])} | {_pct(b['miss_rate'])} |"
        )
    a, b = mp["overall"], jn["overall"]
    lines.append(
        f"| **all** | **{_fmt(a['median'])}** | **{_fmt(a['p90'])}** | "
        f"**{_pct(a['miss_rate'])}** | **{_fmt(b['median'])}** | "
        f"**{_fmt(b['p90'])}** | **{_pct(b['miss_rate'])}** |"
    )
    lines += [
        "",
        "| rate | MediaPipe | JointNoise |",
        "|---|---|---|",
        f"| images with no person found | {result['no_person']} / "
        f"{result['num_samples']} | 0 / {result['num_samples']} |",
        f"| miss (per joint) | {_pct(a['miss_rate'])} | "
        f"{_pct(b['miss_rate'])} |",
        f"| miss, no-person images counted as 12 misses | "
        f"{_pct(result['mediapipe_miss_rate_all_images'])} | "
        f"{_pct(b['miss_rate'])} |",
        f"| outlier (error > {OUTLIER} box, per detected joint) | "
        f"{_pct(a['outlier_rate'])} | {_pct(b['outlier_rate'])} |",
        f"| samples with ≥ 1 outlier | {_pct(a['samples_with_outlier'])} | "
        f"{_pct(b['samples_with_outlier'])} |",
        f"| left/right swap (per detected joint) | {_pct(a['swap_rate'])} | "
        f"{_pct(b['swap_rate'])} |",
        f"| samples with ≥ 1 swapped joint | {_pct(a['samples_with_swap'])} "
        f"| {_pct(b['samples_with_swap'])} |",
        f"| swapped joints per sample with a swap | "
        f"{_fmt(a['swapped_joints_per_swapped_sample'])} | "
        f"{_fmt(b['swapped_joints_per_swapped_sample'])} |",
        f"| outliers per sample with an outlier | "
        f"{_fmt(a['outliers_per_outlier_sample'])} | "
        f"{_fmt(b['outliers_per_outlier_sample'])} |",
        f"| hip width / true (median) | {_fmt(a['hip_width_ratio'])} | "
        f"{_fmt(b['hip_width_ratio'])} |",
        f"| shoulder width / true (median) | "
        f"{_fmt(a['shoulder_width_ratio'])} | "
        f"{_fmt(b['shoulder_width_ratio'])} |",
    ]
    return "\n".join(lines)


def main(argv=None) -> dict:
    """Render, detect, compare; print the tables and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--num", type=int_range(1, 100_000), default=200, help="samples"
    )
    parser.add_argument("--seed", type=seed, default=0)
    parser.add_argument(
        "--split", choices=("train", "val", "test"), default="test"
    )
    parser.add_argument(
        "--image-size",
        type=int_range(32, 1024),
        default=None,
        help="crop side (default: the generator's, 224)",
    )
    parser.add_argument(
        "--threshold",
        type=unit_float,
        default=0.5,
        help="confidence at or below which a joint is missed (the demo's)",
    )
    parser.add_argument(
        "--swap-margin",
        type=unit_float,
        default=0.05,
        help="swap margin, fraction of the box",
    )
    parser.add_argument(
        "--chunk", type=int_range(1, 1000), default=20, help="render batch"
    )
    parser.add_argument("--out", type=output_file, default=None, help="JSON")
    args = parser.parse_args(argv)
    with script_errors(extra="data,detect"):
        return _run(args, argv)


def _run(args, argv) -> dict:
    """Render, detect, compare (in ``main``'s one-line error handling)."""
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    torch.set_num_threads(1)
    from bigraph_pyg.data import SampleGenerator, SyntheticConfig

    config = (
        SyntheticConfig()
        if args.image_size is None
        else SyntheticConfig(image_size=args.image_size)
    )
    t0 = time.perf_counter()
    gen = SampleGenerator(config)
    gt, est, est_vis, images = [], [], [], []
    for start in range(0, args.num, args.chunk):
        idx = list(range(start, min(start + args.chunk, args.num)))
        shard = gen.shard(args.seed, args.split, idx)
        gt.append(shard["arrays"]["joints_2d"])
        est.append(shard["arrays"]["joints_2d_est"])
        est_vis.append(shard["arrays"]["joints_2d_est_visible"])
        images += shard["images"]
    gt = np.concatenate(gt).astype(np.float64)
    est = np.concatenate(est).astype(np.float64)
    est_vis = np.concatenate(est_vis) > 0
    t_render = time.perf_counter() - t0

    t0 = time.perf_counter()
    mp_joints, mp_found, person = run_detector(images, args.threshold)
    t_detect = time.perf_counter() - t0

    box = gt_box_size(gt)
    keep = person  # MediaPipe stats over images where a person was found
    mp = joint_stats(
        mp_joints[keep], mp_found[keep], gt[keep], box[keep], args.swap_margin
    )
    jn = joint_stats(est, est_vis, gt, box, args.swap_margin)
    jn_same = joint_stats(
        est[keep], est_vis[keep], gt[keep], box[keep], args.swap_margin
    )
    mp_found_all = mp_found & person[:, None]
    result = {
        "command": "python scripts/detector_noise.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "num_samples": args.num,
        "seed": args.seed,
        "split": args.split,
        "image_size": config.image_size,
        "threshold": args.threshold,
        "swap_margin": args.swap_margin,
        "outlier_threshold": OUTLIER,
        "box": "larger side of the ground-truth joints' bounding box",
        "joint_noise": jn,
        "joint_noise_on_detected_images": jn_same,
        "joint_noise_params": config.to_json()["joint_noise"],
        "mediapipe": mp,
        "mediapipe_miss_rate_all_images": float(1.0 - mp_found_all.mean()),
        "no_person": int((~person).sum()),
        "box_size_px": {
            "median": float(np.median(box)),
            "min": float(box.min()),
            "max": float(box.max()),
        },
        "seconds": {"render": t_render, "detect": t_detect},
    }
    try:
        import mediapipe

        result["mediapipe_version"] = mediapipe.__version__
    except ImportError:
        pass
    print(markdown(result))
    print(
        f"\n{args.num} samples ({config.image_size}² crops): render "
        f"{t_render:.0f} s, detect {t_detect:.0f} s"
    )
    if args.out is not None:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()

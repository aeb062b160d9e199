r"""Does agreeing with the detector mean being right? Measured on renders.

    python scripts/detector_agreement.py synthetic=pretrained:synthetic \
        synthetic-mediapipe=pretrained:synthetic-mediapipe \
        --synthetic-root data/synthetic_eval512_v3 --num-samples 512 \
        --out docs/results/detector_agreement.json

On a real photo the gallery (``scripts/demo_gallery.py``) can only score how
well the reprojected mesh joints agree with the detector's keypoints, the
model's own input. On the synthetic test renders, with MediaPipe's own
joints as the input (``--joint-noise detector``, the renders with a person),
this script scores that same agreement *and* the distance of the
reprojected joints to the true 2D joints, per model, so one can see
whether a model that agrees less with the detector is further from the
truth or only declines to copy the detector's errors. Both are mean
distances over a sample's joints (agreement: the joints MediaPipe is
confident of), as a fraction of the height of the true joints' box, then
averaged over the samples; the detector's own distance to the truth is
given for scale. With the per-sample PA-MPJPE, each model after the
first gets its mean difference to the first on the same samples and a
paired bootstrap 95 % interval (2000 resamples, seed 0).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cross_eval import check_out, finish, models_parser  # noqa: E402


def reprojection_errors(model, data, batch_size: int = 32) -> dict:
    """Per-sample distances (fractions of the true box height).

    Args:
        model (BiGraphBody): In eval mode.
        data (Dataset): Samples with ``joints_2d`` (truth) and
            ``joints_2d_est`` / ``joints_2d_est_visible`` (the detector's).
        batch_size (int): Samples per forward pass. (default: ``32``)

    Returns:
        dict: ``to_detector``, ``to_truth`` (the model's mesh joints),
        ``detector_to_truth``, and the PA-MPJPE (mm) of the mesh and
        skeleton joints ``pa_mpjpe``, ``pa_mpjpe_skeleton``, each
        :math:`(N,)`.
    """
    from torch.utils.data import DataLoader

    from bigraph_pyg.engine import collate_samples
    from bigraph_pyg.engine.batching import prepare_batch

    size = model.config.image_size
    from bigraph_pyg.metrics import pa_mpjpe

    keys = ("to_detector", "to_truth", "detector_to_truth")
    out = {k: [] for k in keys + ("pa_mpjpe", "pa_mpjpe_skeleton")}
    loader = DataLoader(data, batch_size=batch_size, collate_fn=collate_samples)
    with torch.no_grad():
        for batch in loader:
            mb = prepare_batch(batch, size, "cpu")
            res = model(mb.images, mb.joints_est)
            gt3d = torch.nan_to_num(mb.targets["gt_joints_3d"])
            jmask = mb.targets["gt_joints_3d_confidence"] > 0
            for key, joints in (
                ("pa_mpjpe", res.mesh_joints),
                ("pa_mpjpe_skeleton", res.skeleton_joints),
            ):
                out[key].append(
                    pa_mpjpe(joints.float(), gt3d, jmask, reduction="none")
                )
            pred = res.mesh_joints_2d.double()
            pred = (pred + 1.0) / 2.0 * torch.tensor(size[::-1]).double()
            gt = mb.raw["joints_2d"].double()
            est = mb.raw["joints_2d_est"].double()
            vis = mb.raw["joints_2d_est_visible"].double()
            height = gt[..., 1].amax(1) - gt[..., 1].amin(1)

            def mean(d, w, height=height):
                return (d * w).sum(1) / w.sum(1).clamp_min(1) / height

            ones = torch.ones_like(vis)
            out["to_detector"].append(mean((pred - est).norm(dim=-1), vis))
            out["to_truth"].append(mean((pred - gt).norm(dim=-1), ones))
            out["detector_to_truth"].append(mean((est - gt).norm(dim=-1), vis))
    return {k: torch.cat(v).numpy() for k, v in out.items()}


def main(argv=None) -> dict:
    """Score the models; return what ``--out`` gets."""
    args = models_parser(__doc__).parse_args(argv)
    check_out(args)  # before any evaluation
    from torch.utils.data import Subset

    from bigraph_pyg.apps.datasets import apply_joint_noise, synthetic_splits
    from bigraph_pyg.body import default_body
    from bigraph_pyg.hub import load_model

    start = time.perf_counter()
    body = default_body()
    results, cache, per_sample = {}, {}, {}
    for name, ckpt in args.models:
        model = load_model(ckpt, body)[0].eval()
        size = tuple(model.config.image_size)
        if size not in cache:
            data = synthetic_splits(
                args.synthetic_root,
                {"test": args.num_samples},
                size,
                body,
                seed=args.seed,
                progress=False,
            )["test"]
            found = apply_joint_noise(
                "detector", {"test": data}, args.seed, args.synthetic_root
            )["test"]
            cache[size] = Subset(data, np.flatnonzero(found).tolist())
        errs = reprojection_errors(model, cache[size])
        per_sample[name] = errs
        results[name] = {k: float(v.mean()) for k, v in errs.items()}
        results[name]["num_samples"] = len(cache[size])
    ref = args.models[0][0]
    rng = np.random.default_rng(0)
    for name in list(results)[1:]:
        for key in ("pa_mpjpe", "pa_mpjpe_skeleton", "to_truth"):
            a, b = per_sample[name][key], per_sample[ref][key]
            if len(a) != len(b):
                continue  # another input size: other samples
            d = a - b
            boot = d[rng.integers(0, len(d), (2000, len(d)))].mean(1)
            results[name][f"{key}_minus_{ref}"] = float(d.mean())
            results[name][f"{key}_minus_{ref}_ci95"] = [
                float(np.percentile(boot, 2.5)),
                float(np.percentile(boot, 97.5)),
            ]
    rows = [
        "| model | samples | to the detector's joints | to the true joints "
        "| detector to the truth | PA-MPJPE skeleton / mesh "
        f"| mesh PA-MPJPE minus {ref}'s (95 % CI) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        ci = r.get(f"pa_mpjpe_minus_{ref}_ci95")
        diff = (
            "–"
            if ci is None
            else f"{r[f'pa_mpjpe_minus_{ref}']:+.1f} ({ci[0]:+.1f}, "
            f"{ci[1]:+.1f})"
        )
        rows.append(
            f"| {name} | {r['num_samples']} | {r['to_detector']:.3f} | "
            f"{r['to_truth']:.3f} | {r['detector_to_truth']:.3f} | "
            f"{r['pa_mpjpe_skeleton']:.1f} / {r['pa_mpjpe']:.1f} | {diff} |"
        )
    return finish(
        "detector_agreement.py",
        argv,
        args,
        start,
        results,
        "\n".join(rows),
        unit="fraction of the true joints' box height; mesh joints",
    )


if __name__ == "__main__":
    main()

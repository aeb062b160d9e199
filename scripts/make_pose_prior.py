"""Build the fit's pose prior from the synthetic generator's training poses.

Usage::

    python scripts/make_pose_prior.py [--num-samples 20000] [--seed 0] \
        [--out bigraph_pyg/assets/pose_prior.npz]

Draws body poses exactly as the training data does
(:func:`bigraph_pyg.data.sample_body_pose`, the default
``SyntheticConfig``, self-intersecting draws rejected) and writes the mean
and covariance of their 69 axis-angle body-pose values
(:func:`bigraph_pyg.apps.fitting.build_pose_prior`), the Gaussian prior of
:func:`bigraph_pyg.apps.fitting.fit_body`. Deterministic for a seed; about
half a minute for 20000 poses.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from bigraph_pyg.apps.fitting import POSE_PRIOR_FILE, build_pose_prior


def main(argv=None) -> None:
    """Parse the arguments, build the prior, write it atomically."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--num-samples", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parents[1]
        / "bigraph_pyg"
        / "assets"
        / POSE_PRIOR_FILE,
    )
    args = ap.parse_args(argv)
    prior = build_pose_prior(args.num_samples, args.seed)
    tmp = args.out.with_name(args.out.name + ".partial.npz")
    np.savez(
        tmp,
        mean=prior.mean.astype(np.float32),
        covariance=prior.covariance.astype(np.float32),
        num_samples=np.asarray(prior.num_samples),
        info=np.asarray(prior.info),
    )
    os.replace(tmp, args.out)
    print(f"wrote {args.out}: {prior.info}")


if __name__ == "__main__":
    main()

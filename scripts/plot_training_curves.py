"""Plot the loss terms and validation errors of a training run.

Reads the TensorBoard log that ``examples/train_bigraph.py`` writes and
draws every ``loss/*`` term of the image batches per step (of the pose-only
samples only their total, ``lift_total``) and the validation PA-MPJPE per
epoch, with the best trivial baseline's PA-MPJPE on the same validation
samples as a dashed line, into one PNG.

    python scripts/plot_training_curves.py runs/train_bigraph/tb \
        docs/images/loss_main_job.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bigraph_pyg.cli import output_file, script_errors


def main(argv=None) -> None:
    """Parse the arguments and write the PNG."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logdir")
    parser.add_argument("out", type=output_file)
    args = parser.parse_args(argv)
    if not Path(args.logdir).is_dir():
        raise SystemExit(
            f"error: Expected a TensorBoard log folder at {args.logdir} (got "
            + ("a file" if Path(args.logdir).exists() else "no such folder")
            + "); pass a run's tb/ folder"
        )
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from tensorboard.backend.event_processing.event_accumulator import (
            EventAccumulator,
        )
    except ImportError as err:
        raise SystemExit(
            f"error: Expected matplotlib and tensorboard (got {err}); "
            "pip install 'bigraph_pyg[train]'"
        ) from None
    events = EventAccumulator(args.logdir)
    events.Reload()
    tags = events.Tags()["scalars"]
    if "loss/total" not in tags:
        raise SystemExit(
            f"error: Expected a TensorBoard log with loss/total "
            f"in {args.logdir} (got tags {tags[:5]}...)"
        )
    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(11, 4))
    for tag in sorted(
        t
        for t in tags
        if t.startswith("loss/")
        and not t.startswith("loss/lift_")
        or t == "loss/lift_total"
    ):
        pts = events.Scalars(tag)
        ax_loss.plot(
            [p.step for p in pts],
            [p.value for p in pts],
            lw=2.0 if tag == "loss/total" else 1.0,
            label=tag.split("/", 1)[1],
        )
    ax_loss.set(
        xlabel="step",
        ylabel="loss (Eq. 6 terms, unweighted)",
        yscale="log",
        title="training loss",
    )
    ax_loss.legend(fontsize=7)
    names = {
        "val/pa_mpjpe": "model, mesh joints",
        "val/pa_mpjpe_skeleton": "model, skeleton joints",
        "val/best_baseline_pa_mpjpe": "best trivial baseline",
    }
    for tag, label in names.items():
        if tag in tags:
            pts = events.Scalars(tag)
            style = (
                dict(ls="--", color="0.4")
                if "baseline" in tag
                else dict(marker="o")
            )
            ax_val.plot(
                [p.step for p in pts],
                [p.value for p in pts],
                label=label,
                **style,
            )
    ax_val.set(
        xlabel="step",
        ylabel="PA-MPJPE [mm]",
        title="validation (synthetic, held out)",
    )
    ax_val.legend(fontsize=7)
    fig.tight_layout()
    with script_errors():
        fig.savefig(args.out, dpi=110)


if __name__ == "__main__":
    main()

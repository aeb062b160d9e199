"""Display names of the evaluation metrics, and their markdown tables.

:data:`METRIC_LABELS` names every metric :func:`~bigraph_pyg.engine.evaluate`
returns, in table order; :func:`format_metrics` formats a metric dict as
the model's table (a skill ratio under each error) and the baselines'
table.
"""

from __future__ import annotations

from collections.abc import Mapping

from bigraph_pyg.engine.baselines import BASELINES

__all__ = ["METRIC_LABELS", "format_metrics"]

#: Display names, in table order.
METRIC_LABELS: dict[str, str] = {
    "mpjpe": "MPJPE (mesh joints) [mm]",
    "pa_mpjpe": "PA-MPJPE (mesh joints) [mm]",
    "mpjpe_skeleton": "MPJPE (skeleton joints) [mm]",
    "pa_mpjpe_skeleton": "PA-MPJPE (skeleton joints) [mm]",
    "mpjpe_h36m": "MPJPE (H36M regressor, P1) [mm]",
    "pa_mpjpe_h36m": "PA-MPJPE (H36M regressor, P2) [mm]",
    "mpve": "MPVE (np) [mm]",
    "mpve_smpl": "MPVE (p, SMPL) [mm]",
    "fb_acc": "FB seg accuracy",
    "fb_f1": "FB seg F1",
    "parts_acc": "Parts seg accuracy",
    "parts_f1": "Parts seg F1",
    "depth_corr": "depth correlation (mesh joints)",
    "depth_corr_skeleton": "depth correlation (skeleton joints)",
    "loss": "loss (Eq. 6)",
    "num_samples": "samples",
}


def format_metrics(metrics: Mapping[str, float], title: str = "metrics") -> str:
    """Markdown tables of metrics, in :data:`METRIC_LABELS` order.

    The model's metrics (with the skill ratios, model error / best
    baseline error, below their metric), then, when ``metrics`` has
    baseline scores, a second table of the trivial predictors scored on the
    same samples (:data:`~bigraph_pyg.engine.baselines.BASELINES`).

    Args:
        metrics (Mapping[str, float]): From
            :func:`~bigraph_pyg.engine.evaluate`.
        title (str): Header of the value column.

    Returns:
        str: the table(s).
    """
    rows = [f"| metric | {title} |", "|---|---:|"]
    hidden = ("baseline_", "best_baseline_", "skill_")
    keys = [k for k in METRIC_LABELS if k in metrics]
    keys += sorted(
        k
        for k in metrics
        if k not in METRIC_LABELS and not k.startswith(hidden)
    )
    for k in keys:
        v = metrics[k]
        if k == "num_samples":
            text = f"{int(v)}"
        elif k.endswith(("_acc", "_f1", "_corr", "_corr_skeleton")):
            text = f"{v:.4f}" if not k.startswith("depth") else f"{v:.2f}"
        else:
            text = f"{v:.2f}"
        rows.append(f"| {METRIC_LABELS.get(k, k)} | {text} |")
        if f"skill_{k}" in metrics:
            rows.append(
                f"| \u2003skill ratio (/ best baseline "
                f"{metrics[f'best_baseline_{_base(k)}']:.1f}) | "
                f"{metrics[f'skill_{k}']:.2f} |"
            )
    names = [
        n
        for n in BASELINES
        if any(k.startswith(f"baseline_{n}_") for k in metrics)
    ]
    if names:
        rows += [
            "",
            "| baseline (same samples, same code) | MPJPE | PA-MPJPE | MPVE |",
            "|---|---:|---:|---:|",
        ]
        for n in names:
            cells = [
                metrics.get(f"baseline_{n}_{m}")
                for m in ("mpjpe", "pa_mpjpe", "mpve")
            ]
            text = " | ".join("-" if c is None else f"{c:.1f}" for c in cells)
            rows.append(f"| {BASELINES[n]} | {text} |")
    return "\n".join(rows)


def _base(metric: str) -> str:
    """The baseline metric a model metric is compared with."""
    if metric.startswith("pa_mpjpe"):
        return "pa_mpjpe"
    return "mpjpe" if metric.startswith("mpjpe") else "mpve"

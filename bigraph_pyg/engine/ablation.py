"""Table 4 of the paper on any data: rows A-D, a markdown table, Fig. 5.

Rows (all with the mesh graph and global image features, as GraphCMR):

===  ========  ======  =========  =====================
row  skeleton  fusion  localized  preset / ablation
===  ========  ======  =========  =====================
A    no        no      no         ``graphcmr``
B    yes       yes     no         ``row_b``
C    yes       no      yes        ``row_c``
D    yes       yes     yes        ``row_d`` (full model)
===  ========  ======  =========  =====================
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from bigraph_pyg.engine.baselines import BASELINES

__all__ = [
    "PAPER_TABLE4",
    "TABLE4_ROWS",
    "ablation_table",
    "earlier_rows",
    "parse_rows",
    "plot_loss_curves",
]

#: Row letter -> ablation name of :meth:`BiGraphConfig.preset`.
TABLE4_ROWS: dict[str, str] = {
    "A": "graphcmr",
    "B": "row_b",
    "C": "row_c",
    "D": "row_d",
}

#: The paper's Table 4: H36M protocol 2 MPJPE, UP-3D MPVE (mm).
PAPER_TABLE4: dict[str, tuple[float, float]] = {
    "A": (54.0, 104.5),
    "B": (47.5, 96.3),
    "C": (48.8, 100.7),
    "D": (34.0, 59.0),
}

_FLAGS = {
    "A": ("-", "-", "-"),
    "B": ("x", "x", "-"),
    "C": ("x", "-", "x"),
    "D": ("x", "x", "x"),
}


def parse_rows(text: str) -> list[str]:
    """The Table 4 rows named by ``text`` (e.g. ``"AD"``), in table order.

    Args:
        text (str): Row letters, any case (the script's ``--rows``).

    Returns:
        list[str]: the rows, each once.

    Raises:
        ValueError: an empty selection, or a letter that is no row (the
            message names it).
    """
    letters = text.upper()
    unknown = sorted({c for c in letters if c not in TABLE4_ROWS})
    if unknown or not letters:
        raise ValueError(
            f"Expected --rows among {''.join(TABLE4_ROWS)} (got {text!r}"
            + (f": no row {', '.join(unknown)}" if unknown else "")
            + ")"
        )
    return [r for r in TABLE4_ROWS if r in letters]


def earlier_rows(
    path: str | os.PathLike,
    rows: Sequence[str],
    settings: Mapping,
    overwrite: bool = False,
) -> dict:
    """The rows of an earlier table (``table4.json``) that a run keeps.

    A run of some rows into a folder whose table holds others adds its
    rows to that table (a rerun row replaces its old numbers), so the
    table never loses rows silently. The rows are comparable only if they
    trained with the same settings (budget, seed, preset).

    Args:
        path (str or PathLike): The earlier ``table4.json`` (may not
            exist).
        rows (Sequence[str]): The rows this run trains.
        settings (Mapping): This run's settings, stored in the table.
        overwrite (bool): Settings that differ replace the earlier table
            (its rows are dropped) instead of being refused.

    Returns:
        dict: ``metrics``, ``metrics_heldout`` (the held-out pose
        families' split, where the table has it), ``train_seconds`` and
        ``histories`` (the training history of the curves' rows) of the
        earlier rows that this run does not train; empty if none.

    Raises:
        ValueError: an unreadable table, or other rows trained with other
            settings (without ``overwrite``); the message names the file.
    """
    from bigraph_pyg.utils.io import load_json

    path = Path(path)
    if not path.exists():
        return {}
    old = load_json(path, "an ablation table (table4.json)")
    metrics = old.get("metrics")
    if not isinstance(metrics, dict):
        raise ValueError(
            f"Expected a 'metrics' object in the ablation table {path} (got "
            f"{type(metrics).__name__}); delete it or pass another --out"
        )
    kept = [r for r in metrics if r in TABLE4_ROWS and r not in rows]
    if not kept:
        return {}
    if old.get("settings") != dict(settings):
        if overwrite:
            return {}
        raise ValueError(
            f"Expected the rows {''.join(kept)} already in {path} to share "
            f"this run's settings, to add rows {''.join(rows)} to their "
            f"table (got {old.get('settings')!r}, now {dict(settings)!r}); "
            "pass the same settings, --overwrite to replace that table, or "
            "another --out"
        )
    histories = old.get("histories") or {}
    heldout = old.get("metrics_heldout") or {}
    return {
        "metrics": {r: metrics[r] for r in kept},
        "metrics_heldout": {r: heldout[r] for r in kept if r in heldout},
        "train_seconds": {
            r: v
            for r, v in (old.get("train_seconds") or {}).items()
            if r in kept
        },
        "histories": {k: v for k, v in histories.items() if k[:1] in kept},
    }


def _mm(m: Mapping[str, float], key: str) -> str:
    value = m.get(key)
    return "-" if value is None else f"{value:.1f}"


def ablation_table(
    metrics: Mapping[str, Mapping[str, float]],
    data_name: str = "synthetic test",
) -> str:
    """Markdown table of our rows next to the paper's numbers.

    Columns: PA-MPJPE, MPJPE and MPVE of the mesh branch (the joints
    regressed from the mesh, as the paper reports), MPVE of the mesh of the
    regressed SMPL parameters, PA-MPJPE of the Skeleton-GCN joints (``-``
    for row A, which has none), the PA-MPJPE skill ratio (mesh joints /
    best baseline), then the paper's Table 4 numbers. When the metrics hold
    the trivial baselines (:mod:`bigraph_pyg.engine.baselines`; every row
    is scored on the same samples, so they are taken from the first row),
    they follow as rows of their own: a row that does not beat them has
    learned nothing.

    Args:
        metrics (Mapping[str, Mapping[str, float]]): Row letter -> metrics
            of :func:`~bigraph_pyg.engine.evaluate.evaluate` (``pa_mpjpe``,
            ``mpjpe``, ``mpve``, ``mpve_smpl``, ``pa_mpjpe_skeleton``; a
            missing one is shown as ``-``), in millimetres.
        data_name (str): Our evaluation set, for the header.

    Returns:
        str: the table, rows in Table 4 order (rows not in ``metrics`` are
        left out).

    Raises:
        ValueError: a row letter outside A-D.
    """
    unknown = sorted(set(metrics) - set(TABLE4_ROWS))
    if unknown:
        raise ValueError(
            f"Expected row letters among {list(TABLE4_ROWS)} (got {unknown})"
        )
    d = data_name
    head = (
        f"| row | skeleton | fusion | local feat. | PA-MPJPE ({d}) | "
        f"MPJPE ({d}) | MPVE ({d}) | MPVE SMPL ({d}) | skeleton "
        f"PA-MPJPE ({d}) | PA skill | paper H36M P2 MPJPE | "
        "paper UP-3D MPVE |"
    )
    rows = [head, "|---|:-:|:-:|:-:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in TABLE4_ROWS:
        if row in metrics:
            rows.append(_table_row(_model_cells(row, metrics[row])))
    first = next((metrics[r] for r in TABLE4_ROWS if r in metrics), {})
    for name, text in BASELINES.items():
        if f"baseline_{name}_pa_mpjpe" in first:
            rows.append(_table_row(_baseline_cells(name, text, first)))
    return "\n".join(rows)


def _table_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _model_cells(row: str, m: Mapping[str, float]) -> list[str]:
    """One model row: its letter, flags, scores, then the paper's."""
    p = PAPER_TABLE4[row]
    return [
        f"{row} ({TABLE4_ROWS[row]})",
        *_FLAGS[row],
        *(
            _mm(m, k)
            for k in (
                "pa_mpjpe",
                "mpjpe",
                "mpve",
                "mpve_smpl",
                "pa_mpjpe_skeleton",
            )
        ),
        "-" if "skill_pa_mpjpe" not in m else f"{m['skill_pa_mpjpe']:.2f}",
        f"{p[0]:.1f}",
        f"{p[1]:.1f}",
    ]


def _baseline_cells(name: str, text: str, m: Mapping[str, float]) -> list[str]:
    """One trivial predictor's row (its scores in the first model row)."""
    return [
        f"baseline: {text}",
        "",
        "",
        "",
        *(
            _mm(m, f"baseline_{name}_{k}")
            for k in ("pa_mpjpe", "mpjpe", "mpve")
        ),
        "-",
        "-",
        "-",
        "-",
        "-",
    ]


def plot_loss_curves(
    histories: Mapping[str, Sequence[Mapping]],
    path: str | os.PathLike,
    terms: Sequence[str] = ("mesh_joints_3d", "vertices"),
    smooth: int = 5,
    baselines: Mapping[str, Mapping[str, float]] | None = None,
) -> Path:
    r"""Fig. 5: training curves of the mesh-joint and vertex losses.

    Args:
        histories (Mapping[str, Sequence[Mapping]]): Label -> per-step
            history of :class:`~bigraph_pyg.engine.TrainResult`.
        path (str or PathLike): PNG file.
        terms (Sequence[str]): Loss terms, one panel each.
        smooth (int): Moving-average window (steps).
        baselines (Mapping, optional): Term -> {label: value}: the same
            loss of a trivial predictor (e.g. the constant mean pose),
            drawn as a dashed horizontal line.

    Returns:
        Path: ``path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, len(terms), figsize=(5 * len(terms), 3.6))
    axes = np.atleast_1d(axes)
    titles = {
        "mesh_joints_3d": r"$\mathcal{L}^{j3d}_m$ (mesh joints, m)",
        "vertices": r"$\mathcal{L}_m$ (vertices, m)",
    }
    for ax, term in zip(axes, terms, strict=True):
        for label, hist in histories.items():
            pts = [(h["step"], h[term]) for h in hist if term in h]
            if not pts:
                continue
            x, y = map(np.asarray, zip(*pts, strict=True))
            k = max(1, min(smooth, len(y)))
            ys = np.convolve(y, np.ones(k) / k, mode="valid")
            ax.plot(x[k - 1 :], ys, label=label)
        for i, (label, value) in enumerate(
            (baselines or {}).get(term, {}).items()
        ):
            ax.axhline(
                value,
                color=f"C{7 + i}",
                linestyle="--",
                linewidth=1,
                label=label,
            )
        ax.set_xlabel("step")
        ax.set_title(titles.get(term, term))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

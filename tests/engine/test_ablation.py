"""Table 4 helpers: the markdown table, the Fig. 5 plot, the script's checks."""

import json
import sys
from pathlib import Path

import pytest

from bigraph_pyg.engine.ablation import (
    PAPER_TABLE4,
    TABLE4_ROWS,
    ablation_table,
    earlier_rows,
    parse_rows,
    plot_loss_curves,
)

MEASURED = {  # the shape of evaluate()'s output, mm
    "D": {
        "pa_mpjpe": 186.04,
        "mpjpe": 260.13,
        "mpve": 460.79,
        "mpve_smpl": 273.25,
        "pa_mpjpe_skeleton": 183.70,
    },
    "A": {
        "pa_mpjpe": 293.74,
        "mpjpe": 377.06,
        "mpve": 452.17,
        "mpve_smpl": 521.74,
    },
}


def _cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]


def test_ablation_table_rows_columns_and_paper_numbers():
    lines = ablation_table(MEASURED).splitlines()
    header, rule, *rows = lines
    assert len(_cells(header)) == len(_cells(rule)) == 12
    # Table 4 order whatever the dict order; rows B and C left out.
    assert [_cells(r)[0] for r in rows] == ["A (graphcmr)", "D (row_d)"]
    a, d = (_cells(r) for r in rows)
    assert a[1:4] == ["-", "-", "-"] and d[1:4] == ["x", "x", "x"]
    assert d[4:9] == ["186.0", "260.1", "460.8", "273.2", "183.7"]
    assert a[8] == "-"  # GraphCMR has no skeleton branch
    assert d[9] == "-"  # no baselines in these metrics: no skill ratio
    assert [float(x) for x in d[10:]] == list(PAPER_TABLE4["D"])
    assert [float(x) for x in a[10:]] == list(PAPER_TABLE4["A"])
    assert "PA-MPJPE (h36m p2)" in ablation_table(MEASURED, "h36m p2")


def test_ablation_table_shows_the_baselines_and_skill():
    base = {
        "baseline_mean_pose_pa_mpjpe": 180.0,
        "baseline_mean_pose_mpjpe": 400.0,
        "baseline_flat_lift_pa_mpjpe": 170.0,
        "baseline_flat_lift_mpjpe": 250.0,
        "baseline_mean_mesh_pa_mpjpe": 290.0,
        "baseline_mean_mesh_mpjpe": 350.0,
        "baseline_mean_mesh_mpve": 440.0,
    }
    measured = {
        r: {**m, **base, "skill_pa_mpjpe": m["pa_mpjpe"] / 170.0}
        for r, m in MEASURED.items()
    }
    header, rule, *rows = ablation_table(measured).splitlines()
    d = _cells(rows[1])
    assert float(d[9]) == pytest.approx(186.04 / 170.0, abs=0.01)
    names = [_cells(r)[0] for r in rows[2:]]
    assert len(names) == 3 and all(n.startswith("baseline:") for n in names)
    mesh = _cells(rows[4])
    assert mesh[4:7] == ["290.0", "350.0", "440.0"]
    assert all(len(_cells(r)) == 12 for r in rows)


def test_ablation_table_rejects_unknown_rows():
    with pytest.raises(ValueError, match=r"row letters among .*\['E'\]"):
        ablation_table({"E": {}})


def test_plot_loss_curves_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    from PIL import Image

    hist = [
        {"step": i, "mesh_joints_3d": 1.0 / (i + 1), "vertices": 0.5}
        for i in range(1, 30)
    ]
    out = plot_loss_curves(
        {"A (graphcmr)": hist, "D (row_d)": hist[:10]},
        tmp_path / "sub" / "curves.png",
        smooth=5,
    )
    assert out == tmp_path / "sub" / "curves.png"
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size[0] > im.size[1] > 100


def test_reproduce_ablation_rejects_bad_rows(capsys):
    sys.path.insert(0, str(Path(__file__).parents[2] / "examples"))
    import reproduce_ablation

    with pytest.raises(SystemExit, match="Expected --rows among ABCD"):
        reproduce_ablation.main(["--rows", "XY"])
    with pytest.raises(SystemExit) as info:
        reproduce_ablation.main(["--scale", "0"])
    assert info.value.code == 2
    assert "--scale: Expected an integer >= 1" in capsys.readouterr().err
    assert set(TABLE4_ROWS) == set("ABCD")


def test_rows_name_an_unknown_letter():
    assert parse_rows("da") == ["A", "D"]
    with pytest.raises(ValueError, match=r"got 'AX': no row X\)"):
        parse_rows("AX")
    with pytest.raises(ValueError, match="Expected --rows among ABCD"):
        parse_rows("")


def test_earlier_rows_are_kept_only_with_the_same_settings(tmp_path):
    path = tmp_path / "table4.json"
    assert earlier_rows(path, ["D"], {"seed": 0}) == {}
    hist = [{"step": 1, "loss": 1.0}]
    path.write_text(
        json.dumps(
            {
                "metrics": MEASURED,
                "train_seconds": {"A": 1.0, "D": 2.0},
                "settings": {"seed": 0},
                "histories": {"A (graphcmr)": hist, "D (row_d)": hist},
            }
        )
    )
    kept = earlier_rows(path, ["D"], {"seed": 0})
    assert kept["metrics"] == {"A": MEASURED["A"]}
    assert kept["train_seconds"] == {"A": 1.0}
    assert kept["histories"] == {"A (graphcmr)": hist}
    assert earlier_rows(path, ["A", "D"], {"seed": 1}) == {}  # none kept
    with pytest.raises(ValueError) as info:
        earlier_rows(path, ["D"], {"seed": 1})
    msg = str(info.value)
    assert str(path) in msg and "--overwrite" in msg and "rows A " in msg
    assert earlier_rows(path, ["D"], {"seed": 1}, overwrite=True) == {}
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="table4.json"):
        earlier_rows(path, ["D"], {"seed": 0})


def test_reproduce_ablation_adds_rows_to_the_table(
    tmp_path, monkeypatch, fake_set
):
    """--rows B, then --rows C into one folder: the table has both rows;
    a third run with another seed is refused before any work."""
    sys.path.insert(0, str(Path(__file__).parents[2] / "examples"))
    import reproduce_ablation

    from bigraph_pyg import data, engine
    from bigraph_pyg.apps import datasets
    from bigraph_pyg.engine import RunSummary, TrainResult

    runs = []

    def fake_run(model, train_set, config, out_dir, *args, **kwargs):
        runs.append(Path(out_dir).name)
        assert set(kwargs["more_test_sets"]) == {"heldout"}
        pa = {"row_B": 200.0, "row_C": 190.0}[Path(out_dir).name]
        metrics = {"pa_mpjpe": pa, "mpjpe": pa + 50, "mpve": pa + 100}
        heldout = {k: v + 7 for k, v in metrics.items()}
        return RunSummary(
            TrainResult(), metrics, 1.0, 0.0, "best.pt", {"heldout": heldout}
        )

    monkeypatch.setattr(engine, "train_and_evaluate", fake_run)
    monkeypatch.setattr(
        datasets,
        "synthetic_splits",
        lambda *a, **k: {"train": fake_set, "test": fake_set, "heldout": 0},
    )
    monkeypatch.setattr(data, "SyntheticPoses", lambda *a, **k: None)
    common = ["--quick", "--quiet", "--out", str(tmp_path)]
    reproduce_ablation.main(["--rows", "B", *common])
    reproduce_ablation.main(["--rows", "C", *common])
    assert runs == ["row_B", "row_C"]
    record = json.loads((tmp_path / "table4.json").read_text())
    assert set(record["metrics"]) == {"B", "C"}
    # The held-out families' split is kept per row, beside the other.
    assert record["metrics_heldout"]["B"]["pa_mpjpe"] == 207.0
    assert record["metrics_heldout"]["C"]["pa_mpjpe"] == 197.0
    table = (tmp_path / "table4.md").read_text()
    assert "| B (row_b) |" in table and "| C (row_c) |" in table
    assert "PA-MPJPE (held-out families)" in table
    assert table.count("| C (row_c) | ") == 2
    with pytest.raises(SystemExit) as info:
        reproduce_ablation.main(["--rows", "A", "--seed", "1", *common])
    assert "rows BC already in" in str(info.value) and runs[-1] == "row_C"
    assert set(
        json.loads((tmp_path / "table4.json").read_text())["metrics"]
    ) == {"B", "C"}

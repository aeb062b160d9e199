"""``predict()`` on a second photo: its CPU time beyond detection (#25).

The first photo warms the process up (the shipped model, the body, the
MediaPipe graph are loaded once and cached by ``predict``); then, on the
second photo, ``repeats`` times each: detection alone
(:func:`~bigraph_pyg.apps.find_people`, as ``predict`` runs it) and the
whole ``predict()`` call, with the fit (the default) and without. Reports
medians of wall time and of the process's CPU time (``time.process_time``:
all threads), and the whole call's CPU time minus detection's.

Usage::

    python benchmarks/predict_latency.py             # astronaut, then messi
    python benchmarks/predict_latency.py --cache DIR # real_photos.py's cache
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import real_photos as R  # noqa: E402

from bigraph_pyg.cli import int_range, script_errors  # noqa: E402


def _clock(fn) -> tuple[float, float]:
    """Wall and process CPU seconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def measure(first, second, repeats: int) -> dict[str, dict[str, float]]:
    """Median wall / CPU seconds of detection and ``predict`` on ``second``."""
    from bigraph_pyg.apps import find_people, predict

    predict(first)  # loads and caches the model, body and detector
    runs = {
        "detection": lambda: find_people(second),
        "predict (fit)": lambda: predict(second),
        "predict (no fit)": lambda: predict(second, fit=False),
    }
    out = {}
    for name, fn in runs.items():
        times = [_clock(fn) for _ in range(repeats)]
        out[name] = {
            "wall_s": statistics.median(t[0] for t in times),
            "cpu_s": statistics.median(t[1] for t in times),
        }
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--cache",
        type=Path,
        default=Path.home() / ".cache" / "bigraph_pyg" / "real_photos",
        help="where real_photos.py fetched opencv-doc",
    )
    p.add_argument("--first", default="astronaut")
    p.add_argument("--second", default="messi")
    p.add_argument("--repeats", type=int_range(1, 100), default=5)
    args = p.parse_args(argv)
    with script_errors(extra="demo"):
        sources = {s.name: s for s in R.PHOTOS}
        first, second = (
            R.load_photo(sources[n], args.cache)
            for n in (args.first, args.second)
        )
        res = measure(first, second, args.repeats)
    det = res["detection"]["cpu_s"]
    print("| call (second photo) | wall s | CPU s | CPU s beyond detection |")
    print("|---|---:|---:|---:|")
    for name, r in res.items():
        beyond = "" if name == "detection" else f"{r['cpu_s'] - det:.2f}"
        print(f"| {name} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | {beyond} |")


if __name__ == "__main__":
    main()

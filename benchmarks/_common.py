"""Shared helpers of the benchmark scripts: machine info, timing, memory,
equality checks, CSV / markdown output and plots.

Nothing here prints; the scripts do.  Timing follows
``torch_geometric.profile.benchmark``: warm-up runs, then the median of
repeated runs, with ``torch.cuda.synchronize`` around CUDA events on a GPU.
"""

from __future__ import annotations

import csv
import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from bigraph_pyg.utils.cpu_allocator import (
    CPU_ALLOCATOR_POLICIES,
    set_cpu_allocator,
)

# -- machine ---------------------------------------------------------------


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo, else platform)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def library_versions() -> dict[str, str]:
    """Versions of torch, PyG, torch-sparse and torch-scatter."""
    import torch_geometric

    out = {
        "torch": torch.__version__,
        "torch_geometric": torch_geometric.__version__,
    }
    for name in ("torch_sparse", "torch_scatter"):
        try:
            mod = __import__(name)
            out[name] = getattr(mod, "__version__", "?")
        except Exception:  # noqa: BLE001 - missing or broken build
            out[name] = "not installed"
    return out


def machine_info(device: torch.device) -> dict[str, str]:
    """Device, CPU, cores, threads, load and library versions, as text."""
    info = {
        "device": str(device),
        "cpu": cpu_model(),
        "cpu_cores": str(os.cpu_count()),
        "torch_threads": str(torch.get_num_threads()),
        "load_1_5_15": " ".join(f"{v:.2f}" for v in os.getloadavg()),
        "python": platform.python_version(),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info["gpu"] = props.name
        info["gpu_memory_gb"] = f"{props.total_memory / 2**30:.1f}"
        info["cuda"] = str(torch.version.cuda)
    info.update(library_versions())
    return info


def wait_for_load(
    max_load: float, timeout_s: float, poll_s: float = 10.0
) -> tuple[float, float]:
    """Wait until the 1-minute load average is below ``max_load``.

    Returns:
        tuple: ``(load, waited_seconds)``; the load may still be above
        ``max_load`` when ``timeout_s`` ran out.
    """
    start = time.monotonic()
    load = os.getloadavg()[0]
    while load >= max_load and time.monotonic() - start < timeout_s:
        time.sleep(poll_s)
        load = os.getloadavg()[0]
    return load, time.monotonic() - start


# -- timing ----------------------------------------------------------------


def synchronize(device: torch.device) -> None:
    """Wait for the device (a no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_once(fn: Callable[[], object], device: torch.device) -> float:
    """Seconds of one call: CUDA events on a GPU, perf_counter on CPU."""
    if device.type == "cuda":
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize(device)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize(device)
        return start.elapsed_time(end) / 1e3
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


@dataclass
class Timing:
    """Median and spread of repeated runs, in seconds."""

    median: float
    runs: list[float]
    warmup: int

    @property
    def repeats(self) -> int:
        return len(self.runs)

    @property
    def iqr(self) -> float:
        if len(self.runs) < 4:
            return max(self.runs) - min(self.runs)
        q = statistics.quantiles(self.runs, n=4)
        return q[2] - q[0]


def benchmark(
    fn: Callable[[], object],
    device: torch.device,
    first_s: float,
    warmup: int = 2,
    repeats: int = 10,
    min_repeats: int = 3,
    target_s: float = 1.0,
) -> Timing:
    """Median time of ``fn`` after warm-up, with an adaptive repeat count.

    ``first_s`` is the time of a call already made (the correctness check,
    itself a warm-up).  Slow functions get fewer runs: the number of timed
    repeats is ``target_s / first_s`` clamped to ``[min_repeats,
    repeats]``, and warm-ups beyond the first call are dropped for calls
    slower than ``target_s / 4``.
    """
    if first_s > target_s / 4:
        warmup = 0
    for _ in range(warmup):
        fn()
    n = int(target_s / max(first_s, 1e-9))
    n = max(min_repeats, min(repeats, n))
    runs = [time_once(fn, device) for _ in range(n)]
    return Timing(statistics.median(runs), runs, warmup + 1)


# -- memory ----------------------------------------------------------------

#: The allocator policy the timed calls run under (``--cpu-allocator``);
#: :func:`measure_peak` switches to ``"release"`` for its one call.
_TIMING_POLICY = "release"


def use_cpu_allocator(policy: str) -> str:
    """Time this run's CPU calls under ``policy`` (see ``set_cpu_allocator``).

    ``"reuse"`` keeps freed buffers in the process (the kernels' own speed,
    as the copy floor is measured on warm buffers); ``"release"`` maps
    every buffer of 1 MiB or more on its own, as glibc's defaults do for
    every buffer over 32 MiB, so each new large tensor is faulted in page
    by page. Returns the line for the header.
    """
    global _TIMING_POLICY
    took = set_cpu_allocator(policy)
    _TIMING_POLICY = policy
    if not took:
        return "C library's defaults (not glibc: --cpu-allocator ignored)"
    if policy == "reuse":
        return "reuse (glibc: M_MMAP_MAX 0, freed memory kept)"
    return "release (glibc: buffers >= 1 MiB mapped alone, unmapped on free)"


def _status_kb(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM (peak RSS) to the current RSS
        return True
    except OSError:
        return False


def cpu_memory_method() -> str:
    """How CPU peak memory is measured on this machine."""
    if _status_kb("VmHWM") is not None and _reset_hwm():
        return "peak RSS (VmHWM, reset via /proc/self/clear_refs) - RSS"
    return "peak RSS (psutil sampled every 1 ms) - RSS"


def measure_peak(
    fn: Callable[[], object], device: torch.device
) -> tuple[object, float]:
    """Run ``fn`` once; return its result and the peak memory above the
    memory in use before the call, in MiB.

    CUDA: ``torch.cuda.max_memory_allocated`` after
    ``reset_peak_memory_stats``.  CPU: the peak resident set size (VmHWM,
    reset through ``/proc/self/clear_refs``) minus the RSS before; where
    that is unavailable, RSS sampled by a thread every millisecond.
    """
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        out = fn()
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device)
        return out, (peak - base) / 2**20
    set_cpu_allocator("release")
    try:
        return _cpu_peak(fn)
    finally:
        set_cpu_allocator(_TIMING_POLICY)


def _cpu_peak(fn: Callable[[], object]) -> tuple[object, float]:
    if _reset_hwm():
        base = _status_kb("VmRSS") or 0
        out = fn()
        peak = _status_kb("VmHWM") or base
        return out, max(peak - base, 0) / 1024
    import threading

    import psutil

    proc = psutil.Process()
    base = proc.memory_info().rss
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(1e-3)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        out = fn()
    finally:
        done.set()
        thread.join()
    return out, max(peak[0] - base, 0) / 2**20


# -- GPU memory bandwidth ----------------------------------------------------

#: Peak DRAM bandwidth in GB/s by device-name fragment (vendor data sheets),
#: most specific first.
PEAK_GBPS: tuple[tuple[tuple[str, ...], float], ...] = (
    (("H200",), 4800.0),
    (("H100", "PCIE"), 2000.0),
    (("H100", "NVL"), 3900.0),
    (("H100",), 3350.0),
    (("A100", "80GB", "PCIE"), 1935.0),
    (("A100", "80GB"), 2039.0),
    (("A100",), 1555.0),
)


def peak_bandwidth_gbps(
    device: torch.device, override: float | None = None
) -> tuple[float, str]:
    """The device's peak memory bandwidth (GB/s) and where it came from.

    ``override`` (the ``--peak-gbps`` flag) wins; else the data-sheet value
    of a known GPU; else a measured device-to-device copy of 1 GiB (on the
    CPU: a copy of 512 MiB with the process's torch threads, in this
    process, so the fraction reached is against what this run could move).
    """
    if override is not None:
        return float(override), "--peak-gbps"
    if device.type == "cpu":
        src = torch.ones(2**27)  # 512 MiB of float32, pages touched
        dst = torch.zeros_like(src)
        times = [
            time_once(lambda s=src, d=dst: d.copy_(s), device) for _ in range(5)
        ]
        gbps = 2 * src.numel() * 4 / min(times) / 1e9
        threads = torch.get_num_threads()
        return gbps, f"measured (512 MiB copy, {threads} threads)"
    name = torch.cuda.get_device_name(device).upper()
    for parts, gbps in PEAK_GBPS:
        if all(p in name for p in parts):
            return gbps, f"data sheet ({' '.join(parts)})"
    src = torch.empty(2**28, device=device)  # 1 GiB of float32
    dst = torch.empty_like(src)
    times = [
        time_once(lambda s=src, d=dst: d.copy_(s), device) for _ in range(5)
    ]
    gbps = 2 * src.numel() * 4 / min(times) / 1e9
    return gbps, "measured (1 GiB device copy)"


# -- equality with the dense reference ---------------------------------------


class MismatchError(AssertionError):
    """A benchmarked path disagrees with the dense reference."""


def max_rel_error(got: Tensor, want: Tensor) -> float:
    """``max |got - want| / max(max |want|, tiny)``, in float64."""
    got, want = got.detach().double(), want.detach().double()
    scale = want.abs().max().item() if want.numel() else 0.0
    err = (got - want).abs().max().item() if want.numel() else 0.0
    return err / max(scale, 1e-30)


def check_close(
    name: str,
    got: Sequence[Tensor | None],
    want: Sequence[Tensor | None],
    rtol: float,
) -> float:
    """Raise :class:`MismatchError` unless every tensor matches.

    Each pair is compared with :func:`max_rel_error` (error relative to the
    largest reference entry).  Returns the largest error.
    """
    worst = 0.0
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        if w is None:
            continue
        if g is None:
            raise MismatchError(
                f"{name}: output {i} is missing (no gradient reached it?)"
            )
        if g.shape != w.shape:
            raise MismatchError(
                f"{name}: output {i} has shape "
                f"{tuple(g.shape)}, expected {tuple(w.shape)}"
            )
        err = max_rel_error(g, w)
        if not math.isfinite(err) or err > rtol:
            raise MismatchError(
                f"{name}: output {i} differs from the dense reference "
                f"(max error {err:.3g} of the largest entry > {rtol:g})"
            )
        worst = max(worst, err)
    return worst


# -- output -----------------------------------------------------------------


def write_csv(path: Path, rows: list[dict]) -> None:
    """Write ``rows`` (dicts with the same keys) to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A GitHub markdown table."""
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def info_block(info: dict[str, str]) -> str:
    """Machine info as a markdown bullet list."""
    return "\n".join(f"- **{k}**: {v}" for k, v in info.items())


def fmt_ms(seconds: float | None) -> str:
    """Milliseconds with 3 significant digits, or an em dash."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    ms = seconds * 1e3
    return f"{ms:.3g}" if ms < 100 else f"{ms:.0f}"


def fmt_ratio(ratio: float | None) -> str:
    """``x.xx×`` or an em dash."""
    if ratio is None or not math.isfinite(ratio):
        return "—"
    return f"{ratio:.3g}×"


def plot_groups(
    path: Path,
    title: str,
    panels: dict[str, dict[str, list[tuple[float, float]]]],
    xlabel: str,
    ylabel: str = "median time (ms)",
) -> None:
    """Log-log line plots: one panel per key, one line per path.

    ``panels[panel][path] = [(x, seconds), ...]``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(k for lines in panels.values() for k in lines))
    colors = {k: f"C{i % 10}" for i, k in enumerate(names)}
    n = max(len(panels), 1)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(5 * cols, 3.8 * rows), squeeze=False
    )
    for ax, (panel, lines) in zip(axes.flat, panels.items(), strict=False):
        for name, points in lines.items():
            pts = sorted(p for p in points if p[1] is not None)
            if not pts:
                continue
            ax.plot(
                [p[0] for p in pts],
                [p[1] * 1e3 for p in pts],
                marker="o",
                label=name,
                color=colors[name],
                linestyle="--" if name.startswith("layer") else "-",
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(panel, fontsize=9)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    handles, labels = [], []
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(
        handles,
        labels,
        loc="lower center",
        ncol=min(len(labels), 5),
        fontsize=8,
    )
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.08, 1, 0.95))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- the shared sweep machinery ------------------------------------------------


@dataclass
class BenchPath:
    """One way to compute a convolution, as the sweeps time it.

    ``fn(x)`` is the forward; ``params`` the leaves (besides ``x``) whose
    gradients are checked against the reference named ``reference``;
    ``quadratic`` marks a dense product (work grows with ``N^2``).
    """

    name: str
    fn: Callable[[Tensor], Tensor]
    params: list[Tensor]
    reference: str
    quadratic: bool = False
    note: str = ""
    bytes_fn: Callable[[str], float] | None = None  # mode -> DRAM bytes


def plot_fwd_bwd(path, title, rows, meta, node_label) -> None:
    """Plot each path's fwd+bwd median (s) per batch, a panel per (N, C)."""
    panels: dict = {}
    for r in rows:
        if r.get("status") == "ok" and r["mode"] == "fwd+bwd":
            panel = f"{node_label}={r['num_vertices']}, C={r['channels']}"
            panels.setdefault(panel, {}).setdefault(r["path"], []).append(
                (r["batch"], r["median_ms"] / 1e3)
            )
    where = meta["info"].get("gpu", meta["info"]["cpu"])
    plot_groups(
        path,
        f"{title}, forward+backward, {meta['info']['device']} ({where})",
        panels,
        xlabel="batch size",
    )


def make_runner(
    path: BenchPath, x: Tensor, grad_out: Tensor, mode: str
) -> Callable[[], Tensor]:
    """One inference step (``fwd``: under ``no_grad``) or one training step
    (``fwd+bwd``: gradients reset to ``None``, forward, backward)."""
    if mode == "fwd":

        def run() -> Tensor:
            with torch.no_grad():
                return path.fn(x)

        return run

    def run_bwd() -> Tensor:
        x.grad = None
        for p in path.params:
            p.grad = None
        out = path.fn(x)
        out.backward(grad_out)
        return out.detach()

    return run_bwd


@dataclass
class Budget:
    """Skips a path whose run, predicted from its last measured size by
    scaling with the work (``B C N``, or ``B C N^2`` for dense products),
    exceeds ``max_run_s`` or whose memory exceeds ``max_mem_mb``."""

    max_run_s: float
    max_mem_mb: float
    last: dict = field(default_factory=dict)

    @staticmethod
    def work(path: BenchPath, n: int, batch: int, channels: int) -> float:
        return batch * channels * float(n) ** (2 if path.quadratic else 1)

    def predict(self, key, work: float) -> tuple[float, float] | None:
        if key not in self.last:
            return None
        w0, t0, m0 = self.last[key]
        return t0 * work / w0, m0 * work / w0

    def record(self, key, work: float, seconds: float, mem_mb: float):
        self.last[key] = (work, seconds, max(mem_mb, 1.0))


def measure(
    path: BenchPath,
    x: Tensor,
    grad_out: Tensor,
    mode: str,
    check_batch: int,
    reference: Callable,
    budget: Budget,
    device: torch.device,
    *,
    rtol: float,
    pinned: bool = False,
    warmup: int = 2,
    repeats: int = 15,
    min_repeats: int = 3,
    target_s: float = 1.0,
    peak_gbps: float | None = None,
    skip_quadratic_mb: float | None = None,
) -> dict:
    """Check ``path`` against its dense reference, then time it.

    1. Unless ``pinned``, skip (``status`` says why) when the budget
       predicts the run too slow or too big.
    2. Run once on the first ``check_batch`` samples (all of them when
       ``check_batch == B``) and compare the output and every gradient with
       ``reference(path.reference, x, grad_out_or_None)`` (raises
       :class:`MismatchError`); that run also gives the peak memory.
    3. Time the full batch with :func:`benchmark`.
    """
    batch, n, channels = x.shape
    row: dict = {"path": path.name, "note": path.note}
    key = (path.name, mode)
    work = Budget.work(path, n, batch, channels)
    pred = budget.predict(key, work)
    if not pinned:
        if (
            skip_quadratic_mb is not None
            and path.quadratic
            and skip_quadratic_mb > budget.max_mem_mb
        ):
            row["status"] = "skipped (memory)"
            return row
        if pred is not None and pred[0] > budget.max_run_s:
            row["status"] = "skipped (budget)"
            row["predicted_ms"] = round(pred[0] * 1e3, 1)
            return row
        if pred is not None and pred[1] > budget.max_mem_mb:
            row["status"] = "skipped (memory)"
            return row

    full = check_batch >= batch
    xc = x if full else x[:check_batch].detach().requires_grad_(True)
    gc = grad_out if full else grad_out[:check_batch]
    want = reference(path.reference, xc, gc if mode == "fwd+bwd" else None)
    t0 = time.perf_counter()
    out, peak_mb = measure_peak(make_runner(path, xc, gc, mode), device)
    synchronize(device)
    first_s = time.perf_counter() - t0
    got = (
        [out]
        if mode == "fwd"
        else [out, xc.grad] + [p.grad for p in path.params]
    )
    err = check_close(
        f"{path.name} [{mode}, B={batch}, C={channels}, N={n}]",
        got,
        want[: len(got)],
        rtol,
    )
    row["max_rel_err"] = f"{err:.2e}"
    row["checked_batch"] = min(check_batch, batch)
    del out, got

    run = make_runner(path, x, grad_out, mode)
    if not full:
        t0 = time.perf_counter()
        _, peak_mb = measure_peak(run, device)
        synchronize(device)
        first_s = time.perf_counter() - t0
    if not pinned and first_s > 3 * budget.max_run_s:
        timing = Timing(first_s, [first_s], 0)  # mispredicted: one run
    else:
        timing = benchmark(
            run,
            device,
            first_s,
            warmup=warmup,
            repeats=repeats,
            min_repeats=min_repeats,
            target_s=target_s,
        )
    budget.record(key, work, timing.median, peak_mb)
    x.grad = None
    row.update(
        status="ok",
        median_ms=round(timing.median * 1e3, 3),
        iqr_ms=round(timing.iqr * 1e3, 3),
        repeats=timing.repeats,
        peak_mb=round(peak_mb, 1),
    )
    if peak_gbps is not None and path.bytes_fn is not None:
        gbps = path.bytes_fn(mode) / timing.median / 1e9
        row["achieved_gbps"] = round(gbps, 1)
        row["bw_fraction"] = round(gbps / peak_gbps, 3)
    return row


def add_ratios(
    rows: list[dict],
    keys: Sequence[str],
    reference_of: Callable[[str], str | None],
    column: str = "ratio_to_dense",
) -> None:
    """``row[column]`` = time / time of ``reference_of(path)`` in the same
    configuration (the ``keys`` columns)."""
    times = {}
    for r in rows:
        if r.get("status") == "ok":
            times[(tuple(r[k] for k in keys), r["path"])] = r["median_ms"]
    for r in rows:
        ref = reference_of(r["path"])
        if r.get("status") != "ok" or ref is None:
            continue
        t = times.get((tuple(r[k] for k in keys), ref))
        if t:
            r[column] = round(r["median_ms"] / t, 4)


def log_line(r: dict) -> str:
    """One printed line per measurement."""
    head = (
        f"N={r['num_vertices']:>5} B={r['batch']:>3} "
        f"C={r['channels']:>4} {r['mode']:<8} {r['path']:<14}"
    )
    if r.get("status") != "ok":
        return f"{head} {r.get('status')}"
    extra = f" bw={r['bw_fraction']:.2f}" if "bw_fraction" in r else ""
    return (
        f"{head} {r['median_ms']:>10.2f} ms  peak {r['peak_mb']:>8.1f} MB"
        f"  err {r['max_rel_err']} (x{r['repeats']}){extra}"
    )


def cell(r: dict | None, column: str = "ratio_to_dense") -> str:
    """``ms (ratio×)`` for a table cell, or the skip reason."""
    if r is None:
        return "—"
    if r.get("status") != "ok":
        return r.get("status", "—").replace("skipped ", "")
    ratio = r.get(column)
    tail = f" ({fmt_ratio(ratio)})" if ratio is not None else ""
    return f"{fmt_ms(r['median_ms'] / 1e3)}{tail}"


def sweep_tables(
    rows: list[dict], modes: Sequence[str], column: str = "ratio_to_dense"
) -> list[str]:
    """One markdown table per mode: a row per (N, B, C), a column per path."""
    paths = list(dict.fromkeys(r["path"] for r in rows))
    index = {
        (r["num_vertices"], r["batch"], r["channels"], r["mode"], r["path"]): r
        for r in rows
    }
    parts = []
    for mode in modes:
        cfgs = list(
            dict.fromkeys(
                (r["num_vertices"], r["batch"], r["channels"])
                for r in rows
                if r["mode"] == mode
            )
        )
        body = [
            [nv, b, c]
            + [cell(index.get((nv, b, c, mode, p)), column) for p in paths]
            for nv, b, c in cfgs
        ]
        parts += [
            f"## {mode}",
            "",
            markdown_table(["N", "B", "C"] + paths, body),
            "",
        ]
    return parts


def bandwidth_table(rows: list[dict]) -> list[str]:
    """Achieved GB/s and fraction of peak of the rows that have them."""
    body = [
        [
            r["num_vertices"],
            r["batch"],
            r["channels"],
            r["mode"],
            r["path"],
            r["achieved_gbps"],
            r["bw_fraction"],
        ]
        for r in rows
        if "bw_fraction" in r
    ]
    if not body:
        return []
    return [
        "## Achieved memory bandwidth (lower bound of traffic / time)",
        "",
        "The traffic is the bytes the path must move at least (features "
        "read and written once per pass, the graph read); the fraction is "
        "that over the peak bandwidth in the header (on the CPU a copy "
        "measured in the same process): the share of the bandwidth floor "
        "reached.",
        "",
        markdown_table(
            ["N", "B", "C", "mode", "path", "GB/s", "fraction of peak"], body
        ),
        "",
    ]


def header_lines(
    title: str, script: str, argv: Sequence[str], meta: dict
) -> list[str]:
    """Title, command and machine block of a results file."""
    parts = [
        f"# {title}",
        "",
        "Command: `" + " ".join(["python", script, *argv]) + "`",
        "",
        info_block(meta["info"]),
    ]
    for key, label in (
        ("load_end", "load at end"),
        ("sweep_s", "sweep time (s)"),
        ("cpu_allocator", "cpu allocator (timed calls)"),
        ("memory_method", "peak memory"),
        ("peak_gbps", "peak bandwidth"),
        ("waited_for_load_s", "waited for load (s)"),
    ):
        if key in meta:
            parts.append(f"- **{label}**: {meta[key]}")
    return parts


def start_run(args, log=print) -> tuple[torch.device, dict, float | None]:
    """Threads, optional wait for a quiet machine, machine info, peak GB/s.

    Returns ``(device, meta, peak_gbps_or_None)``.
    """
    device = torch.device(args.device)
    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    meta: dict = {}
    if device.type == "cpu":
        meta["cpu_allocator"] = use_cpu_allocator(
            getattr(args, "cpu_allocator", "reuse")
        )
    if getattr(args, "wait_load", None) is not None and device.type == "cpu":
        load, waited = wait_for_load(args.wait_load, args.wait_timeout)
        meta["waited_for_load_s"] = f"{waited:.0f} (load then {load:.2f})"
        log(
            f"# waited {waited:.0f} s for load < {args.wait_load}: "
            f"load {load:.2f}"
        )
    meta["info"] = machine_info(device)
    meta["memory_method"] = (
        "torch.cuda.max_memory_allocated - allocated before"
        if device.type == "cuda"
        else cpu_memory_method()
    )
    for k, v in meta["info"].items():
        log(f"# {k}: {v}")
    peak, src = peak_bandwidth_gbps(device, getattr(args, "peak_gbps", None))
    meta["peak_gbps"] = f"{peak:.1f} GB/s ({src})"
    log(f"# peak bandwidth: {meta['peak_gbps']}")
    return device, meta, peak


def end_run(meta: dict, t_start: float) -> None:
    """Record the sweep time and the load at the end."""
    meta["sweep_s"] = f"{time.perf_counter() - t_start:.0f}"
    meta["load_end"] = " ".join(f"{v:.2f}" for v in os.getloadavg())


def add_common_args(p, sizes, batches, channels) -> None:
    """The flags every sweep shares."""
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--quick",
        action="store_true",
        help="tiny sweep for the test-suite (under a minute)",
    )
    p.add_argument("--meshes", type=int, nargs="+", default=list(sizes))
    p.add_argument("--batches", type=int, nargs="+", default=list(batches))
    p.add_argument("--channels", type=int, nargs="+", default=list(channels))
    p.add_argument(
        "--modes",
        nargs="+",
        default=["fwd", "fwd+bwd"],
        choices=["fwd", "fwd+bwd"],
    )
    p.add_argument(
        "--max-run-s",
        type=float,
        default=None,
        help="skip a path whose predicted single run exceeds "
        "this, except at the paper's size (default: 1 on CPU, "
        "2 on CUDA)",
    )
    p.add_argument(
        "--max-mem-gb",
        type=float,
        default=None,
        help="skip runs predicted above this (default: 6 on CPU, "
        "60%% of the free GPU memory)",
    )
    p.add_argument(
        "--check-batch",
        type=int,
        default=2,
        help="samples checked against the reference when the "
        "full-batch dense reference is over budget",
    )
    p.add_argument(
        "--rtol",
        type=float,
        default=1e-4,
        help="max error relative to the largest reference entry",
    )
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--min-repeats", type=int, default=3)
    p.add_argument(
        "--target-s",
        type=float,
        default=None,
        help="time for the repeats of one measurement "
        "(default: 0.4 CPU, 0.5 CUDA)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch intra-op threads (default: torch's)",
    )
    p.add_argument(
        "--peak-gbps",
        type=float,
        default=None,
        help="GPU peak bandwidth (default: data sheet of a known "
        "GPU, else a measured copy)",
    )
    p.add_argument(
        "--wait-load",
        type=float,
        default=None,
        help="CPU: first wait until the 1-minute load is below",
    )
    p.add_argument("--wait-timeout", type=float, default=600)
    p.add_argument(
        "--out-dir",
        default=None,
        help="results folder (default: benchmarks/results)",
    )
    p.add_argument("--tag", default=None, help="results file name stem")
    p.add_argument("--plot", default=None, help="PNG path")
    p.add_argument("--no-plot", action="store_true")

    add_allocator_arg(p)


def add_allocator_arg(p) -> None:
    """``--cpu-allocator``: the policy the timed CPU calls run under."""
    p.add_argument(
        "--cpu-allocator",
        choices=CPU_ALLOCATOR_POLICIES,
        default="reuse",
        help="reuse: freed buffers stay in the process "
        "(set_cpu_allocator); release: each buffer >= 1 MiB mapped and "
        "faulted in anew, as glibc's defaults do above 32 MiB "
        "(default: reuse; peak memory is always measured under release)",
    )


def finish_args(args, quick: dict, plot_name: str, root: Path) -> None:
    """Defaults that depend on the device and ``--quick``."""
    dev = torch.device(args.device)
    default_out = root / "benchmarks" / "results"
    if args.quick:
        for k, v in quick.items():
            setattr(args, k, v)
        args.threads = args.threads or 1
        args.target_s = args.target_s or 0.05
        args.warmup = min(args.warmup, 1)
    if args.max_run_s is None:
        args.max_run_s = 2.0 if dev.type == "cuda" else 1.0
    if args.target_s is None:
        args.target_s = 0.5 if dev.type == "cuda" else 0.4
    if args.max_mem_gb is None:
        if dev.type == "cuda":
            free, _ = torch.cuda.mem_get_info(dev)
            args.max_mem_gb = 0.6 * free / 2**30
        else:
            args.max_mem_gb = 6.0
    if args.plot is None and args.out_dir is None and not args.quick:
        args.plot = str(
            root / "docs" / "images" / f"bench_{plot_name}_{dev.type}.png"
        )
    args.out_dir = args.out_dir or str(default_out)
    args.meshes = sorted(args.meshes)
    args.batches = sorted(args.batches)
    args.channels = sorted(args.channels)

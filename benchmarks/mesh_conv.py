"""Batched MeshConv (paper Eq. 2) vs GraphCMR's per-sample loop and the
dense product.

GraphCMR multiplies the sparse mesh adjacency one sample at a time in a
Python loop (``nkolot/GraphCMR: models/graph_layers.py``: ``for i in
range(x.shape[0]): output.append(spmm(self.adjmat, support[i]))``); the
``loop`` path here does exactly that with ``torch.sparse.mm`` on a COO
adjacency.  Every path is checked against the dense reference
(:mod:`bigraph_pyg.nn.dense_reference`) before it is timed.

Paths (``prop`` = ``A_m X`` only, ``layer:`` = ``A_m X W + b``):

* ``loop``          per-sample ``torch.sparse.mm(adj, x[i])`` (GraphCMR);
* ``dense``         the dense ``N x N`` product;
* ``sparse``        MeshConv's fused CSR product, batch folded into channels;
* ``message``       PyG ``MessagePassing`` per-edge messages and scatter;
* ``auto``          MeshConv's ``impl="auto"``;
* ``torch_sparse``  ``impl="torch_sparse"`` when the layer has it, else
                    ``torch_sparse.matmul`` on a ``SparseTensor``;
* ``layer:graphcmr`` GraphCMR's layer (``x @ W``, the loop, ``+ b``);
* ``layer:auto``    ``MeshConv(impl="auto")``.

Meshes: 6890 / 1723 / 431 vertices of the default body's hierarchy
(:meth:`BodyGraphs.from_body`, :func:`bigraph_pyg.topology.mesh_graph`) and
``2562``, the 4-times subdivided trimesh icosphere of the tests
(:func:`bigraph_pyg.testing.icosphere_graph`).

Usage::

    python benchmarks/mesh_conv.py --device cpu
    python benchmarks/mesh_conv.py --quick --out-dir /tmp/b
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

from bigraph_pyg.nn.conv import MeshConv  # noqa: E402
from bigraph_pyg.nn.conv.normalized_graph_conv import PreparedGraph  # noqa: E402
from bigraph_pyg.nn.dense_reference import dense_graph_conv  # noqa: E402
from bigraph_pyg.utils import (  # noqa: E402
    dense_row_normalize,
    row_normalize,
    to_dense_adjacency,
    unpack_graph,
)

ROOT = Path(__file__).resolve().parents[1]
NAME = "mesh_conv"
ICOSPHERE = 2562
PROP_PATHS = ("loop", "dense", "sparse", "message", "auto", "torch_sparse")
LAYER_PATHS = ("layer:graphcmr", "layer:auto")
ALL_PATHS = PROP_PATHS + LAYER_PATHS
PINNED = ((1723, 64, 256), (ICOSPHERE, 64, 256))  # never skipped, fwd+bwd


def mesh_graphs(sizes, device) -> dict[int, tuple[Tensor, Tensor]]:
    """``{num_vertices: (edge_index, edge_weight)}`` from the library's
    builders: the default body's hierarchy and the tests' icosphere."""
    out = {}
    body_sizes = [n for n in sizes if n != ICOSPHERE]
    if body_sizes:
        from bigraph_pyg.body import default_body
        from bigraph_pyg.topology import BodyGraphs, mesh_graph

        h = BodyGraphs.from_body(default_body()).hierarchy
        levels = {n: i for i, n in enumerate(h.sizes)}
        missing = sorted(set(body_sizes) - set(levels))
        if missing:
            raise SystemExit(
                f"mesh sizes {missing} are neither in the body "
                f"hierarchy {h.sizes} nor {ICOSPHERE} "
                "(icosphere)"
            )
        for n in body_sizes:
            g = mesh_graph(h.faces[levels[n]], n)
            out[n] = (g.edge_index.to(device), g.edge_weight.to(device))
    if ICOSPHERE in sizes:
        from bigraph_pyg.testing import icosphere_graph

        _, ei, ew = icosphere_graph(4)
        out[ICOSPHERE] = (ei.to(device), ew.to(device))
    return out


def _has_torch_sparse() -> bool:
    """torch-sparse as PyG sees it (imported when PyG was)."""
    from torch_geometric.typing import WITH_TORCH_SPARSE

    return bool(WITH_TORCH_SPARSE)


def graphcmr_adjacency(
    edge_index: Tensor, edge_weight: Tensor, n: int
) -> Tensor:
    """GraphCMR's ``adjmat``: the row-normalised adjacency as a sparse COO
    ``torch.sparse.FloatTensor``."""
    w = row_normalize(edge_index[1], edge_weight, n)
    return torch.sparse_coo_tensor(
        edge_index.flip(0), w, (n, n), check_invariants=True
    ).coalesce()


def graphcmr_loop(adj: Tensor, x: Tensor) -> Tensor:
    """GraphCMR's batched product: one sparse product per sample."""
    return torch.stack([torch.sparse.mm(adj, x[i]) for i in range(x.shape[0])])


def bytes_moved(
    num_edges: int, n: int, batch: int, channels: int, mode: str, elem: int = 4
) -> float:
    """Minimum DRAM traffic of ``A X``: read ``X`` and the graph, write the
    output; backward reads the output gradient and the graph, writes
    ``dX`` (the mesh weights are fixed)."""
    feats = batch * channels * n * elem
    graph = num_edges * (8 + 8 + elem)
    total = 2 * feats + graph
    if mode == "fwd+bwd":
        total += 2 * feats + graph
    return float(total)


def build_paths(
    ei: Tensor,
    ew: Tensor,
    n: int,
    batch: int,
    channels: int,
    names,
    device,
    lin_w: Tensor,
    bias: Tensor,
):
    graph = unpack_graph(ei, ew, (n, n))
    adj = graphcmr_adjacency(ei, ew, n)
    paths, missing = [], {}

    def traffic(mode, e=graph.num_edges):
        return bytes_moved(e, n, batch, channels, mode)

    def conv_of(impl):
        conv = MeshConv(channels, channels, impl=impl).to(device)
        with torch.no_grad():
            conv.lin.weight.copy_(lin_w)
            conv.bias.copy_(bias)
        return conv

    def prop(conv) -> Callable[[Tensor], Tensor]:
        # As the layer runs it: the CSR structure and the normalised
        # weights of the fixed graph built at the first call, then cached.
        prepared = PreparedGraph(graph, cacheable=True)
        return lambda x: conv._propagate(
            prepared, conv._normalized(prepared), x
        )

    for name in names:
        if name == "loop":
            paths.append(
                C.BenchPath(
                    "loop",
                    lambda x: graphcmr_loop(adj, x),
                    [],
                    "prop",
                    bytes_fn=traffic,
                    note="GraphCMR: torch.sparse.mm per sample",
                )
            )
        elif name in ("dense", "sparse", "message", "auto"):
            conv = conv_of(name)
            chosen = conv.resolve_impl(
                graph, torch.empty(batch, n, channels, device=device)
            )
            paths.append(
                C.BenchPath(
                    name,
                    prop(conv),
                    [],
                    "prop",
                    quadratic=chosen == "dense",
                    note=f"auto -> {chosen}" if name == "auto" else "",
                    bytes_fn=None if chosen == "dense" else traffic,
                )
            )
        elif name == "torch_sparse":
            if not _has_torch_sparse():
                missing[name] = "torch-sparse not installed"
            elif "torch_sparse" in MeshConv(1, 1)._impls():
                paths.append(
                    C.BenchPath(
                        name,
                        prop(conv_of(name)),
                        [],
                        "prop",
                        bytes_fn=traffic,
                        note="impl='torch_sparse'",
                    )
                )
            else:
                import torch_sparse

                w = row_normalize(graph.dst, ew, n)
                st = torch_sparse.SparseTensor(
                    row=graph.dst,
                    col=graph.src,
                    value=w,
                    sparse_sizes=(n, n),
                    is_sorted=True,
                    trust_data=True,
                )
                paths.append(
                    C.BenchPath(
                        name,
                        lambda x, st=st: torch_sparse.matmul(st, x),
                        [],
                        "prop",
                        bytes_fn=traffic,
                        note="torch_sparse.matmul(SparseTensor)",
                    )
                )
        elif name == "layer:graphcmr":
            w = lin_w.detach().clone().requires_grad_(True)
            b = bias.detach().clone().requires_grad_(True)

            def layer(x, w=w, b=b):
                return graphcmr_loop(adj, x @ w.t()) + b

            paths.append(
                C.BenchPath(
                    name,
                    layer,
                    [w, b],
                    "layer",
                    note="x @ W, per-sample spmm, + b",
                )
            )
        elif name == "layer:auto":
            conv = conv_of("auto")
            paths.append(
                C.BenchPath(
                    name,
                    lambda x, conv=conv: conv(x, ei, ew),
                    [conv.lin.weight, conv.bias],
                    "layer",
                    note="MeshConv",
                )
            )
        else:
            raise ValueError(f"unknown path {name!r}")
    return paths, missing


def reference_outputs(
    kind: str,
    ei: Tensor,
    ew: Tensor,
    n: int,
    x: Tensor,
    grad_out: Tensor | None,
    lin_w: Tensor,
    bias: Tensor,
) -> list[Tensor | None]:
    """``[out, dx (, dW, db)]`` of the dense formula (Eq. 2)."""
    train = grad_out is not None
    adj = to_dense_adjacency(ei[0], ei[1], ew, (n, n))
    x = x.detach().requires_grad_(train)
    leaves = [x]
    with torch.set_grad_enabled(train):
        if kind == "layer":
            w = lin_w.detach().clone().requires_grad_(train)
            b = bias.detach().clone().requires_grad_(train)
            leaves += [w, b]
            out = dense_graph_conv(x, adj, w, b)
        else:
            out = dense_row_normalize(adj) @ x
    if not train:
        return [out.detach()]
    out.backward(grad_out)
    return [out.detach()] + [t.grad for t in leaves]


def run_sweep(args, log=print) -> tuple[list[dict], dict]:
    device, meta, peak_gbps = C.start_run(args, log)
    t0 = time.perf_counter()
    graphs = mesh_graphs(args.meshes, device)
    log(f"# graphs built in {time.perf_counter() - t0:.1f} s")
    budget = C.Budget(args.max_run_s, args.max_mem_gb * 1024)
    rows: list[dict] = []
    t_start = time.perf_counter()
    for n in args.meshes:
        ei, ew = graphs[n]
        for channels in args.channels:
            g = torch.Generator().manual_seed(3)
            lin_w = (
                (torch.rand(channels, channels, generator=g) - 0.5)
                * (24 / channels) ** 0.5
            ).to(device)
            bias = torch.randn(channels, generator=g).to(device)
            cache: dict = {}

            def reference(
                kind,
                xc,
                gc,
                ei=ei,
                ew=ew,
                n=n,
                lin_w=lin_w,
                bias=bias,
                cache=cache,
            ):
                key = (kind, xc.size(0), gc is not None)
                if key not in cache:
                    cache[key] = reference_outputs(
                        kind, ei, ew, n, xc, gc, lin_w, bias
                    )
                return cache[key]

            for batch in args.batches:
                x = (
                    torch.randn(
                        batch,
                        n,
                        channels,
                        generator=torch.Generator().manual_seed(10),
                    )
                    .to(device)
                    .requires_grad_(True)
                )
                grad_out = torch.randn(
                    batch,
                    n,
                    channels,
                    generator=torch.Generator().manual_seed(11),
                ).to(device)
                pinned = (n, batch, channels) in PINNED
                dense = C.BenchPath("dense", None, [], "", quadratic=True)
                pred = budget.predict(
                    ("dense", "fwd+bwd"),
                    C.Budget.work(dense, n, batch, channels),
                )
                mem = (
                    4.0
                    * (3 * n * n + batch * n * n + 4 * batch * n * channels)
                    / 2**20
                )
                full_check = pinned or (
                    mem < budget.max_mem_mb
                    and (pred is None or pred[0] < 2 * args.max_run_s)
                )
                check_b = batch if full_check else args.check_batch
                paths, missing = build_paths(
                    ei, ew, n, batch, channels, args.paths, device, lin_w, bias
                )
                for mode in args.modes:
                    common = dict(
                        device=str(device),
                        num_vertices=n,
                        num_edges=ei.size(1),
                        batch=batch,
                        channels=channels,
                        mode=mode,
                    )
                    for name, why in missing.items():
                        rows.append(
                            {
                                **common,
                                "path": name,
                                "status": f"skipped ({why})",
                            }
                        )
                    for path in paths:
                        row = C.measure(
                            path,
                            x,
                            grad_out,
                            mode,
                            check_b,
                            reference,
                            budget,
                            device,
                            rtol=args.rtol,
                            pinned=pinned and mode == "fwd+bwd",
                            warmup=args.warmup,
                            repeats=args.repeats,
                            min_repeats=args.min_repeats,
                            target_s=args.target_s,
                            peak_gbps=peak_gbps,
                            skip_quadratic_mb=mem,
                        )
                        rows.append({**common, **row})
                        log(C.log_line(rows[-1]))
    C.end_run(meta, t_start)
    keys = ("num_vertices", "batch", "channels", "mode")
    C.add_ratios(
        rows, keys, lambda p: None if p.startswith("layer") else "dense"
    )
    C.add_ratios(
        rows,
        keys,
        lambda p: "layer:graphcmr" if p.startswith("layer") else "loop",
        column="ratio_to_loop",
    )
    return rows, meta


def pinned_summary(rows: list[dict]) -> str:
    """Every path at the pinned sizes, forward+backward."""
    body = []
    for r in rows:
        if (r["num_vertices"], r["batch"], r["channels"]) not in PINNED or r[
            "mode"
        ] != "fwd+bwd":
            continue
        ok = r.get("status") == "ok"
        rl, rd = r.get("ratio_to_loop"), r.get("ratio_to_dense")
        body.append(
            [
                r["num_vertices"],
                r["path"],
                C.fmt_ms(r["median_ms"] / 1e3) if ok else r.get("status"),
                C.fmt_ratio(rd),
                C.fmt_ratio(rl),
                C.fmt_ratio(1 / rl) if rl else "—",
                r.get("peak_mb", "—"),
                r.get("note", ""),
            ]
        )
    if not body:
        return ""
    return C.markdown_table(
        [
            "N",
            "path",
            "median ms",
            "time / dense",
            "time / loop",
            "speed-up vs loop",
            "peak MB",
            "note",
        ],
        body,
    )


def write_reports(rows, meta, args, argv) -> dict:
    out_dir = Path(args.out_dir)
    tag = args.tag or f"{NAME}_{torch.device(args.device).type}"
    files = {"csv": out_dir / f"{tag}.csv", "md": out_dir / f"{tag}.md"}
    C.write_csv(files["csv"], rows)
    parts = C.header_lines(
        f"MeshConv vs GraphCMR's per-sample loop ({meta['info']['device']})",
        "benchmarks/mesh_conv.py",
        argv,
        meta,
    )
    parts += [
        "",
        "Cells: median ms (time / time of GraphCMR's `loop` in "
        "the same configuration; `layer:` rows divide by "
        "`layer:graphcmr`). N = 2562 is the trimesh icosphere, the "
        "others the default body's hierarchy. `(budget)` / "
        "`(memory)`: skipped, predicted over `--max-run-s` / "
        "`--max-mem-gb`. Every timed path first matched the dense "
        "reference.",
        "",
    ]
    summary = pinned_summary(rows)
    if summary:
        parts += [
            "## Pinned sizes (B=64, C=256, forward+backward)",
            "",
            summary,
            "",
        ]
    parts += C.sweep_tables(rows, args.modes, column="ratio_to_loop")
    parts += C.bandwidth_table(rows)
    files["md"].parent.mkdir(parents=True, exist_ok=True)
    files["md"].write_text("\n".join(parts) + "\n")
    if not args.no_plot:
        files["png"] = Path(args.plot) if args.plot else out_dir / f"{tag}.png"
        C.plot_fwd_bwd(files["png"], "MeshConv", rows, meta, "N")
    return files


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    C.add_common_args(
        p,
        sizes=(431, 1723, ICOSPHERE, 6890),
        batches=(1, 16, 64),
        channels=(64, 256),
    )
    p.add_argument(
        "--paths", nargs="+", default=list(ALL_PATHS), choices=ALL_PATHS
    )
    args = p.parse_args(argv)
    C.finish_args(
        args,
        quick=dict(meshes=[431], batches=[2], channels=[16], repeats=3),
        plot_name="mesh",
        root=ROOT,
    )
    return args


def main(argv=None) -> dict:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    rows, meta = run_sweep(args)
    files = write_reports(rows, meta, args, argv)
    summary = pinned_summary(rows)
    if summary:
        print("\nPinned sizes (B=64, C=256, fwd+bwd):")
        print(summary)
    for kind, path in files.items():
        print(f"# wrote {kind}: {path}")
    return {"files": files, "rows": rows, "meta": meta}


if __name__ == "__main__":
    main()

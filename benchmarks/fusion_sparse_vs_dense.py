"""Fusion graph convolution (paper Eq. 5), every path the library supports.

Every path runs on the same inputs, is checked against the dense reference
(:mod:`bigraph_pyg.nn.dense_reference`, the paper's formula on full
matrices) before it is timed, and is reported as a ratio to the dense
:math:`(N_s+N_m)^2` product in the same run.

Paths (``prop:`` = propagation only, ``A_f X`` with the row normalisation of
``A_fs * W_f``, i.e. ``conv._propagate(graph, conv.normalized_edge_weights(
graph), x)``; ``layer:`` = the whole layer, ``A_f X W + b``):

* ``dense``        the dense ``(N_s+N_m)^2`` matrix product (the reference
                   time every ratio divides by);
* ``blocks``       the two dense joint x vertex blocks;
* ``auto``         ``impl="auto"`` with ``num_joints`` (the layer's choice);
* ``message``      PyG ``MessagePassing`` per-edge messages and scatter;
* ``sparse``       the fused CSR product, batch folded into channels;
* ``torch_sparse`` the layer's ``"torch_sparse"`` impl when it has one, else
                   ``torch_sparse.matmul`` on a ``SparseTensor`` whose values
                   require grad (skipped when torch-sparse is missing);
* ``knn<k>``       the fused CSR product on the k-nearest-joint sparsified
                   fusion graph (a *different* graph: checked against the
                   dense product of that graph);
* ``layer:dense``, ``layer:auto``  the whole layer.

Usage::

    python benchmarks/fusion_sparse_vs_dense.py --device cpu
    python benchmarks/fusion_sparse_vs_dense.py --device cuda
    python benchmarks/fusion_sparse_vs_dense.py --quick --out-dir /tmp/b
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

from bigraph_pyg.nn.conv import BipartiteFusionConv  # noqa: E402
from bigraph_pyg.nn.conv.normalized_graph_conv import PreparedGraph  # noqa: E402
from bigraph_pyg.nn.dense_reference import (  # noqa: E402
    dense_fusion_adjacency,
    dense_fusion_conv,
)
from bigraph_pyg.utils import to_dense_adjacency, unpack_graph  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NAME = "fusion_sparse_vs_dense"
PROP_PATHS = (
    "dense",
    "blocks",
    "auto",
    "message",
    "sparse",
    "torch_sparse",
    "knn",
)
LAYER_PATHS = ("layer:dense", "layer:auto")
ALL_PATHS = PROP_PATHS + LAYER_PATHS
MODES = ("fwd", "fwd+bwd")
PAPER = dict(num_vertices=1723, batch=64, channels=256, mode="fwd+bwd")


# -- inputs (the builders the tests use) -------------------------------------


@dataclass
class FusionMesh:
    """A template mesh level with its full and k-NN fusion graphs."""

    num_vertices: int
    num_joints: int
    edge_index: Tensor
    edge_weight: Tensor
    knn_edge_index: Tensor
    knn_edge_weight: Tensor

    @property
    def num_nodes(self) -> int:
        return self.num_joints + self.num_vertices


def body_fusion_meshes(sizes, knn_k: int, device) -> dict[int, FusionMesh]:
    """Fusion graphs of the default body at the requested mesh sizes.

    Uses :meth:`BodyGraphs.from_body` (the 6890 -> 1723 -> 431 hierarchy)
    and :func:`bigraph_pyg.topology.fusion_graph`, as the tests do.
    """
    from bigraph_pyg.body import default_body
    from bigraph_pyg.topology import BodyGraphs, fusion_graph

    graphs = BodyGraphs.from_body(default_body())
    levels = {n: i for i, n in enumerate(graphs.hierarchy.sizes)}
    missing = sorted(set(sizes) - set(levels))
    if missing:
        raise SystemExit(
            f"mesh sizes {missing} not in the body hierarchy "
            f"{graphs.hierarchy.sizes}"
        )
    out = {}
    for n in sizes:
        verts = graphs.hierarchy.vertices[levels[n]]
        full = fusion_graph(graphs.joints, verts).to(device)
        knn = fusion_graph(graphs.joints, verts, k=knn_k).to(device)
        out[n] = FusionMesh(
            n,
            graphs.num_joints,
            full.edge_index,
            full.edge_weight,
            knn.edge_index,
            knn.edge_weight,
        )
    return out


def fusion_weight_values(num_edges: int, seed: int) -> Tensor:
    """Positive, non-uniform ``W_f`` (so row normalisation matters)."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(num_edges, generator=g) + 0.5


# -- paths -----------------------------------------------------------------


def _make_conv(
    impl: str,
    channels: int,
    mesh: FusionMesh,
    knn: bool,
    device,
    lin_weight: Tensor | None = None,
    bias: Tensor | None = None,
) -> BipartiteFusionConv:
    num_edges = (mesh.knn_edge_index if knn else mesh.edge_index).size(1)
    num_joints = mesh.num_joints if impl in ("blocks", "auto") else None
    conv = BipartiteFusionConv(
        channels,
        channels,
        num_edges=num_edges,
        impl=impl,
        num_joints=num_joints,
    ).to(device)
    with torch.no_grad():
        conv.fusion_weight.copy_(fusion_weight_values(num_edges, 1 + knn))
        if lin_weight is not None:
            conv.lin.weight.copy_(lin_weight)
            conv.bias.copy_(bias)
    return conv


def _prop(conv: BipartiteFusionConv, graph) -> Callable[[Tensor], Tensor]:
    # As the layer runs it: structures derived from the graph (CSR, block
    # indices) built at the first call and cached; W_f applied per call.
    prepared = PreparedGraph(graph, cacheable=True)

    def fn(x: Tensor) -> Tensor:
        return conv._propagate(prepared, conv.normalized_edge_weights(graph), x)

    return fn


def _torch_sparse_matmul(conv, graph, n: int) -> Callable[[Tensor], Tensor]:
    import torch_sparse

    def fn(x: Tensor) -> Tensor:
        w = conv.normalized_edge_weights(graph).to(x.dtype)
        adj = torch_sparse.SparseTensor(
            row=graph.dst,
            col=graph.src,
            value=w,
            sparse_sizes=(n, n),
            is_sorted=True,
            trust_data=True,
        )
        return torch_sparse.matmul(adj, x)

    return fn


def has_torch_sparse() -> bool:
    """torch-sparse as PyG sees it (imported when PyG was)."""
    from torch_geometric.typing import WITH_TORCH_SPARSE

    return bool(WITH_TORCH_SPARSE)


def bytes_moved(
    num_edges: int,
    n: int,
    batch: int,
    channels: int,
    blocks_joints: int | None,
    mode: str,
    elem: int = 4,
) -> float:
    """Minimum DRAM traffic of one propagation.

    Forward: read ``X``, write the output, read the graph (two int64
    indices and a weight per edge; plus the two dense ``J x V`` blocks for
    the blocks path).  Backward adds: read the output gradient twice and
    ``X`` once, write ``dX``, read the graph again and write the edge
    gradients.  A lower bound: cache re-use helps, extra passes do not count.
    """
    feats = batch * channels * n * elem
    graph = num_edges * (8 + 8 + elem)
    if blocks_joints is not None:
        graph += 2 * blocks_joints * (n - blocks_joints) * elem
    total = 2 * feats + graph
    if mode == "fwd+bwd":
        total += 4 * feats + 2 * graph
    return float(total)


def build_paths(
    mesh: FusionMesh,
    channels: int,
    batch: int,
    names,
    knn_k: int,
    device,
    lin_w: Tensor,
    bias: Tensor,
) -> tuple[list[C.BenchPath], dict[str, str]]:
    """The requested paths for one mesh, batch and channel count.

    Returns the paths and ``{name: reason}`` for paths that cannot run here.
    """
    n = mesh.num_nodes
    full = unpack_graph(mesh.edge_index, mesh.edge_weight, (n, n))
    knn = unpack_graph(mesh.knn_edge_index, mesh.knn_edge_weight, (n, n))

    def traffic(edges, blocks=False):
        j = mesh.num_joints if blocks else None
        return lambda mode: bytes_moved(edges, n, batch, channels, j, mode)

    paths, unavailable = [], {}
    e = full.num_edges
    for name in names:
        if name in ("dense", "blocks", "message", "sparse"):
            conv = _make_conv(name, channels, mesh, False, device)
            paths.append(
                C.BenchPath(
                    name,
                    _prop(conv, full),
                    [conv.fusion_weight],
                    "prop",
                    quadratic=name == "dense",
                    bytes_fn=None
                    if name == "dense"
                    else traffic(e, name == "blocks"),
                )
            )
        elif name == "auto":
            conv = _make_conv("auto", channels, mesh, False, device)
            chosen = conv.resolve_impl(
                full, torch.empty(batch, n, channels, device=device)
            )
            paths.append(
                C.BenchPath(
                    "auto",
                    _prop(conv, full),
                    [conv.fusion_weight],
                    "prop",
                    quadratic=chosen == "dense",
                    note=f"auto -> {chosen}",
                    bytes_fn=None
                    if chosen == "dense"
                    else traffic(e, chosen == "blocks"),
                )
            )
        elif name == "torch_sparse":
            if not has_torch_sparse():
                unavailable[name] = "torch-sparse not installed"
            elif (
                "torch_sparse"
                in BipartiteFusionConv(1, 1, num_edges=1)._impls()
            ):
                conv = _make_conv("torch_sparse", channels, mesh, False, device)
                paths.append(
                    C.BenchPath(
                        name,
                        _prop(conv, full),
                        [conv.fusion_weight],
                        "prop",
                        note="impl='torch_sparse'",
                        bytes_fn=traffic(e),
                    )
                )
            else:
                conv = _make_conv("sparse", channels, mesh, False, device)
                paths.append(
                    C.BenchPath(
                        name,
                        _torch_sparse_matmul(conv, full, n),
                        [conv.fusion_weight],
                        "prop",
                        note="torch_sparse.matmul(SparseTensor)",
                        bytes_fn=traffic(e),
                    )
                )
        elif name == "knn":
            conv = _make_conv("sparse", channels, mesh, True, device)
            paths.append(
                C.BenchPath(
                    f"knn{knn_k}",
                    _prop(conv, knn),
                    [conv.fusion_weight],
                    "knn",
                    note=f"sparse, {knn_k} nearest joints per vertex "
                    "(own dense reference)",
                    bytes_fn=traffic(knn.num_edges),
                )
            )
        elif name in LAYER_PATHS:
            impl = name.split(":")[1]
            conv = _make_conv(impl, channels, mesh, False, device, lin_w, bias)

            def layer(x, conv=conv, ei=mesh.edge_index, ew=mesh.edge_weight):
                return conv(x, ei, ew)

            chosen = conv.resolve_impl(
                full, torch.empty(batch, n, channels, device=device)
            )
            paths.append(
                C.BenchPath(
                    name,
                    layer,
                    [conv.fusion_weight, conv.lin.weight, conv.bias],
                    "layer",
                    quadratic=chosen == "dense",
                    note=f"A_f X W + b ({chosen})",
                )
            )
        else:
            raise ValueError(f"unknown path {name!r}")
    return paths, unavailable


# -- dense references --------------------------------------------------------


def reference_outputs(
    kind: str,
    mesh: FusionMesh,
    x: Tensor,
    grad_out: Tensor | None,
    lin_w: Tensor,
    bias: Tensor,
) -> list[Tensor | None]:
    """``[out, dx, dW_f (, dW, db)]`` of the paper's dense formula."""
    n = mesh.num_nodes
    knn = kind == "knn"
    ei = mesh.knn_edge_index if knn else mesh.edge_index
    ew = mesh.knn_edge_weight if knn else mesh.edge_weight
    src, dst = ei
    a_fs = to_dense_adjacency(src, dst, ew, (n, n))
    wf = fusion_weight_values(ei.size(1), 1 + knn).to(x.device)
    wf.requires_grad_(grad_out is not None)
    x = x.detach().requires_grad_(grad_out is not None)
    w_f = to_dense_adjacency(src, dst, wf, (n, n))
    leaves = [x, wf]
    with torch.set_grad_enabled(grad_out is not None):
        if kind == "layer":
            lw = lin_w.detach().clone().requires_grad_(grad_out is not None)
            b = bias.detach().clone().requires_grad_(grad_out is not None)
            leaves += [lw, b]
            out = dense_fusion_conv(x, a_fs, w_f, lw, b)
        else:
            out = dense_fusion_adjacency(a_fs, w_f) @ x
    if grad_out is None:
        return [out.detach()]
    out.backward(grad_out)
    return [out.detach()] + [t.grad for t in leaves]


# -- the sweep -----------------------------------------------------------------


def dense_bytes(n: int, batch: int, channels: int) -> float:
    """Rough peak of the dense product: a few ``N^2`` matrices, the batch
    broadcast of ``A`` that ``matmul`` may materialise, and the features."""
    return 4.0 * (4 * n * n + batch * n * n + 4 * batch * n * channels)


def is_paper_size(nv: int, batch: int, channels: int) -> bool:
    return (nv, batch, channels) == (
        PAPER["num_vertices"],
        PAPER["batch"],
        PAPER["channels"],
    )


def run_sweep(args, log=print) -> tuple[list[dict], dict]:
    device, meta, peak_gbps = C.start_run(args, log)
    t_build = time.perf_counter()
    meshes = body_fusion_meshes(args.meshes, args.knn_k, device)
    log(f"# graphs built in {time.perf_counter() - t_build:.1f} s")
    budget = C.Budget(args.max_run_s, args.max_mem_gb * 1024)
    rows: list[dict] = []
    t_start = time.perf_counter()
    for nv in args.meshes:
        mesh = meshes[nv]
        n = mesh.num_nodes
        for channels in args.channels:
            g = torch.Generator().manual_seed(3)
            lin_w = (
                (torch.rand(channels, channels, generator=g) - 0.5)
                * (24 / channels) ** 0.5
            ).to(device)
            bias = torch.randn(channels, generator=g).to(device)
            cache: dict = {}

            def reference(
                kind, xc, gc, mesh=mesh, lin_w=lin_w, bias=bias, cache=cache
            ):
                key = (kind, xc.size(0), gc is not None)
                if key not in cache:
                    cache[key] = reference_outputs(
                        kind, mesh, xc, gc, lin_w, bias
                    )
                return cache[key]

            for batch in args.batches:
                # separate generators: x[:k] and grad_out[:k] do not depend
                # on the batch size (the sub-batch references are cached)
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
                pinned = is_paper_size(nv, batch, channels)
                dense = C.BenchPath("dense", None, [], "", quadratic=True)
                pred = budget.predict(
                    ("dense", "fwd+bwd"),
                    C.Budget.work(dense, n, batch, channels),
                )
                mem = dense_bytes(n, batch, channels) / 2**20
                full_check = pinned or (
                    mem < budget.max_mem_mb
                    and (pred is None or pred[0] < 2 * args.max_run_s)
                )
                check_b = batch if full_check else args.check_batch
                paths, missing = build_paths(
                    mesh,
                    channels,
                    batch,
                    args.paths,
                    args.knn_k,
                    device,
                    lin_w,
                    bias,
                )
                for mode in args.modes:
                    common = dict(
                        device=str(device),
                        num_vertices=nv,
                        num_nodes=n,
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
                            pinned=pinned and mode == PAPER["mode"],
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
    C.add_ratios(
        rows,
        ("num_vertices", "batch", "channels", "mode"),
        lambda p: "layer:dense" if p.startswith("layer") else "dense",
    )
    return rows, meta


# -- reports -------------------------------------------------------------------


def paper_summary(rows: list[dict]) -> str:
    """Every path at the paper's size (1723 vertices, B=64, C=256,
    forward+backward) with its time / dense time and speed-up."""
    sel = [
        r
        for r in rows
        if is_paper_size(r["num_vertices"], r["batch"], r["channels"])
        and r["mode"] == PAPER["mode"]
    ]
    body = []
    for r in sel:
        ok = r.get("status") == "ok"
        ratio = r.get("ratio_to_dense")
        body.append(
            [
                r["path"],
                C.fmt_ms(r["median_ms"] / 1e3) if ok else r.get("status"),
                C.fmt_ratio(ratio) if ok else "—",
                C.fmt_ratio(1 / ratio) if ok and ratio else "—",
                r.get("peak_mb", "—"),
                r.get("max_rel_err", "—"),
                r.get("note", ""),
            ]
        )
    if not body:
        return ""
    return C.markdown_table(
        [
            "path",
            "median ms",
            "time / dense",
            "speed-up vs dense",
            "peak MB",
            "max rel. err",
            "note",
        ],
        body,
    )


def write_reports(rows: list[dict], meta: dict, args, argv) -> dict:
    out_dir = Path(args.out_dir)
    tag = args.tag or f"{NAME}_{torch.device(args.device).type}"
    files = {"csv": out_dir / f"{tag}.csv", "md": out_dir / f"{tag}.md"}
    C.write_csv(files["csv"], rows)
    parts = C.header_lines(
        f"Fusion convolution: every path vs the dense product "
        f"({meta['info']['device']})",
        "benchmarks/fusion_sparse_vs_dense.py",
        argv,
        meta,
    )
    parts += [
        "",
        "Cells: median ms (time / time of `dense` in the same "
        "configuration; `layer:` rows divide by `layer:dense`). "
        "`(budget)`: predicted over `--max-run-s` from the path's "
        "previous size; `(memory)`: over `--max-mem-gb`. Every timed "
        "path first matched the dense reference (on the full batch, "
        f"or its first {args.check_batch} samples where the dense "
        "reference is over budget; column `checked_batch` of the CSV).",
        "",
    ]
    summary = paper_summary(rows)
    if summary:
        parts += [
            "## Paper size: 1723 vertices, B=64, C=256, forward+backward",
            "",
            summary,
            "",
        ]
    parts += C.sweep_tables(rows, args.modes)
    parts += C.bandwidth_table(rows)
    files["md"].parent.mkdir(parents=True, exist_ok=True)
    files["md"].write_text("\n".join(parts) + "\n")
    if not args.no_plot:
        files["png"] = Path(args.plot) if args.plot else out_dir / f"{tag}.png"
        C.plot_fwd_bwd(files["png"], "Fusion convolution", rows, meta, "N_m")
    return files


# -- CLI -----------------------------------------------------------------------


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    C.add_common_args(
        p, sizes=(431, 1723, 6890), batches=(1, 16, 64), channels=(64, 256, 512)
    )
    p.add_argument(
        "--paths", nargs="+", default=list(ALL_PATHS), choices=ALL_PATHS
    )
    p.add_argument(
        "--knn-k",
        type=int,
        default=3,
        help="joints kept per vertex by the k-NN fusion graph",
    )
    args = p.parse_args(argv)
    C.finish_args(
        args,
        quick=dict(meshes=[431], batches=[2], channels=[16], repeats=3),
        plot_name="fusion",
        root=ROOT,
    )
    return args


def main(argv=None) -> dict:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    rows, meta = run_sweep(args)
    files = write_reports(rows, meta, args, argv)
    summary = paper_summary(rows)
    if summary:
        print("\nPaper size (1723 vertices, B=64, C=256, fwd+bwd):")
        print(summary)
    for kind, path in files.items():
        print(f"# wrote {kind}: {path}")
    return {"files": files, "rows": rows, "meta": meta}


if __name__ == "__main__":
    main()

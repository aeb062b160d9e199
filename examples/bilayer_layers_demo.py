"""The three bilayer-graph layers on the default body's graphs.

Builds the licence-free default body, its 1723-vertex mesh graph, the
12-joint skeleton graph and the 12 x 1723 fusion graph, runs one
skeleton / mesh / fusion convolution on a batch of random features, checks
each against the paper's dense formula, and prints shapes and timings.

    python examples/bilayer_layers_demo.py [--batch 16] [--channels 64]
"""

from __future__ import annotations

import argparse
import time

import torch

from bigraph_pyg.body import default_body
from bigraph_pyg.cli import int_range, script_errors
from bigraph_pyg.nn import BipartiteFusionConv, MeshConv, SkeletonConv
from bigraph_pyg.nn.dense_reference import dense_fusion_conv, dense_graph_conv
from bigraph_pyg.topology import BodyGraphs
from bigraph_pyg.utils import to_dense_adjacency


def main(argv=None) -> None:
    """Parse the sizes, build the graphs, run and check each layer."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Bounded: batch x 1723 vertices x channels floats, twice (dense check).
    parser.add_argument("--batch", type=int_range(1, 256), default=16)
    parser.add_argument("--channels", type=int_range(1, 1024), default=64)
    args = parser.parse_args(argv)
    torch.manual_seed(0)

    t0 = time.perf_counter()
    with script_errors():  # a damaged body file names itself
        body = default_body()
        graphs = BodyGraphs.from_body(body)
    print(
        f"default body: {body.num_vertices} vertices, "
        f"hierarchy {graphs.hierarchy.sizes} "
        f"({time.perf_counter() - t0:.1f} s)"
    )
    m, s, f = graphs.mesh_graph, graphs.skeleton_graph, graphs.fusion_graph
    n_s, n_m = graphs.num_joints, graphs.num_vertices
    print(f"mesh graph A_m:     {m.num_nodes} nodes, {m.num_edges} edges")
    print(f"skeleton graph A_s: {s.num_nodes} nodes, {s.num_edges} edges")
    print(f"fusion graph A_f:   {f.num_nodes} nodes, {f.num_edges} edges")

    b, c = args.batch, args.channels
    x_s = torch.randn(b, n_s, c)
    x_m = torch.randn(b, n_m, c)
    layers = [
        ("SkeletonConv", SkeletonConv(c, c), x_s, s, None),
        ("MeshConv", MeshConv(c, c), x_m, m, None),
        (
            "BipartiteFusionConv",
            BipartiteFusionConv(c, c, num_edges=f.num_edges, num_joints=n_s),
            torch.cat([x_s, x_m], dim=1),
            f,
            None,
        ),
    ]
    print(f"\nbatch {b}, {c} channels: forward, dense-formula check")
    for name, conv, x, g, _ in layers:
        t0 = time.perf_counter()
        out = conv(x, g.edge_index, g.edge_weight)
        ms = (time.perf_counter() - t0) * 1e3
        n = g.num_nodes
        adj = to_dense_adjacency(
            g.edge_index[0], g.edge_index[1], g.edge_weight, (n, n)
        )
        if isinstance(conv, BipartiteFusionConv):
            w_f = to_dense_adjacency(
                g.edge_index[0],
                g.edge_index[1],
                conv.fusion_weight.detach(),
                (n, n),
            )
            ref = dense_fusion_conv(x, adj, w_f, conv.lin.weight, conv.bias)
        else:
            ref = dense_graph_conv(x, adj, conv.lin.weight, conv.bias)
        err = (out - ref).abs().max().item()
        print(
            f"  {name:<20} {tuple(x.shape)} -> {tuple(out.shape)}  "
            f"{ms:7.1f} ms   max |sparse - dense| = {err:.1e}"
        )
        if err > 1e-4:
            raise SystemExit(
                f"error: Expected {name} to match the dense formula "
                f"(got max |sparse - dense| = {err:.1e})"
            )


if __name__ == "__main__":
    main()

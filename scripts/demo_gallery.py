r"""The demo on real photographs: gallery overlays and agreement figures.

Runs :func:`bigraph_pyg.apps.predict` (MediaPipe Pose and the shipped model
the demo uses on its joints, ``pretrained("synthetic-mediapipe")``)
on scikit-image's astronaut and on sample photos of Debian's ``opencv-doc``
package, writes small overlays to ``docs/images/demo_<name>.png`` and
prints, per photo, the time and the agreement of the reprojected joints
with the detector's keypoints (mean distance over the confident joints,
as a fraction of their box height) for both branches: the mesh branch
through the model's weak camera, the SMPL branch through the written
full-perspective camera (``transl``, ``focal_length``).

Get the opencv-doc photos (no network needed afterwards)::

    cd /tmp && apt-get download opencv-doc && \
        dpkg -x opencv-doc*.deb /tmp/ocvdoc
    python scripts/demo_gallery.py --opencv-doc /tmp/ocvdoc

``--checkpoint CKPT`` scores a trained run's model instead (with ``--out``
elsewhere, to keep the gallery's images).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from bigraph_pyg.engine.cli_types import int_range, output_path, script_errors

_DATA = "usr/share/doc/opencv-doc/examples/data"
#: name -> (file under the opencv-doc data folder, person index).
PHOTOS = {
    "messi": ("messi5.jpg", 0),
    "basketball": ("basketball1.png", 0),
}


def _agreement(points: np.ndarray, pred) -> float:
    ok = pred.keypoint_confidence > 0.5
    if not ok.any():
        return float("nan")
    ys = pred.keypoints[ok, 1]
    err = np.linalg.norm(points[ok] - pred.keypoints[ok], axis=-1)
    return float(err.mean() / max(float(np.ptp(ys)), 1e-6))


def main(argv=None) -> None:
    """Write the overlays and print the table (Markdown)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--opencv-doc",
        default="/tmp/ocvdoc",
        help="where opencv-doc's .deb was extracted",
    )
    p.add_argument(
        "--out",
        type=output_path,
        default=None,
        help="overlay folder (default: docs/images; required with "
        "--checkpoint, so the gallery's images stay the shipped model's)",
    )
    p.add_argument("--max-side", type=int_range(16, 4096), default=400)
    p.add_argument(
        "--checkpoint",
        default=None,
        help="a training run's checkpoint, or pretrained:NAME (default: "
        "the demo's model, pretrained:synthetic-mediapipe)",
    )
    args = p.parse_args(argv)
    if args.out is None:
        if args.checkpoint is not None:
            p.error(
                "--checkpoint needs --out (another folder than docs/images)"
            )
        args.out = "docs/images"
    with script_errors(extra="demo"):  # a bad checkpoint names itself
        _gallery(args)


def _gallery(args) -> None:
    """Overlays and table (in ``main``'s one-line error handling)."""
    from PIL import Image
    from skimage import data

    from bigraph_pyg.apps import default_model_name, predict, render_overlay
    from bigraph_pyg.body import default_body
    from bigraph_pyg.hub import load_model
    from bigraph_pyg.utils.images import load_image

    body = default_body()
    spec = args.checkpoint or f"pretrained:{default_model_name(True)}"
    model = load_model(spec, body)[0]
    photos = {"astronaut": (data.astronaut(), 0)}
    for name, (file, person) in PHOTOS.items():
        path = Path(args.opencv_doc) / _DATA / file
        if path.is_file():
            photos[name] = (load_image(path), person)
        else:
            print(f"missing {path}: skipped {name}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(
        "| photo | size | joints conf. > 0.5 | mesh joints (weak cam.) | "
        "SMPL joints (full persp.) | branches apart [m] | time [s] |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, (image, person) in photos.items():
        t = time.perf_counter()
        pred = predict(image, model, body, person=person)
        over = render_overlay(pred, image, args.max_side)
        dt = time.perf_counter() - t
        path = out / f"demo_{name}.png"
        Image.fromarray(over).save(path, optimize=True)
        smpl_joints = np.einsum(
            "jv,vc->jc",
            model.joint_regressor.double().numpy(),
            pred.vertices_smpl.astype(np.float64),
        )
        smpl_2d = pred.project(smpl_joints)
        h, w = pred.image_size
        print(
            f"| {name} | {w}x{h} | "
            f"{int((pred.keypoint_confidence > 0.5).sum())}/12 | "
            f"{_agreement(pred.joints_2d_mesh, pred):.3f} | "
            f"{_agreement(smpl_2d, pred):.3f} | "
            f"{pred.branch_distance:.2f} | {dt:.1f} |"
        )


if __name__ == "__main__":
    main()

r"""The demo on real photographs: gallery overlays and agreement figures.

Runs :func:`bigraph_pyg.apps.predict` as the demo does (MediaPipe Pose,
the shipped model ``pretrained("synthetic-mediapipe")``, the body model
fitted to the photo, the quality verdict) on scikit-image's astronaut and
on photos of Debian's ``opencv-doc`` package (stills and a frame of its
``vtest.avi``), writes small overlays of the default output (the fitted
body) to ``docs/images/demo_<name>.png`` and prints a Markdown table: per
photo, where the person was found (whole photo, zoomed tiles, the box's
crop), the verdict, the confident joints, the 2D agreement of the fitted
body and of the network's mesh (the verdict's figure: mean distance of
the 12 joints to the confident keypoints over the body's height in the
photo), the silhouette IoU of each against the detector's person mask
(:func:`~bigraph_pyg.apps.fitting.silhouette_iou`), the body's distance
from the camera (metres, the pinhole's), the fit's milliseconds, and the
seconds of detection and of :func:`~bigraph_pyg.apps.predict` (the
network, the fit, the verdict). A person under a third of the photo's
height is also shown zoomed in the overlay's bottom-left corner.

The opencv-doc photos are read from ``benchmarks/real_photos.py``'s
cache (``~/.cache/bigraph_pyg/real_photos/opencv-doc/x``, fetched by its
first run), or from any folder where the package was extracted::

    mkdir -p /tmp/ocvdoc && cd /tmp/ocvdoc && apt-get download opencv-doc \
        && dpkg -x opencv-doc*.deb x
    python scripts/demo_gallery.py --opencv-doc /tmp/ocvdoc/x

``--checkpoint CKPT`` scores a trained run's model instead (with ``--out``
elsewhere, to keep the gallery's images).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bigraph_pyg.cli import int_range, output_path, script_errors

_DATA = "usr/share/doc/opencv-doc/examples/data"


@dataclass(frozen=True)
class Shot:
    """One gallery photo: where it comes from and whom to take.

    Attributes:
        name (str): ``demo_<name>.png``.
        file (str): ``skimage:<name>`` or a file under opencv-doc's data
            folder, ``#<frame>`` for a frame of a video.
        person (int): Which detected person, best first.
        box (tuple or None): ``(x, y, w, h)``, the demo's ``--box``.
    """

    name: str
    file: str
    person: int = 0
    box: tuple[float, float, float, float] | None = None


SHOTS = (
    Shot("messi", "messi5.jpg"),
    Shot("basketball", "basketball1.png"),
    Shot("basketball_cut", "basketball2.png", box=(440, 60, 200, 420)),
    Shot("vtest", "vtest.avi#450"),
    Shot("astronaut", "skimage:astronaut"),
)


def _video_frame(path: Path, index: int) -> np.ndarray:
    """Frame ``index`` of a video, RGB (OpenCV, read sequentially)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        for _ in range(index + 1):
            ok, frame = cap.read()
            if not ok:
                raise ValueError(
                    f"Expected a frame {index} in {path} (got the end of "
                    "the video)"
                )
    finally:
        cap.release()
    return np.ascontiguousarray(frame[..., ::-1])


def load_shot(shot: Shot, opencv_doc: Path) -> np.ndarray | None:
    """The shot's photo, RGB uint8; :obj:`None` if its file is missing."""
    from bigraph_pyg.utils.images import load_image

    if shot.file.startswith("skimage:"):
        from skimage import data

        return np.asarray(getattr(data, shot.file.split(":", 1)[1])())
    file, _, frame = shot.file.partition("#")
    path = Path(opencv_doc) / _DATA / file
    if not path.is_file():
        print(f"missing {path}: skipped {shot.name}")
        return None
    if frame:
        return _video_frame(path, int(frame))
    return load_image(path)


def main(argv=None) -> None:
    """Write the overlays and print the table (Markdown)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--opencv-doc",
        type=Path,
        default=Path.home() / ".cache/bigraph_pyg/real_photos/opencv-doc/x",
        help="where opencv-doc's .deb was extracted (dpkg -x; default: "
        "benchmarks/real_photos.py's cache)",
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


def _label(over: np.ndarray, text: str) -> np.ndarray:
    """The verdict written in the overlay's top-left corner."""
    from PIL import Image, ImageDraw

    im = Image.fromarray(over)
    draw = ImageDraw.Draw(im)
    x0, y0, x1, y1 = draw.textbbox((4, 4), text)
    draw.rectangle((x0 - 3, y0 - 3, x1 + 3, y1 + 3), fill=(255, 255, 255))
    draw.text((4, 4), text, fill=(0, 0, 0))
    return np.asarray(im)


def _inset(over: np.ndarray, pred, image: np.ndarray) -> np.ndarray:
    """A small person zoomed in the overlay's bottom-left corner.

    When the person is under a third of the overlay's height, the photo
    is cut around the person's box, enlarged to half the overlay's
    height and the body rendered on it by the same camera, shifted and
    scaled with the cut (the vtest pedestrian is 50 px tall at
    ``--max-side 400``); a black frame marks the inset.
    """
    from PIL import Image

    from bigraph_pyg.apps import render_overlay

    h, w = image.shape[:2]
    oh = over.shape[0]
    x, y, bw, bh = (float(v) for v in pred.box)
    if bh * oh / h >= oh / 3:
        return over
    side = int(min(1.4 * max(bw, bh), h, w))
    corner = np.array(
        [
            np.clip(x + bw / 2 - side / 2, 0, w - side),
            np.clip(y + bh / 2 - side / 2, 0, h - side),
        ]
    ).astype(int)
    n = oh // 2
    s = n / side
    x0, y0 = corner
    cut = Image.fromarray(image[y0 : y0 + side, x0 : x0 + side])
    cut = np.asarray(cut.resize((n, n), Image.LANCZOS))
    zoom = dataclasses.replace(
        pred,
        image_size=(n, n),
        focal_length=pred.focal_length * s,
        camera_center=(np.asarray(pred.camera_center) - corner) * s,
        keypoints=(pred.keypoints - corner) * s,
    )
    out = over.copy()
    out[oh - n - 2 :, : n + 2] = 0
    out[oh - n :, :n] = render_overlay(zoom, cut, n)[:, :n]
    return out


def measure(pred, mask) -> dict:
    """The gallery's figures of one :class:`~bigraph_pyg.apps.Prediction`.

    Args:
        pred (Prediction): With its verdict (``pred.quality``).
        mask (np.ndarray or None): :math:`(H, W)` the person's mask.

    Returns:
        dict: ``fit_2d``, ``mesh_2d`` (over the body's height), ``fit_iou``,
        ``mesh_iou`` (NaN without a mask), ``distance`` (metres, the
        fitted body's centroid along the optical axis), ``fit_ms``.
    """
    from bigraph_pyg.apps.fitting import silhouette_iou

    q = pred.quality
    row = {"fit_2d": q.reprojection_error, "mesh_2d": q.network_error}
    for key, verts, branch in (
        ("fit_iou", pred.vertices_smpl, "smpl"),
        ("mesh_iou", pred.vertices_mesh, "mesh"),
    ):
        row[key] = float("nan")
        if mask is not None:
            pts = pred.project(verts, branch)
            row[key] = silhouette_iou(pts, pred.faces, mask, pred.box)
    row["distance"] = float(pred.vertices_camera().mean(0)[2])
    row["fit_ms"] = pred.fit.milliseconds if pred.fit else float("nan")
    return row


def _found(search, shot: Shot, image_size) -> str:
    """Where the person was searched for last (the search's last stage)."""
    if search.tiled:
        return "zoomed tiles"
    if shot.box is None:
        return "whole photo"
    h, w = image_size
    whole = search.region is not None and tuple(search.region[2:]) == (w, h)
    return "whole photo, in the box" if whole else "the box's crop"


def _gallery(args) -> None:
    """Overlays and table (in ``main``'s one-line error handling)."""
    from PIL import Image

    from bigraph_pyg.apps import default_model_name, predict, render_overlay
    from bigraph_pyg.apps.detection import find_people, select_person
    from bigraph_pyg.body import default_body
    from bigraph_pyg.hub import load_model

    body = default_body()
    spec = args.checkpoint or f"pretrained:{default_model_name(True)}"
    model = load_model(spec, body)[0]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(
        "| photo | found in | verdict | joints | 2D fitted / network | "
        "silhouette fitted / network | distance | fit | time: detection + "
        "predict |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    notes = []
    for shot in SHOTS:
        image = load_shot(shot, Path(args.opencv_doc))
        if image is None:
            continue
        t0 = time.perf_counter()
        search = find_people(image, shot.box)
        person = select_person(search.people, shot.person, shot.name)
        t1 = time.perf_counter()
        pred = predict(
            image, model, body, keypoints=person, box=shot.box, source=shot.name
        )
        t2 = time.perf_counter()
        q = pred.quality
        over = _inset(render_overlay(pred, image, args.max_side), pred, image)
        over = _label(over, f"{q.verdict} ({len(q.seen)}/12 joints)")
        Image.fromarray(over).save(out / f"demo_{shot.name}.png", optimize=True)
        m = measure(pred, person.mask)
        h, w = pred.image_size
        found = _found(search, shot, (h, w))
        print(
            f"| {shot.name} ({w}x{h}) | {found} | {q.verdict}"
            f" | {len(q.seen)}/12 | {m['fit_2d']:.3f} / {m['mesh_2d']:.3f} "
            f"| {m['fit_iou']:.2f} / {m['mesh_iou']:.2f} "
            f"| {m['distance']:.1f} m | {m['fit_ms']:.0f} ms "
            f"| {t1 - t0:.2f} + {t2 - t1:.2f} s |"
        )
        if q.reasons:
            notes.append(f"{shot.name}: {'; '.join(q.reasons)}")
    for note in notes:
        print(f"\n{note}")


if __name__ == "__main__":
    main()

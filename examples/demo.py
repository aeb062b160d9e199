"""From a photo to a 3D body: meshes, smplx parameters, keypoints, overlay.

Examples::

    python examples/demo.py photo.jpg             # detects the person
    python examples/demo.py photos/               # a folder: batch mode
    python examples/demo.py photo.jpg --person 1  # the next person
    python examples/demo.py photo.jpg --box 40 20 200 500  # that person
    python examples/demo.py photo.jpg --all-people  # photo_p0_*, photo_p1_*
    python examples/demo.py photo.jpg --keypoints kp.json  # COCO/OpenPose
    python examples/demo.py photo.jpg --checkpoint CKPT   # a trained run

Uses MediaPipe Pose for the 2D joints and the shipped model trained on
its joints (``bigraph_pyg.pretrained("synthetic-mediapipe")``; with
``--keypoints``, ``pretrained("synthetic")``; ``pip install
'bigraph_pyg[demo]'``),
offline, on the CPU. Writes into ``--out`` (default ``runs/demo``), per
photo ``<stem>``: ``_smpl.obj``/``.ply`` (the body: the body model fitted
to the photo's landmarks, the priors and the network's 3D joints; the SMPL
branch with ``--no-fit``) and ``_mesh.obj``/``.ply`` (the network's mesh
branch), y-up (x right, y up, z towards the camera, metres, without the
camera translation); ``_params.json``/``.npz`` (smplx layout:
``global_orient``, ``body_pose``, ``betas``, ``transl`` in metres in the
camera's OpenCV frame, a pinhole of ``focal_length`` pixels, by default the
photo's diagonal, and principal point ``camera_center``; the y-up mesh goes
at ``mesh_translation_y_up`` in a y-up camera frame; the body model's name,
the fit's record); ``_keypoints.json``; and ``_overlay.png`` (the body
over the whole photo, the keypoints, a side view). An earlier run's
files in ``--out`` are not replaced without ``--overwrite``; all photos'
files are checked before the first photo runs. See
:mod:`bigraph_pyg.apps`.

Each person gets a quality verdict (:mod:`bigraph_pyg.apps.quality`):
``full body``, ``upper body`` (the legs not seen: scaled from the torso,
the legs listed as unseen in ``_params.json``'s ``quality`` block) or
``refused`` (too little of the body seen, too small, or a body that does
not fit the detected joints). A refused person is not written: the demo
says why in one line and exits with status 1; ``--force`` writes it all the
same, marked ``"low_confidence": true`` in the ``quality`` block, with a
warning. The person chosen is the most complete and nearest (see
``--person``); ``--box`` chooses only a person inside the box; a detection
that merges two people is refused, never written.
"""

from __future__ import annotations

import argparse
import glob
import sys
import time
from pathlib import Path

from bigraph_pyg.cli import (
    device,
    non_negative_int,
    output_path,
    positive_float,
    positive_int,
    script_errors,
)


def _out_folder(text: str) -> str:
    """Argparse ``type``: a folder that is not, nor lies below, a file."""
    output_path(text)
    if Path(text).exists() and not Path(text).is_dir():
        raise argparse.ArgumentTypeError(
            f"Expected a folder (got {text!r}, a regular file)"
        )
    return text


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("image", help="a photo, or a folder of photos")
    p.add_argument(
        "--checkpoint",
        help="a training checkpoint (default: the shipped model for the "
        "2D joints: pretrained('synthetic-mediapipe') on MediaPipe's, "
        "pretrained('synthetic') on --keypoints)",
    )
    p.add_argument(
        "--keypoints",
        help="COCO or OpenPose keypoint JSON "
        "(instead of the detector; one photo only)",
    )
    p.add_argument(
        "--person",
        type=non_negative_int,
        default=None,
        help="which detected person, the most complete and nearest "
        "first: mean joint visibility times box height (default: the "
        "first of the best three that is not refused)",
    )
    p.add_argument(
        "--all-people",
        action="store_true",
        help="write every detected person, as <stem>_p0, <stem>_p1, ...",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="write a person the quality verdict refuses, marked "
        "low-confidence in the params JSON",
    )
    p.add_argument(
        "--box",
        type=float,
        nargs=4,
        metavar=("X", "Y", "W", "H"),
        help="person box in photo pixels: only a person inside it is "
        "chosen (searched in a zoomed crop around it first), and the "
        "model's crop is cut around it (default: from the keypoints)",
    )
    p.add_argument(
        "--focal-length",
        type=positive_float,
        help="photo pixels (default: the photo's diagonal, a 53-degree "
        "field of view)",
    )
    p.add_argument(
        "--no-fit",
        action="store_true",
        help="write the network's SMPL branch as the body, not the body "
        "model fitted to the photo (bigraph_pyg.apps.fitting)",
    )
    p.add_argument("--out", type=_out_folder, default="runs/demo")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the files of an earlier run in --out",
    )
    p.add_argument(
        "--mesh-format", choices=("obj", "ply", "both"), default="both"
    )
    p.add_argument(
        "--max-side",
        type=positive_int,
        default=1024,
        help="longer side of the overlay's photo, pixels",
    )
    p.add_argument("--device", type=device, default="cpu")
    args = p.parse_args(argv)
    if args.keypoints and args.person:
        p.error(
            "argument --person: Expected 0 with --keypoints (the file gives "
            f"one person; --person chooses among detected ones) (got "
            f"{args.person})"
        )
    if args.all_people and (args.person or args.keypoints):
        p.error(
            "argument --all-people: Expected neither --person nor "
            "--keypoints with it (it writes every detected person) (got "
            + ("--keypoints" if args.keypoints else f"--person {args.person}")
            + ")"
        )
    return args


def _photos(path: Path) -> list[Path]:
    from bigraph_pyg.utils.images import IMAGE_SUFFIXES

    if not path.is_dir():
        return [path]
    photos = sorted(
        p
        for p in path.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
    )
    if not photos:
        raise FileNotFoundError(
            f"Expected photos ({', '.join(IMAGE_SUFFIXES)}"
            f") in the folder {path} (got none)"
        )
    return photos


def _plan(args, formats) -> dict[Path, str]:
    """Every photo's output stem, once no file of any would be replaced.

    With ``--all-people`` the number of people is known only after the
    detector ran: any earlier ``<stem>_p<i>_*`` file is refused here.
    """
    from bigraph_pyg.apps import check_new_files, output_stems
    from bigraph_pyg.apps import prediction_paths as files

    photos = _photos(Path(args.image))
    if (args.keypoints or args.box) and Path(args.image).is_dir():
        raise ValueError(
            "Expected one photo with --keypoints or --box "
            f"(got the folder {args.image})"
        )
    stems = output_stems(photos)
    planned = [files(args.out, s, formats).values() for s in stems.values()]
    if args.all_people and Path(args.out).is_dir():
        planned += [
            sorted(Path(args.out).glob(f"{glob.escape(s)}_p[0-9]*_*"))
            for s in stems.values()
        ]
    check_new_files([p for paths in planned for p in paths], args.overwrite)
    return stems


def _model(args):
    """A checkpoint's model and body, or ``(None, None)``: predict()'s own.

    predict() keeps the shipped model for the 2D joints and the default
    body once per process (``bigraph_pyg.apps.load_default_model``), so the
    photos of a folder share them.
    """
    if not args.checkpoint:
        return None, None
    from bigraph_pyg.body import default_body
    from bigraph_pyg.engine import model_from_checkpoint

    body = default_body()
    model, _ = model_from_checkpoint(
        args.checkpoint, body, map_location=args.device
    )
    return model, body


def _verdict_line(name: str, pred) -> str:
    """One line: the verdict, the fit, and what was not seen."""
    q = pred.quality
    line = (
        f"{name}: {q.verdict}, {len(q.seen)} of 12 joints seen, mesh joints "
        f"{q.reprojection_error:.3f} of the body height from them"
    )
    if q.verdict == "upper body":
        line += (
            "; not seen (the model's guess, flagged in the params JSON): "
            + ", ".join(n.replace("_", " ") for n in q.unseen)
        )
    return line


def _people(args, image, photo: Path) -> list:
    """The people to write: ``[(suffix, keypoints or None, index)]``."""
    if not args.all_people:
        return [("", None, args.person)]
    from bigraph_pyg.apps import find_people, select_person

    found = find_people(image, args.box)
    select_person(found.people, 0, str(photo), found.rejected)  # or raise
    for person, reason in found.rejected:
        x, y, w, h = person.box
        print(
            f"warning: {photo}: a detection at ({x:.0f}, {y:.0f}, {w:.0f}, "
            f"{h:.0f}) refused and not written: {reason}",
            file=sys.stderr,
        )
    return [(f"_p{i}", p, 0) for i, p in enumerate(found.people)]


def main(argv=None) -> int:
    args = parse_args(argv)
    from bigraph_pyg.apps import (
        load_default_model,
        predict,
        read_keypoints,
        save_prediction,
    )
    from bigraph_pyg.utils.images import load_image

    formats = (
        ("obj", "ply") if args.mesh_format == "both" else (args.mesh_format,)
    )
    with script_errors():  # bad paths, files, checkpoints, numbers
        stems = _plan(args, formats)
        model, body = _model(args)
        if model is None and args.all_people:  # people as keypoints
            model, body = load_default_model(detected=True)
        kp = read_keypoints(args.keypoints) if args.keypoints else None

    def run(photo: Path) -> list[str]:
        """Write the photo's people; the lines to print; raise if none."""
        image = load_image(photo)
        lines, refused = [], []
        for suffix, person, index in _people(args, image, photo):
            pred = predict(
                image,
                model,
                body,
                keypoints=kp if person is None else person,
                person=index,
                box=args.box,
                focal_length=args.focal_length,
                device=args.device,
                source=str(photo),
                fit=not args.no_fit,
            )
            name = f"{photo}{suffix and ' person ' + suffix[2:]}"
            if not pred.quality.confident:
                why = "; ".join(pred.quality.reasons)
                if not args.force:
                    refused.append(f"{name}: refused: {why}")
                    continue
                print(
                    f"warning: {name}: written with --force, marked "
                    f"low-confidence in the params JSON: {why}",
                    file=sys.stderr,
                )
            paths = save_prediction(
                pred,
                image,
                args.out,
                stems[photo] + suffix,
                formats,
                max_side=args.max_side,
                overwrite=args.overwrite,
            )
            lines += [f"{kind}: {path}" for kind, path in paths.items()]
            lines.append(_verdict_line(name, pred))
        if refused and not lines:
            raise ValueError(
                "; ".join(refused) + " (--force writes it marked "
                "low-confidence)"
            )
        return lines + [f"skipped {line}" for line in refused]

    if not Path(args.image).is_dir():
        t = time.perf_counter()
        with script_errors(IndexError):
            lines = run(next(iter(stems)))
        for line in lines:
            print(line, file=sys.stderr if line[:8] == "skipped " else None)
        print(f"{time.perf_counter() - t:.1f} s")
        return 0

    from tqdm import tqdm

    failed, notes = [], []
    for photo in tqdm(stems, desc="photos", unit="photo"):
        try:
            lines = run(photo)
        except (ValueError, IndexError) as err:  # this photo only
            failed.append(f"{photo.name}: {err}")
            continue
        except (ImportError, OSError) as err:  # a missing extra, a full disk
            raise SystemExit(f"error: {err}") from None
        notes += [line for line in lines if line.startswith("skipped ")]
    for line in failed:
        print(f"skipped {line}", file=sys.stderr)
    for line in notes:  # refused people of photos that gave others
        print(line, file=sys.stderr)
    print(
        f"{len(stems) - len(failed)} of {len(stems)} photos written to "
        f"{args.out}"
    )
    if len(failed) == len(stems):
        raise SystemExit("error: no photo gave a result")
    return 0


if __name__ == "__main__":
    main()

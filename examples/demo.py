"""From a photo to a 3D body: meshes, smplx parameters, keypoints, overlay.

Examples::

    python examples/demo.py photo.jpg             # detects the person
    python examples/demo.py photos/               # a folder: batch mode
    python examples/demo.py photo.jpg --person 1  # the second largest
    python examples/demo.py photo.jpg --keypoints kp.json  # COCO/OpenPose
    python examples/demo.py photo.jpg --checkpoint CKPT   # a trained run

Uses MediaPipe Pose for the 2D joints and the shipped model trained on
its joints (``bigraph_pyg.pretrained("synthetic-mediapipe")``; with
``--keypoints``, ``pretrained("synthetic")``; ``pip install
'bigraph_pyg[demo]'``),
offline, on the CPU. Writes into ``--out`` (default ``runs/demo``), per
photo ``<stem>``: ``_mesh.obj``/``.ply`` (the mesh branch) and
``_smpl.obj``/``.ply`` (the SMPL branch), y-up (x right, y up, z towards
the camera, metres); ``_params.json``/``.npz`` (smplx layout:
``global_orient``, ``body_pose``, ``betas``, ``transl`` = SPIN's ``cam_t``,
the body model's name, the focal length); ``_keypoints.json``; and
``_overlay.png`` (the mesh over the whole photo, the keypoints, a side
view). An earlier run's files in ``--out`` are not replaced without
``--overwrite``; all photos' files are checked before the first photo
runs. See :mod:`bigraph_pyg.apps`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bigraph_pyg.engine.cli_types import (
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
        default=0,
        help="which detected person, largest first (default 0)",
    )
    p.add_argument(
        "--box",
        type=float,
        nargs=4,
        metavar=("X", "Y", "W", "H"),
        help="person box in photo pixels (default: from the keypoints)",
    )
    p.add_argument(
        "--focal-length",
        type=positive_float,
        help="photo pixels (default: SPIN's 5000/224 of the crop)",
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
    """Every photo's output stem, once no file of any would be replaced."""
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
    check_new_files([p for paths in planned for p in paths], args.overwrite)
    return stems


def _model(args):
    """The checkpoint's model, or the shipped one for the 2D joints."""
    from bigraph_pyg.body import default_body
    from bigraph_pyg.engine import model_from_checkpoint

    body = default_body()
    if args.checkpoint:
        model, _ = model_from_checkpoint(
            args.checkpoint, body, map_location=args.device
        )
    else:
        from bigraph_pyg import pretrained
        from bigraph_pyg.apps.inference import default_model_name

        model = pretrained(default_model_name(not args.keypoints), body)
    return model, body


def main(argv=None) -> int:
    args = parse_args(argv)
    from bigraph_pyg.apps import predict, read_keypoints, save_prediction
    from bigraph_pyg.utils.images import load_image

    formats = (
        ("obj", "ply") if args.mesh_format == "both" else (args.mesh_format,)
    )
    with script_errors():  # bad paths, files, checkpoints, numbers
        stems = _plan(args, formats)
        model, body = _model(args)
        kp = read_keypoints(args.keypoints) if args.keypoints else None

    def run(photo: Path):
        image = load_image(photo)
        pred = predict(
            image,
            model,
            body,
            keypoints=kp,
            person=args.person,
            box=args.box,
            focal_length=args.focal_length,
            device=args.device,
            source=str(photo),
        )
        return pred, save_prediction(
            pred,
            image,
            args.out,
            stems[photo],
            formats,
            max_side=args.max_side,
            overwrite=args.overwrite,
        )

    if not Path(args.image).is_dir():
        t = time.perf_counter()
        with script_errors(IndexError):
            pred, paths = run(next(iter(stems)))
        for kind, path in paths.items():
            print(f"{kind}: {path}")
        print(
            f"reprojection error: {pred.reprojection_error:.3f} of the "
            f"box height; mesh/SMPL branches {pred.branch_distance:.3f} m "
            f"apart (mean); {time.perf_counter() - t:.1f} s"
        )
        return 0

    from tqdm import tqdm

    failed = []
    for photo in tqdm(stems, desc="photos", unit="photo"):
        try:
            run(photo)
        except (ValueError, IndexError) as err:  # this photo only
            failed.append(f"{photo.name}: {err}")
        except (ImportError, OSError) as err:  # a missing extra, a full disk
            raise SystemExit(f"error: {err}") from None
    for line in failed:
        print(f"skipped {line}", file=sys.stderr)
    print(
        f"{len(stems) - len(failed)} of {len(stems)} photos written to "
        f"{args.out}"
    )
    if len(failed) == len(stems):
        raise SystemExit("error: no photo gave a result")
    return 0


if __name__ == "__main__":
    main()

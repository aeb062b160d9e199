"""Reconstruct the body in one image: mesh, SMPL parameters, overlay PNG.

Examples::

    python examples/demo.py photo.jpg --keypoints photo_keypoints.json
    # the shipped pretrained model (bigraph_pyg.pretrained("synthetic"))
    python examples/demo.py photo.jpg --checkpoint CKPT \\
        --keypoints photo_keypoints.json          # COCO or OpenPose JSON
    python examples/demo.py photo.jpg --checkpoint CKPT --box 120 40 200 420
    python examples/demo.py photo.jpg --checkpoint CKPT  # MediaPipe
    # detects the keypoints (pip install mediapipe==0.10.21)

CKPT is e.g. ``runs/train_bigraph/checkpoints/best.pt``.

Writes ``OUT/<stem>.obj`` (or ``.ply``), ``OUT/<stem>_smpl.json`` (or
``.npz``) and ``OUT/<stem>_overlay.png`` (mesh over the crop | side view).
Runs on the CPU, headless.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("image")
    p.add_argument("--checkpoint", help="a training checkpoint (default: "
                   "the shipped model, bigraph_pyg.pretrained('synthetic'))")
    p.add_argument("--keypoints", help="COCO or OpenPose keypoint JSON")
    p.add_argument("--box", type=float, nargs=4, metavar=("X", "Y", "W", "H"),
                   help="person box in image pixels")
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--mesh-format", choices=("obj", "ply"), default="obj")
    p.add_argument("--params-format", choices=("json", "npz"),
                   default="json")
    p.add_argument("--device", default="cpu")
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    from bigraph_pyg.body import default_body
    from bigraph_pyg.engine import CheckpointError, model_from_checkpoint
    from bigraph_pyg.engine.demo import (
        detect_keypoints,
        load_image,
        read_keypoints,
        reconstruct,
        save_outputs,
    )

    try:
        image = load_image(args.image)
        body = default_body()
        if args.checkpoint:
            model, _ = model_from_checkpoint(args.checkpoint, body,
                                             map_location=args.device)
        else:
            from bigraph_pyg import pretrained

            model = pretrained("synthetic", body).to(args.device)
        keypoints = visible = None
        if args.keypoints:
            keypoints, visible = read_keypoints(args.keypoints)
        elif model.config.use_skeleton:
            keypoints, visible = detect_keypoints(image)
        result = reconstruct(model, image, keypoints, visible, args.box,
                             args.device, faces=body.faces)
        paths = save_outputs(result, args.out, Path(args.image).stem,
                             args.mesh_format, args.params_format)
    except (CheckpointError, FileNotFoundError, ValueError,
            ImportError) as err:
        raise SystemExit(f"error: {err}") from None
    for kind, path in paths.items():
        print(f"{kind}: {path}")


if __name__ == "__main__":
    main()

"""Contact sheet of synthetic samples with their 2D joints drawn.

    python scripts/synthetic_contact_sheet.py \
        --out docs/images/synthetic_contact_sheet.png

Renders samples ``0 .. n-1`` of the train stream (seed 0) in this process,
draws the 12 skeleton joints and bones (right side red, left side blue,
torso white) and the estimated joints (yellow crosses; misses omitted), and
writes a 4-column grid of 224² tiles.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from bigraph_pyg.cli import (
    int_range,
    output_file,
    script_errors,
    seed,
)
from bigraph_pyg.data import render_samples
from bigraph_pyg.topology import BONES, JOINT_NAMES


def _colour(a: str, b: str) -> tuple[int, int, int]:
    if a.startswith("right_") and b.startswith("right_"):
        return (255, 60, 60)
    if a.startswith("left_") and b.startswith("left_"):
        return (70, 140, 255)
    return (255, 255, 255)


def draw(
    img: np.ndarray,
    joints: np.ndarray,
    est: np.ndarray,
    est_vis: np.ndarray,
    scale: int = 1,
) -> Image.Image:
    """One tile: the crop with its joints, bones and estimated joints."""
    im = Image.fromarray(img).resize(
        (img.shape[1] * scale, img.shape[0] * scale), Image.BICUBIC
    )
    d = ImageDraw.Draw(im)
    j = joints * scale + (scale - 1) / 2
    for a, b in BONES:
        ia, ib = JOINT_NAMES.index(a), JOINT_NAMES.index(b)
        d.line([tuple(j[ia]), tuple(j[ib])], fill=_colour(a, b), width=2)
    for name, (x, y) in zip(JOINT_NAMES, j, strict=True):
        c = _colour(name, name)
        d.ellipse([x - 3, y - 3, x + 3, y + 3], fill=c, outline=(0, 0, 0))
    e = est * scale + (scale - 1) / 2
    for (x, y), v in zip(e, est_vis, strict=True):
        if v > 0:
            d.line([x - 3, y - 3, x + 3, y + 3], fill=(255, 230, 0), width=1)
            d.line([x - 3, y + 3, x + 3, y - 3], fill=(255, 230, 0), width=1)
    return im


def main(argv=None) -> None:
    """Render, draw and save the sheet."""
    parser = argparse.ArgumentParser(description=__doc__)
    # Bounded: the sheet is one image of num 224-pixel tiles.
    parser.add_argument("--num", type=int_range(1, 1024), default=16)
    parser.add_argument("--cols", type=int_range(1, 64), default=4)
    parser.add_argument("--seed", type=seed, default=0)
    parser.add_argument(
        "--out",
        type=output_file,
        default="docs/images/synthetic_contact_sheet.png",
    )
    args = parser.parse_args(argv)
    args.out = Path(args.out)
    with script_errors(extra="data"):  # a damaged body file names itself
        data = render_samples(range(args.num), seed=args.seed)
    a = data["arrays"]
    tiles = [
        draw(
            img,
            a["joints_2d"][i],
            a["joints_2d_est"][i],
            a["joints_2d_est_visible"][i],
        )
        for i, img in enumerate(data["images"])
    ]
    w, h = tiles[0].size
    rows = -(-len(tiles) // args.cols)
    sheet = Image.new("RGB", (w * args.cols, h * rows))
    for i, t in enumerate(tiles):
        sheet.paste(t, ((i % args.cols) * w, (i // args.cols) * h))
    # 256-colour palette: a quarter of the size, no visible loss here.
    with script_errors():
        args.out.parent.mkdir(parents=True, exist_ok=True)
        sheet.quantize(256, dither=Image.Dither.NONE).save(
            args.out, optimize=True
        )


if __name__ == "__main__":
    main()

r"""Reading photographs for inference: orientation, bit depth, size limits.

:func:`load_image` returns what a camera meant, as 8-bit RGB:

* the EXIF orientation tag is applied (a phone's portrait photo is stored
  sideways with a tag saying so; :func:`PIL.ImageOps.exif_transpose`);
* 16-bit images (``I;16`` grey PNGs, 32-bit ``I`` and float ``F`` modes)
  are rescaled to 8 bits, not clipped (Pillow's ``convert('RGB')`` on a
  16-bit grey PNG saturates every value above 255 to white);
* float images with a NaN or infinite pixel are refused (one ``inf``
  would scale every other pixel to black);
* transparent pixels are composited over white;
* images larger than ``max_pixels`` are refused before they are decoded
  (a decompression bomb is a tiny file that expands to gigabytes);
* every failure names the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["DEFAULT_MAX_PIXELS", "IMAGE_SUFFIXES", "image_to_rgb", "load_image"]

#: Largest image :func:`load_image` decodes by default (100 megapixels).
DEFAULT_MAX_PIXELS: int = 100_000_000

#: File suffixes treated as images when a folder is listed.
IMAGE_SUFFIXES: tuple[str, ...] = (
    ".jpg",
    ".jpeg",
    ".png",
    ".bmp",
    ".tif",
    ".tiff",
    ".webp",
)


def _high_depth_to_uint8(arr: np.ndarray, mode: str, source: str) -> np.ndarray:
    """Grey values of a 16/32-bit or float image rescaled to ``uint8``.

    A float image with a NaN or infinite pixel is refused: its range
    (``[0, 1]`` or ``[0, 255]``) cannot be told, and one ``inf`` would
    scale every other pixel to black.
    """
    a = arr.astype(np.float64)
    bad = ~np.isfinite(a)
    if bad.any():
        raise ValueError(
            f"Expected finite pixel values in {source} (got {int(bad.sum())} "
            f"NaN or infinite of {a.size} in a {mode}-mode image)"
        )
    if mode == "F":
        top = 1.0 if a.size and a.max() <= 1.0 else 255.0
    elif mode.startswith("I;16") or (a.size and a.max() > 255):
        top = 65535.0  # 16-bit samples (Pillow opens some 16-bit PNGs as I)
    else:
        top = 255.0
    return np.clip(np.rint(a * (255.0 / top)), 0, 255).astype(np.uint8)


def image_to_rgb(im, source: str = "the image") -> np.ndarray:
    """A Pillow image as :math:`(H, W, 3)` uint8 RGB, whatever its mode.

    Args:
        im (PIL.Image.Image): An opened image (orientation already applied).
        source (str): What the image is (e.g. its path), for the message.

    Returns:
        np.ndarray: :math:`(H, W, 3)` uint8.

    Raises:
        ValueError: a float image with a NaN or infinite pixel.
    """
    from PIL import Image

    mode = im.mode
    if mode in ("I", "F") or mode.startswith("I;16"):
        grey = _high_depth_to_uint8(np.asarray(im), mode, source)
        return np.repeat(grey[..., None], 3, axis=-1)
    if mode in ("RGBA", "LA", "PA") or (
        mode == "P" and "transparency" in im.info
    ):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    return np.asarray(im.convert("RGB"))


def load_image(
    path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """Read a photograph as 8-bit RGB, upright, with a size limit.

    Args:
        path (str or PathLike): Any format Pillow reads (JPEG, PNG, ...).
        max_pixels (int, optional): Refuse images with more pixels than
            this before decoding them; :obj:`None` for no limit.
            (default: :data:`DEFAULT_MAX_PIXELS`)

    Returns:
        np.ndarray: :math:`(H, W, 3)` uint8, EXIF orientation applied.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a readable image (the message names the file), an
            image larger than ``max_pixels``, or a float image with a NaN
            or infinite pixel.

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> f = Path(tempfile.mkdtemp()) / "grey16.png"
        >>> Image.fromarray(np.full((2, 3), 65535, np.uint16)).save(f)
        >>> load_image(f)[0, 0].tolist()
        [255, 255, 255]
    """
    import warnings

    try:
        from PIL import Image, ImageOps, UnidentifiedImageError
    except ImportError as err:
        raise ImportError(
            f"Expected Pillow to read images (got {err}); "
            "pip install 'bigraph_pyg[demo]'"
        ) from err

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"Expected an image file at {path} (got "
            + ("a folder" if path.is_dir() else "no such file")
            + ")"
        )
    try:
        with warnings.catch_warnings():
            # Our own limit below replaces Pillow's bomb warning.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
                if max_pixels is not None and w * h > max_pixels:
                    raise ValueError(
                        f"Expected an image of at most {max_pixels} pixels "
                        f"at {path} (got {w}x{h} = {w * h} pixels; a "
                        "decompression bomb or a very large photo: resize "
                        "it, or raise max_pixels)"
                    )
                im.load()
                return image_to_rgb(ImageOps.exif_transpose(im), str(path))
    except Image.DecompressionBombError as err:
        raise ValueError(
            f"Expected an image Pillow agrees to decode at {path} (got {err})"
        ) from err
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise ValueError(
            f"Expected an image file (JPEG, PNG, ...) at {path} "
            f"(got {type(err).__name__}: {err})"
        ) from err

"""load_image: EXIF orientation, 16-bit PNGs, size limit, clear errors."""

import numpy as np
import pytest
from PIL import Image

from bigraph_pyg.utils.images import load_image


def test_exif_orientation_is_applied(tmp_path):
    # A 20x10 (w x h) picture, left half red, tagged "rotate 90 CW to view"
    # (orientation 6), as a phone writes a portrait photo.
    arr = np.zeros((10, 20, 3), np.uint8)
    arr[:, :10] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "portrait.jpg"
    Image.fromarray(arr).save(path, exif=exif, quality=95)
    img = load_image(path)
    assert img.shape == (20, 10, 3)  # upright: taller than wide
    assert img[2, 5, 0] > 200 and img[-3, 5, 0] < 60  # red now on top


def test_16_bit_png_is_rescaled_not_saturated(tmp_path):
    ramp = np.linspace(0, 65535, 64).astype(np.uint16).reshape(4, 16)
    path = tmp_path / "grey16.png"
    Image.fromarray(ramp).save(path)
    assert Image.open(path).mode.startswith("I")
    img = load_image(path)
    assert img.shape == (4, 16, 3) and img.dtype == np.uint8
    np.testing.assert_array_equal(img[..., 0], img[..., 2])
    expected = np.rint(ramp / 257.0).astype(np.uint8)
    np.testing.assert_array_equal(img[..., 0], expected)
    assert (img < 255).mean() > 0.9  # a ramp, not saturated white


def test_transparency_over_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)  # fully transparent black
    path = tmp_path / "clear.png"
    Image.fromarray(rgba).save(path)
    assert (load_image(path) == 255).all()


def test_size_limit_refuses_before_decoding(tmp_path):
    path = tmp_path / "big.png"
    Image.new("RGB", (300, 200)).save(path)
    with pytest.raises(ValueError, match=r"at most 50000 pixels.*big\.png"):
        load_image(path, max_pixels=50_000)
    assert load_image(path, max_pixels=None).shape == (200, 300, 3)


def test_unreadable_files_are_named(tmp_path):
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match=r"Expected an image file .*junk\.jpg"):
        load_image(junk)
    truncated = tmp_path / "cut.png"
    Image.new("RGB", (64, 64), (1, 2, 3)).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:60])
    with pytest.raises(ValueError, match=r"cut\.png"):
        load_image(truncated)
    with pytest.raises(FileNotFoundError, match=r"no such file"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(FileNotFoundError, match=r"a folder"):
        load_image(tmp_path)


def test_float_tiff_with_a_non_finite_pixel_is_refused(tmp_path):
    """One inf pixel used to scale every other pixel to black (the range
    of a float image is read from its maximum); NaN or inf is refused,
    naming the file."""
    grey = np.linspace(0.0, 1.0, 12, dtype=np.float32).reshape(3, 4)
    path = tmp_path / "ramp.tif"
    Image.fromarray(grey, mode="F").save(path)
    img = load_image(path)  # finite: [0, 1] scaled to [0, 255]
    np.testing.assert_array_equal(img[..., 1], np.rint(grey * 255))
    for bad in (np.inf, -np.inf, np.nan):
        grey[1, 2] = bad
        path = tmp_path / f"bad_{bad}.tif"
        Image.fromarray(grey, mode="F").save(path)
        with pytest.raises(
            ValueError, match=r"finite pixel values in .*bad_.*\.tif \(got 1 "
        ):
            load_image(path)

"""EXIF orientation read and applied inside the graph, as Pillow (the Python loader) does."""

from __future__ import annotations

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageOps

from tf_stylefusion.deploy.exif import apply_orientation, exif_orientation


def jpeg_with_orientation(orientation: int | None, byte_order: str = "<") -> bytes:
    rng = np.random.default_rng(0)
    pixels = np.zeros((24, 40, 3), np.uint8)
    pixels[:8, :10] = 255  # a bright corner shows where the top-left went
    pixels += rng.integers(0, 20, pixels.shape, dtype=np.uint8)
    im = Image.fromarray(pixels)
    buf = io.BytesIO()
    if orientation is None:
        im.save(buf, "JPEG", quality=95)
    else:
        exif = Image.Exif()
        exif[0x010F] = "camera maker"  # another tag first, so the orientation is not entry 0
        exif[0x0112] = orientation
        exif.endian = byte_order
        im.save(buf, "JPEG", quality=95, exif=exif.tobytes())
    return buf.getvalue()


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("byte_order", ["<", ">"])
def test_every_orientation_matches_pillow(orientation: int, byte_order: str) -> None:
    data = jpeg_with_orientation(orientation, byte_order)
    assert int(exif_orientation(tf.constant(data))) == orientation
    decoded = tf.io.decode_image(data, channels=3, expand_animations=False)
    upright = apply_orientation(decoded, exif_orientation(tf.constant(data))).numpy()
    with Image.open(io.BytesIO(data)) as im:
        expected = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    assert upright.shape == expected.shape
    # Decoders differ by a level or two; the layout is what matters.
    assert np.abs(upright.astype(int) - expected.astype(int)).mean() < 3


def test_files_without_a_tag_stay_as_they_are() -> None:
    png = io.BytesIO()
    Image.new("RGB", (8, 8)).save(png, "PNG")
    for data in (jpeg_with_orientation(None), png.getvalue(), b"", b"\xff\xd8Exif\x00\x00II"):
        assert int(exif_orientation(tf.constant(data))) == 1

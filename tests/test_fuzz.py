"""Property-based fuzzing of the two parsers users feed directly: image bytes and style weights.
Whatever the input, the answer is a valid result or the package's own error, never a crash."""

from __future__ import annotations

import io

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from tf_stylefusion.data.images import decode_image_bytes
from tf_stylefusion.errors import ImageError, StyleWeightsError
from tf_stylefusion.inference.fusion import normalize_weights, parse_style_spec

from .conftest import texture

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _valid(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(texture("photo", 40)).save(buf, format=fmt)
    return buf.getvalue()


SEEDS = {fmt: _valid(fmt) for fmt in ("PNG", "JPEG", "WEBP", "BMP", "GIF")}


def check_decoded_or_image_error(data: bytes) -> None:
    try:
        img = decode_image_bytes(data, "fuzz.bin", max_side=64, max_pixels=4_000_000)
    except ImageError as e:
        assert e.path == "fuzz.bin" and e.problem
        return
    assert img.dtype == np.float32 and img.ndim == 3 and img.shape[2] == 3
    assert np.isfinite(img).all() and img.min() >= 0 and img.max() <= 1


@FUZZ
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_never_crash_the_loader(data: bytes) -> None:
    check_decoded_or_image_error(data)


@FUZZ
@given(st.sampled_from(sorted(SEEDS)), st.data())
def test_damaged_real_images_never_crash_the_loader(fmt: str, draw: st.DataObject) -> None:
    data = bytearray(SEEDS[fmt])
    cut = draw.draw(st.integers(1, len(data)))
    flips = draw.draw(st.lists(st.tuples(st.integers(0, len(data) - 1), st.integers(1, 255)), max_size=8))
    for pos, xor in flips:
        data[pos] ^= xor
    check_decoded_or_image_error(bytes(data[:cut]))


weights_elements = st.floats(allow_nan=True, allow_infinity=True, width=32)


@FUZZ
@given(st.integers(1, 5), st.lists(weights_elements, max_size=6))
def test_style_weights_normalised_or_rejected(num_styles: int, values: list[float]) -> None:
    try:
        w = normalize_weights(values, num_styles)
    except StyleWeightsError as e:
        assert "style_weights" in str(e)
        return
    assert w.shape == (num_styles,) and (w >= 0).all()
    np.testing.assert_allclose(w.sum(), 1.0, rtol=1e-5)


@FUZZ
@given(st.text(max_size=40))
def test_style_spec_parsed_or_rejected(spec: str) -> None:
    names = ["wave", "the_scream", "udnie"]
    try:
        w = parse_style_spec(spec, names)
    except StyleWeightsError as e:
        assert "--style" in str(e)
        return
    assert w.shape == (3,) and (w >= 0).all()
    np.testing.assert_allclose(w.sum(), 1.0, rtol=1e-5)

"""Every fusion control works in tiles: tiled equals untiled when the statistics are exact."""

from __future__ import annotations

import numpy as np
import pytest

from tf_stylefusion.data.images import psnr, to_uint8
from tf_stylefusion.inference import tiling
from tf_stylefusion.inference.fusion import StylizeOptions, encode_style_images
from tf_stylefusion.inference.stylize import stylize_image
from tf_stylefusion.models.style_encoder import StyleEncoder

from ..conftest import texture
from .test_tiling import WEIGHTS, photo, styled_generator

H, W = 160, 190  # 190 is no multiple of the stride
EXACT = tiling.TileConfig(tile_size=112, overlap=56, stats_size=80, exact_statistics=True)


@pytest.fixture(scope="module")
def generator():
    return styled_generator(num_res_blocks=1)


@pytest.fixture(scope="module")
def encoder(generator) -> StyleEncoder:
    enc = StyleEncoder(generator.param_dim, 2944, bottleneck=8, hidden=16, style_size=64, content_size=64)
    enc.set_base_row(generator.bank.table.numpy().mean(0))
    k = enc.to_row.kernel
    k.assign(np.random.default_rng(1).normal(0, 0.05, k.shape).astype(np.float32))
    return enc


def left_half_mask() -> np.ndarray:
    mask = np.zeros((H, W), np.float32)
    mask[:, : W // 2] = 1.0
    return mask


def cases(encoder: StyleEncoder) -> dict[str, tuple[np.ndarray, StylizeOptions]]:
    rows = encode_style_images(encoder, [texture("checker", 64).astype(np.float32) / 255.0])
    return {
        "two styles split by a mask": (np.array([1.0, 0.0, 1.0]), StylizeOptions(masks=[left_half_mask()], feather=4)),
        "one mask for one style + strength": (np.array([0.0, 1.0, 0.0]), StylizeOptions(
            masks=[left_half_mask()], feather=4, strength=0.5, encoder=encoder)),
        "strength + luminance": (WEIGHTS, StylizeOptions(strength=0.5, encoder=encoder, preserve_color="luminance")),
        "histogram": (WEIGHTS, StylizeOptions(preserve_color="histogram")),
        "style image": (np.array([0.5, 0.0, 0.0, 0.5]), StylizeOptions(style_rows=rows)),
    }


@pytest.mark.parametrize("name", ["two styles split by a mask", "one mask for one style + strength",
                                  "strength + luminance", "histogram", "style image"])
def test_each_fusion_control_tiled_equals_untiled(generator, encoder, name: str) -> None:
    weights, options = cases(encoder)[name]
    img = photo(H, W)
    whole = stylize_image(generator, img, weights, options, tile_size=0)
    tiled = stylize_image(generator, img, weights, options, tile_size=EXACT)
    plain = stylize_image(generator, img, WEIGHTS, tile_size=0)
    assert np.abs(whole - plain).mean() > 0.01  # the control changed the picture
    assert np.abs(tiled - whole).max() < 2e-3


@pytest.mark.parametrize("name", ["two styles split by a mask", "one mask for one style + strength",
                                  "strength + luminance", "histogram", "style image"])
def test_each_fusion_control_on_a_uint8_photo_gives_the_float_photos_picture(generator, encoder, name) -> None:
    """The app's full-size render: the uint8 photo read a tile at a time, the picture finished to
    uint8 a band of rows at a time, equals converting both whole, to the bit."""
    weights, options = cases(encoder)[name]
    img = to_uint8(photo(H, W))
    expected = stylize_image(generator, img.astype(np.float32) / 255.0, weights, options, tile_size=EXACT)
    out = stylize_image(generator, img, weights, options, tile_size=EXACT, uint8=True)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, to_uint8(expected))


def test_a_mask_tiled_with_downscaled_statistics_has_no_seams(generator, encoder) -> None:
    img = photo(H, W)
    weights, options = cases(encoder)["one mask for one style + strength"]
    cfg = tiling.TileConfig(tile_size=64, overlap=32, stats_size=96, exact_statistics=False)
    tiled = stylize_image(generator, img, weights, options, tile_size=cfg)
    whole = stylize_image(generator, img, weights, options, tile_size=0)
    assert psnr(tiled, whole) > 30
    jump = np.abs(np.diff(tiled, axis=1)).mean(axis=(0, 2))
    seams = [s + 16 for s, _ in tiling.axis_spans(W, 64, 32)[1:]]
    assert max(jump[c] for c in seams) < 3 * np.median(jump)

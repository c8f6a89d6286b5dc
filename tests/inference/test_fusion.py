"""Fusion controls: strength in style space, region masks, colour preservation, mixes."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_stylefusion.cli import main
from tf_stylefusion.data.images import load_image, psnr
from tf_stylefusion.errors import ConfigError, ModelFileError, StyleWeightsError
from tf_stylefusion.inference.color import match_histograms, preserve_color, rgb_to_yiq, transfer_luminance
from tf_stylefusion.inference.fusion import (
    StylizeOptions,
    build_mix,
    content_row,
    encode_style_images,
    parse_weighted_path,
)
from tf_stylefusion.inference.masks import feather, load_mask, region_weights
from tf_stylefusion.inference.stylize import stylize_image
from tf_stylefusion.models.generator import StyleFusionGenerator
from tf_stylefusion.models.style_encoder import StyleEncoder

from ..conftest import texture, write
from ..helpers import written

SIZE = 64


@pytest.fixture(scope="module")
def generator() -> StyleFusionGenerator:
    """A tiny generator whose two bank rows are far apart, so the styles look clearly different."""
    keras.utils.set_random_seed(3)
    # Without the content skip: these thresholds were set on this layout (the fusion code paths
    # are the same; the shipped pack, which has the skip, is tested in tests/test_pretrained.py).
    g = StyleFusionGenerator(2, ["warm", "cold"], filters=(8, 12, 16), num_res_blocks=1, content_skip=False)
    rng = np.random.default_rng(0)
    table = g.bank.table.numpy()
    table = table + rng.normal(0, 0.8, table.shape).astype(np.float32) * np.array([[1.0], [-1.0]], np.float32)
    g.bank.table.assign(table)
    return g


@pytest.fixture(scope="module")
def encoder(generator) -> StyleEncoder:
    enc = StyleEncoder(generator.param_dim, 2944, bottleneck=8, hidden=16, style_size=64, content_size=SIZE)
    enc.set_base_row(generator.bank.table.numpy().mean(0))
    k = enc.to_row.kernel
    k.assign(np.random.default_rng(1).normal(0, 0.05, k.shape).astype(np.float32))
    return enc


def region_error(a: np.ndarray, b: np.ndarray, cols: slice) -> float:
    """Mean absolute difference of two images over a band of columns."""
    return float(np.abs(a[:, cols] - b[:, cols]).mean())


def photo(seed: int = 0) -> np.ndarray:
    return texture("photo", SIZE, seed=seed).astype(np.float32) / 255.0


def test_strength_moves_from_the_content_to_the_full_style(generator, encoder) -> None:
    img = photo()
    w = np.array([1.0, 0.0])
    plain = stylize_image(generator, img, w)
    assert np.abs(plain - img).mean() > 0.05  # the style itself is far from the content
    levels = (0.0, 0.35, 0.7, 0.999)
    outs = [stylize_image(generator, img, w, StylizeOptions(strength=s, encoder=encoder)) for s in levels]
    # Just below 1 the fused path (the bank plus the photo's own row) gives the plain style.
    assert np.abs(outs[-1] - plain).max() < 0.02
    np.testing.assert_allclose(outs[0], img, atol=1e-5)  # 0: the photo (the anchor adds back its residual)
    to_style = [float(np.abs(o - plain).mean()) for o in outs]
    to_photo = [float(np.abs(o - img).mean()) for o in outs]
    assert all(a > b for a, b in zip(to_style, to_style[1:])), to_style
    assert all(a < b for a, b in zip(to_photo, to_photo[1:])), to_photo


def test_strength_interpolates_rows_not_pixels(generator, encoder) -> None:
    img = photo(1)
    s = 0.4
    out = stylize_image(generator, img, np.array([0.0, 1.0]),
                        StylizeOptions(strength=s, encoder=encoder, anchor_content=False))
    own = content_row(encoder, img)
    row = s * generator.bank.table.numpy()[1] + (1 - s) * own
    direct = generator.stylize_with_table(img[None], tf.ones([1, 1]), tf.constant(row[None])).numpy()[0]
    np.testing.assert_allclose(out, direct, atol=1e-5)
    full = stylize_image(generator, img, np.array([0.0, 1.0]))
    own_out = generator.stylize_with_table(img[None], tf.ones([1, 1]), tf.constant(own[None])).numpy()[0]
    assert np.abs(out - (s * full + (1 - s) * own_out)).mean() > 1e-3  # not a pixel blend
    # the anchored version adds back exactly (1 - s) of the reconstruction residual
    anchored = stylize_image(generator, img, np.array([0.0, 1.0]), StylizeOptions(strength=s, encoder=encoder))
    np.testing.assert_allclose(anchored, np.clip(direct + (1 - s) * (img - own_out), 0, 1), atol=1e-5)


def test_the_photo_is_shrunk_for_its_row_a_strip_at_a_time_to_the_bit() -> None:
    """content_row shrinks a (16 MP) photo in strips of columns, so TensorFlow never holds it
    whole as float: the same numbers as one resize_short_side, for float and uint8 photos,
    shrinking or enlarging, whatever the strip."""
    from tf_stylefusion.data.pipelines import resize_short_side
    from tf_stylefusion.inference.fusion import shrink_short_side

    rng = np.random.default_rng(0)
    for (h, w), size, strip in (((150, 230), 64, 40), ((230, 150), 96, 512), ((60, 70), 128, 16)):
        u8 = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        as_float = u8.astype(np.float32) / 255.0
        whole = resize_short_side(tf.convert_to_tensor(as_float), size).numpy()
        assert min(whole.shape[:2]) == size
        np.testing.assert_array_equal(shrink_short_side(as_float, size, strip), whole)
        np.testing.assert_array_equal(shrink_short_side(u8, size, strip), whole)


def test_strength_errors(generator) -> None:
    with pytest.raises(StyleWeightsError, match="strength"):
        StylizeOptions(strength=1.5)
    with pytest.raises(ModelFileError, match="style encoder"):
        stylize_image(generator, photo(), np.array([1.0, 0]), StylizeOptions(strength=0.5))
    with pytest.raises(ConfigError, match="preserve-color"):
        StylizeOptions(preserve_color="sepia")


def test_region_weights_soft_edges_and_fallback() -> None:
    mask = np.zeros((40, 40), np.float32)
    mask[:, :20] = 1.0
    w = region_weights([mask], np.array([0.5, 0.5, 0.0]), order=[0, 1], feather_sigma=2.0)
    assert w.shape == (40, 40, 3)
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-6)
    assert w[:, :10, 0].min() > 0.999 and w[:, 30:, 1].min() > 0.999
    assert 0.2 < w[20, 19, 0] < 0.8 and 0.2 < w[20, 20, 0] < 0.8  # feathered border
    np.testing.assert_array_equal(w[..., 2], 0.0)
    # one mask per style: uncovered pixels fall back to the overall mix
    top = np.zeros((40, 40), np.float32)
    top[:10] = 1.0
    w2 = region_weights([top, np.zeros_like(top)], np.array([0.25, 0.75]), order=[0, 1])
    np.testing.assert_allclose(w2[0, 0], [1.0, 0.0])
    np.testing.assert_allclose(w2[30, 0], [0.25, 0.75])
    with pytest.raises(StyleWeightsError, match="mask"):
        region_weights([top, top, top], np.array([0.5, 0.5]), order=[0, 1])


def test_feather_is_a_normalised_blur() -> None:
    m = np.zeros((30, 30), np.float32)
    m[10:20, 10:20] = 1
    f = feather(m, 2.0)
    assert abs(f.sum() - m.sum()) < 1e-3 and 0 < f[10, 10] < 1 and f[15, 15] > 0.9


def test_mask_regions_take_their_styles(generator, tmp_path: Path) -> None:
    img = photo(2)
    mask_img = np.zeros((SIZE, SIZE, 3), np.uint8)
    mask_img[:, : SIZE // 2] = 255
    mask_file = write(tmp_path / "left.png", mask_img)
    masks = [load_mask(mask_file, SIZE, SIZE)]
    out = stylize_image(generator, img, np.array([1.0, 1.0]),
                        StylizeOptions(masks=masks, order=[0, 1], feather=1.0))
    warm = stylize_image(generator, img, np.array([1.0, 0.0]))
    cold = stylize_image(generator, img, np.array([0.0, 1.0]))
    left, right = slice(0, SIZE // 2 - 6), slice(SIZE // 2 + 6, SIZE)
    # Instance-norm statistics are global, so a region is not pixel-identical to the pure style,
    # but each region is clearly nearer its own style.
    assert region_error(out, warm, left) < 0.8 * region_error(out, cold, left)
    assert region_error(out, cold, right) < 0.8 * region_error(out, warm, right)


def test_one_mask_one_style_keeps_the_content_outside(generator, encoder) -> None:
    img = photo(4)
    mask = np.zeros((SIZE, SIZE), np.float32)
    mask[:, SIZE // 2 :] = 1.0
    out = stylize_image(generator, img, np.array([0.0, 1.0]),
                        StylizeOptions(masks=[mask], feather=1.0, encoder=encoder))
    cold = stylize_image(generator, img, np.array([0.0, 1.0]))
    outside, inside = slice(0, SIZE // 2 - 6), slice(SIZE // 2 + 6, SIZE)
    # Not exact: instance-norm statistics couple the regions (the test generator is random).
    assert region_error(out, img, outside) < 0.5 * region_error(out, cold, outside)
    assert region_error(out, cold, inside) < 0.7 * region_error(out, img, inside)


def test_luminance_transfer_keeps_content_chroma() -> None:
    rng = np.random.default_rng(0)
    content = 0.3 + 0.4 * rng.random((32, 32, 3)).astype(np.float32)
    stylized = 0.35 + 0.3 * rng.random((32, 32, 3)).astype(np.float32)
    out = transfer_luminance(stylized, content)
    yo, yc, ys = rgb_to_yiq(out), rgb_to_yiq(content), rgb_to_yiq(stylized)
    np.testing.assert_allclose(yo[..., 1:], yc[..., 1:], atol=1e-4)
    np.testing.assert_allclose(yo[..., 0], ys[..., 0], atol=1e-4)
    assert np.abs(yo[..., 1:] - ys[..., 1:]).mean() > 0.02


def test_histogram_matching_takes_content_palette_keeps_structure() -> None:
    rng = np.random.default_rng(1)
    content = rng.random((24, 24, 3)).astype(np.float32) ** 2
    stylized = rng.random((24, 24, 3)).astype(np.float32)
    out = preserve_color(stylized, content, "histogram")
    for ch in range(3):
        np.testing.assert_array_equal(np.sort(out[..., ch].ravel()), np.sort(content[..., ch].ravel()))
        np.testing.assert_array_equal(np.argsort(out[..., ch].ravel(), kind="stable"),
                                      np.argsort(stylized[..., ch].ravel(), kind="stable"))
    half = match_histograms(stylized, content[:12])  # different sizes: quantiles interpolated
    assert half.shape == stylized.shape and abs(half.mean() - content[:12].mean()) < 0.02


def test_preserve_color_through_stylize(generator) -> None:
    img = photo(3)
    out = stylize_image(generator, img, np.array([1.0, 0.0]), StylizeOptions(preserve_color="luminance"))
    plain = stylize_image(generator, img, np.array([1.0, 0.0]))
    inside = (out > 0.01).all(-1) & (out < 0.99).all(-1)
    np.testing.assert_allclose(rgb_to_yiq(out)[inside][:, 1:], rgb_to_yiq(img)[inside][:, 1:], atol=1e-3)
    np.testing.assert_allclose(rgb_to_yiq(out)[inside][:, 0], rgb_to_yiq(plain)[inside][:, 0], atol=1e-3)


def test_build_mix_orders_and_combines_bank_and_images() -> None:
    mix = build_mix("b:1,a:3", ["a", "b", "c"], [4.0])
    np.testing.assert_allclose(mix.weights, [3 / 8, 1 / 8, 0, 4 / 8])
    assert mix.order == [1, 0, 3]
    only_images = build_mix(None, ["a"], [1.0, 1.0])
    np.testing.assert_allclose(only_images.weights, [0, 0.5, 0.5])
    assert parse_weighted_path("dir/my:style.jpg") == ("dir/my:style.jpg", 1.0)
    assert parse_weighted_path("x.jpg:0.3") == ("x.jpg", 0.3)
    with pytest.raises(StyleWeightsError, match="unknown style"):
        build_mix("zz", ["a"])
    with pytest.raises(StyleWeightsError, match="no style"):
        build_mix(None, ["a"])


def test_cli_stylize_with_fusion_controls(generator, encoder, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    run.mkdir()
    generator.save(run / "generator.keras")
    encoder.save(run / "style_encoder.keras")
    inp = write(tmp_path / "in.png", texture("photo", 40, seed=5))
    ramp = np.tile(np.linspace(0, 255, 40).astype(np.uint8)[None, :, None], (40, 1, 3))
    mask = write(tmp_path / "mask.png", ramp)
    style_img = write(tmp_path / "any_style.png", texture("checker", 64))
    out = tmp_path / "out"
    code = main(["stylize", str(run), str(inp), "--style", "warm", "--style-image", f"{style_img}:1",
                 "--mask", str(mask), "--strength", "0.7", "--preserve-color", "--feather", "3",
                 "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    # The CLI passes every control on: its file equals the Python API given the same controls,
    # and differs from what any one control left out would give.
    img = load_image(inp)
    rows = encode_style_images(encoder, [load_image(style_img)])
    full = dict(strength=0.7, masks=[ramp / 255.0], feather=3.0, preserve_color="luminance",
                style_rows=rows, encoder=encoder)
    weights = np.array([0.5, 0.0, 0.5])
    expected = stylize_image(generator, img, weights, StylizeOptions(**full))
    got = load_image(written(out, "in"))
    assert psnr(got, expected) > 40
    for left_out in ({"strength": 1.0}, {"masks": []}, {"preserve_color": None}):
        assert psnr(got, stylize_image(generator, img, weights, StylizeOptions(**{**full, **left_out}))) < 35
    # without an encoder, --style-image is one clear error, not a traceback
    (run / "style_encoder.keras").unlink()
    assert main(["stylize", str(run), str(inp), "--style-image", str(style_img), "--out", str(out)]) == 2
    assert "style encoder" in capsys.readouterr().err
    assert main(["stylize", str(run), str(inp), "--style", "warm", "--strength", "2", "--out", str(out)]) == 2


def test_masks_are_downscaled_with_antialiasing() -> None:
    # One-pixel lines every 8 px: an aliasing resize keeps some lines whole and drops others;
    # an antialiased one turns them into an even 1/8 grey.
    from tf_stylefusion.inference.masks import load_mask

    lines = np.zeros((512, 512), np.float32)
    lines[:, ::8] = 1.0
    small = load_mask(lines, 64, 64)
    assert small.shape == (64, 64)
    assert small.max() < 0.2 and small.min() > 0.05

"""Brushwork tiles: cut from a painting without its composition, seamless, laid over only where
the photo is not flat, mixed like the styles, aligned across tiled inference, saved beside the
generator and carried into exported files."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_stylefusion.config import GeneratorSettings
from tf_stylefusion.errors import ConfigError, ModelFileError
from tf_stylefusion.inference import tiling
from tf_stylefusion.model_io import (
    GENERATOR_FILE,
    TEXTURES_FILE,
    load_generator,
    load_textures,
    save_textures,
)
from tf_stylefusion.models.generator import StyleFusionGenerator
from tf_stylefusion.models.texture import high_pass, kuwahara_luma, painting_texture, texture_field
from tf_stylefusion.training.callbacks import save_generator

from ..conftest import texture


def painting(seed: int = 0, size: int = 200) -> np.ndarray:
    """Strokes: short random bars on a smooth two-colour gradient (a composition to lose)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    img = np.stack([0.2 + 0.6 * x, 0.3 + 0.4 * y, 0.5 + 0.0 * x], -1)
    for _ in range(300):
        cy, cx = rng.integers(0, size - 12, 2)
        img[cy : cy + rng.integers(2, 10), cx : cx + rng.integers(2, 10)] += rng.normal(0, 0.25, 3)
    return np.clip(img, 0, 1).astype(np.float32)


def textured_generator(num_styles: int = 2, num_res_blocks: int = 1, **kwargs) -> StyleFusionGenerator:
    keras.utils.set_random_seed(0)
    g = StyleFusionGenerator(num_styles, style_names=[f"s{i}" for i in range(num_styles)],
                             filters=(8, 12, 16), num_res_blocks=num_res_blocks, **kwargs)
    g.set_textures(np.stack([painting_texture([painting(i)], size=48, patch=16, seed=i)
                             for i in range(num_styles)]))
    return g


def photo(h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    return np.clip(rng.normal(0.5, 0.2, (h, w, 3)), 0, 1).astype(np.float32)


def test_a_tile_keeps_the_strokes_contrast_is_seamless_and_fixed_by_its_seed() -> None:
    art = painting()
    tile = painting_texture([art], size=96, patch=32)
    assert tile.shape == (96, 96, 3) and tile.dtype == np.float32
    np.testing.assert_allclose(tile.mean(axis=(0, 1)), 0, atol=1e-6)
    detail = high_pass(art)
    # overlaps are normalised: the tile keeps the painting's detail contrast, not a blur of it
    assert 0.7 < tile.std() / detail.std() < 1.3
    np.testing.assert_array_equal(tile, painting_texture([art], size=96, patch=32))
    assert not np.allclose(tile, painting_texture([art], size=96, patch=32, seed=1))
    # seamless: the step across the wrap-around edges is no larger than steps inside the tile
    inside = np.abs(np.diff(tile, axis=1)).mean()
    across = np.abs(tile[:, 0] - tile[:, -1]).mean()
    assert across < 1.3 * inside
    with pytest.raises(ValueError, match="multiple of the patch step"):
        painting_texture([art], size=100, patch=32)


def test_the_field_mixes_tiles_like_the_styles_and_lines_up_across_origins() -> None:
    rng = np.random.default_rng(0)
    tiles = tf.constant(rng.normal(size=(2, 16, 16, 3)), tf.float32)
    one = texture_field(tiles, tf.constant([[1.0, 0.0]]), 40, 36)[0].numpy()
    two = texture_field(tiles, tf.constant([[0.0, 1.0]]), 40, 36)[0].numpy()
    mix = texture_field(tiles, tf.constant([[0.25, 0.75]]), 40, 36)[0].numpy()
    np.testing.assert_allclose(mix, 0.25 * one + 0.75 * two, atol=1e-5)
    np.testing.assert_allclose(one[16:32, 16:32], tiles[0].numpy(), atol=1e-6)  # tiled, not stretched
    per_pixel = tf.constant(np.broadcast_to([0.25, 0.75], (1, 40, 36, 2)), tf.float32)
    np.testing.assert_allclose(texture_field(tiles, per_pixel, 40, 36)[0].numpy(), mix, atol=1e-5)
    # a piece starting at (y0, x0) of a larger picture gets that picture's texture there
    piece = texture_field(tiles, tf.constant([[0.25, 0.75]]), 20, 12, tf.constant([13, 21]))[0].numpy()
    np.testing.assert_allclose(piece, mix[13:33, 21:33], atol=1e-5)


def test_textures_paint_only_where_the_photo_is_not_flat() -> None:
    g = textured_generator()
    w = np.array([[0.5, 0.5]], np.float32)
    flat = np.full((1, 64, 64, 3), 0.4, np.float32)
    busy = photo(64, 64)[None]

    def without(x):
        tiles, g_tiles = g.textures, None
        g.set_textures(g_tiles)
        out = g((x, w)).numpy()
        g.set_textures(tiles)
        return out

    np.testing.assert_allclose(g((flat, w)).numpy(), without(flat), atol=1e-6)  # skies stay clean
    assert np.abs(g((busy, w)).numpy() - without(busy)).mean() > 0.02
    off = g.with_settings(GeneratorSettings(texture=0.0))
    np.testing.assert_allclose(off((busy, w)).numpy(), without(busy), atol=1e-6)
    with pytest.raises(ConfigError, match="texture"):
        GeneratorSettings(texture=-1.0)
    with pytest.raises(ValueError, match="one tile per style"):
        g.set_textures(np.zeros((3, 8, 8, 3), np.float32))
    assert g.copy().textures is g.textures


def test_abstraction_flattens_fine_detail_and_keeps_edges_sharp() -> None:
    rng = np.random.default_rng(0)
    img = np.zeros((1, 32, 32, 3), np.float32)
    img[:, :, 16:] = 0.8  # a vertical edge between two regions
    grain = rng.normal(0, 0.05, (1, 32, 32, 1))  # grey grain: luma detail, which is what goes
    grainy = np.clip(img + grain, 0, 1).astype(np.float32)
    out = kuwahara_luma(tf.constant(grainy)).numpy()
    assert out.shape == grainy.shape
    # the grain within each region falls by more than half ...
    for region in (np.s_[:, 4:28, 3:12], np.s_[:, 4:28, 20:29]):
        assert out[region].std() < 0.5 * grainy[region].std()
    # ... while the edge stays a one-pixel step, not a ramp (a blur would spread it over 5 px)
    profile = out[0, 4:28].mean(axis=0).mean(axis=-1)
    assert profile[16] - profile[15] > 0.6
    np.testing.assert_allclose(kuwahara_luma(tf.constant(img)).numpy(), img, atol=1e-6)  # flat stays


def test_textures_abstract_the_picture_only_as_far_as_weights_fall_on_tiles() -> None:
    g = textured_generator(num_res_blocks=0)
    busy = photo(64, 64)[None]
    bare = g.copy()
    bare.set_textures(None)
    w = np.array([[0.5, 0.5]], np.float32)
    # blank tiles lay nothing and abstract nothing: the rows they stand for have no brushwork
    g.set_textures(np.zeros_like(g.textures.numpy()))
    np.testing.assert_allclose(g((busy, w)).numpy(), bare((busy, w)).numpy(), atol=1e-6)
    g.set_textures(np.concatenate([textured_generator().textures.numpy()[:1],
                                   np.zeros((1, 48, 48, 3), np.float32)]))
    plain = bare((busy, w)).numpy()
    # with one row's tile blank, half the weight abstracts half as much as all of it
    half = g((busy, w)).numpy() - plain
    full = g((busy, np.array([[1.0, 0.0]], np.float32))).numpy() - bare((busy, np.array([[1.0, 0.0]], np.float32))).numpy()
    assert 0.3 < np.abs(half).mean() / np.abs(full).mean() < 0.7
    assert np.abs(g((busy, np.array([[0.0, 1.0]], np.float32))).numpy()
                  - bare((busy, np.array([[0.0, 1.0]], np.float32))).numpy()).max() < 1e-6


def test_rows_past_the_bank_get_blank_tiles_unless_given() -> None:
    g = textured_generator()
    tiles = g.table_textures(4, np.ones((1, 48, 48, 3), np.float32))
    assert tiles.shape == (4, 48, 48, 3)
    np.testing.assert_array_equal(tiles[:2], g.textures.numpy())
    assert np.all(tiles[2] == 1) and np.all(tiles[3] == 0)
    g.set_textures(None)
    assert g.table_textures(4, None) is None


def test_tiled_inference_keeps_the_texture_aligned() -> None:
    g = textured_generator(num_res_blocks=0)
    img = photo(144, 192)
    weights = np.array([0.3, 0.7], np.float32)
    assert tiling.receptive_radius(g) == 24  # the tiles' gate reaches further than the network's 18
    full = g((img[None], weights[None])).numpy()[0]
    tiled = tiling.stylize_tiled(g, img, weights, tiling.TileConfig(tile_size=112, overlap=56))
    assert np.abs(tiled - full).max() < 1e-4


def test_tiles_are_saved_beside_the_generator_and_a_damaged_file_is_named(tmp_path) -> None:
    g = textured_generator()
    save_generator(g, tmp_path / GENERATOR_FILE)
    save_textures(tmp_path / TEXTURES_FILE, g.textures.numpy(), g.style_names)
    loaded = load_generator(tmp_path)
    # 8 bits a value, scaled per style
    np.testing.assert_allclose(loaded.textures.numpy(), g.textures.numpy(), atol=np.abs(g.textures).max() / 200)
    x, w = photo(48, 48)[None], np.array([[1.0, 0.0]], np.float32)
    np.testing.assert_allclose(loaded((x, w)).numpy(), g((x, w)).numpy(), atol=5e-3)
    with pytest.raises(ModelFileError, match="belongs to another model"):
        load_textures(tmp_path / TEXTURES_FILE, ["a", "b"])
    data = (tmp_path / TEXTURES_FILE).read_bytes()
    (tmp_path / TEXTURES_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match=f"{TEXTURES_FILE}: cannot read the texture tiles"):
        load_generator(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [GENERATOR_FILE, TEXTURES_FILE]


@pytest.mark.parametrize("mode, db", [("fp32", 45.0), ("int8", 22.0)])
def test_exported_files_carry_the_texture(mode, db) -> None:
    from tf_stylefusion.deploy.tflite import TFLiteStylizer, calibration_images, convert

    g = textured_generator(flat_guard=0.03)
    content = [texture("photo", 48, seed=5).astype(np.float32) / 255, photo(48, 48)]
    model = convert(g, mode, calibration_images(48))
    stylizer = TFLiteStylizer(model)
    w = np.array([0.4, 0.6], np.float32)
    got = np.stack([stylizer(c, w) for c in content])
    want = g((np.stack(content), np.tile(w, (2, 1)))).numpy()
    bare = g.copy()
    bare.set_textures(None)
    assert np.abs(want - bare((np.stack(content), np.tile(w, (2, 1)))).numpy()).mean() > 0.01
    psnr = 10 * np.log10(1.0 / max(float(np.mean((got - want) ** 2)), 1e-20))
    assert psnr >= db, f"{mode}: {psnr:.1f} dB"


def test_a_per_call_amount_overrides_the_generators_tiled_or_not() -> None:
    from tf_stylefusion.inference.fusion import StylizeOptions
    from tf_stylefusion.inference.stylize import stylize_image

    g = textured_generator(num_res_blocks=0)
    img = photo(144, 192)
    w = np.array([0.3, 0.7], np.float32)
    half = g.with_settings(GeneratorSettings(texture=0.5))((img[None], w[None])).numpy()[0]
    assert g.config.texture == 1.0
    via_options = stylize_image(g, img, w, StylizeOptions(settings=GeneratorSettings(texture=0.5)), tile_size=0)
    np.testing.assert_allclose(via_options, half, atol=1e-5)
    tiled = stylize_image(g, img, w, StylizeOptions(settings=GeneratorSettings(texture=0.5)), tile_size=112)
    assert np.abs(tiled - half).max() < 1e-3  # tiles' statistics, not the texture, differ slightly
    assert g.config.texture == 1.0  # the call left the generator as it was
    with pytest.raises(ConfigError, match="--texture"):
        StylizeOptions(settings=GeneratorSettings(texture=-1))


def test_amount_zero_for_one_call_is_the_picture_without_tiles() -> None:
    from tf_stylefusion.inference.fusion import StylizeOptions
    from tf_stylefusion.inference.stylize import stylize_image

    g = textured_generator(num_res_blocks=0)
    img = photo(96, 128)
    w = np.array([0.5, 0.5], np.float32)
    bare = g.copy()
    bare.set_textures(None)
    for tile_size in (0, 64):
        want = stylize_image(bare, img, w, StylizeOptions(strength=1.0), tile_size=tile_size)
        got = stylize_image(g, img, w, StylizeOptions(settings=GeneratorSettings(texture=0.0)), tile_size=tile_size)
        assert np.abs(got - want).max() < 1e-5
    on = StylizeOptions(settings=GeneratorSettings(texture=1.0))
    assert np.abs(stylize_image(g, img, w, on, tile_size=0) - want).mean() > 0.01


def test_tiles_and_abstraction_are_on_for_pictures_off_for_exports_unless_asked() -> None:
    from tf_stylefusion.cli import _generator_settings, build_parser
    from tf_stylefusion.deploy.defaults import export_generator

    g = textured_generator(num_res_blocks=0)
    busy = photo(64, 64)[None]
    w = np.array([[1.0, 0.0]], np.float32)
    abstracted = g((busy, w)).numpy()
    stylize = build_parser().parse_args(["stylize", "photo.jpg", "--style", "s0", "--out", "o"])
    own = g.with_settings(_generator_settings(stylize)).config
    assert (own.texture, own.abstraction) == (g.config.texture, 1.0) and g.config.texture > 0
    export = build_parser().parse_args(["export", "--tflite", "t"])
    plain = export_generator(g, _generator_settings(export))
    assert (plain.config.texture, plain.config.abstraction) == (0.0, 0.0) and g.config.abstraction == 1.0
    # without the tiles and the filter the picture is the network's own, so the two differ
    assert np.abs(plain((busy, w)).numpy() - abstracted).mean() > 0.005
    asked = build_parser().parse_args(["export", "--tflite", "t", "--texture", str(g.config.texture),
                                       "--abstraction", "1"])
    np.testing.assert_allclose(export_generator(g, _generator_settings(asked))((busy, w)).numpy(),
                               abstracted, atol=1e-6)
    with pytest.raises(ConfigError, match="--abstraction"):
        _generator_settings(build_parser().parse_args(["export", "--tflite", "t", "--abstraction", "2"]))
    with pytest.raises(ConfigError, match="--texture"):  # one line from the CLI, not a traceback
        _generator_settings(build_parser().parse_args(["export", "--tflite", "t", "--texture", "9"]))

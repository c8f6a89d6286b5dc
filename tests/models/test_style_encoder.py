"""StyleEncoder: shapes, config and .keras round trip, and what its training stage teaches it."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_stylefusion.config import VGG_STYLE_LAYERS, LossConfig
from tf_stylefusion.errors import ModelFileError
from tf_stylefusion.inference.fusion import encode_style_images
from tf_stylefusion.model_io import ENCODER_FILE, load_style_encoder
from tf_stylefusion.models.generator import StyleFusionGenerator
from tf_stylefusion.models.style_encoder import StyleEncoder, statistics_dim
from tf_stylefusion.training.style_encoder_stage import EncoderConfig, fit_style_encoder, reconstruction_psnr

from ..conftest import texture
from ..helpers import check_config_roundtrip, check_model_saving


def tiny_generator(seed: int = 0, pixel_shuffle: bool = True) -> StyleFusionGenerator:
    keras.utils.set_random_seed(seed)
    g = StyleFusionGenerator(2, ["stripes", "checker"], filters=(8, 12, 16), num_res_blocks=1,
                             pixel_shuffle=pixel_shuffle)
    table = g.bank.table.numpy()
    table[0] += 0.5
    table[1] -= 0.5
    g.bank.table.assign(table)
    return g


def styles() -> list[list[np.ndarray]]:
    return [[texture("stripes", 64).astype(np.float32) / 255], [texture("checker", 64).astype(np.float32) / 255]]


def test_shapes_config_and_saving(tmp_path: Path) -> None:
    enc = StyleEncoder(param_dim=40, feature_dim=12, bottleneck=5, hidden=7)
    stats = tf.random.normal([3, 12], seed=0)
    assert tuple(enc(stats).shape) == (3, 40)
    assert tuple(enc.embed(stats).shape) == (3, 5)
    enc.set_base_row(np.arange(40, dtype=np.float32))
    enc.set_feature_scaling(np.random.default_rng(0).normal(3.0, 2.0, (10, 12)))
    enc.hidden.kernel.assign(tf.random.normal(enc.hidden.kernel.shape, seed=1))
    enc.to_row.kernel.assign(tf.random.normal(enc.to_row.kernel.shape, seed=2))
    check_config_roundtrip(enc)
    loaded = check_model_saving(enc, stats, tmp_path)
    np.testing.assert_array_equal(loaded.feature_mean.numpy(), enc.feature_mean.numpy())
    assert loaded.get_config() == enc.get_config()


def test_predict_rows_from_images() -> None:
    enc = StyleEncoder(param_dim=40, feature_dim=2944, style_size=48)
    assert statistics_dim(enc.vgg(), len(enc.style_layers)) == 2944
    rows = encode_style_images(enc, [texture("stripes", 64) / 255.0, texture("checker", 80) / 255.0])
    assert rows.shape == (2, 40) and np.all(np.isfinite(rows))


# The classic VGG layers, offline (the encoder's statistics layout is what these tests check).
OFFLINE = LossConfig(loss_network="random", style_layers=VGG_STYLE_LAYERS, content_layer="block4_conv2")


def test_training_distills_bank_rows() -> None:
    g = tiny_generator()
    content = np.stack([texture("photo", 32, seed=i) for i in range(4)]).astype(np.float32) / 255
    result = fit_style_encoder(g, styles(), content, OFFLINE, style_size=64,
                               config=EncoderConfig(steps=40, batch_size=2, crops_per_style=3,
                                                    learning_rate=3e-3, perceptual_weight=0.0,
                                                    reconstruction_weight=0.0))
    h = result.history["distill"]
    assert np.mean(h[-5:]) < 0.2 * np.mean(h[:5])
    rows = encode_style_images(result.encoder, [s[0] for s in styles()])
    bank = g.bank.table.numpy()
    for i in range(2):  # each known style's image maps nearer its own bank row than the other
        d = np.abs(rows[i][None] - bank).mean(-1)
        assert d[i] < 0.5 * d[1 - i]


def test_training_learns_to_reconstruct_the_content() -> None:
    # The generator is random, so only its norm rows can be fitted. In the full-resolution layout
    # rows alone can pass a photo through; the half-resolution default layout needs trained convs.
    g = tiny_generator(1, pixel_shuffle=False)
    content = np.stack([texture("photo", 32, seed=i) for i in range(6)]).astype(np.float32) / 255
    unseen = np.stack([texture("photo", 32, seed=i) for i in range(10, 13)]).astype(np.float32) / 255
    short = fit_style_encoder(g, styles(), content, OFFLINE, held_out=unseen,
                              config=EncoderConfig(steps=1, batch_size=2, crops_per_style=2))
    long = fit_style_encoder(g, styles(), content, OFFLINE, held_out=unseen, config=EncoderConfig(
        steps=40, batch_size=2, crops_per_style=2, learning_rate=3e-3, distill_weight=0.0,
        perceptual_weight=0.0))
    h = long.history["reconstruction"]
    assert np.mean(h[-5:]) < 0.7 * np.mean(h[:5])
    # Measured on photos the encoder never saw, and it still improved.
    assert long.psnr_images == "held-out"
    assert long.reconstruction_psnr == pytest.approx(reconstruction_psnr(g, long.encoder, unseen))
    assert long.reconstruction_psnr != pytest.approx(reconstruction_psnr(g, long.encoder, content))
    assert long.reconstruction_psnr > short.reconstruction_psnr + 2.0


def test_load_style_encoder_checks_presence_and_size(tmp_path: Path) -> None:
    g = tiny_generator()
    g.save(tmp_path / "generator.keras")
    assert load_style_encoder(tmp_path) is None
    with pytest.raises(ModelFileError, match="encoder-steps"):
        load_style_encoder(tmp_path, required=True)
    StyleEncoder(param_dim=g.param_dim + 1, feature_dim=8).save(tmp_path / ENCODER_FILE)
    with pytest.raises(ModelFileError, match="another model"):
        load_style_encoder(tmp_path, g)
    StyleEncoder(param_dim=g.param_dim, feature_dim=8).save(tmp_path / ENCODER_FILE)
    assert load_style_encoder(tmp_path / "generator.keras", g).param_dim == g.param_dim


def held_color_generator() -> StyleFusionGenerator:
    """A tiny generator whose bank holds each style's colours as the offline recipe trains them."""
    from tf_stylefusion.models.color_stats import HELD_NORM_COLUMNS, painting_color_transform

    keras.utils.set_random_seed(2)
    g = StyleFusionGenerator(2, ["stripes", "checker"], filters=(8, 12, 16), num_res_blocks=1,
                             color_norm=True, color_mix=True)
    table = g.bank.table.numpy()
    for row, images in zip(table, styles()):
        row[g.color_norm.offset : g.color_norm.offset + 6] = HELD_NORM_COLUMNS
        row[g.color_mix.offset : g.color_mix.offset + 12] = painting_color_transform(images)
    g.bank.table.assign(table)
    return g


def test_held_colour_columns_are_computed_from_the_image_not_predicted(tmp_path: Path) -> None:
    from tf_stylefusion.models.color_stats import held_color_offsets, painting_color_transform

    g = held_color_generator()
    offsets = held_color_offsets(g)
    assert offsets == (g.color_norm.offset, g.color_mix.offset)
    content = np.stack([texture("photo", 32, seed=i) for i in range(4)]).astype(np.float32) / 255
    encoder = fit_style_encoder(g, styles(), content, OFFLINE, style_size=64,
                                config=EncoderConfig(steps=3, batch_size=2, crops_per_style=2)).encoder
    assert encoder.color_offsets == offsets
    norm, mix = offsets

    # A style image's row takes that image's colour transform (at the encoder's style size, 64 here),
    # exactly as the bank's rows were made.
    painting = texture("checker", 64).astype(np.float32) / 255 * np.array([1.0, 0.6, 0.3], np.float32)
    row = encode_style_images(encoder, [painting])[0]
    np.testing.assert_allclose(row[mix : mix + 12], painting_color_transform([painting]), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(row[norm : norm + 6], [1, 1, 1, 0, 0, 0])

    # A photo's own row gives its colours back through the colour norm and transform.
    photo = content[1]
    own = encoder.predict_rows([photo], own_colors=True)
    style = (tf.ones([1, 1]), tf.constant(own[:, None, :]))
    through = g.color_mix(g.color_norm(tf.constant(photo[None]), style), style)
    np.testing.assert_allclose(through.numpy()[0], photo, atol=1e-4)

    # Saved and loaded with the encoder; a generator that learns its colours gets predicted ones.
    loaded = check_model_saving(encoder, encoder.statistics(tf.constant(photo[None])), tmp_path)
    assert loaded.color_offsets == offsets and loaded.color_epsilon == encoder.color_epsilon
    table = g.bank.table.numpy()
    table[0, norm] = 0.9
    g.bank.table.assign(table)
    assert held_color_offsets(g) is None
    assert held_color_offsets(tiny_generator()) is None

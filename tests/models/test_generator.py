from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tf_stylefusion.models.generator import StyleFusionGenerator
from tf_stylefusion.models.layers import (
    ConditionalInstanceNorm,
    ConvNormAct,
    ReflectionPad2D,
    ResidualBlock,
    UpsampleConv,
)

from ..helpers import check_config_roundtrip, check_model_saving


def small_generator(num_styles: int = 3, seed: int = 0) -> StyleFusionGenerator:
    tf.random.set_seed(seed)
    g = StyleFusionGenerator(num_styles, filters=(8, 12, 16), num_res_blocks=2)
    # Distinct, non-trivial styles so mixing tests are meaningful.
    rng = np.random.default_rng(seed)
    table = g.bank.table.numpy()
    g.bank.table.assign(table + rng.normal(0, 0.3, table.shape).astype(np.float32))
    return g


@pytest.mark.parametrize("h,w", [(32, 32), (33, 47), (64, 50), (45, 32)])
@pytest.mark.parametrize("pixel_shuffle", [True, False])
def test_any_size_at_least_32_keeps_shape_and_range(h: int, w: int, pixel_shuffle: bool) -> None:
    tf.random.set_seed(0)
    g = StyleFusionGenerator(3, filters=(8, 12, 16), num_res_blocks=1, pixel_shuffle=pixel_shuffle)
    x = tf.random.uniform([2, h, w, 3], seed=1)
    y = g((x, tf.constant([[1.0, 0, 0], [0, 0.3, 0.7]])))
    assert y.shape == (2, h, w, 3)
    assert float(tf.reduce_min(y)) >= 0.0 and float(tf.reduce_max(y)) <= 1.0


def test_pixel_shuffle_layout_keeps_every_layer_below_full_resolution() -> None:
    seen = []

    def record(i: int, x: tf.Tensor, weights: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        seen.append(tuple(x.shape[1:3]))
        return ConditionalInstanceNorm.moments(x, weights)

    for shuffle, largest in ((True, (32, 48)), (False, (64, 96))):
        g = StyleFusionGenerator(2, filters=(8, 12, 16), num_res_blocks=1, pixel_shuffle=shuffle)
        seen.clear()
        with g.norm_statistics(record):
            y = g((tf.random.uniform([1, 64, 96, 3], seed=2), tf.constant([[1.0, 0.0]])))
        assert y.shape == (1, 64, 96, 3) and max(seen) == largest
        assert min(seen) == (16, 24)  # the residual blocks work at 1/4 in both layouts


def test_files_without_the_layout_key_load_as_the_full_resolution_layout() -> None:
    config = StyleFusionGenerator(1, filters=(8, 8, 8), num_res_blocks=0, pixel_shuffle=False).get_config()
    del config["pixel_shuffle"]
    old = StyleFusionGenerator.from_config(config)
    assert not old.config.pixel_shuffle and old.out_conv.filters == 3
    assert StyleFusionGenerator(1, filters=(8, 8, 8), num_res_blocks=0, content_skip=False).out_conv.filters == 12
    # with the content skip the residual is 3 channels at half size, upsampled
    assert StyleFusionGenerator(1, filters=(8, 8, 8), num_res_blocks=0).out_conv.filters == 3


def test_one_hot_weights_give_exactly_that_style() -> None:
    g = small_generator()
    x = tf.random.uniform([1, 40, 36, 3], seed=2)
    table = g.bank.table
    for i in range(3):
        onehot = tf.one_hot([i], 3)
        only_i = g.stylize_with_table(x, tf.ones([1, 1]), table[i : i + 1])
        np.testing.assert_allclose(g((x, onehot)).numpy(), only_i.numpy(), atol=1e-6)
    # and different styles really differ
    assert float(tf.reduce_mean(tf.abs(g((x, tf.one_hot([0], 3))) - g((x, tf.one_hot([1], 3)))))) > 1e-3


def test_half_half_mix_is_interpolation_of_norm_parameters() -> None:
    g = small_generator()
    x = tf.random.uniform([1, 32, 48, 3], seed=3)
    table = g.bank.table
    averaged = (table[0:1] + table[2:3]) / 2.0
    mixed = g((x, tf.constant([[0.5, 0.0, 0.5]])))
    np.testing.assert_allclose(mixed.numpy(), g.stylize_with_table(x, tf.ones([1, 1]), averaged).numpy(),
                               atol=1e-5)


def test_weights_are_normalised_inside() -> None:
    g = small_generator()
    x = tf.random.uniform([1, 32, 32, 3], seed=4)
    np.testing.assert_allclose(g((x, tf.constant([[2.0, 0, 2.0]]))).numpy(),
                               g((x, tf.constant([[0.5, 0, 0.5]]))).numpy(), atol=1e-6)


def test_per_pixel_weights_uniform_equal_per_image_weights() -> None:
    g = small_generator()
    x = tf.random.uniform([1, 36, 40, 3], seed=5)
    w = tf.constant([[0.2, 0.5, 0.3]])
    per_pixel = tf.tile(w[:, None, None, :], [1, 36, 40, 1])
    np.testing.assert_allclose(g((x, per_pixel)).numpy(), g((x, w)).numpy(), atol=1e-5)


def test_the_colour_norm_and_transform_per_image_equal_their_per_pixel_form() -> None:
    # Per-image weights take the row-tiled colour norm and the convolutional colour transform
    # (layers.colour_affine); per-pixel weights the plain broadcasts: the same map either way.
    g = _twin(color_norm=True, color_mix=True)
    rng = np.random.default_rng(4)
    table = g.bank.table.numpy()
    g.bank.table.assign(table + rng.normal(0, 0.3, table.shape).astype(np.float32))
    x = tf.constant(rng.uniform(0, 1, (2, 36, 40, 3)).astype(np.float32))
    w = tf.constant([[0.2, 0.8], [1.0, 0.0]])
    per_pixel = tf.tile(w[:, None, None, :], [1, 36, 40, 1])
    np.testing.assert_allclose(g.recoloured(x, per_pixel).numpy(), g.recoloured(x, w).numpy(), atol=1e-5)
    np.testing.assert_allclose(g((x, per_pixel)).numpy(), g((x, w)).numpy(), atol=1e-5)


def test_colour_affine_is_a_per_pixel_matrix_product() -> None:
    from tf_stylefusion.models.layers import colour_affine

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (2, 5, 7, 3)).astype(np.float32)
    matrix = rng.normal(0, 1, (2, 3, 3)).astype(np.float32)
    offset = rng.normal(0, 1, (2, 3)).astype(np.float32)
    expected = np.einsum("bhwi,bij->bhwj", x, matrix) + offset[:, None, None, :]
    np.testing.assert_allclose(colour_affine(x, matrix, offset).numpy(), expected, atol=1e-5)


def test_keras_round_trip_identical_outputs_and_style_names(tmp_path) -> None:
    g = StyleFusionGenerator(2, style_names=["wave", "udnie"], filters=(8, 8, 16), num_res_blocks=1)
    g.bank.table.assign(g.bank.table.numpy() * 1.3)
    x = tf.random.uniform([1, 34, 38, 3], seed=6)
    loaded = check_model_saving(g, (x, tf.constant([[0.3, 0.7]])), tmp_path)
    assert loaded.style_names == ["wave", "udnie"]
    assert loaded.config == g.config


def test_layers_config_round_trip() -> None:
    for layer in (ReflectionPad2D(2), ConditionalInstanceNorm(8, 4), ConvNormAct(8, 0, strides=2),
                  ResidualBlock(8, 16, separable=True), UpsampleConv(4, 2)):
        check_config_roundtrip(layer)
    check_config_roundtrip(small_generator())


def test_reflection_pad_mirrors_border() -> None:
    x = tf.reshape(tf.range(16, dtype=tf.float32), [1, 4, 4, 1])
    y = ReflectionPad2D(1)(x).numpy()[0, :, :, 0]
    assert y.shape == (6, 6)
    assert y[0, 1] == x.numpy()[0, 1, 0, 0]  # row above row 0 mirrors row 1


def test_conditional_instance_norm_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 3.0, (2, 5, 6, 4)).astype(np.float32)
    table = rng.normal(0, 1, (3, 8)).astype(np.float32)
    w = np.array([[1, 0, 0], [0.25, 0.25, 0.5]], np.float32)
    y = ConditionalInstanceNorm(4, 0)(tf.constant(x), (tf.constant(w), tf.constant(table))).numpy()
    mean = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True)
    params = w @ table
    expected = (x - mean) / np.sqrt(var + 1e-5) * params[:, None, None, :4] + params[:, None, None, 4:]
    np.testing.assert_allclose(y, expected, atol=1e-4)


def test_per_pixel_weights_normalise_each_region_by_its_own_statistics() -> None:
    from tf_stylefusion.models.layers import REGION_PRIOR

    rng = np.random.default_rng(1)
    x = rng.normal(0.0, 1.0, (1, 8, 10, 2)).astype(np.float32)
    x[:, :, :5] = 2.0 + 2.0 * x[:, :, :5]  # the left half brighter and wider than the right
    weights = np.zeros((1, 8, 10, 2), np.float32)
    weights[:, :, :5, 0] = weights[:, :, 5:, 1] = 1.0
    table = np.array([[1.0, 1.0, 0.0, 0.0]] * 2, np.float32)  # γ = 1, β = 0 for both styles

    def norm(image: np.ndarray, w: np.ndarray) -> np.ndarray:
        return ConditionalInstanceNorm(2, 0)(tf.constant(image), (tf.constant(w), tf.constant(table))).numpy()[0]

    y = norm(x, weights)
    halves = [x[0, :, :5], x[0, :, 5:]]
    prior = REGION_PRIOR * 80  # the image lends each region this many pixels:
    pooled = sum(h.var((0, 1)) * 40 for h in halves) / 80  # the regions' pooled spread
    for half, region in zip((slice(0, 5), slice(5, 10)), halves):
        mean = (region.sum((0, 1)) + prior * x[0].mean((0, 1))) / (40 + prior)  # and the image's mean
        var = (region.var((0, 1)) * 40 + prior * pooled) / (40 + prior)
        np.testing.assert_allclose(y[:, half], (region - mean) / np.sqrt(var + 1e-5), atol=1e-4)
    # The right half comes out close to the right half normalised alone; with one mix for the
    # whole image (whole-image statistics) it is far from it.
    alone = norm(x[:, :, 5:], np.array([[0.0, 1.0]], np.float32))
    mix = np.array([[0.0, 1.0]], np.float32)
    assert np.abs(y[:, 5:] - alone).mean() < 0.5 * np.abs(norm(x, mix)[:, 5:] - alone).mean()


def test_every_variable_a_forward_pass_reads_is_tracked_and_saved(tmp_path) -> None:
    # A variable Keras does not track (a layer held in a tuple, a bare tf.Variable) still takes
    # part in a call, but is left out of get_weights, .keras files, checkpoints and exports.
    g = small_generator()
    x = tf.random.uniform([1, 36, 40, 3], seed=7)
    w = tf.constant([[0.2, 0.5, 0.3]])
    with tf.GradientTape() as tape:  # watches every trainable variable the call reads
        y = g((x, w)).numpy()
    read = {id(v) for v in tape.watched_variables()}
    tracked = {id(v.value) for v in g.trainable_variables}
    assert read == tracked and len(tracked) >= 3 + 2 * 2 + 2 + 1
    assert not g.non_trainable_variables
    # The tracked weights are the whole model: copied into another initialisation, they give
    # its output; a .keras round trip keeps them.
    twin = small_generator(seed=1)
    assert np.abs(twin((x, w)).numpy() - y).mean() > 1e-3
    twin.set_weights(g.get_weights())
    np.testing.assert_allclose(twin((x, w)).numpy(), y, atol=1e-6)
    check_model_saving(g, (x, w), tmp_path)


def _twin(**kwargs) -> StyleFusionGenerator:
    tf.random.set_seed(5)
    return StyleFusionGenerator(2, filters=(8, 12, 16), num_res_blocks=1, **kwargs)


def test_norm_epsilon_keeps_a_flat_image_flat() -> None:
    # A nearly flat photo (fog, a night sky): faint noise must not be blown up into structure.
    rng = np.random.default_rng(0)
    flat = (0.5 + rng.normal(0, 0.003, (1, 64, 64, 3))).astype(np.float32)
    w = np.array([[1.0, 0.0]], np.float32)
    floor, tiny = _twin(norm_epsilon=0.1), _twin(norm_epsilon=1e-5)
    tiny.set_weights(floor.get_weights())
    std_floor = float(np.std(floor((flat, w)).numpy()))
    std_tiny = float(np.std(tiny((flat, w)).numpy()))
    assert std_floor < 0.3 * std_tiny, (std_floor, std_tiny)


def test_content_skip_passes_fine_detail_through() -> None:
    # An untrained generator with the skip already carries the photo's 1-px detail; without it
    # the half- and quarter-size layers blur it away.
    x = tf.random.stateless_uniform([1, 64, 64, 3], seed=[1, 2])
    w = tf.constant([[0.5, 0.5]])

    def detail_correlation(g: StyleFusionGenerator) -> float:
        y = g((x, w))
        hp = lambda t: (t - tf.nn.avg_pool2d(t, 3, 1, "SAME")).numpy().ravel()
        return float(np.corrcoef(hp(x), hp(y))[0, 1])

    assert detail_correlation(_twin()) > 0.5
    assert abs(detail_correlation(_twin(content_skip=False))) < 0.3


def test_style_color_gives_each_style_its_own_palette() -> None:
    from tf_stylefusion.models.layers import StyleColor

    g = _twin(color_map=True)
    assert _twin().color is None and _twin().param_dim == g.param_dim - 12
    g.out_conv.kernel.assign(tf.zeros_like(g.out_conv.kernel))  # no residual: colour map only
    g.out_conv.bias.assign(tf.zeros_like(g.out_conv.bias))
    swap_rb = np.array([0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0], np.float32)  # R ← B, B ← R
    table = g.bank.table.numpy()
    assert np.array_equal(table[:, g.color.offset:g.color.offset + 12], np.tile(StyleColor.IDENTITY, (2, 1)))
    table[1, g.color.offset:g.color.offset + 12] = swap_rb
    g.bank.table.assign(table)
    x = tf.random.stateless_uniform([1, 40, 36, 3], seed=[3, 4], minval=0.1, maxval=0.9)
    same = g((x, tf.constant([[1.0, 0.0]]))).numpy()
    swapped = g((x, tf.constant([[0.0, 1.0]]))).numpy()
    np.testing.assert_allclose(same, x.numpy(), atol=1e-5)
    np.testing.assert_allclose(swapped, x.numpy()[..., ::-1], atol=1e-5)
    # per-pixel weights: left half style 0, right half style 1
    w = np.zeros([1, 40, 36, 2], np.float32)
    w[:, :, :18, 0], w[:, :, 18:, 1] = 1, 1
    regions = g((x, w)).numpy()
    np.testing.assert_allclose(regions[:, :, :16], same[:, :, :16], atol=1e-4)
    np.testing.assert_allclose(regions[:, :, 20:], swapped[:, :, 20:], atol=1e-4)


def test_color_norm_gives_each_photo_the_style_palette() -> None:
    from tf_stylefusion.models.generator import COLOR_NORM_INIT

    g = _twin(color_norm=True)
    assert _twin().color_norm is None and _twin().param_dim == g.param_dim - 6
    g.out_conv.kernel.assign(tf.zeros_like(g.out_conv.kernel))  # no residual: the colour norm only
    g.out_conv.bias.assign(tf.zeros_like(g.out_conv.bias))
    o = g.color_norm.offset
    table = g.bank.table.numpy()
    np.testing.assert_allclose(table[:, o:o + 6], np.tile(np.ravel(COLOR_NORM_INIT), (2, 1)))
    palette = np.array([0.1, 0.05, 0.02, 0.7, 0.3, 0.2], np.float32)  # spreads, then means (warm)
    table[1, o:o + 6] = palette
    g.bank.table.assign(table)
    rng = np.random.default_rng(3)
    photos = [rng.uniform(0.0, 0.4, (1, 40, 36, 3)).astype(np.float32),  # dark, cool
              rng.uniform(0.5, 1.0, (1, 40, 36, 3)).astype(np.float32)]  # bright
    for photo in photos:
        out = g((photo, tf.constant([[0.0, 1.0]]))).numpy()[0]
        # whatever the photo's colours, the output takes the style's mean and spread per channel
        np.testing.assert_allclose(out.mean(axis=(0, 1)), palette[3:], atol=0.02)
        np.testing.assert_allclose(out.std(axis=(0, 1)), palette[:3], rtol=0.15)
        # and keeps the photo's structure: the same pixels are bright, per channel
        assert np.corrcoef(out[..., 0].ravel(), photo[0, ..., 0].ravel())[0, 1] > 0.95
    # a 50/50 mix mixes the palettes
    mixed = g((photos[0], tf.constant([[0.5, 0.5]]))).numpy()[0]
    np.testing.assert_allclose(mixed.mean(axis=(0, 1)), 0.5 * (palette[3:] + np.array(COLOR_NORM_INIT[1])),
                               atol=0.03)


def test_flat_guard_leaves_flat_regions_recoloured_and_textured_ones_painted(tmp_path) -> None:
    # Left half a flat grey (a sky), right half strong texture: with the guard the flat half is
    # the recoloured photo exactly (nothing painted there), the textured half is what the network
    # paints without the guard; the gate is saved with the model.
    rng = np.random.default_rng(2)
    photo = np.full((1, 64, 96, 3), 0.4, np.float32)
    photo[:, :, 48:] = np.kron(rng.uniform(0.1, 0.9, (1, 8, 6, 3)), np.ones((1, 8, 8, 1)))  # 8 px blocks
    w = tf.constant([[0.3, 0.7]])
    guarded, free = _twin(color_norm=True, flat_guard=0.03), _twin(color_norm=True)
    table = free.bank.table.numpy()
    free.bank.table.assign(table + rng.normal(0, 0.3, table.shape).astype(np.float32))
    free.out_conv.bias.assign(tf.fill(free.out_conv.bias.shape, 0.5))  # a residual a sky would show
    guarded.set_weights(free.get_weights())
    out, painted = guarded((photo, w)).numpy(), free((photo, w)).numpy()
    recoloured = guarded.recoloured(photo, w).numpy()
    # the gate reaches 24 photo pixels past the texture's edge (tiling.receptive_radius)
    np.testing.assert_allclose(out[:, :, :24], recoloured[:, :, :24], atol=1e-5)
    assert np.abs(painted[:, :, :24] - recoloured[:, :, :24]).mean() > 0.05  # the guard is doing it
    np.testing.assert_allclose(out[:, :, 72:], painted[:, :, 72:], atol=1e-5)
    guarded.save(tmp_path / "g.keras")
    reloaded = tf.keras.models.load_model(tmp_path / "g.keras")
    assert reloaded.config.flat_guard == 0.03
    np.testing.assert_allclose(reloaded((photo, w)).numpy(), out, atol=1e-6)

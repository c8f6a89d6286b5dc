from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tf_stylefusion.training.losses import (
    content_loss,
    discriminator_loss,
    feature_loss,
    generator_adversarial_loss,
    gram_matrix,
    style_loss,
    total_variation,
)


def np_gram(f: np.ndarray) -> np.ndarray:
    b, h, w, c = f.shape
    flat = f.reshape(b, h * w, c)
    return np.einsum("bpc,bpd->bcd", flat, flat) / (h * w * c)


def test_gram_matches_numpy() -> None:
    f = np.random.default_rng(0).normal(size=(2, 5, 7, 6)).astype(np.float32)
    np.testing.assert_allclose(gram_matrix(tf.constant(f)).numpy(), np_gram(f), rtol=1e-5, atol=1e-6)


def test_style_loss_matches_numpy() -> None:
    rng = np.random.default_rng(1)
    g = [rng.normal(size=(2, 4, 4)).astype(np.float32), rng.normal(size=(2, 3, 3)).astype(np.float32)]
    t = [rng.normal(size=(2, 4, 4)).astype(np.float32), rng.normal(size=(2, 3, 3)).astype(np.float32)]
    norms = [2.0, 0.5]
    expected = sum(((gi - ti) ** 2).mean(axis=(1, 2)) / n for gi, ti, n in zip(g, t, norms))
    got = style_loss([tf.constant(x) for x in g], [tf.constant(x) for x in t], norms).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_content_loss_matches_numpy() -> None:
    rng = np.random.default_rng(2)
    f, t = rng.normal(size=(2, 3, 3, 4)), rng.normal(size=(2, 3, 3, 4))
    expected = ((f - t) ** 2).mean(axis=(1, 2, 3)) / ((t ** 2).mean(axis=(1, 2, 3)) + 1e-8)
    np.testing.assert_allclose(content_loss(tf.constant(f, tf.float32), tf.constant(t, tf.float32)).numpy(),
                               expected, rtol=1e-5)


def test_total_variation_matches_numpy_and_is_zero_on_flat() -> None:
    x = np.random.default_rng(3).random((2, 6, 5, 3)).astype(np.float32)
    expected = (np.diff(x, axis=1) ** 2).mean(axis=(1, 2, 3)) + (np.diff(x, axis=2) ** 2).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(total_variation(tf.constant(x)).numpy(), expected, rtol=1e-5)
    assert float(tf.reduce_max(total_variation(tf.ones([1, 8, 8, 3])))) == 0.0


def test_feature_loss_matches_numpy() -> None:
    rng = np.random.default_rng(4)
    f, t = rng.normal(size=(3, 16)), rng.normal(size=(3, 16))
    expected = ((f - t) ** 2).mean(-1) / ((t ** 2).mean(-1) + 1e-8)
    np.testing.assert_allclose(feature_loss(tf.constant(f, tf.float32), tf.constant(t, tf.float32)).numpy(),
                               expected, rtol=1e-5)


@pytest.mark.parametrize("kind", ["lsgan", "hinge", "bce"])
def test_adversarial_losses_prefer_correct_discriminator(kind: str) -> None:
    high, low = [tf.fill([2, 4, 4, 1], 3.0)], [tf.fill([2, 4, 4, 1], -3.0)]
    good = discriminator_loss(high, low, kind)  # real scored real, fake scored fake
    bad = discriminator_loss(low, high, kind)
    assert np.all(good.numpy() < bad.numpy())
    # G is happier when D calls its output real
    assert np.all(generator_adversarial_loss(high, kind).numpy() < generator_adversarial_loss(low, kind).numpy())


def test_lsgan_values() -> None:
    r, f = [tf.fill([1, 2, 2, 1], 1.0)], [tf.fill([1, 2, 2, 1], 0.0)]
    assert float(discriminator_loss(r, f, "lsgan")[0]) == 0.0
    assert float(generator_adversarial_loss(f, "lsgan")[0]) == 1.0


def test_unknown_adversarial_kind() -> None:
    with pytest.raises(ValueError, match="wgan"):
        generator_adversarial_loss([tf.zeros([1, 2, 2, 1])], "wgan")


def test_mean_cov_statistics_split_the_gram_into_means_and_covariance() -> None:
    from tf_stylefusion.training.losses import channel_means, gram_matrix, layer_statistics

    rng = np.random.default_rng(0)
    f = tf.constant(rng.random((2, 6, 5, 4)) + 3.0, tf.float32)  # large positive means, like ReLU
    grams, means = layer_statistics([f], "mean_cov")
    plain, none = layer_statistics([f], "gram")
    assert none == [] and len(means) == 1
    mu = channel_means(f).numpy()
    # Gram = covariance + μμᵀ (both normalised by C·H·W, the means by C)
    outer = np.einsum("bc,bd->bcd", mu, mu) / 4
    np.testing.assert_allclose(plain[0].numpy(), grams[0].numpy() + outer, rtol=1e-4)
    np.testing.assert_allclose(grams[0].numpy(), gram_matrix(f - mu[:, None, None, :]).numpy(), atol=1e-5)
    # the centred Gram of a shifted copy is unchanged: texture apart from the palette
    g2, m2 = layer_statistics([f + 1.0], "mean_cov")
    np.testing.assert_allclose(g2[0].numpy(), grams[0].numpy(), atol=1e-4)
    assert np.all(m2[0].numpy() > means[0].numpy())
    with pytest.raises(ValueError, match="style statistic"):
        layer_statistics([f], "moments")


def test_local_covariance_ignores_large_scale_light_and_dark() -> None:
    from tf_stylefusion.training.losses import layer_statistics

    y, x = np.mgrid[0:64, 0:64].astype(np.float32)
    ramp = np.repeat((x / 64.0)[None, ..., None], 4, -1)  # one smooth left-to-right gradient
    fine = np.repeat((((x // 2) + (y // 2)) % 2)[None, ..., None], 4, -1).astype(np.float32)
    global_cov = layer_statistics([tf.constant(ramp)], "mean_cov")[0][0].numpy()
    local_ramp = layer_statistics([tf.constant(ramp)], "mean_local_cov")[0][0].numpy()
    local_fine = layer_statistics([tf.constant(fine)], "mean_local_cov")[0][0].numpy()
    # the ramp's variance is all large-scale: the local statistic hardly sees it ...
    assert np.abs(local_ramp).max() < 0.05 * np.abs(global_cov).max()
    # ... while fine texture keeps its full covariance
    assert np.abs(local_fine).max() > 0.5 * np.abs(layer_statistics([tf.constant(fine)], "mean_cov")[0][0].numpy()).max()


def test_split_windows_keeps_each_images_windows_together() -> None:
    from tf_stylefusion.training.losses import split_windows

    x = np.arange(2 * 5 * 6 * 3, dtype=np.float32).reshape(2, 5, 6, 3)
    out = split_windows(tf.constant(x), 2).numpy()
    assert out.shape == (8, 2, 3, 3)  # the fifth row does not fit a 2-row window: dropped
    np.testing.assert_array_equal(out[1], x[0, 0:2, 3:6])
    np.testing.assert_array_equal(out[6], x[1, 2:4, 0:3])
    np.testing.assert_array_equal(split_windows(tf.constant(x), 1).numpy(), x)


def test_windowed_statistics_see_a_blob_that_global_statistics_miss() -> None:
    from tf_stylefusion.training.losses import layer_statistics, normalised_mse, split_windows

    y, x = np.mgrid[0:32, 0:32]
    texture = np.repeat(((x + y) % 2 * 2.0)[None, ..., None], 2, -1).astype(np.float32)  # 0/2 everywhere
    blob = np.repeat(((x >= 16) * 2.0)[None, ..., None], 2, -1).astype(np.float32)  # 0 | 2
    target_cov, target_mean = layer_statistics([tf.constant(texture)], "mean_cov")

    def loss(features: np.ndarray, windows: int) -> float:
        cov, mean = layer_statistics([split_windows(tf.constant(features), windows)], "mean_cov")
        k2 = windows * windows
        total = normalised_mse(cov, [tf.repeat(target_cov[0], k2, 0)], [1.0])
        total += normalised_mse(mean, [tf.repeat(target_mean[0], k2, 0)], [1.0])
        return float(tf.reduce_mean(total))

    # one half dark, one half light has the fine texture's global mean and covariance ...
    assert loss(blob, 1) < 1e-6 and loss(texture, 1) < 1e-6
    # ... but none of its windows looks like the texture
    assert loss(blob, 2) > 0.5
    assert loss(texture, 2) < 1e-6


def test_style_windows_must_be_positive() -> None:
    from tf_stylefusion.config import LossConfig
    from tf_stylefusion.errors import ConfigError

    assert LossConfig(loss_network="random").style_windows == 1
    with pytest.raises(ConfigError, match="style_windows"):
        LossConfig(loss_network="random", style_windows=0)


def test_layout_loss_frees_the_palette_but_not_large_scale_light() -> None:
    from tf_stylefusion.training.losses import layout_loss

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:64, 0:64] / 64.0
    photo = np.stack([0.2 + 0.5 * x, 0.3 + 0.2 * y, 0.5 - 0.3 * x * y], -1)[None]
    photo = (photo + rng.normal(0, 0.02, photo.shape)).astype(np.float32)
    # each channel scaled and shifted (a new palette) keeps the layout
    recoloured = photo * np.array([0.5, 1.5, 0.8]) + np.array([0.3, -0.1, 0.2])
    assert float(layout_loss(tf.constant(recoloured, tf.float32), tf.constant(photo))[0]) < 0.01
    # a bright disc painted into one corner moves light where the photo has none
    disc = ((x - 0.25) ** 2 + (y - 0.25) ** 2 < 0.04)[None, ..., None]
    blob = np.where(disc, 0.95, recoloured)
    assert float(layout_loss(tf.constant(blob, tf.float32), tf.constant(photo))[0]) > 0.3
    # fine texture added everywhere averages out at the layout's scale
    i, j = np.mgrid[0:64, 0:64]
    fine = recoloured + 0.1 * (((i + j) % 2) * 2 - 1)[None, ..., None]
    assert float(layout_loss(tf.constant(fine, tf.float32), tf.constant(photo))[0]) < 0.05


def test_linear_layout_frees_colour_mixes_but_still_sees_new_light() -> None:
    from tf_stylefusion.training.losses import layout_loss

    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:64, 0:64] / 64.0
    photo = np.stack([0.2 + 0.5 * x, 0.3 + 0.4 * y, 0.5 - 0.3 * x * y], -1)[None]
    photo = (photo + rng.normal(0, 0.02, photo.shape)).astype(np.float32)
    # every output channel a different mix of the photo's (an orange suit turned grey-blue)
    mixed = (photo @ np.array([[0.2, 0.7, 0.1], [0.6, 0.1, 0.5], [0.2, 0.2, 0.4]]) + 0.1).astype(np.float32)
    linear = float(layout_loss(tf.constant(mixed), tf.constant(photo), "linear")[0])
    assert linear < 0.01 < float(layout_loss(tf.constant(mixed), tf.constant(photo), "channel")[0])
    disc = ((x - 0.25) ** 2 + (y - 0.25) ** 2 < 0.04)[None, ..., None]
    blob = np.where(disc, 0.95, mixed).astype(np.float32)
    assert float(layout_loss(tf.constant(blob), tf.constant(photo), "linear")[0]) > 0.2
    with pytest.raises(ValueError, match="layout colours"):
        layout_loss(tf.constant(blob), tf.constant(photo), "hue")


def test_monotone_layout_frees_any_tone_curve_but_not_bands() -> None:
    from tf_stylefusion.training.losses import layout_loss

    rng = np.random.default_rng(2)
    y, x = np.mgrid[0:64, 0:64] / 64.0
    r = np.sqrt((y - 1.0) ** 2 + (x - 0.5) ** 2)  # a sky glowing from the bottom centre
    photo = np.stack([0.05 + 0.3 * np.exp(-2 * r)] * 3, -1)[None] * np.array([0.8, 0.9, 1.2])
    photo = (photo + rng.normal(0, 0.003, photo.shape)).astype(np.float32)
    monotone = lambda out: float(layout_loss(tf.constant(out, tf.float32), tf.constant(photo), "monotone")[0])  # noqa: E731
    # a steep, recoloured but monotone tone curve keeps every large-scale step's direction
    curved = (np.sqrt(photo) * np.array([1.2, 0.7, 0.4])).astype(np.float32)
    assert monotone(curved) < 0.005
    # the same sky turned into rings (light, dark, light with the distance) is counted
    rings = np.repeat((0.5 + 0.4 * np.cos(12 * r))[None, ..., None], 3, axis=-1)
    assert monotone(rings) > 0.05
    # what the channel layout counts against a monotone curve, the monotone one does not
    assert float(layout_loss(tf.constant(curved), tf.constant(photo), "channel")[0]) > 10 * monotone(curved)


def test_residual_layout_frees_texture_but_not_large_scale_light() -> None:
    """Against the recoloured photo, as it is: fine texture with no large-scale mean is free; a
    dome of light over the middle, or a blob, is counted, and in absolute units (a faint dome
    counts less than a strong one)."""
    from tf_stylefusion.training.losses import layout_loss

    rng = np.random.default_rng(3)
    recoloured = np.clip(0.4 + rng.normal(0, 0.02, (1, 64, 64, 3)), 0, 1).astype(np.float32)
    residual = lambda out: float(layout_loss(tf.constant(out, tf.float32), tf.constant(recoloured), "residual")[0])  # noqa: E731
    assert residual(recoloured) == 0.0
    checker = (np.indices((64, 64)).sum(0) % 2 * 2 - 1)[None, ..., None] * 0.2  # 1-px texture, zero mean per cell
    assert residual(recoloured + checker) < 1e-6
    y, x = np.mgrid[0:64, 0:64] / 64.0
    dome = np.exp(-((y - 0.6) ** 2 + (x - 0.5) ** 2) / 0.08)[None, ..., None]
    assert residual(recoloured + 0.3 * dome) > 0.005
    assert residual(recoloured + 0.3 * dome) > 5 * residual(recoloured + 0.1 * dome)
    # the standardised layouts do not see a dome that follows the photo's own (faint) glow
    glowing = (recoloured + 0.02 * dome).astype(np.float32)
    steep = (glowing + 0.3 * dome).astype(np.float32)
    assert float(layout_loss(tf.constant(steep), tf.constant(glowing), "monotone")[0]) < 0.01
    assert float(layout_loss(tf.constant(steep), tf.constant(glowing), "residual")[0]) > 0.005


def test_sliced_statistic_sees_a_distribution_that_mean_and_covariance_miss() -> None:
    from tf_stylefusion.training.losses import layer_statistics, sliced_distance, style_distance, to_quantiles

    rng = np.random.default_rng(0)
    # two textures with the same channel means and covariance (zero mean, unit variance,
    # independent channels) but different distributions: ±1 noise against Gaussian noise
    signs = tf.constant(rng.choice([-1.0, 1.0], size=(1, 32, 32, 3)), tf.float32)
    gauss = tf.constant(rng.normal(size=(1, 32, 32, 3)), tf.float32)

    def distance(statistic: str, output: tf.Tensor, target: tf.Tensor) -> float:
        g_t, m_t = layer_statistics([target], statistic, seed=5)
        if statistic == "mean_sliced":
            g_t = [to_quantiles(g) for g in g_t]
        g, m = layer_statistics([output], statistic, seed=5)
        norm = [float(tf.reduce_mean(tf.square(g_t[0])))]
        return float(style_distance(g, g_t, norm, statistic)[0])

    assert distance("mean_cov", gauss, signs) < 0.05  # the covariances agree to sampling error
    itself = distance("mean_sliced", signs, signs)  # > 0: the target is kept at 256 quantiles
    assert distance("mean_sliced", gauss, signs) > 5 * itself + 0.02
    # a texture statistic: where things are does not matter, only what is there
    shuffled = tf.reshape(tf.random.shuffle(tf.reshape(signs, [-1, 3]), seed=1), signs.shape)
    assert abs(distance("mean_sliced", shuffled, signs) - itself) < 1e-5
    # sorted slices of a bigger output compare with a smaller target's quantiles
    tiled = tf.tile(signs, [1, 2, 2, 1])
    sl, _ = layer_statistics([tiled], "mean_sliced", seed=5)
    target = [to_quantiles(layer_statistics([signs], "mean_sliced", seed=5)[0][0])]
    assert sl[0].shape[1] == 4 * 32 * 32
    assert float(sliced_distance(sl, target, [1.0])[0]) < 2 * itself


def test_slice_directions_are_orthonormal_and_fixed_by_the_seed() -> None:
    from tf_stylefusion.training.losses import resample_sorted, slice_directions

    d = slice_directions(6, seed=3).numpy()
    np.testing.assert_allclose(d.T @ d, np.eye(6), atol=1e-5)
    np.testing.assert_array_equal(d, slice_directions(6, seed=3).numpy())
    assert not np.allclose(d, slice_directions(6, seed=4).numpy())
    # read at the ranks it has, a quantile function is itself; at half as many, pair means
    v = tf.constant(np.arange(8, dtype=np.float32)[None, :, None])
    np.testing.assert_allclose(resample_sorted(v, 8).numpy(), v.numpy())
    np.testing.assert_allclose(resample_sorted(v, 4).numpy()[0, :, 0], [0.5, 2.5, 4.5, 6.5])


def test_palette_term_sees_a_palette_that_mean_and_covariance_miss_and_can_be_descended() -> None:
    from tf_stylefusion.training.losses import (
        PALETTE_DIRECTIONS,
        palette_distance,
        palette_slices,
        to_quantiles,
    )

    rng = np.random.default_rng(0)
    # a painting of two strong colours against Gaussian colours with the same mean and covariance
    two = np.where(rng.random((1, 32, 32, 1)) < 0.5, [0.9, 0.2, 0.1], [0.1, 0.5, 0.9]).astype(np.float32)
    flat = two.reshape(-1, 3)
    gauss = rng.multivariate_normal(flat.mean(0), np.cov(flat.T), size=32 * 32).astype(np.float32)
    gauss = tf.constant(gauss.reshape(1, 32, 32, 3))
    target = to_quantiles(palette_slices(tf.constant(two)))
    assert target.shape == (1, 256, PALETTE_DIRECTIONS)
    shuffled = tf.reshape(tf.random.shuffle(tf.reshape(two, [-1, 3]), seed=2), two.shape)
    itself = float(palette_distance(shuffled, target)[0])  # where colours are does not count
    assert float(palette_distance(gauss, target)[0]) > 20 * itself + 1e-3
    # the term's gradient moves colours onto the palette
    x = tf.Variable(gauss)
    opt = tf.keras.optimizers.Adam(0.02)
    before = float(palette_distance(x, target)[0])
    for _ in range(60):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(palette_distance(x, target))
        opt.apply_gradients([(tape.gradient(loss, x), x)])
    assert float(palette_distance(x, target)[0]) < 0.2 * before

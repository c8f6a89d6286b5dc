from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from tf_stylefusion.config import VGG_STYLE_LAYERS, DataConfig, LossConfig, RunConfig
from tf_stylefusion.errors import ConfigError
from tf_stylefusion.models.discriminator import PatchDiscriminator
from tf_stylefusion.models.loss_networks import vgg_features
from tf_stylefusion.training.gan import StyleTargets
from tf_stylefusion.training.run import LateCosine, _check_resume_compatible, build_gan

from ..conftest import texture
from ..helpers import check_config_roundtrip, check_model_saving

SIZE = 48


def tiny_config(num_styles: int, **losses) -> RunConfig:
    # No teacher: these tests feed the GAN unpaired batches.
    cfg = RunConfig(losses=LossConfig(loss_network="random", inception_network="random"),
                    data=DataConfig(teacher=""))
    cfg.generator.num_styles = num_styles
    cfg.generator.style_names = [f"s{i}" for i in range(num_styles)]
    cfg.generator.filters = (8, 12, 16)
    cfg.generator.num_res_blocks = 1
    cfg.discriminator.filters = 8
    # The classic recipe (5 Gram layers, adversarial on) unless a test asks otherwise: these
    # tests exercise the GAN's machinery, not the offline recipe.
    classic = dict(adversarial_weight=0.05, style_statistic="gram", style_layers=VGG_STYLE_LAYERS,
                   content_layer="block4_conv2", layout_weight=0.0, layout_colours="channel",
                   tv_weight=0.3, tv_of="output")
    cfg.losses = LossConfig(**{**dataclasses.asdict(cfg.losses), **classic, **losses})
    return cfg


def style_images() -> list[list[np.ndarray]]:
    return [[texture("stripes", 64).astype(np.float32) / 255], [texture("checker", 64).astype(np.float32) / 255]]


def fixed_batch(batch: int = 2):
    content = tf.constant(np.stack([texture("photo", SIZE, seed=i) for i in range(batch)]) / 255.0, tf.float32)
    styles = tf.constant(np.stack([texture("stripes", SIZE), texture("checker", SIZE)][:batch]) / 255.0, tf.float32)
    return content, styles, tf.constant([0, 1][:batch], tf.int32)


def test_discriminator_shapes_conditioning_and_saving(tmp_path) -> None:
    d = PatchDiscriminator(num_styles=2, filters=8, num_layers=2, num_scales=2)
    x = tf.random.uniform([2, 64, 64, 3], seed=0)
    outs = d((x, tf.constant([[1.0, 0], [0, 1.0]])))
    assert [tuple(o.shape) for o in outs] == [(2, 16, 16, 1), (2, 8, 8, 1)]
    d.scales[0].embed.kernel.assign(tf.random.normal(d.scales[0].embed.kernel.shape, seed=1))
    a = d((x, tf.constant([[1.0, 0], [1.0, 0]])))[0]
    b = d((x, tf.constant([[0.0, 1], [0, 1.0]])))[0]
    assert not np.allclose(a.numpy(), b.numpy())  # the style condition changes the verdict
    check_config_roundtrip(d)
    check_model_saving(d, (x, tf.constant([[0.5, 0.5], [1.0, 0]])), tmp_path)
    sn = PatchDiscriminator(num_styles=2, filters=8, num_layers=2, spectral_norm=True)
    assert any("SpectralNormalization" in type(l).__name__ for l in sn.scales[0].convs)


def first_and_last(gan, batch, steps: int) -> tuple[dict, dict]:
    """The losses of the first and the last of ``steps + 1`` training steps on one batch (traced
    once: eager steps of VGG19 cost minutes)."""
    step = tf.function(gan.train_step)
    first = step(batch)
    for _ in range(steps):
        last = step(batch)
    return first, last


@pytest.mark.parametrize("adversarial", ["lsgan", "hinge"])
def test_few_steps_lower_style_loss_on_fixed_batch(adversarial: str) -> None:
    tf.random.set_seed(0)
    cfg = tiny_config(2, adversarial=adversarial)
    cfg.training.g_learning_rate = 5e-3
    gan = build_gan(cfg, style_images())
    first, last = first_and_last(gan, fixed_batch(), 25)
    assert float(last["style"]) < 0.7 * float(first["style"])
    assert np.isfinite(float(last["d_loss"])) and float(last["d_loss"]) > 0
    assert int(gan.g_optimizer.iterations.numpy()) == 26
    assert int(gan.d_optimizer.iterations.numpy()) == 26


def _gram(f: np.ndarray) -> np.ndarray:
    b, h, w, c = f.shape
    flat = f.reshape(b, h * w, c).astype(np.float64)
    return np.einsum("bpc,bpd->bcd", flat, flat) / (h * w * c)


def test_fit_and_evaluate_report_every_named_loss() -> None:
    tf.random.set_seed(0)
    cfg = tiny_config(2)  # adversarial weight 0.05: the discriminator trains
    gan = build_gan(cfg, style_images())
    ds = tf.data.Dataset.from_tensors(fixed_batch()).repeat()
    d_before = [v.numpy().copy() for v in gan.discriminator.trainable_variables]
    history = gan.fit(ds, steps_per_epoch=2, epochs=1, verbose=0).history
    for name in ("g_loss", "d_loss", "style", "content", "tv", "adv_g", "feature", "layout"):
        assert name in history and np.isfinite(history[name][-1]), name
    for name in ("g_loss", "d_loss", "style", "content", "tv", "adv_g"):
        assert history[name][-1] > 0, name  # each term really computed (feature, layout: weight 0 here)
    d_after = gan.discriminator.trainable_variables
    assert any(np.abs(b - v.numpy()).max() > 0 for b, v in zip(d_before, d_after))

    # evaluate: image i under style i mod N, each loss as computed here by hand from the frozen
    # loss network's features; the models are left as they were.
    content = fixed_batch()[0]
    g_before = [v.numpy().copy() for v in gan.generator.trainable_variables]
    steps = int(gan.g_optimizer.iterations.numpy())
    result = gan.evaluate(tf.data.Dataset.from_tensors(content), verbose=0, return_dict=True)
    stylized = gan.generator((content, tf.one_hot([0, 1], 2)), training=False)
    vgg = gan._vgg[0]
    out_feats = [f.numpy() for f in vgg(stylized)]
    in_feats = [f.numpy() for f in vgg(content)]
    style = 0.0
    for layer, target in enumerate(gan.gram_targets):
        t = target.numpy()[[0, 1]]
        style = style + (np.mean((_gram(out_feats[layer]) - t) ** 2, axis=(1, 2))
                         / (np.mean(t ** 2, axis=(1, 2)) + 1e-12))
    n = gan.n_style_layers  # then the content layer
    f, t = out_feats[n].astype(np.float64), in_feats[n].astype(np.float64)
    content_l = np.mean((f - t) ** 2, axis=(1, 2, 3)) / (np.mean(t ** 2, axis=(1, 2, 3)) + 1e-8)
    y = stylized.numpy().astype(np.float64)
    tv = (np.mean(np.diff(y, axis=1) ** 2, axis=(1, 2, 3)) + np.mean(np.diff(y, axis=2) ** 2, axis=(1, 2, 3)))
    lc = gan.loss_config
    g_loss = lc.style_weight * style + lc.content_weight * content_l + lc.tv_weight * tv
    expected = {"style": style.mean(), "content": content_l.mean(), "tv": tv.mean(), "g_loss": g_loss.mean()}
    for name, value in expected.items():
        assert result[name] == pytest.approx(value, rel=1e-3), name
    assert int(gan.g_optimizer.iterations.numpy()) == steps
    for b, v in zip(g_before, gan.generator.trainable_variables):
        np.testing.assert_array_equal(b, v.numpy())


def test_without_adversarial_weight_discriminator_is_untouched() -> None:
    cfg = tiny_config(2, adversarial_weight=0.0)
    gan = build_gan(cfg, style_images())
    before = [v.numpy().copy() for v in gan.discriminator.trainable_variables]
    gan.train_step(fixed_batch())
    for b, v in zip(before, gan.discriminator.trainable_variables):
        np.testing.assert_array_equal(b, v.numpy())


def test_blend_targets_are_mixed_grams() -> None:
    cfg = tiny_config(2)
    gan = build_gan(cfg, style_images())
    content = fixed_batch()[0]
    stylized = gan.generator((content, tf.constant([[1.0, 0], [1.0, 0]])))
    w = tf.constant([[0.5, 0.5], [0.5, 0.5]])
    # style loss of a blend against the mean target equals a direct computation
    terms = gan.perceptual_terms(content, stylized, w)
    vgg = gan._vgg[0]
    feats = vgg(stylized)
    from tf_stylefusion.training.losses import gram_matrix, style_loss
    targets = [tf.repeat(tf.reduce_mean(t, 0, keepdims=True), 2, 0) for t in gan.gram_targets]
    norms = [np.mean(np.square(t.numpy()), axis=(1, 2)) + 1e-12 for t in targets]
    direct = style_loss([gram_matrix(f) for f in feats[:5]], targets, norms)
    np.testing.assert_allclose(terms["style"].numpy(), direct.numpy(), rtol=1e-4)


def test_sample_weights_mixes_only_a_fraction() -> None:
    cfg = tiny_config(3)
    cfg.training.mix_fraction = 0.5
    gan = build_gan(cfg, [style_images()[0]] * 3)
    w, pure = gan.sample_weights(tf.zeros([2000], tf.int32))
    w, pure = w.numpy(), pure.numpy()
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-6)
    assert 0.4 < 1 - pure.mean() < 0.6
    np.testing.assert_array_equal(w[pure == 1], np.eye(3)[[0] * int(pure.sum())])
    # every mix has a partner other than the sample's own style, and both others are drawn
    mixed = w[pure == 0]
    assert np.all(mixed[:, 1] + mixed[:, 2] > 0)
    assert 0.4 < np.mean(mixed[:, 1] > 0) < 0.6


def test_style_targets_average_a_collection() -> None:
    vgg = vgg_features("random", LossConfig().style_layers + ("block4_conv2",))
    a, b = style_images()
    both = StyleTargets.compute(vgg, [a + b], 5)
    sep = StyleTargets.compute(vgg, [a, b], 5)
    for l in range(5):
        np.testing.assert_allclose(both.grams[l][0], sep.grams[l].mean(0), rtol=1e-5, atol=1e-8)


def check_term_weighted(gan, name: str, weight: float) -> None:
    """Term ``name`` is computed (> 0 per sample) and adds ``weight ×`` itself to the G loss."""
    content = fixed_batch()[0]
    w = tf.constant([[1.0, 0.0], [0.3, 0.7]])
    terms = gan.perceptual_terms(content, gan.generator((content, w)), w)
    assert np.all(terms[name].numpy() > 0)
    without = {**terms, name: tf.zeros_like(terms[name])}
    np.testing.assert_allclose((gan.weighted_perceptual(terms) - gan.weighted_perceptual(without)).numpy(),
                               weight * terms[name].numpy(), rtol=1e-5, atol=1e-6)  # float32 totals


def test_inception_feature_loss_is_computed_and_weighted() -> None:
    cfg = tiny_config(2, inception_weight=0.5)
    gan = build_gan(cfg, style_images())
    assert gan.inception_targets.shape == (2, 2048)
    check_term_weighted(gan, "feature", 0.5)
    logs = gan.train_step(fixed_batch())
    assert float(logs["feature"]) > 0 and np.isfinite(float(logs["g_loss"]))


def test_layout_term_is_weighted_into_the_generator_loss() -> None:
    check_term_weighted(build_gan(tiny_config(2, layout_weight=2.0), style_images()), "layout", 2.0)


def recolouring_gan_without_residual(term: str, weight: float, **losses):
    """A colour-norm GAN whose ``term`` is checked to be computed and weighted, then its residual
    network's last layer zeroed (the output is the recoloured photo); with a batch and mixes."""
    cfg = tiny_config(2, **losses)
    cfg.generator.color_norm = cfg.generator.color_mix = True
    gan = build_gan(cfg, style_images())
    check_term_weighted(gan, term, weight)
    out_conv = gan.generator.out_conv
    out_conv.kernel.assign(tf.zeros_like(out_conv.kernel))
    out_conv.bias.assign(tf.zeros_like(out_conv.bias))
    return gan, fixed_batch()[0], tf.constant([[1.0, 0.0], [0.3, 0.7]])


def column_lattice() -> tf.Tensor:
    """``[1, SIZE, SIZE, 1]``: 0 and 1 in alternate pixel columns, the finest pattern TV can see."""
    return tf.cast(tf.reshape(tf.range(SIZE * SIZE) % 2, [1, SIZE, SIZE, 1]), tf.float32)


def test_residual_layout_holds_the_output_to_the_recoloured_photo() -> None:
    """The residual layout's target is the photo after the style's colour norm and transform
    (what the content skip passes on): a generator whose residual is zero scores nothing, one
    whose residual paints large-scale light does."""
    gan, content, w = recolouring_gan_without_residual("layout", 2.0, layout_weight=2.0, layout_colours="residual")
    g, out_conv = gan.generator, gan.generator.out_conv
    recoloured = g.recoloured(content, w)
    np.testing.assert_allclose(g((content, w)).numpy(), np.clip(recoloured.numpy(), 1 / 64, 1 - 1 / 64), atol=1e-5)
    assert np.all(gan.perceptual_terms(content, g((content, w)), w)["layout"].numpy() < 1e-4)
    out_conv.bias.assign(tf.constant([1.0, 1.0, 1.0]))  # the residual lightens everything
    assert np.all(gan.perceptual_terms(content, g((content, w)), w)["layout"].numpy() > 0.005)


def test_residual_tv_smooths_what_the_network_paints_not_the_photos_edges() -> None:
    """``tv_of="residual"``: total variation of the output minus the recoloured photo. A generator
    whose residual is zero scores nothing however sharp the photo; one painting a fine lattice does."""
    gan, content, w = recolouring_gan_without_residual("tv", 3.0, tv_weight=3.0, tv_of="residual")
    plain = build_gan(tiny_config(2), style_images())  # tv_of="output"
    flat = gan.generator((content, w))
    residual_tv = gan.perceptual_terms(content, flat, w)["tv"].numpy()  # clipped highlights only
    assert np.all(residual_tv < 0.05 * plain.perceptual_terms(content, flat, w)["tv"].numpy())  # the photo's edges
    lattice = flat + 0.1 * column_lattice()
    assert np.all(gan.perceptual_terms(content, lattice, w)["tv"].numpy() > 0.005)
    with pytest.raises(Exception, match="tv_of"):
        LossConfig(tv_of="photo")


def test_residual_light_tv_leaves_the_residuals_colour_free() -> None:
    """``tv_of="residual_light"``: a lattice that only changes hue (no light) costs nothing, one of
    light costs as much as under ``"residual"``."""
    gan, content, w = recolouring_gan_without_residual("tv", 3.0, tv_weight=3.0, tv_of="residual_light")
    whole, _, _ = recolouring_gan_without_residual("tv", 3.0, tv_weight=3.0, tv_of="residual")
    whole.generator.set_weights(gan.generator.get_weights())
    flat = tf.clip_by_value(gan.generator((content, w)), 0.25, 0.75)  # room for the lattice, no clipping
    lattice = column_lattice()
    hue = flat + 0.1 * lattice * tf.constant([1.0, -0.299 / 0.587, 0.0])  # luma unchanged
    light = flat + 0.1 * lattice
    base = gan.perceptual_terms(content, flat, w)["tv"].numpy()
    assert np.all(gan.perceptual_terms(content, hue, w)["tv"].numpy() - base < 1e-4)
    assert np.all(whole.perceptual_terms(content, hue, w)["tv"].numpy() - base > 0.005)
    np.testing.assert_allclose(gan.perceptual_terms(content, light, w)["tv"].numpy() - base,
                               whole.perceptual_terms(content, light, w)["tv"].numpy()
                               - whole.perceptual_terms(content, flat, w)["tv"].numpy(), rtol=0.05)


def test_sliced_targets_mix_as_quantiles_and_the_loss_falls() -> None:
    """``style_statistic="mean_sliced"``: targets are each style's quantiles along fixed random
    directions; a blend's target is the blend of the quantiles, and training lowers the term."""
    tf.random.set_seed(0)
    cfg = tiny_config(2, style_statistic="mean_sliced", adversarial_weight=0.0,
                      style_layers=VGG_STYLE_LAYERS[:2])
    cfg.training.g_learning_rate = 5e-3
    gan = build_gan(cfg, style_images())
    assert [tuple(t.shape) for t in gan.gram_targets] == [(2, 256, 64), (2, 256, 128)]
    content = fixed_batch()[0]
    w = tf.constant([[0.5, 0.5], [0.5, 0.5]])
    stylized = gan.generator((content, w))
    from tf_stylefusion.training.losses import layer_statistics, normalised_mse, sliced_distance
    q = [tf.repeat(tf.reduce_mean(t, 0, keepdims=True), 2, 0) for t in gan.gram_targets]
    m = [tf.repeat(tf.reduce_mean(t, 0, keepdims=True), 2, 0) for t in gan.mean_targets]
    slices, means = layer_statistics(gan._vgg[0](stylized)[:2], "mean_sliced", cfg.losses.seed)
    norm = lambda ts: [np.mean(np.square(t.numpy()), axis=tuple(range(1, t.shape.rank))) + 1e-12 for t in ts]
    direct = sliced_distance(slices, q, norm(q)) + normalised_mse(means, m, norm(m))
    np.testing.assert_allclose(gan.perceptual_terms(content, stylized, w)["style"].numpy(), direct.numpy(),
                               rtol=1e-4)
    step = tf.function(gan.train_step)
    batch = fixed_batch()
    first = float(step(batch)["style"])
    for _ in range(15):
        last = float(step(batch)["style"])
    assert last < 0.8 * first


def test_style_normalization_bank_vs_target() -> None:
    gan = build_gan(tiny_config(2), style_images())
    targets = [tf.constant(t) for t in gan.gram_targets]
    per_target = gan.style_norms(targets)
    for t, n in zip(targets, per_target):
        np.testing.assert_allclose(n.numpy(), np.mean(np.square(t.numpy()), axis=(1, 2)), rtol=1e-5)
    bank = build_gan(tiny_config(2, style_normalization="bank"), style_images())
    assert bank.style_norms(targets) == bank.gram_norms
    with pytest.raises(Exception, match="style_normalization"):
        LossConfig(style_normalization="global")


def test_the_offline_recipe_on_the_wide_network_lowers_the_style_loss() -> None:
    cfg = tiny_config(2, loss_network="random-wide", style_statistic="mean_cov", adversarial_weight=0.0,
                      style_layers=VGG_STYLE_LAYERS[:4], content_layer="block3_conv2")
    cfg.training.g_learning_rate = 5e-3
    gan = build_gan(cfg, style_images())
    assert gan.mean_targets[0].shape == (2, 128)  # twice VGG19's 64 filters in block1_conv1
    first, last = first_and_last(gan, fixed_batch(), 30)
    assert float(last["style"]) < 0.7 * float(first["style"])


def test_mean_cov_targets_and_loss_fall_on_a_fixed_batch() -> None:
    tf.random.set_seed(0)
    cfg = tiny_config(2, style_statistic="mean_cov", adversarial_weight=0.0)
    cfg.training.g_learning_rate = 5e-3
    gan = build_gan(cfg, style_images())
    assert len(gan.mean_targets) == 5 and gan.mean_targets[0].shape == (2, 64)
    batch = fixed_batch()
    first, last = first_and_last(gan, batch, 60)
    assert float(last["style"]) < 0.7 * float(first["style"])
    # a blend's target means are the mixed means
    content = batch[0]
    w = tf.constant([[0.5, 0.5], [0.5, 0.5]])
    stylized = gan.generator((content, w))
    from tf_stylefusion.training.losses import layer_statistics, normalised_mse, style_loss
    feats = gan._vgg[0](stylized)
    grams, means = layer_statistics(feats[:5], "mean_cov")
    g_t = [tf.repeat(tf.reduce_mean(t, 0, keepdims=True), 2, 0) for t in gan.gram_targets]
    m_t = [tf.repeat(tf.reduce_mean(t, 0, keepdims=True), 2, 0) for t in gan.mean_targets]
    norm = lambda ts: [np.mean(np.square(t.numpy()).reshape(2, -1), axis=1) + 1e-12 for t in ts]
    direct = style_loss(grams, g_t, norm(g_t)) + normalised_mse(means, m_t, norm(m_t))
    np.testing.assert_allclose(gan.perceptual_terms(content, stylized, w)["style"].numpy(), direct.numpy(),
                               rtol=1e-4)


def test_style_windows_match_every_window_to_its_samples_mix() -> None:
    from tf_stylefusion.training.losses import layer_statistics, normalised_mse, style_loss

    cfg = tiny_config(2, style_statistic="mean_cov", adversarial_weight=0.0, style_windows=2)
    gan = build_gan(cfg, style_images())
    content = fixed_batch()[0]
    w = tf.constant([[1.0, 0.0], [0.3, 0.7]])
    stylized = gan.generator((content, w))
    feats = gan._vgg[0](stylized)[:5]
    norm = lambda ts: [np.mean(np.square(t.numpy()).reshape(len(t), -1), axis=1) + 1e-12 for t in ts]
    expected = []
    for i in range(2):  # each sample: the mean over its four windows, each against that sample's mix
        windows = [f[i:i + 1, r * (f.shape[1] // 2):(r + 1) * (f.shape[1] // 2),
                     c * (f.shape[2] // 2):(c + 1) * (f.shape[2] // 2)] for f in feats
                   for r in range(2) for c in range(2)]
        per_window = []
        for j in range(4):
            grams, means = layer_statistics(windows[j::4], "mean_cov")
            g_t = [tf.einsum("n,ncd->cd", w[i], t)[None] for t in gan.gram_targets]
            m_t = [tf.einsum("n,nc->c", w[i], t)[None] for t in gan.mean_targets]
            per_window.append(float(style_loss(grams, g_t, norm(g_t))[0] + normalised_mse(means, m_t, norm(m_t))[0]))
        expected.append(np.mean(per_window))
    got = gan.perceptual_terms(content, stylized, w)["style"].numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    # and the windows are a different loss from the whole picture's
    cfg1 = tiny_config(2, style_statistic="mean_cov", adversarial_weight=0.0)
    whole = build_gan(cfg1, style_images()).perceptual_terms(content, stylized, w)["style"].numpy()
    assert np.all(np.abs(whole - got) > 1e-3 * np.abs(got))


def test_bank_learning_rate_multiplier_moves_the_bank_faster() -> None:
    moved = {}
    for mult in (1.0, 10.0):
        tf.random.set_seed(0)
        cfg = tiny_config(2, adversarial_weight=0.0)
        cfg.training.bank_learning_rate_multiplier = mult
        gan = build_gan(cfg, style_images())
        assert (gan.bank_optimizer is None) == (mult == 1.0)
        start = gan.generator.bank.table.numpy().copy()
        conv = gan.generator.out_conv.kernel.numpy().copy()
        for _ in range(5):
            gan.train_step(fixed_batch())
        moved[mult] = np.abs(gan.generator.bank.table.numpy() - start).mean()
        assert np.abs(gan.generator.out_conv.kernel.numpy() - conv).mean() > 0  # shared weights train too
        assert int(gan.g_optimizer.iterations.numpy()) == 5
    assert moved[10.0] > 4 * moved[1.0]


def test_style_scales_match_pooled_statistics_and_ignore_a_pixel_lattice() -> None:
    """Scale 2 compares output and painting after 2×2 average pooling: its targets are the pooled
    paintings' statistics, the style term is the mean over scales, and a ±lattice at the pixel
    period (what a half-size layout paints to fake fine texture) is invisible at scale 2 only."""
    from tf_stylefusion.training.gan import downscale

    one = build_gan(tiny_config(2, style_statistic="mean_cov", adversarial_weight=0.0), style_images())
    two = build_gan(tiny_config(2, style_statistic="mean_cov", adversarial_weight=0.0, style_scales=(2,)),
                    style_images())
    both = build_gan(tiny_config(2, style_statistic="mean_cov", adversarial_weight=0.0, style_scales=(1, 2)),
                     style_images())
    assert len(both.gram_targets) == 10
    for l in range(5):  # scale-major: scale 1's layers, then scale 2's
        np.testing.assert_allclose(both.gram_targets[l], one.gram_targets[l], rtol=1e-5)
        np.testing.assert_allclose(both.gram_targets[5 + l], two.gram_targets[l], rtol=1e-5)
    pooled = StyleTargets.compute(one._vgg[0], [[downscale(tf.constant(i[None]), 2)[0].numpy() for i in s]
                                                for s in style_images()], 5, statistic="mean_cov")
    np.testing.assert_allclose(two.gram_targets[2], pooled.grams[2], rtol=1e-5)

    content = fixed_batch()[0]
    w = tf.constant([[1.0, 0.0], [0.3, 0.7]])
    stylized = both.generator((content, w))
    terms = {g: g.perceptual_terms(content, stylized, w)["style"].numpy() for g in (one, two, both)}
    np.testing.assert_allclose(terms[both], (terms[one] + terms[two]) / 2, rtol=1e-4)

    checker = np.indices((SIZE, SIZE)).sum(0) % 2 * 2.0 - 1.0
    latticed = tf.clip_by_value(0.5 * stylized + 0.25 + 0.1 * checker[None, :, :, None], 0, 1)
    flat = tf.clip_by_value(0.5 * stylized + 0.25, 0, 1)
    at = lambda g, x: g.perceptual_terms(content, x, w)["style"].numpy()
    np.testing.assert_allclose(at(two, latticed), at(two, flat), rtol=1e-4)
    assert np.all(np.abs(at(one, latticed) - at(one, flat)) > 1e-2 * at(one, flat))


def test_style_scales_are_validated() -> None:
    for bad in [(0,), (1, 1), ()]:
        with pytest.raises(ConfigError, match="style_scales"):
            LossConfig(loss_network="random", style_scales=bad)
    vgg = vgg_features("random", LossConfig().style_layers + ("block4_conv2",))
    targets = StyleTargets.compute(vgg, style_images(), 5)
    cfg = tiny_config(2, style_scales=(1, 2))
    gan = build_gan(tiny_config(2), style_images())
    with pytest.raises(ValueError, match="2 scales"):
        type(gan)(gan.generator, gan.discriminator, gan._vgg[0], targets, cfg.losses)


def test_cosine_lr_schedule_falls_to_a_tenth_by_the_last_step() -> None:
    cfg = tiny_config(2)
    cfg.training.steps = 4
    cfg.training.lr_schedule = "cosine"
    gan = build_gan(cfg, style_images())
    base = cfg.training.g_learning_rate
    rates = lambda: (float(gan.g_optimizer.learning_rate), float(gan.bank_optimizer.learning_rate))
    np.testing.assert_allclose(rates(), (base, 10 * base), rtol=1e-5)
    batch = fixed_batch()
    for _ in range(2):
        gan.train_step(batch)
    mid = rates()
    assert 0.1 * base < mid[0] < base and np.isclose(mid[1], 10 * mid[0], rtol=1e-5)
    for _ in range(2):
        gan.train_step(batch)
    np.testing.assert_allclose(rates(), (0.1 * base, base), rtol=1e-5)
    cfg.training.lr_schedule = "constant"
    flat = build_gan(cfg, style_images())
    flat.train_step(batch)
    assert np.isclose(float(flat.g_optimizer.learning_rate), base)
    with pytest.raises(ConfigError, match="lr_schedule"):
        dataclasses.replace(cfg.training, lr_schedule="step")


def test_cosine_over_the_last_steps_holds_the_rate_until_then() -> None:
    cfg = tiny_config(2)
    cfg.training.steps, cfg.training.lr_schedule, cfg.training.lr_decay_steps = 5, "cosine", 3
    gan = build_gan(cfg, style_images())
    late = LateCosine(cfg.training, gan)  # what train() adds to fit's callbacks for this schedule
    base = cfg.training.g_learning_rate
    batch, rates = fixed_batch(), []
    for i in range(5):
        late.on_train_batch_begin(i)
        rates.append(float(gan.g_optimizer.learning_rate))
        gan.train_step(batch)
    late.on_train_batch_begin(5)
    np.testing.assert_allclose(rates[:3], base, rtol=1e-5)  # constant up to the decay's start
    assert base > rates[3] > rates[4] > 0.1 * base
    np.testing.assert_allclose(float(gan.g_optimizer.learning_rate), 0.1 * base, rtol=1e-5)
    np.testing.assert_allclose(float(gan.bank_optimizer.learning_rate), base, rtol=1e-5)
    with pytest.raises(ConfigError, match="lr_decay_steps"):
        dataclasses.replace(cfg.training, lr_decay_steps=9)


def test_a_constant_rate_run_resumes_into_a_late_fall_but_not_a_whole_run_cosine(tmp_path) -> None:
    saved = tiny_config(2)
    saved.training.steps = 8
    saved.to_json(tmp_path / "config.json")
    (tmp_path / "checkpoints").mkdir()
    late = dataclasses.replace(saved, training=dataclasses.replace(saved.training, steps=12, lr_schedule="cosine",
                                                                   lr_decay_steps=4))
    _check_resume_compatible(tmp_path, late)
    whole = dataclasses.replace(late, training=dataclasses.replace(late.training, lr_decay_steps=0))
    with pytest.raises(ConfigError, match="falls over the whole run.*--lr-decay-steps"):
        _check_resume_compatible(tmp_path, whole)


@pytest.mark.parametrize("how", ["painting", "painting_fixed"])
def test_color_norm_starts_at_the_paintings_colours(how: str) -> None:
    from tf_stylefusion.training.color_init import init_color_norm, painting_colours

    cfg = tiny_config(2, style_statistic="mean_cov", adversarial_weight=0.0)
    cfg.generator.color_mix = False  # the per-channel colour norm alone
    cfg.training.g_learning_rate = 5e-3
    gan = build_gan(cfg, style_images())
    norm = gan.generator.color_norm
    cols = slice(norm.offset, norm.offset + 6)
    before = gan.generator.bank.table.numpy().copy()
    init_color_norm(gan, style_images(), 0, how)
    table = gan.generator.bank.table.numpy()
    for i, images in enumerate(style_images()):
        spread, mean = painting_colours(images)
        np.testing.assert_allclose(table[i, cols], np.concatenate([spread, mean]), rtol=1e-6)
    other = np.ones(table.shape[1], bool)
    other[cols] = False
    np.testing.assert_array_equal(table[:, other], before[:, other])  # only the colour norm moved
    batch = fixed_batch()
    for _ in range(5):
        gan.train_step(batch)
    after = gan.generator.bank.table.numpy()
    assert not np.allclose(after[:, other], table[:, other])
    if how == "painting_fixed":
        np.testing.assert_array_equal(after[:, cols], table[:, cols])
    else:
        assert not np.allclose(after[:, cols], table[:, cols])


def test_color_transform_takes_an_average_photo_to_the_paintings_covariance_and_stays() -> None:
    from tf_stylefusion.training.color_init import (
        PHOTO_CORRELATION,
        init_color_norm,
        painting_color_transform,
    )

    cfg = tiny_config(2, style_statistic="mean_cov", adversarial_weight=0.0)
    cfg.generator.color_mix = True
    cfg.training.g_learning_rate = 5e-3
    gan = build_gan(cfg, style_images())
    g = gan.generator
    init_color_norm(gan, style_images(), 0, "painting_fixed")
    table = g.bank.table.numpy()
    held = np.zeros(table.shape[1], bool)
    held[g.color_norm.offset: g.color_norm.offset + 6] = held[g.color_mix.offset: g.color_mix.offset + 12] = True
    # A photo with an average photo's channel correlation (any spreads and means) comes out with
    # the painting's colour covariance and mean.
    rng = np.random.default_rng(0)
    spreads = np.array([0.2, 0.15, 0.1])
    pixels = rng.multivariate_normal([0.5, 0.4, 0.3], PHOTO_CORRELATION * np.outer(spreads, spreads), 64 * 64)
    photo = tf.constant(pixels.reshape(1, 64, 64, 3), tf.float32)
    for i, images in enumerate(style_images()):
        np.testing.assert_allclose(table[i, g.color_mix.offset: g.color_mix.offset + 12],
                                   painting_color_transform(images), rtol=1e-6)
        style = (tf.one_hot([i], 2), g.bank.table)
        out = g.color_mix(g.color_norm(photo, style), style).numpy().reshape(-1, 3)
        painting = np.concatenate([im.reshape(-1, 3) for im in images])
        np.testing.assert_allclose(out.mean(0), painting.mean(0), atol=0.01)
        np.testing.assert_allclose(np.cov(out.T), np.cov(painting.T), atol=0.1 * np.cov(painting.T).max())
    for _ in range(5):
        gan.train_step(fixed_batch())
    after = g.bank.table.numpy()
    np.testing.assert_array_equal(after[:, held], table[:, held])
    assert not np.allclose(after[:, ~held], table[:, ~held])
    twin = type(g).from_config(g.get_config())
    assert twin.color_mix is not None and twin.param_dim == g.param_dim
    with pytest.raises(ConfigError, match="color_mix needs"):
        RunConfig.from_dict({"generator": {"color_norm": False, "color_mix": True}})


def test_color_norm_init_is_validated() -> None:
    with pytest.raises(ConfigError, match="color_norm_init"):
        RunConfig.from_dict({"training": {"color_norm_init": "sky"}})
    with pytest.raises(ConfigError, match="colour norm"):
        RunConfig.from_dict({"generator": {"color_norm": False}, "training": {"color_norm_init": "painting"}})


def test_color_norm_init_defaults_to_the_painting_with_the_colour_norm_only() -> None:
    assert RunConfig(losses=LossConfig(loss_network="random")).training.color_norm_init == "painting_fixed"
    assert RunConfig().training.color_norm_init == "photo"  # the ImageNet recipe has no colour norm
    saved = RunConfig(losses=LossConfig(loss_network="random")).to_dict()
    del saved["training"]["color_norm_init"]  # a run saved before the option existed
    assert RunConfig.from_dict(saved).training.color_norm_init == "photo"


def test_a_new_loss_term_is_one_registered_method(monkeypatch) -> None:
    """Registering a term (here a second TV, weighed by ``tv_weight``) is all it takes: the
    terms compute it, the G loss weighs it and a training step logs it under its name."""
    from tf_stylefusion.training import gan as gan_module
    from tf_stylefusion.training.losses import total_variation

    monkeypatch.setattr(gan_module, "LOSS_TERMS", dict(gan_module.LOSS_TERMS))
    gan_module.loss_term("tv_again", "tv_weight")(lambda self, batch: 2.0 * total_variation(batch.stylized))
    gan = build_gan(tiny_config(2, tv_weight=0.5), style_images())
    check_term_weighted(gan, "tv_again", 0.5)
    terms = gan.perceptual_terms(fixed_batch()[0], gan.generator((fixed_batch()[0], tf.one_hot([0, 1], 2))),
                                 tf.one_hot([0, 1], 2))
    np.testing.assert_allclose(terms["tv_again"].numpy(), 2.0 * terms["tv"].numpy(), rtol=1e-5)
    logs = gan.train_step(fixed_batch())
    assert "tv_again" in logs and float(logs["tv_again"]) > 0
    with pytest.raises(ValueError, match="registered twice"):
        gan_module.loss_term("tv", "tv_weight")(lambda self, batch: batch.stylized)

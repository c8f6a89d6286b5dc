"""Noise tolerance before int8 export: the noise hook perturbs only inside its block and not the
colour norm's photo, and fine-tuning makes a generator hold its own pictures under noise."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tf_stylefusion.errors import ConfigError
from tf_stylefusion.models.generator import StyleFusionGenerator
from tf_stylefusion.models.layers import activation_noise
from tf_stylefusion.training.noise_tolerance import NoiseToleranceConfig, harden_for_integer

from ..helpers import distinct_styles_generator


def photos(n: int = 3, size: int = 64) -> list[np.ndarray]:
    """Smooth gradients with a few edges: what 8-bit noise shows up on."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = []
    for _ in range(n):
        a, b, c = rng.uniform(0.2, 0.8, 3)
        img = np.stack([a * yy + 0.1, b * xx + 0.1, c * (1 - yy) + 0.05], -1)
        img[size // 3 : size // 2, size // 4 :] += 0.3
        out.append(np.clip(img, 0, 1).astype(np.float32))
    return out


def noisy_psnr(generator: StyleFusionGenerator, reference: StyleFusionGenerator, images: np.ndarray,
               weights: np.ndarray, level: float = 0.04) -> float:
    """PSNR of ``generator`` under activation noise against ``reference`` clean, same noise draws."""
    tf.random.set_seed(7)

    @tf.function
    def run(x, w):
        with activation_noise(level):
            return generator((x, w), training=False)

    got = np.concatenate([run(images, weights).numpy() for _ in range(3)])
    want = np.concatenate([reference((images, weights), training=False).numpy()] * 3)
    return float(10 * np.log10(1.0 / np.mean((got - want) ** 2)))


def test_activation_noise_perturbs_only_inside_its_block() -> None:
    g = StyleFusionGenerator(2, ["a", "b"], filters=(8, 12, 16), num_res_blocks=1, color_norm=True)
    x, w = tf.constant(np.stack(photos(2, 32))), tf.constant([[1.0, 0.0], [0.5, 0.5]])
    clean = g((x, w)).numpy()
    with activation_noise(0.05):
        noisy = g((x, w)).numpy()
    assert 0 < np.abs(noisy - clean).mean() < 0.1
    np.testing.assert_array_equal(g((x, w)).numpy(), clean)
    with activation_noise(0.0):
        np.testing.assert_array_equal(g((x, w)).numpy(), clean)
    # the colour norm's output (the photo the content skip passes through) is left alone
    assert not g.color_norm.output_noise
    assert all(n.output_noise for n in g._norm_layers() if n is not g.color_norm)


def test_fine_tuning_holds_the_pictures_under_noise_and_leaves_the_original() -> None:
    teacher = distinct_styles_generator(["a", "b"], seed=3, bank_seed=4)
    before = [v.numpy().copy() for v in teacher.weights]
    images = tf.constant(np.stack(photos(2, 48)))
    weights = tf.constant([[1.0, 0.0], [0.3, 0.7]])
    start = noisy_psnr(teacher, teacher, images, weights)
    config = NoiseToleranceConfig(steps=60, image_size=48, batch_size=4, learning_rate=1e-3, log_every=20)
    student, history = harden_for_integer(teacher, photos(), config)
    end = noisy_psnr(student, teacher, images, weights)
    assert end > start + 1.0, (start, end)
    clean = student((images, weights), training=False).numpy()
    reference = teacher((images, weights), training=False).numpy()
    assert 10 * np.log10(1.0 / np.mean((clean - reference) ** 2)) > 30
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, teacher.weights))
    assert history.steps == [20, 40, 60] and len(history.noisy_psnr) == 3


def test_bad_settings_and_photos_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="noise must be in"):
        NoiseToleranceConfig(noise=0)
    with pytest.raises(ConfigError, match="crop_scales"):
        NoiseToleranceConfig(crop_scales=(0.5, 2.0))
    with pytest.raises(ConfigError, match="steps and batch_size"):
        NoiseToleranceConfig(steps=0)
    g = distinct_styles_generator(["a"], seed=0, bank_seed=1)
    with pytest.raises(ConfigError, match="no photo has a side of 128 px"):
        harden_for_integer(g, photos(2, 16), NoiseToleranceConfig(steps=1, crop_scales=(1.0,)))


def test_block_gains_scale_the_noise_of_their_blocks_only() -> None:
    g = StyleFusionGenerator(2, ["a", "b"], filters=(8, 12, 16), num_res_blocks=1, color_norm=False)
    x, w = tf.constant(np.stack(photos(2, 32))), tf.constant([[1.0, 0.0], [0.5, 0.5]])
    clean = g((x, w)).numpy()

    def deviation() -> float:
        tf.random.set_seed(1)
        with activation_noise(0.05):
            return float(np.abs(g((x, w)).numpy() - clean).mean())

    for norm in g._norm_layers():
        norm.noise_gain = 0.0
    assert deviation() == 0.0
    for norm in g.encoder[1].norms:
        norm.noise_gain = 1.0
    one = deviation()
    for norm in g.encoder[1].norms:
        norm.noise_gain = 3.0
    assert one > 0 and deviation() > 2 * one


def test_harden_sets_block_gains_on_the_student_only() -> None:
    teacher = distinct_styles_generator(["a", "b"], seed=3, bank_seed=4)
    config = NoiseToleranceConfig(steps=1, image_size=48, block_gains={"enc2": 3})
    student, _ = harden_for_integer(teacher, photos(), config)
    gains = {block.name: [n.noise_gain for n in block.norms]
             for block in student.encoder + student.residuals + student.decoder}
    assert gains["enc2"] == [3.0]
    assert all(set(v) == {1.0} for k, v in gains.items() if k != "enc2")
    assert all(n.noise_gain == 1.0 for n in teacher._norm_layers())
    with pytest.raises(ConfigError, match="no generator block named enc9"):
        harden_for_integer(teacher, photos(), NoiseToleranceConfig(steps=1, block_gains={"enc9": 2}))
    with pytest.raises(ConfigError, match="block_gains"):
        NoiseToleranceConfig(noise=0.2, block_gains={"enc1": 5})


def test_fine_tuning_keeps_the_colour_norm_the_teachers() -> None:
    tf.random.set_seed(5)
    teacher = StyleFusionGenerator(2, ["a", "b"], filters=(8, 12, 16), num_res_blocks=1, color_norm=True)
    teacher.bank.table.assign(teacher.bank.table + tf.random.normal(teacher.bank.table.shape, stddev=0.2, seed=6))
    config = NoiseToleranceConfig(steps=20, image_size=48, batch_size=4, learning_rate=1e-2, log_every=20)
    student, _ = harden_for_integer(teacher, photos(), config)
    norm = teacher.color_norm
    cols = slice(norm.offset, norm.offset + norm.param_size)
    after, before = student.bank.table.numpy(), teacher.bank.table.numpy()
    np.testing.assert_array_equal(after[:, cols], before[:, cols])
    rest = np.ones(before.shape[1], bool)
    rest[cols] = False
    assert not np.allclose(after[:, rest], before[:, rest])  # the other norms' rows do learn

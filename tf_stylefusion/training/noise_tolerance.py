"""Teach a trained generator to tolerate the error 8-bit activations add (before an int8 export).

An int8 file rounds every feature map to 255 steps: white noise at about −28 dB of each tensor.
The generator's depthwise filters pass that noise while they damp smooth regions, so a flat sky,
or a small photo upsampled to 1024², comes out grainy (tflite/README.md). Here a copy of the
generator (the student) is fine-tuned to give its own original's pictures (the teacher's, in
float) twice over: once clean and once with white noise added at every instance norm's input
and output (``layers.activation_noise``), more of it at the blocks named in ``block_gains``. No
loss network and no style images: the pictures stay the teacher's to the eye, and on the style
pack int8 parity rises by 4–5 dB at every size (12 % noise, 3× at enc1 and enc2; tflite/README.md).

    from tf_stylefusion.training.noise_tolerance import NoiseToleranceConfig, harden_for_integer
    student, history = harden_for_integer(generator, photos, NoiseToleranceConfig(steps=600))
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf
from PIL import Image

from ..errors import ConfigError
from ..models.generator import StyleFusionGenerator
from ..models.layers import activation_noise
from .color_init import held_color_norm_mask

log = logging.getLogger(__name__)


@dataclass
class NoiseToleranceConfig:
    """How the student is fine-tuned (``harden_for_integer``)."""

    steps: int = 600
    # Noise standard deviation as a fraction of each tensor's: 0.04 is −28 dB, an 8-bit tensor's
    # rounding error over a range of about ±15 standard deviations.
    noise: float = 0.04
    learning_rate: float = 1e-4
    batch_size: int = 4
    image_size: int = 128
    # Each crop is this fraction of image_size, resized up to it: the smooth pictures (small
    # photos shown large) where int8 loses most.
    crop_scales: tuple[float, ...] = (1.0, 0.5, 0.25)
    # Noise multiplier per generator block (``enc1``, ``res2``, ``dec1``...; the rest get 1): the
    # int8 file's error is not spread evenly, e.g. on the style pack rounding enc2's output alone
    # costs nearly all of its parity (tflite/README.md), so those blocks are taught harder.
    block_gains: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    log_every: int = 50

    def __post_init__(self) -> None:
        self.crop_scales = tuple(float(s) for s in self.crop_scales)
        if self.steps < 1 or self.batch_size < 1 or self.image_size < 32:
            raise ConfigError("noise tolerance: steps and batch_size must be ≥ 1, image_size ≥ 32")
        if not 0 < self.noise < 1 or self.learning_rate <= 0:
            raise ConfigError("noise tolerance: noise must be in (0, 1) and learning_rate > 0")
        if not self.crop_scales or not all(0 < s <= 1 for s in self.crop_scales):
            raise ConfigError(f"noise tolerance: crop_scales must be in (0, 1], got {self.crop_scales}")
        self.block_gains = {str(k): float(v) for k, v in dict(self.block_gains).items()}
        if not all(0 <= v and self.noise * v < 1 for v in self.block_gains.values()):
            raise ConfigError("noise tolerance: block_gains must be ≥ 0 with noise · gain < 1, "
                              f"got {self.block_gains}")


@dataclass
class NoiseToleranceHistory:
    """PSNR of the student against the teacher during fine-tuning, clean and with noise."""

    steps: list[int] = field(default_factory=list)
    clean_psnr: list[float] = field(default_factory=list)
    noisy_psnr: list[float] = field(default_factory=list)


class _Batches:
    """Random crops (some small and resized up) and random one-hot, 50/50 and uneven mixes."""

    def __init__(self, photos: Sequence[np.ndarray], num_styles: int, config: NoiseToleranceConfig):
        # Crop sides in pixels, one per scale; a photo is kept if the smallest fits it, so every
        # draw below ends.
        self.sides = [max(32, int(config.image_size * s)) for s in config.crop_scales]
        self.photos = [p for p in photos if min(p.shape[:2]) >= min(self.sides)]
        if not self.photos:
            raise ConfigError(f"noise tolerance: no photo has a side of {min(self.sides)} px or more")
        self.num_styles, self.config = num_styles, config
        self.rng = np.random.default_rng(config.seed)

    def crop(self) -> np.ndarray:
        size = self.config.image_size
        while True:
            photo = self.photos[self.rng.integers(len(self.photos))]
            side = self.sides[self.rng.integers(len(self.sides))]
            h, w = photo.shape[:2]
            if h >= side and w >= side:
                break
        y, x = self.rng.integers(0, h - side + 1), self.rng.integers(0, w - side + 1)
        crop = photo[y : y + side, x : x + side]
        if side != size:
            pixels = Image.fromarray(np.round(crop * 255).astype(np.uint8)).resize((size, size), Image.BILINEAR)
            crop = np.asarray(pixels, np.float32) / 255
        return crop.astype(np.float32)

    def weights(self) -> np.ndarray:
        w = np.zeros(self.num_styles, np.float32)
        a, b = self.rng.integers(self.num_styles, size=2)
        share = self.rng.choice([1.0, 0.5, float(self.rng.uniform())])
        w[a] += share
        w[b] += 1 - share
        return w

    def __call__(self) -> tuple[np.ndarray, np.ndarray]:
        n = self.config.batch_size
        return np.stack([self.crop() for _ in range(n)]), np.stack([self.weights() for _ in range(n)])


def _set_block_gains(generator: StyleFusionGenerator, gains: dict[str, float]) -> None:
    blocks = {block.name: block for block in generator.encoder + generator.residuals + generator.decoder}
    unknown = sorted(set(gains) - set(blocks))
    if unknown:
        raise ConfigError(f"noise tolerance: no generator block named {', '.join(unknown)} "
                          f"(blocks: {', '.join(blocks)})")
    for name, gain in gains.items():
        for norm in blocks[name].norms:
            norm.noise_gain = gain


def _psnr_from_mse(mse: float) -> float:
    return float(10 * np.log10(1.0 / max(mse, 1e-12)))


def harden_for_integer(generator: StyleFusionGenerator, photos: Sequence[np.ndarray],
                       config: NoiseToleranceConfig | None = None,
                       on_log: Callable[[str], None] | None = None
                       ) -> tuple[StyleFusionGenerator, NoiseToleranceHistory]:
    """A copy of ``generator`` fine-tuned to keep its pictures under activation noise.

    ``photos`` are ``[H, W, 3]`` float arrays in [0, 1] (training photos, not the ones you will
    judge it on). ``generator`` itself is not changed. The loss is the mean squared difference
    from ``generator``'s own float output, without and with ``config.noise``.
    """
    config = config or NoiseToleranceConfig()
    tf.random.set_seed(config.seed)
    teacher = generator
    student = generator.copy()
    _set_block_gains(student, config.block_gains)
    batches = _Batches(photos, generator.num_styles, config)
    optimizer = tf.keras.optimizers.Adam(config.learning_rate)
    # The colour norm is each style's palette (held at the painting's by the offline recipe) and
    # sits before the noise: it stays the teacher's, only the layers after it learn.
    bank_mask = held_color_norm_mask(student)

    @tf.function(reduce_retracing=True)
    def step(images: tf.Tensor, weights: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        target = teacher((images, weights), training=False)
        with tf.GradientTape() as tape:
            clean = student((images, weights), training=True)
            with activation_noise(config.noise):
                noisy = student((images, weights), training=True)
            clean_mse = tf.reduce_mean(tf.square(clean - target))
            noisy_mse = tf.reduce_mean(tf.square(noisy - target))
            loss = clean_mse + noisy_mse
        variables = student.trainable_variables
        grads = [g * bank_mask if v is student.bank.table else g
                 for g, v in zip(tape.gradient(loss, variables), variables)]
        optimizer.apply_gradients(zip(grads, variables))
        return clean_mse, noisy_mse

    history = NoiseToleranceHistory()
    for i in range(1, config.steps + 1):
        images, weights = batches()
        clean_mse, noisy_mse = step(tf.constant(images), tf.constant(weights))
        if i % config.log_every == 0 or i == config.steps:
            history.steps.append(i)
            history.clean_psnr.append(_psnr_from_mse(float(clean_mse)))
            history.noisy_psnr.append(_psnr_from_mse(float(noisy_mse)))
            line = (f"noise tolerance step {i}/{config.steps}: against the original, clean "
                    f"{history.clean_psnr[-1]:.1f} dB, with noise {history.noisy_psnr[-1]:.1f} dB")
            (on_log or log.info)(line)
    return student, history

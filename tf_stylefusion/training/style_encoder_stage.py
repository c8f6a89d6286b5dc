"""Training the StyleEncoder after the bank: a small ``fit`` stage with the generator frozen.

Three terms, each a reason the encoder exists:

1. **distillation** — for crops of a bank style, predict that style's bank row (normalised MSE):
   known styles map to what the GAN learned for them;
2. **perceptual** — stylizing a content crop with the row predicted from a style crop must match
   *that crop's* Gram statistics (Magenta's objective): rows for unseen images mean something;
3. **reconstruction** — the row predicted from a content crop must make the generator return the
   content unchanged (L1 in pixels). ``strength`` interpolates towards the content's own row, so
   this is what makes strength 0 give back the photo.

Only the encoder's weights change; the generator and the loss network stay frozen.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from ..config import LossConfig
from ..data.images import psnr
from ..errors import ConfigError
from ..fileutil import atomic_path
from ..models.color_stats import held_color_offsets
from ..models.generator import StyleFusionGenerator
from ..models.loss_networks import vgg_features
from ..models.style_encoder import StyleEncoder, style_statistics
from .color_init import held_color_norm_mask
from .losses import content_loss, gram_matrix, style_loss

log = logging.getLogger(__name__)



@dataclass
class EncoderConfig:
    """Settings of the encoder stage (``stylefusion train --encoder-steps N``)."""

    steps: int = 300
    batch_size: int = 4
    learning_rate: float = 1e-3
    bottleneck: int = 100
    hidden: int = 256
    crops_per_style: int = 8
    distill_weight: float = 1.0
    perceptual_weight: float = 1.0
    reconstruction_weight: float = 5.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.crops_per_style < 1:
            raise ConfigError("encoder steps, batch_size and crops_per_style must be >= 1")


@dataclass
class EncoderFitResult:
    """The trained encoder, its loss curve and how well strength 0 reproduces the content:
    ``reconstruction_psnr`` on ``psnr_images`` ("held-out" photos the encoder never saw, or the
    "training" crops when none were given)."""

    encoder: StyleEncoder
    history: dict[str, list[float]] = field(default_factory=dict)
    reconstruction_psnr: float = float("nan")
    psnr_images: str = "held-out"


def _random_crops(images: Sequence[np.ndarray], count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """The first image whole, then crops of 50–100 % of the shorter side at the original scale."""
    crops = [images[0]]
    while len(crops) < count:
        img = images[int(rng.integers(len(images)))]
        h, w = img.shape[:2]
        size = max(32, int(min(h, w) * rng.uniform(0.5, 1.0)))
        y, x = int(rng.integers(h - size + 1)), int(rng.integers(w - size + 1))
        crops.append(img[y : y + size, x : x + size])
    return crops


def fit_style_encoder(generator: StyleFusionGenerator, style_images: Sequence[Sequence[np.ndarray]],
                      content: np.ndarray, losses: LossConfig | None = None, style_size: int = 256,
                      content_size: int | None = None, config: EncoderConfig | None = None,
                      row_ids: Sequence[int] | None = None, verbose: bool | int = False,
                      held_out: np.ndarray | None = None) -> EncoderFitResult:
    """Train a StyleEncoder for ``generator`` (frozen).

    ``style_images[n]`` are bank style n's images at the scale it was learned at (shorter side
    ``style_size``); ``content`` is a ``[M, S, S, 3]`` array of content crops, cut from images
    whose shorter side was ``content_size`` (default S). ``row_ids[n]`` is the bank row of
    ``style_images[n]`` (default n: one image set per bank style).
    """
    losses = losses or LossConfig()
    config = config or EncoderConfig()
    row_ids = list(range(len(style_images))) if row_ids is None else list(row_ids)
    if len(style_images) != len(row_ids) or not all(0 <= r < generator.num_styles for r in row_ids):
        raise ConfigError(f"{len(style_images)} style image sets for bank rows {row_ids} of a bank of "
                          f"{generator.num_styles}")
    content = np.asarray(content, np.float32)
    content_size = int(content_size or content.shape[1])
    rng = np.random.default_rng(config.seed)
    layers = tuple(losses.style_layers) + (losses.content_layer,)
    n_layers = len(losses.style_layers)
    vgg = vgg_features(losses.loss_network, layers, losses.seed)

    # Pools computed once: statistics (encoder input) and Grams (perceptual target) per crop.
    pool_stats, pool_ids, pool_grams, pool_crops = [], [], [[] for _ in range(n_layers)], []
    for sid, imgs in enumerate(style_images):
        for crop in _random_crops(list(imgs), config.crops_per_style, rng):
            pool_crops.append(crop)
            batch = tf.convert_to_tensor(crop[None], tf.float32)
            feats = vgg(batch)
            pool_stats.append(style_statistics(vgg, batch, n_layers)[0].numpy())
            for l in range(n_layers):
                pool_grams[l].append(gram_matrix(feats[l])[0].numpy())
            pool_ids.append(row_ids[sid])
    content_stats = np.concatenate([style_statistics(vgg, tf.constant(content[i : i + 8]), n_layers).numpy()
                                    for i in range(0, len(content), 8)])
    stats_s = tf.constant(np.stack(pool_stats))
    stats_c = tf.constant(content_stats)
    ids_s = tf.constant(pool_ids, tf.int32)
    grams = [tf.constant(np.stack(g)) for g in pool_grams]
    gram_norms = [tf.constant(float(np.mean(np.square(g.numpy()))) + 1e-12) for g in grams]
    content_t = tf.constant(content)

    bank = tf.convert_to_tensor(generator.bank.table)
    mean_row = tf.reduce_mean(bank, axis=0)
    bank_scale = tf.reduce_mean(tf.square(bank - mean_row)) + 1e-4

    # Held colour columns are computed from each image, not learned: rows get them before the
    # generator sees them, and distillation leaves them out.
    offsets = held_color_offsets(generator)
    color_epsilon = generator.color_norm.epsilon if offsets is not None else 1e-3
    encoder = StyleEncoder(generator.param_dim, int(stats_s.shape[-1]), config.bottleneck, config.hidden,
                           losses.loss_network, losses.style_layers, losses.content_layer,
                           losses.seed, style_size, content_size, offsets, color_epsilon)
    held = (1.0 - held_color_norm_mask(generator)[0] if offsets is not None
            else np.zeros([generator.param_dim], np.float32))
    keep = tf.constant(1.0 - held)
    fixed_s = tf.constant(encoder.exact_colors(np.zeros([len(pool_crops), len(held)]), pool_crops) * held)
    fixed_c = tf.constant(encoder.exact_colors(np.zeros([len(content), len(held)]), list(content), own=True)
                          * held)
    encoder.set_feature_scaling(np.concatenate([stats_s.numpy(), content_stats]))
    encoder.set_base_row(mean_row.numpy())
    optimizer = keras.optimizers.Adam(config.learning_rate)
    b = config.batch_size
    n_pool, n_content = int(stats_s.shape[0]), int(content_t.shape[0])

    @tf.function
    def step(seed: tf.Tensor) -> dict[str, tf.Tensor]:
        u = tf.random.stateless_uniform([3, b], seed=seed)
        i_s = tf.cast(u[0] * n_pool, tf.int32)
        i_c = tf.cast(u[1] * n_content, tf.int32)
        i_r = tf.cast(u[2] * n_content, tf.int32)
        photos, recon_targets = tf.gather(content_t, i_c), tf.gather(content_t, i_r)
        with tf.GradientTape() as tape:
            rows_s = encoder(tf.gather(stats_s, i_s), training=True) * keep + tf.gather(fixed_s, i_s)
            rows_c = encoder(tf.gather(stats_c, i_r), training=True) * keep + tf.gather(fixed_c, i_r)
            error = tf.square(rows_s - tf.gather(bank, tf.gather(ids_s, i_s))) * keep
            distill = tf.reduce_sum(error) / (b * tf.reduce_sum(keep)) / bank_scale
            table = tf.concat([rows_s, rows_c], axis=0)[:, None, :]
            out = generator.stylize_with_table(tf.concat([photos, recon_targets], axis=0),
                                               tf.ones([2 * b, 1]), table)
            stylized, recon = out[:b], out[b:]
            feats = vgg(tf.concat([stylized, photos], axis=0))
            style = style_loss([gram_matrix(f[:b]) for f in feats[:n_layers]],
                               [tf.gather(g, i_s) for g in grams], gram_norms)
            cont = content_loss(feats[n_layers][:b], feats[n_layers][b:])
            perceptual = tf.reduce_mean(losses.style_weight * style + losses.content_weight * cont)
            reconstruction = tf.reduce_mean(tf.abs(recon - recon_targets))
            loss = (config.distill_weight * distill + config.perceptual_weight * perceptual
                    + config.reconstruction_weight * reconstruction)
        grads = tape.gradient(loss, encoder.trainable_variables)
        optimizer.apply_gradients(zip(grads, encoder.trainable_variables))
        return {"loss": loss, "distill": distill, "perceptual": perceptual,
                "reconstruction": reconstruction}

    history: dict[str, list[float]] = {}
    # verbose 2 (Keras' meaning): one plain line at the end, no redrawn bar (output to a file)
    bar = keras.utils.Progbar(config.steps, unit_name="step", verbose=int(verbose)) if verbose else None
    for i in range(config.steps):
        logs = step(tf.constant([config.seed, i], tf.int32))
        for k, v in logs.items():
            history.setdefault(k, []).append(float(v))
        if bar is not None:
            bar.update(i + 1, [(k, float(v)) for k, v in logs.items()])

    measured = content if held_out is None else np.asarray(held_out, np.float32)
    result = EncoderFitResult(encoder, history, reconstruction_psnr(generator, encoder, measured),
                              "training" if held_out is None else "held-out")
    log.info("style encoder: %d steps, strength-0 reconstruction %.1f dB on %s images", config.steps,
             result.reconstruction_psnr, result.psnr_images)
    return result


def reconstruction_psnr(generator: StyleFusionGenerator, encoder: StyleEncoder, images: np.ndarray) -> float:
    """PSNR of each photo against the generator run with the photo's own predicted row (what
    strength 0 starts from), over ``[K, S, S, 3]`` images."""
    recon = []
    for i in range(0, len(images), 8):
        batch = tf.constant(images[i: i + 8])
        rows = encoder.exact_colors(encoder(encoder.statistics(batch)).numpy(), images[i: i + 8], own=True)
        recon.append(generator.stylize_with_table(batch, tf.ones([len(rows), 1]), rows[:, None, :]).numpy())
    return psnr(np.concatenate(recon), images)


def save_style_encoder(encoder: StyleEncoder, path: str) -> None:
    """Save as ``.keras`` atomically."""
    with atomic_path(path) as tmp:
        encoder.save(tmp)

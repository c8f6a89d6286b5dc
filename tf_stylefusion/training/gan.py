"""StyleFusionGAN: the keras.Model whose ``train_step`` trains generator and discriminator."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from ..config import LossConfig
from ..models.discriminator import PatchDiscriminator
from ..models.generator import StyleFusionGenerator
from ..models.loss_networks import InceptionFeatures, VGGFeatures
from .losses import (
    content_loss,
    discriminator_loss,
    feature_loss,
    generator_adversarial_loss,
    layer_statistics,
    layout_loss,
    luminance,
    normalised_mse,
    palette_distance,
    palette_slices,
    split_windows,
    style_distance,
    to_quantiles,
    total_variation,
)



@dataclass(frozen=True)
class LossTerm:
    """One perceptual loss term: ``compute(gan, batch)`` gives its per-sample ``[B]`` loss,
    ``weight`` names the LossConfig field that weighs it. ``always``: computed (and logged) at
    weight 0 too; the others are zeros then, so an unused term costs nothing."""

    name: str
    weight: str
    always: bool
    compute: Callable[["StyleFusionGAN", "LossBatch"], tf.Tensor]


# Every perceptual term, in registration order. A new term is one method decorated with
# ``loss_term`` (and its weight field in LossConfig): perceptual_terms computes it,
# weighted_perceptual weighs it and the metrics log it under its name.
LOSS_TERMS: dict[str, LossTerm] = {}


TermMethod = Callable[..., tf.Tensor]


def loss_term(name: str, weight: str, always: bool = False) -> Callable[[TermMethod], TermMethod]:
    """Register a ``StyleFusionGAN`` method ``(self, batch: LossBatch) -> [B]`` as term ``name``."""
    def register(method: TermMethod) -> TermMethod:
        if name in LOSS_TERMS:
            raise ValueError(f"loss term {name!r} registered twice")
        LOSS_TERMS[name] = LossTerm(name, weight, always, method)
        return method
    return register


class LossBatch:
    """What a batch's loss terms share: the content, its stylization and their style weights,
    and (each computed once, when a term first asks) the loss network's features of both and the
    photo as the style's colour norm recoloured it. With a teacher: ``teacher``, its picture of
    each sample's photo and style, and ``pure``, 1 for the samples whose mix is one style (only
    they have a teacher picture)."""

    def __init__(self, gan: "StyleFusionGAN", content: tf.Tensor, stylized: tf.Tensor, weights: tf.Tensor,
                 teacher: tf.Tensor | None = None, pure: tf.Tensor | None = None):
        self.gan, self.content, self.stylized, self.weights = gan, content, stylized, weights
        self.teacher, self.pure = teacher, pure
        self.size = tf.shape(content)[0]

    @functools.cached_property
    def features(self) -> list[tf.Tensor]:
        """The loss network's features of ``[stylized; content]`` (stylized first)."""
        return self.gan._vgg[0](tf.concat([self.stylized, self.content], axis=0))

    @functools.cached_property
    def teacher_features(self) -> list[tf.Tensor]:
        """The loss network's features of the teacher's pictures."""
        return self.gan._vgg[0](self.teacher)

    @functools.cached_property
    def recoloured(self) -> tf.Tensor:
        # A target: terms against it train the residual network only.
        return tf.stop_gradient(self.gan.generator.recoloured(self.content, self.weights))


@dataclass
class StyleTargets:
    """What each style of the bank should look like to the loss networks.

    ``grams[l]`` is ``[N, C_l, C_l]``: style n's Gram at style layer l, averaged over the style's
    images (a collection defines a style by its mean statistics). ``norms[l]`` is the mean square
    of layer l's targets over the bank (the style-loss scale under ``style_normalization="bank"``).
    ``inception`` (optional) is
    ``[N, 2048]`` pooled InceptionV3 features.
    """

    grams: list[np.ndarray]
    norms: list[float]
    inception: np.ndarray | None = None
    # ``[N, C_l]`` channel means per style layer (``style_statistic="mean_cov"``), with their
    # bank-wide mean squares; empty for plain Grams.
    means: list[np.ndarray] = field(default_factory=list)
    mean_norms: list[float] = field(default_factory=list)
    # ``[N, Q, PALETTE_DIRECTIONS]``: each style's pixel colours along the palette term's
    # directions as quantiles (losses.palette_distance); None when not computed.
    palette: np.ndarray | None = None

    @classmethod
    def compute(cls, vgg: VGGFeatures, style_images: Sequence[Sequence[np.ndarray]],
                style_layer_count: int, inception: InceptionFeatures | None = None,
                statistic: str = "gram", scales: Sequence[int] = (1,), seed: int = 0) -> "StyleTargets":
        """Statistics of each style's images; with several ``scales`` the entries are
        scale-major: ``scales[0]``'s layers, then ``scales[1]``'s (see ``downscale``). Sliced
        statistics (``"mean_sliced"``) are kept as quantiles, ``[N, Q, C_l]`` in ``grams``, with
        ``seed`` choosing their directions (the loss config's seed)."""
        entries = style_layer_count * len(scales)
        grams: list[list[np.ndarray]] = [[] for _ in range(entries)]
        means: list[list[np.ndarray]] = [[] for _ in range(entries)]
        pooled, palette = [], []
        for images in style_images:
            palette.append(np.mean([to_quantiles(palette_slices(tf.convert_to_tensor(img[None], tf.float32)))[0]
                                    for img in images], axis=0))
            per_layer = [[] for _ in range(entries)]
            per_layer_means = [[] for _ in range(entries)]
            feats = []
            for img in images:
                batch = tf.convert_to_tensor(img[None], tf.float32)
                for s, k in enumerate(scales):
                    g, m = layer_statistics(vgg(downscale(batch, k))[:style_layer_count], statistic, seed)
                    if statistic == "mean_sliced":
                        g = [to_quantiles(x) for x in g]
                    for l in range(style_layer_count):
                        per_layer[s * style_layer_count + l].append(g[l][0].numpy())
                        if m:
                            per_layer_means[s * style_layer_count + l].append(m[l][0].numpy())
                if inception is not None:
                    feats.append(inception(batch)[0].numpy())
            for l in range(entries):
                grams[l].append(np.mean(per_layer[l], axis=0))
                if per_layer_means[l]:
                    means[l].append(np.mean(per_layer_means[l], axis=0))
            if inception is not None:
                pooled.append(np.mean(feats, axis=0))
        stacked = [np.stack(g).astype(np.float32) for g in grams]
        norms = [float(np.mean(np.square(g))) + 1e-12 for g in stacked]
        stacked_means = [np.stack(m).astype(np.float32) for m in means if m]
        mean_norms = [float(np.mean(np.square(m))) + 1e-12 for m in stacked_means]
        return cls(stacked, norms, np.stack(pooled).astype(np.float32) if pooled else None,
                   stacked_means, mean_norms, np.stack(palette).astype(np.float32))


def downscale(images: tf.Tensor, k: int) -> tf.Tensor:
    """``k × k`` average pooling (k = 1: unchanged); differentiable, unlike an area resize."""
    return images if k == 1 else tf.nn.avg_pool2d(images, k, k, "VALID")


def masked_mean(values: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    return tf.reduce_sum(values * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)


class StyleFusionGAN(keras.Model):
    """Trains a StyleFusionGenerator against a PatchDiscriminator and perceptual losses.

    ``fit`` data: batches of ``(content, style_crops, style_ids)``; ``evaluate`` data: content
    batches. The loss networks are frozen and shared; only G and D have trainable weights.
    """

    def __init__(self, generator: StyleFusionGenerator, discriminator: PatchDiscriminator,
                 vgg: VGGFeatures, targets: StyleTargets, losses: LossConfig | None = None,
                 mix_fraction: float = 0.25, inception: InceptionFeatures | None = None,
                 seed: int = 0, paired: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.loss_config = losses or LossConfig()
        self.num_styles = generator.num_styles
        self.mix_fraction = float(mix_fraction) if self.num_styles > 1 else 0.0
        # Plain Python holders: the frozen loss networks must not be tracked as part of this model.
        self._vgg = [vgg]
        self._inception = [inception]
        self.n_style_layers = len(self.loss_config.style_layers)
        self.style_scales = tuple(self.loss_config.style_scales)
        self.gram_targets = [tf.constant(g) for g in targets.grams]
        self.gram_norms = [tf.constant(n, tf.float32) for n in targets.norms]
        self.mean_targets = [tf.constant(m) for m in targets.means]
        self.mean_norms = [tf.constant(n, tf.float32) for n in targets.mean_norms]
        if (self.loss_config.style_statistic != "gram") != bool(self.mean_targets):
            raise ValueError("StyleTargets were computed for another style_statistic than the loss config's")
        if len(self.gram_targets) != self.n_style_layers * len(self.style_scales):
            raise ValueError(f"StyleTargets hold {len(self.gram_targets)} statistics, the loss config asks for "
                             f"{self.n_style_layers} layers at {len(self.style_scales)} scales")
        self.inception_targets = (tf.constant(targets.inception)
                                  if targets.inception is not None else None)
        if self.loss_config.palette_weight > 0 and targets.palette is None:
            raise ValueError("the palette term needs StyleTargets with palette quantiles")
        self.palette_targets = tf.constant(targets.palette) if targets.palette is not None else None
        self.seed = int(seed)
        # Paired (a teacher): the batches' second element is the teacher's picture of each
        # sample's photo, the target of the teacher terms and D's real side, with the photo as D's
        # condition (pix2pix); otherwise it is a crop of the painting, D's unconditioned real side.
        self.paired = bool(paired)
        if self.paired and not discriminator.conditional:
            raise ValueError("a paired (teacher) GAN needs a discriminator conditioned on the photo")
        self.trackers = {n: keras.metrics.Mean(name=n) for n in metric_names()}
        # Multiplies the bank's gradient (None: all of it trains), broadcast against ``[N, D]``:
        # fine-tuning a new style freezes the other rows, a held colour norm its columns.
        self.bank_mask: tf.Tensor | None = None
        # G and D are built in their constructors; nothing is left for fit() to build.
        self.built = True

    def compile(self, g_optimizer: keras.optimizers.Optimizer, d_optimizer: keras.optimizers.Optimizer,
                bank_optimizer: keras.optimizers.Optimizer | None = None, **kwargs: Any) -> None:
        """``bank_optimizer`` (optional) trains the style bank apart from the shared weights, at
        its own learning rate; without it ``g_optimizer`` trains both."""
        super().compile(**kwargs)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        self.bank_optimizer = bank_optimizer

    def restrict_bank(self, mask: np.ndarray) -> None:
        """Multiply ``mask`` (broadcast against the bank's ``[N, D]``) into the bank's gradient
        mask, on top of any restriction already set."""
        mask = tf.constant(mask, tf.float32)
        self.bank_mask = mask if self.bank_mask is None else self.bank_mask * mask

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return list(self.trackers.values())

    @property
    def uses_discriminator(self) -> bool:
        return self.loss_config.adversarial_weight > 0

    def sample_weights(self, style_ids: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Style weights for a batch: one-hot on ``style_ids``, except that a ``mix_fraction`` of
        samples blend their style with a random other one (α ~ U(0, 1)), so blends are trained
        rather than only interpolated. Returns ``(weights [B, N], is_pure [B])``."""
        onehot = tf.one_hot(style_ids, self.num_styles)
        if self.mix_fraction <= 0:
            return onehot, tf.ones_like(onehot[:, 0])
        b = tf.shape(style_ids)[0]
        u = tf.random.stateless_uniform([b, 3], seed=self._step_seed())
        # A partner drawn from the N - 1 other styles: a "mix" with itself would be a pure sample
        # dropped from the adversarial losses.
        offset = 1 + tf.minimum(tf.cast(u[:, 0] * (self.num_styles - 1), tf.int32), self.num_styles - 2)
        other = (tf.cast(style_ids, tf.int32) + offset) % self.num_styles
        alpha = u[:, 1:2]
        mixed = alpha * onehot + (1.0 - alpha) * tf.one_hot(other, self.num_styles)
        is_mix = u[:, 2] < self.mix_fraction
        weights = tf.where(is_mix[:, None], mixed, onehot)
        return weights, 1.0 - tf.cast(is_mix, tf.float32)

    def _step_seed(self) -> tf.Tensor:
        """A seed from (seed, step, replica): no mutable RNG state, so the same code is valid
        under MirroredStrategy, MultiWorkerMirroredStrategy and TPUStrategy, and resumes
        reproducibly."""
        step = tf.cast(self.g_optimizer.iterations, tf.int32)
        ctx = tf.distribute.get_replica_context()
        replica = ctx.replica_id_in_sync_group if ctx is not None else 0
        return tf.stack([tf.constant(self.seed, tf.int32) + tf.cast(replica, tf.int32) * 7919, step])

    def style_norms(self, targets: Sequence[tf.Tensor], bank_norms: Sequence[tf.Tensor] | None = None
                    ) -> list[tf.Tensor]:
        """Per-layer scale of the style loss. ``"target"``: each sample's own (mixed) target
        Gram's mean square, so every style is matched to the same relative precision; ``"bank"``:
        one scale per layer over the whole bank, where a style with much larger Grams (a very
        dark or very busy painting) shrinks the others' losses and they train into look-alikes."""
        if self.loss_config.style_normalization == "bank":
            return list(self.gram_norms if bank_norms is None else bank_norms)
        return [tf.reduce_mean(tf.reshape(tf.square(t), [tf.shape(t)[0], -1]), axis=1) + 1e-12
                for t in targets]

    # The perceptual terms (registered in LOSS_TERMS, in this order).

    @loss_term("style", "style_weight", always=True)
    def style_term(self, batch: LossBatch) -> tf.Tensor:
        """The style statistics of the stylized batch (per window, per scale) against each
        sample's mixed painting targets."""
        b, k, cfg = batch.size, self.loss_config.style_windows, self.loss_config
        style_feats = []
        for scale in self.style_scales:  # scale-major, as StyleTargets.compute orders them
            scaled = (batch.features if scale == 1
                      else self._vgg[0](downscale(batch.stylized, scale)))[: self.n_style_layers]
            style_feats += [split_windows(f[:b], k) for f in scaled]
        grams, means = layer_statistics(style_feats, cfg.style_statistic, cfg.seed)
        # Every window of a sample is matched to that sample's (mixed) painting statistics.
        mix = tf.repeat(batch.weights, k * k, axis=0)
        targets = [tf.einsum("bn,ncd->bcd", mix, t) for t in self.gram_targets]
        style = style_distance(grams, targets, self.style_norms(targets), cfg.style_statistic)
        if means:
            mean_targets = [tf.matmul(mix, t) for t in self.mean_targets]
            style += normalised_mse(means, mean_targets, self.style_norms(mean_targets, self.mean_norms))
        return tf.reduce_mean(tf.reshape(style, [b, k * k]), axis=1) / len(self.style_scales)

    @loss_term("content", "content_weight", always=True)
    def content_term(self, batch: LossBatch) -> tf.Tensor:
        content_feats = batch.features[self.n_style_layers]
        return content_loss(content_feats[: batch.size], content_feats[batch.size :])

    @loss_term("tv", "tv_weight", always=True)
    def tv_term(self, batch: LossBatch) -> tf.Tensor:
        tv_of = self.loss_config.tv_of
        if tv_of == "output":
            return total_variation(batch.stylized)
        residual = batch.stylized - batch.recoloured
        # "residual_light" leaves the residual's colour free: coloured texture carried colour match.
        return total_variation(luminance(residual) if tv_of == "residual_light" else residual)

    @loss_term("feature", "inception_weight")
    def feature_term(self, batch: LossBatch) -> tf.Tensor:
        if self._inception[0] is None:
            return tf.zeros([batch.size])
        target = tf.matmul(batch.weights, self.inception_targets)
        return feature_loss(self._inception[0](batch.stylized), target)

    @loss_term("layout", "layout_weight")
    def layout_term(self, batch: LossBatch) -> tf.Tensor:
        colours = self.loss_config.layout_colours
        if colours == "residual":
            return layout_loss(batch.stylized, batch.recoloured, "residual")
        return layout_loss(batch.stylized, batch.content, colours)

    @loss_term("palette", "palette_weight")
    def palette_term(self, batch: LossBatch) -> tf.Tensor:
        return palette_distance(batch.stylized, tf.einsum("bn,nqd->bqd", batch.weights, self.palette_targets))

    @loss_term("teacher", "teacher_weight")
    def teacher_term(self, batch: LossBatch) -> tf.Tensor:
        """Mean absolute difference to the teacher's picture (pure-style samples)."""
        if batch.teacher is None:
            return tf.zeros([batch.size])
        return tf.reduce_mean(tf.abs(batch.stylized - batch.teacher), axis=[1, 2, 3]) * batch.pure

    @loss_term("teacher_feature", "teacher_feature_weight")
    def teacher_feature_term(self, batch: LossBatch) -> tf.Tensor:
        """The loss network's features (every style layer and the content layer) against the
        teacher picture's, each normalised by the teacher's mean square (pure-style samples)."""
        if batch.teacher is None:
            return tf.zeros([batch.size])
        mine = [f[: batch.size] for f in batch.features]
        per_layer = [content_loss(f, t) for f, t in zip(mine, batch.teacher_features)]
        return tf.add_n(per_layer) / len(per_layer) * batch.pure

    def perceptual_terms(self, content: tf.Tensor, stylized: tf.Tensor, weights: tf.Tensor,
                         teacher: tf.Tensor | None = None, pure: tf.Tensor | None = None
                         ) -> dict[str, tf.Tensor]:
        """Every registered term's per-sample loss (zeros for a term whose weight is 0)."""
        batch = LossBatch(self, content, stylized, weights, teacher, pure)
        used = lambda term: term.always or getattr(self.loss_config, term.weight) > 0  # noqa: E731
        return {term.name: term.compute(self, batch) if used(term) else tf.zeros([batch.size])
                for term in LOSS_TERMS.values()}

    def weighted_perceptual(self, terms: dict[str, tf.Tensor]) -> tf.Tensor:
        """The per-sample sum of the terms, each times its LossConfig weight."""
        cfg = self.loss_config
        return tf.add_n([getattr(cfg, term.weight) * terms[term.name] for term in LOSS_TERMS.values()])

    def adversarial_losses(self, content: tf.Tensor, real: tf.Tensor, style_ids: tf.Tensor, stylized: tf.Tensor,
                           weights: tf.Tensor, pure: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """G's per-sample adversarial loss and D's loss (on pure-style samples); zeros without D.
        ``real``: the painting's crops, or (paired) the teacher's pictures of ``content``, which
        then conditions D on both sides."""
        if not self.uses_discriminator:
            return tf.zeros([tf.shape(stylized)[0]]), tf.constant(0.0)
        kind = self.loss_config.adversarial
        condition = (content,) if self.paired else ()
        d_real = self.discriminator((real, tf.one_hot(style_ids, self.num_styles), *condition), training=True)
        d_fake = self.discriminator((stylized, weights, *condition), training=True)
        return (generator_adversarial_loss(d_fake, kind),
                masked_mean(discriminator_loss(d_real, d_fake, kind), pure))

    def train_step(self, data: Any) -> dict[str, tf.Tensor]:
        # 1. each sample's style mix (one-hot; a mix_fraction blended with another style);
        # 2. G stylizes the content with those mixes;
        # 3. the perceptual terms (LOSS_TERMS) against each sample's mixed style targets (and,
        #    paired, the teacher's picture);
        # 4. D scores the paintings' crops or the teacher's pictures (real) and the stylized batch (fake);
        # 5. G loss = weighted terms + adversarial (pure-style samples); D loss;
        # 6. one tape's gradients update G (the style bank at its own rate) and D.
        content, real, style_ids = data
        weights, pure = self.sample_weights(style_ids)
        with tf.GradientTape(persistent=True) as tape:
            stylized = self.generator((content, weights), training=True)
            terms = self.perceptual_terms(content, stylized, weights, real if self.paired else None, pure)
            terms["adv_g"], d_loss = self.adversarial_losses(content, real, style_ids, stylized, weights, pure)
            g_loss = (tf.reduce_mean(self.weighted_perceptual(terms))
                      + self.loss_config.adversarial_weight * masked_mean(terms["adv_g"], pure))
            # Optimizers sum gradients over replicas: scale to a mean over the global batch.
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            g_scaled = self.g_optimizer.scale_loss(g_loss / replicas)
            d_scaled = self.d_optimizer.scale_loss(d_loss / replicas)
        self.apply_generator_gradients(tape.gradient(g_scaled, self.generator.trainable_variables))
        if self.uses_discriminator:
            d_vars = self.discriminator.trainable_variables
            self.d_optimizer.apply_gradients(zip(tape.gradient(d_scaled, d_vars), d_vars))
        del tape
        return self._record(g_loss, d_loss, terms)

    def apply_generator_gradients(self, grads: Sequence[tf.Tensor]) -> None:
        """Update G from its gradients: the style bank's masked by ``bank_mask`` and, with a
        ``bank_optimizer``, applied by it (its own learning rate) apart from the shared weights."""
        g_vars = self.generator.trainable_variables
        is_bank = [v is self.generator.bank.table for v in g_vars]
        if self.bank_mask is not None:
            grads = [g * self.bank_mask if b else g for g, b in zip(grads, is_bank)]
        if self.bank_optimizer is None:
            self.g_optimizer.apply_gradients(zip(grads, g_vars))
            return
        shared = [(g, v) for g, v, b in zip(grads, g_vars, is_bank) if not b]
        if shared:  # empty when only new bank rows train (add_styles)
            self.g_optimizer.apply_gradients(shared)
        else:
            self.g_optimizer.iterations.assign_add(1)  # the step counter lives here
        self.bank_optimizer.apply_gradients([(g, v) for g, v, b in zip(grads, g_vars, is_bank) if b])

    def test_step(self, data: Any) -> dict[str, tf.Tensor]:
        """Validation: perceptual losses of each image under a fixed style (index mod N)."""
        content = data[0] if isinstance(data, (tuple, list)) else data
        b = tf.shape(content)[0]
        weights = tf.one_hot(tf.range(b) % self.num_styles, self.num_styles)
        stylized = self.generator((content, weights), training=False)
        terms = self.perceptual_terms(content, stylized, weights)
        terms["adv_g"] = tf.zeros([b])
        return self._record(tf.reduce_mean(self.weighted_perceptual(terms)), tf.constant(0.0), terms)

    def _record(self, g_loss: tf.Tensor, d_loss: tf.Tensor, terms: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        self.trackers["g_loss"].update_state(g_loss)
        self.trackers["d_loss"].update_state(d_loss)
        for name in list(self.trackers)[2:]:  # every per-sample term, after the two losses
            self.trackers[name].update_state(tf.reduce_mean(terms[name]))
        return {name: t.result() for name, t in self.trackers.items()}

    def call(self, inputs: Any, training: bool | None = None) -> tf.Tensor:
        return self.generator(inputs, training=training)


def metric_names() -> tuple[str, ...]:
    """What fit() logs: the two losses, then every per-sample term (the perceptual ones and G's
    adversarial one), each as its batch mean."""
    return ("g_loss", "d_loss", *LOSS_TERMS, "adv_g")

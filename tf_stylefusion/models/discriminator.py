"""Multi-scale PatchGAN discriminator, conditioned on the style by projection.

Each scale scores overlapping patches; the score is ``head(h) + <h, embed(weights)>`` (the
projection discriminator of Miyato & Koyama), so one network judges every style of the bank.
A conditional discriminator also sees the photo beside the picture (pix2pix, Isola et al. 2017):
it judges whether the picture is that style's painting *of that photo*.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from .layers import PACKAGE


def _maybe_sn(layer: keras.layers.Layer, spectral_norm: bool) -> keras.layers.Layer:
    return keras.layers.SpectralNormalization(layer) if spectral_norm else layer


@keras.saving.register_keras_serializable(package=PACKAGE)
class PatchScale(keras.layers.Layer):
    """One PatchGAN at one scale: strided 4×4 convs, LeakyReLU, projection head."""

    def __init__(self, num_styles: int, filters: int = 32, num_layers: int = 3,
                 spectral_norm: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.num_styles, self.filters, self.num_layers = int(num_styles), int(filters), int(num_layers)
        self.spectral_norm = bool(spectral_norm)
        self.convs = []
        self.norms = []
        for i in range(num_layers):
            width = filters * 2 ** min(i, 3)
            self.convs.append(_maybe_sn(keras.layers.Conv2D(width, 4, strides=2, padding="same"),
                                        spectral_norm))
            # No norm on the first layer (pix2pix practice); instance norm after.
            self.norms.append(keras.layers.GroupNormalization(groups=-1) if i > 0
                              else keras.layers.Identity())
        self.feature_width = filters * 2 ** min(num_layers - 1, 3)
        self.head = _maybe_sn(keras.layers.Conv2D(1, 3, padding="same"), spectral_norm)
        self.embed = keras.layers.Dense(self.feature_width, use_bias=False, name="style_embed")

    def call(self, x: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
        h = x * 2.0 - 1.0
        for conv, norm in zip(self.convs, self.norms):
            h = tf.nn.leaky_relu(norm(conv(h)), 0.2)
        proj = tf.reduce_sum(h * self.embed(weights)[:, None, None, :], axis=-1, keepdims=True)
        return tf.cast(self.head(h) + proj, tf.float32)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_styles": self.num_styles, "filters": self.filters,
                "num_layers": self.num_layers, "spectral_norm": self.spectral_norm}


@keras.saving.register_keras_serializable(package=PACKAGE)
class PatchDiscriminator(keras.Model):
    """Scores ``images`` ``[B, H, W, 3]`` in [0, 1] as belonging to the style mix ``weights``;
    ``conditional``: inputs ``(images, weights, photos)``, the photo each image was made from.

    Returns a list with one ``[B, h, w, 1]`` logit map per scale (full, ½, ¼ ...).
    """

    def __init__(self, num_styles: int = 1, filters: int = 32, num_layers: int = 3,
                 num_scales: int = 2, spectral_norm: bool = False, conditional: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.num_styles, self.filters, self.num_layers = int(num_styles), int(filters), int(num_layers)
        self.num_scales, self.spectral_norm = int(num_scales), bool(spectral_norm)
        self.conditional = bool(conditional)
        self.scales = [PatchScale(num_styles, filters, num_layers, spectral_norm, name=f"scale{i}")
                       for i in range(num_scales)]
        self.downsample = keras.layers.AveragePooling2D(3, strides=2, padding="same")
        self.build()

    def build(self, input_shape: Any = None) -> None:
        if self.built:
            return
        with tf.init_scope():
            photo = (tf.zeros([1, 32, 32, 3]),) if self.conditional else ()
            self.call((tf.zeros([1, 32, 32, 3]), tf.ones([1, self.num_styles]), *photo))
        self.built = True

    def call(self, inputs: Any, training: bool | None = None) -> list[tf.Tensor]:
        images, weights, *photo = inputs
        if len(photo) != int(self.conditional):
            raise ValueError(f"PatchDiscriminator(conditional={self.conditional}) takes "
                             f"{'(images, weights, photos)' if self.conditional else '(images, weights)'}")
        weights = tf.cast(weights, images.dtype)
        outputs = []
        x = tf.concat([images, tf.cast(photo[0], images.dtype)], axis=-1) if photo else images
        for i, scale in enumerate(self.scales):
            if i:
                x = self.downsample(x)
            outputs.append(scale(x, weights))
        return outputs

    def get_config(self) -> dict[str, Any]:
        base = super().get_config()
        return {**{k: v for k, v in base.items() if k in ("name", "trainable", "dtype")},
                "num_styles": self.num_styles, "filters": self.filters,
                "num_layers": self.num_layers, "num_scales": self.num_scales,
                "spectral_norm": self.spectral_norm, "conditional": self.conditional}

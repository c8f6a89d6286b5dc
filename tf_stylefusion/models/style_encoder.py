"""StyleEncoder: a style image → one row of the generator's style bank (its CIN γ, β).

A style-prediction network in the manner of Magenta's arbitrary stylization: a frozen loss
network describes the image by the mean and standard deviation of its features at the style
layers (the statistics a style loss compares), a small MLP squeezes them through a bottleneck
(the style embedding, 100-d by default) and expands it to ``param_dim`` values in the bank's
layout. The predicted row is used through ``StyleFusionGenerator.stylize_with_table`` and can be
mixed with bank rows like any other row.

Only the MLP (and the statistics' standardisation) is saved; the loss network is rebuilt from the
encoder's config (``loss_network``, layers, seed), the same way training built it.
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf

from ..config import RANDOM_PLAIN, VGG_STYLE_LAYERS, network_name, saved_network_name
from .color_stats import exact_color_columns
from .layers import PACKAGE
from .loss_networks import VGGFeatures, vgg_features

CONTENT_LAYER = "block4_conv2"


def style_statistics(vgg: VGGFeatures, images: tf.Tensor, num_style_layers: int) -> tf.Tensor:
    """``[B, H, W, 3]`` images in [0, 1] → ``[B, F]``: per-channel mean and standard deviation of
    the first ``num_style_layers`` feature maps of ``vgg``, concatenated."""
    parts = []
    for f in vgg(images)[:num_style_layers]:
        mean, var = tf.nn.moments(f, axes=[1, 2])
        parts += [mean, tf.sqrt(var + 1e-6)]
    return tf.concat(parts, axis=-1)


@keras.saving.register_keras_serializable(package=PACKAGE)
class StyleEncoder(keras.Model):
    """Loss-network statistics ``[B, F]`` → style rows ``[B, param_dim]``.

    ``feature_mean``/``feature_std`` standardise the statistics (set from training data with
    ``set_feature_scaling``); the output layer's bias starts at the mean bank row
    (``set_base_row``), so an untrained encoder predicts the "average style".
    """

    def __init__(self, param_dim: int, feature_dim: int, bottleneck: int = 100, hidden: int = 256,
                 loss_network: str = "random", style_layers: Sequence[str] = VGG_STYLE_LAYERS,
                 content_layer: str = CONTENT_LAYER, network_seed: int = 1234, style_size: int = 256,
                 content_size: int = 128, color_offsets: Sequence[int] | None = None,
                 color_epsilon: float = 1e-3, **kwargs: Any):
        super().__init__(**kwargs)
        self.param_dim, self.feature_dim = int(param_dim), int(feature_dim)
        self.bottleneck_size, self.hidden_size = int(bottleneck), int(hidden)
        self.loss_network, self.network_seed = network_name(str(loss_network)), int(network_seed)
        self.style_layers, self.content_layer = list(style_layers), str(content_layer)
        # Statistics depend on scale: style images are read at ``style_size`` (shorter side), content
        # images at ``content_size``, the scales the encoder was trained at.
        self.style_size, self.content_size = int(style_size), int(content_size)
        # Where the generator holds its colour columns (``color_stats.held_color_offsets``): they
        # are then computed from the image exactly, not predicted; None for other generators.
        self.color_offsets = None if color_offsets is None else tuple(int(o) for o in color_offsets)
        self.color_epsilon = float(color_epsilon)
        self.hidden = keras.layers.Dense(self.hidden_size, activation="relu", name="hidden")
        self.bottleneck = keras.layers.Dense(self.bottleneck_size, name="bottleneck")
        self.to_row = keras.layers.Dense(self.param_dim, kernel_initializer="zeros", name="to_row")
        self.feature_mean = self.add_weight(name="feature_mean", shape=(self.feature_dim,),
                                            initializer="zeros", trainable=False)
        self.feature_std = self.add_weight(name="feature_std", shape=(self.feature_dim,),
                                           initializer="ones", trainable=False)
        self.build((None, self.feature_dim))

    def build(self, input_shape: Any = None) -> None:
        if self.built:
            return
        with tf.init_scope():
            self.call(tf.zeros([1, self.feature_dim]))
        self.built = True

    def set_feature_scaling(self, statistics: np.ndarray) -> None:
        """Standardise inputs by the mean/std of ``statistics`` ``[M, F]`` (floor 1e-3·mean std,
        so a dimension constant over the training set is not blown up)."""
        stats = np.asarray(statistics, np.float32)
        std = stats.std(axis=0)
        self.feature_mean.assign(stats.mean(axis=0))
        self.feature_std.assign(np.maximum(std, 1e-3 * float(std.mean()) + 1e-6))

    def set_base_row(self, row: np.ndarray) -> None:
        self.to_row.bias.assign(np.asarray(row, np.float32))

    def embed(self, statistics: tf.Tensor) -> tf.Tensor:
        """The bottleneck style embedding ``[B, bottleneck]``."""
        x = (tf.cast(statistics, tf.float32) - self.feature_mean) / self.feature_std
        return self.bottleneck(self.hidden(x))

    def call(self, statistics: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        return self.to_row(self.embed(statistics))

    # -- images in ---------------------------------------------------------------------------
    def vgg(self) -> VGGFeatures:
        """The frozen loss network the statistics come from (shared, built once)."""
        return vgg_features(self.loss_network, tuple(self.style_layers) + (self.content_layer,),
                            self.network_seed)

    def statistics(self, images: tf.Tensor) -> tf.Tensor:
        return style_statistics(self.vgg(), images, len(self.style_layers))

    def predict_rows(self, images: Sequence[np.ndarray], own_colors: bool = False) -> np.ndarray:
        """One bank row per image (``[H, W, 3]`` float in [0, 1]). Give images at the scale the
        bank's styles were learned at (shorter side ``style_size``): statistics depend on scale.
        ``own_colors``: a content image's own row (strength), whose held colour columns give the
        image's own colours back rather than take them as a painting's."""
        stats = [self.statistics(tf.convert_to_tensor(im, tf.float32)[None]) for im in images]
        return self.exact_colors(self(tf.concat(stats, axis=0)).numpy(), images, own_colors)

    def exact_colors(self, rows: np.ndarray, images: Sequence[np.ndarray], own: bool = False) -> np.ndarray:
        """``rows`` with the held colour columns computed from ``images`` (unchanged when the
        generator holds none)."""
        if self.color_offsets is None:
            return np.asarray(rows, np.float32)
        return exact_color_columns(rows, [np.asarray(im) for im in images], self.color_offsets,
                                   self.color_epsilon, own)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "StyleEncoder":
        # An encoder saved as "random" learned from the plain random network's statistics.
        config = dict(config)
        config["loss_network"] = saved_network_name(config.get("loss_network", RANDOM_PLAIN))
        return cls(**config)

    def get_config(self) -> dict[str, Any]:
        base = super().get_config()
        return {
            **{k: v for k, v in base.items() if k in ("name", "trainable", "dtype")},
            "param_dim": self.param_dim, "feature_dim": self.feature_dim,
            "bottleneck": self.bottleneck_size, "hidden": self.hidden_size,
            "loss_network": self.loss_network, "style_layers": list(self.style_layers),
            "content_layer": self.content_layer, "network_seed": self.network_seed,
            "style_size": self.style_size, "content_size": self.content_size,
            "color_offsets": None if self.color_offsets is None else list(self.color_offsets),
            "color_epsilon": self.color_epsilon,
        }


def statistics_dim(vgg: VGGFeatures, num_style_layers: int) -> int:
    """Length of ``style_statistics`` vectors for this loss network."""
    return int(style_statistics(vgg, tf.zeros([1, 32, 32, 3]), num_style_layers).shape[-1])

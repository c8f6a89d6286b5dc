"""Building blocks of the generator: reflection padding, conditional instance norm, residual and
resize-conv blocks. Every layer is Keras-serializable.

Style conditioning travels as a ``style`` pair ``(weights, table)``:
- ``weights``: ``[B, K]`` (one mix per image) or ``[B, H, W, K]`` (a mix per pixel);
- ``table``: ``[K, D]`` (shared by the batch, e.g. the style bank) or ``[B, K, D]`` (per image,
  e.g. embeddings predicted from style images), where ``D`` holds every CIN layer's γ and β.
Each ConditionalInstanceNorm reads its own slice ``[offset, offset + 2C)`` of ``D``; mixing is
linear, so a 50/50 weight gives exactly the average of two styles' norm parameters.
"""

from __future__ import annotations

from typing import Any, Callable

import keras
import tensorflow as tf

Style = tuple[tf.Tensor, tf.Tensor]
PACKAGE = "tf_stylefusion"


@keras.saving.register_keras_serializable(package=PACKAGE)
class ReflectionPad2D(keras.layers.Layer):
    """Pads height and width by ``padding`` pixels, mirroring the border (no dark frame)."""

    def __init__(self, padding: int = 1, **kwargs: Any):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        p = self.padding
        return tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT")

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        b, h, w, c = input_shape
        grow = lambda d: None if d is None else d + 2 * self.padding  # noqa: E731
        return (b, grow(h), grow(w), c)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "padding": self.padding}


def mix_style_params(weights: tf.Tensor, table: tf.Tensor, size: tf.Tensor | None = None) -> tf.Tensor:
    """Mix rows of ``table`` by ``weights``; returns ``[B, 1, 1, D]`` or ``[B, h, w, D]``.

    Per-pixel weights are resized to ``size`` (the feature map's height and width) bilinearly,
    which keeps them convex and gives soft region borders at every scale.
    """
    weights = tf.cast(weights, table.dtype)
    per_image_table = table.shape.rank == 3
    if weights.shape.rank == 2:
        eq = "bk,bkd->bd" if per_image_table else "bk,kd->bd"
        mixed = tf.einsum(eq, weights, table)
        return mixed[:, None, None, :]
    if size is not None:
        weights = tf.image.resize(weights, size, method="bilinear")
    eq = "bhwk,bkd->bhwd" if per_image_table else "bhwk,kd->bhwd"
    return tf.einsum(eq, weights, table)


@keras.saving.register_keras_serializable(package=PACKAGE)
class ConditionalInstanceNorm(keras.layers.Layer):
    """Instance norm whose scale γ and shift β come from the mixed style table.

    Holds no weights of its own: γ, β live in the generator's StyleBank (one row per style), so a
    new style is one new row and arbitrary styles are one predicted row.
    """

    def __init__(self, channels: int, offset: int, epsilon: float = 1e-5, **kwargs: Any):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.offset = int(offset)
        self.epsilon = float(epsilon)
        # Runtime hook, not configuration: when set (by StyleFusionGenerator.norm_statistics),
        # ``statistics_hook(x)`` returns the (mean, var) to normalise with — tiling uses it to
        # record whole-image statistics once and give every tile the same ones.
        self.statistics_hook: Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]] | None = None

    @property
    def param_size(self) -> int:
        return 2 * self.channels

    def call(self, x: tf.Tensor, style: Style) -> tf.Tensor:
        if self.statistics_hook is not None:
            mean, var = self.statistics_hook(x)
        else:
            mean, var = self.moments(x)
        return self.normalize(x, style, mean, var)

    @staticmethod
    def moments(x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Per-image, per-channel mean and variance ``[B, 1, 1, C]`` in float32 (even under mixed
        precision: the variance of fp16 activations overflows)."""
        return tf.nn.moments(tf.cast(x, tf.float32), axes=[1, 2], keepdims=True)

    def normalize(self, x: tf.Tensor, style: Style, mean: tf.Tensor, var: tf.Tensor) -> tf.Tensor:
        """Normalise ``x`` with given float32 ``mean``/``var`` (``[B|1, 1, 1, C]``), then apply the
        style's γ, β. Tiling calls this with whole-image statistics on one tile."""
        weights, table = style
        xf = tf.cast(x, tf.float32)
        normed = (xf - mean) * tf.math.rsqrt(var + self.epsilon)
        part = table[..., self.offset : self.offset + self.param_size]
        params = mix_style_params(weights, tf.cast(part, tf.float32), tf.shape(x)[1:3])
        gamma, beta = params[..., : self.channels], params[..., self.channels :]
        return tf.cast(normed * gamma + beta, x.dtype)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "channels": self.channels,
            "offset": self.offset,
            "epsilon": self.epsilon,
        }


def make_conv(filters: int, kernel: int = 3, strides: int = 1, separable: bool = False,
              name: str | None = None) -> keras.layers.Layer:
    """A 'valid' convolution (padding is done by ReflectionPad2D), optionally depthwise-separable."""
    if separable:
        return keras.layers.SeparableConv2D(filters, kernel, strides=strides, padding="valid", name=name)
    return keras.layers.Conv2D(filters, kernel, strides=strides, padding="valid", name=name)


@keras.saving.register_keras_serializable(package=PACKAGE)
class ConvNormAct(keras.layers.Layer):
    """reflection pad → conv → conditional instance norm → ReLU (ReLU optional)."""

    def __init__(self, filters: int, offset: int, kernel: int = 3, strides: int = 1,
                 separable: bool = False, activation: bool = True, **kwargs: Any):
        super().__init__(**kwargs)
        self.filters, self.offset, self.kernel = int(filters), int(offset), int(kernel)
        self.strides, self.separable, self.activation = int(strides), bool(separable), bool(activation)
        self.pad = ReflectionPad2D(kernel // 2)
        self.conv = make_conv(filters, kernel, strides, separable)
        self.norm = ConditionalInstanceNorm(filters, offset)

    @property
    def param_size(self) -> int:
        return self.norm.param_size

    @property
    def norms(self) -> list[ConditionalInstanceNorm]:
        return [self.norm]

    def call(self, x: tf.Tensor, style: Style) -> tf.Tensor:
        y = self.norm(self.conv(self.pad(x)), style)
        return tf.nn.relu(y) if self.activation else y

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            "offset": self.offset,
            "kernel": self.kernel,
            "strides": self.strides,
            "separable": self.separable,
            "activation": self.activation,
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class ResidualBlock(keras.layers.Layer):
    """Two conditioned 3×3 convolutions with an identity shortcut."""

    def __init__(self, filters: int, offset: int, separable: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.filters, self.offset, self.separable = int(filters), int(offset), bool(separable)
        self.first = ConvNormAct(filters, offset, separable=separable)
        self.second = ConvNormAct(filters, offset + self.first.param_size, separable=separable,
                                  activation=False)

    @property
    def param_size(self) -> int:
        return self.first.param_size + self.second.param_size

    @property
    def norms(self) -> list[ConditionalInstanceNorm]:
        return self.first.norms + self.second.norms

    def call(self, x: tf.Tensor, style: Style) -> tf.Tensor:
        return x + self.second(self.first(x, style), style)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.filters, "offset": self.offset,
                "separable": self.separable}


@keras.saving.register_keras_serializable(package=PACKAGE)
class UpsampleConv(keras.layers.Layer):
    """Nearest-neighbour ×2 resize, then a conditioned conv: no transposed-conv checkerboard."""

    def __init__(self, filters: int, offset: int, separable: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.filters, self.offset, self.separable = int(filters), int(offset), bool(separable)
        self.up = keras.layers.UpSampling2D(2, interpolation="nearest")
        self.block = ConvNormAct(filters, offset, separable=separable)

    @property
    def param_size(self) -> int:
        return self.block.param_size

    @property
    def norms(self) -> list[ConditionalInstanceNorm]:
        return self.block.norms

    def call(self, x: tf.Tensor, style: Style) -> tf.Tensor:
        return self.block(self.up(x), style)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.filters, "offset": self.offset,
                "separable": self.separable}

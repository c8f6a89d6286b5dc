"""Building blocks of the generator: reflection padding, conditional instance norm, residual and
resize-conv blocks. Every layer is Keras-serializable.

Style conditioning travels as a ``style`` pair ``(weights, table)``:
- ``weights``: ``[B, K]`` (one mix per image) or ``[B, H, W, K]`` (a mix per pixel);
- ``table``: ``[K, D]`` (shared by the batch, e.g. the style bank) or ``[B, K, D]`` (per image,
  e.g. embeddings predicted from style images), where ``D`` holds every CIN layer's γ and β.
Each ConditionalInstanceNorm reads its own slice ``[offset, offset + 2C)`` of ``D``; mixing is
linear, so a 50/50 weight gives exactly the average of two styles' norm parameters.

With per-pixel weights each style's region is also normalised by its own statistics
(``region_moments``), so a painted region changes little outside itself.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Callable, Iterator, Mapping

import keras
import numpy as np
import tensorflow as tf

Style = tuple[tf.Tensor, tf.Tensor]
PACKAGE = "tf_stylefusion"


def _reflect(x: tf.Tensor, p: int, axis: int) -> tf.Tensor:
    """Mirror ``p`` rows (axis 1) or columns (axis 2), like ``tf.pad(mode="REFLECT")``.

    Built from one-pixel slices and a concat: TFLite's MIRROR_PAD has no XNNPACK kernel and
    cut the delegated graph into pieces (the fp32 model ran ~3× slower than Keras on CPU).
    """
    if p == 0:
        return x

    def take(start: int, stop: int | None) -> tf.Tensor:
        index = [slice(None)] * 4
        index[axis] = slice(start, stop)
        return x[tuple(index)]

    before = [take(i, i + 1) for i in range(p, 0, -1)]
    after = [take(-1 - i, -i) for i in range(1, p + 1)]
    return tf.concat(before + [x] + after, axis=axis)


def reflect_pad(x: tf.Tensor, padding: int) -> tf.Tensor:
    """Pad height and width of ``[B, H, W, C]`` by ``padding`` pixels, mirroring the border."""
    return _reflect(_reflect(x, padding, axis=1), padding, axis=2)


def reflect_pad_to_multiple(x: tf.Tensor, multiple: int) -> tf.Tensor:
    """Reflect-pad the bottom and right of ``[B, H, W, C]`` up to multiples of ``multiple``
    (each side needs fewer than ``multiple`` extra pixels, and H, W ≥ ``multiple``).

    Same result as ``tf.pad(mode="REFLECT")`` with computed amounts, built from slices, reverses and
    concats: a MIRROR_PAD by computed amounts stays a slow reference kernel in TFLite (9 ms
    of a 1024² image even when the amount is 0), these take a few ms.
    """
    def grow(x: tf.Tensor, axis: int) -> tf.Tensor:
        # Always mirror multiple - 1 rows, then crop: a slice of the exact (often zero) amount
        # would be an empty tensor, which the int8 calibrator cannot record a range for.
        # tf.slice, not x[a:b]: TFLite runs a STRIDED_SLICE with computed bounds ~10× slower.
        n = tf.shape(x)[axis]
        begin, size = [0, 0, 0, 0], [-1, -1, -1, -1]
        begin[axis], size[axis] = n - multiple, multiple - 1
        grown = tf.concat([x, tf.reverse(tf.slice(x, tf.stack(begin), tf.stack(size)), axis=[axis])], axis=axis)
        size[axis] = n + (-n) % multiple
        return tf.slice(grown, [0, 0, 0, 0], tf.stack(size))

    return grow(grow(x, 1), 2)


def upsample_nearest_2x(x: tf.Tensor) -> tf.Tensor:
    """Nearest-neighbour ×2 as depth_to_space of four copies (TFLite/XNNPACK-friendly; the
    repeat-based Keras UpSampling2D becomes TILE ops that XNNPACK does not run)."""
    return tf.nn.depth_to_space(tf.concat([x] * 4, axis=-1), 2)


@keras.saving.register_keras_serializable(package=PACKAGE)
class ReflectionPad2D(keras.layers.Layer):
    """Pads height and width by ``padding`` pixels, mirroring the border (no dark frame)."""

    def __init__(self, padding: int = 1, **kwargs: Any):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return reflect_pad(x, self.padding)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        b, h, w, c = input_shape
        grow = lambda d: None if d is None else d + 2 * self.padding  # noqa: E731
        return (b, grow(h), grow(w), c)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "padding": self.padding}


def with_static_channels(x: tf.Tensor, channels: int) -> tf.Tensor:
    """``x`` reshaped to itself with a constant channel count.

    With dynamic height and width, a pad by computed amounts loses the static channel count in
    the graph, and TFLite's conv kernels need it (``set_shape`` and ``ensure_shape`` do not
    survive conversion; a reshape to a partly constant shape does).
    """
    return tf.reshape(x, tf.concat([tf.shape(x)[:3], [int(channels)]], axis=0))


# Integer (TFLite int8) export only; see variance_floors. Keyed by id() of the norm layer.
_VARIANCE_FLOORS: contextvars.ContextVar[Mapping[int, float] | None] = contextvars.ContextVar(
    "variance_floors", default=None)
_VARIANCE_MAXIMA: contextvars.ContextVar[dict[int, float] | None] = contextvars.ContextVar(
    "variance_maxima", default=None)
# Training for integer export only (training/noise_tolerance.py); read while tracing.
_ACTIVATION_NOISE: contextvars.ContextVar[float] = contextvars.ContextVar("activation_noise", default=0.0)


@contextlib.contextmanager
def activation_noise(level: float) -> Iterator[None]:
    """While tracing inside this block, each instance norm adds white Gaussian noise of ``level``
    times the tensor's standard deviation to its input and (all but the colour norm) its output:
    the error an 8-bit tensor carries, at the points where the int8 file rounds."""
    token = _ACTIVATION_NOISE.set(float(level))
    try:
        yield
    finally:
        _ACTIVATION_NOISE.reset(token)


def _with_noise(x: tf.Tensor, level: float) -> tf.Tensor:
    xf = tf.cast(x, tf.float32)
    return tf.cast(xf + level * tf.math.reduce_std(xf) * tf.random.normal(tf.shape(xf)), x.dtype)


@contextlib.contextmanager
def record_variance_maxima() -> Iterator[dict[int, float]]:
    """Collect each instance norm's largest channel variance over the (eager) calls made inside
    this block, keyed by ``id(layer)``."""
    maxima: dict[int, float] = {}
    token = _VARIANCE_MAXIMA.set(maxima)
    try:
        yield maxima
    finally:
        _VARIANCE_MAXIMA.reset(token)


@contextlib.contextmanager
def variance_floors(floors: Mapping[int, float]) -> Iterator[None]:
    """While tracing inside this block, each instance norm clamps its channel variances to at
    least ``floors[id(layer)]``.

    Only for integer exports: with integer activations ``var + ε`` of a (nearly) flat channel
    rounds to 0 and TFLite's RSQRT fails ("only defined for positive values"). A floor of a
    couple of quantization steps of that layer's calibrated range changes nothing else.
    """
    token = _VARIANCE_FLOORS.set(dict(floors))
    try:
        yield
    finally:
        _VARIANCE_FLOORS.reset(token)


def spatial_mean(x: tf.Tensor) -> tf.Tensor:
    """Mean over height, then over width (``[B, 1, 1, C]``): equal to one mean over both, but
    each integer reduction sums at most one side's pixels. TFLite's int16 MEAN over a whole
    512² map overflows its 32-bit accumulator (the int8 file fell to 15 dB at 1024²)."""
    return tf.reduce_mean(tf.reduce_mean(x, axis=1, keepdims=True), axis=2, keepdims=True)


# Each style region's statistics borrow this share of the image's pixels, at the whole image's
# mean and the regions' pooled spread: a style that covers (almost) nothing still has defined
# statistics, and a small region is drawn towards the image. Measured on the style packs (128×96
# photo, left third painted with another style): with shares of 0.005-0.3 the change outside the
# region is 1/19-1/27 of the change inside it (whole-image statistics: 1/10, and 1/1.2 for a pack
# trained with the colour norm held), and the region is closest to that style over the whole
# photo at 0.1-0.3.
REGION_PRIOR = 0.1


def region_moments(s1: tf.Tensor, s2: tf.Tensor, mass: tf.Tensor, count: tf.Tensor | float
                   ) -> tuple[tf.Tensor, tf.Tensor]:
    """Each style's region mean and variance ``[B, K, C]`` from per-pixel-weighted sums over an
    image of ``count`` pixels: ``s1 = Σ w_k·x``, ``s2 = Σ w_k·x²`` ``[B, K, C]``, ``mass = Σ w_k``
    ``[B, K, 1]``. The weights are convex at every pixel, so the sums over K are the image's.
    """
    prior = REGION_PRIOR * count
    own_mean = s1 / tf.maximum(mass, 1e-6)
    within = tf.maximum(s2 - s1 * own_mean, 0.0)  # mass · the region's own variance
    image_mean = tf.reduce_sum(s1, axis=-2, keepdims=True) / count
    pooled_var = tf.reduce_sum(within, axis=-2, keepdims=True) / count
    return (s1 + prior * image_mean) / (mass + prior), (within + prior * pooled_var) / (mass + prior)


def resize_weights(weights: tf.Tensor, size: tf.Tensor) -> tf.Tensor:
    """Per-pixel weights ``[B, H, W, K]`` resized bilinearly to a feature map's ``size``: stays
    convex, gives soft region borders at every scale, and (being local) is the same inside a tile
    whose origin is a multiple of the generator's stride as in the whole image."""
    return tf.image.resize(weights, size, method="bilinear")


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
        weights = resize_weights(weights, size)
    eq = "bhwk,bkd->bhwd" if per_image_table else "bhwk,kd->bhwd"
    return tf.einsum(eq, weights, table)


# TFLite's integer kernels (XNNPACK) broadcast a per-channel value over a map with a few channels
# ~10× slower than they run a flat elementwise op (a 1024² RGB map: 3.6 ms against 0.3 ms), and
# a whole-image colour transform is a handful of such broadcasts. Below that channel count the
# value is tiled along rows [B, H, W·C] instead, where the broadcast is over whole rows.
_ROW_BROADCAST_CHANNELS = 9


def _per_image(v: tf.Tensor) -> bool:
    """Whether ``v`` holds one value per image and channel (``[B, 1, 1, C]``), not a map."""
    return v.shape.rank == 4 and v.shape[1] == 1 and v.shape[2] == 1


def _along_rows(op: Callable[[tf.Tensor, tf.Tensor], tf.Tensor], x: tf.Tensor, v: tf.Tensor) -> tf.Tensor:
    """``op(x, v)`` for ``x`` ``[B, H, W, C]`` and a per-image ``v`` ``[B, 1, 1, C]``."""
    channels = x.shape[-1]
    if channels is None or channels > _ROW_BROADCAST_CHANNELS or not _per_image(v):
        return op(x, v)
    shape = tf.shape(x)
    rows = tf.reshape(x, tf.stack([shape[0], shape[1], shape[2] * channels]))
    tiled = tf.tile(tf.cast(v[:, 0], x.dtype), tf.stack([1, 1, shape[2]]))
    return tf.reshape(op(rows, tiled), shape)


def subtract_per_channel(x: tf.Tensor, v: tf.Tensor) -> tf.Tensor:
    """``x - v`` for a per-image, per-channel ``v`` ``[B, 1, 1, C]`` (anything else broadcasts as usual)."""
    return _along_rows(tf.subtract, x, v)


# x·M at each pixel of an RGB map: output channel j sums x[(j + g) % 3]·M[(j + g) % 3, j] over
# g = 0, 1, 2. A constant 1×1 convolution lays out the three rotations of the channels (9 maps),
# one row-tiled multiply-add scales them, and a second constant one sums each output's three.
_ROTATIONS = np.zeros((1, 1, 3, 9), np.float32)
_GROUP_SUMS = np.zeros((1, 1, 9, 3), np.float32)
for _g in range(3):
    for _j in range(3):
        _ROTATIONS[0, 0, (_j + _g) % 3, 3 * _g + _j] = 1.0
        _GROUP_SUMS[0, 0, 3 * _g + _j, _j] = 1.0
_ROTATED_ENTRIES = [3 * ((_j + _g) % 3) + _j for _g in range(3) for _j in range(3)]


def colour_affine(x: tf.Tensor, matrix: tf.Tensor, offset: tf.Tensor) -> tf.Tensor:
    """``x·M + c`` at every pixel of ``x`` ``[B, H, W, 3]``, for per-image ``M`` ``[B, 3, 3]``
    (input channel by output channel) and ``c`` ``[B, 3]``.

    One full-size multiply-add and two constant 1×1 convolutions: on a 1024² photo in an int8
    TFLite file ~3 ms, where the same map as per-channel broadcasts took ~30 ms.
    """
    x = tf.cast(x, tf.float32)
    coefficients = tf.gather(tf.reshape(tf.cast(matrix, tf.float32), [-1, 9]), _ROTATED_ENTRIES, axis=1)
    # The offset rides on the first group, so no full-size add is needed after the sum.
    shifts = tf.pad(tf.cast(offset, tf.float32), [[0, 0], [0, 6]])
    rotated = tf.nn.conv2d(x, tf.constant(_ROTATIONS), 1, "VALID")
    scaled = _along_rows(tf.multiply, rotated, coefficients[:, None, None, :])
    shifted = _along_rows(tf.add, scaled, shifts[:, None, None, :])
    return tf.nn.conv2d(shifted, tf.constant(_GROUP_SUMS), 1, "VALID")


@keras.saving.register_keras_serializable(package=PACKAGE)
class StyleColor(keras.layers.Layer):
    """A per-style affine colour map ``A·x + b`` (3×3 and 3 values in each bank row).

    Applied to the content's logits before the residual: a painting's palette is twelve numbers a
    style learns in a few steps, where the convolutions would need many; mixes and regions mix
    the maps like every other bank parameter. The identity row is ``A = I, b = 0``.
    """

    param_size = 12
    IDENTITY = np.array([1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0], np.float32)

    def __init__(self, offset: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.offset = int(offset)

    def call(self, x: tf.Tensor, style: Style) -> tf.Tensor:
        weights, table = style
        part = tf.cast(table[..., self.offset : self.offset + self.param_size], tf.float32)
        p = mix_style_params(weights, part, tf.shape(x)[1:3])
        x = tf.cast(x, tf.float32)
        if weights.shape.rank == 2:
            return colour_affine(x, tf.reshape(p[:, 0, 0, :9], [-1, 3, 3]), p[:, 0, 0, 9:])
        # Per-pixel weights: column by column with broadcasts (no per-pixel matmul).
        return (x[..., 0:1] * p[..., 0:3] + x[..., 1:2] * p[..., 3:6] + x[..., 2:3] * p[..., 6:9]
                + p[..., 9:12])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "offset": self.offset}


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
        # ``statistics_hook(x, weights)`` returns the (mean, var) to normalise with — tiling uses
        # it to record whole-image statistics once and give every tile the same ones.
        self.statistics_hook: Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]] | None = None
        # Runtime too: whether ``activation_noise`` also perturbs this norm's output, and how much
        # more (or less) noise this norm gets than the level set (training/noise_tolerance.py).
        self.output_noise = True
        self.noise_gain = 1.0

    @property
    def param_size(self) -> int:
        return 2 * self.channels

    def call(self, x: tf.Tensor, style: Style) -> tf.Tensor:
        noise = _ACTIVATION_NOISE.get() * self.noise_gain
        if noise:
            x = _with_noise(x, noise)
        if self.statistics_hook is not None:
            mean, var = self.statistics_hook(x, style[0])
        else:
            mean, var = self.moments(x, style[0])
        y = self.normalize(x, style, mean, var)
        return _with_noise(y, noise) if noise and self.output_noise else y

    @staticmethod
    def moments(x: tf.Tensor, weights: tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor]:
        """Per-image, per-channel mean and variance in float32 (even under mixed precision: the
        variance of fp16 activations overflows): ``[B, 1, 1, C]``, or with per-pixel ``weights``
        ``[B, H, W, K]`` each style region's own ``[B, K, C]`` (``region_moments``)."""
        xf = tf.cast(x, tf.float32)
        mean = spatial_mean(xf)
        # var = mean(d·d) with d = x - mean (same as tf.nn.moments) but built from SUB and MUL:
        # TFLite's SQUARED_DIFFERENCE has no int16 kernel, which 16-bit-activation export needs.
        centred = subtract_per_channel(xf, mean)
        if weights is None or weights.shape.rank != 4:
            return mean, spatial_mean(centred * centred)
        # Sums of the centred features: the region's variance is a small difference of squares.
        w = resize_weights(tf.cast(weights, tf.float32), tf.shape(x)[1:3])
        count = tf.cast(tf.shape(x)[1] * tf.shape(x)[2], tf.float32)
        region_mean, var = region_moments(tf.einsum("bhwk,bhwc->bkc", w, centred),
                                          tf.einsum("bhwk,bhwc->bkc", w, centred * centred),
                                          tf.reduce_sum(w, axis=[1, 2])[..., None], count)
        return mean[:, 0] + region_mean, var

    def normalize(self, x: tf.Tensor, style: Style, mean: tf.Tensor, var: tf.Tensor) -> tf.Tensor:
        """Normalise ``x`` with given float32 ``mean``/``var`` (``[B|1, 1, 1, C]``, or each style
        region's ``[B|1, K, C]`` to be spread by per-pixel weights), then apply the style's γ, β.
        Tiling calls this with whole-image statistics on one tile."""
        weights, table = style
        part = table[..., self.offset : self.offset + self.param_size]
        if weights.shape.rank == 4:
            if not tf.executing_eagerly():
                # A per-pixel γ, β map is as large as the features. Without this edge a graph may
                # build every layer's map at once, before the features exist (+220 MB at 1024²).
                with tf.control_dependencies([mean]):
                    weights = tf.identity(weights)
            weights = resize_weights(tf.cast(weights, tf.float32), tf.shape(x)[1:3])
        params = mix_style_params(weights, tf.cast(part, tf.float32))
        gamma, beta = params[..., : self.channels], params[..., self.channels :]
        maxima = _VARIANCE_MAXIMA.get()
        if maxima is not None and tf.executing_eagerly():
            maxima[id(self)] = max(maxima.get(id(self), 0.0), float(tf.reduce_max(var)))
        floors = _VARIANCE_FLOORS.get()
        if floors and id(self) in floors:
            var = tf.maximum(var, floors[id(self)])
        if mean.shape.rank == 3:  # per style region: each pixel takes its mix of them
            mean = tf.einsum("bhwk,bkc->bhwc", weights, mean)
            var = tf.einsum("bhwk,bkc->bhwc", weights, var)
        # (x - mean) / std · γ + β folded into one scale and one shift computed on the small
        # [B, 1, 1, C] tensors: two full-size ops instead of four (matters on phones / TFLite).
        scale = tf.math.rsqrt(var + self.epsilon) * gamma
        xf = tf.cast(x, tf.float32)
        if self.channels <= _ROW_BROADCAST_CHANNELS and _per_image(mean) and _per_image(beta):
            # The colour norm, per image: one scale and one shift along rows (see _along_rows).
            y = _along_rows(tf.add, _along_rows(tf.multiply, xf, scale), beta - mean * scale)
        else:
            y = (xf - mean) * scale + beta
        return tf.cast(y, x.dtype)

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
        self.block = ConvNormAct(filters, offset, separable=separable)

    @property
    def param_size(self) -> int:
        return self.block.param_size

    @property
    def norms(self) -> list[ConditionalInstanceNorm]:
        return self.block.norms

    def call(self, x: tf.Tensor, style: Style) -> tf.Tensor:
        return self.block(upsample_nearest_2x(x), style)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.filters, "offset": self.offset,
                "separable": self.separable}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ConvUpsample(ConvNormAct):
    """A conditioned conv, then a nearest-neighbour ×2 resize: the conv (and its norm) run at the
    low resolution, which is 4× cheaper than UpsampleConv; the next block's 3×3 conv at the high
    resolution smooths the copies, so there is still no transposed-conv checkerboard."""

    def call(self, x: tf.Tensor, style: Style) -> tf.Tensor:
        return upsample_nearest_2x(super().call(x, style))

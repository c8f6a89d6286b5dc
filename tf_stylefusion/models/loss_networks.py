"""Frozen feature extractors for the perceptual losses: VGG19 and InceptionV3.

``weights`` is ``"imagenet"`` (downloaded by Keras on first use), ``"random"`` (He-scaled random
kernels, zero biases, every layer's filters closed under transposition so the network favours no
orientation: works offline and still transfers colour and coarse texture; its full name is
``"random-symmetric"``), ``"random-plain"`` (the same draw without the transposed filters, what
``"random"`` meant before), ``"random-wide"`` (the symmetric draw in VGG19's layout with twice the
filters) or a path to a weights file. Each network is built once per
setting and shared; the preprocessing it expects lives beside it. Inputs are always float images
in [0, 1].
"""

from __future__ import annotations

import functools
import logging
import os
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from ..config import (
    RANDOM_NETWORK,
    RANDOM_PLAIN,
    RANDOM_SYMMETRIC,
    RANDOM_WIDE,
    RANDOM_WIDE_WIDTH,
    network_name,
)
from ..errors import WeightsUnavailableError

log = logging.getLogger(__name__)

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], np.float32)
INCEPTION_MIN_SIZE = 75


RANDOM_WEIGHTS = (RANDOM_NETWORK, RANDOM_SYMMETRIC, RANDOM_PLAIN)
VGG19_PLAN = ((1, 64, 2), (2, 128, 2), (3, 256, 4), (4, 512, 4), (5, 512, 4))  # block, filters, convs


def _he_reinitialise(model: keras.Model, seed: int, symmetric: bool = False) -> None:
    """He-normal kernels (std √(2/fan_in)) and zero biases: keeps activations from vanishing
    through 16 random layers, which Glorot init does not (measured: visibly worse transfer).

    ``symmetric``: each layer's second half of filters is its first half transposed (height and
    width swapped, input channels in the previous layer's swapped order), so the network's
    features of a transposed image are its features transposed with their halves swapped: a
    random draw that happens to favour horizontal structure would otherwise make every style
    paint horizontal streaks.
    """
    rng = np.random.default_rng(seed)
    swap_inputs: np.ndarray | None = None  # the previous layer's half swap (None: RGB input)
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel = layer.kernel
            fan_in = int(np.prod(kernel.shape[:-1]))
            std = np.sqrt(2.0 / fan_in)
            cout = int(kernel.shape[3])
            if symmetric and kernel.shape[0] == kernel.shape[1] and cout % 2 == 0:
                half = rng.normal(0.0, std, (*kernel.shape[:3], cout // 2))
                mirrored = np.transpose(half, (1, 0, 2, 3))
                if swap_inputs is not None:
                    mirrored = mirrored[:, :, swap_inputs, :]
                values = np.concatenate([half, mirrored], axis=-1)
                swap_inputs = np.concatenate([np.arange(cout // 2, cout), np.arange(cout // 2)])
            else:
                values = rng.normal(0.0, std, kernel.shape)
                swap_inputs = None
            kernel.assign(values.astype(np.float32))
            if layer.bias is not None:
                layer.bias.assign(np.zeros(layer.bias.shape, np.float32))


def _resolve_weights(weights: str, what: str, flag: str) -> str | None:
    if weights in RANDOM_WEIGHTS:
        return None
    if weights == "imagenet":
        return "imagenet"
    if not os.path.isfile(weights):
        raise WeightsUnavailableError(
            f"{what} weights file {weights!r} does not exist; pass {flag} imagenet, random, "
            "or the path of a weights file.")
    return weights


def _build_application(factory, weights: str, what: str, flag: str, **kwargs) -> keras.Model:
    resolved = _resolve_weights(weights, what, flag)
    try:
        return factory(include_top=False, weights=resolved, **kwargs)
    except Exception as e:  # Keras raises bare Exception for fetch failures
        if resolved == "imagenet":
            raise WeightsUnavailableError(
                f"Could not download the ImageNet {what} weights (offline?); pass {flag} random "
                f"to train offline, or {flag} FILE with a downloaded weights file.") from e
        raise WeightsUnavailableError(f"Could not load {what} weights from {weights!r}: {e}") from e


class VGGFeatures:
    """VGG19 truncated after the deepest requested layer; returns one feature map per layer."""

    def __init__(self, weights: str = "random", layers: Sequence[str] = (), seed: int = 1234):
        self.weights = weights = network_name(weights)
        self.layer_names = tuple(layers)
        base = _build_application(keras.applications.VGG19, weights, "VGG19", "--loss-network",
                                  input_shape=(None, None, 3))
        if weights in RANDOM_WEIGHTS:
            _he_reinitialise(base, seed, symmetric=weights == RANDOM_SYMMETRIC)
        known = {layer.name for layer in base.layers}
        missing = [n for n in self.layer_names if n not in known]
        if missing:
            raise ValueError(f"VGG19 has no layers {missing}")
        self.model = keras.Model(base.input, [base.get_layer(n).output for n in self.layer_names],
                                 name="vgg19_features")
        self.model.trainable = False

    def preprocess(self, images: tf.Tensor) -> tf.Tensor:
        images = tf.cast(images, tf.float32)
        if self.weights in RANDOM_WEIGHTS:
            return (images - IMAGENET_MEAN) / IMAGENET_STD
        # Keras' ImageNet VGG weights expect Caffe style: BGR, 0-255, mean-subtracted.
        return images[..., ::-1] * 255.0 - CAFFE_MEAN_BGR

    def __call__(self, images: tf.Tensor) -> list[tf.Tensor]:
        out = self.model(self.preprocess(images), training=False)
        return [tf.cast(o, tf.float32) for o in (out if isinstance(out, list) else [out])]


class WideRandomVGG(VGGFeatures):
    """VGG19's layout with ``width`` times its filters, drawn as ``"random"`` draws VGG19 (He-normal,
    symmetric halves; the same layer names), built up to the deepest layer asked for. At width 1
    it is ``"random"`` VGG19 itself, filter for filter. Preprocessing and the call are VGG19's."""

    def __init__(self, layers: Sequence[str] = (), seed: int = 1234, width: float = RANDOM_WIDE_WIDTH):
        self.weights, self.layer_names = RANDOM_SYMMETRIC, tuple(layers)
        known = {f"block{b}_conv{i}" for b, _, convs in VGG19_PLAN for i in range(1, convs + 1)}
        missing = [n for n in self.layer_names if n not in known]
        if missing or not self.layer_names:
            raise ValueError(f"VGG19 has no layers {missing}" if missing else "no layers asked for")
        x = inputs = keras.Input((None, None, 3))
        outputs: dict[str, keras.KerasTensor] = {}
        for block, filters, convs in VGG19_PLAN:
            for i in range(1, convs + 1):
                name = f"block{block}_conv{i}"
                x = keras.layers.Conv2D(max(2, round(filters * width)), 3, padding="same", activation="relu",
                                        name=name)(x)
                outputs[name] = x
            if set(self.layer_names) <= set(outputs):
                break
            x = keras.layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
        _he_reinitialise(keras.Model(inputs, x), seed, symmetric=True)
        self.model = keras.Model(inputs, [outputs[n] for n in self.layer_names], name="wide_vgg19_features")
        self.model.trainable = False


MULTISCALE = "random-multiscale"
MULTISCALE_SIZES = (3, 5, 7)
MULTISCALE_FILTERS = 64


def _pyramid_level(name: str) -> int | None:
    """``scale3`` → 3 (the multi-scale network's layer names); None for any other name."""
    digits = name[len("scale"):]
    return int(digits) if name.startswith("scale") and digits.isdigit() else None


def _reflect_or_zero_pad(x: tf.Tensor, r: int) -> tf.Tensor:
    """Reflect padding, so borders do not read as dark edges; zeros where a pyramid level is too
    small to reflect (a side of r pixels or fewer)."""
    paddings = [[0, 0], [r, r], [r, r], [0, 0]]
    shape = tf.shape(x)
    fits = tf.logical_and(shape[1] > r, shape[2] > r)
    return tf.cond(fits, lambda: tf.pad(x, paddings, mode="REFLECT"), lambda: tf.pad(x, paddings))


class MultiscaleRandomFeatures:
    """One wide layer of random filters applied to an image pyramid (offline, cheap).

    In the manner of Ustyuzhaninov, Brendel, Gatys & Bethge (ICLR 2017), who found a single layer
    of random multi-scale filters enough for natural textures: at each of ``scales`` pyramid
    levels (2× average-pool steps, so level s sees 2^s-pixel structure) ``sizes`` × ``filters``
    He-scaled random filters with ReLU. Their receptive fields reach 7·2^(S-1) pixels (112 px for
    5 levels); forward and backward it ran 4× faster than VGG19 (8 images at 128², 2 cores).
    Returns one feature map per requested layer name (``scale0``…).
    """

    def __init__(self, layers: Sequence[str] = (), seed: int = 1234, sizes: Sequence[int] = MULTISCALE_SIZES,
                 filters: int = MULTISCALE_FILTERS):
        self.weights = MULTISCALE
        self.layer_names = tuple(layers)
        levels = [_pyramid_level(n) for n in self.layer_names]
        missing = [n for n, level in zip(self.layer_names, levels) if level is None]
        if missing:
            raise ValueError(f"the multi-scale random network has no layers {missing} "
                             "(it has scale0, scale1, …)")
        self.levels = 1 + max(levels, default=0)
        rng = np.random.default_rng(seed)
        self.kernels = [[tf.constant(rng.normal(0.0, np.sqrt(2.0 / (k * k * 3)), (k, k, 3, filters))
                                     .astype(np.float32)) for k in sizes] for _ in range(self.levels)]

    def preprocess(self, images: tf.Tensor) -> tf.Tensor:
        return (tf.cast(images, tf.float32) - IMAGENET_MEAN) / IMAGENET_STD

    def __call__(self, images: tf.Tensor) -> list[tf.Tensor]:
        x = self.preprocess(images)
        by_level = []
        for level in range(self.levels):
            if level:
                x = tf.nn.avg_pool2d(x, 2, 2, "VALID")
            maps = []
            for k in self.kernels[level]:
                padded = _reflect_or_zero_pad(x, int(k.shape[0]) // 2)
                maps.append(tf.nn.relu(tf.nn.conv2d(padded, k, 1, "VALID")))
            by_level.append(tf.concat(maps, axis=-1))
        return [by_level[_pyramid_level(n)] for n in self.layer_names]


class InceptionFeatures:
    """InceptionV3 global-average-pooled features (2048-d), the space of FID/KID."""

    def __init__(self, weights: str = "random", seed: int = 1234):
        self.weights = weights
        self.model = _build_application(keras.applications.InceptionV3, weights, "InceptionV3",
                                        "--inception-network", input_shape=(None, None, 3),
                                        pooling="avg")
        if weights == "random":
            _he_reinitialise(self.model, seed)
        self.model.trainable = False

    def __call__(self, images: tf.Tensor, size: int | None = None) -> tf.Tensor:
        """Features of ``images`` in [0, 1], resized to ``size`` (≥ 75, the net's minimum)."""
        images = tf.cast(images, tf.float32)
        if size is None:
            size = max(INCEPTION_MIN_SIZE, int(images.shape[1] or INCEPTION_MIN_SIZE))
        images = tf.image.resize(images, (size, size), method="bilinear", antialias=True)
        return tf.cast(self.model(self.preprocess(images), training=False), tf.float32)

    @staticmethod
    def preprocess(images: tf.Tensor) -> tf.Tensor:
        """[0, 1] → [-1, 1], what Keras' InceptionV3 weights expect (its "tf" mode)."""
        return tf.cast(images, tf.float32) * 2.0 - 1.0


def _context() -> tuple[str, tf.distribute.Strategy]:
    # A network built under one dtype policy or distribution strategy must not serve another.
    return keras.mixed_precision.global_policy().name, tf.distribute.get_strategy()


@functools.lru_cache(maxsize=8)
def _cached(kind: type, args: tuple, context: tuple) -> VGGFeatures | InceptionFeatures:
    return kind(*args)


def vgg_features(weights: str = "random", layers: tuple[str, ...] = (), seed: int = 1234
                 ) -> VGGFeatures | MultiscaleRandomFeatures:
    """The shared loss network for this setting (built once per process, dtype policy and
    strategy): VGG19 with ``weights``, the wide random VGG19 for ``"random-wide"``, or the
    multi-scale random network for ``"random-multiscale"``. Each returns one feature map per name in
    ``layers``."""
    if weights == MULTISCALE:
        return _cached(MultiscaleRandomFeatures, (tuple(layers), seed), _context())
    if weights == RANDOM_WIDE:
        return _cached(WideRandomVGG, (tuple(layers), seed), _context())
    return _cached(VGGFeatures, (network_name(weights), tuple(layers), seed), _context())


def inception_features(weights: str = "random", seed: int = 1234) -> InceptionFeatures:
    """The shared InceptionV3 feature extractor for this setting (built once per process, dtype
    policy and strategy)."""
    return _cached(InceptionFeatures, (weights, seed), _context())

"""Loss terms. Each returns a per-sample vector ``[B]`` so callers can mask and average over the
global batch (what tf.distribute needs), plus adversarial losses over multi-scale patch logits."""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np
import tensorflow as tf

from ..config import ADVERSARIAL_KINDS, LAYOUT_COLOURS, STYLE_STATISTICS
from ..models.color_stats import LUMA

LOCAL_WINDOW = 9


def gram_matrix(features: tf.Tensor, centered: bool | str = False) -> tf.Tensor:
    """``[B, H, W, C]`` → ``[B, C, C]`` Gram matrix normalised by C·H·W (size-independent).

    ``centered``: of the features minus their per-image channel means (a covariance);
    ``"local"``: minus their mean over a ``LOCAL_WINDOW``² neighbourhood (a local covariance,
    blind to structure larger than the window: 9 px at block1, 36 px at block3).
    """
    f = tf.cast(features, tf.float32)
    if centered == "local":
        f = f - tf.nn.avg_pool2d(f, LOCAL_WINDOW, 1, "SAME")
    elif centered:
        f = f - tf.reduce_mean(f, axis=[1, 2], keepdims=True)
    shape = tf.shape(f)
    h, w, c = shape[1], shape[2], shape[3]
    flat = tf.reshape(f, [shape[0], h * w, c])
    gram = tf.matmul(flat, flat, transpose_a=True)
    return gram / tf.cast(h * w * c, tf.float32)


def style_loss(grams: Sequence[tf.Tensor], targets: Sequence[tf.Tensor],
               norms: Sequence[tf.Tensor | float]) -> tf.Tensor:
    """Σ over layers of mean squared Gram difference, each layer divided by ``norms[l]``.

    ``norms`` is the mean square of that layer's target Grams, so every layer contributes on the
    same scale whatever its depth (and whatever the loss network's weights).
    """
    return normalised_mse(grams, targets, norms)


def split_windows(features: tf.Tensor, windows: int) -> tf.Tensor:
    """``[B, H, W, C]`` → ``[B·k², H/k, W/k, C]``: each image cut into a ``k × k`` grid of windows
    (rows and columns beyond a multiple of k dropped), windows of one image adjacent."""
    if windows == 1:
        return features
    shape = tf.shape(features)
    h, w, c = shape[1] // windows, shape[2] // windows, features.shape[-1]
    f = features[:, : h * windows, : w * windows]
    f = tf.reshape(f, [shape[0], windows, h, windows, w, c])
    f = tf.transpose(f, [0, 1, 3, 2, 4, 5])
    return tf.reshape(f, [shape[0] * windows * windows, h, w, c])


def channel_means(features: tf.Tensor) -> tf.Tensor:
    """``[B, H, W, C]`` → ``[B, C]`` per-image channel means."""
    return tf.reduce_mean(tf.cast(features, tf.float32), axis=[1, 2])


def layer_statistics(features: Sequence[tf.Tensor], statistic: str,
                     seed: int = 0) -> tuple[list[tf.Tensor], list[tf.Tensor]]:
    """Style statistics of each layer's features: ``(grams, means)``.

    ``"gram"``: plain Grams, no means. ``"mean_cov"``: Grams of the centred features and the
    channel means, matched as two terms. ReLU features of a random network have large positive
    means, so a plain Gram is mostly ``μμᵀ`` (the palette) and its loss hardly sees texture;
    matching the covariance on its own scale puts the texture back into the loss.
    ``"mean_local_cov"``: the covariance around each position's local mean instead. A global
    covariance also counts large-scale light and dark, which a generator most cheaply supplies
    as smooth blobs painted over flat skies; the local one keeps texture statistics only.
    ``"mean_sliced"``: in place of each Gram, the centred features projected on fixed random
    orthonormal directions (``slice_directions(C, seed)``) and sorted over positions, ``[B, H·W,
    C]``: the whole distribution of the features along each direction (a sliced Wasserstein
    distance, Heitz et al. 2021), not only its second moments; ``to_quantiles`` makes targets.
    """
    if statistic not in STYLE_STATISTICS:
        raise ValueError(f"style statistic must be one of {STYLE_STATISTICS}, got {statistic!r}")
    if statistic == "mean_sliced":
        return ([sorted_slices(f, slice_directions(int(f.shape[-1]), seed)) for f in features],
                [channel_means(f) for f in features])
    centered = {"gram": False, "mean_cov": True, "mean_local_cov": "local"}[statistic]
    grams = [gram_matrix(f, centered=centered) for f in features]
    means = [channel_means(f) for f in features] if centered else []
    return grams, means


# Quantiles kept per direction of a sliced target: a painting's distribution along a direction
# at this resolution (a 256 px painting has 65,536 positions at block1, 1,024 at block4).
SLICE_QUANTILES = 256


@lru_cache(maxsize=None)
def _directions(channels: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, channels])
    q, r = np.linalg.qr(rng.standard_normal((channels, channels)))
    return (q * np.sign(np.diag(r))).astype(np.float32)


def slice_directions(channels: int, seed: int = 0) -> tf.Tensor:
    """``[C, C]``: a fixed random orthonormal basis (the same for a channel count and seed, so
    targets, training and a resumed run agree)."""
    return tf.constant(_directions(channels, seed))


def sorted_slices(features: tf.Tensor, directions: tf.Tensor, centred: bool = True) -> tf.Tensor:
    """``[B, H, W, C]`` → ``[B, H·W, K]``: features (centred unless told not) along each
    direction, sorted."""
    f = tf.cast(features, tf.float32)
    if centred:
        f = f - tf.reduce_mean(f, axis=[1, 2], keepdims=True)
    shape = tf.shape(f)
    flat = tf.reshape(f, [shape[0], shape[1] * shape[2], f.shape[-1]])
    return tf.sort(tf.matmul(flat, directions), axis=1)


def resample_sorted(values: tf.Tensor, n: tf.Tensor | int) -> tf.Tensor:
    """``[B, M, K]`` sorted values → ``[B, n, K]``: the same quantile function read at n evenly
    spaced ranks (linear between neighbours), so distributions of any sizes compare."""
    m = tf.shape(values)[1]
    mf = tf.cast(m, tf.float32)
    pos = (tf.range(tf.cast(n, tf.float32)) + 0.5) / tf.cast(n, tf.float32) * mf - 0.5
    pos = tf.clip_by_value(pos, 0.0, mf - 1.0)
    lo = tf.minimum(tf.cast(tf.floor(pos), tf.int32), m - 1)
    hi = tf.minimum(lo + 1, m - 1)
    w = (pos - tf.cast(lo, tf.float32))[None, :, None]
    return tf.gather(values, lo, axis=1) * (1.0 - w) + tf.gather(values, hi, axis=1) * w


def to_quantiles(values: tf.Tensor, q: int = SLICE_QUANTILES) -> tf.Tensor:
    """Sorted slices ``[B, M, K]`` → ``[B, q, K]`` quantiles (a target's stored form; averaging
    them over images or mixing them over styles is the distributions' Wasserstein barycentre)."""
    return resample_sorted(values, q)


def sliced_distance(slices: Sequence[tf.Tensor], targets: Sequence[tf.Tensor],
                    norms: Sequence[tf.Tensor | float]) -> tf.Tensor:
    """Σ over layers of the per-sample squared distance between sorted slices ``[B, N, K]`` and
    target quantiles ``[B, Q, K]`` read at the output's N ranks, each layer over ``norms[l]``."""
    total = 0.0
    for v, t, n in zip(slices, targets, norms):
        sq = tf.square(v - resample_sorted(tf.cast(t, tf.float32), tf.shape(v)[1]))
        total += tf.reduce_mean(tf.reshape(sq, [tf.shape(sq)[0], -1]), axis=1) / n
    return total


# Directions in RGB along which the palette term compares colour distributions: three axes
# cannot tell a painting's few strong colours from a blend of them, a spread of directions can.
PALETTE_DIRECTIONS = 16


@lru_cache(maxsize=None)
def _palette_directions(count: int) -> np.ndarray:
    # Fixed unit vectors spread over the sphere (a Fibonacci lattice): the same for every run.
    i = np.arange(count) + 0.5
    z = 1.0 - 2.0 * i / count
    r = np.sqrt(1.0 - z * z)
    phi = np.pi * (1.0 + 5 ** 0.5) * i
    return np.stack([r * np.cos(phi), r * np.sin(phi), z]).astype(np.float32)


def palette_slices(images: tf.Tensor, count: int = PALETTE_DIRECTIONS) -> tf.Tensor:
    """``[B, H, W, 3]`` → ``[B, H·W, count]``: the pixels' colours along fixed directions, sorted
    (not centred: the palette's place counts as much as its shape)."""
    return sorted_slices(images, tf.constant(_palette_directions(count)), centred=False)


def palette_distance(images: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
    """Per-sample squared distance between the colour distribution of ``images`` and target
    quantiles ``[B, Q, count]`` (a sliced Wasserstein distance on pixels, after Pitié et al.'s
    colour transfer): the painting's whole palette, not only its mean and covariance."""
    return sliced_distance([palette_slices(images, targets.shape[-1])], [targets], [1.0])


def style_distance(stats: Sequence[tf.Tensor], targets: Sequence[tf.Tensor],
                   norms: Sequence[tf.Tensor | float], statistic: str) -> tf.Tensor:
    """The style term for ``layer_statistics``' first output against its targets."""
    if statistic == "mean_sliced":
        return sliced_distance(stats, targets, norms)
    return style_loss(stats, targets, norms)


def normalised_mse(values: Sequence[tf.Tensor], targets: Sequence[tf.Tensor],
                   norms: Sequence[tf.Tensor | float]) -> tf.Tensor:
    """Σ over layers of per-sample mean squared difference (over all but the batch axis), each
    layer divided by ``norms[l]``."""
    total = 0.0
    for v, t, n in zip(values, targets, norms):
        sq = tf.square(tf.cast(v, tf.float32) - tf.cast(t, tf.float32))
        total += tf.reduce_mean(tf.reshape(sq, [tf.shape(sq)[0], -1]), axis=1) / n
    return total


def content_loss(features: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
    """Per-sample mean squared feature difference, normalised by the targets' mean square."""
    f, t = tf.cast(features, tf.float32), tf.cast(targets, tf.float32)
    scale = tf.reduce_mean(tf.square(t), axis=[1, 2, 3]) + 1e-8
    return tf.reduce_mean(tf.square(f - t), axis=[1, 2, 3]) / scale


LAYOUT_SIZE = 16


def _cell_means(x: tf.Tensor) -> tf.Tensor:
    """``[B, H, W, C]`` → ``[B, LAYOUT_SIZE², C]`` cell means (area resize has no gradient)."""
    x = tf.cast(x, tf.float32)
    cells = tf.reduce_mean(split_windows(x, LAYOUT_SIZE), axis=[1, 2])
    return tf.reshape(cells, [tf.shape(x)[0], LAYOUT_SIZE * LAYOUT_SIZE, x.shape[-1]])


def _layout_cells(x: tf.Tensor, eps: float) -> tf.Tensor:
    """``[B, H, W, C]`` → ``[B, LAYOUT_SIZE², C]`` cell means, each channel standardised per image."""
    x = _cell_means(x)
    mean, var = tf.nn.moments(x, axes=[1], keepdims=True)
    return (x - mean) * tf.math.rsqrt(var + eps)


def layout_loss(images: tf.Tensor, content: tf.Tensor, colours: str = "channel", eps: float = 1e-3) -> tf.Tensor:
    """Per-sample distance between the large-scale layouts of two images.

    Both are averaged down to ``LAYOUT_SIZE``² cells, each channel standardised per image, so a
    palette change (what the colour norm does) is free while light and dark moved about at large
    scale (an arc painted over a flat sky, a blob where the photo has none) is not.
    ``colours="channel"``: each output channel's layout is held to the same photo channel's;
    ``"linear"``: to the best linear mix of the photo's channels (least squares per image), so an
    orange suit may turn grey, but nothing may appear that no colour mix of the photo shows.
    ``"monotone"``: only the output's luminance steps from cell to neighbouring cell that go against
    the photo's are counted (their product, when negative), so contrast, palette and a changed
    tone curve are free, but a smooth gradient may not turn into bands or rings.
    ``"residual"``: ``content`` is the photo as the style recoloured it (the generator's
    ``recoloured``), and each cell's colour is held to it as it is, unstandardised: the residual
    network may add texture but not large-scale light (a dome over a night sky, blobs over a face).
    ``eps`` keeps a nearly flat photo's noise from being stretched into a target.
    """
    if colours not in LAYOUT_COLOURS:
        raise ValueError(f"layout colours must be one of {LAYOUT_COLOURS}, got {colours!r}")
    if colours == "monotone":
        def grid(x: tf.Tensor) -> tf.Tensor:
            luminance = tf.reduce_mean(tf.cast(x, tf.float32), axis=-1, keepdims=True)
            return tf.reshape(_layout_cells(luminance, eps), [-1, LAYOUT_SIZE, LAYOUT_SIZE])

        out, photo = grid(images), grid(content)
        against = [tf.nn.relu(-(o * p)) for o, p in (
            (out[:, 1:] - out[:, :-1], photo[:, 1:] - photo[:, :-1]),
            (out[:, :, 1:] - out[:, :, :-1], photo[:, :, 1:] - photo[:, :, :-1]))]
        return sum(tf.reduce_mean(a, axis=[1, 2]) for a in against)
    if colours == "residual":
        return tf.reduce_mean(tf.square(_cell_means(images) - _cell_means(content)), axis=[1, 2])
    out, photo = _layout_cells(images, eps), _layout_cells(content, eps)
    if colours == "channel":
        return tf.reduce_mean(tf.square(out - photo), axis=[1, 2])
    x = tf.concat([photo, tf.ones_like(photo[..., :1])], axis=-1)
    gram = tf.matmul(x, x, transpose_a=True) + 1e-3 * tf.eye(x.shape[-1])
    mix = tf.linalg.solve(gram, tf.matmul(x, out, transpose_a=True))
    return tf.reduce_mean(tf.square(out - tf.matmul(x, mix)), axis=[1, 2])


def total_variation(images: tf.Tensor) -> tf.Tensor:
    """Per-sample mean squared difference between neighbouring pixels (both directions)."""
    x = tf.cast(images, tf.float32)
    dy = x[:, 1:, :, :] - x[:, :-1, :, :]
    dx = x[:, :, 1:, :] - x[:, :, :-1, :]
    return tf.reduce_mean(tf.square(dy), axis=[1, 2, 3]) + tf.reduce_mean(tf.square(dx), axis=[1, 2, 3])


def luminance(images: tf.Tensor) -> tf.Tensor:
    """Rec. 601 luma of RGB images, keeping a one-channel last axis."""
    weights = tf.constant(LUMA, tf.float32)
    return tf.reduce_sum(tf.cast(images, tf.float32) * weights, axis=-1, keepdims=True)


def feature_loss(features: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
    """Per-sample squared distance of pooled (e.g. InceptionV3) features, normalised."""
    f, t = tf.cast(features, tf.float32), tf.cast(targets, tf.float32)
    scale = tf.reduce_mean(tf.square(t), axis=-1) + 1e-8
    return tf.reduce_mean(tf.square(f - t), axis=-1) / scale


def _patch_mean(x: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(x, axis=[1, 2, 3])


def discriminator_loss(real: Sequence[tf.Tensor], fake: Sequence[tf.Tensor], kind: str = "lsgan") -> tf.Tensor:
    """Per-sample D loss summed over scales: real patches pushed to 'real', fakes to 'fake'."""
    _check_kind(kind)
    total = 0.0
    for r, f in zip(real, fake):
        if kind == "lsgan":
            total += _patch_mean(tf.square(r - 1.0)) + _patch_mean(tf.square(f))
        elif kind == "hinge":
            total += _patch_mean(tf.nn.relu(1.0 - r)) + _patch_mean(tf.nn.relu(1.0 + f))
        else:
            total += _patch_mean(tf.nn.softplus(-r)) + _patch_mean(tf.nn.softplus(f))
    return total


def generator_adversarial_loss(fake: Sequence[tf.Tensor], kind: str = "lsgan") -> tf.Tensor:
    """Per-sample G loss summed over scales: fakes pushed to look real."""
    _check_kind(kind)
    total = 0.0
    for f in fake:
        if kind == "lsgan":
            total += _patch_mean(tf.square(f - 1.0))
        elif kind == "hinge":
            total += -_patch_mean(f)
        else:
            total += _patch_mean(tf.nn.softplus(-f))
    return total


def _check_kind(kind: str) -> None:
    if kind not in ADVERSARIAL_KINDS:
        raise ValueError(f"adversarial loss must be one of {ADVERSARIAL_KINDS}, got {kind!r}")

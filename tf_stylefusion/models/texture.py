"""A painting's own brushwork as a texture, laid over its stylized pictures.

The random-weight loss networks teach a generator a painting's colours and fine texture but not
its strokes (docs/recipe.md). The texture stage supplies them from the painting itself, as
non-parametric texture synthesis does (Efros & Freeman's image quilting): the painting's
high-pass detail is cut into small patches, drawn at random and feathered onto a torus, so the
tile repeats seamlessly and keeps the strokes but none of the painting's composition. The
generator adds each style's tile (mixed by the style weights, as the bank rows are) where the
photo is not flat, so skies and walls stay clean (``flat_gate``).

Strokes laid over a photo's own fine detail (skin pores, fur, grain) read as marks on a
photograph; so where a tile goes, the generator's picture is first abstracted with a Kuwahara
filter (``kuwahara_luma``): regions flatten into patches of paint and edges stay
sharp, and the painting's strokes take the place of the photo's texture (docs/recipe.md,
table rows 61-63, 2026-12-02).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf
from PIL import Image

# The tile's side in pixels; a multiple of the patch step, so patches wrap around seamlessly.
TEXTURE_SIZE = 192
TEXTURE_PATCH = 32
# The painting's longer side when patches are cut from it: the scale whose strokes the meter and
# the sheets were judged at (384 px pictures, docs/recipe.md, table rows 57 and 58).
TEXTURE_SCALE = 384
# The high pass: the painting minus its Gaussian blur at this sigma (pixels at TEXTURE_SCALE).
TEXTURE_SIGMA = 3.0
# The photo's local luma deviation at which the texture reaches full strength (flat_gate).
TEXTURE_GUARD = 0.03
# The Kuwahara filter's radius (pixels) that takes the photo's fine detail out where strokes go.
ABSTRACTION_RADIUS = 2


def amount_argument(amount: float | None) -> tf.Tensor | float | None:
    """A per-call tile strength as the traced stylize functions take it: None (the generator's
    own), a plain 0 (the tiles left out of the graph) or a tensor (one trace for every value)."""
    if amount is None or amount == 0:
        return None if amount is None else 0.0
    return tf.constant(float(amount), tf.float32)


def kuwahara_luma(image: tf.Tensor, radius: int = ABSTRACTION_RADIUS) -> tf.Tensor:
    """``image`` ``[B, H, W, 3]`` with its luma Kuwahara-filtered: each pixel's luma becomes the
    mean of whichever of its four ``(radius + 1)²`` corner windows varies least, so fine
    photographic detail (skin, fur, grain) flattens into patches while edges stay sharp, the way
    paint abstracts a scene. Colour is left as it is (its detail is slight, and the luma alone
    costs under half as much in an int8 file).

    One average pool serves all four windows (they are the same pooled map at four offsets);
    the least-varying window is chosen with selects, not gathers, so TFLite can run it.
    """
    k = radius + 1
    h, w = tf.shape(image)[1], tf.shape(image)[2]
    # A 1×1 convolution, not a channel mean: TFLite's integer MEAN is a slow reference kernel.
    luma = tf.nn.conv2d(image, tf.fill([1, 1, 3, 1], tf.constant(1.0 / 3.0, image.dtype)), 1, "VALID")
    stats = tf.concat([luma, luma * luma], axis=-1)
    stats = tf.pad(stats, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
    pooled = tf.nn.avg_pool2d(stats, k, 1, "VALID")  # [B, H + radius, W + radius, 2]
    best_mean = best_var = None
    for dy in (0, radius):
        for dx in (0, radius):
            window = tf.slice(pooled, [0, dy, dx, 0], tf.stack([-1, h, w, -1]))
            mean = window[..., :1]
            var = window[..., 1:] - mean * mean
            if best_mean is None:
                best_mean, best_var = mean, var
            else:
                best_mean = tf.where(var < best_var, mean, best_mean)
                best_var = tf.minimum(var, best_var)
    return image + (best_mean - luma)


def _gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    radius = int(3 * sigma + 0.5)
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    out = np.pad(image, ((radius, radius), (0, 0), (0, 0)), mode="reflect")
    out = sum(t * out[i : i + image.shape[0]] for i, t in enumerate(taps))
    out = np.pad(out, ((0, 0), (radius, radius), (0, 0)), mode="reflect")
    return sum(t * out[:, i : i + image.shape[1]] for i, t in enumerate(taps))


def high_pass(image: np.ndarray, scale: int = TEXTURE_SCALE, sigma: float = TEXTURE_SIGMA) -> np.ndarray:
    """``[H, W, 3]`` in [0, 1] → the detail of the image resized to ``scale`` on its longer side
    (the image minus its blur), float32."""
    img = np.asarray(image)
    # 8-bit pixels, or floats in [0, 1] as the package's image loader gives them
    img = img.astype(np.float32) / 255.0 if np.issubdtype(img.dtype, np.integer) else img.astype(np.float32)
    h, w = img.shape[:2]
    ratio = scale / max(h, w)
    size = (max(1, round(w * ratio)), max(1, round(h * ratio)))
    pil = Image.fromarray(np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)).resize(size, Image.LANCZOS)
    x = np.asarray(pil, np.float32) / 255.0
    return (x - _gaussian_blur(x, sigma)).astype(np.float32)


def painting_texture(images: Sequence[np.ndarray], size: int = TEXTURE_SIZE, patch: int = TEXTURE_PATCH,
                     seed: int = 0) -> np.ndarray:
    """A seamless ``[size, size, 3]`` tile of ``images``' brushwork (float32, mean ≈ 0): patches
    of their high-pass detail drawn at random (``seed``) and feathered onto a torus, each
    overlap normalised so the tile keeps the painting's contrast."""
    step = patch * 3 // 4
    if size % step:
        raise ValueError(f"texture size {size} must be a multiple of the patch step {step}")
    details = [high_pass(im) for im in images]
    details = [d for d in details if min(d.shape[:2]) > patch]
    if not details:
        raise ValueError(f"painting_texture needs an image larger than {patch} px at {TEXTURE_SCALE} px")
    areas = np.array([d.shape[0] * d.shape[1] for d in details], np.float64)
    rng = np.random.default_rng(seed)
    overlap = patch - step
    ramp = np.ones(patch, np.float32)
    ramp[:overlap] = np.linspace(0.0, 1.0, overlap + 2)[1:-1]
    ramp[-overlap:] = ramp[:overlap][::-1]
    window = np.sqrt(np.outer(ramp, ramp))[..., None]
    acc = np.zeros((size, size, 3), np.float32)
    weight = np.zeros((size, size, 1), np.float32)
    for y in range(0, size, step):
        rows = np.arange(y, y + patch) % size
        for x in range(0, size, step):
            cols = np.arange(x, x + patch) % size
            src = details[rng.choice(len(details), p=areas / areas.sum())]
            py = rng.integers(0, src.shape[0] - patch + 1)
            px = rng.integers(0, src.shape[1] - patch + 1)
            acc[np.ix_(rows, cols)] += src[py : py + patch, px : px + patch] * window
            weight[np.ix_(rows, cols)] += window ** 2
    # Two independent patches summed with weights w1, w2 have spread sqrt(w1² + w2²): divide by it.
    tile = acc / np.sqrt(np.maximum(weight, 1e-6))
    return (tile - tile.mean(axis=(0, 1))).astype(np.float32)


def texture_field(textures: tf.Tensor, weights: tf.Tensor, height: tf.Tensor, width: tf.Tensor,
                  origin: tuple[int, int] | tf.Tensor = (0, 0)) -> tf.Tensor:
    """Tiles ``textures`` ``[K, S, S, 3]`` over ``height × width`` pixels whose top-left corner
    sits at ``origin`` in the whole picture (so tiles of one picture line up), mixed by
    ``weights`` ``[B, K]`` or ``[B, height, width, K]``. Returns ``[B, height, width, 3]``."""
    # Static sizes where known (exported graphs), else read at run time (relaxed traces).
    k = textures.shape[0] if textures.shape[0] is not None else tf.shape(textures)[0]
    size = textures.shape[1] if textures.shape[1] is not None else tf.shape(textures)[1]
    per_pixel = weights.shape.rank == 4
    weights = tf.cast(weights, textures.dtype)
    # One mixed tile per sample, or with per-pixel weights every style's tile, mixed after tiling.
    if per_pixel:
        tiles = textures
    elif isinstance(k, int):
        # A sum of K products, not a matmul: TFLite would make the tiles a FULLY_CONNECTED weight
        # with a scale and zero point per pixel (1.3 MB more in a 7-style int8 file); as K plain
        # constants an int8 file stores each in 8 bits with one scale.
        tiles = sum(textures[i][None] * weights[:, i, None, None, None] for i in range(k))
    else:
        tiles = tf.reduce_sum(textures[None] * weights[:, :, None, None, None], axis=1)
    if isinstance(origin, tf.Tensor):  # tiled inference: one graph for every tile
        tiles = tf.roll(tiles, shift=-tf.math.floormod(tf.cast(origin, tf.int32), size), axis=[1, 2])
    elif origin[0] or origin[1]:  # exported graphs start at 0: they need no ROLL
        tiles = tf.roll(tiles, shift=-tf.math.floormod(tf.constant(origin, tf.int32), size), axis=[1, 2])
    multiples = tf.stack([1, height // size + 1, width // size + 1, 1])

    def laid(t: tf.Tensor) -> tf.Tensor:
        return tf.slice(tf.tile(t, multiples), [0, 0, 0, 0], tf.stack([-1, height, width, -1]))

    if not per_pixel:
        return laid(tiles)
    if isinstance(k, int):  # one style at a time: never K full-size fields in memory at once
        field = weights[..., 0, None] * laid(tiles[0:1])
        for i in range(1, k):
            field += weights[..., i, None] * laid(tiles[i : i + 1])
        return field
    return tf.reduce_sum(weights[..., None] * tf.transpose(laid(tiles), [1, 2, 0, 3])[None], axis=3)

"""Style transfer by texture synthesis: the photo repainted from the painting's own patches.

After Elad & Milanfar, "Style Transfer via Texture Synthesis" (IEEE TIP 2017). Coarse to fine,
for each patch size and iteration:

1. every patch of the current picture finds its nearest patch of the painting (in the painting
   patches' principal subspace, chunked matrix products: ``patches.nearest``);
2. the found patches are laid back with robust (IRLS) weights, so one bad match cannot smear
   its neighbours;
3. the result is pulled toward the photo on the photo's contours (``structure.edge_map``), far
   more in luma than in colour, so faces and forms stay readable in the painting's palette;
4. its colours take the painting's distribution by ranks.

Large patches at the coarse levels carry the painting's strokes and shapes; the finest level
leaves the largest size out.

No network is involved: the strokes, edges and palette are the painting's own.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import tensorflow as tf

from ..config import SynthesisConfig
from ..data.images import validate_image_array
from . import patches as P
from .color import RGB_TO_YIQ, YIQ_TO_RGB, match_histograms
from .structure import edge_map

Progress = Callable[[int, int], None]

# A painting's longer side is capped here after scaling: more pixels only grow the patch set.
MAX_PAINTING_SIDE = 2048


def resize(image: np.ndarray | tf.Tensor, height: int, width: int) -> tf.Tensor:
    """Area-aware resize of ``[H, W, C]`` (antialiased when shrinking)."""
    return tf.image.resize(tf.convert_to_tensor(image, tf.float32), [height, width],
                           method="bilinear", antialias=True)


def rescale(image: np.ndarray | tf.Tensor, factor: float, minimum: int = 8) -> tf.Tensor:
    """``image`` resized by ``factor`` (each side at least ``minimum`` pixels)."""
    return resize(image, max(minimum, round(image.shape[0] * factor)), max(minimum, round(image.shape[1] * factor)))


def level_sizes(height: int, width: int, scales: int) -> list[tuple[int, int]]:
    """Sizes of the pyramid, coarsest first, each half the next (never below 16 px)."""
    sizes = []
    for level in range(scales):
        factor = 2 ** (scales - 1 - level)
        sizes.append((max(16, round(height / factor)), max(16, round(width / factor))))
    return sizes


def patch_plan(config: SynthesisConfig, level: int, size: tuple[int, int]) -> list[int]:
    """Patch sizes run at ``level`` (largest first): the finest level leaves the largest out,
    and no patch is larger than half the level's shorter side."""
    sizes = sorted(config.patch_sizes, reverse=True)
    if level == config.scales - 1 and len(sizes) > 1:
        sizes = sizes[1:]
    fitting = [p for p in sizes if p <= min(size) // 2]
    return fitting or [min(sizes)]


class _PaintingPatches:
    """The painting's patches of one size at one level, and the subspace they are searched in."""

    def __init__(self, painting: tf.Tensor, patch: int, config: SynthesisConfig):
        gap = max(1, config.style_gap)
        h, w = int(painting.shape[0]), int(painting.shape[1])
        while ((h - patch) // gap + 1) * ((w - patch) // gap + 1) > config.max_style_patches:
            gap += 1
        grid = P.extract(painting, patch, gap)
        self.values = tf.reshape(grid, [-1, int(grid.shape[-1])])
        rng = np.random.default_rng(config.seed)
        n = int(self.values.shape[0])
        sample = self.values if n <= 20000 else tf.gather(self.values, rng.choice(n, 20000, replace=False))
        self.mean, self.axes = P.principal_axes(sample, config.pca_energy, config.pca_max_dims, config.seed)
        self.keys = tf.matmul(self.values - self.mean, self.axes)

    def match(self, queries: tf.Tensor) -> tf.Tensor:
        """``[N, D]`` patches of the picture → the painting's nearest patch for each, ``[N, D]``."""
        index = P.nearest(tf.matmul(queries - self.mean, self.axes), self.keys)
        return tf.gather(self.values, index)


def _aggregate(found: tf.Tensor, rows: int, cols: int, patch: int, gap: int, start: tf.Tensor,
               config: SynthesisConfig) -> tf.Tensor:
    """Lay the found patches ``[N, D]`` back on the padded grid: their mean where they overlap,
    or (``robust_power`` below 2) IRLS on ``|x - z|^r``, starting from ``start``."""
    grid = tf.reshape(found, [rows, cols, -1])
    ones = tf.ones([rows, cols, patch * patch * 3], tf.float32)
    if config.robust_power >= 2.0:
        return P.fold(grid, patch, gap) / tf.maximum(P.fold(ones, patch, gap), 1e-8)
    picture = start
    for _ in range(config.robust_steps + 1):
        residual = tf.reduce_sum(tf.square(P.extract(picture, patch, gap) - grid), axis=-1, keepdims=True)
        # |x - z|^r as a weighted least squares: weight |x - z|^(r - 2).
        weights = tf.pow(residual / (patch * patch * 3) + 1e-4, (config.robust_power - 2.0) / 2.0)
        picture = P.fold(grid * weights, patch, gap) / tf.maximum(P.fold(ones * weights, patch, gap), 1e-8)
    return picture


# The photo's structure is kept in luma, where it reads, while the painting's colours stay free.
# NumPy, not tf.constant: importing the package must run no TensorFlow op (a multi-worker run
# configures its collective ops first; training imports this module for the teacher).
_TO_YIQ = np.asarray(RGB_TO_YIQ, np.float32)
_FROM_YIQ = np.asarray(YIQ_TO_RGB, np.float32)


def _fuse(picture: tf.Tensor, content: tf.Tensor, keep: tf.Tensor, luma_weight: float) -> tf.Tensor:
    """Pull ``picture`` toward ``content`` by ``keep`` (``(X + W C) / (1 + W)``), ``luma_weight``
    times as strongly in luma as in chroma."""
    if luma_weight == 1.0:
        return (picture + keep * content) / (1.0 + keep)
    p = tf.tensordot(picture, _TO_YIQ, [[2], [1]])
    c = tf.tensordot(content, _TO_YIQ, [[2], [1]])
    weight = keep * tf.constant([luma_weight, 1.0, 1.0], tf.float32)
    return tf.tensordot((p + weight * c) / (1.0 + weight), _FROM_YIQ, [[2], [1]])


def synthesize(photo: np.ndarray, painting: np.ndarray, config: SynthesisConfig | None = None,
               progress: Progress | None = None) -> np.ndarray:
    """Repaint ``photo`` ``[H, W, 3]`` from ``painting``'s patches; float32 in [0, 1], the photo's size.

    ``progress(done, total)`` is called after each iteration.
    """
    config = config or SynthesisConfig()
    photo = validate_image_array(photo, "photo")
    painting = validate_image_array(painting, "painting")
    height, width = photo.shape[:2]
    rng = np.random.default_rng(config.seed)

    side = min(MAX_PAINTING_SIDE, max(16, round(max(height, width) * config.style_size)))
    painting = rescale(painting, side / max(painting.shape[:2])).numpy()
    content = match_histograms(photo, painting)
    sizes = level_sizes(height, width, config.scales)
    plans = [patch_plan(config, level, size) for level, size in enumerate(sizes)]
    total = sum(len(plan) for plan in plans) * config.iterations
    done = 0

    picture = None
    for level, (h, w) in enumerate(sizes):
        content_l = resize(content, h, w)
        painting_l = rescale(painting, h / height)
        keep = config.content_weight * edge_map(resize(photo, h, w).numpy())
        keep = tf.constant(keep[..., None])
        if picture is None:
            noise = rng.normal(0.0, config.noise, size=(h, w, 3)).astype(np.float32)
            picture = content_l + noise
        else:
            picture = resize(picture, h, w)
        painting_np = painting_l.numpy()
        for patch in plans[level]:
            if min(painting_l.shape[:2]) < patch:
                continue
            gap = max(1, round(patch * config.gap_ratio))
            source = _PaintingPatches(painting_l, patch, config)
            for _ in range(config.iterations):
                padded = P.pad_to_grid(picture, patch, gap)
                grid = P.extract(padded, patch, gap)
                rows, cols = int(grid.shape[0]), int(grid.shape[1])
                found = source.match(tf.reshape(grid, [rows * cols, -1]))
                aggregated = _aggregate(found, rows, cols, patch, gap, padded, config)[:h, :w]
                fused = _fuse(aggregated, content_l, keep, config.luma_weight)
                picture = tf.constant(match_histograms(fused.numpy(), painting_np))
                done += 1
                if progress:
                    progress(done, total)
    return np.clip(picture.numpy(), 0.0, 1.0).astype(np.float32)

"""Stylize images of any size in overlapping tiles, without seams.

Two things make tiles seam-free:

1. **Shared normalisation statistics.** Every normalisation layer of the generator is an instance
   norm, whose mean and variance are taken over the whole image (with per-pixel weights, over each
   style's region: ``models.layers.region_moments``). A tile alone would normalise by
   its own statistics and come out in a visibly different tone. Pass 1 finds every layer's mean
   and variance for the whole image: exactly, accumulated over the tiles layer by layer (the
   default, ``exact_statistics``), or approximately, by running the generator once on the image
   downscaled so its longer side is at most ``stats_size``. Statistics depend on scale, and
   their errors compound through the layers: on the style pack the downscaled ones put some
   photos 12 dB from the untiled output. Iterating all layers at once from the downscaled
   statistics (one pass per round) diverged, and exact statistics from a sample of the tiles
   were as far off (15 dB for a third of them): only the layer-by-layer pass over every tile
   is exact. Pass 2 stylizes each tile with those statistics
   (``StyleFusionGenerator.norm_statistics``).
2. **Overlap with feathered blending.** Pixels near a tile's inner edge see reflected padding
   instead of their real neighbours. Adjacent tiles overlap by ``overlap`` pixels; in each, the
   outer ``min(receptive radius, overlap / 2)`` pixels of the overlap get weight 0 and the rest
   is cross-faded linearly. With an overlap of at least twice the receptive radius (the default:
   128 px for 50), every pixel kept is computed exactly as in an untiled pass.

Tile origins are multiples of the generator's stride, so every tile's downsampled feature grid is
aligned with the whole image's. Peak memory is bounded by the tile size, not the image size:
only the image and the output are held in full (and a fusion's region masks, 4 bytes a pixel
each), as uint8 when they are given and asked for so (3 bytes a pixel each: a uint8 image is
turned into float a tile at a time, and the output a band of finished rows at a time,
``blend_tiles``), otherwise as float32 (12 bytes a pixel each).
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Callable, Iterator, Protocol, Union

import numpy as np
import tensorflow as tf

from ..errors import ConfigError
from ..models.generator import FLAT_WINDOW, MIN_SIZE, STRIDE, StyleFusionGenerator
from ..models.layers import ConditionalInstanceNorm, region_moments, resize_weights
from ..models.texture import ABSTRACTION_RADIUS, amount_argument

# 512 px tiles: at 16 MP with per-pixel weights (masks, strength) 1024 px tiles peaked at 2.1 GB RSS,
# 512 px at 1.8 GB, in the same time (scripts/bench_large_image.py).
DEFAULT_TILE_SIZE = 512
# At least twice the receptive radius (50 px for the default generator), so tiles are exact.
DEFAULT_OVERLAP = 128
DEFAULT_STATS_SIZE = 1024
# Images with more pixels than this are tiled when the caller leaves the tile size automatic:
# untiled, 2048² already peaks at 2.4 GB RSS on CPU (scripts/benchmark.py).
AUTO_TILE_PIXELS = 2048 * 2048

Stats = list[tuple[tf.Tensor, tf.Tensor]]


class WeightField(Protocol):
    """Per-pixel style weights made on demand, so a large image never holds ``[H, W, K]`` in full
    (masks and strength build theirs a tile at a time; see ``fusion``)."""

    def region(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """The weights of rows ``y0:y1`` and columns ``x0:x1``: ``[K]`` or ``[y1-y0, x1-x0, K]``."""
        ...


Weights = Union[np.ndarray, WeightField]


# ``(stage, done, total)``: "statistics" for pass 1's tiles (each layer's pass over every tile),
# "tiles" for pass 2's; a render with strength measures statistics twice.
ProgressCallback = Callable[[str, int, int], None]
_PROGRESS: ContextVar[ProgressCallback | None] = ContextVar("tile_progress", default=None)


@contextlib.contextmanager
def reporting_progress(callback: ProgressCallback) -> Iterator[None]:
    """Within the block, tiled stylization in this thread reports each tile to ``callback``."""
    token = _PROGRESS.set(callback)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


def _report(stage: str, done: int, total: int) -> None:
    callback = _PROGRESS.get()
    if callback is not None:
        callback(stage, done, total)


def per_weights_rank(fn: Callable) -> Callable:
    """``fn(generator, image, weights, ...)`` as one tf.function per rank of ``weights`` (a mix
    ``[B, K]`` or per pixel ``[B, H, W, K]``): relaxed retracing would otherwise forget the rank."""
    graphs = {rank: tf.function(fn, reduce_retracing=True) for rank in (2, 4)}

    def call(generator: StyleFusionGenerator, image: tf.Tensor, weights: tf.Tensor, *args: object) -> object:
        return graphs[len(weights.shape)](generator, image, weights, *args)

    call.__doc__, call.__name__ = fn.__doc__, fn.__name__
    call.graphs = graphs  # type: ignore[attr-defined]  # their tracing counts, for tests
    return call


def image_region(image: np.ndarray, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """Rows ``y0:y1`` and columns ``x0:x1`` of an ``[H, W, 3]`` image as float32 in [0, 1]. A uint8
    image is converted here, a region at a time, with the same arithmetic as converting it whole
    (``validate_image_array``), so a 16 MP photo is never held as float (192 MB)."""
    region = image[y0:y1, x0:x1]
    return region.astype(np.float32) / 255.0 if region.dtype == np.uint8 else region


def weights_at(weights: Weights, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """A region of ``weights``: an array ``[K]`` (the same everywhere), ``[H, W, K]``, or a field."""
    if isinstance(weights, np.ndarray):
        return weights if weights.ndim == 1 else weights[y0:y1, x0:x1]
    return weights.region(y0, y1, x0, x1)


@dataclass
class TileConfig:
    """How an image is cut: ``tile_size`` and ``overlap`` in pixels (multiples of 4; overlap at
    most half the tile), and how the normalisation statistics are found: by default exactly,
    accumulated over the tiles at full resolution (tiled equals untiled; several forward passes,
    see ``exact_statistics``), or with ``exact_statistics=False`` on the whole image downscaled
    to ``stats_size`` (one small pass, but instance-norm statistics depend on scale: measured on
    the style pack, 1024 px photos with statistics at 512 px came out 11.8–43.5 dB from the
    untiled output, mean 26.6, a visible shift of tone on some)."""

    tile_size: int = DEFAULT_TILE_SIZE
    overlap: int = DEFAULT_OVERLAP
    stats_size: int = DEFAULT_STATS_SIZE
    exact_statistics: bool = True

    @classmethod
    def for_tile_size(cls, tile_size: int | None) -> "TileConfig":
        """Defaults for ``tile_size`` (None: the default size); the overlap shrinks with small tiles."""
        if tile_size is None or tile_size <= 0:
            return cls()
        return cls(tile_size=tile_size, overlap=min(DEFAULT_OVERLAP, tile_size // 2 // STRIDE * STRIDE))

    def __post_init__(self) -> None:
        if self.tile_size < 2 * MIN_SIZE or self.tile_size % STRIDE:
            raise ConfigError(f"tile size must be a multiple of {STRIDE} and at least {2 * MIN_SIZE}, "
                              f"got {self.tile_size}")
        if self.overlap < 0 or self.overlap % STRIDE or 2 * self.overlap > self.tile_size:
            raise ConfigError(f"tile overlap must be a multiple of {STRIDE} in [0, tile size / 2], "
                              f"got {self.overlap} for tile size {self.tile_size}")
        if self.stats_size < MIN_SIZE:
            raise ConfigError(f"stats size must be at least {MIN_SIZE}, got {self.stats_size}")


def resolve_tiling(tiling: "int | TileConfig | None", height: int, width: int) -> "TileConfig | None":
    """The tiling for an ``height``×``width`` image, or None to stylize it whole. ``tiling``: a
    TileConfig (tiles when a side exceeds its tile size) or a tile size as in ``needs_tiling``."""
    if isinstance(tiling, TileConfig):
        return tiling if max(height, width) > tiling.tile_size else None
    return TileConfig.for_tile_size(tiling) if needs_tiling(height, width, tiling) else None


def needs_tiling(height: int, width: int, tile_size: int | None) -> bool:
    """``tile_size`` None: automatic (above AUTO_TILE_PIXELS); 0: never; N: when a side exceeds N."""
    if tile_size is None:
        return height * width > AUTO_TILE_PIXELS
    return tile_size > 0 and max(height, width) > tile_size


def axis_spans(n: int, tile: int, overlap: int, stride: int = STRIDE) -> list[tuple[int, int]]:
    """``[start, end)`` spans covering ``0..n``: as few as tiles of at most ``tile`` allow, of
    equal length (spread evenly, so no tile is mostly overlap), starts multiples of ``stride``
    (the generator's), neighbours overlapping by at least ``overlap``; the last span ends at ``n``
    (it may be up to ``stride - 1`` longer than the others)."""
    if n <= tile:
        return [(0, n)]
    count = -(-(n - overlap) // (tile - overlap))
    while True:
        length = -(-(n + (count - 1) * overlap) // (count * stride)) * stride
        while length <= tile:
            spacing = (n - length) / (count - 1)
            starts = [int(i * spacing) // stride * stride for i in range(count - 1)]
            starts.append((n - length) // stride * stride)
            if all(b <= a + length - overlap for a, b in zip(starts, starts[1:])):
                return [(s, s + length) for s in starts[:-1]] + [(starts[-1], n)]
            length += stride  # rounding starts down to the stride cost some overlap
        count += 1


def receptive_radius(generator: StyleFusionGenerator) -> int:
    """How far (in input pixels) a tile edge's padding reaches into the output.

    Sum of the 3×3 convolutions' reach, each at its layer's input stride. Full-resolution layout:
    enc1 (1) + enc2 (1) + enc3 at stride 2 (2) + two per residual block at stride 4 (8 a block) +
    dec1 at stride 2 (2) + dec2 (1) + to_rgb (1). Pixel-shuffle layout, everything at stride ≥ 2:
    enc1 (2) + enc2 (2) + enc3 at 4 (4) + 8 a block + dec1 at 4 (4) + dec2 (2) + to_rgb (2).
    Nearest upsampling and the 2×2 shuffle blocks add nothing because tile origins are aligned to
    the stride; the content skip's bilinear upsampling of the half-size residual adds 2. A coarse
    stage adds enc4 at stride 4 (4), 16 a block at stride 8 and dec0 at stride 8 (8). The flat
    guard's gate is a second path beside the network (two window boxes at quarter size, the 4×4
    pool and the upsampling), so the reach is the longer of the two; brushwork tiles are laid
    over through the same gate, after the abstraction filter (its radius more on the network's).
    """
    base = 16 if generator.config.pixel_shuffle else 8
    if generator.config.pixel_shuffle and generator.config.content_skip:
        base += 2
    coarse = 12 + 16 * generator.config.coarse_blocks if generator.config.coarse_blocks else 0
    textured = generator.textures is not None and generator.config.texture > 0
    abstracted = textured and generator.config.abstraction > 0
    network = base + 8 * generator.config.num_res_blocks + coarse + (ABSTRACTION_RADIUS if abstracted else 0)
    gated = generator.config.flat_guard or textured
    gate = 8 * (FLAT_WINDOW // 2) + 8 if gated else 0
    return max(network, gate)


def _ramp(length: int, overlap: int, context: int, fade_in: bool, fade_out: bool) -> np.ndarray:
    """1-D blend weights at inner edges: 0 over the first ``context`` pixels (they see the tile's
    padding), then a linear ramp up to 1 over the rest of the overlap. Two neighbours' weights over
    their shared ``overlap`` pixels sum to exactly 1."""
    r = np.ones(length, np.float32)
    if overlap:
        fade = overlap - 2 * context
        ramp = np.clip((np.arange(overlap, dtype=np.float32) + 1.0 - context) / (fade + 1.0), 0.0, 1.0)
        if fade_in:
            r[:overlap] = np.minimum(r[:overlap], ramp)
        if fade_out:
            r[-overlap:] = np.minimum(r[-overlap:], ramp[::-1])
    return r


def feather(span_y: tuple[int, int], span_x: tuple[int, int], height: int, width: int,
            overlap: int, context: int = 0) -> np.ndarray:
    """``[h, w, 1]`` blend weights of one tile; image borders are not faded."""
    (y0, y1), (x0, x1) = span_y, span_x
    ry = _ramp(y1 - y0, overlap, context, y0 > 0, y1 < height)
    rx = _ramp(x1 - x0, overlap, context, x0 > 0, x1 < width)
    return (ry[:, None] * rx[None, :])[..., None]


def _box_reduce(array: np.ndarray, k: int, band: int = 32) -> np.ndarray:
    """Mean over k×k blocks, computed in bands of output rows to keep temporaries small (a uint8
    image is read as float in [0, 1], a band at a time)."""
    hk, wk, c = array.shape[0] // k, array.shape[1] // k, array.shape[2]
    out = np.empty((hk, wk, c), np.float32)
    for y in range(0, hk, band):
        rows = image_region(array, y * k, min(hk, y + band) * k, 0, wk * k)
        out[y: y + band] = rows.reshape(-1, k, wk, k, c).mean(axis=(1, 3), dtype=np.float32)
    return out


def _box_reduce_field(weights: Weights, height: int, width: int, k: int, band: int = 32) -> np.ndarray:
    """``_box_reduce`` of per-pixel weights fetched a band of rows at a time (``[K]`` stays)."""
    probe = weights_at(weights, 0, 1, 0, 1)  # one pixel tells [K] from per-pixel, and K
    if probe.ndim == 1:
        return probe
    hk, wk = height // k, width // k
    out = np.empty((hk, wk, probe.shape[-1]), np.float32)
    for y in range(0, hk, band):
        rows = weights_at(weights, y * k, min(hk, y + band) * k, 0, wk * k)
        out[y: y + band] = _box_reduce(rows, k, band)
    return out


def _downscale(image: np.ndarray, weights: Weights, max_side: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Box-filter by the smallest integer factor that brings the longer side to ``max_side`` or
    less: a reshaped mean, so no full-size temporary is made."""
    h, w = image.shape[:2]
    k = -(-max(h, w) // max_side)
    if k > 1 and min(h, w) // k >= MIN_SIZE:
        image = _box_reduce(image, k)
        weights = _box_reduce_field(weights, h, w, k)
    else:
        image = image_region(image, 0, h, 0, w)
        weights = weights_at(weights, 0, h, 0, w)
    return tf.convert_to_tensor(image[None]), tf.convert_to_tensor(weights[None])


def _table(generator: StyleFusionGenerator, table: "np.ndarray | tf.Tensor | None") -> tf.Tensor:
    """The style table the weights mix: the bank, or the bank with extra rows (``fusion``)."""
    return tf.convert_to_tensor(generator.bank.table if table is None else table, tf.float32)


def measure_statistics(generator: StyleFusionGenerator, image: np.ndarray, weights: Weights,
                       stats_size: int = DEFAULT_STATS_SIZE, table: "np.ndarray | tf.Tensor | None" = None) -> Stats:
    """Pass 1: every normalisation layer's ``(mean, var)`` on the whole image, downscaled so its
    longer side is at most ``stats_size``. ``weights``: normalised ``[K]``, ``[H, W, K]`` or a
    field, over ``table`` (default: the bank)."""
    x, wt = _downscale(image, weights, stats_size)
    means, variances = _stats_graph(generator, x, wt, _table(generator, table))
    return list(zip(means, variances))


@per_weights_rank
def _stats_graph(generator: StyleFusionGenerator, image: tf.Tensor, weights: tf.Tensor, table: tf.Tensor
                 ) -> tuple[list[tf.Tensor], list[tf.Tensor]]:
    stats: Stats = [None] * generator.num_norm_layers  # type: ignore[list-item]

    def record(i: int, features: tf.Tensor, weights: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        stats[i] = ConditionalInstanceNorm.moments(features, weights)
        return stats[i]

    with generator.norm_statistics(record):
        generator.stylize_with_table(image, weights, table, texture_amount=0.0)  # statistics only: no tiles
    return [m for m, _ in stats], [v for _, v in stats]


def _core_bounds(spans: list[tuple[int, int]], stride: int) -> list[tuple[int, int]]:
    """Split the axis into one core per span, cutting each overlap in the middle (rounded to the
    stride): every pixel belongs to exactly one core. Bounds are relative to the span's start;
    the last core runs to the end of the generator's stride padding."""
    cuts = [0] + [(b[0] + a[1]) // 2 // stride * stride for a, b in zip(spans, spans[1:])]
    ends = cuts[1:] + [spans[-1][0] + -(-(spans[-1][1] - spans[-1][0]) // stride) * stride]
    return [(c0 - s0, c1 - s0) for (s0, _), c0, c1 in zip(spans, cuts, ends)]


@per_weights_rank
def _layer_sums(generator: StyleFusionGenerator, tile: tf.Tensor, weights: tf.Tensor, layer: int,
                table: tf.Tensor, means: list[tf.Tensor], variances: list[tf.Tensor], core: tf.Tensor
                ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    """Sums (float64) of normalisation layer ``layer``'s input over the tile's ``core``
    ``[y0, y1, x0, x1]`` (in input pixels), earlier layers normalised with the given statistics:
    ``Σ w·x``, ``Σ w·x²`` ``[G, C]`` and ``Σ w`` ``[G, 1]`` per weight group (one group of weight 1
    for a mix, each style for per-pixel weights), and the pixel count. Everything after that
    layer is pruned from the graph, so the pass costs only the layers before it."""
    found: list[tuple[tf.Tensor, tf.Tensor]] = []
    padded_h = (tf.shape(tile)[1] + generator.stride - 1) // generator.stride * generator.stride

    def hook(i: int, x: tf.Tensor, w: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        if i == layer:
            found.append((x, w))
        if i < layer:
            return means[i], variances[i]
        return ConditionalInstanceNorm.moments(x, w)

    with generator.norm_statistics(hook):
        generator.stylize_with_table(tile, weights, table, texture_amount=0.0)
    x, w = found[0]
    scale = padded_h // tf.shape(x)[1]  # this layer's stride
    y0, y1, x0, x1 = core[0] // scale, core[1] // scale, core[2] // scale, core[3] // scale
    part = tf.cast(x[0, y0:y1, x0:x1], tf.float64)
    if w.shape.rank == 4:  # the same resize the norm makes, then the core
        group = tf.cast(resize_weights(tf.cast(w, tf.float32), tf.shape(x)[1:3])[0, y0:y1, x0:x1], tf.float64)
    else:
        group = tf.ones_like(part[..., :1])
    count = tf.cast(tf.shape(part)[0] * tf.shape(part)[1], tf.float64)
    return (tf.einsum("hwk,hwc->kc", group, part), tf.einsum("hwk,hwc->kc", group, tf.square(part)),
            tf.reduce_sum(group, [0, 1])[:, None], count)


def exact_statistics(generator: StyleFusionGenerator, image: np.ndarray, weights: Weights,
                     config: TileConfig, table: "np.ndarray | tf.Tensor | None" = None) -> Stats:
    """Every normalisation layer's exact whole-image ``(mean, var)`` at full resolution (per style
    region with per-pixel weights), without holding a whole-image activation: layer by layer,
    each tile runs up to that layer (earlier layers normalised with the statistics found so far)
    and adds the sums over its core, which lies at least ``overlap / 2`` inside the tile and so
    matches the untiled pass when that is no less than the receptive radius. Costs about half a
    forward pass per normalisation layer."""
    h, w = image.shape[:2]
    stride = generator.stride
    spans_y = axis_spans(h, config.tile_size, config.overlap, stride)
    spans_x = axis_spans(w, config.tile_size, config.overlap, stride)
    tiles = [(sy, cy, sx, cx) for sy, cy in zip(spans_y, _core_bounds(spans_y, stride))
             for sx, cx in zip(spans_x, _core_bounds(spans_x, stride))]
    per_pixel = weights_at(weights, 0, 1, 0, 1).ndim == 3
    means: list[tf.Tensor] = []
    variances: list[tf.Tensor] = []
    table_t = _table(generator, table)
    passes = generator.num_norm_layers * len(tiles)
    for layer in range(generator.num_norm_layers):
        total, sq, mass, count = 0.0, 0.0, 0.0, 0.0
        for t, ((y0, y1), (cy0, cy1), (x0, x1), (cx0, cx1)) in enumerate(tiles):
            tile_weights = weights_at(weights, y0, y1, x0, x1)
            tile = tf.convert_to_tensor(image_region(image, y0, y1, x0, x1)[None])
            s1, s2, m, n = _layer_sums(generator, tile, tf.convert_to_tensor(tile_weights[None]), layer, table_t,
                                       means, variances, tf.constant([cy0, cy1, cx0, cx1]))
            total, sq, mass, count = total + s1.numpy(), sq + s2.numpy(), mass + m.numpy(), count + float(n)
            _report("statistics", layer * len(tiles) + t + 1, passes)
        # One weight group covering every pixel (a mix) gives the whole image's moments.
        sums = (total[None], sq[None], mass[None])
        mean, var = (v.numpy() for v in region_moments(*map(tf.constant, sums), count))
        if not per_pixel:
            mean, var = mean.reshape(1, 1, 1, -1), var.reshape(1, 1, 1, -1)
        means.append(tf.constant(mean, tf.float32))
        variances.append(tf.constant(var, tf.float32))
    return list(zip(means, variances))


@per_weights_rank
def _tile_graph(generator: StyleFusionGenerator, tile: tf.Tensor, weights: tf.Tensor, table: tf.Tensor,
                means: list[tf.Tensor], variances: list[tf.Tensor], origin: tf.Tensor,
                textures: tf.Tensor | None, texture_amount: tf.Tensor | None) -> tf.Tensor:
    with generator.norm_statistics(lambda i, x, w: (means[i], variances[i])):
        return generator.stylize_with_table(tile, weights, table, textures, origin, texture_amount)


def stylize_with_statistics(generator: StyleFusionGenerator, tile: np.ndarray, weights: np.ndarray,
                            stats: Stats, table: "np.ndarray | tf.Tensor | None" = None,
                            origin: tuple[int, int] = (0, 0), textures: "np.ndarray | tf.Tensor | None" = None,
                            texture_amount: float | None = None) -> np.ndarray:
    """Stylize one ``[h, w, 3]`` tile with given normalisation statistics (``weights`` ``[K]`` or
    the tile's ``[h, w, K]``, over ``table``, default the bank); ``origin`` is the tile's top-left
    pixel in the whole picture, ``textures`` the table rows' tiles (default: the bank's) and
    ``texture_amount`` their strength (default: the generator's)."""
    out = _tile_graph(generator, tf.convert_to_tensor(tile[None]), tf.convert_to_tensor(weights[None]),
                      _table(generator, table), [m for m, _ in stats], [v for _, v in stats],
                      tf.constant(origin, tf.int32), None if textures is None else tf.convert_to_tensor(textures),
                      amount_argument(texture_amount))
    return out[0].numpy()


def statistics_for(generator: StyleFusionGenerator, image: np.ndarray, weights: Weights,
                   config: TileConfig, table: "np.ndarray | tf.Tensor | None" = None) -> Stats:
    """Pass 1 as ``config`` asks: exact (accumulated over tiles) or on the downscaled image."""
    h, w = image.shape[:2]
    if config.exact_statistics and max(h, w) > config.stats_size:
        return exact_statistics(generator, image, weights, config, table)
    return measure_statistics(generator, image, weights, config.stats_size, table)


TileRenderer = Callable[[int, int, int, int], np.ndarray]
# Maps a band of finished float32 rows [h, W, 3] to the output's (e.g. data.images.to_uint8).
BandFinisher = Callable[[np.ndarray], np.ndarray]


def blend_tiles(generator: StyleFusionGenerator, height: int, width: int, config: TileConfig,
                render: TileRenderer, finish: BandFinisher | None = None) -> np.ndarray:
    """Pass 2: ``render(y0, y1, x0, x1)`` → ``[h, w, 3]`` for each overlapping tile, cross-faded
    into one ``[height, width, 3]`` image: float32, or what ``finish`` makes of each band of rows.
    Whatever ``render`` does per pixel (a blend with the photo, a colour transfer) is then
    seam-free too.

    Tiles are added a row of tiles at a time into a float accumulator one tile tall; the rows no
    later tile reaches are then divided by their blend weights, passed through ``finish`` and
    stored, and the overlap carried on. Every pixel sums the same tiles in the same order as a
    whole-image accumulator would, so the result is the same to the bit, while the float planes
    held are one tile tall (at 16 MP: 40 MB instead of 256 MB; 48 MB more for a uint8 output
    instead of 192 MB for a float one)."""
    # Pixels closer than the receptive radius to an inner tile edge are discarded when the overlap
    # allows it: every pixel kept is then computed exactly as in the untiled image.
    context = min(receptive_radius(generator), config.overlap // 2)
    spans_y = axis_spans(height, config.tile_size, config.overlap, generator.stride)
    spans_x = axis_spans(width, config.tile_size, config.overlap, generator.stride)
    tall = max(y1 - y0 for y0, y1 in spans_y)
    acc = np.zeros((tall, width, 3), np.float32)  # rows y0 .. y0 + tall of the picture
    total = np.zeros((tall, width, 1), np.float32)
    out: np.ndarray | None = None
    for i, (y0, y1) in enumerate(spans_y):
        for j, sx in enumerate(spans_x):
            x0, x1 = sx
            blend = feather((y0, y1), sx, height, width, config.overlap, context)
            acc[: y1 - y0, x0:x1] += render(y0, y1, x0, x1) * blend
            total[: y1 - y0, x0:x1] += blend
            _report("tiles", i * len(spans_x) + j + 1, len(spans_y) * len(spans_x))
        done = spans_y[i + 1][0] if i + 1 < len(spans_y) else height  # later tiles start here
        band = acc[: done - y0] / total[: done - y0]
        if finish is not None:
            band = finish(band)
        if out is None:
            out = np.empty((height, width, 3), band.dtype)
        out[y0:done] = band
        # The rows the next row of tiles adds to, moved to the top (numpy copies overlapping
        # slices through a temporary); the rest cleared for it.
        carry = y1 - done
        acc[:carry] = acc[done - y0: y1 - y0]
        total[:carry] = total[done - y0: y1 - y0]
        acc[carry:] = 0.0
        total[carry:] = 0.0
    assert out is not None  # axis_spans gives at least one span
    return out


def stylize_tiled(generator: StyleFusionGenerator, image: np.ndarray, weights: Weights,
                  config: TileConfig | None = None, finish: BandFinisher | None = None,
                  origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Stylize an ``[H, W, 3]`` image (float32 in [0, 1], or uint8: read a tile at a time) in
    overlapping tiles with whole-image statistics; ``origin`` is the image's top-left pixel in
    a larger scene (where the brushwork tiles are laid from).

    ``weights`` are normalised, ``[N]``, ``[H, W, N]`` or a field. Returns float32 ``[H, W, 3]``,
    or what ``finish`` makes of it (``blend_tiles``).
    """
    config = config or TileConfig()
    h, w = image.shape[:2]
    stats = statistics_for(generator, image, weights, config)

    def render(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        return stylize_with_statistics(generator, image_region(image, y0, y1, x0, x1),
                                       weights_at(weights, y0, y1, x0, x1), stats,
                                       origin=(origin[0] + y0, origin[1] + x0))

    return blend_tiles(generator, h, w, config, render, finish)

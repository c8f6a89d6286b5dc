"""Style fusion: weights (parsing ``NAME[:W],...`` specs, validation), mixes over the bank and
predicted rows, and the fusion controls (strength, regions, colour) applied at stylization."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from ..config import GeneratorSettings
from ..data.pipelines import resize_short_side, short_side_shape
from ..errors import ConfigError, ModelFileError, StyleWeightsError
from ..models.style_encoder import StyleEncoder
from ..models.texture import amount_argument, painting_texture
from .color import COLOR_MODES, PER_PIXEL_COLOR_MODES
from .color import preserve_color as keep_content_colors
from .masks import default_feather, load_mask, region_weights
from .masks import feather as feather_mask
from .tiling import (BandFinisher, TileConfig, blend_tiles, image_region, per_weights_rank, statistics_for,
                     stylize_with_statistics)


def normalize_weights(weights: object, num_styles: int, name: str = "style_weights") -> np.ndarray:
    """Validate style weights (``[N]``, ``[B, N]``, ``[H, W, N]`` or ``[B, H, W, N]``) and normalise them to sum 1
    over the last axis. Negative, NaN/inf, all-zero or wrong-length weights raise
    StyleWeightsError naming ``name`` and the problem."""
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise StyleWeightsError(f"{name}: not numeric ({e})") from e
    if w.ndim not in (1, 2, 3, 4) or w.size == 0:
        raise StyleWeightsError(f"{name}: expected shape [N], [B, N] or [B, H, W, N], got {list(w.shape)}")
    if w.shape[-1] != num_styles:
        raise StyleWeightsError(
            f"{name}: has {w.shape[-1]} entries per mix but the model has {num_styles} styles")
    if not np.all(np.isfinite(w)):
        raise StyleWeightsError(f"{name}: contains NaN or infinite values")
    if np.any(w < 0):
        raise StyleWeightsError(f"{name}: weights must be non-negative, got min {w.min():g}")
    total = w.sum(axis=-1, keepdims=True)
    if np.any(total <= 0):
        raise StyleWeightsError(f"{name}: all weights are zero; give at least one style a weight > 0")
    return (w / total).astype(np.float32)


def parse_style_items(spec: str) -> list[tuple[str, float]]:
    """``"wave:0.7,udnie"`` → ``[("wave", 0.7), ("udnie", 1.0)]`` in the order given."""
    items = []
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        key, _, value = item.rpartition(":") if ":" in item else (item, "", "1")
        try:
            items.append((key, float(value)))
        except ValueError:
            raise StyleWeightsError(f"--style {spec!r}: weight {value!r} of {key!r} is not a number") from None
    return items


def _style_index(key: str, names: list[str], spec: str) -> int:
    if key in names:
        return names.index(key)
    if key.isascii() and key.isdigit() and int(key) < len(names):
        return int(key)
    raise StyleWeightsError(f"--style {spec!r}: unknown style {key!r}; choose from {', '.join(names)}")


def parse_style_spec(spec: str, names: Sequence[str]) -> np.ndarray:
    """``"wave:0.7,udnie:0.3"`` (or style indices, ``"0,2"``) → normalised weights ``[N]``.

    A name without ``:W`` gets weight 1; repeated names add up.
    """
    names = list(names)
    weights = np.zeros(len(names), np.float64)
    items = parse_style_items(spec)
    if not items:
        raise StyleWeightsError(f"--style {spec!r}: empty; choose from {', '.join(names)}")
    for key, value in items:
        weights[_style_index(key, names, spec)] += value
    return normalize_weights(weights, len(names), name=f"--style {spec!r}")


def parse_weighted_path(spec: str) -> tuple[str, float]:
    """``"my_painting.jpg:0.5"`` → ``("my_painting.jpg", 0.5)``; without ``:W`` the weight is 1."""
    path, sep, value = spec.rpartition(":")
    if sep:
        try:
            return path, float(value)
        except ValueError:
            pass  # a colon that is part of the path
    return spec, 1.0


@dataclass
class StyleMix:
    """A mix over K table rows: the bank's N styles, then M rows predicted from style images.

    ``weights`` ``[K]`` sums to 1; ``order`` lists the rows the user named, in their order (mask
    i belongs to row ``order[i]``).
    """

    weights: np.ndarray
    order: list[int]


def build_mix(style_spec: str | None, names: Sequence[str], image_weights: Sequence[float] = ()) -> StyleMix:
    """Combine ``--style NAME[:W],...`` over the bank and ``--style-image PATH[:W]`` weights into
    one mix over ``len(names) + len(image_weights)`` rows (weights relative to each other)."""
    names = list(names)
    n = len(names)
    raw = np.zeros(n + len(image_weights), np.float64)
    order: list[int] = []
    items = parse_style_items(style_spec) if style_spec else []
    if style_spec is not None and style_spec.strip() and not items:
        raise StyleWeightsError(f"--style {style_spec!r}: empty; choose from {', '.join(names)}")
    for key, value in items:
        idx = _style_index(key, names, style_spec or "")
        raw[idx] += value
        if idx not in order:
            order.append(idx)
    for j, w in enumerate(image_weights):
        raw[n + j] += w
        order.append(n + j)
    if not order:
        raise StyleWeightsError(f"no style given: pass --style NAME (one of {', '.join(names)}) "
                                "and/or --style-image PATH")
    return StyleMix(normalize_weights(raw, raw.size, name="style mix"), order)


@dataclass
class StylizeOptions:
    """Fusion controls for ``stylize_image`` / ``stylize_files``.

    - ``strength`` in [0, 1]: interpolation **in style space** between the content image's own
      style row (the StyleEncoder applied to the content, as in Magenta) and the chosen mix:
      row(s) = s · mix + (1 − s) · encoder(content). Because a frozen generator cannot
      reproduce a photo exactly from any row, ``anchor_content`` (default) adds back the
      encoder's reconstruction residual scaled by (1 − s): output = G(row(s)) + (1 − s)·(content −
      G(encoder(content))). Strength 0 is then the content exactly, strength 1 the plain
      stylization, and in between the style fades in style space. Needs ``encoder``.
    - ``masks``: region masks (arrays or image files), see ``masks.region_weights``; ``order`` is
      which table row each mask belongs to (default: the rows with non-zero weight, ascending);
      ``feather`` is the edge blur in pixels (default 2 % of the shorter side). One mask with one
      style is a per-pixel strength: the style where white, the content where black.
    - ``preserve_color``: ``"luminance"`` or ``"histogram"`` (see ``color``).
    - ``style_rows``: ``[M, D]`` rows predicted from style images, appended after the bank; the
      weights then have N + M entries. ``style_textures`` ``[M, S, S, 3]``: their brushwork
      tiles (``style_image_textures``), laid over like the bank's when the generator has textures.
    - ``settings``: the generator's settings for this call (``GeneratorSettings``: flat guard,
      texture, abstraction; None fields keep the model's own). A texture alone is passed to the
      traced call as a tensor (a slider does not retrace); a flat guard or abstraction that differs
      from the model's runs a copy of the generator with it (``stylize_files`` makes it once).
    """

    strength: float = 1.0
    masks: list[Any] = field(default_factory=list)
    order: list[int] | None = None
    feather: float | None = None
    preserve_color: str | None = None
    style_rows: np.ndarray | None = None
    style_textures: np.ndarray | None = None
    settings: GeneratorSettings | None = None
    encoder: StyleEncoder | None = None
    anchor_content: bool = True

    def __post_init__(self) -> None:
        try:
            self.strength = float(self.strength)
        except (TypeError, ValueError):
            raise StyleWeightsError(f"--strength {self.strength!r}: not a number") from None
        if not 0.0 <= self.strength <= 1.0:
            raise StyleWeightsError(f"--strength {self.strength:g}: must lie in [0, 1] "
                                    "(0 = the content, 1 = the full style)")
        if self.preserve_color is not None and self.preserve_color not in COLOR_MODES:
            raise ConfigError(f"--preserve-color {self.preserve_color!r}: choose one of {', '.join(COLOR_MODES)}")
        if self.feather is not None and self.feather < 0:
            raise ConfigError(f"--feather {self.feather:g}: must be >= 0 pixels")
        if self.settings is not None and not isinstance(self.settings, GeneratorSettings):
            raise ConfigError(f"settings: expected GeneratorSettings, got {type(self.settings).__name__}")

    @property
    def is_plain(self) -> bool:
        """True when the options change nothing (plain bank stylization)."""
        return (self.strength == 1.0 and not self.masks and self.preserve_color is None
                and self.style_rows is None and not (self.settings and self.settings.overrides()))

    def apply_settings(self, generator: Any) -> tuple[Any, float | None]:
        """The generator to run (a copy when the flat guard or abstraction differ from its own)
        and the texture to pass per call (None: the generator's own)."""
        if self.settings is None:
            return generator, None
        texture = self.settings.texture
        # Tiles turned on from a model's 0 widen the tiles' halo (tiling.receptive_radius): a copy.
        turned_on = texture is not None and texture > 0 and generator.config.texture == 0
        generator = generator.with_settings(GeneratorSettings(
            flat_guard=self.settings.flat_guard, abstraction=self.settings.abstraction,
            texture=texture if turned_on else None))
        return generator, None if texture == generator.config.texture else texture


def style_table(generator: Any, style_rows: np.ndarray | None) -> np.ndarray:
    """The bank ``[N, D]``, with ``style_rows`` ``[M, D]`` appended when given."""
    bank = np.asarray(generator.bank.table.numpy(), np.float32)
    if style_rows is None:
        return bank
    rows = np.asarray(style_rows, np.float32)
    if rows.ndim != 2 or rows.shape[1] != bank.shape[1]:
        raise StyleWeightsError(f"style rows have shape {list(rows.shape)}; this generator needs "
                                f"[M, {bank.shape[1]}]")
    return np.concatenate([bank, rows], axis=0)


def encode_style_images(encoder: StyleEncoder, images: Sequence[np.ndarray]) -> np.ndarray:
    """Bank rows ``[M, D]`` for style images (float ``[H, W, 3]`` in [0, 1]), each read at the
    encoder's ``style_size``."""
    return encoder.predict_rows([resize_short_side(tf.convert_to_tensor(im, tf.float32),
                                                   encoder.style_size).numpy() for im in images])


def style_image_textures(images: Sequence[np.ndarray]) -> np.ndarray:
    """Brushwork tiles ``[M, S, S, 3]`` for style images, one per image (models/texture.py)."""
    return np.stack([painting_texture([im]) for im in images])


# Columns of the photo turned into float at a time when shrinking it for its style row.
SHRINK_STRIP = 512


def shrink_short_side(image: np.ndarray, size: int, strip: int = SHRINK_STRIP) -> np.ndarray:
    """``resize_short_side(image, size)`` of an ``[H, W, 3]`` image (float in [0, 1] or uint8),
    to the bit, without a float copy of the whole image: at 16 MP a 192 MB tensor that would
    stay in TensorFlow's memory pool for good.

    The antialiased resize (``ScaleAndTranslate``) runs down the columns first, then along the
    rows, each pass on its own axis. So strips of ``strip`` columns shrunk in height alone (width
    kept: weights 0, 1, 0, an exact copy), then joined and shrunk in width alone, give the same
    numbers as one call on the whole image."""
    h, w = image.shape[:2]
    new_h, new_w = (int(v) for v in short_side_shape(tf.constant([h, w]), size).numpy())
    columns = []
    for x0 in range(0, w, strip):
        x1 = min(w, x0 + strip)
        columns.append(tf.image.resize(image_region(image, 0, h, x0, x1), [new_h, x1 - x0], method="bilinear",
                                       antialias=True))
    tall = tf.concat(columns, axis=1)  # [new_h, W, 3]
    return tf.image.resize(tall, [new_h, new_w], method="bilinear", antialias=True).numpy()


def content_row(encoder: StyleEncoder, image: np.ndarray) -> np.ndarray:
    """The content image's own style row ``[D]`` (the encoder applied at its ``content_size``);
    ``image`` float in [0, 1] or uint8, shrunk a strip at a time (``shrink_short_side``)."""
    return encoder.predict_rows([shrink_short_side(image, encoder.content_size)], own_colors=True)[0]


@per_weights_rank
def _run_table(generator: Any, image: tf.Tensor, weights: tf.Tensor, table: tf.Tensor,
               textures: tf.Tensor | None, texture_amount: tf.Tensor | None) -> tf.Tensor:
    return generator.stylize_with_table(image, weights, table, textures, texture_amount=texture_amount)


class FusionWeights:
    """The per-pixel mix a set of fusion controls asks for, made one region at a time (a
    ``tiling.WeightField``), so a 16 MP photo with masks never holds ``[H, W, K]`` in full.

    ``base`` is the mix ``[K]`` or per-pixel ``[H, W, K]``; ``masks`` (already feathered) split it
    into regions (``masks.region_weights``); ``gate`` (a feathered ``[H, W]`` mask) times
    ``strength`` is a per-pixel strength. With any strength below 1 the weights gain one more
    entry, the photo's own row, weighted ``1 - strength``.
    """

    def __init__(self, base: np.ndarray, strength: float, masks: Sequence[np.ndarray] = (),
                 order: Sequence[int] = (), gate: np.ndarray | None = None):
        self.base, self.strength, self.masks, self.order, self.gate = base, strength, list(masks), order, gate
        self.partial = strength < 1.0 or (gate is not None and bool(np.any(gate < 1.0)))

    def strength_at(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray | float:
        """The strength over a region: a scalar, or ``[h, w, 1]`` with a gate."""
        if self.gate is None:
            return self.strength
        return self.strength * self.gate[y0:y1, x0:x1, None]

    def region(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        if self.masks:
            w = region_weights([m[y0:y1, x0:x1] for m in self.masks], self.base, self.order)
        else:
            w = self.base if self.base.ndim == 1 else self.base[y0:y1, x0:x1]
        if not self.partial:
            return w
        s = self.strength_at(y0, y1, x0, x1)
        if np.ndim(s) == 3 and w.ndim == 1:
            w = np.broadcast_to(w, (y1 - y0, x1 - x0, w.shape[0]))
        own = np.broadcast_to(1.0 - np.asarray(s, np.float32), w.shape[:-1] + (1,))
        return np.concatenate([w * s, own], axis=-1).astype(np.float32)


def fusion_weights(weights: np.ndarray, options: StylizeOptions, height: int, width: int) -> FusionWeights:
    """Validate normalised ``weights`` against the controls and build their ``FusionWeights``."""
    if not options.masks:
        if weights.ndim == 3 and weights.shape[:2] != (height, width):
            raise StyleWeightsError(f"per-pixel weights are {weights.shape[1]}×{weights.shape[0]}, "
                                    f"the image is {width}×{height}")
        return FusionWeights(weights, options.strength)
    if weights.ndim != 1:
        raise StyleWeightsError("--mask needs one overall mix [K], not per-pixel weights")
    order = options.order if options.order is not None else [int(i) for i in np.flatnonzero(weights)]
    sigma = default_feather(height, width) if options.feather is None else options.feather
    masks = [feather_mask(load_mask(m, height, width), sigma) for m in options.masks]
    if len(masks) == 1 and len(order) == 1:
        return FusionWeights(weights, options.strength, gate=masks[0])
    # Checks the mask count against the styles now, not in the middle of a tiled run.
    region_weights([m[:1, :1] for m in masks], weights, order)
    return FusionWeights(weights, options.strength, masks, order)


def stylize_fused(generator: Any, image: np.ndarray, weights: np.ndarray, options: StylizeOptions,
                  tiling: TileConfig | None = None, finish: BandFinisher | None = None) -> np.ndarray:
    """Stylize one ``[H, W, 3]`` image (float in [0, 1], or uint8 with ``tiling``: read a tile at
    a time) with a mix ``[K]`` or ``[H, W, K]`` over the bank plus ``options.style_rows``,
    applying strength, masks and colour preservation; in ``tiling``'s seam-free tiles when given
    (every control is per pixel, or global and applied to the assembled image, so tiled equals
    untiled up to the tiles' statistics). Returns float32, or what ``finish`` makes of it (with
    tiles and per-pixel colour, a band of rows at a time: ``tiling.blend_tiles``)."""
    h, w = image.shape[:2]
    generator, texture = options.apply_settings(generator)
    table = style_table(generator, options.style_rows)
    field = fusion_weights(normalize_weights(weights, table.shape[0]), options, h, w)
    if field.partial:
        if options.encoder is None:
            raise ModelFileError("strength below 1 (or one mask for one style) needs the model's style "
                                 "encoder (style_encoder.keras in the run folder); train one with "
                                 "`stylefusion train ... --encoder-steps N`")
        table = np.concatenate([table, content_row(options.encoder, image)[None]], axis=0)
    anchor = field.partial and options.anchor_content
    identity = np.eye(table.shape[0], dtype=np.float32)[-1]
    table_t = tf.convert_to_tensor(table)
    textures = generator.table_textures(table.shape[0], options.style_textures)
    if tiling is None:
        stats = recon_stats = None
    else:
        stats = statistics_for(generator, image, field, tiling, table_t)
        recon_stats = statistics_for(generator, image, identity, tiling, table_t) if anchor else None

    def run(tile: np.ndarray, tile_weights: np.ndarray, tile_stats: Any, origin: tuple[int, int]) -> np.ndarray:
        if tile_stats is None:
            return _run_table(generator, tf.convert_to_tensor(tile[None]),
                              tf.convert_to_tensor(tile_weights[None]), table_t, textures,
                              amount_argument(texture))[0].numpy()
        return stylize_with_statistics(generator, tile, tile_weights, tile_stats, table_t, origin, textures,
                                       texture)

    def render(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        tile = image_region(image, y0, y1, x0, x1)
        out = run(tile, field.region(y0, y1, x0, x1), stats, (y0, x0))
        if anchor:
            # The generator's reconstruction of the photo differs from it slightly; adding that
            # difference back makes strength 0 the photo itself.
            recon = run(tile, identity, recon_stats, (y0, x0))
            strength = np.asarray(field.strength_at(y0, y1, x0, x1), np.float32)
            out = np.clip(out + (1.0 - strength) * (tile - recon), 0.0, 1.0)
        if options.preserve_color in PER_PIXEL_COLOR_MODES:
            out = keep_content_colors(out, tile, options.preserve_color)
        return out

    whole_image_color = options.preserve_color is not None and options.preserve_color not in PER_PIXEL_COLOR_MODES
    if tiling is not None and not whole_image_color:
        return blend_tiles(generator, h, w, tiling, render, finish)  # finished a band of rows at a time
    out = render(0, h, 0, w) if tiling is None else blend_tiles(generator, h, w, tiling, render)
    if whole_image_color:
        out = keep_content_colors(out, image_region(image, 0, h, 0, w), options.preserve_color)
    out = out.astype(np.float32, copy=False)
    return out if finish is None else finish(out)

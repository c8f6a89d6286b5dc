"""Style fusion: weights (parsing ``NAME[:W],...`` specs, validation), mixes over the bank and
predicted rows, and the fusion controls (strength, regions, colour) applied at stylization."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from ..data.pipelines import resize_short_side
from ..errors import ConfigError, ModelFileError, StyleWeightsError
from ..models.style_encoder import StyleEncoder
from .color import COLOR_MODES
from .color import preserve_color as keep_content_colors
from .masks import default_feather, load_mask, region_weights
from .masks import feather as feather_mask


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
      weights then have N + M entries.
    """

    strength: float = 1.0
    masks: list[Any] = field(default_factory=list)
    order: list[int] | None = None
    feather: float | None = None
    preserve_color: str | None = None
    style_rows: np.ndarray | None = None
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

    @property
    def is_plain(self) -> bool:
        """True when the options change nothing (plain bank stylization)."""
        return (self.strength == 1.0 and not self.masks and self.preserve_color is None
                and self.style_rows is None)


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


def content_row(encoder: StyleEncoder, image: np.ndarray) -> np.ndarray:
    """The content image's own style row ``[D]`` (the encoder applied at its ``content_size``)."""
    small = resize_short_side(tf.convert_to_tensor(image, tf.float32), encoder.content_size).numpy()
    return encoder.predict_rows([small])[0]


# One function per weights rank: relaxed retracing would otherwise forget the rank.
@tf.function(reduce_retracing=True)
def _run_table_mix(generator: Any, image: tf.Tensor, weights: tf.Tensor, table: tf.Tensor) -> tf.Tensor:
    return generator.stylize_with_table(image, weights, table)


@tf.function(reduce_retracing=True)
def _run_table_per_pixel(generator: Any, image: tf.Tensor, weights: tf.Tensor, table: tf.Tensor) -> tf.Tensor:
    return generator.stylize_with_table(image, weights, table)


def _run_table(generator: Any, image: tf.Tensor, weights: tf.Tensor, table: tf.Tensor) -> tf.Tensor:
    run = _run_table_per_pixel if weights.shape.rank == 4 else _run_table_mix
    return run(generator, image, weights, table)


def stylize_fused(generator: Any, image: np.ndarray, weights: np.ndarray,
                  options: StylizeOptions) -> np.ndarray:
    """Stylize one float ``[H, W, 3]`` image with a mix ``[K]`` or ``[H, W, K]`` over the bank
    plus ``options.style_rows``, applying strength, masks and colour preservation."""
    h, w = image.shape[:2]
    table = style_table(generator, options.style_rows)
    k = table.shape[0]
    weights = normalize_weights(weights, k)
    # Strength per pixel: the scalar strength, times the mask when one mask gates one style.
    strength: np.ndarray | float = options.strength
    if options.masks:
        if weights.ndim != 1:
            raise StyleWeightsError("--mask needs one overall mix [K], not per-pixel weights")
        order = options.order if options.order is not None else [int(i) for i in np.flatnonzero(weights)]
        sigma = default_feather(h, w) if options.feather is None else options.feather
        masks = [load_mask(m, h, w) for m in options.masks]
        if len(masks) == 1 and len(order) == 1:
            strength = options.strength * feather_mask(masks[0], sigma)[..., None]
        else:
            weights = region_weights(masks, weights, order, sigma)
    elif weights.ndim == 3 and weights.shape[:2] != (h, w):
        raise StyleWeightsError(f"per-pixel weights are {weights.shape[1]}×{weights.shape[0]}, the image is {w}×{h}")
    partial = bool(np.any(np.asarray(strength) < 1.0))
    x = tf.convert_to_tensor(image[None], tf.float32)
    if partial:
        if options.encoder is None:
            raise ModelFileError("strength below 1 (or one mask for one style) needs the model's style "
                                 "encoder (style_encoder.keras in the run folder); train one with "
                                 "`stylefusion train ... --encoder-steps N`")
        own = content_row(options.encoder, image)
        table = np.concatenate([table, own[None]], axis=0)
        if np.ndim(strength) == 3 and weights.ndim == 1:
            weights = np.broadcast_to(weights, (h, w, k))
        own_weight = np.broadcast_to(1.0 - np.asarray(strength, np.float32), weights.shape[:-1] + (1,))
        weights = np.concatenate([weights * strength, own_weight], axis=-1).astype(np.float32)
    out = _run_table(generator, x, tf.convert_to_tensor(weights[None]), tf.convert_to_tensor(table))[0].numpy()
    if partial and options.anchor_content:
        identity = np.zeros((1, table.shape[0]), np.float32)
        identity[0, -1] = 1.0
        recon = _run_table(generator, x, tf.convert_to_tensor(identity), tf.convert_to_tensor(table))[0].numpy()
        out = np.clip(out + (1.0 - np.asarray(strength, np.float32)) * (image - recon), 0.0, 1.0)
    if options.preserve_color:
        out = keep_content_colors(out, image, options.preserve_color)
    return out.astype(np.float32)

"""Colour preservation: keep the content's colours in a stylized image (numpy only).

- ``luminance``: the stylized image's luminance with the content's chrominance (YIQ), so brush
  strokes and texture come from the style and hues from the photo (Gatys et al., 2016, "luminance
  only transfer", applied after the feed-forward pass).
- ``histogram``: each RGB channel of the stylized image is remapped, rank for rank, onto the
  content's distribution of values in that channel: the stylized structure keeps its ordering,
  the palette becomes the content's.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..synthesis.color import RGB_TO_YIQ, YIQ_TO_RGB, match_histograms

COLOR_MODES = ("luminance", "histogram")
# Modes that look at one pixel at a time (so a tiled run applies them per tile); the others need
# the whole image's statistics.
PER_PIXEL_COLOR_MODES = ("luminance",)


def rgb_to_yiq(image: np.ndarray) -> np.ndarray:
    """``[..., 3]`` RGB in [0, 1] → YIQ (float32)."""
    return (np.asarray(image, np.float64) @ RGB_TO_YIQ.T).astype(np.float32)


def yiq_to_rgb(image: np.ndarray) -> np.ndarray:
    """``[..., 3]`` YIQ → RGB (float32, not clipped)."""
    return (np.asarray(image, np.float64) @ YIQ_TO_RGB.T).astype(np.float32)


def transfer_luminance(stylized: np.ndarray, content: np.ndarray) -> np.ndarray:
    """The stylized image's luma Y with the content's chroma I, Q; clipped to [0, 1]."""
    _check_pair(stylized, content)
    s, c = rgb_to_yiq(stylized), rgb_to_yiq(content)
    return np.clip(yiq_to_rgb(np.concatenate([s[..., :1], c[..., 1:]], axis=-1)), 0.0, 1.0)


def preserve_color(stylized: np.ndarray, content: np.ndarray, mode: str) -> np.ndarray:
    """Apply colour preservation ``mode`` (``luminance`` or ``histogram``)."""
    if mode == "luminance":
        return transfer_luminance(stylized, content)
    if mode == "histogram":
        _check_pair(stylized, content)
        return match_histograms(stylized, content)
    raise ConfigError(f"--preserve-color {mode!r}: choose one of {', '.join(COLOR_MODES)}")


def _check_pair(stylized: np.ndarray, content: np.ndarray) -> None:
    if np.shape(stylized) != np.shape(content):
        raise ConfigError(f"colour preservation needs images of one shape, got "
                          f"{list(np.shape(stylized))} and {list(np.shape(content))}")

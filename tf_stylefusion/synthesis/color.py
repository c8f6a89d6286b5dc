"""Colour by ranks, and luma apart from colour (numpy).

``match_histograms``: a picture takes another's distribution of values, channel by channel;
example-based synthesis keeps its picture in the painting's palette with it, colour
preservation gives a stylized picture the photo's palette back. ``RGB_TO_YIQ``: luma and two
chroma axes, for work that treats light and colour apart (synthesis' fusion, luminance
preservation, the SavedModel's colour option).
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..models.color_stats import LUMA

# NTSC YIQ: Y is luma, I and Q are the two chroma axes.
RGB_TO_YIQ = np.array([LUMA,
                       [0.595716, -0.274453, -0.321263],
                       [0.211456, -0.522591, 0.311135]], np.float64)
YIQ_TO_RGB = np.linalg.inv(RGB_TO_YIQ)


def match_histograms(source: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Remap each channel of ``source`` so its value distribution equals ``reference``'s.

    Exact rank matching when both have the same number of pixels; otherwise the reference's
    quantiles are interpolated at the source's ranks.
    """
    src = np.asarray(source, np.float32)
    ref = np.asarray(reference, np.float32)
    if src.shape[-1] != 3 or ref.shape[-1] != 3:
        raise ConfigError("match_histograms: both images need 3 channels")
    out = np.empty_like(src)
    n = src[..., 0].size
    for ch in range(3):
        values = src[..., ch].ravel()
        ref_sorted = np.sort(ref[..., ch].ravel())
        order = np.argsort(values, kind="stable")
        if ref_sorted.size == n:
            matched = ref_sorted
        else:
            quantiles = (np.arange(n) + 0.5) / n
            ref_q = (np.arange(ref_sorted.size) + 0.5) / ref_sorted.size
            matched = np.interp(quantiles, ref_q, ref_sorted)
        flat = np.empty(n, np.float32)
        flat[order] = matched
        out[..., ch] = flat.reshape(src.shape[:-1])
    return out

"""Colour by ranks: a picture takes another's distribution of values, channel by channel (numpy).

Used by example-based synthesis to keep its picture in the painting's palette between
iterations, and by colour preservation to give a stylized picture the photo's palette back.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError


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

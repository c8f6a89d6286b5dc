"""Where the photo's structure is: the map that decides how strongly the photo is kept (numpy).

Edges (gradient magnitude of the lightly blurred luma, widened a little so a stroke keeps the
whole contour) score near 1, flat areas near 0. Example-based synthesis keeps the photo under
its contours and lets the painting's material take over elsewhere.
"""

from __future__ import annotations

import numpy as np

from ..models.color_stats import LUMA


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of ``[H, W]`` or ``[H, W, C]`` with reflected borders."""
    if sigma <= 0:
        return np.asarray(image, np.float32)
    radius = max(1, int(round(3 * sigma)))
    x = np.arange(-radius, radius + 1, dtype=np.float32)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    kernel /= kernel.sum()
    out = np.asarray(image, np.float32)
    for axis in (0, 1):
        pad = [(0, 0)] * out.ndim
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="reflect" if out.shape[axis] > radius else "edge")
        out = sum(k * np.take(padded, np.arange(i, i + out.shape[axis]), axis=axis)
                  for i, k in enumerate(kernel))
    return out.astype(np.float32)


def edge_map(image: np.ndarray, sigma: float = 1.0, spread: float = 2.0) -> np.ndarray:
    """``[H, W]`` in [0, 1]: 1 on the photo's strongest contours, 0 where it is flat.

    Normalised by the 95th percentile of the gradient so the map means the same on a dark and a
    bright photo; ``spread`` (pixels) widens each contour.
    """
    luma = gaussian_blur(np.asarray(image, np.float32) @ np.asarray(LUMA, np.float32), sigma)
    gy, gx = np.gradient(luma)
    magnitude = np.sqrt(gx * gx + gy * gy)
    scale = float(np.percentile(magnitude, 95))
    if scale <= 1e-6:
        return np.zeros_like(magnitude)
    edges = np.clip(magnitude / scale, 0.0, 1.0)
    if spread > 0:
        edges = np.clip(gaussian_blur(edges, spread) * 2.0, 0.0, 1.0)
    return edges

"""Region masks → per-pixel style weights ``[H, W, K]`` with soft (feathered) edges.

A mask is a greyscale image: white (1) means "this style here", black (0) "not here". Masks are
resized to the content image, blurred with a Gaussian of ``feather`` pixels (so region borders
blend the two styles instead of cutting), and turned into convex per-pixel weights:

- one mask and two styles: the mask's white part takes the first style, its black part the
  second;
- one mask per style (in the order the styles were named): each style's weight is its mask;
  where the masks cover less than 1 in total, the rest is filled with the overall mix, so no
  pixel is left without a style;
- one mask and one style: the style where the mask is white, the content where it is black
  (a per-pixel strength; ``fusion.stylize_fused`` does this one).
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
from PIL import Image

from ..data.images import load_image
from ..errors import StyleWeightsError
from ..models.color_stats import LUMA


def default_feather(height: int, width: int) -> float:
    """Feather radius used when none is given: 2 % of the shorter side, at least 2 px."""
    return max(2.0, 0.02 * min(height, width))


def load_mask(mask: np.ndarray | str | os.PathLike[str], height: int, width: int) -> np.ndarray:
    """A mask file (any image; its luminance is used) or array, resized to ``[height, width]``
    float32 in [0, 1]."""
    if isinstance(mask, (str, os.PathLike)):
        rgb = load_image(mask)
        arr = rgb @ np.array(LUMA, np.float32)
        name = str(mask)
    else:
        arr = np.asarray(mask, np.float32)
        if arr.ndim == 3 and arr.shape[-1] in (1, 3):
            arr = arr.mean(axis=-1)
        if arr.ndim != 2:
            raise StyleWeightsError(f"mask: expected a [H, W] array, got shape {list(arr.shape)}")
        if arr.max(initial=0) > 1.0 + 1e-6:
            arr = arr / 255.0  # uint8 masks
        name = "mask"
    if not np.all(np.isfinite(arr)):
        raise StyleWeightsError(f"{name}: contains NaN or infinite values")
    if arr.shape != (height, width):
        arr = np.asarray(Image.fromarray(arr.astype(np.float32), mode="F")
                         .resize((width, height), Image.Resampling.BILINEAR), np.float32)
    return np.clip(arr, 0.0, 1.0).astype(np.float32)


def _gaussian_kernel(sigma: float) -> np.ndarray:
    radius = max(1, int(np.ceil(3 * sigma)))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def feather(mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur (separable, edge-replicated) of a ``[H, W]`` mask; ``sigma`` ≤ 0 is a no-op.

    Row by row in place, so a 16 MP mask needs no full-size temporary beyond its float32 copy."""
    out = np.array(mask, np.float32)
    if sigma <= 0:
        return out
    k = _gaussian_kernel(sigma).astype(np.float32)
    r = len(k) // 2
    for view in (out, out.T):
        for i in range(view.shape[0]):
            view[i] = np.convolve(np.pad(view[i], r, mode="edge"), k, mode="valid")
    return out


def region_weights(masks: Sequence[np.ndarray], mix: np.ndarray, order: Sequence[int],
                   feather_sigma: float = 0.0) -> np.ndarray:
    """Per-pixel weights ``[H, W, K]`` from masks (already ``[H, W]`` in [0, 1]).

    ``mix`` is the overall mix ``[K]``; ``order`` lists the active styles' row indices in the
    order the user named them (mask i belongs to style ``order[i]``).
    """
    mix = np.asarray(mix, np.float32)
    masks = [feather(m, feather_sigma) for m in masks]
    if not masks:
        raise StyleWeightsError("no masks given")
    h, w = masks[0].shape
    k = mix.shape[-1]
    out = np.zeros((h, w, k), np.float32)
    if len(masks) == 1 and len(order) == 2:
        out[..., order[0]] = masks[0]
        out[..., order[1]] = 1.0 - masks[0]
        return out
    if len(masks) != len(order):
        raise StyleWeightsError(
            f"--mask: got {len(masks)} mask(s) for {len(order)} style(s); give one mask to split two "
            "styles, or one mask per style in the order the styles are named")
    for m, idx in zip(masks, order):
        out[..., idx] += m
    total = out.sum(axis=-1, keepdims=True)
    out = out + np.maximum(0.0, 1.0 - total) * mix  # uncovered pixels take the overall mix
    return out / np.maximum(out.sum(axis=-1, keepdims=True), 1e-8)

"""Style weights: parsing ``NAME[:W],...`` specs and validating weight arrays."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .errors import StyleWeightsError


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


def parse_style_spec(spec: str, names: Sequence[str]) -> np.ndarray:
    """``"wave:0.7,udnie:0.3"`` (or style indices, ``"0,2"``) → normalised weights ``[N]``.

    A name without ``:W`` gets weight 1; repeated names add up.
    """
    names = list(names)
    weights = np.zeros(len(names), np.float64)
    items = [s.strip() for s in spec.split(",") if s.strip()]
    if not items:
        raise StyleWeightsError(f"--style {spec!r}: empty; choose from {', '.join(names)}")
    for item in items:
        key, _, value = item.rpartition(":") if ":" in item else (item, "", "1")
        if key in names:
            idx = names.index(key)
        elif key.isascii() and key.isdigit() and int(key) < len(names):
            idx = int(key)
        else:
            raise StyleWeightsError(f"--style {spec!r}: unknown style {key!r}; choose from {', '.join(names)}")
        try:
            weights[idx] += float(value)
        except ValueError:
            raise StyleWeightsError(f"--style {spec!r}: weight {value!r} of {key!r} is not a number") from None
    return normalize_weights(weights, len(names), name=f"--style {spec!r}")

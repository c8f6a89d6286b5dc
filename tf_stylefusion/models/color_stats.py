"""Colour statistics that set a style row's colour columns exactly, from pixels alone.

With the colour norm held at a painting's colours (``GeneratorConfig.color_mix``, training's
``color_norm_init="painting_fixed"``), a row's colour norm is the identity standardisation
(γ = 1, β = 0) and its colour transform (``StyleColor``: the 3×3 matrix's columns, then the
offset) is a closed-form function of the painting's pixels. Training sets bank rows with it, and
the style encoder sets a predicted row's colour columns with it instead of guessing them.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

# Rec. 601 luma: the one brightness every part of the package uses (the flat guard, the layout
# loss, colour preservation, masks painted in any colour).
LUMA = (0.299, 0.587, 0.114)
# The RGB correlation of an average photo (40 photos of the pack's content set at 256 px): the
# colour transform a style starts with decorrelates a photo's channels this much, then gives
# them the painting's covariance.
PHOTO_CORRELATION = np.array([[1.0, 0.912, 0.750], [0.912, 1.0, 0.905], [0.750, 0.905, 1.0]])
# The colour norm's columns in a held row: γ = 1, β = 0 per channel.
HELD_NORM_COLUMNS = np.array([1, 1, 1, 0, 0, 0], np.float32)


def _pixels(images: Sequence[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.asarray(im, np.float64).reshape(-1, 3) for im in images])


def painting_colours(images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel spread and mean ``([3], [3])`` over all pixels of one style's images."""
    pixels = _pixels(images)
    return pixels.std(axis=0).astype(np.float32), pixels.mean(axis=0).astype(np.float32)


def _matrix_power(matrix: np.ndarray, power: float) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.maximum(values, 1e-6) ** power) @ vectors.T


def painting_color_transform(images: Sequence[np.ndarray]) -> np.ndarray:
    """The colour transform's 12 values (``StyleColor`` layout: the 3×3 matrix's columns, then
    the offset) that take a standardised average photo to the painting's colour covariance and
    mean: ``C_painting^½ · R_photo^-½`` and the painting's mean."""
    pixels = _pixels(images)
    matrix = _matrix_power(np.cov(pixels.T), 0.5) @ _matrix_power(PHOTO_CORRELATION, -0.5)
    return np.concatenate([matrix.T.ravel(), pixels.mean(axis=0)]).astype(np.float32)


def own_color_transform(image: np.ndarray, epsilon: float) -> np.ndarray:
    """The colour transform that undoes the colour norm's standardisation of ``image``
    (``sqrt(var + epsilon)`` on the diagonal, the image's mean as the offset): the photo's own
    colours, what strength 0 gives back."""
    pixels = _pixels([image])
    spread = np.sqrt(pixels.var(axis=0) + epsilon)
    return np.concatenate([np.diag(spread).T.ravel(), pixels.mean(axis=0)]).astype(np.float32)


def held_color_offsets(generator: Any) -> tuple[int, int] | None:
    """``(colour norm offset, colour transform offset)`` when every bank row of ``generator``
    holds the colour norm at γ = 1, β = 0 with a colour transform after it (how training with
    ``color_norm_init="painting_fixed"`` and ``color_mix`` leaves them), else None."""
    norm, mix = getattr(generator, "color_norm", None), getattr(generator, "color_mix", None)
    if norm is None or mix is None:
        return None
    table = np.asarray(generator.bank.table.numpy())
    if not np.all(table[:, norm.offset : norm.offset + len(HELD_NORM_COLUMNS)] == HELD_NORM_COLUMNS):
        return None
    return int(norm.offset), int(mix.offset)


def exact_color_columns(rows: np.ndarray, images: Sequence[np.ndarray], offsets: tuple[int, int],
                        epsilon: float, own: bool = False) -> np.ndarray:
    """``rows`` ``[B, D]`` with the colour columns at ``offsets`` set from ``images`` (one per
    row): the held colour norm, then the painting's transform, or with ``own`` the image's own
    colours (``own_color_transform``)."""
    rows = np.array(rows, np.float32, copy=True)
    norm, mix = offsets
    for row, image in zip(rows, images):
        row[norm : norm + 6] = HELD_NORM_COLUMNS
        row[mix : mix + 12] = own_color_transform(image, epsilon) if own else painting_color_transform([image])
    return rows

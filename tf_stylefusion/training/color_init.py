"""Start each style's colour norm (and colour transform) at its painting's own colours."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..models.generator import StyleFusionGenerator
from .gan import StyleFusionGAN

# The RGB correlation of an average photo (40 photos of the pack's content set at 256 px): the
# colour transform a style starts with decorrelates a photo's channels this much, then gives
# them the painting's covariance.
PHOTO_CORRELATION = np.array([[1.0, 0.912, 0.750], [0.912, 1.0, 0.905], [0.750, 0.905, 1.0]])


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


def init_color_norm(gan: StyleFusionGAN, style_images: Sequence[Sequence[np.ndarray]], first_row: int,
                    how: str | None) -> None:
    """``how`` = ``"painting"``: bank rows ``first_row…`` get their painting's spread and mean as
    the colour norm's γ, β (with the colour transform, ``generator.color_mix``: γ = 1, β = 0 and
    the transform to the painting's covariance, ``painting_color_transform``);
    ``"painting_fixed"`` (and None, the default): also masked out of the bank's gradient, so they
    stay there. ``"photo"`` (or no colour norm): nothing changes."""
    norm, mix = gan.generator.color_norm, gan.generator.color_mix
    how = how or "painting_fixed"
    if how == "photo" or norm is None:
        return
    table = gan.generator.bank.table.numpy()
    for i, images in enumerate(style_images):
        row = table[first_row + i]
        if mix is not None:
            row[norm.offset : norm.offset + 6] = (1, 1, 1, 0, 0, 0)
            row[mix.offset : mix.offset + mix.param_size] = painting_color_transform(images)
        else:
            row[norm.offset : norm.offset + 3], row[norm.offset + 3 : norm.offset + 6] = painting_colours(images)
    gan.generator.bank.table.assign(table)
    if how == "painting_fixed":
        gan.restrict_bank(held_color_norm_mask(gan.generator))


def held_color_norm_mask(generator: StyleFusionGenerator) -> np.ndarray:
    """``[1, D]`` gradient mask for the bank: 0 on the colour norm's (and colour transform's)
    columns, 1 elsewhere."""
    mask = np.ones([1, generator.param_dim], np.float32)
    for layer in (generator.color_norm, generator.color_mix):
        if layer is not None:
            mask[:, layer.offset : layer.offset + layer.param_size] = 0.0
    return mask

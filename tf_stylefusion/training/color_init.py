"""Start each style's colour norm at its painting's own colours."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..models.generator import StyleFusionGenerator
from .gan import StyleFusionGAN


def painting_colours(images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel spread and mean ``([3], [3])`` over all pixels of one style's images."""
    pixels = np.concatenate([np.asarray(im, np.float32).reshape(-1, 3) for im in images])
    return pixels.std(axis=0), pixels.mean(axis=0)


def init_color_norm(gan: StyleFusionGAN, style_images: Sequence[Sequence[np.ndarray]], first_row: int,
                    how: str | None) -> None:
    """``how`` = ``"painting"``: bank rows ``first_row…`` get their painting's spread and mean as
    the colour norm's γ, β; ``"painting_fixed"`` (and None, the default): also masked out of the
    bank's gradient, so they stay there. ``"photo"`` (or no colour norm): nothing changes."""
    norm = gan.generator.color_norm
    how = how or "painting_fixed"
    if how == "photo" or norm is None:
        return
    table = gan.generator.bank.table.numpy()
    for i, images in enumerate(style_images):
        spread, mean = painting_colours(images)
        table[first_row + i, norm.offset : norm.offset + 3] = spread
        table[first_row + i, norm.offset + 3 : norm.offset + 6] = mean
    gan.generator.bank.table.assign(table)
    if how == "painting_fixed":
        gan.restrict_bank(held_color_norm_mask(gan.generator))


def held_color_norm_mask(generator: StyleFusionGenerator) -> np.ndarray:
    """``[1, D]`` gradient mask for the bank: 0 on the colour norm's columns, 1 elsewhere."""
    mask = np.ones([1, generator.param_dim], np.float32)
    norm = generator.color_norm
    if norm is not None:
        mask[:, norm.offset : norm.offset + norm.param_size] = 0.0
    return mask

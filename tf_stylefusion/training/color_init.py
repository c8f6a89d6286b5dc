"""Start each style's colour norm (and colour transform) at its painting's own colours."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..models.color_stats import (  # noqa: F401 (PHOTO_CORRELATION: public here too)
    HELD_NORM_COLUMNS,
    PHOTO_CORRELATION,
    painting_color_transform,
    painting_colours,
)
from ..models.generator import StyleFusionGenerator
from .gan import StyleFusionGAN


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
            row[norm.offset : norm.offset + 6] = HELD_NORM_COLUMNS
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

"""The app's "best quality" render: the photo repainted from one painting's own patches
(example-based synthesis), at the synthesis' own size rather than the photo's full size."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ConfigError
from ..models.generator import StyleFusionGenerator
from ..synthesis import synthesize
from ..synthesis.files import DEFAULT_MAX_SIZE, bundled_painting, load_painting
from ..synthesis.synthesize import rescale
from .rendering import parse_styles
from .session import Photo, Session, StyleImage


def best_quality_job(settings: dict[str, Any], session: Session,
                     generator: StyleFusionGenerator) -> tuple[Photo, np.ndarray, str]:
    """The photo, the painting and its name for the one style the page's sliders select.
    ConfigError when none or several are selected, or a bank style has no painting."""
    photo, bank, styles, image_weights = parse_styles(settings, session, generator)
    chosen = ([name for name, w in zip(generator.style_names, bank) if w > 0]
              + [style for style, w in zip(styles, image_weights) if w > 0])
    if len(chosen) != 1:
        raise ConfigError(f"best quality repaints from one painting: {len(chosen)} styles are selected; "
                          "set one style's slider and the others to 0")
    choice = chosen[0]
    if isinstance(choice, StyleImage):
        if choice.path is None:
            raise ConfigError(f"style image {choice.name}: its file is no longer kept; add it again")
        return photo, load_painting(choice.path), choice.name
    name = choice
    try:
        return photo, load_painting(bundled_painting(name)), name
    except ConfigError:
        raise ConfigError(f"style {name!r} has no painting in this installation; add its painting as a "
                          "style image to render it at best quality") from None


def render_best(photo: Photo, painting: np.ndarray) -> np.ndarray:
    """The photo's preview copy (longer side ≤ the synthesis' default size) repainted."""
    image = photo.preview
    side = max(image.shape[:2])
    if side > DEFAULT_MAX_SIZE:
        image = rescale(image, DEFAULT_MAX_SIZE / side, minimum=1).numpy()
    return synthesize(image, painting)

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
from .rendering import _weights
from .session import Photo, Session


def best_quality_job(settings: dict[str, Any], session: Session,
                     generator: StyleFusionGenerator) -> tuple[Photo, np.ndarray, str]:
    """The photo, the painting and its name for the one style the page's sliders select.
    ConfigError when none or several are selected, or a bank style has no painting."""
    photo = session.photo(str(settings.get("photo", "")))
    bank = _weights(settings.get("bank", []), "style sliders")
    images = settings.get("style_images", [])
    if not isinstance(images, list) or not all(isinstance(s, dict) for s in images):
        raise ConfigError("style_images: expected a list of {id, weight}")
    chosen = [("bank", i) for i, w in enumerate(bank) if w > 0]
    chosen += [("image", str(s.get("id", ""))) for s in images
               if _weights([s.get("weight", 0.0)], "style image sliders")[0] > 0]
    if len(chosen) != 1:
        raise ConfigError(f"best quality repaints from one painting: {len(chosen)} styles are selected; "
                          "set one style's slider and the others to 0")
    kind, key = chosen[0]
    if kind == "image":
        style = session.style_image(key)
        if style.path is None:
            raise ConfigError(f"style image {style.name}: its file is no longer kept; add it again")
        return photo, load_painting(style.path), style.name
    name = generator.style_names[key]
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

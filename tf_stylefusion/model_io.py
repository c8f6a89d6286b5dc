"""Loading trained generators from a run folder or a ``.keras`` file, with clear errors."""

from __future__ import annotations

from pathlib import Path

import keras

from .callbacks import GENERATOR_FILE
from .errors import ModelFileError
from .models.generator import StyleFusionGenerator


def resolve_model_path(model: str | Path) -> Path:
    """A run folder means its ``generator.keras``; a file must be a ``.keras`` file."""
    p = Path(model)
    if p.is_dir():
        p = p / GENERATOR_FILE
        if not p.is_file():
            raise ModelFileError(
                f"{model}: not a run folder (it has no {GENERATOR_FILE}); pass a folder written by "
                "`stylefusion train` or a .keras file")
    elif not p.is_file():
        raise ModelFileError(f"{model}: no such model file or run folder")
    elif p.suffix != ".keras":
        raise ModelFileError(f"{model}: expected a .keras file or a run folder")
    return p


def load_generator(model: str | Path) -> StyleFusionGenerator:
    """Load a StyleFusionGenerator (weights, config and style names) from ``model``."""
    path = resolve_model_path(model)
    try:
        loaded = keras.saving.load_model(path, compile=False)
    except Exception as e:  # a damaged zip, a foreign model, a version mismatch
        raise ModelFileError(f"{path}: cannot load the model ({type(e).__name__}: {e})") from e
    if not isinstance(loaded, StyleFusionGenerator):
        raise ModelFileError(f"{path}: holds a {type(loaded).__name__}, not a StyleFusionGenerator")
    return loaded

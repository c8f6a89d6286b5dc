"""The run-folder layout (every file name in one place) and loading trained generators and style
encoders from a run folder or a ``.keras`` file, with clear errors."""

from __future__ import annotations

from pathlib import Path

import keras

from .errors import ModelFileError
from .models.generator import StyleFusionGenerator
from .models.style_encoder import StyleEncoder

# What `train` writes into a run folder.
CONFIG_FILE = "config.json"            # RunConfig, the run's identity (resume checks it)
SPLITS_FILE = "splits.json"            # train / validation / test file lists
GENERATOR_FILE = "generator.keras"     # refreshed at every checkpoint
ENCODER_FILE = "style_encoder.keras"   # optional: --encoder-steps
CHECKPOINTS_DIR = "checkpoints"        # G, D and both optimizers (resume)
WORKERS_DIR = "workers"                # non-chief workers' scratch checkpoints
SAMPLES_DIR = "samples"                # sample-grid PNGs
TENSORBOARD_DIR = "tensorboard"
HISTORY_FILE = "history.csv"
BAD_FILES_FILE = "bad_files.txt"       # images skipped as unreadable


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


def style_encoder_path(model: str | Path) -> Path:
    """Where a model's StyleEncoder lives: ``style_encoder.keras`` beside its generator."""
    return resolve_model_path(model).parent / ENCODER_FILE


def load_style_encoder(model: str | Path, generator: StyleFusionGenerator | None = None,
                       required: bool = False) -> StyleEncoder | None:
    """The StyleEncoder saved with ``model`` (None if it has none, unless ``required``). With
    ``generator``, checks that the encoder predicts rows of that generator's size."""
    path = style_encoder_path(model)
    if not path.is_file():
        if required:
            raise ModelFileError(
                f"{model}: has no style encoder ({path.name}); --style-image and --strength need one. "
                "Train it with `stylefusion train ... --encoder-steps 300` (it is saved in the run folder)")
        return None
    try:
        loaded = keras.saving.load_model(path, compile=False)
    except Exception as e:
        raise ModelFileError(f"{path}: cannot load the style encoder ({type(e).__name__}: {e})") from e
    if not isinstance(loaded, StyleEncoder):
        raise ModelFileError(f"{path}: holds a {type(loaded).__name__}, not a StyleEncoder")
    if generator is not None and loaded.param_dim != generator.param_dim:
        raise ModelFileError(f"{path}: predicts rows of {loaded.param_dim} values but the generator's "
                             f"bank rows have {generator.param_dim}; it belongs to another model")
    return loaded

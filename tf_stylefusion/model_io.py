"""The run-folder layout (every file name in one place) and loading trained generators and style
encoders from a run folder or a ``.keras`` file, with clear errors."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from .errors import ModelFileError
from .fileutil import atomic_path
from .models.generator import StyleFusionGenerator
from .models.style_encoder import StyleEncoder

# What `train` writes into a run folder.
CONFIG_FILE = "config.json"            # RunConfig, the run's identity (resume checks it)
SPLITS_FILE = "splits.json"            # train / validation / test file lists
GENERATOR_FILE = "generator.keras"     # refreshed at every checkpoint
ENCODER_FILE = "style_encoder.keras"   # optional: --encoder-steps
TEXTURES_FILE = "textures.npz"         # each style's brushwork tile (models/texture.py)
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
    textures = path.parent / TEXTURES_FILE
    if path.name == GENERATOR_FILE and textures.is_file():
        loaded.set_textures(load_textures(textures, loaded.style_names))
    return loaded


def save_textures(path: str | Path, tiles: np.ndarray, style_names: list[str]) -> None:
    """Write brushwork tiles ``[N, S, S, 3]`` (8 bits each, a scale per style) atomically."""
    tiles = np.asarray(tiles, np.float32)
    scale = np.maximum(np.abs(tiles).reshape(len(tiles), -1).max(axis=1), 1e-6) / 127.0
    codes = np.clip(np.round(tiles / scale[:, None, None, None]), -127, 127).astype(np.int8)
    with atomic_path(Path(path)) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, tiles=codes, scale=scale.astype(np.float32), names=np.array(style_names))


def load_textures(path: str | Path, style_names: list[str]) -> np.ndarray:
    """The tiles ``[N, S, S, 3]`` float32 saved by ``save_textures``, checked against the
    generator's ``style_names``; a damaged or foreign file is a ModelFileError naming it."""
    try:
        with np.load(path, allow_pickle=False) as data:
            codes, scale, names = data["tiles"], data["scale"], [str(n) for n in data["names"]]
    except Exception as e:  # a truncated zip, a missing array, not an npz at all
        raise ModelFileError(f"{path}: cannot read the texture tiles ({type(e).__name__}: {e})") from e
    if names != list(style_names) or codes.ndim != 4 or codes.shape[0] != len(names) or scale.shape != (len(names),):
        raise ModelFileError(f"{path}: holds tiles for styles {names} (shape {list(codes.shape)}), but the "
                             f"generator's styles are {list(style_names)}; it belongs to another model")
    tiles = codes.astype(np.float32) * scale[:, None, None, None]
    if not np.all(np.isfinite(tiles)):
        raise ModelFileError(f"{path}: the texture tiles hold NaN or infinite values")
    return tiles


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

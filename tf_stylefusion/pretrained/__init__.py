"""The ready-made style pack: a trained generator (one bank of painting styles) and its style
encoder, shipped as package data so a photo can be stylized right after install.

It is made by ``stylefusion pack train|finish|harden|install`` (``training/pack.py``) with the
recipe ``pretrained/style_pack.json``; its training log, meter table and sheets are in
``docs/style_pack/``. The files live in ``pretrained/pack/`` as an ordinary run folder, so every
command that takes a model takes the pack too.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..errors import ModelFileError
from ..model_io import GENERATOR_FILE, load_generator, load_style_encoder

PACK_NAME = "pack"
# Beside the pack, not in it: installing a pack replaces the whole folder.
RECIPE_NAME = "style_pack.json"


def pack_dir(required: bool = True) -> Path:
    """The pack's run folder inside the installed package."""
    path = Path(str(resources.files("tf_stylefusion") / "pretrained" / PACK_NAME))
    if required and not (path / GENERATOR_FILE).is_file():
        raise ModelFileError(
            f"the ready-made style pack is not in this installation ({path / GENERATOR_FILE} is "
            "missing); pass a model (a run folder or .keras file), or rebuild the pack with "
            "`stylefusion pack train` and `stylefusion pack install`")
    return path


def pack_recipe_path() -> Path:
    """The recipe the pack is made with (``training/pack.py`` reads it)."""
    return Path(str(resources.files("tf_stylefusion") / "pretrained" / RECIPE_NAME))


def resolve_model(model: str | Path | None) -> Path:
    """``model`` as given, or the pack's folder when it is None or ``"pack"``."""
    if model is None or str(model) == PACK_NAME:
        return pack_dir()
    return Path(model)


def load_pack():
    """The pack's generator and its style encoder (``(generator, encoder)``; the encoder is None
    if the pack ships without one)."""
    folder = pack_dir()
    generator = load_generator(folder)
    return generator, load_style_encoder(folder, generator)


def style_names() -> list[str]:
    """The pack's styles, in bank order."""
    return list(load_generator(pack_dir()).style_names)

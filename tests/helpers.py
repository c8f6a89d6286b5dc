"""One shared check for every layer and model we own: config round trip and save/load."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, NoReturn

import keras
import numpy as np
import pytest

if TYPE_CHECKING:
    from tf_stylefusion.models.generator import StyleFusionGenerator


def under_ci() -> bool:
    """Whether the suite runs as CI (``CI=true``, as CI services and ``.ci/run`` set it)."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def missing_dependency(reason: str) -> NoReturn:
    """The one way a test gives up for want of a dependency (an extra, Chromium, a tool): skipped
    on a developer's machine, FAILED under ``CI=true``, so a green CI run has tested every claim.
    Usable at module level too (under CI the module then fails to collect, with ``reason``)."""
    if under_ci():
        pytest.fail(f"CI=true, and {reason}: install it (see .ci/run) rather than skip", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require_module(name: str, install: str) -> ModuleType:
    """``import name``, or ``missing_dependency`` saying how to ``install`` it."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        missing_dependency(f"{name} is not installed ({e}); {install}")


VIDEO_EXTRA = "pip install 'tf_stylefusion[video]'"


def require_video_extra() -> ModuleType:
    """The video extra (imageio with its ffmpeg, OpenCV); returns ``imageio.v2``."""
    iio = require_module("imageio.v2", VIDEO_EXTRA)
    require_module("imageio_ffmpeg", VIDEO_EXTRA)
    require_module("cv2", VIDEO_EXTRA)
    return iio


def written(folder: Path, stem: str) -> Path:
    """The one picture ``stylefusion stylize`` wrote into ``folder`` for the input named ``stem``
    (named after the input and its style: ``stem__style.png``)."""
    found = sorted(Path(folder).glob(f"{stem}__*.png"))
    assert len(found) == 1, f"expected one {stem}__*.png in {folder}, found {[p.name for p in found]}"
    return found[0]


def distinct_styles_generator(style_names: list[str], seed: int, bank_seed: int) -> "StyleFusionGenerator":
    """A tiny generator (8/12/16 filters, one residual block) whose bank rows are far apart, as
    training would leave them, so the style weights visibly matter."""
    import tensorflow as tf

    from tf_stylefusion.models.generator import StyleFusionGenerator

    # Keras 3 initialisers draw their seeds from Python's `random`, which earlier tests move: all
    # of the generators' randomness is seeded here, so a test sees the same model in any order.
    keras.utils.set_random_seed(seed)
    g = StyleFusionGenerator(num_styles=len(style_names), style_names=style_names, filters=(8, 12, 16),
                             num_res_blocks=1)
    g.bank.table.assign(g.bank.table + tf.random.normal(g.bank.table.shape, stddev=0.5, seed=bank_seed))
    return g


def check_config_roundtrip(obj: keras.layers.Layer) -> keras.layers.Layer:
    """from_config(get_config()) rebuilds an object with the same config."""
    config = obj.get_config()
    clone = type(obj).from_config(config)
    assert clone.get_config() == config
    return clone


def check_model_saving(model: keras.Model, inputs: Any, tmp_path: Path) -> keras.Model:
    """A .keras round trip restores a model of the same class whose outputs are identical."""
    path = tmp_path / f"{model.name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    assert type(loaded) is type(model)
    expected = keras.tree.flatten(model(inputs))
    got = keras.tree.flatten(loaded(inputs))
    for e, g in zip(expected, got):
        np.testing.assert_array_equal(np.asarray(e), np.asarray(g))
    return loaded


def signature_names(saved_model_dir: Path) -> set[str]:
    """The signatures a SavedModel declares, read from its saved_model.pb without loading it."""
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((Path(saved_model_dir) / "saved_model.pb").read_bytes())
    return set(proto.meta_graphs[0].signature_def)


def moving_texture(path: Path, frames: int = 8, size: int = 64, noise: float = 0.02) -> Path:
    """A video of a smooth texture sliding 2 px right and 1 px down per frame, with ``noise``
    (std) of sensor noise. Needs the video extra (imageio with ffmpeg)."""
    import imageio.v2 as iio

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    with iio.get_writer(path, format="FFMPEG", fps=8, quality=9, macro_block_size=2) as writer:
        for t in range(frames):
            xs, ys = x - 2 * t, y - t
            img = np.stack([0.5 + 0.4 * np.sin(xs / 5.0), 0.5 + 0.4 * np.cos(ys / 7.0),
                            0.5 + 0.3 * np.sin((xs + ys) / 9.0)], -1) + rng.normal(0, noise, (size, size, 3))
            writer.append_data((np.clip(img, 0, 1) * 255).astype(np.uint8))
    return path

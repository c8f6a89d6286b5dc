"""Shared fixtures: tiny generated images (no files from outside the test), fixed seeds."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def _seed_everything() -> None:
    import keras

    keras.utils.set_random_seed(0)  # Python's `random`, NumPy, TensorFlow and Keras' own seeds


# Keras 3 draws initialiser seeds from Python's `random`, so without these a test's model would
# depend on which tests ran before it in the same process (and on how pytest-xdist shares them
# out). The module-scoped one runs before a module's own module-scoped fixtures build models.
@pytest.fixture(autouse=True, scope="module")
def _fixed_seeds_per_module() -> None:
    _seed_everything()


@pytest.fixture(autouse=True)
def _fixed_seeds_per_test() -> None:
    _seed_everything()


def texture(kind: str, size: int = 64, seed: int = 0) -> np.ndarray:
    """Distinct synthetic textures, uint8 [size, size, 3]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    if kind == "stripes":
        v = ((x // 4) % 2).astype(np.float32)
        rgb = np.stack([v, 0.2 + 0 * v, 1 - v], -1)
    elif kind == "checker":
        v = (((x // 8) + (y // 8)) % 2).astype(np.float32)
        rgb = np.stack([0.9 * v + 0.05, 0.8 * v + 0.1, 0.1 + 0 * v], -1)
    elif kind == "photo":
        rgb = np.stack([x / size, y / size, 0.5 + 0.3 * np.sin(x / 5.0)], -1)
        rgb = rgb + rng.normal(0, 0.03, rgb.shape)
    else:
        rgb = rng.random((size, size, 3))
    return (np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def write(path: Path, arr: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


@pytest.fixture
def image_folders(tmp_path: Path) -> dict[str, Path]:
    """A content folder of 4 photos-like images and two style images."""
    content = tmp_path / "content"
    for i in range(4):
        write(content / f"photo_{i}.png", texture("photo", 72, seed=i))
    styles = tmp_path / "styles"
    return {
        "content": content,
        "stripes": write(styles / "stripes.png", texture("stripes", 96)),
        "checker": write(styles / "checker.png", texture("checker", 96)),
    }

"""The sample images shipped inside the package (see samples/SOURCES.md for credits)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def samples_dir() -> Path:
    """The package's ``samples/`` folder: ``content/`` photos and ``style/`` paintings."""
    return Path(str(resources.files("tf_stylefusion") / "samples"))

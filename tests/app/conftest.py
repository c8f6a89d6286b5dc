"""Shared by the app tests: the ready-made pack (loaded once) and small photos as file bytes."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ..helpers import require_module


def require_app_extra() -> None:
    """The app extra's libraries, or the calling module is skipped (failed under CI=true)."""
    for module in ("starlette", "uvicorn", "python_multipart", "httpx"):
        require_module(module, "pip install 'tf_stylefusion[app,test]'")


@pytest.fixture(scope="session")
def pack() -> tuple[Any, Any]:
    """The pack's generator and style encoder (loaded once: a few seconds)."""
    from tf_stylefusion.pretrained import load_pack

    return load_pack()


def sample_photo(width: int, height: int, name: str = "astronaut.jpg") -> np.ndarray:
    """A bundled sample photo, cropped to the aspect ratio and resized to ``width``×``height``."""
    from tf_stylefusion.data.samples import samples_dir

    with Image.open(samples_dir() / "content" / name) as im:
        im = im.convert("RGB")
        w, h = im.size
        scale = min(w / width, h / height)
        cw, ch = round(width * scale), round(height * scale)
        box = ((w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch)
        return np.asarray(im.resize((width, height), Image.Resampling.LANCZOS, box=box))


def encoded(image: np.ndarray, fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format=fmt, quality=92)
    return buf.getvalue()


def decoded(data: bytes) -> np.ndarray:
    """PNG/JPEG bytes → float32 [H, W, 3] in [0, 1]."""
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"), np.float32) / 255.0

"""The uploads of one app run: photos and style images, saved in a temporary folder the app owns
(removed on shutdown) and decoded once.

Each photo keeps its full-size pixels (uint8: a 16 MP photo is 48 MB, not 192 MB as float) and a
copy whose longer side is ``preview_side`` for the live preview; each style image keeps only its
style row, which is all a render needs. Only the latest few uploads are kept, so a long session
does not grow without bound.
"""

from __future__ import annotations

import secrets
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..data.images import load_image, to_uint8
from ..errors import ImageError, StyleFusionError
from ..inference.fusion import encode_style_images, style_image_textures
from ..models.generator import MIN_SIZE
from ..models.style_encoder import StyleEncoder


class UnknownUpload(StyleFusionError):
    """A request names a photo or style image the app no longer holds (or never held)."""


@dataclass(frozen=True)
class Limits:
    """What the app accepts: bytes per upload, pixels per image, the preview's longer side, and
    how many photos and style images it keeps."""

    max_upload_bytes: int = 40 * 1024 * 1024
    max_pixels: int = 25_000_000
    preview_side: int = 512
    max_photos: int = 4
    max_style_images: int = 8


@dataclass
class Photo:
    """An uploaded photo: the full-size pixels (uint8) and the preview copy (float32)."""

    id: str
    name: str
    full: np.ndarray
    preview: np.ndarray

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` at full size."""
        return self.full.shape[1], self.full.shape[0]


@dataclass
class StyleImage:
    """An uploaded style image, reduced to the style row the encoder predicts for it and its
    brushwork tile (models/texture.py); ``path`` keeps the upload for example-based synthesis."""

    id: str
    name: str
    row: np.ndarray
    texture: np.ndarray | None = None
    path: Path | None = None


def _safe_name(name: str) -> str:
    """The file name a browser sent, without any folder part, for messages and downloads."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return base or "upload"


class Session:
    """Uploaded photos and style images of one app run, in a temporary folder it owns."""

    def __init__(self, limits: Limits | None = None):
        self.limits = limits or Limits()
        self._folder = tempfile.TemporaryDirectory(prefix="stylefusion_app_")
        self._lock = threading.Lock()
        self._photos: OrderedDict[str, Photo] = OrderedDict()
        self._styles: OrderedDict[str, StyleImage] = OrderedDict()

    @property
    def folder(self) -> Path:
        """The temporary folder uploads are saved in (removed by ``close``)."""
        return Path(self._folder.name)

    def _save(self, data: bytes) -> tuple[str, Path]:
        upload_id = secrets.token_hex(8)  # not guessable, and never a path from the browser
        path = self.folder / upload_id
        path.write_bytes(data)
        return upload_id, path

    def _decode(self, path: Path, name: str, max_side: int | None = None) -> np.ndarray:
        """The package's loader (EXIF orientation, every mode, truncation checks), with the
        errors naming the browser's file name rather than the temporary file's."""
        self._check_pixels(path, name)
        try:
            return load_image(path, max_side=max_side, min_side=MIN_SIZE, max_pixels=self.limits.max_pixels)
        except ImageError as e:
            raise ImageError(name, e.problem) from None

    def _check_pixels(self, path: Path, name: str) -> None:
        """The pixel limit in the page's words (the loader's own guard speaks to programmers);
        reads the header only."""
        try:
            with Image.open(path) as im:
                w, h = im.size
        except Exception:  # not an image, or damaged: the loader says which
            return
        if w * h > self.limits.max_pixels:
            raise ImageError(name, f"the image is {w}×{h} = {w * h / 1e6:.1f} megapixels; the app takes "
                                   f"up to {self.limits.max_pixels / 1e6:.1f} megapixels: downscale it first")

    def add_photo(self, name: str, data: bytes) -> Photo:
        """Save and decode an uploaded photo. Raises ImageError naming ``name`` and the problem."""
        name = _safe_name(name)
        upload_id, path = self._save(data)
        try:
            full = to_uint8(self._decode(path, name))
            preview = self._decode(path, name, max_side=self.limits.preview_side)
        except ImageError:
            path.unlink(missing_ok=True)
            raise
        photo = Photo(upload_id, name, full, preview)
        self._remember(self._photos, upload_id, photo, self.limits.max_photos)
        return photo

    def add_style_image(self, name: str, data: bytes, encoder: StyleEncoder) -> StyleImage:
        """Save an uploaded style image and predict its style row with ``encoder``."""
        name = _safe_name(name)
        upload_id, path = self._save(data)
        try:
            # Read at most 4x the encoder's scale, as `stylefusion stylize --style-image` does.
            image = self._decode(path, name, max_side=4 * encoder.style_size)
        except ImageError:
            path.unlink(missing_ok=True)
            raise
        style = StyleImage(upload_id, name, encode_style_images(encoder, [image])[0],
                           style_image_textures([image])[0], path)
        self._remember(self._styles, upload_id, style, self.limits.max_style_images)
        return style

    def photo(self, photo_id: str) -> Photo:
        """A photo by id (the most recently used are kept longest)."""
        return self._lookup(self._photos, photo_id, "this photo is no longer loaded (the app keeps the "
                            f"last {self.limits.max_photos}, or it restarted); drop it again")

    def style_image(self, style_id: str) -> StyleImage:
        """A style image by id."""
        return self._lookup(self._styles, style_id, "a style image is no longer loaded (the app keeps "
                            f"the last {self.limits.max_style_images}, or it restarted); add it again")

    def _remember(self, store: OrderedDict[str, Any], key: str, item: Any, limit: int) -> None:
        """Keep ``item`` under ``key``; past ``limit`` entries the least recently used one goes,
        with its file."""
        with self._lock:
            store[key] = item
            while len(store) > limit:
                old, _ = store.popitem(last=False)
                (self.folder / old).unlink(missing_ok=True)

    def _lookup(self, store: OrderedDict[str, Any], key: str, missing: str) -> Any:
        """``store[key]``, marked most recently used; UnknownUpload(``missing``) if it is gone."""
        with self._lock:
            if key not in store:
                raise UnknownUpload(missing)
            store.move_to_end(key)
            return store[key]

    def close(self) -> None:
        """Forget every upload and remove the temporary folder."""
        with self._lock:
            self._photos.clear()
            self._styles.clear()
        self._folder.cleanup()

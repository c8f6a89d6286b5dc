"""Image files in and out, validated. numpy + Pillow only (no TensorFlow).

Inside the library an image is float32 HWC RGB in [0, 1]; uint8 only at the edges (files).
Every problem a user can cause raises ``ImageError(path, problem)``.
"""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path
from typing import BinaryIO, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFile, ImageOps, UnidentifiedImageError

from ..errors import ImageError
from ..fileutil import atomic_path

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
DEFAULT_MAX_PIXELS = 100_000_000
SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP"}


def display_path(path: object) -> str:
    """A printable form of any path, also one whose name holds undecodable bytes."""
    if isinstance(path, (str, os.PathLike, bytes)):
        try:
            return os.fsencode(path).decode("utf-8", "backslashreplace")
        except TypeError:
            pass
    return str(path)


def _to_rgb_array(im: Image.Image) -> np.ndarray:
    """Any PIL mode → float32 RGB in [0, 1]. Transparency is composited onto white."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        a = np.asarray(im, dtype=np.float64)
        # 16-bit PNGs come as I;16 or I (32-bit int holding 16-bit data): scale by 65535.
        scale = 65535.0 if im.mode.startswith("I;16") or a.max(initial=0) > 255 else 255.0
        a = np.clip(a / scale, 0.0, 1.0)
        return np.repeat(a[..., None], 3, axis=2).astype(np.float32)
    if im.mode == "F":
        a = np.clip(np.asarray(im, dtype=np.float32), 0.0, 1.0)
        return np.repeat(a[..., None], 3, axis=2)
    if im.mode == "P":
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        im = im.convert("RGBA")
        background = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, im)
    if im.mode != "RGB":
        im = im.convert("RGB")
    rgb = np.asarray(im, dtype=np.float32)
    rgb /= 255.0  # in place: one float copy of a large photo, not two
    return rgb


def _decode(source: str | Path | BinaryIO, name: str, max_side: int | None, min_side: int,
            max_pixels: int) -> np.ndarray:
    try:
        with Image.open(source) as im:
            w, h = im.size
            if w * h > max_pixels:
                raise ImageError(name, f"image is {w}×{h} = {w * h / 1e6:.0f} megapixels, over the limit "
                                       f"of {max_pixels / 1e6:.0f} (decompression-bomb guard); "
                                       "raise max_pixels if the file is trusted")
            if min(w, h) < min_side:
                raise ImageError(name, f"image is {w}×{h} pixels; at least {min_side}×{min_side} is needed")
            if getattr(im, "n_frames", 1) > 1:
                im.seek(0)  # animations: the first frame
            if max_side and im.format == "JPEG" and max(w, h) > 2 * max_side:
                # Decode JPEGs at a reduced DCT scale: a huge photo never materialises in full.
                im.draft("RGB", (max(1, w * max_side // max(w, h)), max(1, h * max_side // max(w, h))))
            im.load()
            im = ImageOps.exif_transpose(im)
            if max_side and max(im.size) > max_side:
                ratio = max_side / max(im.size)
                new = (max(1, round(im.size[0] * ratio)), max(1, round(im.size[1] * ratio)))
                if im.mode not in ("RGB", "RGBA", "L", "LA"):
                    im = im.convert("RGBA" if "A" in im.getbands() else "RGB")
                im = im.resize(new, Image.Resampling.LANCZOS, reducing_gap=3.0)
            return _to_rgb_array(im)
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(name, "file not found") from None
    except IsADirectoryError:
        raise ImageError(name, "is a folder, not an image file") from None
    except PermissionError:
        raise ImageError(name, "permission denied; check the file's read permissions") from None
    except UnidentifiedImageError:
        raise ImageError(name, "not an image file Pillow can read (unknown or damaged header)") from None
    except Image.DecompressionBombError as e:
        raise ImageError(name, f"image too large (decompression-bomb guard): {e}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageError(name, f"truncated or corrupt image data ({e})") from None


def load_image(path: str | os.PathLike[str], *, max_side: int | None = None, min_side: int = 1,
               max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an image file as float32 ``[H, W, 3]`` RGB in [0, 1].

    EXIF orientation is applied; CMYK, palette, grayscale and 16-bit files are converted;
    transparency is composited onto white; animations give their first frame. ``max_side``
    downscales (high quality) so the longer side is at most that. Raises ImageError naming the
    file for missing, unreadable, empty, corrupt, truncated, too small or too large files.
    """
    name = display_path(path)
    if os.path.isfile(path) and os.path.getsize(path) == 0:
        raise ImageError(name, "file is empty (0 bytes)")
    return _decode(Path(path), name, max_side, min_side, max_pixels)


def decode_image_bytes(data: bytes, name: str = "<bytes>", *, max_side: int | None = None,
                       min_side: int = 1, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """``load_image`` for encoded bytes (JPEG, PNG, WebP, BMP, ...)."""
    if not data:
        raise ImageError(name, "no data (0 bytes)")
    return _decode(io.BytesIO(data), name, max_side, min_side, max_pixels)


def validate_image_array(arr: object, name: str = "image", keep_uint8: bool = False) -> np.ndarray:
    """Check an in-memory image (``[H, W, 3]`` or ``[B, H, W, 3]``, uint8 or float in [0, 1]) and
    return it as float32, or a uint8 one as it is with ``keep_uint8`` (for callers that convert a
    region at a time). Raises ImageError for wrong shape, NaN/inf or out-of-range values."""
    a = np.asarray(arr)
    if a.ndim not in (3, 4) or a.shape[-1] != 3:
        raise ImageError(name, f"expected shape [H, W, 3] or [B, H, W, 3], got {list(a.shape)}")
    if a.size == 0:
        raise ImageError(name, "is empty")
    if a.dtype == np.uint8:
        if keep_uint8:
            return a
        f = a.astype(np.float32)
        f /= 255.0  # in place: one float copy, not two
        return f
    if not np.issubdtype(a.dtype, np.floating):
        raise ImageError(name, f"dtype {a.dtype} is not supported; use uint8 or float in [0, 1]")
    a = a.astype(np.float32, copy=False)  # no copy of a valid float32 image: large ones are large
    if not np.all(np.isfinite(a)):
        raise ImageError(name, "contains NaN or infinite values")
    lo, hi = a.min(), a.max()
    if lo < -1e-3 or hi > 1 + 1e-3:
        raise ImageError(name, f"float values must lie in [0, 1], got [{lo:g}, {hi:g}]")
    return a if lo >= 0.0 and hi <= 1.0 else np.clip(a, 0.0, 1.0)


def to_uint8(img: np.ndarray) -> np.ndarray:
    """float [0, 1] → uint8 (rounded, clipped); uint8 passes through."""
    a = np.asarray(img)
    if a.dtype == np.uint8:
        return a
    scaled = np.clip(np.asarray(a, np.float32), 0.0, 1.0)  # one temporary, scaled in place
    scaled *= 255.0
    scaled += 0.5
    return scaled.astype(np.uint8)


def to_float(img: np.ndarray) -> np.ndarray:
    """uint8 → float32 [0, 1]; float passes through as float32."""
    a = np.asarray(img)
    return a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32)


def encode_image(img: np.ndarray, format: str = "PNG") -> bytes:
    """Encode an HWC image (float [0, 1] or uint8) as PNG/JPEG/WebP bytes."""
    a = to_uint8(img)
    if a.ndim != 3 or a.shape[-1] != 3:
        raise ImageError("image", f"expected shape [H, W, 3], got {list(a.shape)}")
    buf = io.BytesIO()
    kwargs = {"quality": 95} if format.upper() in ("JPEG", "WEBP") else {}
    Image.fromarray(a).save(buf, format=format.upper(), **kwargs)
    return buf.getvalue()


def save_image(path: str | os.PathLike[str], img: np.ndarray) -> None:
    """Write an image atomically; the format follows the suffix (.png, .jpg, .webp, .bmp)."""
    fmt = SAVE_FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise ImageError(display_path(path), f"unknown image suffix; use one of {sorted(SAVE_FORMATS)}")
    data = encode_image(img, fmt)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def list_images(folder: str | os.PathLike[str], recursive: bool = True) -> list[Path]:
    """Image files in ``folder`` (recursively), sorted; hidden files and folders are skipped."""
    root = Path(folder)
    if not root.is_dir():
        raise ImageError(display_path(folder), "no such folder")
    pattern = root.rglob("*") if recursive else root.glob("*")
    found = sorted(
        p for p in pattern
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    if not found:
        raise ImageError(display_path(folder), f"no images with extensions {', '.join(IMAGE_EXTENSIONS)} found")
    return found


class BadFiles:
    """Thread-safe record of skipped inputs (each path once) and why."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, str] = {}

    def add(self, path: object, problem: str) -> None:
        with self._lock:
            self._items.setdefault(display_path(path), problem)

    @property
    def items(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._items.items())

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def summary(self) -> str:
        items = self.items
        if not items:
            return ""
        lines = [f"{len(items)} file(s) skipped:"] + [f"  {p}: {why}" for p, why in items]
        return "\n".join(lines)


def contact_sheet(rows: Sequence[Sequence[np.ndarray]], *, row_labels: Sequence[str] | None = None,
                  col_labels: Sequence[str] | None = None, cell: int = 192, pad: int = 4) -> np.ndarray:
    """A labelled grid of images (each fitted into a ``cell``² box) as uint8 ``[H, W, 3]``."""
    ncols = max((len(r) for r in rows), default=0)
    left = 90 if row_labels else 0
    top = 18 if col_labels else 0
    width = left + ncols * (cell + pad) + pad
    height = top + len(rows) * (cell + pad) + pad
    sheet = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for r, row in enumerate(rows):
        y = top + pad + r * (cell + pad)
        if row_labels and r < len(row_labels):
            draw.text((4, y + cell // 2 - 6), str(row_labels[r])[:14], fill=(0, 0, 0))
        for c, img in enumerate(row):
            x = left + pad + c * (cell + pad)
            draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=(225, 225, 225))
            tile = Image.fromarray(to_uint8(img))
            tile.thumbnail((cell, cell), Image.Resampling.LANCZOS)
            if max(tile.size) < cell:  # small inputs are enlarged to fill the cell
                ratio = cell / max(tile.size)
                tile = tile.resize((max(1, round(tile.size[0] * ratio)), max(1, round(tile.size[1] * ratio))),
                                   Image.Resampling.LANCZOS)
            sheet.paste(tile, (x + (cell - tile.size[0]) // 2, y + (cell - tile.size[1]) // 2))
    if col_labels:
        for c, label in enumerate(col_labels[:ncols]):
            draw.text((left + pad + c * (cell + pad) + 2, 3), str(label)[: cell // 6], fill=(0, 0, 0))
    return np.asarray(sheet)


# Never accept truncated files silently: a half-decoded image would poison training.
ImageFile.LOAD_TRUNCATED_IMAGES = False


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio (dB) of two images in [0, 1]; identical images give +inf."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * float(np.log10(1.0 / mse))

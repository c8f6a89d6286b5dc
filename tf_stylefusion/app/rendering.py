"""From the page's settings to pixels: the style weights and ``StylizeOptions`` one preview or
render asks for, the stylization itself (the package's ``stylize_image``) and PNG bytes.

The page sends its settings as JSON::

    {"photo": ID, "bank": [w, ...], "style_images": [{"id": ID, "weight": w}, ...],
     "strength": 0..1, "color": "off" | "luminance" | "histogram", "softness": PERCENT,
     "texture": 0..SETTING_BOUNDS["texture"].high, "masks": [row, ...]}

with one greyscale mask PNG per entry of ``masks`` (white: the style of that row goes here).
Rows are the bank's styles, then the style images in the order listed.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from PIL import Image

from ..config import GeneratorSettings
from ..data.images import decode_image_bytes, to_uint8
from ..errors import ConfigError
from ..inference.fusion import StylizeOptions
from ..inference.masks import feather
from ..inference.stylize import stylize_image
from ..models.color_stats import LUMA
from ..models.generator import StyleFusionGenerator
from ..models.style_encoder import StyleEncoder
from .session import Photo, Session, StyleImage

COLOR_CHOICES = {"off": None, "luminance": "luminance", "histogram": "histogram"}
DEFAULT_SOFTNESS = 2.0  # percent of the shorter side: the package's default feather
MAX_SOFTNESS = 20.0
# A painted mask is at most the preview's size; anything far larger is not from the page.
MAX_MASK_PIXELS = 4_000_000


class CachedRows:
    """A StyleEncoder that remembers the rows it predicted, keyed by the image's pixels.

    A strength below 1 mixes in the photo's own style row, which the fusion code predicts with
    the encoder on every call (a pass of the loss network: half of a 512 px preview's time).
    The photo does not change while its sliders move, so its row is predicted once."""

    def __init__(self, encoder: StyleEncoder, capacity: int = 16):
        self.encoder, self.capacity = encoder, capacity
        self._rows: dict[bytes, np.ndarray] = {}

    def __getattr__(self, name: str) -> Any:
        if name == "encoder":  # not set yet (a copy being made): no endless lookup
            raise AttributeError(name)
        return getattr(self.encoder, name)  # style_size, content_size, statistics, ...

    def predict_rows(self, images: Sequence[np.ndarray], own_colors: bool = False) -> np.ndarray:
        """``StyleEncoder.predict_rows``, from the cache for images seen before."""
        keys = [hashlib.blake2b(np.ascontiguousarray(im, np.float32).tobytes(), digest_size=16).digest()
                + str(np.shape(im)).encode() + bytes([own_colors]) for im in images]
        missing = [i for i, k in enumerate(keys) if k not in self._rows]
        if missing:
            for i, row in zip(missing, self.encoder.predict_rows([images[i] for i in missing], own_colors)):
                if len(self._rows) >= self.capacity:
                    self._rows.pop(next(iter(self._rows)))  # oldest first
                self._rows[keys[i]] = row
        return np.stack([self._rows[k] for k in keys])


def _number(settings: dict[str, Any], key: str, default: float, lo: float = -np.inf,
            hi: float = np.inf) -> float:
    value = settings.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if not lo <= value <= hi:
        raise ConfigError(f"{key}: {value:g} is outside [{lo:g}, {hi:g}]")
    return float(value)


def _weights(values: object, what: str) -> list[float]:
    if not isinstance(values, list):
        raise ConfigError(f"{what}: expected a list of numbers")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ConfigError(f"{what}: {v!r} is not a number")
        out.append(float(v))
    return out


def decode_mask(data: bytes, name: str) -> np.ndarray:
    """A painted mask (any image; its luminance) as float32 ``[H, W]`` in [0, 1]."""
    rgb = decode_image_bytes(data, name, max_pixels=MAX_MASK_PIXELS)
    return rgb @ np.array(LUMA, np.float32)


class SoftMasks:
    """Painted masks, decoded and feathered once: the painting does not change while sliders
    move, so each preview reuses them.

    The feather is applied at the size the mask was painted at (the preview's), with a radius of
    ``softness`` % of its shorter side; stylization then only resizes it (bilinear). At the full
    size that is the same soft edge relative to the photo as blurring there, without blurring
    16 MP planes (seconds each)."""

    def __init__(self, capacity: int = 32):
        self.capacity = capacity
        self._masks: dict[tuple[bytes, float], np.ndarray] = {}

    def get(self, data: bytes, softness: float, name: str) -> np.ndarray:
        """The mask in ``data`` (PNG bytes), feathered by ``softness`` % of its shorter side."""
        key = (hashlib.blake2b(data, digest_size=16).digest(), softness)
        if key not in self._masks:
            mask = decode_mask(data, name)
            soft = feather(mask, softness / 100.0 * min(mask.shape))
            if len(self._masks) >= self.capacity:
                self._masks.pop(next(iter(self._masks)))  # oldest first
            self._masks[key] = soft
        return self._masks[key]


@dataclass
class Job:
    """One stylization the page asked for: the photo, the weights over the bank and the style
    images' rows, and the fusion controls (masks feathered, at the size they were painted)."""

    photo: Photo
    weights: np.ndarray
    options: StylizeOptions
    row_names: list[str]


def parse_styles(settings: dict[str, Any], session: Session, generator: StyleFusionGenerator
                 ) -> tuple[Photo, list[float], list[StyleImage], list[float]]:
    """The page's photo and style sliders: one weight per bank style, then the style images and
    their weights. ConfigError naming the setting when one is malformed."""
    photo = session.photo(str(settings.get("photo", "")))
    bank = _weights(settings.get("bank", []), "style sliders")
    if len(bank) != generator.num_styles:
        raise ConfigError(f"style sliders: got {len(bank)} values for {generator.num_styles} styles")
    images = settings.get("style_images", [])
    if not isinstance(images, list) or not all(isinstance(s, dict) for s in images):
        raise ConfigError("style_images: expected a list of {id, weight}")
    styles = [session.style_image(str(s.get("id", ""))) for s in images]
    image_weights = _weights([s.get("weight", 0.0) for s in images], "style image sliders")
    return photo, bank, styles, image_weights


def parse_job(settings: dict[str, Any], masks: Sequence[bytes], session: Session,
              generator: StyleFusionGenerator, encoder: CachedRows | None,
              soft_masks: SoftMasks | None = None) -> Job:
    """Check the page's settings and mask PNGs and turn them into a Job. Raises ConfigError (or
    the package's image and weight errors) naming the setting and the problem."""
    photo, bank, styles, image_weights = parse_styles(settings, session, generator)
    row_names = list(generator.style_names) + [s.name for s in styles]
    if not any(w > 0 for w in bank + image_weights):
        raise ConfigError("every style slider is at 0: give at least one style a weight")
    strength = _number(settings, "strength", 1.0, 0.0, 1.0)
    color = settings.get("color", "off")
    if color not in COLOR_CHOICES:
        raise ConfigError(f"colour: {color!r}; choose one of {', '.join(COLOR_CHOICES)}")
    softness = _number(settings, "softness", DEFAULT_SOFTNESS, 0.0, MAX_SOFTNESS)
    # The range is the setting's own (config.SETTING_BOUNDS), checked by GeneratorSettings.
    texture = GeneratorSettings(texture=_number(settings, "texture", generator.config.texture)).texture
    if (styles or strength < 1.0) and encoder is None:
        raise ConfigError("this model has no style encoder: strength and style images need one")

    order = [int(r) for r in _weights(settings.get("masks", []), "masks")]
    if len(order) != len(masks):
        raise ConfigError(f"masks: {len(order)} styles listed but {len(masks)} mask image(s) sent")
    if any(r < 0 or r >= len(row_names) for r in order) or len(set(order)) != len(order):
        raise ConfigError(f"masks: each must name a different style row in 0..{len(row_names) - 1}")
    soft_masks = soft_masks or SoftMasks()
    arrays = [soft_masks.get(data, softness, f"mask for {row_names[r]}") for data, r in zip(masks, order)]
    if len(arrays) == 1 and len(row_names) > 1:
        # The package reads one mask as "this style here, the content elsewhere" (one style) or
        # "first style here, second elsewhere" (two); the page means "this style here, the
        # sliders' mix elsewhere", which is the one-mask-per-style rule: so add an empty mask
        # for another row.
        order.append(next(r for r in range(len(row_names)) if r != order[0]))
        arrays.append(np.zeros_like(arrays[0]))
    elif len(row_names) == 1:
        order, arrays = [], []  # one style: painting it where it already is changes nothing

    options = StylizeOptions(
        strength=strength, masks=arrays, order=order or None, feather=0.0,  # feathered already
        preserve_color=COLOR_CHOICES[color], style_rows=np.stack([s.row for s in styles]) if styles else None,
        style_textures=np.stack([s.texture for s in styles]) if styles else None, encoder=encoder,
        # The model's own amount is no override: a plain mix then takes the plain (faster) path.
        settings=None if texture == generator.config.texture else GeneratorSettings(texture=texture))
    return Job(photo, np.asarray(bank + image_weights, np.float32), options, row_names)


def tiles_on_copy(generator: StyleFusionGenerator) -> StyleFusionGenerator | None:
    """For a model that has brushwork tiles but lays none by default, its copy with them on: the
    generator a brushwork slider above 0 runs (``StylizeOptions.apply_settings`` would otherwise
    make, and trace, a new copy for every preview). None for other models."""
    if generator.textures is None or generator.config.texture != 0:
        return None
    return generator.with_settings(GeneratorSettings(texture=1.0))


# Three sizes: after two shapes TensorFlow relaxes a traced function to any shape.
WARM_UP_SIZES = ((48, 64), (64, 48), (40, 56))


def warm_up(generator: StyleFusionGenerator, encoder: CachedRows | None) -> None:
    """Trace every path a preview can take, each on tiny images of three sizes with zero, one and
    two rows after the bank (the style images' place), so TensorFlow relaxes each to any size and
    any number of rows: a mix and per-pixel weights from masks, each with the model's own
    brushwork, none and another amount (when it lays tiles), and strength (the photo's own row,
    through the encoder). Without it the first use of a control on a photo spends 0.5-1.5 s
    tracing (measured on 2 cores: ``scripts/bench_app.py``)."""
    n = generator.num_styles
    bank = generator.bank.table.numpy()
    tiles = None if generator.textures is None else generator.textures.numpy()
    own = generator.config.texture
    # A model that lays no tiles by default turns them on in its ``tiles_on_copy``, warmed on its
    # own; brushwork 0 is its plain path.
    amounts = [None] if tiles is None or own == 0 else [None, 0.0, 0.5 * own]
    for extra, (h, w) in enumerate(WARM_UP_SIZES):
        image = np.random.default_rng(h).random((h, w, 3), dtype=np.float32)
        rows = {}
        if extra:
            rows = {"style_rows": np.repeat(bank[:1], extra, axis=0),
                    "style_textures": None if tiles is None else np.repeat(tiles[:1], extra, axis=0)}
        k = n + extra
        mix = np.full(k, 1.0 / k, np.float32)
        mask = np.zeros((h, w), np.float32)
        mask[:, : w // 2] = 1.0
        region = {"masks": [mask, 1.0 - mask], "order": [0, k - 1], "feather": 0.0} if k > 1 else {}
        stylize_image(generator, image, np.full(n, 1.0 / n, np.float32))  # the plain path: the bank alone
        options = []
        for amount in amounts:
            settings = None if amount is None else GeneratorSettings(texture=amount)
            options += [StylizeOptions(settings=settings, **rows),
                        StylizeOptions(settings=settings, **rows, **region)]
        if encoder is not None:
            options += [StylizeOptions(strength=0.5, encoder=encoder, **rows),
                        StylizeOptions(strength=0.5, encoder=encoder, **rows, **region)]
        for o in options:
            stylize_image(generator, image, mix, o)


def stylize_preview(generator: StyleFusionGenerator, job: Job) -> np.ndarray:
    """The job on the photo's preview copy (longer side 512 px)."""
    return stylize_image(generator, job.photo.preview, job.weights, job.options)


def stylize_full(generator: StyleFusionGenerator, job: Job) -> np.ndarray:
    """The job on the full-size photo, as uint8 ``[H, W, 3]``. ``stylize_image`` tiles large
    photos, reading the uint8 photo a tile at a time and converting the picture to uint8 a band
    of rows at a time: a 16 MP photo and its picture are never held as float (192 MB each)."""
    return stylize_image(generator, job.photo.full, job.weights, job.options, uint8=True)


def png_bytes(image: np.ndarray, fast: bool = False) -> bytes:
    """PNG bytes of a float ``[H, W, 3]`` image (uint8 is taken as it is). zlib level 3, not
    Pillow's 6: a 4 MP render encodes in 0.4 s instead of 1.6 s for a file 13 % larger; ``fast``
    (level 1, previews) is quicker still (16 ms at 512², a fifth of level 6)."""
    buf = io.BytesIO()
    Image.fromarray(to_uint8(image)).save(buf, format="PNG", compress_level=1 if fast else 3)
    return buf.getvalue()

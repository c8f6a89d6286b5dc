"""Inference: stylize arrays and files with a trained generator."""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from ..data.images import BadFiles, load_image, save_image, to_uint8, validate_image_array
from ..errors import ConfigError, ImageError
from ..models.generator import MIN_SIZE, StyleFusionGenerator
from .fusion import StyleMix, StylizeOptions, normalize_weights, stylize_fused
from .tiling import TileConfig, image_region, resolve_tiling, stylize_tiled

log = logging.getLogger(__name__)


def stylize_image(generator: StyleFusionGenerator, image: np.ndarray, weights: np.ndarray,
                  options: StylizeOptions | None = None, *,
                  tile_size: int | TileConfig | None = None, uint8: bool = False,
                  origin: tuple[int, int] | None = None) -> np.ndarray:
    """Stylize one ``[H, W, 3]`` image (float in [0, 1] or uint8) with weights ``[N]`` (one mix)
    or ``[H, W, N]`` (a mix per pixel). Returns float32 ``[H, W, 3]`` in [0, 1], or with
    ``uint8`` the same picture as uint8 (``to_uint8`` of it).

    ``options`` adds the fusion controls (strength, region masks, colour preservation, rows
    predicted from style images: then weights have N + M entries); see ``StylizeOptions``.
    Large images are stylized in seam-free tiles (``tiling``): ``tile_size`` None tiles
    automatically above 2048² pixels, 0 never tiles, N tiles when a side exceeds N; a
    TileConfig gives full control (e.g. exact statistics). Fusion controls are tiled too.
    Tiled, a uint8 image is read as float a tile at a time and a ``uint8`` result is converted a
    band of rows at a time, so neither is ever held in full as float (at 16 MP, 192 MB each).

    ``origin`` ``(y, x)`` is where the image's top-left pixel sits in a larger scene: the brushwork
    tiles are laid at the scene's coordinates (video passes the camera's position, so on a pan the
    tiles move with the scene); None is (0, 0). Plain mixes only."""
    img = validate_image_array(image, "image", keep_uint8=True)  # uint8 stays so for the tiles
    if img.ndim != 3:
        raise ImageError("image", f"expected one [H, W, 3] image, got shape {list(img.shape)}")
    h, w = img.shape[:2]
    if min(h, w) < MIN_SIZE:
        raise ImageError("image", f"is {w}×{h} pixels; the generator needs at least {MIN_SIZE}×{MIN_SIZE}")
    tiling = resolve_tiling(tile_size, h, w)
    if tiling is None:
        img = image_region(img, 0, h, 0, w)  # stylized whole: as float
    finish = to_uint8 if uint8 else None
    if options is not None and not options.is_plain:
        if origin is not None:
            raise ConfigError("origin: the brushwork tiles move with a scene for plain mixes only")
        return stylize_fused(generator, img, weights, options, tiling, finish)
    weights = normalize_weights(weights, generator.num_styles)
    if weights.ndim == 3 and weights.shape[:2] != (h, w):
        raise ImageError("style weights", f"per-pixel weights are {weights.shape[1]}×{weights.shape[0]}, "
                                          f"the image is {w}×{h}")
    if tiling is not None:
        return stylize_tiled(generator, img, weights, tiling, finish, origin or (0, 0))
    image_t, weights_t = tf.convert_to_tensor(img[None]), tf.convert_to_tensor(weights[None])
    if origin is None:
        out = _run_graph(generator, image_t, weights_t)[0].numpy()
    else:
        out = _run_at(generator, image_t, weights_t, tf.constant(origin, tf.int32))[0].numpy()
    return out if finish is None else finish(out)


@tf.function(reduce_retracing=True)
def _run_graph(generator: StyleFusionGenerator, image: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    return generator((image, weights), training=False)


@tf.function(reduce_retracing=True, autograph=False)
def _run_at(generator: StyleFusionGenerator, image: tf.Tensor, weights: tf.Tensor, origin: tf.Tensor
            ) -> tf.Tensor:
    # The origin is a tensor: one trace for every position a video's camera takes (the first too).
    return generator.stylize_with_table(image, weights, generator.bank(None), origin=origin)


@dataclass
class StylizeReport:
    """Outputs written and inputs skipped by ``stylize_files``."""

    written: list[Path] = field(default_factory=list)
    bad: BadFiles = field(default_factory=BadFiles)


def mix_label(mix: StyleMix, row_names: Sequence[str], *, shares: bool = True, strength: float = 1.0) -> str:
    """What an output is named after: the rows of ``mix`` in the order the user named them
    (``row_names``: the bank's style names, then the style images' stems), each with its share in
    percent when there are several (``wave-70+udnie-30``; names alone when ``shares`` is False, as
    when masks place the styles), and ``-strength50`` below full strength. So the same photo in
    another style, blend or strength gets another file instead of overwriting the first."""
    several = len(mix.order) > 1
    parts = []
    for row in mix.order:
        name = _FILE_UNSAFE.sub("_", str(row_names[row])).strip("._") or f"style{row}"
        parts.append(f"{name}-{round(100 * float(mix.weights[row]))}" if shares and several else name)
    label = "+".join(parts)
    if strength < 1.0:
        label += f"-strength{round(100 * strength)}"
    return label


_FILE_UNSAFE = re.compile(r"[^\w.+-]+")
LABEL_SEPARATOR = "__"


def output_names(inputs: Sequence[Path], suffix: str = ".png", label: str | None = None) -> list[str]:
    """One output name per input, named after the input's stem (``photo.png``), or the stem and
    ``label`` (``photo__wave.png``; see ``mix_label``); clashes get ``_2``, ``_3``..."""
    seen: dict[str, int] = {}
    names = []
    tail = f"{LABEL_SEPARATOR}{label}{suffix}" if label else suffix
    for p in inputs:
        stem = Path(p).stem
        seen[stem] = seen.get(stem, 0) + 1
        names.append(f"{stem}{tail}" if seen[stem] == 1 else f"{stem}_{seen[stem]}{tail}")
    return names


def stylize_files(generator: StyleFusionGenerator, inputs: Sequence[str | Path], out_dir: str | Path,
                  weights: np.ndarray, *, max_size: int | None = None, progress: bool = True,
                  options: StylizeOptions | None = None,
                  tile_size: int | TileConfig | None = None, label: str | None = None) -> StylizeReport:
    """Stylize each input file into ``out_dir/<stem>.png``, or ``out_dir/<stem>__<label>.png``
    with a ``label`` (``mix_label``: the CLI names every output after its style). Bad inputs are
    skipped and reported; every good one is written (atomically)."""
    out_dir = Path(out_dir)
    if options is not None and options.settings is not None:
        # The settings once, into the generator, not into a copy for every image.
        generator = generator.with_settings(options.settings)
        options = dataclasses.replace(options, settings=None)
    if not isinstance(tile_size, TileConfig):
        TileConfig.for_tile_size(tile_size)  # a bad --tile-size fails before any work
    report = StylizeReport()
    paths = [Path(p) for p in inputs]
    bar = keras.utils.Progbar(len(paths), unit_name="image") if progress else None
    for i, (path, name) in enumerate(zip(paths, output_names(paths, label=label))):
        try:
            img = load_image(path, max_side=max_size, min_side=MIN_SIZE)
            out = stylize_image(generator, img, weights, options, tile_size=tile_size)
            del img  # a 16 MP input is 200 MB: free it before encoding the output
            save_image(out_dir / name, out)
            report.written.append(out_dir / name)
        except ImageError as e:
            report.bad.add(path, e.problem)
        if bar is not None:
            bar.update(i + 1)
    return report

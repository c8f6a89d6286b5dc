"""tf.data pipelines: content crops from folders or TFDS, style crops with style ids.

Decoding goes through ``images.load_image`` (Pillow) so every format and every kind of bad file
is handled in one place: a bad file is skipped, recorded in a ``BadFiles`` report, and never
stops training.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import tensorflow as tf

from ..errors import ConfigError, ImageError
from .images import BadFiles, list_images, load_image

log = logging.getLogger(__name__)

AUTOTUNE = tf.data.AUTOTUNE
TFDS_PREFIX = "tfds:"
CACHE_LIMIT = 5000  # above this many files, decoded images are not kept in memory
# Files far larger than the training resolution are decoded at reduced size (JPEG draft mode).
LOAD_OVERSCALE = 4


@dataclass
class StyleSource:
    """One style of the bank: its name and the image files that define it."""

    name: str
    paths: list[Path]


def resolve_styles(specs: Sequence[str]) -> list[StyleSource]:
    """Turn ``--style`` arguments into named sources: a folder is one style (named after the
    folder, all its images are that style), a file is one style named after its stem."""
    if not specs:
        raise ConfigError("at least one --style PATH is needed (an image or a folder of images)")
    sources: list[StyleSource] = []
    for spec in specs:
        p = Path(spec)
        if p.is_dir():
            sources.append(StyleSource(p.name, list_images(p)))
        elif p.is_file():
            sources.append(StyleSource(p.stem, [p]))
        else:
            raise ConfigError(f"--style {spec}: no such file or folder")
    names = [s.name for s in sources]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"two --style paths give the same style name {dupes}; rename one of them")
    return sources


def unit_hash(path: Path, root: Path | None, seed: int) -> float:
    """A number in [0, 1) fixed by the file's path relative to ``root`` and the seed."""
    rel = str(path.relative_to(root)) if root else str(path)
    digest = hashlib.sha1(f"{seed}:{rel}".encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


@dataclass
class Splits:
    """Content files of a run, split deterministically (see ``split_three``)."""

    train: list[Path]
    validation: list[Path]
    test: list[Path]


def split_three(paths: Sequence[Path], validation_fraction: float, test_fraction: float,
                root: Path | None = None, seed: int = 0) -> Splits:
    """Deterministic train/validation/test split by a hash of each file's path relative to
    ``root``: adding files never moves existing ones between splits. A file's hash ``u`` in
    [0, 1) puts it in validation when ``u < validation_fraction``, in test when
    ``u >= 1 - test_fraction``, else in train; so the validation set does not depend on
    ``test_fraction`` (runs made before test splits existed keep their validation files)."""
    if validation_fraction < 0 or test_fraction < 0 or validation_fraction + test_fraction >= 1:
        raise ConfigError("validation_fraction and test_fraction must be >= 0 and sum to less than 1, "
                          f"got {validation_fraction} and {test_fraction}")
    splits = Splits([], [], [])
    for p in paths:
        u = unit_hash(p, root, seed)
        if u < validation_fraction:
            splits.validation.append(p)
        elif u >= 1.0 - test_fraction:
            splits.test.append(p)
        else:
            splits.train.append(p)
    if not splits.train:
        raise ConfigError("validation_fraction and test_fraction leave no training images")
    return splits


def split_paths(paths: Sequence[Path], validation_fraction: float, root: Path | None = None,
                seed: int = 0) -> tuple[list[Path], list[Path]]:
    """Deterministic train/validation split (``split_three`` without a test set)."""
    if validation_fraction <= 0:
        return list(paths), []
    splits = split_three(paths, validation_fraction, 0.0, root, seed)
    return splits.train, splits.validation


def load_or_report(path: Path, bad: BadFiles, max_side: int | None, min_side: int = 1) -> np.ndarray | None:
    """``load_image`` that records a bad file in ``bad`` and returns None instead of raising."""
    try:
        return load_image(path, max_side=max_side, min_side=min_side)
    except ImageError as e:
        bad.add(path, e.problem)
        return None


def short_side_shape(height_width: tf.Tensor, size: int | float) -> tf.Tensor:
    """``[new_h, new_w]`` (int32) that ``resize_short_side`` gives an image of ``height_width``."""
    shape = tf.cast(height_width, tf.float32)
    scale = tf.cast(size, tf.float32) / tf.reduce_min(shape)
    return tf.cast(tf.math.ceil(shape * scale), tf.int32)


def resize_short_side(image: tf.Tensor, size: int | float) -> tf.Tensor:
    """Resize an image ``[H, W, C]`` or a batch ``[B, H, W, C]`` so the shorter side is ``size``
    (antialiased when shrinking)."""
    new = short_side_shape(tf.shape(image)[-3:-1], size)
    return tf.image.resize(image, new, method="bilinear", antialias=True)


def random_crop_flip(image: tf.Tensor, size: int, seed: int) -> tf.Tensor:
    crop = tf.image.random_crop(image, [size, size, 3], seed=seed)
    return tf.image.random_flip_left_right(crop, seed=seed + 1)


def _files_dataset(paths: Sequence[Path], short_side: int, bad: BadFiles) -> tf.data.Dataset:
    """Decoded images (shorter side = ``short_side``) of ``paths``; bad files dropped."""
    max_side = short_side * LOAD_OVERSCALE

    def load(path_bytes: bytes) -> tuple[np.ndarray, bool]:
        path = Path(path_bytes.decode("utf-8", "surrogateescape"))
        img = load_or_report(path, bad, max_side)
        if img is None:
            return np.zeros([1, 1, 3], np.float32), False
        return img, True

    def load_tf(path: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        img, ok = tf.numpy_function(load, [path], [tf.float32, tf.bool], stateful=False)
        img.set_shape([None, None, 3])
        ok.set_shape([])
        return resize_short_side(img, short_side), ok

    names = [str(p).encode("utf-8", "surrogateescape") for p in paths]
    ds = tf.data.Dataset.from_tensor_slices(names)
    ds = ds.map(load_tf, num_parallel_calls=AUTOTUNE, deterministic=True)
    ds = ds.filter(lambda image, loaded: loaded)
    return ds.map(lambda img, ok: img)


def probe_readable(paths: Sequence[Path], bad: BadFiles, what: str, max_side: int) -> None:
    """Fail fast, before the pipeline loops forever on nothing, if no file at all can be read."""
    for p in paths:
        if load_or_report(p, bad, max_side) is not None:
            return
    raise ImageError(what, f"none of its {len(paths)} image files could be read:\n{bad.summary()}")


def parse_tfds_spec(spec: str) -> tuple[str, str]:
    """``tfds:NAME[:SPLIT]`` → (NAME, SPLIT), split defaulting to ``train``."""
    body = spec[len(TFDS_PREFIX):]
    name, _, split = body.partition(":")
    if not name:
        raise ConfigError(f"{spec!r}: expected tfds:NAME[:SPLIT], e.g. tfds:cycle_gan/monet2photo:trainB")
    return name, split or "train"


def tfds_images(spec: str, shuffle_files: bool = True, data_dir: str | None = None) -> tf.data.Dataset:
    """The image feature of a TFDS dataset as float32 [0, 1] tensors."""
    import tensorflow_datasets as tfds

    name, split = parse_tfds_spec(spec)
    try:
        ds, info = tfds.load(name, split=split, with_info=True, shuffle_files=shuffle_files,
                             data_dir=data_dir)
    except Exception as e:  # TFDS raises many types (not found, download, split errors)
        raise ConfigError(
            f"{spec}: could not load the TFDS dataset ({type(e).__name__}: {str(e).splitlines()[0]}); "
            "prepare it once with internet access (`tfds build NAME`) or use an image folder."
        ) from e
    keys = [k for k, f in info.features.items() if isinstance(f, tfds.features.Image)]
    if not keys:
        raise ConfigError(f"{spec}: dataset has no image feature")
    key = keys[0]

    def to_rgb_float(example: dict) -> tf.Tensor:
        image = tf.image.convert_image_dtype(example[key], tf.float32)
        if image.shape[-1] == 1:
            image = tf.image.grayscale_to_rgb(image)
        return image[..., :3]

    return ds.map(to_rgb_float, num_parallel_calls=AUTOTUNE)


def content_images(spec: str, short_side: int, bad: BadFiles, *, paths: Sequence[Path] | None = None,
                   cache: bool = True) -> tf.data.Dataset:
    """Content images (shorter side = ``short_side``) from a folder, explicit paths, or TFDS."""
    if spec.startswith(TFDS_PREFIX):
        return tfds_images(spec).map(lambda im: resize_short_side(im, short_side),
                                     num_parallel_calls=AUTOTUNE)
    if paths is None:
        paths = list_images(spec)
    probe_readable(paths, bad, spec, short_side * LOAD_OVERSCALE)
    ds = _files_dataset(paths, short_side, bad)
    return ds.cache() if cache and len(paths) <= CACHE_LIMIT else ds


def content_crops(spec: str, image_size: int, scale: float, bad: BadFiles, *, seed: int = 0,
                  paths: Sequence[Path] | None = None, cache: bool = True,
                  shuffle_buffer: int = 256) -> tf.data.Dataset:
    """Endless, shuffled, randomly cropped and flipped ``image_size`` content crops."""
    ds = content_images(spec, int(round(image_size * scale)), bad, paths=paths, cache=cache)
    ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True).repeat()
    return ds.map(lambda im: random_crop_flip(im, image_size, seed), num_parallel_calls=AUTOTUNE)


def load_style_images(sources: Sequence[StyleSource], style_size: int, bad: BadFiles) -> list[list[np.ndarray]]:
    """Every style's images, shorter side = ``style_size``; bad files reported and dropped.

    Raises ImageError when a style is left with no readable image (it could not be learned).
    """
    out = []
    for src in sources:
        imgs = []
        for p in src.paths:
            img = load_or_report(p, bad, style_size * LOAD_OVERSCALE)
            if img is not None:
                imgs.append(resize_short_side(img, style_size).numpy())
        if not imgs:
            raise ImageError(src.paths[0] if len(src.paths) == 1 else src.name,
                             f"style {src.name!r} has no readable image")
        out.append(imgs)
    return out


def style_crops(style_images: Sequence[Sequence[np.ndarray]], image_size: int, seed: int = 0) -> tf.data.Dataset:
    """Endless ``(crop, style_id)`` pairs, styles drawn uniformly so each is trained equally."""
    per_style = []
    for sid, imgs in enumerate(style_images):
        ds = tf.data.Dataset.from_generator(
            lambda imgs=imgs: iter(imgs),
            output_signature=tf.TensorSpec([None, None, 3], tf.float32)).cache().repeat()
        ds = ds.map(lambda im: random_crop_flip(im, image_size, seed + 7), num_parallel_calls=AUTOTUNE)
        per_style.append(ds.map(lambda im, sid=sid: (im, tf.constant(sid, tf.int32))))
    if len(per_style) == 1:
        return per_style[0]
    return tf.data.Dataset.sample_from_datasets(per_style, seed=seed, rerandomize_each_iteration=True)


def training_dataset(content: tf.data.Dataset, styles: tf.data.Dataset, batch_size: int) -> tf.data.Dataset:
    """Batches of ``(content, style_crops, style_ids)`` for ``StyleFusionGAN.fit``."""
    ds = tf.data.Dataset.zip((content, styles)).map(lambda c, s: (c, s[0], s[1]))
    return ds.batch(batch_size, drop_remainder=True).prefetch(AUTOTUNE)


def center_crops(images: Iterable[np.ndarray], size: int) -> np.ndarray:
    """Deterministic ``size``² centre crops (after resizing the short side), for validation/samples."""
    out = []
    for img in images:
        im = resize_short_side(tf.convert_to_tensor(img, tf.float32), size)
        out.append(tf.image.resize_with_crop_or_pad(im, size, size).numpy())
    return np.stack(out)

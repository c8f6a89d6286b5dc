"""The teacher's pictures: each painting's example-based synthesis of some training photos.

A student generator learns strokes from them (the paired terms and the conditional
discriminator of ``training/gan.py``). They cost seconds each, so they are made once and cached
in the run folder::

    teacher/manifest.json              picture file -> sha256 of its bytes
    teacher/<style>/<photo>-<key>.png  <key>: a hash of the photo's and the painting's bytes and
                                       of every setting that shapes the picture

A picture whose key matches is reused; one missing from the manifest, with other bytes or that
does not decode is named in a warning and made again. The same photos, paintings and settings
give the same pictures (the synthesis is seeded).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import tensorflow as tf
from PIL import Image

from ..config import DataConfig, SynthesisConfig
from ..data.images import BadFiles, encode_image, to_uint8
from ..data.pipelines import StyleSource, load_or_report, unit_hash
from ..errors import ImageError
from ..fileutil import atomic_write_bytes, atomic_write_text
from ..synthesis.files import PAINTING_READ_SIDE
from ..synthesis.synthesize import synthesize

log = logging.getLogger(__name__)

TEACHER_DIR = "teacher"
MANIFEST_FILE = "manifest.json"


@dataclass
class TeacherSet:
    """Photos and their teacher pictures, uint8: ``photos[p]`` ``[H_p, W_p, 3]`` and
    ``pictures[s][p]`` of the same size (style ``s``'s picture of photo ``p``)."""

    photos: list[np.ndarray]
    pictures: list[list[np.ndarray]]
    photo_paths: list[Path]
    made: int = 0      # pictures synthesized by this call
    reused: int = 0    # pictures read from the cache


def choose_photos(paths: Sequence[Path], count: int, seed: int = 0) -> list[Path]:
    """``count`` of ``paths``, chosen by a hash of each name and ``seed`` (stable when files are added)."""
    return sorted(paths, key=lambda p: unit_hash(p, p.parent, seed))[:count]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _teacher_photo(path: Path, size: int, min_side: int, bad: BadFiles) -> np.ndarray | None:
    """The photo at longer side ``size`` (never enlarged), uint8; None (reported) when it is
    unreadable or its shorter side would be under ``min_side`` (no training crop fits)."""
    image = load_or_report(path, bad, max_side=size)
    if image is None:
        return None
    if min(image.shape[:2]) < min_side:
        bad.add(path, f"too small for the teacher: {image.shape[1]}x{image.shape[0]} px at most, "
                      f"the training crops need {min_side} px on the shorter side")
        return None
    return to_uint8(image)


def _painting(path: Path, bad: BadFiles) -> np.ndarray | None:
    return load_or_report(path, bad, max_side=PAINTING_READ_SIDE, min_side=16)


class TeacherCache:
    """The run folder's ``teacher/``: pictures by key, checked against the manifest."""

    def __init__(self, run_dir: Path):
        self.root = Path(run_dir) / TEACHER_DIR
        self.manifest_path = self.root / MANIFEST_FILE
        self.manifest: dict[str, str] = {}
        if self.manifest_path.is_file():
            try:
                self.manifest = dict(json.loads(self.manifest_path.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError) as e:
                log.warning("teacher cache %s is damaged (%s): every picture is checked again and "
                            "remade where needed", self.manifest_path, e)

    def read(self, name: str) -> np.ndarray | None:
        """The cached picture ``name`` (relative to ``teacher/``), or None when it is absent or damaged
        (a damaged one is named in a warning)."""
        path = self.root / name
        if not path.is_file():
            return None
        data = path.read_bytes()
        problem = None
        if self.manifest.get(name) != hashlib.sha256(data).hexdigest():
            problem = "its bytes differ from the manifest's record" if name in self.manifest else "not in the manifest"
        else:
            try:
                with Image.open(io.BytesIO(data)) as im:
                    return np.asarray(im.convert("RGB"), np.uint8)
            except (OSError, ValueError) as e:
                problem = f"does not decode ({e})"
        log.warning("teacher picture %s is damaged (%s); making it again", path, problem)
        return None

    def write(self, name: str, picture: np.ndarray) -> None:
        data = encode_image(picture, "PNG")
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
        self.manifest[name] = hashlib.sha256(data).hexdigest()
        atomic_write_text(self.manifest_path, json.dumps(self.manifest, indent=1, sort_keys=True))


def picture_key(photo_digest: str, painting_digest: str, size: int, config: SynthesisConfig) -> str:
    settings = json.dumps({"size": size, "synthesis": dataclasses.asdict(config)}, sort_keys=True)
    return hashlib.sha256(f"{photo_digest}:{painting_digest}:{settings}".encode()).hexdigest()[:16]


def teacher_set(run_dir: Path, photo_paths: Sequence[Path], sources: Sequence[StyleSource],
                dc: DataConfig, bad: BadFiles, config: SynthesisConfig | None = None) -> TeacherSet:
    """Every style's teacher picture of every usable photo in ``photo_paths`` (read from the run's
    cache, else synthesized and cached). A style of several images takes them in turn, photo
    by photo. Unreadable photos and paintings are reported in ``bad`` and left out; a style with
    no readable painting raises ImageError."""
    config = config or SynthesisConfig()
    cache = TeacherCache(run_dir)
    photos, used = [], []
    for path in photo_paths:
        photo = _teacher_photo(path, dc.teacher_size, dc.image_size, bad)
        if photo is not None:
            photos.append(photo)
            used.append(path)
    if not photos:
        raise ImageError(dc.content, f"none of the {len(photo_paths)} photos chosen for the teacher is usable:\n"
                                     f"{bad.summary()}")
    photo_digests = [_digest(p) for p in used]
    result = TeacherSet(photos, [], used)
    total, start = len(sources) * len(photos), time.time()
    for source in sources:
        paintings = [(p, _painting(p, bad)) for p in source.paths]
        paintings = [(p, im) for p, im in paintings if im is not None]
        if not paintings:
            raise ImageError(source.paths[0] if len(source.paths) == 1 else source.name,
                             f"style {source.name!r} has no readable painting for the teacher")
        digests = [_digest(p) for p, _ in paintings]
        row = []
        for i, (path, photo) in enumerate(zip(used, photos)):
            painting = paintings[i % len(paintings)][1]
            key = picture_key(photo_digests[i], digests[i % len(paintings)], dc.teacher_size, config)
            name = f"{source.name}/{path.stem}-{key}.png"
            picture = cache.read(name)
            if picture is not None and picture.shape != photo.shape:
                log.warning("teacher picture %s is damaged (size %s, the photo's is %s); making it again",
                            cache.root / name, picture.shape[:2], photo.shape[:2])
                picture = None
            if picture is None:
                t0 = time.time()
                picture = to_uint8(synthesize(photo.astype(np.float32) / 255.0, painting, config))
                cache.write(name, picture)
                result.made += 1
                log.info("teacher picture %d/%d: %s in %.1f s", result.made + result.reused, total,
                         name, time.time() - t0)
            else:
                result.reused += 1
            row.append(picture)
        result.pictures.append(row)
    log.info("teacher pictures: %d made, %d reused from %s, in %.0f s", result.made, result.reused,
             cache.root, time.time() - start)
    return result


def paired_crops(teacher: TeacherSet, size: int, seed: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
    """Endless ``(photo crop, teacher crop, style id)``: a style and a photo drawn uniformly, the
    same random ``size``² window (and mirror) of both, as float32 in [0, 1]."""
    rng = np.random.default_rng(seed)
    styles, count = len(teacher.pictures), len(teacher.photos)
    while True:
        s, p = int(rng.integers(styles)), int(rng.integers(count))
        photo, picture = teacher.photos[p], teacher.pictures[s][p]
        y = int(rng.integers(photo.shape[0] - size + 1))
        x = int(rng.integers(photo.shape[1] - size + 1))
        pair = [a[y:y + size, x:x + size] for a in (photo, picture)]
        if rng.random() < 0.5:
            pair = [a[:, ::-1] for a in pair]
        yield pair[0].astype(np.float32) / 255.0, pair[1].astype(np.float32) / 255.0, s


def teacher_dataset(teacher: TeacherSet, size: int, batch_size: int, seed: int = 0,
                    first_style: int = 0) -> tf.data.Dataset:
    """Batches of ``(content, teacher picture, style_ids)`` for a paired ``StyleFusionGAN``;
    ``first_style`` offsets the ids (new rows after a base model's)."""
    spec = tf.TensorSpec([size, size, 3], tf.float32)
    ds = tf.data.Dataset.from_generator(
        lambda: paired_crops(teacher, size, seed),
        output_signature=(spec, spec, tf.TensorSpec([], tf.int32)))
    if first_style:
        ds = ds.map(lambda c, t, s: (c, t, s + first_style))
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


"""Example-based stylization over many photo files: one painting, bad files skipped and named."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..config import SynthesisConfig
from ..data.images import IMAGE_EXTENSIONS, BadFiles, load_image, save_image
from ..data.samples import samples_dir
from ..errors import ConfigError, ImageError
from .synthesize import synthesize

log = logging.getLogger(__name__)

# Photos are repainted at this longer side unless asked otherwise: the search grows with the
# square of the size, and strokes are sized relative to the picture.
DEFAULT_MAX_SIZE = 512
# A painting larger than this is read downscaled (synthesis rescales it to the photo anyway).
PAINTING_READ_SIDE = 2048


@dataclass
class SynthesisReport:
    """Outputs written and inputs skipped by ``synthesize_files``."""

    written: list[Path] = field(default_factory=list)
    bad: BadFiles = field(default_factory=BadFiles)


def bundled_painting(name: str) -> Path:
    """The painting shipped with the package under ``name`` (the ready-made pack's styles)."""
    folder = samples_dir() / "style"
    for ext in IMAGE_EXTENSIONS:
        if (folder / f"{name}{ext}").is_file():
            return folder / f"{name}{ext}"
    known = sorted(p.stem for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    raise ConfigError(f"--style {name!r}: no bundled painting of that name; choose one of "
                      f"{', '.join(known)}, or give any painting with --style-image")


def load_painting(path: str | Path) -> np.ndarray:
    """The painting as float32 ``[H, W, 3]`` (ImageError naming the file if it cannot be used)."""
    return load_image(path, max_side=PAINTING_READ_SIDE, min_side=16)


def synthesize_files(inputs: Sequence[str | Path], painting: str | Path, out_dir: str | Path, *,
                     config: SynthesisConfig | None = None, max_size: int | None = DEFAULT_MAX_SIZE,
                     suffix: str | None = None, progress: bool = True) -> SynthesisReport:
    """Repaint each photo in ``inputs`` from ``painting`` into ``out_dir/<photo>__<suffix>.png``.

    ``suffix`` defaults to the painting's file stem, so several paintings can share one folder.
    A bad painting raises ImageError at once; bad photos are skipped, reported, and the rest are
    written (atomically).
    """
    config = config or SynthesisConfig()
    style = load_painting(painting)
    suffix = suffix or Path(painting).stem
    out_dir = Path(out_dir)
    report = SynthesisReport()
    paths = [Path(p) for p in inputs]
    show = progress and sys.stderr.isatty()
    for i, path in enumerate(paths):
        try:
            photo = load_image(path, max_side=max_size, min_side=16)
            step = None
            if show:
                def step(done: int, total: int, i: int = i, name: str = path.name) -> None:
                    print(f"\r[{i + 1}/{len(paths)}] {name}: {done}/{total}", end="", file=sys.stderr, flush=True)
            picture = synthesize(photo, style, config, progress=step)
            target = out_dir / f"{path.stem}__{suffix}.png"
            save_image(target, picture)
            report.written.append(target)
            if show:
                print(file=sys.stderr)
            elif progress:
                log.info("repainted %s (%d/%d)", path, i + 1, len(paths))
        except ImageError as e:
            report.bad.add(path, e.problem)
    return report

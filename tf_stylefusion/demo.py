"""``stylefusion demo``: the ready-made style pack on the bundled photos, in seconds, offline.

The contact sheet shows each bundled photo under each of the pack's styles and a blend.
``--train`` instead trains a small 4-style model on the bundled samples first (random
He-initialised VGG19, no download; 128 px crops, a few hundred steps: minutes on two CPU cores),
to show what training your own styles looks like.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import DataConfig, LossConfig, RunConfig, TrainConfig
from .data.images import list_images, load_image, save_image
from .data.pipelines import center_crops
from .data.samples import samples_dir
from .inference.stylize import stylize_image
from .model_io import load_generator
from .pretrained import resolve_model
from .training.callbacks import sample_grid
from .training.run import train

# Chosen by looking at the contact sheets of three candidate sets. Sets picked for the largest
# Gram distances came out worse: a very dark painting (en_campo_gris) dominates the per-layer
# style-loss normalisation and the other styles then train into similar looks.
DEMO_STYLES = ("wave.jpg", "the_scream.jpg", "woman_with_hat_matisse.jpg",
               "the_shipwreck_of_the_minotaur.jpg")
DEMO_STEPS = 300
SHEET_SIZE = 256


@dataclass
class DemoResult:
    run_dir: Path
    contact_sheet: Path
    outputs: list[Path]
    seconds: float


def demo_config(steps: int = DEMO_STEPS) -> RunConfig:
    samples = samples_dir()
    return RunConfig(
        losses=LossConfig(loss_network="random"),
        data=DataConfig(content=str(samples / "content"),
                        styles=[str(samples / "style" / s) for s in DEMO_STYLES],
                        # No teacher: its pictures would take minutes of a demo of a few.
                        image_size=128, batch_size=4, style_size=256, teacher=""),
        training=TrainConfig(steps=steps, checkpoint_every=max(1, min(100, steps)), tensorboard=False),
    )


def run_demo(out_dir: str | Path, steps: int | None = None, verbose: int | str = "auto",
             train_first: bool = False, model: str | Path | None = None) -> DemoResult:
    """Stylize every bundled photo with every style and write ``contact_sheet.png``: with the
    ready-made pack (or ``model``), or with a model trained here first (``train_first``)."""
    start = time.time()
    out_dir = Path(out_dir)
    if train_first:
        result = train(demo_config(steps or DEMO_STEPS), out_dir / "run", verbose=verbose)
        generator, run_dir = result.generator, result.run_dir
    else:
        run_dir = resolve_model(model)
        generator = load_generator(run_dir)
    photos = list_images(samples_dir() / "content")
    outputs = []
    n = generator.num_styles
    for photo in photos:
        image = load_image(photo, max_side=512)
        for i, name in enumerate(generator.style_names):
            out = out_dir / "stylized" / f"{photo.stem}_{name}.png"
            save_image(out, stylize_image(generator, image, np.eye(n, dtype=np.float32)[i]))
            outputs.append(out)
    content = center_crops([load_image(p, max_side=SHEET_SIZE * 2) for p in photos], SHEET_SIZE)
    sheet, _ = sample_grid(generator, content)
    sheet_path = out_dir / "contact_sheet.png"
    save_image(sheet_path, sheet)
    return DemoResult(run_dir, sheet_path, outputs, time.time() - start)

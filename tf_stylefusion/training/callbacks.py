"""Callbacks for StyleFusionGAN.fit: checkpoints with resume, sample grids, TensorBoard images."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ..data.images import contact_sheet, save_image
from ..fileutil import atomic_path
from ..model_io import GENERATOR_FILE, SAMPLES_DIR
from ..models.generator import StyleFusionGenerator

log = logging.getLogger(__name__)



def save_generator(generator: StyleFusionGenerator, path: str | Path) -> None:
    """Save a generator as ``.keras`` atomically (temp file in the same folder, then rename)."""
    with atomic_path(path) as tmp:
        generator.save(tmp)


class CheckpointEvery(keras.callbacks.Callback):
    """Every ``every`` optimizer steps: a TF checkpoint of G, D and both optimizers (for resume)
    and a fresh ``generator.keras`` in the run folder (usable while training goes on)."""

    def __init__(self, manager: tf.train.CheckpointManager, step: tf.Variable, run_dir: Path,
                 every: int, write_generator: bool = True):
        super().__init__()
        self.manager, self.step, self.run_dir, self.every = manager, step, Path(run_dir), int(every)
        self.write_generator = write_generator
        self.last_saved = -1

    def _save(self) -> None:
        step = int(self.step.numpy())
        if step == self.last_saved:
            return
        self.manager.save(checkpoint_number=step)
        if self.write_generator:
            save_generator(self.model.generator, self.run_dir / GENERATOR_FILE)
        self.last_saved = step

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if int(self.step.numpy()) % self.every == 0:
            self._save()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._save()


def sample_grid(generator: StyleFusionGenerator, content: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Each content image (rows) under each style and, with ≥ 2 styles, a 50/50 blend of the
    first two (columns). Returns the uint8 sheet and the column labels."""
    n = generator.num_styles
    columns = [(name, np.eye(n, dtype=np.float32)[i]) for i, name in enumerate(generator.style_names)]
    if n >= 2:
        blend = np.zeros(n, np.float32)
        blend[:2] = 0.5
        columns.append((f"{generator.style_names[0]}+{generator.style_names[1]}", blend))
    outs = []
    for _, w in columns:
        weights = np.repeat(w[None], len(content), axis=0)
        outs.append(generator((content, weights), training=False).numpy())
    rows = [[content[i]] + [o[i] for o in outs] for i in range(len(content))]
    labels = ["content"] + [name for name, _ in columns]
    return contact_sheet(rows, col_labels=labels), labels


class SampleImages(keras.callbacks.Callback):
    """Every ``every`` steps (and at the end) writes ``samples/step_XXXXXX.png`` and a
    TensorBoard image of the same grid."""

    def __init__(self, content: np.ndarray, step: tf.Variable, run_dir: Path, every: int,
                 tensorboard_dir: Path | None = None):
        super().__init__()
        self.content, self.step, self.every = content, step, int(every)
        self.out_dir = Path(run_dir) / SAMPLES_DIR
        self.writer = (tf.summary.create_file_writer(str(tensorboard_dir / "samples"))
                       if tensorboard_dir else None)
        self.last = -1

    def _write(self) -> None:
        step = int(self.step.numpy())
        if step == self.last:
            return
        sheet, _ = sample_grid(self.model.generator, self.content)
        save_image(self.out_dir / f"step_{step:06d}.png", sheet)
        if self.writer is not None:
            with self.writer.as_default():
                tf.summary.image("samples", sheet[None], step=step)
            self.writer.flush()
        self.last = step

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.every and int(self.step.numpy()) % self.every == 0:
            self._write()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._write()

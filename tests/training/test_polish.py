"""`train --polish-steps`: the trained generator is fine-tuned under activation noise and saved as
the run's generator; a base model cannot be polished (its old styles must stay identical)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tf_stylefusion.cli import main
from tf_stylefusion.config import TrainConfig
from tf_stylefusion.errors import ConfigError
from tf_stylefusion.model_io import load_generator
from tf_stylefusion.training import run as run_module

from ..test_cli import train_args


def test_polish_steps_fine_tune_and_save_the_generator(image_folders, tmp_path: Path, monkeypatch) -> None:
    calls = []
    original = run_module.harden_for_integer

    def spy(generator, photos, config, **kwargs):
        student, history = original(generator, photos, config, **kwargs)
        calls.append((generator, student, config, len(photos)))
        return student, history

    monkeypatch.setattr(run_module, "harden_for_integer", spy)
    run = tmp_path / "run"
    assert main(train_args(image_folders, run, steps=2) + ["--polish-steps", "3"]) == 0
    (trained, student, config, photos), = calls
    assert config.steps == 3 and config.block_gains == {"enc1": 3.0, "enc2": 3.0} and photos > 0
    saved = load_generator(run)
    for a, b, c in zip(saved.weights, student.weights, trained.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert any(not np.array_equal(b.numpy(), c.numpy()) for b, c in zip(student.weights, trained.weights))

    calls.clear()
    assert main(train_args(image_folders, tmp_path / "plain", steps=2)) == 0
    assert not calls


def test_polish_steps_are_checked() -> None:
    with pytest.raises(ConfigError, match="polish_steps must be >= 0"):
        TrainConfig(polish_steps=-1)
    with pytest.raises(ConfigError, match="cannot extend a base model"):
        TrainConfig(polish_steps=10, base_model="runs/old")


def test_train_holds_the_colour_norm_at_the_paintings_colours(image_folders, tmp_path: Path, monkeypatch) -> None:
    seen = []
    original = run_module.init_color_norm

    def spy(gan, style_images, first_row, how):
        original(gan, style_images, first_row, how)
        seen.append((how, gan.generator.bank.table.numpy().copy(), gan.generator.color_norm.offset))

    monkeypatch.setattr(run_module, "init_color_norm", spy)
    run = tmp_path / "run"
    assert main(train_args(image_folders, run, steps=3) + ["--loss-network", "random",
                                                           "--color-norm-init", "painting_fixed"]) == 0
    (how, table, offset), = seen
    assert how == "painting_fixed"
    saved = load_generator(run).bank.table.numpy()
    np.testing.assert_array_equal(saved[:, offset:offset + 6], table[:, offset:offset + 6])
    assert not np.allclose(saved, table)  # the rest of the bank trained

"""The CLI end to end at 32 px: train → styles → stylize, plus user-error handling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tf_stylefusion.cli import main


def train_args(folders, out: Path, steps: int = 4) -> list[str]:
    return ["train", "--content", str(folders["content"]), "--style", str(folders["stripes"]),
            "--style", str(folders["checker"]), "--out", str(out), "--steps", str(steps),
            "--image-size", "32", "--batch-size", "2", "--loss-network", "random",
            "--checkpoint-every", "2", "--filters", "8", "8", "16", "--res-blocks", "1"]


@pytest.mark.slow
def test_train_then_stylize_end_to_end(image_folders, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    assert main(train_args(image_folders, run)) == 0
    for name in ("generator.keras", "config.json", "splits.json", "checkpoints"):
        assert (run / name).exists(), name
    assert list((run / "samples").glob("step_*.png"))
    assert list((run / "tensorboard").rglob("events.out.tfevents.*"))
    assert "trained 4 steps" in capsys.readouterr().out

    assert main(["styles", str(run)]) == 0
    assert capsys.readouterr().out.split() == ["0", "stripes", "1", "checker"]

    inputs = sorted(image_folders["content"].glob("*.png"))[:2]
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    out = tmp_path / "out"
    code = main(["stylize", str(run), *map(str, inputs), str(bad), "--style", "stripes:0.5,checker:0.5",
                 "--out", str(out)])
    assert code == 1  # a bad input is reported, the good ones are still written
    captured = capsys.readouterr()
    assert "bad.jpg" in captured.err and "wrote 2 image(s)" in captured.out
    for p in inputs:
        img = np.asarray(Image.open(out / f"{p.stem}.png"))
        assert img.shape == (72, 72, 3)

    # the same command again resumes and finishes at the requested step count
    assert main(train_args(image_folders, run, steps=6)) == 0
    assert "resumed from step 4" in capsys.readouterr().out
    # another generator layout is another model: refused in one line, the run left as it was
    assert main(train_args(image_folders, run, steps=8) + ["--full-resolution"]) == 2
    assert "new --out folder" in capsys.readouterr().err


def test_user_errors_are_one_line_not_tracebacks(tmp_path: Path, capsys) -> None:
    assert main(["styles", str(tmp_path / "missing_run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err and "missing_run" in err


def test_train_flags_default_to_the_config_dataclasses() -> None:
    """`stylefusion train` with no optional flag trains exactly `RunConfig()` (one default
    everywhere, ImageNet VGG19 included); `--loss-network random` selects the offline recipe
    exactly as `LossConfig(loss_network="random")` does; a flag given wins."""
    from tf_stylefusion.cli import build_parser, train_config_from_args
    from tf_stylefusion.config import RECIPES, DataConfig, LossConfig, RunConfig

    base = ["train", "--content", "photos", "--style", "a.jpg", "--out", "run"]
    data = DataConfig(content="photos", styles=["a.jpg"])
    got = train_config_from_args(build_parser().parse_args(base))
    assert got.to_dict() == RunConfig(data=data).to_dict()
    assert got.losses.loss_network == "imagenet" and got.losses.inception_network == "imagenet"

    got = train_config_from_args(build_parser().parse_args(base + ["--loss-network", "random"]))
    assert got.to_dict() == RunConfig(losses=LossConfig(loss_network="random"), data=data).to_dict()
    for name, value in RECIPES["random"].items():
        assert getattr(got.losses, name) == value, name

    got = train_config_from_args(build_parser().parse_args(
        base + ["--loss-network", "random", "--style-weight", "7", "--filters", "4", "5", "6", "--steps", "9"]))
    assert got.losses.style_weight == 7 and got.generator.filters == (4, 5, 6) and got.training.steps == 9
    got = train_config_from_args(build_parser().parse_args(base + ["--image-size", "96"]))
    assert got.data.style_size == 192 == DataConfig(image_size=96).style_size
    assert got.losses.content_weight == RECIPES["random"]["content_weight"]


def test_a_config_saved_before_style_statistics_keeps_plain_grams() -> None:
    from tf_stylefusion.config import RunConfig

    old = RunConfig().to_dict()
    del old["losses"]["style_statistic"]
    old["losses"]["loss_network"] = "random"
    assert RunConfig.from_dict(old).losses.style_statistic == "gram"

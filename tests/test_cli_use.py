"""A new user's first commands: only the command's own output (no TensorFlow start-up logging),
progress bars only on a terminal, every default in --help, a second style never overwrites the
first one's picture, and a `train` that fails at its start leaves no half-made run folder."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tf_stylefusion import cli
from tf_stylefusion.cli import VERBOSE_ENV, build_parser, main, native_stderr_silenced

from .conftest import texture, write

ROOT = Path(__file__).resolve().parents[1]
PACK_CONFIG = ROOT / "tf_stylefusion" / "pretrained" / "pack" / "config.json"
COLUMNS = "100"  # argparse wraps help to the terminal's width: the same in both processes


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``stylefusion ARGS`` in a fresh process, as a user would start it: no TensorFlow log level
    or verbosity set in the environment."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", VERBOSE_ENV)}
    env.update(PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]), COLUMNS=COLUMNS)
    return subprocess.run([sys.executable, "-m", "tf_stylefusion.cli", *args], capture_output=True, text=True,
                          timeout=300, env=env, cwd=ROOT)


def test_help_is_only_the_commands_own_help(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", COLUMNS)
    for args in ([], ["stylize"]):
        proc = run_cli(*args, "--help")
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr[:2000]
        parser = build_parser()
        expected = parser._subparsers._group_actions[0].choices[args[0]] if args else parser
        assert proc.stdout == expected.format_help()


def test_a_command_that_starts_tensorflow_prints_only_its_own_output() -> None:
    # `styles` loads the pack: TensorFlow, Keras and their native libraries all start
    proc = run_cli("styles")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr[:2000]
    names = json.loads(PACK_CONFIG.read_text())["generator"]["style_names"]
    assert proc.stdout.splitlines() == [f"{i}\t{name}" for i, name in enumerate(names)]


def test_export_prints_its_table_and_nothing_from_tflite(tmp_path) -> None:
    # the TFLite converter and interpreter log from C++ ("INFO: Created TensorFlow Lite XNNPACK
    # delegate", "fully_quantize: ..."): what is left is the package's own logging
    proc = run_cli("export", str(ROOT / "tests" / "fixtures" / "run_v0_1"), "--tflite", str(tmp_path),
                   "--quantize", "fp32,int8", "--size", "64")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines()[0].split() == ["mode", "size", "PSNR", "vs", "Keras", "file"]
    foreign = [line for line in proc.stderr.splitlines() if not line.startswith("INFO tf_stylefusion.")]
    assert not foreign, foreign


def test_native_stderr_is_silenced_only_when_asked(capfd) -> None:
    with native_stderr_silenced(True):
        os.write(2, b"oneDNN chatter\n")
    with native_stderr_silenced(False):
        os.write(2, b"verbose chatter\n")
    os.write(2, b"our own message\n")  # the descriptor is back
    err = capfd.readouterr().err
    assert "oneDNN" not in err and "verbose chatter" in err and "our own message" in err


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny untrained two-style generator (styles "a", "b", far apart in the bank)."""
    from .helpers import distinct_styles_generator

    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    distinct_styles_generator(["a", "b"], seed=0, bank_seed=1).save(path)
    return path


def test_verbose_flag_or_environment_brings_tensorflow_logging_back(tiny_model, monkeypatch, capsys) -> None:
    seen = []
    monkeypatch.setattr(cli, "start_tensorflow", seen.append)
    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    assert main(["styles", str(tiny_model)]) == 0
    assert main(["-v", "styles", str(tiny_model)]) == 0
    monkeypatch.setenv(VERBOSE_ENV, "1")
    assert main(["styles", str(tiny_model)]) == 0
    assert seen == [False, True, True]


def help_entries(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Option → its whole help entry (wrapped lines joined), from the help text a user reads."""
    entries = {}
    for block in re.split(r"\n  (?=-)", parser.format_help().split("options:", 1)[1]):
        head, _, rest = block.strip().partition(" ")
        entries[head.rstrip(",")] = " ".join((rest or "").split())
    return entries


def test_every_default_a_user_meets_is_in_help(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", COLUMNS)
    parser = build_parser()
    commands = {"": parser, **parser._subparsers._group_actions[0].choices}
    missing = []
    for name, command in commands.items():
        entries = help_entries(command)
        for action in command._actions:
            if (not action.option_strings or action.help == argparse.SUPPRESS or action.required
                    or action.default in (None, False, "", [], argparse.SUPPRESS)):
                continue  # nothing to leave out, or the help says what leaving it out does
            entry = entries.get(action.option_strings[0], "")
            if "default" not in entry.lower():
                missing.append(f"stylefusion {name} {action.option_strings[0]} (default {action.default!r})")
    assert not missing, "defaults --help does not show:\n" + "\n".join(missing)
    video = help_entries(commands["video"])
    assert "(default: 0.6)" in video["--stabilize"] and "0: frame by frame" in video["--stabilize"]


def test_two_styles_into_one_folder_keep_both_pictures(tiny_model, tmp_path, capsys) -> None:
    photo = write(tmp_path / "photo.png", texture("photo", 48))
    out = tmp_path / "out"
    for style in ("a", "b", "a:0.7,b:0.3"):
        assert main(["stylize", str(tiny_model), str(photo), "--style", style, "--out", str(out)]) == 0
        printed = capsys.readouterr().out
        assert "wrote 1 image(s)" in printed
        assert "\x1b" not in printed  # no progress bar's ANSI codes when the output is not a terminal
    assert sorted(p.name for p in out.iterdir()) == ["photo__a-70+b-30.png", "photo__a.png", "photo__b.png"]
    a, b, blend = (np.asarray(Image.open(out / n), np.float32)
                   for n in ("photo__a.png", "photo__b.png", "photo__a-70+b-30.png"))
    assert np.abs(a - b).mean() > 1.0 and np.abs(blend - a).mean() > 0.1
    # the same style again is the same picture: written again, in place
    assert main(["stylize", str(tiny_model), str(photo), "--style", "b", "--out", str(out)]) == 0
    assert len(list(out.iterdir())) == 3


def test_evaluate_finds_the_outputs_stylize_names_after_their_style(tiny_model, tmp_path) -> None:
    from tf_stylefusion.evaluation.evaluate import find_output

    photo = write(tmp_path / "photo.png", texture("photo", 48))
    outputs = tmp_path / "outputs"
    for style in ("a", "b"):  # the README's layout for `evaluate --outputs`: one folder per style
        args = ["stylize", str(tiny_model), str(photo), "--style", style, "--out", str(outputs / style)]
        assert main(args) == 0
    assert find_output(outputs, "b", "photo") == outputs / "b" / "photo__b.png"
    assert find_output(outputs, "a", "other") is None


def test_python_api_keeps_plain_output_names(tiny_model, tmp_path) -> None:
    from tf_stylefusion.inference.stylize import output_names, stylize_files
    from tf_stylefusion.model_io import load_generator

    photo = write(tmp_path / "photo.png", texture("photo", 48))
    report = stylize_files(load_generator(tiny_model), [photo], tmp_path / "o", np.array([1.0, 0.0]),
                           progress=False)
    assert [p.name for p in report.written] == ["photo.png"]
    assert output_names([Path("x/p.jpg"), Path("y/p.png")], label="my style?") == [
        "p__my style?.png", "p_2__my style?.png"]  # label as given: mix_label makes it file-safe


def test_mix_labels_are_file_safe_and_name_every_control() -> None:
    from tf_stylefusion.inference.fusion import build_mix
    from tf_stylefusion.inference.stylize import mix_label

    names = ["wave", "the scream/2"]
    assert mix_label(build_mix("1", names), names) == "the_scream_2"
    mix = build_mix("wave:3,1", names, [2.0])
    rows = [*names, "my painting"]
    assert mix_label(mix, rows) == "wave-50+the_scream_2-17+my_painting-33"
    assert mix_label(mix, rows, shares=False, strength=0.4) == "wave+the_scream_2+my_painting-strength40"


def test_a_train_that_fails_at_its_start_leaves_no_half_made_folder(image_folders, tmp_path, capsys,
                                                                    caplog) -> None:
    # The loss network's weights cannot be had (as with no network for ImageNet's): the run
    # fails after writing its config, splits and tiles, before its first step.
    args = ["train", "--content", str(image_folders["content"]), "--style", str(image_folders["stripes"]),
            "--steps", "2", "--image-size", "32", "--batch-size", "2", "--filters", "8", "8", "16",
            "--res-blocks", "1", "--loss-network", str(tmp_path / "no_such_weights.h5")]
    run = tmp_path / "run"
    with caplog.at_level(logging.WARNING, logger="tf_stylefusion.training.run"):
        assert main(args + ["--out", str(run)]) == 2
    assert "no_such_weights.h5" in capsys.readouterr().err
    assert not run.exists()
    assert "removed the half-made run" in caplog.text
    # a folder the user made and filled keeps what it held, and only that
    mine = tmp_path / "mine"
    write(mine / "notes.png", texture("noise", 16))
    assert main(args + ["--out", str(mine)]) == 2
    assert [p.name for p in mine.iterdir()] == ["notes.png"]


def test_an_unstabilised_video_summary_gives_no_stabilised_figure() -> None:
    from tf_stylefusion.inference.video import VideoConfig, VideoReport

    plain = VideoReport(Path("o.mp4"), 8, 8.0, 2.0, None, 0.00123, stabilize=0.0).summary()
    assert "stabilised 0" not in plain and "not stabilised (--stabilize 0): warping error 0.00123" in plain
    steady = VideoReport(Path("o.mp4"), 8, 8.0, 2.0, 0.0005, 0.00123,
                         stabilize=VideoConfig().stabilize).summary()
    assert "stabilised 0.00050 (--stabilize 0.6), frame-by-frame 0.00123" in steady

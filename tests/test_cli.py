"""The CLI end to end at 32 px: personalize → train → styles → stylize; the stylize controls
(tiles, colour, feather) and video on a tiny model; user-error handling."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tf_stylefusion.cli import main

from .conftest import texture, write
from .helpers import moving_texture, require_video_extra, written


def train_args(folders, out: Path, steps: int = 4) -> list[str]:
    return ["train", "--content", str(folders["content"]), "--style", str(folders["stripes"]),
            "--style", str(folders["checker"]), "--out", str(out), "--steps", str(steps),
            "--image-size", "32", "--batch-size", "2", "--loss-network", "random", "--teacher", "none",
            "--checkpoint-every", "2", "--filters", "8", "8", "16", "--res-blocks", "1"]


@pytest.mark.slow
def test_train_then_stylize_end_to_end(image_folders, tmp_path: Path, capsys) -> None:
    # The README's path for personal styles: personalize a collection, then train on its profile
    # (beside two single-image styles) with a style encoder; all through the CLI.
    collection = tmp_path / "my_art"
    for i in range(3):
        for kind in ("stripes", "checker"):
            noisy = texture(kind, 64) + np.random.default_rng(i).normal(0, 8, (64, 64, 3))
            write(collection / f"{kind}_{i}.png", np.clip(noisy, 0, 255).astype(np.uint8))
    profile = tmp_path / "profile"
    assert main(["personalize", "--collection", str(collection), "--out", str(profile), "--max-clusters", "3",
                 "--image-size", "48"]) == 0
    assert capsys.readouterr().out.startswith("2 sub-style(s)")
    # Bad files among the content: each is skipped and named with its problem in bad_files.txt,
    # and every good one is still used.
    content = image_folders["content"]
    (content / "empty.jpg").write_bytes(b"")
    (content / "notes.jpg").write_bytes(b"shopping list\n" * 20)

    run = tmp_path / "run"
    assert main(train_args(image_folders, run) + ["--profile", str(profile), "--encoder-steps", "2"]) == 0
    for name in ("generator.keras", "config.json", "splits.json", "checkpoints", "style_encoder.keras",
                 "textures.npz"):
        assert (run / name).exists(), name
    assert list((run / "samples").glob("step_*.png"))
    assert list((run / "tensorboard").rglob("events.out.tfevents.*"))
    out = capsys.readouterr().out
    assert "trained 4 steps" in out and "style encoder: " in out and "skipped 2 unreadable file(s)" in out
    assert "\x1b" not in out  # Keras' bars redraw with ANSI codes: only on a terminal
    bad_files = (run / "bad_files.txt").read_text()
    assert "empty.jpg" in bad_files and "empty (0 bytes)" in bad_files
    assert "notes.jpg" in bad_files and "not an image" in bad_files
    assert not any(p.name in bad_files for p in content.glob("*.png"))
    assert len(json.loads((run / "splits.json").read_text())["train"]) == 6  # the 4 photos and the 2 bad

    assert main(["styles", str(run)]) == 0  # one style per --style, then one per sub-style
    listed = capsys.readouterr().out.split()
    assert listed == ["0", "stripes", "1", "checker", "2", "my_art_1", "3", "my_art_2"]
    from tf_stylefusion.model_io import load_generator

    tiles = load_generator(run).textures  # a brushwork tile per style, sub-styles included
    assert tiles.shape[0] == 4 and float(tf.math.reduce_std(tiles)) > 0.01

    inputs = sorted(content.glob("*.png"))[:2]
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    out = tmp_path / "out"
    code = main(["stylize", str(run), *map(str, inputs), str(bad), "--style", "stripes:0.5,my_art_2:0.5",
                 "--out", str(out)])
    assert code == 1  # a bad input is reported, the good ones are still written
    captured = capsys.readouterr()
    assert "bad.jpg" in captured.err and "wrote 2 image(s)" in captured.out
    for p in inputs:
        img = np.asarray(Image.open(written(out, p.stem)))
        assert img.shape == (72, 72, 3)
    # the style encoder serves the controls that need one: strength and any style image
    assert main(["stylize", str(run), str(inputs[0]), "--style", "my_art_1", "--strength", "0.5",
                 "--style-image", f"{image_folders['checker']}:0.5", "--out", str(tmp_path / "fused")]) == 0
    assert written(tmp_path / "fused", inputs[0].stem).is_file()

    # the same command again resumes and finishes at the requested step count
    assert main(train_args(image_folders, run, steps=6) + ["--profile", str(profile)]) == 0
    assert "resumed from step 4" in capsys.readouterr().out
    # another generator layout is another model: refused in one line, the run left as it was
    assert main(train_args(image_folders, run, steps=8) + ["--profile", str(profile),
                                                           "--full-resolution"]) == 2
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
    from tf_stylefusion.config import RECIPES, TEACHER_RECIPE, DataConfig, LossConfig, RunConfig

    base = ["train", "--content", "photos", "--style", "a.jpg", "--out", "run"]
    data = DataConfig(content="photos", styles=["a.jpg"])
    got = train_config_from_args(build_parser().parse_args(base))
    assert got.to_dict() == RunConfig(data=data).to_dict()
    assert got.losses.loss_network == "imagenet" and got.losses.inception_network == "imagenet"

    got = train_config_from_args(build_parser().parse_args(base + ["--loss-network", "random"]))
    # A fresh DataConfig: a RunConfig decides the fields left to the recipe in the sections it is given.
    data = DataConfig(content="photos", styles=["a.jpg"])
    assert got.to_dict() == RunConfig(losses=LossConfig(loss_network="random"), data=data).to_dict()
    assert got.losses.loss_network == "random-symmetric"  # saved in full: the symmetric filters
    assert got.data.teacher == "synthesis"
    for name, value in {**RECIPES["random"], **TEACHER_RECIPE["losses"]}.items():
        assert getattr(got.losses, name) == value, name

    got = train_config_from_args(build_parser().parse_args(
        base + ["--loss-network", "random", "--style-weight", "7", "--filters", "4", "5", "6", "--steps", "9"]))
    assert got.losses.style_weight == 7 and got.generator.filters == (4, 5, 6) and got.training.steps == 9
    got = train_config_from_args(build_parser().parse_args(base + ["--image-size", "96"]))
    assert got.data.style_size == 192 == DataConfig(image_size=96).style_size
    assert got.losses.content_weight == RECIPES["imagenet"]["content_weight"]


def test_the_offline_recipe_brings_the_colour_norm_unless_told_otherwise() -> None:
    from tf_stylefusion.cli import build_parser, train_config_from_args
    from tf_stylefusion.config import GeneratorConfig, LossConfig, RunConfig
    from tf_stylefusion.errors import ConfigError

    base = ["train", "--content", "photos", "--style", "a.jpg", "--out", "run"]
    parse = lambda *extra: train_config_from_args(build_parser().parse_args(base + list(extra)))  # noqa: E731
    assert parse("--loss-network", "random").generator.color_norm is True
    assert parse().generator.color_norm is False  # the ImageNet recipe: off
    assert parse("--loss-network", "random", "--no-color-norm").generator.color_norm is False
    assert parse("--color-norm").generator.color_norm is True
    assert RunConfig(losses=LossConfig(loss_network="random")).generator.color_norm is True
    explicit = RunConfig(generator=GeneratorConfig(color_norm=False), losses=LossConfig(loss_network="random"))
    assert explicit.generator.color_norm is False
    # a run saved before the colour norm existed loads without it, whatever its loss network
    old = RunConfig(losses=LossConfig(loss_network="random")).to_dict()
    del old["generator"]["color_norm"], old["generator"]["color_mix"], old["training"]["color_norm_init"]
    assert RunConfig.from_dict(old).generator.color_norm is False
    # and the saved configuration round-trips
    assert RunConfig.from_dict(parse("--loss-network", "random").to_dict()).generator.color_norm is True
    assert parse("--loss-network", "random").training.color_norm_init == "painting_fixed"
    assert parse("--loss-network", "random", "--no-color-norm").training.color_norm_init == "photo"
    # the colour transform comes with the recipe's colour norm, goes with it, and can be refused
    assert parse("--loss-network", "random").generator.color_mix is True
    assert parse("--loss-network", "random", "--no-color-norm").generator.color_mix is False
    assert parse("--loss-network", "random", "--no-color-mix").generator.color_mix is False
    assert parse("--color-norm").generator.color_mix is False  # the ImageNet recipe has none
    assert parse("--color-norm", "--color-mix").generator.color_mix is True
    with pytest.raises(ConfigError, match="color_mix needs"):
        parse("--loss-network", "random", "--no-color-norm", "--color-mix")
    before_mix = RunConfig(losses=LossConfig(loss_network="random")).to_dict()
    del before_mix["generator"]["color_mix"]  # a run saved before the colour transform: without it
    loaded = RunConfig.from_dict(before_mix).generator
    assert loaded.color_norm is True and loaded.color_mix is False


def test_a_config_saved_before_style_statistics_keeps_plain_grams() -> None:
    from tf_stylefusion.config import RunConfig

    old = RunConfig().to_dict()
    del old["losses"]["style_statistic"]
    old["losses"]["loss_network"] = "random"
    assert RunConfig.from_dict(old).losses.style_statistic == "gram"


def test_the_offline_recipe_holds_layout_to_the_recoloured_photo_but_old_runs_keep_theirs() -> None:
    from tf_stylefusion.config import DataConfig, LossConfig, RunConfig

    assert (LossConfig(loss_network="random").layout_weight, LossConfig(loss_network="random").layout_colours) \
        == (30.0, "residual")
    assert (LossConfig().layout_weight, LossConfig().layout_colours) == (0.0, "channel")  # ImageNet recipe
    # a run saved before the layout term joined the recipe trained without it
    old = RunConfig(losses=LossConfig(loss_network="random")).to_dict()
    del old["losses"]["layout_weight"], old["losses"]["layout_colours"]
    assert (RunConfig.from_dict(old).losses.layout_weight, RunConfig.from_dict(old).losses.layout_colours) \
        == (0.0, "channel")
    # one saved before the residual choice kept its weight, with the per-channel term
    del old["losses"]["style_statistic"]
    old["losses"]["layout_weight"] = 2.0
    assert RunConfig.from_dict(old).losses.layout_colours == "channel"
    # a partial config is not a saved run: what it leaves out comes from the recipe
    partial = RunConfig.from_dict({"losses": {"loss_network": "random", "style_weight": 2.0},
                                   "data": {"teacher": ""}}).losses
    assert (partial.style_statistic, partial.layout_weight, partial.layout_colours) == ("mean_cov", 30.0, "residual")
    # (the teacher, the offline recipe's default, brings a tenth of that weight)
    assert RunConfig.from_dict({"losses": {"loss_network": "random"}}).losses.layout_weight == 3.0
    # and the saved configuration round-trips
    saved = RunConfig(losses=LossConfig(loss_network="random"), data=DataConfig(teacher="")).to_dict()
    assert RunConfig.from_dict(saved).losses.layout_weight == 30.0
    # the residual layout needs the colour norm (its target is the photo as that recoloured it):
    # it goes with the colour norm, as the colour transform does; a weight given stays
    from tf_stylefusion.cli import build_parser, train_config_from_args

    base = ["train", "--content", "photos", "--style", "a.jpg", "--out", "run", "--loss-network", "random",
            "--teacher", "none"]
    parse = lambda *extra: train_config_from_args(build_parser().parse_args(base + list(extra))).losses  # noqa: E731
    assert (parse().layout_weight, parse().layout_colours) == (30.0, "residual")
    assert (parse("--no-color-norm").layout_weight, parse("--no-color-norm").layout_colours) == (0.0, "channel")
    got = parse("--no-color-norm", "--layout-weight", "2")
    assert (got.layout_weight, got.layout_colours) == (2.0, "channel")
    got = parse("--no-color-norm", "--layout-colours", "residual")  # asked for: kept
    assert (got.layout_weight, got.layout_colours) == (30.0, "residual")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny untrained two-style generator (styles "a", "b", far apart in the bank)."""
    import keras

    from .helpers import distinct_styles_generator

    keras.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    distinct_styles_generator(["a", "b"], seed=0, bank_seed=1).save(path)
    return path


def test_cli_stylize_rejects_a_bad_tile_size_on_an_image_that_tiles(tiny_model, tmp_path, capsys,
                                                                      monkeypatch) -> None:
    import tf_stylefusion.inference.stylize as stylize_module

    tilings = []  # the tiled pass is recorded, not run: the tiles themselves are tested elsewhere
    monkeypatch.setattr(stylize_module, "stylize_tiled",
                        lambda g, image, weights, tiling, finish=None, origin=(0, 0):
                        tilings.append(tiling) or image)
    photo = write(tmp_path / "a.png", texture("photo", 112)[:96])  # 112×96: larger than a 64 px tile
    out = tmp_path / "o"
    args = ["stylize", str(tiny_model), str(photo), "--style", "a", "--out", str(out)]
    for bad in (66, 60, 50):  # not a multiple of 4; too small; both
        assert main(args + ["--tile-size", str(bad)]) == 2
        err = capsys.readouterr().err
        assert f"error: tile size must be a multiple of 4 and at least 64, got {bad}" in err, err
        assert "Traceback" not in err and not out.exists() and not tilings
    assert main(args + ["--tile-size", "64"]) == 0 and written(out, "a").is_file()
    assert [t.tile_size for t in tilings] == [64]  # the image really went through the tiles
    # left to the default, an image this small is stylized whole
    assert main(args) == 0 and len(tilings) == 1


def test_stylize_tiles_above_2048_squared_pixels_by_default(tiny_model, monkeypatch) -> None:
    """The README: `stylize` tiles above 2048² pixels unless --tile-size says otherwise; checked
    on the routing, without stylizing 4 megapixels."""
    import tf_stylefusion.inference.stylize as stylize_module
    from tf_stylefusion.cli import build_parser
    from tf_stylefusion.inference.tiling import needs_tiling, resolve_tiling
    from tf_stylefusion.model_io import load_generator

    args = build_parser().parse_args(["stylize", "photo.jpg", "--out", "o"])
    assert args.tile_size is None  # the CLI leaves the choice to the automatic rule
    assert not needs_tiling(2048, 2048, None) and not needs_tiling(1024, 4096, None)
    assert needs_tiling(2048, 2049, None) and needs_tiling(100, 42000, None)  # pixels, not sides
    assert resolve_tiling(None, 2048, 2048) is None
    tiling = resolve_tiling(None, 2049, 2048)
    assert tiling is not None and tiling.tile_size == 512 and tiling.exact_statistics
    assert resolve_tiling(0, 8192, 8192) is None  # --tile-size 0 never tiles
    assert resolve_tiling(512, 600, 400).tile_size == 512

    # and stylize_image follows it: a 2049×2048 image goes to the tiles, 2048² runs whole
    paths = []
    monkeypatch.setattr(stylize_module, "stylize_tiled",
                        lambda g, image, weights, t, finish=None, origin=(0, 0):
                        paths.append(("tiled", t.tile_size)) or image)
    monkeypatch.setattr(stylize_module, "_run_graph",
                        lambda g, image, weights: paths.append(("whole", None)) or image)
    g = load_generator(tiny_model)
    for h, w in ((2049, 2048), (2048, 2048)):
        stylize_module.stylize_image(g, np.zeros((h, w, 3), np.uint8), [1.0, 0.0])
    assert paths == [("tiled", 512), ("whole", None)]


def test_cli_preserve_color_histogram_gives_the_photo_s_histograms(tiny_model, tmp_path) -> None:
    photo = texture("photo", 64)
    path = write(tmp_path / "photo.png", photo)
    for flags, out in (([], "plain"), (["--preserve-color", "histogram"], "kept")):
        args = ["stylize", str(tiny_model), str(path), "--style", "a", *flags, "--out", str(tmp_path / out)]
        assert main(args) == 0
    plain, kept = (np.asarray(Image.open(written(tmp_path / d, "photo"))).astype(int) for d in ("plain", "kept"))
    for c in range(3):
        # the same values, channel by channel (rank for rank; 8-bit rounding aside) ...
        assert np.abs(np.sort(kept[..., c], axis=None) - np.sort(photo[..., c], axis=None)).max() <= 1, c
    # ... which the plain stylization does not have
    assert max(np.abs(np.sort(plain[..., c], axis=None) - np.sort(photo[..., c], axis=None)).mean()
               for c in range(3)) > 5
    # and the structure is still the stylization's, not the photo's
    assert np.corrcoef(kept.ravel(), plain.ravel())[0, 1] > np.corrcoef(kept.ravel(), photo.ravel())[0, 1]


def test_cli_a_bigger_feather_gives_a_softer_region_edge(tiny_model, tmp_path) -> None:
    # A flat grey photo, so the output's columns change only where the styles meet: white half
    # of the mask style a, black half style b.
    photo = write(tmp_path / "grey.png", np.full((64, 96, 3), 128, np.uint8))
    mask = np.zeros((64, 96, 3), np.uint8)
    mask[:, :48] = 255
    mask_path = write(tmp_path / "mask.png", mask)

    def steepest_step(feather: str) -> float:
        out = tmp_path / f"feather_{feather}"
        assert main(["stylize", str(tiny_model), str(photo), "--style", "a,b", "--mask", str(mask_path),
                     "--feather", feather, "--out", str(out)]) == 0
        columns = np.asarray(Image.open(written(out, "grey")), np.float64).mean(axis=0)  # [96, 3]
        return float(np.linalg.norm(np.diff(columns, axis=0), axis=1).max())

    sharp, soft = steepest_step("1"), steepest_step("12")
    assert sharp > 8 and soft < sharp / 2, (sharp, soft)


def test_cli_video_stabilisation_steadies_the_written_frames(tiny_model, tmp_path, capsys) -> None:
    """Measured on the written videos (not the run's own report), with the motion known: the
    input slides 2 px right and 1 px down per frame, so frame t should show frame t - 1 moved."""
    iio = require_video_extra()

    size, frames = 64, 8
    src = moving_texture(tmp_path / "in.mp4", frames, size, noise=0.03)

    def flicker(stabilize: str) -> float:
        dst = tmp_path / f"out_{stabilize}.mp4"
        args = ["video", str(tiny_model), str(src), str(dst), "--style", "a", "--stabilize", stabilize]
        assert main(args) == 0
        video = np.stack([f for f in iio.get_reader(dst, format="FFMPEG")]).astype(np.float64) / 255
        assert video.shape == (frames, size, size, 3)
        m = 8  # away from the borders, where content enters and the padding differs
        return float(np.mean([np.mean((video[t, 1 + m:-m, 2 + m:-m] - video[t - 1, m:-1 - m, m:-2 - m]) ** 2)
                              for t in range(1, frames)]))

    steady, plain = flicker("0.6"), flicker("0")
    # Unstabilised, both runs write the same frames (ratio 1); stabilised, about 0.6 was seen.
    assert steady < 0.8 * plain, (steady, plain)
    report = capsys.readouterr().out
    # at 0 there is one video, frame by frame: no "stabilised" figure for it
    assert report.count("warping error: stabilised") == 1 and "(--stabilize 0.6)" in report
    assert report.count("not stabilised (--stabilize 0): warping error 0.") == 1
    assert "\x1b" not in report  # no progress bar's ANSI codes in output that is not a terminal


def test_the_offline_recipe_smooths_the_residual_but_old_runs_keep_output_tv() -> None:
    from tf_stylefusion.cli import build_parser, train_config_from_args
    from tf_stylefusion.config import RECIPES, LossConfig, RunConfig

    random = LossConfig(loss_network="random")
    assert (random.tv_weight, random.tv_of) == (RECIPES["random"]["tv_weight"], "residual")
    assert LossConfig().tv_of == "output"  # the ImageNet recipe
    # a run saved before total variation could see the residual smoothed its output
    old = RunConfig(losses=LossConfig(loss_network="random", tv_weight=0.3)).to_dict()
    del old["losses"]["tv_of"]
    assert (RunConfig.from_dict(old).losses.tv_weight, RunConfig.from_dict(old).losses.tv_of) == (0.3, "output")
    assert RunConfig.from_dict(RunConfig(losses=random).to_dict()).losses.tv_of == "residual"
    base = ["train", "--content", "photos", "--style", "a.jpg", "--out", "run", "--loss-network", "random"]
    got = train_config_from_args(build_parser().parse_args(base + ["--tv-of", "output", "--tv-weight", "1"]))
    assert (got.losses.tv_of, got.losses.tv_weight) == ("output", 1.0)


def sky_photo() -> np.ndarray:
    """A flat sky on the left half, texture on the right (uint8, 64 × 96)."""
    photo = np.full((64, 96, 3), 90, np.uint8)
    photo[:, 48:] = texture("photo", 64)[:, :48]
    return photo


def palette_sky(model: Path, photo: np.ndarray) -> np.ndarray:
    """Style "a"'s recoloured photo (no residual painted) over the sky's left 24 columns, in levels."""
    from tf_stylefusion.model_io import load_generator

    recoloured = load_generator(model).recoloured(np.asarray(photo, np.float32)[None] / 255, [[1.0, 0.0]])
    return np.asarray(recoloured)[0, :, :24] * 255


def test_cli_flat_guard_leaves_a_flat_sky_in_the_palette_and_rejects_bad_values(tiny_model, tmp_path,
                                                                                 capsys) -> None:
    photo = sky_photo()
    path = write(tmp_path / "sky.png", photo)
    args = ["stylize", str(tiny_model), str(path), "--style", "a"]
    assert main(args + ["--flat-guard", "0.05", "--out", str(tmp_path / "kept")]) == 0
    assert main(args + ["--out", str(tmp_path / "plain")]) == 0  # this model's own gate: none
    kept, plain = (np.asarray(Image.open(written(tmp_path / d, "sky")), np.float32) for d in ("kept", "plain"))
    sky = palette_sky(tiny_model, photo)
    assert np.abs(kept[:, :24] - sky).max() <= 1.0  # 8-bit rounding
    assert np.abs(plain[:, :24] - sky).mean() > 2.0
    assert main(args + ["--flat-guard", "1.5", "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert "flat_guard (--flat-guard) must be in [0, 1], got 1.5" in err and "Traceback" not in err

    # export writes the gate into the files (here a TFLite file), so a phone gets the same sky
    from tf_stylefusion.deploy.tflite import TFLiteStylizer

    files = {}
    for name, extra in (("kept", ["--flat-guard", "0.05"]), ("plain", [])):
        assert main(["export", str(tiny_model), "--tflite", str(tmp_path / name), "--quantize", "fp32",
                     "--size", "64", "--name", name, *extra]) == 0
        files[name] = TFLiteStylizer(tmp_path / name / f"{name}_fp32.tflite")(photo / 255.0, [1.0, 0.0]) * 255
    assert np.abs(files["kept"][:, :24] - sky).max() <= 0.1
    assert np.abs(files["plain"][:, :24] - sky).mean() > 2.0


def test_cli_video_takes_the_flat_guard(tiny_model, tmp_path) -> None:
    iio = require_video_extra()

    src = tmp_path / "in.mp4"
    with iio.get_writer(src, format="FFMPEG", fps=4, quality=10, macro_block_size=16) as w:
        for _ in range(3):
            w.append_data(sky_photo())
    sky = palette_sky(tiny_model, next(iter(iio.get_reader(src, format="FFMPEG"))))  # as the codec gave it
    away = {}
    for name, extra in (("kept", ["--flat-guard", "0.05"]), ("plain", [])):
        dst = tmp_path / f"{name}.mp4"
        assert main(["video", str(tiny_model), str(src), str(dst), "--style", "a", "--stabilize", "0", *extra]) == 0
        video = np.stack([f for f in iio.get_reader(dst, format="FFMPEG")]).astype(np.float32)
        away[name] = float(np.abs(video[:, :, :24] - sky).mean())
    # Both pass through the video codec (a level or two either way); only the guarded sky is the palette.
    assert away["kept"] < 0.5 * away["plain"], away

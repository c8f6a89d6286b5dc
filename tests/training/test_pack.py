"""The style pack's recipe, stages and install (training/pack.py) and `stylefusion pack`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from tf_stylefusion.cli import main
from tf_stylefusion.config import RunConfig
from tf_stylefusion.errors import ConfigError, ModelFileError
from tf_stylefusion.model_io import TEXTURES_FILE, load_generator, save_textures
from tf_stylefusion.models.generator import StyleFusionGenerator
from tf_stylefusion.training.pack import (
    FLOAT_GENERATOR,
    LOG_FILE,
    PackRecipe,
    checkpoint_step,
    finish_pack,
    harden_pack,
    install_pack,
    warmup_config,
)


def test_the_shipped_recipe_names_the_bundled_paintings_and_its_warm_up_stage(tmp_path) -> None:
    recipe = PackRecipe.from_json()  # package data, read where the package is installed
    spec = json.loads(Path(recipe.source).read_text())
    cfg = recipe.run_config("photos")
    assert [Path(s).name for s in cfg.data.styles] == spec["styles"] and cfg.data.content == "photos"
    assert all(Path(s).is_file() for s in cfg.data.styles)  # package data, not a development folder
    assert recipe.run.data.styles == []  # run_config hands out copies
    warm = warmup_config(cfg, recipe)
    assert warm is not None and warm.training.steps == spec["warmup"]["steps"] < cfg.training.steps
    assert warm.training.encoder_steps == 0
    for name, value in spec["warmup"]["losses"].items():
        assert getattr(warm.losses, name) == value != getattr(cfg.losses, name)
    # everything else is the run's own
    same = {k: v for k, v in cfg.to_dict()["losses"].items() if k not in spec["warmup"]["losses"]}
    assert same.items() <= warm.to_dict()["losses"].items()
    assert warm.to_dict()["generator"] == cfg.to_dict()["generator"]
    assert recipe.noise_tolerance.steps == spec["noise_tolerance"]["steps"]
    assert recipe.install_flat_guard == spec["install"]["flat_guard"]
    # a recipe without a warm-up has none; a session stopped early (--steps) stops it there too
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({k: v for k, v in spec.items() if k != "warmup"}))
    assert warmup_config(cfg, PackRecipe.from_json(path)) is None
    cfg.training.steps = 300
    assert warmup_config(cfg, recipe).training.steps == 300


def test_a_broken_recipe_names_its_file(tmp_path) -> None:
    path = tmp_path / "recipe.json"
    for text, words in [("{", "not JSON"), ('{"styles": [], "run": {}, "warm_up": {}}', "unknown: ['warm_up']"),
                        ('{"styles": ["wave.jpg"], "run": {"training": {"stepz": 1}}}', "stepz")]:
        path.write_text(text)
        with pytest.raises(ConfigError, match=re.escape(words)) as e:
            PackRecipe.from_json(path)
        assert str(path) in str(e.value)
    path.write_text('{"styles": ["no_such_painting.jpg"], "run": {}}')
    with pytest.raises(ConfigError, match="no_such_painting.jpg"):
        PackRecipe.from_json(path).run_config("photos")
    with pytest.raises(ConfigError, match="no such pack recipe"):
        PackRecipe.from_json(tmp_path / "missing.json")


def tiny_run(run: Path) -> StyleFusionGenerator:
    """A run folder holding a tiny trained generator, its config and its tiles."""
    run.mkdir()
    trained = StyleFusionGenerator(2, style_names=["a", "b"], filters=(8, 12, 16), num_res_blocks=1)
    trained.save(run / "generator.keras")
    cfg = RunConfig()
    cfg.generator = trained.config
    cfg.to_json(run / "config.json")
    return trained


def test_install_gives_the_installed_generator_the_recipe_s_flat_guard(tmp_path) -> None:
    trained = tiny_run(tmp_path / "run")
    tiles = np.random.default_rng(0).normal(0, 0.1, (2, 24, 24, 3)).astype(np.float32)
    save_textures(tmp_path / "run" / TEXTURES_FILE, tiles, ["a", "b"])
    recipe = PackRecipe(styles=[], run=RunConfig(), install_flat_guard=0.03)
    dest = install_pack(tmp_path / "run", recipe, tmp_path / "pack")
    installed = load_generator(dest)
    assert installed.config.flat_guard == 0.03 and trained.config.flat_guard == 0.0
    np.testing.assert_allclose(installed.textures.numpy(), tiles, atol=0.003)  # the run's tiles came along
    assert all(np.array_equal(a, b) for a, b in zip(installed.get_weights(), trained.get_weights()))
    assert RunConfig.from_json(dest / "config.json").generator.flat_guard == 0.03
    assert "Styles: a, b." in (dest / "PACK.md").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pack", "run"]  # no temporary folder left


def test_a_failed_install_leaves_the_old_pack_whole(tmp_path) -> None:
    tiny_run(tmp_path / "run")
    recipe = PackRecipe(styles=[], run=RunConfig())
    save_textures(tmp_path / "run" / TEXTURES_FILE, np.zeros((2, 24, 24, 3), np.float32), ["a", "b"])
    dest = install_pack(tmp_path / "run", recipe, tmp_path / "pack")
    before = {p.name: p.read_bytes() for p in dest.iterdir()}
    (tmp_path / "run" / "generator.keras").write_bytes(b"not a model")
    with pytest.raises(Exception):
        install_pack(tmp_path / "run", recipe, dest)
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pack", "run"]


def test_harden_keeps_the_trained_generator_and_always_starts_from_it(tmp_path) -> None:
    run = tmp_path / "run"
    trained = tiny_run(run)
    photos = tmp_path / "photos"
    photos.mkdir()
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (48, 48, 3), np.uint8)).save(photos / f"p{i}.png")
    recipe = PackRecipe.from_json()
    recipe.noise_tolerance.steps, recipe.noise_tolerance.image_size, recipe.noise_tolerance.batch_size = 2, 32, 2
    lines = []
    harden_pack(recipe, photos, run, lines.append)
    hardened = load_generator(run)
    float_copy = load_generator(run / FLOAT_GENERATOR)
    assert all(np.array_equal(a, b) for a, b in zip(float_copy.get_weights(), trained.get_weights()))
    assert not all(np.array_equal(a, b) for a, b in zip(hardened.get_weights(), trained.get_weights()))
    assert "start: noise tolerance" in lines[0] and "cores" in lines[0] and "stop" in lines[-1]
    harden_pack(recipe, photos, run, lines.append)  # again: from the float copy, not the hardened one
    again = load_generator(run)
    assert all(np.array_equal(a, b) for a, b in zip(again.get_weights(), hardened.get_weights()))
    with pytest.raises(ModelFileError, match="pack train"):
        finish_pack(recipe, photos, run)  # no checkpoint to finish


def test_the_pack_command_trains_warms_up_hardens_finishes_and_installs(tmp_path, capsys) -> None:
    recipe = {
        "styles": ["wave.jpg", "udnie.jpg"], "encoder_steps": 0,
        "warmup": {"steps": 2, "losses": {"tv_weight": 0.3, "tv_of": "output"}},
        "install": {"flat_guard": 0.05},
        "noise_tolerance": {"steps": 2, "image_size": 32, "batch_size": 2},
        "run": {"generator": {"filters": [8, 12, 16], "num_res_blocks": 1, "content_skip": True},
                "discriminator": {"filters": 8},
                "losses": {"loss_network": "random", "inception_network": "random"},
                "data": {"image_size": 32, "batch_size": 2, "style_size": 64},
                "training": {"steps": 3, "checkpoint_every": 1, "tensorboard": False}},
    }
    path = tmp_path / "recipe.json"
    path.write_text(json.dumps(recipe))
    from tf_stylefusion.data.samples import samples_dir

    run, content = tmp_path / "run", str(samples_dir() / "content")
    common = ["--content", content, "--run", str(run), "--recipe", str(path)]
    assert main(["pack", "train", *common, "--steps", "2"]) == 0  # the warm-up alone
    assert checkpoint_step(run) == 2
    assert RunConfig.from_json(run / "config.json").losses.tv_of == "output"
    assert main(["pack", "train", *common]) == 0  # on with the run's own losses
    assert checkpoint_step(run) == 3
    assert RunConfig.from_json(run / "config.json").losses.tv_of == "residual"
    log = (run / LOG_FILE).read_text().splitlines()
    assert [l.split(" ", 2)[2].split(";")[0] for l in log if " start: " in l] == [
        "start: steps -> 2 of 3", "start: steps -> 3 of 3"]
    assert any("warm-up to step 2" in l for l in log) and "recipe recipe.json" in log[0]
    # harden, then finish: the style encoder on the last checkpoint, the hardened generator kept
    assert main(["pack", "harden", *common]) == 0
    assert (run / FLOAT_GENERATOR).is_file()
    before = load_generator(run).get_weights()
    path.write_text(json.dumps({**recipe, "encoder_steps": 2}))
    assert main(["pack", "finish", *common]) == 0
    assert (run / "style_encoder.keras").is_file() and checkpoint_step(run) == 3
    assert RunConfig.from_json(run / "config.json").training.steps == 3
    assert all(np.array_equal(a, b) for a, b in zip(load_generator(run).get_weights(), before))
    assert main(["pack", "install", "--run", str(run), "--recipe", str(path), "--dest", str(tmp_path / "pack")]) == 0
    installed = load_generator(tmp_path / "pack")
    assert installed.style_names == ["wave", "udnie"] and installed.config.flat_guard == 0.05
    assert installed.textures is not None and (tmp_path / "pack" / "style_encoder.keras").is_file()
    assert "installed the pack" in capsys.readouterr().out
    assert main(["pack", "install", "--run", str(tmp_path / "nothing"), "--recipe", str(path)]) == 2

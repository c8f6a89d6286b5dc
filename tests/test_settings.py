"""The generator's settings (flat guard, texture, abstraction) have one home and one range: the
CLI, the Python API, the exports and the app agree on each one's default and bound, the config
round-trips them, and files saved before they were config fields still load."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tf_stylefusion import cli
from tf_stylefusion.config import SETTING_BOUNDS, GeneratorConfig, GeneratorSettings, RunConfig
from tf_stylefusion.deploy import saved_model, tflite
from tf_stylefusion.deploy.defaults import EXPORT_SETTINGS
from tf_stylefusion.errors import ConfigError
from tf_stylefusion.inference import stylize
from tf_stylefusion.model_io import GENERATOR_FILE, TEXTURES_FILE, load_generator, save_textures
from tf_stylefusion.models.generator import StyleFusionGenerator
from tf_stylefusion.training.callbacks import save_generator

# Every value differs from GeneratorConfig's default and from the export's, so a consumer that
# falls back on its own default instead of the model's shows.
SAVED = {"flat_guard": 0.05, "texture": 0.5, "abstraction": 0.5}
FLAGS = {name: bound.flag for name, bound in SETTING_BOUNDS.items()}


class Captured(Exception):
    """Raised by the patched export internals: the export got as far as writing this generator."""

    def __init__(self, generator: StyleFusionGenerator):
        super().__init__("captured")
        self.generator = generator


def tiny_generator(**settings: float) -> StyleFusionGenerator:
    g = StyleFusionGenerator(2, style_names=["s0", "s1"], filters=(4, 4, 8), num_res_blocks=0, **settings)
    g.set_textures(np.random.default_rng(0).normal(0, 0.1, (2, 16, 16, 3)).astype(np.float32))
    return g


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """A run folder whose generator was saved with non-default settings, and its tiles."""
    run = tmp_path_factory.mktemp("run")
    g = tiny_generator(**SAVED)
    save_generator(g, run / GENERATOR_FILE)
    save_textures(run / TEXTURES_FILE, g.textures.numpy(), g.style_names)
    return run


@pytest.fixture
def capture(monkeypatch) -> None:
    """Exports stop where they would start writing, raising Captured with the generator they got."""
    def stop(generator: StyleFusionGenerator, *args: Any, **kwargs: Any) -> None:
        raise Captured(generator)

    monkeypatch.setattr(saved_model, "build_export_archive", stop)
    monkeypatch.setattr(tflite, "convert", stop)


def exported_by_cli(model: Path, tmp_path: Path, kind: str, *flags: str) -> GeneratorConfig:
    target = ["--saved-model", str(tmp_path / "sm")] if kind == "saved_model" else \
        ["--tflite", str(tmp_path / "tfl"), "--quantize", "fp32", "--size", "32"]
    with pytest.raises(Captured) as got:
        cli.main(["export", str(model), *target, *flags])
    return got.value.generator.config


def exported_by_python(generator: StyleFusionGenerator, tmp_path: Path, kind: str,
                       settings: GeneratorSettings | None = None) -> GeneratorConfig:
    with pytest.raises(Captured) as got:
        if kind == "saved_model":
            saved_model.export_saved_model(generator, tmp_path / "sm", settings=settings)
        else:
            tflite.export_tflite(generator, tmp_path / "tfl", ["fp32"], size=32, settings=settings)
    return got.value.generator.config


def stylized_by_cli(model: Path, monkeypatch, *flags: str) -> GeneratorConfig:
    """The settings `stylefusion stylize` runs the generator with (its files are not written)."""
    seen = {}

    def fake(generator: StyleFusionGenerator, *args: Any, options: Any = None, **kwargs: Any) -> Any:
        seen["config"] = generator.with_settings(options.settings if options else None).config
        return stylize.StylizeReport()

    monkeypatch.setattr(stylize, "stylize_files", fake)
    assert cli.main(["stylize", str(model), "photo.png", "--style", "s0", "--out", "o", *flags]) == 0
    return seen["config"]


def app_job(generator: StyleFusionGenerator, tmp_path: Path, **page: Any) -> Any:
    """The app's Job for page settings (``page`` adds keys such as ``texture``)."""
    from tf_stylefusion.app.rendering import parse_job
    from tf_stylefusion.app.session import Session

    buf = io.BytesIO()
    Image.fromarray(np.full((40, 40, 3), 128, np.uint8)).save(buf, format="PNG")
    session = Session()
    photo = session.add_photo("p.png", buf.getvalue())
    return parse_job({"photo": photo.id, "bank": [1.0, 0.0], **page}, [], session, generator, None)


def app_model_info(generator: StyleFusionGenerator) -> dict[str, Any]:
    from starlette.testclient import TestClient

    from tf_stylefusion.app.server import create_app

    with TestClient(create_app(generator)) as client:
        return client.get("/api/model").json()


@pytest.mark.parametrize("name", list(SETTING_BOUNDS))
def test_cli_python_exports_and_app_agree_on_each_settings_default(name, model, tmp_path, monkeypatch,
                                                                   capture) -> None:
    generator = load_generator(model)
    own = SAVED[name]
    assert getattr(generator.config, name) == own  # saved with the model, loaded with it
    # Pictures: with no flag or setting, every front end uses the model's own value.
    assert getattr(stylized_by_cli(model, monkeypatch), name) == own
    job = app_job(generator, tmp_path)
    assert getattr(generator.with_settings(job.options.settings).config, name) == own
    if name == "texture":
        assert app_model_info(generator)["texture"] == own  # where the page's slider starts
    # Exports: the export's own default (deploy/defaults.py) where it has one, else the model's,
    # the same from `stylefusion export` and from the Python functions, for both kinds of file.
    want = EXPORT_SETTINGS.overrides().get(name, own)
    for kind in ("saved_model", "tflite"):
        assert getattr(exported_by_cli(model, tmp_path, kind), name) == want, f"CLI {kind}"
        assert getattr(exported_by_python(generator, tmp_path, kind), name) == want, f"Python {kind}"
    assert getattr(generator.config, name) == own  # exporting left the loaded model as it was


@pytest.mark.parametrize("name", list(SETTING_BOUNDS))
def test_cli_python_exports_and_app_agree_on_each_settings_bound(name, model, tmp_path, monkeypatch,
                                                                 capture, capsys) -> None:
    bound = SETTING_BOUNDS[name]
    generator = load_generator(model)
    for value, ok in ((bound.high, True), (bound.low, True), (bound.high + 0.01, False), (bound.low - 0.01, False)):
        flag = [FLAGS[name], str(value)]
        # the CLI: one line naming the flag, exit status 2, for stylize and export alike
        if ok:
            assert getattr(stylized_by_cli(model, monkeypatch, *flag), name) == value
            assert getattr(exported_by_cli(model, tmp_path, "tflite", *flag), name) == value
        else:
            for argv in (["stylize", str(model), "p.png", "--style", "s0", "--out", "o"],
                         ["export", str(model), "--tflite", str(tmp_path / "t")]):
                assert cli.main([*argv, *flag]) == cli.EXIT_USER_ERROR
                assert FLAGS[name] in capsys.readouterr().err
        # Python: the one argument type, for the exports and for stylize_image's options
        if ok:
            settings = GeneratorSettings(**{name: value})
            assert getattr(exported_by_python(generator, tmp_path, "saved_model", settings), name) == value
            assert getattr(tiny_generator(**{name: value}).config, name) == value  # a saved model's value
        else:
            with pytest.raises(ConfigError, match=FLAGS[name]):
                GeneratorSettings(**{name: value})
            with pytest.raises(ConfigError, match=FLAGS[name]):
                tiny_generator(**{name: value})
        # the app: only the texture is on the page; its slider spans the same range
        if name == "texture":
            if ok:
                job = app_job(generator, tmp_path, texture=value)
                assert generator.with_settings(job.options.settings).config.texture == value
            else:
                with pytest.raises(ConfigError, match="texture"):
                    app_job(generator, tmp_path, texture=value)
    if name == "texture":
        assert app_model_info(generator)["max_texture"] == bound.high


def test_get_config_round_trips_every_setting(tmp_path) -> None:
    g = tiny_generator(**SAVED)
    twin = StyleFusionGenerator.from_config(g.get_config())
    assert twin.config == g.config
    assert {name: getattr(twin.config, name) for name in SETTING_BOUNDS} == SAVED
    # every GeneratorConfig field is in get_config: no setting lives outside it
    assert set(GeneratorConfig.__dataclass_fields__) <= set(g.get_config())
    save_generator(g, tmp_path / GENERATOR_FILE)
    assert load_generator(tmp_path / GENERATOR_FILE).config == g.config
    # a copy with a per-call override changes that setting only, and leaves the original alone
    other = g.with_settings(GeneratorSettings(texture=2.0))
    assert other.config.texture == 2.0 and g.config.texture == 0.5
    assert other.config.abstraction == 0.5 and other.config.flat_guard == 0.05
    assert g.with_settings(GeneratorSettings(texture=0.5)) is g  # nothing changes: no copy
    # the run's config.json holds them too
    cfg = RunConfig(generator=GeneratorConfig(num_styles=2, **SAVED))
    cfg.to_json(tmp_path / "config.json")
    assert RunConfig.from_json(tmp_path / "config.json").generator == cfg.generator


def test_a_generator_saved_before_texture_and_abstraction_were_config_fields_loads(tmp_path) -> None:
    """Such a file's config lacks the two keys; the generator laid its tiles at full strength over
    a fully abstracted picture, and it loads so."""
    g = tiny_generator(flat_guard=0.03)
    path = tmp_path / "old.keras"
    g.save(path)
    old = tmp_path / "older.keras"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(old, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "config.json":
                d = json.loads(data)
                for key in ("texture", "abstraction"):
                    del d["config"][key]
                data = json.dumps(d).encode()
            dst.writestr(item, data)
    loaded = load_generator(old)
    assert (loaded.config.texture, loaded.config.abstraction, loaded.config.flat_guard) == (1.0, 1.0, 0.03)
    x = np.random.default_rng(1).random((1, 32, 32, 3)).astype(np.float32)
    loaded.set_textures(g.textures)
    np.testing.assert_allclose(loaded((x, np.array([[1.0, 0.0]], np.float32))).numpy(),
                               g((x, np.array([[1.0, 0.0]], np.float32))).numpy(), atol=1e-6)
    # and a run's config.json from then
    d = RunConfig(generator=GeneratorConfig(num_styles=2)).to_dict()
    for key in ("texture", "abstraction"):
        del d["generator"][key]
    assert RunConfig.from_dict(d).generator.texture == 1.0


def test_the_recipe_decides_once_and_again_after_an_update() -> None:
    """``RunConfig.updated`` is the one fill of "None means the recipe decides": a config made
    for one loss network and updated to another equals one made for the other directly."""
    from tf_stylefusion.config import DataConfig, LossConfig

    random = RunConfig(losses=LossConfig(loss_network="random"))
    assert RunConfig().updated({"losses": {"loss_network": "random"}}).to_dict() == random.to_dict()
    assert random.updated({"losses": {"loss_network": "imagenet"}}).to_dict() == RunConfig().to_dict()
    # a generator part turned off takes the recipe's choices that need it with it
    off = RunConfig(generator=GeneratorConfig(color_norm=False), losses=LossConfig(loss_network="random"))
    assert random.updated({"generator": {"color_norm": False}}).to_dict() == off.to_dict()
    # a derived field follows the field it derives from; a value given stays
    assert RunConfig().updated({"data": {"image_size": 96}}).data.style_size == 192
    given = RunConfig(data=DataConfig(image_size=64, style_size=100))
    assert given.updated({"data": {"image_size": 96}}).data.style_size == 100
    given_weight = RunConfig(losses=LossConfig(content_weight=7.0))
    assert given_weight.updated({"losses": {"loss_network": "random"}}).losses.content_weight == 7.0
    with pytest.raises(ConfigError, match="no field 'nope'"):
        RunConfig().updated({"losses": {"nope": 1}})


def test_sections_given_to_two_run_configs_are_decided_by_each() -> None:
    """A RunConfig decides the recipe's fields in its own copies of the sections it is given:
    the same sections reused for another loss network get that network's recipe."""
    from tf_stylefusion.config import DataConfig, LossConfig, TrainConfig

    generator, data, training = GeneratorConfig(), DataConfig(content="photos"), TrainConfig()
    offline = RunConfig(generator=generator, losses=LossConfig(loss_network="random"), data=data,
                        training=training)
    imagenet = RunConfig(generator=generator, losses=LossConfig(loss_network="imagenet"), data=data,
                         training=training)
    assert imagenet.to_dict() == RunConfig(data=DataConfig(content="photos")).to_dict()
    assert offline.data.teacher == "synthesis" and offline.generator.color_norm
    assert data.teacher is None and generator.color_norm is None and training.d_learning_rate is None


def test_every_setting_has_its_field_range_override_and_flag() -> None:
    from dataclasses import fields

    assert {f.name for f in fields(GeneratorSettings)} == set(SETTING_BOUNDS)
    assert set(SETTING_BOUNDS) <= {f.name for f in fields(GeneratorConfig)}
    for command in (["stylize", "p.png", "--out", "o"], ["export", "--tflite", "t"]):
        args = cli.build_parser().parse_args(command)
        assert cli._generator_settings(args) == GeneratorSettings()  # no flag: nothing overridden
        for name, bound in SETTING_BOUNDS.items():
            given = cli.build_parser().parse_args([*command, bound.flag, str(bound.high)])
            assert getattr(cli._generator_settings(given), name) == bound.high

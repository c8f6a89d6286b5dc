"""The style pack's training script: its configuration (the training itself is too slow to test)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_script():
    spec = importlib.util.spec_from_file_location("train_style_pack", ROOT / "scripts" / "train_style_pack.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_pack_config_names_the_bundled_paintings_and_its_warm_up_stage(tmp_path) -> None:
    script = load_script()
    cfg, spec = script.pack_config("photos")
    assert [Path(s).name for s in cfg.data.styles] == spec["styles"]
    assert all(Path(s).is_file() for s in cfg.data.styles)  # package data, not ../shared
    warm = script.warmup_config(cfg, spec)
    assert warm is not None and warm.training.steps == spec["warmup"]["steps"] < cfg.training.steps
    assert warm.training.encoder_steps == 0
    for name, value in spec["warmup"]["losses"].items():
        assert getattr(warm.losses, name) == value != getattr(cfg.losses, name)
    # everything else is the run's own
    same = {k: v for k, v in cfg.to_dict()["losses"].items() if k not in spec["warmup"]["losses"]}
    assert same.items() <= warm.to_dict()["losses"].items()
    assert warm.to_dict()["generator"] == cfg.to_dict()["generator"]
    # a spec without a warm-up has none; a session stopped early (--steps) stops it there too
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({k: v for k, v in spec.items() if k != "warmup"}))
    assert script.warmup_config(*script.pack_config("photos", path)) is None
    cfg.training.steps = 300
    assert script.warmup_config(cfg, spec).training.steps == 300


def test_install_gives_the_installed_generator_the_config_s_flat_guard(tmp_path, monkeypatch) -> None:
    import numpy as np

    import tf_stylefusion.pretrained as pretrained
    from tf_stylefusion.config import RunConfig
    from tf_stylefusion.model_io import TEXTURES_FILE, load_generator, save_textures
    from tf_stylefusion.models.generator import StyleFusionGenerator

    script = load_script()
    run = tmp_path / "run"
    run.mkdir()
    trained = StyleFusionGenerator(2, style_names=["a", "b"], filters=(8, 12, 16), num_res_blocks=1)
    trained.save(run / "generator.keras")
    cfg = RunConfig()
    cfg.generator = trained.config
    cfg.to_json(run / "config.json")
    tiles = np.random.default_rng(0).normal(0, 0.1, (2, 24, 24, 3)).astype(np.float32)
    save_textures(run / TEXTURES_FILE, tiles, ["a", "b"])
    monkeypatch.setattr(pretrained, "pack_dir", lambda required=True: tmp_path / "pack")
    dest = script.install(run, {"install": {"flat_guard": 0.03}})
    installed = load_generator(dest)
    assert installed.config.flat_guard == 0.03 and trained.config.flat_guard == 0.0
    np.testing.assert_allclose(installed.textures.numpy(), tiles, atol=0.003)  # the run's tiles came along
    assert all(np.array_equal(a, b) for a, b in zip(installed.get_weights(), trained.get_weights()))
    assert RunConfig.from_json(dest / "config.json").generator.flat_guard == 0.03
    assert (dest / "PACK.md").is_file() and not (tmp_path / "pack.tmp").exists()

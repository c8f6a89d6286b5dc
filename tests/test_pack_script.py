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

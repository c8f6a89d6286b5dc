"""The ready-made style pack: its recipe, its training stages and its install into the package.

    stylefusion pack train   --content PHOTOS --run RUN   # resumes: stop and start it at will
    stylefusion pack finish  --content PHOTOS --run RUN   # the style encoder on the last generator
    stylefusion pack harden  --content PHOTOS --run RUN   # tolerate 8-bit activations (int8 export)
    stylefusion pack install --run RUN                    # into tf_stylefusion/pretrained/pack/

The recipe is ``tf_stylefusion/pretrained/style_pack.json`` (package data; ``--recipe FILE`` takes
another): a ``RunConfig`` in JSON under ``run``, the bundled paintings under ``styles`` (file names in
``tf_stylefusion/samples/style``) and the stages around it: ``warmup`` (the first ``steps`` trained
with its ``losses`` fields instead of the run's), ``encoder_steps``, ``noise_tolerance``
(``NoiseToleranceConfig``) and ``install`` (``flat_guard``: the gate the installed generator gets,
which has no weights). Each stage is an ordinary ``train()`` run folder, so re-running a command
resumes from its last checkpoint; each stage's start and stop, with the machine, are appended to
a log (``pack_log.txt`` in the run folder unless another is given).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..config import GeneratorSettings, RunConfig
from ..data.samples import samples_dir
from ..errors import ConfigError, ModelFileError
from ..fileutil import atomic_dir
from ..machine import machine_line
from ..model_io import (
    CHECKPOINTS_DIR,
    CONFIG_FILE,
    ENCODER_FILE,
    GENERATOR_FILE,
    TEXTURES_FILE,
    load_generator,
)
from ..pretrained import pack_dir, pack_recipe_path
from .noise_tolerance import NoiseToleranceConfig
from .run import TrainResult

log = logging.getLogger(__name__)

# `harden` keeps the generator as trained beside its hardened copy, and always starts from it.
FLOAT_GENERATOR = "generator.float.keras"
LOG_FILE = "pack_log.txt"
PACK_NOTE = "PACK.md"
RECIPE_KEYS = {"styles", "run", "encoder_steps", "warmup", "install", "noise_tolerance"}


@dataclass
class PackRecipe:
    """How the pack is made: the run's config and the stages around it (``style_pack.json``)."""

    styles: list[str]
    run: RunConfig
    encoder_steps: int = 0
    warmup_steps: int = 0
    warmup_losses: dict[str, Any] = field(default_factory=dict)
    # Set on the installed generator (None: as trained).
    install_flat_guard: float | None = None
    noise_tolerance: NoiseToleranceConfig = field(default_factory=NoiseToleranceConfig)
    source: str = ""  # the file it was read from, named in the log

    @classmethod
    def from_json(cls, path: str | Path | None = None) -> "PackRecipe":
        """The recipe in ``path`` (default: the shipped one)."""
        path = Path(path) if path is not None else pack_recipe_path()
        try:
            spec = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise ConfigError(f"{path}: no such pack recipe; pass --recipe FILE") from e
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}: not JSON ({e}); fix the file or pass another --recipe") from e
        unknown = set(spec) - RECIPE_KEYS
        if unknown or "styles" not in spec or "run" not in spec:
            raise ConfigError(f"{path}: a pack recipe has 'styles' and 'run' and only {sorted(RECIPE_KEYS)}"
                              + (f"; unknown: {sorted(unknown)}" if unknown else ""))
        warm = spec.get("warmup") or {}
        try:
            return cls(styles=list(spec["styles"]), run=RunConfig.from_dict(spec["run"]),
                       encoder_steps=int(spec.get("encoder_steps", 0)),
                       warmup_steps=int(warm.get("steps", 0)), warmup_losses=dict(warm.get("losses", {})),
                       install_flat_guard=spec.get("install", {}).get("flat_guard"),
                       noise_tolerance=NoiseToleranceConfig(**spec.get("noise_tolerance", {})),
                       source=str(path))
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{path}: {e}") from e

    def style_paths(self) -> list[Path]:
        """The recipe's paintings, from the package's bundled samples."""
        folder = samples_dir() / "style"
        missing = [name for name in self.styles if not (folder / name).is_file()]
        if missing:
            raise ConfigError(f"the pack recipe names paintings that are not in {folder}: {missing}")
        return [folder / name for name in self.styles]

    def run_config(self, content: str | Path) -> RunConfig:
        """The run's config with ``content`` as its photos and the recipe's paintings as styles."""
        config = copy.deepcopy(self.run)  # callers change its steps
        config.data = dataclasses.replace(config.data, content=str(content),
                                          styles=[str(p) for p in self.style_paths()])
        return config


def warmup_config(config: RunConfig, recipe: PackRecipe) -> RunConfig | None:
    """``config`` for the warm-up stage (the recipe's ``warmup_losses``, no encoder, at most
    ``config``'s steps), or None when the recipe has none."""
    if not recipe.warmup_steps:
        return None
    d = config.to_dict()
    d["losses"].update(recipe.warmup_losses)
    d["training"].update(steps=min(recipe.warmup_steps, config.training.steps), encoder_steps=0)
    return RunConfig.from_dict(d)


def log_to(path: str | Path | None) -> Callable[[str], None]:
    """A sink for the stages' lines: the logger, and appended to ``path`` when given."""
    def note(text: str) -> None:
        log.info("%s", text)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as f:
                f.write(text.rstrip() + "\n")
    return note


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


def checkpoint_step(run_dir: str | Path) -> int:
    """The step of the run's last checkpoint (0 when it has none)."""
    import tensorflow as tf

    latest = tf.train.latest_checkpoint(str(Path(run_dir) / CHECKPOINTS_DIR))
    return int(latest.rsplit("-", 1)[1]) if latest else 0


def _drop_stale_float_copy(run_dir: Path, steps: int, note: Callable[[str], None]) -> None:
    # Training on past a hardened run rewrites its generator, so the float copy `harden` starts
    # from is older: remove it, and the next `harden` takes the new generator.
    original = run_dir / FLOAT_GENERATOR
    if original.is_file() and steps > checkpoint_step(run_dir):
        original.unlink()
        note(f"  {original.name} removed: training goes on past the generator it held")


def train_pack(recipe: PackRecipe, content: str | Path, run_dir: str | Path, steps: int | None = None,
               note: Callable[[str], None] | None = None, verbose: int | str = 2) -> TrainResult:
    """Train (or resume) the pack's run up to ``steps`` (default: the recipe's): the warm-up
    stage first, then the run's own losses; the style encoder once the run's last step is reached."""
    from .run import train

    run_dir = Path(run_dir)
    note = note or log_to(run_dir / LOG_FILE)
    cfg = recipe.run_config(content)
    target = cfg.training.steps
    if steps is not None:
        if steps < 1:
            raise ConfigError(f"--steps must be ≥ 1, got {steps}")
        cfg.training.steps = min(steps, target)
    cfg.training.encoder_steps = recipe.encoder_steps if cfg.training.steps == target else 0
    start = time.time()
    # Trial runs may share a log with the shipped pack's: every start names its run and machine.
    note(f"{_now()} start: steps -> {cfg.training.steps} of {target}; run {run_dir}, recipe "
         f"{Path(recipe.source).name or 'as given'}; {machine_line()}")
    result = None
    warm = warmup_config(cfg, recipe)
    if warm is not None and checkpoint_step(run_dir) < warm.training.steps:
        note(f"  warm-up to step {warm.training.steps} with {recipe.warmup_losses}")
        _drop_stale_float_copy(run_dir, warm.training.steps, note)
        result = train(warm, run_dir, verbose=verbose)
    if result is None or cfg.training.steps > warm.training.steps:
        _drop_stale_float_copy(run_dir, cfg.training.steps, note)
        result = train(cfg, run_dir, verbose=verbose)
    note(f"{_now()} stop at step {result.steps} (resumed from {result.resumed_from}) after "
         f"{time.time() - start:.0f} s" + _encoder_words(result))
    return result


def _encoder_words(result: TrainResult) -> str:
    psnr = result.encoder_reconstruction_psnr
    return "" if psnr is None else f"; encoder reconstruction {psnr:.1f} dB"


def finish_pack(recipe: PackRecipe, content: str | Path, run_dir: str | Path,
                note: Callable[[str], None] | None = None, verbose: int | str = 2) -> TrainResult:
    """Train the style encoder again on the last checkpoint's generator, wherever training stopped.

    ``train()`` keeps an encoder it finds and re-saves the checkpoint's generator, so the old
    encoder is set aside (put back if training fails) and a hardened generator is kept."""
    from .run import train

    run_dir = Path(run_dir)
    note = note or log_to(run_dir / LOG_FILE)
    if not checkpoint_step(run_dir):
        raise ModelFileError(f"{run_dir}: no checkpoint to finish; run `stylefusion pack train` first")
    cfg = recipe.run_config(content)
    cfg.training.steps = 1  # at or below the checkpoint: no GAN steps, straight to the encoder
    cfg.training.encoder_steps = recipe.encoder_steps
    start = time.time()
    note(f"{_now()} start: finish at the last checkpoint; run {run_dir}; {machine_line()}")
    encoder, generator = run_dir / ENCODER_FILE, run_dir / GENERATOR_FILE
    hardened = (run_dir / FLOAT_GENERATOR).is_file() and generator.is_file()
    kept = {path: path.with_name(path.name + ".kept") for path in (encoder, generator)
            if path.is_file() and (path == encoder or hardened)}
    for path, aside in kept.items():
        shutil.copy2(path, aside)
    encoder.unlink(missing_ok=True)
    try:
        result = train(cfg, run_dir, verbose=verbose)
    except BaseException:
        for path, aside in kept.items():
            os.replace(aside, path)
        raise
    if generator in kept:
        os.replace(kept[generator], generator)
    if encoder in kept:
        kept[encoder].unlink()
    # The config train() wrote (it holds the style names) records the steps its generator had.
    saved = RunConfig.from_json(run_dir / CONFIG_FILE)
    saved.training.steps = result.steps
    saved.to_json(run_dir / CONFIG_FILE)
    note(f"{_now()} stop at step {result.steps} after {time.time() - start:.0f} s" + _encoder_words(result))
    return result


def harden_pack(recipe: PackRecipe, content: str | Path, run_dir: str | Path,
                note: Callable[[str], None] | None = None) -> Path:
    """Replace the run's generator by its noise-tolerant copy (``training/noise_tolerance.py``,
    the recipe's ``noise_tolerance``), keeping the generator as trained as ``generator.float.keras``,
    the starting point of every hardening."""
    from ..data.images import BadFiles, list_images
    from ..data.pipelines import load_or_report
    from .callbacks import save_generator
    from .noise_tolerance import harden_for_integer

    run_dir = Path(run_dir)
    note = note or log_to(run_dir / LOG_FILE)
    original = run_dir / FLOAT_GENERATOR
    if not original.is_file():
        if not (run_dir / GENERATOR_FILE).is_file():
            raise ModelFileError(f"{run_dir / GENERATOR_FILE}: missing; run `stylefusion pack train` first")
        shutil.copy2(run_dir / GENERATOR_FILE, original)
    start = time.time()
    note(f"{_now()} start: noise tolerance for int8; run {run_dir}; {machine_line()}")
    bad = BadFiles()
    photos = [im for path in list_images(content) if (im := load_or_report(path, bad, 1024)) is not None]
    if len(bad):
        note("  " + bad.summary())
    note(f"  noise tolerance: {recipe.noise_tolerance}; {len(photos)} photos")
    student, _ = harden_for_integer(load_generator(original), photos, recipe.noise_tolerance,
                                    on_log=lambda text: note("  " + text))
    save_generator(student, run_dir / GENERATOR_FILE)
    note(f"{_now()} stop: noise tolerance after {time.time() - start:.0f} s")
    return run_dir / GENERATOR_FILE


def write_pack_textures(folder: str | Path, recipe: PackRecipe) -> Path:
    """Each of the recipe's styles' brushwork tile (models/texture.py), cut from its bundled
    painting alone (no training), into ``folder``'s ``textures.npz``."""
    from ..data.images import BadFiles
    from ..data.pipelines import resolve_styles
    from .run import write_run_textures

    sources = resolve_styles([str(p) for p in recipe.style_paths()])
    write_run_textures(Path(folder), sources, [s.name for s in sources], BadFiles())
    return Path(folder) / TEXTURES_FILE


def install_pack(run_dir: str | Path, recipe: PackRecipe, dest: str | Path | None = None) -> Path:
    """Copy the run's generator, style encoder, config and tiles into ``dest`` (default: the
    package's ``pretrained/pack/``) in one atomic swap, with the recipe's flat guard set on the
    installed generator and a ``PACK.md`` naming its styles."""
    from .callbacks import save_generator

    run_dir = Path(run_dir)
    if not (run_dir / GENERATOR_FILE).is_file():
        raise ModelFileError(f"{run_dir / GENERATOR_FILE}: missing; give the --run folder the pack trained in")
    dest = Path(dest) if dest is not None else pack_dir(required=False)
    with atomic_dir(dest) as tmp:
        for name in (GENERATOR_FILE, ENCODER_FILE, CONFIG_FILE, TEXTURES_FILE):
            if (run_dir / name).is_file():
                shutil.copy2(run_dir / name, tmp / name)
        if not (tmp / TEXTURES_FILE).is_file():  # a run trained before tiles existed
            write_pack_textures(tmp, recipe)
        generator = load_generator(tmp)
        if recipe.install_flat_guard is not None:
            generator = generator.copy(GeneratorSettings(flat_guard=recipe.install_flat_guard))
            save_generator(generator, tmp / GENERATOR_FILE)
            if (tmp / CONFIG_FILE).is_file():
                saved = RunConfig.from_json(tmp / CONFIG_FILE)
                saved.generator = dataclasses.replace(saved.generator, flat_guard=generator.config.flat_guard)
                saved.to_json(tmp / CONFIG_FILE)
        (tmp / PACK_NOTE).write_text(
            "# The ready-made style pack\n\n"
            f"Styles: {', '.join(generator.style_names)}.\n\n"
            "Made by `stylefusion pack train|finish|harden|install` with the recipe "
            "`tf_stylefusion/pretrained/style_pack.json`; log, meter table and contact sheet in "
            "`docs/style_pack/`. The paintings are public domain (see "
            "`tf_stylefusion/samples/SOURCES.md`).\n", encoding="utf-8")
    return dest

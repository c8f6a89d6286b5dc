"""Train the ready-made style pack and install it as package data.

    bash scripts/gather_pack_content.sh pack_content          # training photos (once)
    python scripts/train_style_pack.py --content pack_content --run ~/stylepack_run
    python scripts/train_style_pack.py --content pack_content --run ~/stylepack_run --finish
    python scripts/train_style_pack.py --content pack_content --run ~/stylepack_run --harden
    python scripts/train_style_pack.py --content pack_content --run ~/stylepack_run --install
    python scripts/train_style_pack.py --content pack_content --run ~/stylepack_run --textures  # tiles only

The config is ``scripts/style_pack.json`` (a RunConfig in JSON, plus the encoder stage's steps and
an optional ``warmup``: the first ``steps`` trained with its ``losses`` fields instead).
Training is an ordinary `train()` run folder, so re-running the same command resumes from the last
checkpoint: run it in the background for hours, stop it, and start it again later. Every session
appends to ``docs/style_pack/train_log.txt``. ``--finish`` trains the style encoder (again) on the
last checkpoint's generator, keeping a hardened generator; ``--harden`` then fine-tunes that
generator to tolerate 8-bit activations (``training/noise_tolerance.py``, the config's
``noise_tolerance`` section; it always starts from ``generator.float.keras``, the generator as
trained, kept beside it). ``--install`` copies the finished generator, its style encoder and
config into ``tf_stylefusion/pretrained/pack/`` (atomically) with each style's brushwork tile
(``textures.npz``: cut from its painting, models/texture.py) and writes the pack's provenance
beside them; ``--textures`` writes only the tiles into the installed pack; the config's
``install`` section sets what the installed generator gets that has no weights (``flat_guard``:
the gate that keeps flat skies flat, `GeneratorConfig.flat_guard`).
Measure it with ``scripts/measure_style_pack.py``.

The pack is trained offline with the random loss network (the recipe ``--loss-network random``
selects), on photos none of which is a development photo of ``../shared/images/content``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "scripts" / "style_pack.json"
LOG = ROOT / "docs" / "style_pack" / "train_log.txt"
sys.path.insert(0, str(ROOT / "scripts"))


def pack_config(content: str, path: Path = CONFIG):
    """The pack's RunConfig: ``style_pack.json`` with the bundled paintings as styles."""
    from tf_stylefusion.config import RunConfig
    from tf_stylefusion.data.samples import samples_dir

    spec = json.loads(path.read_text())
    styles = [str(samples_dir() / "style" / name) for name in spec["styles"]]
    d = spec["run"]
    d["data"] = {**d.get("data", {}), "content": content, "styles": styles}
    return RunConfig.from_dict(d), spec


def warmup_config(cfg, spec: dict):
    """The run's config for the warm-up stage (``spec["warmup"]``: its steps and the loss fields
    it trains with instead of the run's), or None without one."""
    from tf_stylefusion.config import RunConfig

    warm = spec.get("warmup")
    if not warm:
        return None
    d = cfg.to_dict()
    d["losses"].update(warm.get("losses", {}))
    d["training"].update(steps=min(int(warm["steps"]), cfg.training.steps), encoder_steps=0)
    return RunConfig.from_dict(d)


def log_line(text: str) -> None:
    LOG.parent.mkdir(parents=True, exist_ok=True)
    with open(LOG, "a", encoding="utf-8") as f:
        f.write(text.rstrip() + "\n")
    print(text)


def machine() -> str:
    from timing import machine_line  # scripts/timing.py

    return machine_line()


def install(run_dir: Path, spec: dict) -> Path:
    """Copy the run's generator, encoder and config into the package, atomically (a temp folder
    renamed over the old pack)."""
    from tf_stylefusion.model_io import (
        CONFIG_FILE,
        ENCODER_FILE,
        GENERATOR_FILE,
        TEXTURES_FILE,
        load_generator,
    )
    from tf_stylefusion.pretrained import pack_dir

    dest = pack_dir(required=False)
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in (GENERATOR_FILE, ENCODER_FILE, CONFIG_FILE, TEXTURES_FILE):
        if (run_dir / name).is_file():
            shutil.copy2(run_dir / name, tmp / name)
    if not (tmp / TEXTURES_FILE).is_file() and spec.get("styles"):  # a run trained before tiles existed
        write_textures(tmp, spec)
    generator = load_generator(tmp)
    guard = spec.get("install", {}).get("flat_guard")
    if guard is not None:
        from tf_stylefusion.config import GeneratorSettings, RunConfig
        from tf_stylefusion.training.callbacks import save_generator

        generator = generator.copy(GeneratorSettings(flat_guard=guard))
        save_generator(generator, tmp / GENERATOR_FILE)
        if (tmp / CONFIG_FILE).is_file():
            saved = RunConfig.from_json(tmp / CONFIG_FILE)
            saved.generator.flat_guard = generator.config.flat_guard
            saved.to_json(tmp / CONFIG_FILE)
    (tmp / "PACK.md").write_text(
        "# The ready-made style pack\n\n"
        f"Styles: {', '.join(generator.style_names)}.\n\n"
        "Trained by `scripts/train_style_pack.py` with `scripts/style_pack.json`; log, meter table and "
        "contact sheet in `docs/style_pack/`. The paintings are public domain (see "
        "`tf_stylefusion/samples/SOURCES.md`).\n")
    old = dest.with_name(dest.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        os.replace(dest, old)
    os.replace(tmp, dest)
    shutil.rmtree(old, ignore_errors=True)
    return dest


def write_textures(folder: Path, spec: dict) -> Path:
    """Each pack style's brushwork tile (models/texture.py) from its bundled painting, into
    ``folder``'s ``textures.npz``: computed from the paintings alone, no training."""
    from tf_stylefusion.data.images import BadFiles
    from tf_stylefusion.data.pipelines import resolve_styles
    from tf_stylefusion.data.samples import samples_dir
    from tf_stylefusion.model_io import TEXTURES_FILE
    from tf_stylefusion.training.run import write_run_textures

    sources = resolve_styles([str(samples_dir() / "style" / name) for name in spec["styles"]])
    write_run_textures(folder, sources, [s.name for s in sources], BadFiles())
    return folder / TEXTURES_FILE


FLOAT_GENERATOR = "generator.float.keras"


def harden(run_dir: Path, content: str, spec: dict) -> None:
    """Replace the run's generator by its noise-tolerant copy (the original kept as
    ``generator.float.keras``, and always the starting point)."""
    from tf_stylefusion.data.images import BadFiles, list_images
    from tf_stylefusion.data.pipelines import load_or_report
    from tf_stylefusion.model_io import GENERATOR_FILE, load_generator
    from tf_stylefusion.training.callbacks import save_generator
    from tf_stylefusion.training.noise_tolerance import NoiseToleranceConfig, harden_for_integer

    original = run_dir / FLOAT_GENERATOR
    if not original.is_file():
        shutil.copy2(run_dir / GENERATOR_FILE, original)
    bad = BadFiles()
    photos = [im for path in list_images(content) if (im := load_or_report(path, bad, 1024)) is not None]
    if len(bad):
        log_line("  " + bad.summary())
    config = NoiseToleranceConfig(**spec.get("noise_tolerance", {}))
    log_line(f"  noise tolerance: {config}; {len(photos)} photos")
    student, _ = harden_for_integer(load_generator(original), photos, config, on_log=lambda t: log_line("  " + t))
    save_generator(student, run_dir / GENERATOR_FILE)


def checkpoint_step(run_dir: Path) -> int:
    """The step of the run's last checkpoint (0 when it has none)."""
    import tensorflow as tf

    from tf_stylefusion.model_io import CHECKPOINTS_DIR

    latest = tf.train.latest_checkpoint(str(run_dir / CHECKPOINTS_DIR))
    return int(latest.rsplit("-", 1)[1]) if latest else 0


def drop_stale_float_copy(run_dir: Path, steps: int) -> None:
    """Training on past a hardened run rewrites its generator, so the float copy ``--harden``
    starts from is an older generator: remove it, and the next ``--harden`` takes the new one."""
    original = run_dir / FLOAT_GENERATOR
    if original.is_file() and steps > checkpoint_step(run_dir):
        original.unlink()
        log_line(f"  {original.name} removed: training goes on past the generator it held")


def finish(cfg, run_dir: Path):
    """Train the style encoder again on the last checkpoint's generator. ``train()`` keeps an
    encoder it finds and re-saves the checkpoint's generator, so the old encoder is set aside (put
    back if training fails) and a hardened generator (``--harden`` ran) is kept."""
    from tf_stylefusion import train
    from tf_stylefusion.model_io import ENCODER_FILE, GENERATOR_FILE

    encoder, generator = run_dir / ENCODER_FILE, run_dir / GENERATOR_FILE
    hardened = (run_dir / FLOAT_GENERATOR).is_file() and generator.is_file()
    kept = {path: path.with_name(path.name + ".kept") for path in (encoder, generator)
            if path.is_file() and (path == encoder or hardened)}
    for path, aside in kept.items():
        shutil.copy2(path, aside)
    encoder.unlink(missing_ok=True)
    try:
        result = train(cfg, run_dir, verbose=2)
    except BaseException:
        for path, aside in kept.items():
            os.replace(aside, path)
        raise
    if generator in kept:
        os.replace(kept[generator], generator)
    if encoder in kept:
        kept[encoder].unlink()
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--content", required=True, help="training photos (scripts/gather_pack_content.sh)")
    p.add_argument("--run", required=True, help="run folder (resumed if it exists)")
    p.add_argument("--config", default=str(CONFIG))
    p.add_argument("--steps", type=int, default=None, help="stop at this step this session (default: the config's)")
    p.add_argument("--finish", action="store_true",
                   help="stop where the last checkpoint is: train the style encoder on that generator")
    p.add_argument("--harden", action="store_true",
                   help="fine-tune the finished generator to tolerate 8-bit activations (int8 export)")
    p.add_argument("--install", action="store_true", help="copy the finished run into the package")
    p.add_argument("--textures", action="store_true",
                   help="write the styles' brushwork tiles into the installed pack only (for a pack "
                        "installed before tiles existed; --install writes them too)")
    a = p.parse_args()

    from tf_stylefusion import train

    cfg, spec = pack_config(a.content, Path(a.config))
    run_dir = Path(a.run)
    if a.textures:
        from tf_stylefusion.pretrained import pack_dir

        path = write_textures(pack_dir(), spec)
        log_line(f"{time.strftime('%Y-%m-%d %H:%M:%S')} brushwork tiles written to the installed pack: "
                 f"{path.name}, {path.stat().st_size} bytes; {machine()}")
        return
    if a.install:
        print(f"installed the pack: {install(run_dir, spec)}")
        return
    # Trial runs share this log with the shipped pack's: every start names its run and config.
    where = f"run {run_dir}, config {Path(a.config).name}; {machine()}"
    if a.harden:
        start = time.time()
        log_line(f"{time.strftime('%Y-%m-%d %H:%M:%S')} start: noise tolerance for int8; {where}")
        harden(run_dir, a.content, spec)
        log_line(f"{time.strftime('%Y-%m-%d %H:%M:%S')} stop: noise tolerance after {time.time() - start:.0f} s")
        return
    target = cfg.training.steps
    if a.steps is not None:
        cfg.training.steps = min(a.steps, target)
    if a.finish:
        cfg.training.steps = 1  # at or below the checkpoint: no GAN steps, straight to the encoder
    start = time.time()
    log_line(f"{time.strftime('%Y-%m-%d %H:%M:%S')} start: "
             + ("finish at the last checkpoint" if a.finish else f"steps -> {cfg.training.steps} of {target}")
             + f"; {where}")
    cfg.training.encoder_steps = spec.get("encoder_steps", 0) if a.finish or cfg.training.steps == target else 0
    if a.finish:
        result = finish(cfg, run_dir)
    else:
        warm = warmup_config(cfg, spec)
        if warm is not None and checkpoint_step(run_dir) < warm.training.steps:
            log_line(f"  warm-up to step {warm.training.steps} with {spec['warmup'].get('losses', {})}")
            drop_stale_float_copy(run_dir, warm.training.steps)
            result = train(warm, run_dir, verbose=2)
        if warm is None or cfg.training.steps > warm.training.steps:
            drop_stale_float_copy(run_dir, cfg.training.steps)
            result = train(cfg, run_dir, verbose=2)
    if a.finish:  # the run's config records the steps its generator really had
        from tf_stylefusion.config import RunConfig

        # Edit the config train() wrote (it holds the style names), not this script's copy.
        saved = RunConfig.from_json(run_dir / "config.json")
        saved.training.steps = result.steps
        saved.to_json(run_dir / "config.json")
    log_line(f"{time.strftime('%Y-%m-%d %H:%M:%S')} stop at step {result.steps} "
             f"(resumed from {result.resumed_from}) after {time.time() - start:.0f} s"
             + (f"; encoder reconstruction {result.encoder_reconstruction_psnr:.1f} dB"
                if result.encoder_reconstruction_psnr is not None else ""))


if __name__ == "__main__":
    main()

"""A pack trial from one starting point: the installed pack's generator trained more steps with the
pack's run config (``scripts/style_pack.json``) and the changes given, in a new run folder.

    python scripts/pack_polish_trial.py --content pack_content --run /tmp/polish_tv10 \\
        --steps 400 --set losses.tv_weight=10
    python scripts/measure_style_pack.py --model /tmp/polish_tv10 --out /tmp/m --docs /tmp/m_docs

Every trial starts from the same weights with a fresh Adam, so two trials differ only by their
``--set`` lines: a way to ask what a lever does at the pack's stage in minutes instead of a
retrain (docs/recipe.md, eighteenth session). The generator is saved without the flat guard,
as training leaves it. Trials do not touch the package or the pack's training log.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from recipe_ablation import apply_overrides  # noqa: E402
from train_style_pack import pack_config  # noqa: E402


def seed_run(cfg, run_dir: Path) -> None:
    """A first checkpoint in ``run_dir`` holding the installed pack's generator."""
    import tensorflow as tf

    from tf_stylefusion.data import pipelines as data_lib
    from tf_stylefusion.data.images import BadFiles
    from tf_stylefusion.model_io import load_generator
    from tf_stylefusion.pretrained import pack_dir
    from tf_stylefusion.training.run import CHECKPOINTS_DIR, build_gan, style_sources, training_checkpoint

    sources = style_sources(cfg.data)
    names = [s.name for s in sources]
    installed = load_generator(pack_dir())
    if list(installed.style_names) != names:
        raise SystemExit(f"the config's styles {names} are not the installed pack's {installed.style_names}")
    cfg = dataclasses.replace(cfg, generator=dataclasses.replace(cfg.generator, num_styles=len(names),
                                                                   style_names=names))
    gan = build_gan(cfg, data_lib.load_style_images(sources, cfg.data.style_size, BadFiles()))
    gan.generator.set_weights(installed.get_weights())
    tf.train.CheckpointManager(training_checkpoint(gan), str(run_dir / CHECKPOINTS_DIR), max_to_keep=3).save()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--content", required=True, help="training photos (scripts/gather_pack_content.sh)")
    p.add_argument("--run", required=True, help="a new run folder (resumed if it holds this trial)")
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--config", default=str(ROOT / "scripts" / "style_pack.json"))
    p.add_argument("--set", action="append", default=[], metavar="section.FIELD=VALUE",
                   help="a change to the pack's run config, e.g. losses.loss_network=random-wide (repeat)")
    a = p.parse_args()

    from tf_stylefusion import train
    from tf_stylefusion.training.run import CHECKPOINTS_DIR

    cfg, _ = pack_config(a.content, Path(a.config))
    cfg = apply_overrides(cfg, a.set)
    cfg.training.steps, cfg.training.encoder_steps = a.steps, 0
    run_dir = Path(a.run)
    if not (run_dir / CHECKPOINTS_DIR).exists():
        seed_run(cfg, run_dir)
    start = time.time()
    result = train(cfg, run_dir, verbose=2)
    print(f"{run_dir}: {result.steps} steps from the installed pack ({' '.join(a.set) or 'the pack config'}) "
          f"in {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()

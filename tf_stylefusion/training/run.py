"""``train()``: everything from a RunConfig to a trained generator in a run folder.

Run folder layout::

    config.json        the RunConfig (style names filled in)
    splits.json        the content files used for training, validation and test (held out)
    generator.keras    the latest generator (updated at every checkpoint)
    style_encoder.keras  the StyleEncoder (only with ``encoder_steps`` > 0, or copied from a base model)
    checkpoints/       G, D and both optimizers, for resume
    samples/           sample grids (PNG); tensorboard/ scalars and images
    bad_files.txt      every input that was skipped, and why (only if any)
    teacher/           the teacher's pictures (only with a teacher; training/teacher.py)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf

from ..config import DataConfig, RunConfig, TrainConfig
from ..data import pipelines as data_lib
from ..data.images import BadFiles, list_images
from ..errors import ConfigError
from ..fileutil import atomic_write_bytes, atomic_write_text
from ..model_io import (
    BAD_FILES_FILE,
    CHECKPOINTS_DIR,
    CONFIG_FILE,
    ENCODER_FILE,
    GENERATOR_FILE,
    HISTORY_FILE,
    SPLITS_FILE,
    TENSORBOARD_DIR,
    TEXTURES_FILE,
    WORKERS_DIR,
    save_textures,
)
from ..models.discriminator import PatchDiscriminator
from ..models.generator import StyleFusionGenerator
from ..models.loss_networks import inception_features, vgg_features
from ..models.texture import TEXTURE_SCALE, painting_texture
from .callbacks import CheckpointEvery, SampleImages, save_generator
from .color_init import init_color_norm
from .custom_loop import needs_custom_loop, strategy_fit
from .distribute import is_chief, make_strategy, precision_policy, wrap_optimizer
from .gan import StyleFusionGAN, StyleTargets
from .noise_tolerance import NoiseToleranceConfig, harden_for_integer
from .style_encoder_stage import EncoderConfig, fit_style_encoder, save_style_encoder
from .teacher import choose_photos, teacher_dataset, teacher_set

log = logging.getLogger(__name__)

SAMPLE_COUNT = 4


@dataclass
class TrainResult:
    """What a finished ``train()`` returns."""

    run_dir: Path
    generator: StyleFusionGenerator
    history: dict[str, list[float]]
    steps: int
    resumed_from: int
    seconds: float
    bad_files: list[tuple[str, str]]
    # PSNR (dB) of the content reproduced from its own encoded row (strength 0 without anchoring),
    # on the validation photos (on the encoder's training crops when the run has no validation split).
    encoder_reconstruction_psnr: float | None = None


class StopAtStep(keras.callbacks.Callback):
    """Ends fit() exactly at ``last`` optimizer steps (epochs are checkpoint intervals)."""

    def __init__(self, step: tf.Variable, last: int):
        super().__init__()
        self.step, self.last = step, int(last)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if int(self.step.numpy()) >= self.last:
            self.model.stop_training = True


def _schedule_words(tc: TrainConfig) -> str:
    return "falls over the whole run" if optimizer_schedules(tc) else "is constant or falls over its last steps"


def _saved_run(run_dir: Path) -> RunConfig | None:
    """The config of the run ``run_dir`` holds, when it has checkpoints to resume; else None."""
    saved = run_dir / CONFIG_FILE
    if not saved.exists() or not (run_dir / CHECKPOINTS_DIR).exists():
        return None
    return RunConfig.from_json(saved)


def _resumed_teacher(run_dir: Path, config: RunConfig) -> RunConfig:
    """``config``, or with the saved run's teacher where ``config`` left the teacher to the recipe:
    a run saved before the offline recipe brought a teacher resumes as it started."""
    old = _saved_run(run_dir) if "teacher" in config.decided["data"] else None
    if old is None or old.data.teacher == config.data.teacher:
        return config
    log.info("resuming %s with its own teacher (%s)", run_dir, old.data.teacher or "none")
    return config.updated({"data": {"teacher": old.data.teacher}})


def _check_resume_compatible(run_dir: Path, config: RunConfig) -> None:
    old = _saved_run(run_dir)
    if old is None:
        return
    if dataclasses.asdict(old.generator) != dataclasses.asdict(config.generator):
        raise ConfigError(
            f"{run_dir} holds a run with styles {old.generator.style_names} and generator "
            f"{old.generator.filters}/{old.generator.num_res_blocks} blocks; this command asks for "
            f"{config.generator.style_names}. Use a new --out folder to start a different run.")
    if optimizer_schedules(old.training) != optimizer_schedules(config.training):
        raise ConfigError(
            f"{run_dir} holds a run whose learning rate {_schedule_words(old.training)}; this command "
            f"asks for one that {_schedule_words(config.training)}, which its saved optimizer cannot "
            f"resume. Keep its schedule, fall over the last steps only (--lr-decay-steps), or use a new --out folder.")
    if old.data.teacher != config.data.teacher:
        raise ConfigError(
            f"{run_dir} holds a run trained with teacher {old.data.teacher or 'none'!r}; this command asks "
            f"for {config.data.teacher or 'none'!r}. Pass the same --teacher to resume it, or use a new --out folder.")
    if old.losses.loss_network != config.losses.loss_network:
        raise ConfigError(
            f"{run_dir} holds a run trained with the loss network {old.losses.loss_network!r}; this "
            f"command asks for {config.losses.loss_network!r}. Pass --loss-network "
            f"{old.losses.loss_network} to resume it, or use a new --out folder.")


LR_FLOOR = 0.1  # the cosine schedule's last rate, as a fraction of the first


def optimizer_schedules(tc: TrainConfig) -> bool:
    """Whether the optimizers hold the schedule themselves (a whole-run cosine); otherwise they
    hold a rate variable, constant or set by ``LateCosine`` (the same checkpoint layout, so a
    constant-rate run can be resumed into its late fall)."""
    return tc.lr_schedule == "cosine" and tc.lr_decay_steps in (0, tc.steps)


def learning_rate(tc: TrainConfig, base: float) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """``base`` as the optimizer should hold it: a half cosine to ``LR_FLOOR × base`` at
    ``tc.steps`` (driven by the optimizer's own step counter, so a resumed run continues it), or
    the plain rate (``LateCosine`` moves it when the fall covers only the last steps)."""
    if optimizer_schedules(tc):
        return keras.optimizers.schedules.CosineDecay(base, decay_steps=tc.steps, alpha=LR_FLOOR)
    return base


def late_cosine_rate(tc: TrainConfig, base: float, step: int) -> float:
    """The rate at ``step`` when the cosine covers the last ``tc.lr_decay_steps`` steps."""
    start = tc.steps - tc.lr_decay_steps
    t = min(max(step - start, 0) / tc.lr_decay_steps, 1.0)
    return base * (LR_FLOOR + (1.0 - LR_FLOOR) * 0.5 * (1.0 + math.cos(math.pi * t)))


class LateCosine(keras.callbacks.Callback):
    """Sets the generator's and the bank's rates before each step (``late_cosine_rate``)."""

    def __init__(self, tc: TrainConfig, gan: "StyleFusionGAN"):
        super().__init__()
        self.tc, self.gan = tc, gan

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        step = int(self.gan.g_optimizer.iterations.numpy())
        base = self.tc.g_learning_rate
        self.gan.g_optimizer.learning_rate = late_cosine_rate(self.tc, base, step)
        if self.gan.bank_optimizer is not None:
            multiplier = self.tc.bank_learning_rate_multiplier
            self.gan.bank_optimizer.learning_rate = late_cosine_rate(self.tc, base * multiplier, step)


def build_gan(config: RunConfig, style_images: Sequence[Sequence[np.ndarray]],
              generator: StyleFusionGenerator | None = None,
              strategy: tf.distribute.Strategy | None = None) -> StyleFusionGAN:
    """Generator, discriminator, loss networks and style targets, compiled with two Adams,
    all created under ``strategy`` and the run's precision policy."""
    lc, tc = config.losses, config.training
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope(), precision_policy(tc.precision):
        vgg = vgg_features(lc.loss_network, tuple(lc.style_layers) + (lc.content_layer,), lc.seed)
        inception = (inception_features(lc.inception_network, lc.seed)
                     if lc.inception_weight > 0 else None)
        targets = StyleTargets.compute(vgg, style_images, len(lc.style_layers), inception,
                                        lc.style_statistic, lc.style_scales, lc.seed)
        generator = generator or StyleFusionGenerator.from_config_object(config.generator)
        dc = config.discriminator
        paired = bool(config.data.teacher)
        discriminator = PatchDiscriminator(generator.num_styles, dc.filters, dc.num_layers,
                                           dc.num_scales, dc.spectral_norm, conditional=paired)
        gan = StyleFusionGAN(generator, discriminator, vgg, targets, lc, tc.mix_fraction,
                             inception, seed=tc.seed, paired=paired)
        g_opt = wrap_optimizer(keras.optimizers.Adam(learning_rate(tc, tc.g_learning_rate)), tc.precision)
        d_opt = wrap_optimizer(keras.optimizers.Adam(tc.d_learning_rate, beta_1=0.5), tc.precision)
        bank_opt = None
        if tc.bank_learning_rate_multiplier != 1.0:
            bank_opt = wrap_optimizer(
                keras.optimizers.Adam(learning_rate(tc, tc.g_learning_rate * tc.bank_learning_rate_multiplier)),
                tc.precision)
        gan.compile(g_opt, d_opt, bank_opt)
        # Create optimizer slots now so a checkpoint restore finds every variable it saved.
        bank = generator.bank.table
        g_opt.build([v for v in generator.trainable_variables if bank_opt is None or v is not bank])
        if bank_opt is not None and bank.trainable:
            bank_opt.build([bank])
        d_opt.build(discriminator.trainable_variables)
    return gan


def training_checkpoint(gan: StyleFusionGAN) -> tf.train.Checkpoint:
    """What a run's checkpoints hold: both networks and every optimizer (resume needs them all)."""
    optimizers = {"g_optimizer": gan.g_optimizer, "d_optimizer": gan.d_optimizer}
    if gan.bank_optimizer is not None:
        optimizers["bank_optimizer"] = gan.bank_optimizer
    return tf.train.Checkpoint(generator=gan.generator, discriminator=gan.discriminator, **optimizers)


def _content_split(config: RunConfig, run_dir: Path) -> tuple[list[Path] | None, list[Path]]:
    spec = config.data.content
    if not spec:
        raise ConfigError("no content given: pass --content DIR or --content tfds:NAME")
    if spec.startswith(data_lib.TFDS_PREFIX):
        return None, []
    paths = list_images(spec)
    splits = data_lib.split_three(paths, config.data.validation_fraction, config.data.test_fraction,
                                  Path(spec), config.data.seed)
    record = {"content": spec, "train": [str(p) for p in splits.train],
              "validation": [str(p) for p in splits.validation], "test": [str(p) for p in splits.test]}
    atomic_write_text(run_dir / SPLITS_FILE, json.dumps(record, indent=1))
    return splits.train, splits.validation


def train(config: RunConfig, run_dir: str | Path, *, verbose: int | str = "auto",
          callbacks: Sequence[keras.callbacks.Callback] = ()) -> TrainResult:
    """Train (or resume, if ``run_dir`` holds checkpoints of the same run) and save the generator.

    A run that fails before its first checkpoint (no network for the ImageNet weights, a bad
    style file, an interrupted first step) removes what it wrote (and the folder, if it made it),
    so the next try starts clean; a failure after a checkpoint keeps the run for the same command
    to resume, and says so in a warning."""
    start = time.time()
    # First, before any TF op: multi-worker collectives can only be configured at startup.
    strategy = make_strategy(config.training.strategy)
    run_dir = Path(run_dir)
    existed = run_dir.exists()
    before = set(run_dir.iterdir()) if existed and run_dir.is_dir() else set()
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        return _train(config, run_dir, strategy, start, verbose, callbacks)
    except BaseException as e:
        if is_chief(strategy):
            _after_failure(run_dir, existed, before, e)
        raise


def _after_failure(run_dir: Path, existed: bool, before: set[Path], error: BaseException) -> None:
    """After a failed ``train``: with a checkpoint, say that the same command resumes it (unless
    the error was the user's, which says what to do itself); without one, remove what the run
    put into its folder (the folder too, if it made it)."""
    latest = tf.train.latest_checkpoint(str(run_dir / CHECKPOINTS_DIR))
    if latest is not None:
        if not isinstance(error, ConfigError):
            log.warning("training failed; %s keeps its checkpoint at step %s: the same command resumes "
                        "from it", run_dir, latest.rsplit("-", 1)[-1])
        return
    if not existed:
        shutil.rmtree(run_dir, ignore_errors=True)
    else:  # the user's folder: only what this run added goes
        for child in set(run_dir.iterdir()) - before:
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
    log.warning("training failed before its first checkpoint; removed the half-made run %s", run_dir)


def _train(config: RunConfig, run_dir: Path, strategy: tf.distribute.Strategy, start: float,
           verbose: int | str, callbacks: Sequence[keras.callbacks.Callback]) -> TrainResult:
    keras.utils.set_random_seed(config.training.seed)
    bad = BadFiles()
    config = _resumed_teacher(run_dir, config)

    sources = style_sources(config.data)
    tc = config.training
    base_generator = None
    num_old = 0
    if tc.base_model:
        from ..model_io import load_generator
        from .add_styles import extend_generator

        base = load_generator(tc.base_model)
        num_old = base.num_styles
        # The grown generator's variables must belong to the run's strategy and precision.
        with strategy.scope(), precision_policy(tc.precision):
            base_generator = extend_generator(base, [s.name for s in sources])
        config = dataclasses.replace(config, generator=base_generator.config)
    else:
        names = [s.name for s in sources]
        config = dataclasses.replace(config, generator=dataclasses.replace(
            config.generator, num_styles=len(names), style_names=names))
    _check_resume_compatible(run_dir, config)
    config.to_json(run_dir / CONFIG_FILE)

    dc = config.data
    train_paths, val_paths = _content_split(config, run_dir)
    style_images = data_lib.load_style_images(sources, dc.style_size, bad)
    content = data_lib.content_crops(dc.content, dc.image_size, dc.content_scale, bad, seed=dc.seed,
                                     paths=train_paths, cache=dc.cache)
    # DataConfig.batch_size is per replica; Keras splits the global batch across replicas.
    global_batch = dc.batch_size * strategy.num_replicas_in_sync
    if dc.teacher:
        dataset = _teacher_dataset(config, run_dir, strategy, sources, train_paths, global_batch, num_old, bad)
    else:
        crops = data_lib.style_crops(style_images, dc.image_size, dc.seed)
        if num_old:  # the new styles' rows follow the base model's
            crops = crops.map(lambda im, sid: (im, sid + num_old))
        dataset = data_lib.training_dataset(content, crops, global_batch)

    tiles = None
    if is_chief(strategy):
        tiles = write_run_textures(run_dir, sources, config.generator.style_names, bad,
                                   base.textures if num_old else None, extending=bool(num_old))
    gan = build_gan(config, style_images, generator=base_generator, strategy=strategy)
    if num_old:
        from .add_styles import restrict_to_new_rows

        restrict_to_new_rows(gan, num_old)
    # Before the checkpoint is restored: a resumed run gets its trained rows back, and the mask.
    init_color_norm(gan, style_images, num_old, tc.color_norm_init)
    step = gan.g_optimizer.iterations
    ckpt = training_checkpoint(gan)
    chief = is_chief(strategy)
    # Every worker must take part in saving; only the chief writes into the run folder.
    ckpt_dir = run_dir / CHECKPOINTS_DIR if chief else run_dir / WORKERS_DIR / f"task_{strategy.cluster_resolver.task_id}"
    manager = tf.train.CheckpointManager(ckpt, str(ckpt_dir), max_to_keep=3)
    resumed_from = 0
    if manager.latest_checkpoint:
        ckpt.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        resumed_from = int(step.numpy())
        log.info("resuming %s from step %d", run_dir, resumed_from)

    def crops_of(paths: Sequence[Path]) -> np.ndarray:
        return data_lib.center_crops([im for im in (data_lib.load_or_report(p, bad, dc.image_size * 4)
                                                    for p in paths) if im is not None], dc.image_size)

    # Validation crops are decoded once: they are both the validation set and the sample images.
    val_crops = crops_of(val_paths) if val_paths else None
    if val_crops is not None:
        samples = val_crops[:SAMPLE_COUNT]
    elif train_paths:
        samples = crops_of(train_paths[:SAMPLE_COUNT])
    else:
        samples = data_lib.center_crops(
            [im.numpy() for im in data_lib.content_images(dc.content, dc.image_size, bad).take(SAMPLE_COUNT)],
            dc.image_size)
    tb_dir = run_dir / TENSORBOARD_DIR if tc.tensorboard and chief else None
    cbs: list[keras.callbacks.Callback] = [
        StopAtStep(step, tc.steps),
        *([] if optimizer_schedules(tc) or tc.lr_schedule == "constant" else [LateCosine(tc, gan)]),
        CheckpointEvery(manager, step, run_dir, tc.checkpoint_every, write_generator=chief),
    ]
    if chief:
        cbs.append(SampleImages(samples, step, run_dir, tc.sample_every or tc.checkpoint_every, tb_dir))
        # One row per checkpoint interval, appended across resumes: the whole loss curve.
        cbs.append(keras.callbacks.CSVLogger(str(run_dir / HISTORY_FILE), append=True))
    if tb_dir is not None:
        cbs.append(keras.callbacks.TensorBoard(str(tb_dir), update_freq="epoch", write_graph=False))
    cbs.extend(callbacks)

    validation = (tf.data.Dataset.from_tensor_slices(val_crops).batch(dc.batch_size)
                  if val_crops is not None else None)

    history: dict[str, list[float]] = {}
    if resumed_from < tc.steps:
        per_epoch = min(tc.checkpoint_every, tc.steps)
        epochs, first_epoch = math.ceil(tc.steps / per_epoch), resumed_from // per_epoch
        if needs_custom_loop(strategy):
            history = strategy_fit(gan, dataset, strategy, steps_per_epoch=per_epoch, epochs=epochs,
                                   initial_epoch=first_epoch, callbacks=cbs, verbose=verbose)
        else:
            h = gan.fit(dataset, steps_per_epoch=per_epoch, epochs=epochs, initial_epoch=first_epoch,
                        callbacks=cbs, validation_data=validation, verbose=verbose, shuffle=False)
            history = {k: [float(v) for v in vals] for k, vals in h.history.items()}
    else:
        log.info("%s already trained for %d steps; nothing to do", run_dir, resumed_from)
        save_generator(gan.generator, run_dir / GENERATOR_FILE)

    generator = gan.generator
    if chief and tc.polish_steps > 0:
        generator = _polish(config, run_dir, generator, content)

    encoder_psnr = None
    if chief:
        encoder_psnr = _encoder_stage(config, run_dir, generator, style_images, content,
                                      retrain=bool(history), num_old=num_old, verbose=verbose,
                                      held_out=val_crops)

    if len(bad):
        atomic_write_text(run_dir / BAD_FILES_FILE, bad.summary() + "\n")
        log.warning("%s", bad.summary())
    generator.set_textures(tiles)  # after training: they are laid over pictures, not trained with
    return TrainResult(run_dir, generator, history, int(step.numpy()), resumed_from,
                       time.time() - start, bad.items, encoder_psnr)


def _teacher_dataset(config: RunConfig, run_dir: Path, strategy: tf.distribute.Strategy,
                     sources: Sequence[data_lib.StyleSource], train_paths: Sequence[Path] | None,
                     global_batch: int, num_old: int, bad: BadFiles) -> tf.data.Dataset:
    """Paired batches from the teacher's pictures of some training photos (training/teacher.py),
    cached in the run folder (each non-chief worker keeps its own copy)."""
    dc = config.data
    if train_paths is None:
        raise ConfigError(f"--teacher {dc.teacher} needs a folder of photos as --content, not {dc.content}")
    cache_dir = run_dir if is_chief(strategy) else (
        run_dir / WORKERS_DIR / f"task_{strategy.cluster_resolver.task_id}")
    photos = choose_photos(train_paths, dc.teacher_photos, dc.seed)
    teacher = teacher_set(cache_dir, photos, sources, dc, bad)
    return teacher_dataset(teacher, dc.image_size, global_batch, dc.seed, first_style=num_old)


def write_run_textures(run_dir: Path, sources: Sequence[data_lib.StyleSource], names: Sequence[str],
                       bad: BadFiles, base_tiles: tf.Tensor | None = None, extending: bool = False
                       ) -> np.ndarray | None:
    """Each style's brushwork tile from its paintings (models/texture.py), written to the run
    folder as ``textures.npz`` and returned; a run that grows a model without tiles gets none."""
    if extending and base_tiles is None:
        log.info("the base model has no texture tiles: %s gets none either", run_dir)
        return None
    tiles = []
    for src in sources:
        images = [im for im in (data_lib.load_or_report(p, bad, 2 * TEXTURE_SCALE) for p in src.paths)
                  if im is not None]
        tiles.append(painting_texture([np.asarray(im) for im in images]))
    all_tiles = np.stack(tiles)
    if base_tiles is not None:
        all_tiles = np.concatenate([np.asarray(base_tiles), all_tiles], axis=0)
    save_textures(run_dir / TEXTURES_FILE, all_tiles, list(names))
    return all_tiles


def style_sources(dc: DataConfig) -> list[data_lib.StyleSource]:
    """The run's styles: ``--style`` paths, then the sub-styles of ``--profile`` (if any)."""
    sources = data_lib.resolve_styles(dc.styles) if dc.styles or not dc.profile else []
    if dc.profile:
        from ..personalize import profile_style_sources

        sources += profile_style_sources(dc.profile)
        names = [s.name for s in sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"--style and --profile give the same style name(s) {dupes}; rename one")
    return sources


ENCODER_CONTENT_CROPS = 32
POLISH_CONTENT_CROPS = 32


def _polish(config: RunConfig, run_dir: Path, generator: StyleFusionGenerator,
            content: tf.data.Dataset) -> StyleFusionGenerator:
    """``training.polish_steps`` of noise-tolerance fine-tuning on the trained generator, saved as
    ``generator.keras`` (the checkpoints keep the GAN's own). A resumed run with nothing left to
    train polishes its checkpoint's generator again."""
    tc, dc = config.training, config.data
    crops = [c.numpy() for c in content.take(POLISH_CONTENT_CROPS)]
    # The style pack's setting (pretrained/style_pack.json): 12 % noise, 3x at the first two blocks.
    polish = NoiseToleranceConfig(steps=tc.polish_steps, noise=0.12, block_gains={"enc1": 3, "enc2": 3},
                                  batch_size=dc.batch_size, image_size=dc.image_size, seed=tc.seed,
                                  log_every=max(1, tc.polish_steps // 4))
    student, _ = harden_for_integer(generator, crops, polish)
    save_generator(student, run_dir / GENERATOR_FILE)
    return student


def _encoder_stage(config: RunConfig, run_dir: Path, generator: StyleFusionGenerator,
                   style_images: Sequence[Sequence[np.ndarray]], content: tf.data.Dataset,
                   retrain: bool, num_old: int, verbose: int | str,
                   held_out: np.ndarray | None = None) -> float | None:
    """Train (or keep, or copy from the base model) ``style_encoder.keras``; returns its
    reconstruction PSNR on the validation photos ``held_out`` (on its training crops if none)."""
    tc, dc = config.training, config.data
    target = run_dir / ENCODER_FILE
    if tc.encoder_steps <= 0:
        if tc.base_model and not target.exists():
            from ..model_io import style_encoder_path

            # The base's encoder still fits: the convolutions it predicts rows for are unchanged.
            src = style_encoder_path(tc.base_model)
            if src.is_file():
                atomic_write_bytes(target, src.read_bytes())
        return None
    if target.exists() and not retrain:
        return None
    crops = np.stack([c.numpy() for c in content.take(ENCODER_CONTENT_CROPS)])
    result = fit_style_encoder(
        generator, style_images, crops, config.losses, dc.style_size,
        int(round(dc.image_size * dc.content_scale)),
        EncoderConfig(steps=tc.encoder_steps, batch_size=dc.batch_size, seed=tc.seed),
        row_ids=list(range(num_old, generator.num_styles)),
        verbose={0: 0, "0": 0, 2: 2, "2": 2}.get(verbose, 1),
        held_out=held_out)
    save_style_encoder(result.encoder, target)
    return result.reconstruction_psnr

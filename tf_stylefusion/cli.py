"""``stylefusion`` command line: parses flags onto the config dataclasses and calls the API.

Errors a user can cause print one line (``error: ...``) and exit with status 2; tracebacks are
kept for bugs.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import errno
import logging
import os
import sys
import warnings
from typing import TYPE_CHECKING, Iterator, Sequence

from .config import (
    ADVERSARIAL_KINDS,
    COLOR_NORM_INITS,
    LAYOUT_COLOURS,
    LR_SCHEDULES,
    RANDOM_NETWORK,
    SETTING_BOUNDS,
    STYLE_STATISTICS,
    TV_OF,
    GeneratorConfig,
    GeneratorSettings,
    RunConfig,
    recipe_for,
)

if TYPE_CHECKING:  # the CLI imports its heavy modules lazily
    from .data.images import BadFiles
    from .models.generator import StyleFusionGenerator

EXIT_USER_ERROR = 2
# Set (to anything but 0) to see TensorFlow's start-up logging and debug messages, as --verbose does.
VERBOSE_ENV = "STYLEFUSION_VERBOSE"
# A full disk, a read-only or quota-limited folder, no write permission.
MODEL_OR_PACK = "run folder or .keras file (default: the ready-made style pack)"
DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)


def _config_default(key: str) -> object:
    section, name = key.split(".")
    return getattr(getattr(RunConfig(), section), name)


def _shown(value: object) -> object:
    return " ".join(map(str, value)) if isinstance(value, (tuple, list)) else value


def _config_flag(p: argparse.ArgumentParser, flag: str, key: str, kind: type, help: str = "",
                 **kwargs: object) -> None:
    """A flag for config field ``key`` (``section.field``): default None, meaning the dataclass
    default, which the help text shows."""
    section, name = key.split(".")
    if section == "losses" and name in recipe_for("imagenet"):
        # Recipe fields have no single default: each loss network brings its own.
        shown = "the loss network's recipe (" + ", ".join(
            f"{net} {_shown(recipe_for(net)[name])}" for net in ("imagenet", RANDOM_NETWORK)) + ")"
    else:
        shown = _shown(_config_default(key))
    kwargs.setdefault("metavar", flag.lstrip("-").upper().replace("-", "_"))
    p.add_argument(flag, type=kind, default=None, dest=key.replace(".", "__"),
                   help=f"{help + '; ' if help else ''}default: {shown}", **kwargs)


def _teacher_flag(value: str) -> str:
    """``--teacher``: ``synthesis``, or ``none`` (stored as "": no teacher)."""
    if value not in ("synthesis", "none"):
        raise argparse.ArgumentTypeError(f"invalid choice: {value!r} (choose from 'synthesis', 'none')")
    return "" if value == "none" else value


def train_config_from_args(args: argparse.Namespace) -> RunConfig:
    """The RunConfig `stylefusion train` runs: dataclass defaults, then the flags given (a flag
    not given leaves its field to the defaults and the loss network's recipe, RunConfig.updated)."""
    overrides: dict[str, dict[str, object]] = {section: {} for section in RunConfig().to_dict()}
    for dest, value in vars(args).items():
        if "__" in dest and value is not None:
            section, name = dest.split("__")
            overrides[section][name] = list(value) if isinstance(value, (list, tuple)) else value
    if args.spectral_norm:
        overrides["discriminator"]["spectral_norm"] = True
    if args.full_resolution:
        overrides["generator"]["pixel_shuffle"] = False
    for name in ("color_norm", "color_mix"):  # None: the loss network's recipe decides
        if getattr(args, name) is not None:
            overrides["generator"][name] = getattr(args, name)
    overrides["data"].update(content=args.content, styles=args.style, profile=args.profile)
    overrides["training"].update(encoder_steps=args.encoder_steps, base_model=args.resume,
                                 strategy=args.strategy, precision=args.precision)
    if args.seed is not None:
        overrides["data"]["seed"] = overrides["training"]["seed"] = args.seed
    return RunConfig().updated(overrides)


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a multi-style stylizer (resumes if --out holds a run)")
    p.add_argument("--content", required=True, help="content image folder (recursive) or tfds:NAME[:SPLIT]")
    p.add_argument("--style", action="append", default=[], metavar="PATH",
                   help="a style image (named after its stem) or a folder of one style's images; repeat")
    p.add_argument("--profile", default="", metavar="PROFILE_DIR",
                   help="a `stylefusion personalize` profile: one style per sub-style")
    p.add_argument("--resume", default="", metavar="MODEL",
                   help="add the --style entries to this trained model (run folder or .keras) as new "
                        "styles, training only their bank rows; its old styles stay identical")
    p.add_argument("--encoder-steps", type=int, default=0,
                   help="then train a style encoder for this many steps (for --style-image, --strength)")
    p.add_argument("--out", required=True, help="run folder (checkpoints, samples, generator.keras)")
    # Every training default lives in config.py; a flag left out keeps the dataclass default, so
    # `stylefusion train` and `train(RunConfig(...))` train the same recipe.
    _config_flag(p, "--steps", "training.steps", int)
    _config_flag(p, "--polish-steps", "training.polish_steps", int,
                 "then fine-tune the generator under activation noise for this many steps: fewer "
                 "stripes, better int8 files (docs/recipe.md)")
    _config_flag(p, "--image-size", "data.image_size", int, "training crop size (px)")
    _config_flag(p, "--batch-size", "data.batch_size", int)
    _config_flag(p, "--style-size", "data.style_size", int,
                 "shorter side of style images (px; 2x the crop size)")
    _config_flag(p, "--loss-network", "losses.loss_network", str,
                 "VGG19 weights: imagenet (download), random (offline, filters with no preferred "
                 "orientation; selects the offline recipe), random-plain (the random filters runs "
                 "saved before 2026-12 used), random-wide (random with twice the filters: about 3x the "
                 "step time), random-multiscale or a weights FILE")
    _config_flag(p, "--inception-network", "losses.inception_network", str,
                 "as --loss-network, for InceptionV3")
    _config_flag(p, "--inception-weight", "losses.inception_weight", float, "InceptionV3 feature loss weight")
    _config_flag(p, "--style-weight", "losses.style_weight", float)
    _config_flag(p, "--content-weight", "losses.content_weight", float)
    _config_flag(p, "--tv-weight", "losses.tv_weight", float)
    _config_flag(p, "--tv-of", "losses.tv_of", str,
                 "what total variation smooths: output, residual (only what the network paints) "
                 "or residual_light (that residual's light only)",
                 choices=TV_OF)
    _config_flag(p, "--layout-weight", "losses.layout_weight", float,
                 "hold the photo's large-scale light and dark (palette free)")
    _config_flag(p, "--layout-colours", "losses.layout_colours", str,
                 "layout term per channel, against any linear colour mix of the photo, only "
                 "where large-scale light runs against the photo's (monotone: no bands), or "
                 "against the photo as the style recoloured it (residual: texture, no domes)",
                 choices=LAYOUT_COLOURS)
    _config_flag(p, "--style-statistic", "losses.style_statistic", str,
                 "what the style loss matches: gram, mean_cov, mean_local_cov or mean_sliced",
                 choices=STYLE_STATISTICS)
    _config_flag(p, "--style-windows", "losses.style_windows", int,
                 "match the style in each window of a k x k grid over the picture (1: the whole picture)")
    _config_flag(p, "--style-scales", "losses.style_scales", int,
                 "match the style after K x K average pooling, for each K given (1: as is)", nargs="+", metavar="K")
    p.add_argument("--teacher", type=_teacher_flag, default=None, dest="data__teacher",
                   metavar="{synthesis,none}",
                   help="also learn from a teacher: each painting's example-based synthesis of some "
                        "training photos (made once, cached in the run folder; seconds a picture). It "
                        "brings its recipe (config.TEACHER_RECIPE): adversarial weight 1, --d-lr 0.001 "
                        "and, offline, content 0.3, layout 3, tv 5; default: synthesis with "
                        "--loss-network random (the offline recipe, but not with a tfds: --content), "
                        "none otherwise")
    _config_flag(p, "--teacher-photos", "data.teacher_photos", int, "how many training photos the teacher paints")
    _config_flag(p, "--teacher-size", "data.teacher_size", int, "the teacher's pictures' longer side (px)")
    _config_flag(p, "--teacher-weight", "losses.teacher_weight", float,
                 "pixel distance to the teacher's picture (with --teacher)")
    _config_flag(p, "--teacher-feature-weight", "losses.teacher_feature_weight", float,
                 "the loss network's feature distance to the teacher's picture (with --teacher)")
    _config_flag(p, "--adversarial", "losses.adversarial", str, choices=ADVERSARIAL_KINDS)
    _config_flag(p, "--adversarial-weight", "losses.adversarial_weight", float)
    p.add_argument("--spectral-norm", action="store_true", help="spectral norm in the discriminator")
    _config_flag(p, "--lr", "training.g_learning_rate", float, "generator learning rate")
    _config_flag(p, "--d-lr", "training.d_learning_rate", float, "discriminator learning rate (0.001 with --teacher)")
    _config_flag(p, "--lr-schedule", "training.lr_schedule", str,
                 "constant, or cosine: both generator rates fall to a tenth by the last step", choices=LR_SCHEDULES)
    _config_flag(p, "--lr-decay-steps", "training.lr_decay_steps", int,
                 "with cosine: the fall takes only the last N steps (0: the whole run)")
    _config_flag(p, "--color-norm-init", "training.color_norm_init", str,
                 "the colour norm starts at an average photo's colours, at each painting's (learned on), "
                 "or is held at the painting's", choices=COLOR_NORM_INITS)
    _config_flag(p, "--mix-fraction", "training.mix_fraction", float, "share of each batch trained on blends")
    _config_flag(p, "--bank-lr-multiplier", "training.bank_learning_rate_multiplier", float,
                 "the style bank's learning rate over the shared weights'")
    _config_flag(p, "--checkpoint-every", "training.checkpoint_every", int)
    _config_flag(p, "--sample-every", "training.sample_every", int,
                 "sample grid interval (0: the checkpoint interval)")
    _config_flag(p, "--validation-fraction", "data.validation_fraction", float)
    _config_flag(p, "--test-fraction", "data.test_fraction", float,
                 "share of content files held out for `stylefusion evaluate` (splits.json)")
    _config_flag(p, "--filters", "generator.filters", int, nargs=3, metavar=("F1", "F2", "F3"))
    _config_flag(p, "--res-blocks", "generator.num_res_blocks", int)
    _config_flag(p, "--coarse-blocks", "generator.coarse_blocks", int,
                 "residual blocks at 1/8 scale before the 1/4 ones (a wider view of the picture)")
    _config_flag(p, "--flat-guard", "generator.flat_guard", float,
                 "fade the style's painted change where the photo's local luma deviation is below this "
                 "(flat skies stay flat; 0: off)")
    p.add_argument("--color-norm", action=argparse.BooleanOptionalAction, default=None,
                   help="give each style its palette as an instance norm on the photo's colours "
                        "(default: on with --loss-network random, off otherwise)")
    p.add_argument("--color-mix", action=argparse.BooleanOptionalAction, default=None,
                   help="with the colour norm, also a 3x3 colour transform per style, so a style moves "
                        "the photo's hues (default: on with the colour norm when the recipe has it)")
    p.add_argument("--full-resolution", action="store_true",
                   help="classic generator layout with full-resolution first and last layers (finer "
                        "detail, crisper mask edges; about 2.4x slower to run) instead of pixel shuffle")
    p.add_argument("--seed", type=int, default=None, help="data and training seed; default: 0")
    p.add_argument("--strategy", choices=("default", "mirrored", "multiworker", "tpu"), default="default",
                   help="tf.distribute strategy (multiworker reads TF_CONFIG)")
    p.add_argument("--precision", choices=("fp32", "fp16", "bf16"), default="fp32",
                   help="fp16/bf16: Keras mixed precision (outputs and Grams stay float32)")
    p.set_defaults(func=cmd_train)


def _add_stylize(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stylize", help="stylize images with a trained model")
    p.add_argument("paths", nargs="+", metavar="[MODEL] INPUT",
                   help="an optional model (run folder or .keras file; default: the ready-made style "
                        "pack), then image files")
    p.add_argument("--style", default=None, help="NAME[:W][,NAME[:W]...], e.g. wave:0.7,udnie:0.3")
    p.add_argument("--out", required=True,
                   help="output folder: one PNG per input, named after it and the style "
                        "(photo__wave.png; a blend photo__wave-70+udnie-30.png)")
    p.add_argument("--max-size", type=int, default=None,
                   help="downscale inputs whose longer side exceeds this (default: full size)")
    p.add_argument("--style-image", action="append", default=[], metavar="PATH[:W]",
                   help="any style image (needs the model's style encoder); mixes with --style; repeat")
    p.add_argument("--strength", type=float, default=1.0,
                   help="0 = the content, 1 = the full style (interpolated in style space)")
    p.add_argument("--mask", action="append", default=[], metavar="MASK.png",
                   help="region mask: one mask splits two styles (white: first, black: second) or "
                        "limits one style to its white part; or one mask per style in the order named")
    p.add_argument("--feather", type=float, default=None, help="mask edge softness in px (default 2%% of the short side)")
    p.add_argument("--preserve-color", nargs="?", const="luminance", default=None,
                   choices=("luminance", "histogram"), help="keep the content's colours (default: luminance)")
    _add_generator_settings(p)
    p.add_argument("--tile-size", type=int, default=None,
                   help="stylize in seam-free tiles when a side exceeds this (px, multiple of 4; "
                        "0: never; default: tiles of 512 above 2048² pixels)")
    p.add_argument("--fast-statistics", action="store_true",
                   help="tiles: measure normalisation statistics on a 1024 px copy (one small pass, "
                        "several times faster; the tone can shift) instead of exactly over the tiles")
    p.add_argument("--exact-statistics", action="store_true", help=argparse.SUPPRESS)  # the default now
    p.add_argument("--method", choices=("generator", "synthesis"), default="generator",
                   help="generator: the trained model (fast; every option above); synthesis: repaint "
                        "each photo from one painting's own patches (--style-image PATH or --style NAME "
                        "of a bundled painting; seconds per photo, --max-size default 512; no model, "
                        "masks, strength or tiles)")
    p.set_defaults(func=cmd_stylize)


def _add_styles(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("styles", help="list a model's styles")
    p.add_argument("model", nargs="?", default=None, help=MODEL_OR_PACK)
    p.set_defaults(func=cmd_styles)


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the ready-made style pack on the bundled photos: a contact sheet")
    p.add_argument("--out", default="stylefusion_demo", help="output folder")
    p.add_argument("--model", default=None, help="show this model instead of the pack")
    p.add_argument("--train", action="store_true",
                   help="first train a small 4-style model on the bundled samples, offline (minutes)")
    p.add_argument("--steps", type=int, default=None,
                   help="with --train: training steps (default: the demo's)")
    p.set_defaults(func=cmd_demo)


def _add_personalize(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("personalize", help="find the sub-styles of your own image collection (a profile)")
    p.add_argument("--collection", required=True, help="folder of your images (searched recursively)")
    p.add_argument("--out", required=True, help="profile folder (profile.json, profile.npz, contact_sheet.png)")
    p.add_argument("--clusters", default="auto", help="number of sub-styles, or auto (best silhouette)")
    p.add_argument("--max-clusters", type=int, default=8, help="largest K tried by --clusters auto")
    p.add_argument("--image-size", type=int, default=256, help="shorter side at which images are analysed")
    p.add_argument("--loss-network", default="random",
                   help="VGG19 weights: random (offline, default), imagenet (download) or a weights FILE")
    p.add_argument("--seed", type=int, default=0, help="clustering seed")
    p.set_defaults(func=cmd_personalize)


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="style/content distances, SSIM, colour, FID/KID: JSON + HTML report")
    p.add_argument("model", nargs="?", help="run folder or .keras file (leave out with --outputs)")
    p.add_argument("--outputs", help="evaluate existing outputs laid out as OUTPUTS/<style>/<content stem>.png")
    p.add_argument("--content", nargs="+", metavar="PATH",
                   help="content images or folders (default: the run folder's test split)")
    p.add_argument("--style", action="append", metavar="PATH",
                   help="style image or folder, named like the model's style; repeat (default: the run's)")
    p.add_argument("--out", required=True, help="report folder (report.json, report.html, contact_sheet.png)")
    p.add_argument("--loss-network", default="random", help="VGG19 weights: random, imagenet or a weights FILE")
    p.add_argument("--inception-weights", default="imagenet",
                   help="InceptionV3 weights for FID/KID: imagenet (download), a weights FILE, or none")
    p.add_argument("--image-size", type=int, default=512, help="longer side images are measured at (px)")
    p.set_defaults(func=cmd_evaluate)


def _add_generator_settings(p: argparse.ArgumentParser, export: bool = False) -> None:
    """The flags of the generator's settings (``config.GeneratorSettings``); their defaults and
    ranges are read from the config and, for ``export``, from the export's own defaults."""
    from .deploy.defaults import EXPORT_SETTINGS

    own = GeneratorConfig()
    exported = EXPORT_SETTINGS.overrides() if export else {}

    def default(name: str, model: str) -> str:
        bound = SETTING_BOUNDS[name]
        said = f"{exported[name]:g} in exports" if name in exported else model
        return f"{bound.low:g} to {bound.high:g}; default: {said}"

    p.add_argument("--flat-guard", type=float, default=None, metavar="SPREAD",
                   help="leave regions whose local luma deviation is below SPREAD in the style's palette "
                        "but unpainted (0: paint everywhere); "
                        + default("flat_guard",
                                  f"the model's own ({own.flat_guard:g} for a new model, 0.03 in the pack)"))
    p.add_argument("--texture", type=float, default=None, metavar="AMOUNT",
                   help="how strongly each style's brushwork replaces the photo's fine detail where "
                        "the photo is not flat (the detail abstracted, then a tile cut from the painting "
                        "laid over): 1 = the painting's own contrast, 0 = off; models without tiles "
                        "ignore it; " + default("texture", f"the model's own ({own.texture:g} for a new model)"))
    p.add_argument("--abstraction", type=float, default=None, metavar="A",
                   help="how far the photo's fine detail is flattened (a Kuwahara filter on the luma) "
                        "under the tiles; "
                        + default("abstraction", f"the model's own ({own.abstraction:g} for a new model)")
                        + (" (it costs an int8 file about half again its time)" if export else ""))


def _generator_settings(args: argparse.Namespace) -> GeneratorSettings:
    """The settings the flags ask for (None where not given); bad values are its ConfigErrors,
    which name the flag."""
    return GeneratorSettings(flat_guard=args.flat_guard, texture=args.texture, abstraction=args.abstraction)


def _add_video(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("video", help="stylize a video with temporal stabilisation (needs the video extra)")
    p.add_argument("paths", nargs="+", metavar="[MODEL] INPUT OUTPUT",
                   help="an optional model (default: the ready-made style pack), the input video (any "
                        "format ffmpeg reads) and the output video (.mp4)")
    p.add_argument("--style", required=True, help="NAME[:W][,NAME[:W]...], e.g. wave:0.7,udnie:0.3")
    p.add_argument("--stabilize", type=float, default=0.6,
                   help="weight of the flow-warped previous output, in [0, 1) (0: frame by frame)")
    p.add_argument("--max-size", type=int, default=None,
                   help="downscale frames whose longer side exceeds this (default: full size)")
    p.add_argument("--tile-size", type=int, default=None,
                   help="as for stylize (default: tiles of 512 above 2048² pixels)")
    _add_generator_settings(p)
    p.set_defaults(func=cmd_video)


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a trained model: SavedModel (TF Serving) and/or TFLite")
    p.add_argument("model", nargs="?", default=None, help=MODEL_OR_PACK)
    p.add_argument("--saved-model", metavar="DIR",
                   help="SavedModel folder (for TF Serving: a numbered version, e.g. models/NAME/1)")
    p.add_argument("--tflite", metavar="DIR", help="folder for <name>_<mode>.tflite files")
    p.add_argument("--quantize", default="fp32,fp16,dynamic,int8,int16x8",
                   help="TFLite modes, comma-separated: fp32, fp16, dynamic, int8 (every op integer, "
                        "8-bit activations), int16x8 (16-bit activations)")
    p.add_argument("--tflite-io", choices=("float32", "uint8"), default="float32",
                   help="the int8 file's input and output type (uint8: pixels in, pixels out)")
    p.add_argument("--size", type=int, default=256,
                   help="side (px) of the sample crops for integer calibration and the parity check")
    p.add_argument("--name", default=None,
                   help="file name stem (default: the run folder's or .keras file's name)")
    _add_generator_settings(p, export=True)
    p.set_defaults(func=cmd_export)


def _add_app(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("app", help="a local page: mix styles with sliders, paint where each goes, download "
                                   "(needs the app extra)")
    p.add_argument("model", nargs="?", default=None, help=MODEL_OR_PACK)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 opens the "
                        "page to your network)")
    p.add_argument("--port", type=int, default=8765, help="port (default: 8765; 0: any free port)")
    p.set_defaults(func=cmd_app)


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Every default a user meets is in ``--help``: an option whose help text does not state its
    default gets ``(default: X)``. Nothing is added for required options, switches that are off,
    and options with no value (None, '', []), whose help says what leaving them out does."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        value = action.default
        if ("default" in text.lower() or action.required or not action.option_strings
                or value in (None, False, "", [], argparse.SUPPRESS)):
            return text
        return f"{text} (default: {str(_shown(value)).replace('%', '%%')})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stylefusion", description="GAN style transfer and style fusion",
                                     formatter_class=DefaultsHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true",
                        help=f"debug logging, and TensorFlow's start-up logging (also: {VERBOSE_ENV}=1)")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_train, _add_stylize, _add_styles, _add_demo, _add_personalize, _add_evaluate,
                _add_video, _add_export, _add_app, _add_pack):
        add(sub)
    for command in sub.choices.values():  # sub-parsers do not inherit the formatter
        command.formatter_class = DefaultsHelpFormatter
    return parser


def _on_terminal() -> bool:
    """Progress bars redraw themselves with ANSI codes: only on a terminal, never into a file."""
    return sys.stdout.isatty()


def _progress_verbosity() -> int:
    """Keras' verbosity: the live bar on a terminal, one plain line per epoch otherwise."""
    return 1 if _on_terminal() else 2


def cmd_train(args: argparse.Namespace) -> int:
    from .errors import ConfigError
    from .training.run import train

    config = train_config_from_args(args)
    if not args.style and not args.profile:
        raise ConfigError("give at least one --style PATH or a --profile PROFILE_DIR")
    result = train(config, args.out, verbose=_progress_verbosity())
    print(f"trained {result.steps} steps in {result.seconds:.0f} s "
          f"(resumed from step {result.resumed_from}); model: {result.run_dir / 'generator.keras'}")
    if result.encoder_reconstruction_psnr is not None:
        print(f"style encoder: {result.run_dir / 'style_encoder.keras'} (content from its own row: "
              f"{result.encoder_reconstruction_psnr:.1f} dB PSNR)")
    if result.bad_files:
        print(f"skipped {len(result.bad_files)} unreadable file(s); see {result.run_dir / 'bad_files.txt'}")
    return 0


def cmd_stylize(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .data.images import load_image
    from .errors import ConfigError
    from .inference.fusion import (
        StylizeOptions,
        build_mix,
        encode_style_images,
        parse_weighted_path,
        style_image_textures,
    )
    from .inference.stylize import mix_label, stylize_files
    from .inference.tiling import TileConfig
    from .model_io import load_generator, load_style_encoder

    if args.method == "synthesis":
        return _stylize_by_synthesis(args)
    args.model, args.inputs = _split_model(args.paths, 0)
    if not args.inputs:
        raise ConfigError(f"stylize: no input images after the model {args.model}")
    generator = load_generator(args.model).with_settings(_generator_settings(args))
    image_specs = [parse_weighted_path(s) for s in args.style_image]
    mix = build_mix(args.style, generator.style_names, [w for _, w in image_specs])
    # Masks are read once here, so a bad mask is one error rather than a failure per input.
    options = StylizeOptions(strength=args.strength, masks=[load_image(m) for m in args.mask],
                             order=mix.order, feather=args.feather, preserve_color=args.preserve_color)
    if image_specs or options.strength < 1.0:
        options.encoder = load_style_encoder(args.model, generator, required=True)
    if image_specs:
        style_images = [load_image(p, max_side=4 * options.encoder.style_size) for p, _ in image_specs]
        options.style_rows = encode_style_images(options.encoder, style_images)
        options.style_textures = style_image_textures(style_images)
    tiling = args.tile_size
    if args.fast_statistics:
        tiling = dataclasses.replace(TileConfig.for_tile_size(args.tile_size), exact_statistics=False)
    # Named after the style: another --style into the same --out writes beside, not over.
    label = mix_label(mix, [*generator.style_names, *(Path(p).stem for p, _ in image_specs)],
                      shares=not options.masks, strength=options.strength)
    report = stylize_files(generator, args.inputs, args.out, mix.weights, max_size=args.max_size,
                           progress=_on_terminal(), options=options, tile_size=tiling, label=label)
    print(f"wrote {len(report.written)} image(s) to {args.out}")
    return _report_skipped(report.bad)


def _stylize_by_synthesis(args: argparse.Namespace) -> int:
    """``stylize --method synthesis``: one painting, each photo repainted from its patches."""
    from .errors import ConfigError
    from .inference.fusion import parse_weighted_path
    from .synthesis.files import DEFAULT_MAX_SIZE, bundled_painting, synthesize_files

    unused = [flag for flag, given in (
        ("--mask", args.mask), ("--strength", args.strength != 1.0), ("--preserve-color", args.preserve_color),
        ("--tile-size", args.tile_size is not None), ("--fast-statistics", args.fast_statistics),
        ("--texture", args.texture is not None), ("--abstraction", args.abstraction is not None),
        ("--flat-guard", args.flat_guard is not None)) if given]
    if unused:
        raise ConfigError(f"stylize --method synthesis does not take {', '.join(unused)} (they are the "
                          "generator's); leave them out or use --method generator")
    if len(args.style_image) + (args.style is not None) != 1 or (args.style and "," in args.style):
        raise ConfigError("stylize --method synthesis repaints from one painting: give one --style-image "
                          "PATH or one bundled --style NAME")
    if args.style_image:
        painting, suffix = parse_weighted_path(args.style_image[0])[0], None
    else:
        painting, suffix = bundled_painting(args.style.split(":")[0]), args.style.split(":")[0]
    inputs = [p for p in args.paths if not _is_model_path(p)]
    if not inputs:
        raise ConfigError("stylize: no input images")
    report = synthesize_files(inputs, painting, args.out, max_size=args.max_size or DEFAULT_MAX_SIZE,
                              suffix=suffix, progress=_on_terminal())
    print(f"wrote {len(report.written)} image(s) to {args.out}")
    return _report_skipped(report.bad)


def _is_model_path(path: str) -> bool:
    return os.path.isdir(path) or path.endswith(".keras") or path == "pack"


def _split_model(paths: Sequence[str], rest: int) -> tuple[str, list[str]]:
    """``[MODEL] REST...``: the first path is the model when it is a run folder or a .keras file
    and more than ``rest`` paths were given; otherwise the model is the ready-made pack."""
    from .pretrained import resolve_model

    paths = list(paths)
    if len(paths) > rest and _is_model_path(paths[0]):
        return str(resolve_model(paths[0])), paths[1:]
    return str(resolve_model(None)), paths


def _report_skipped(bad: BadFiles) -> int:
    """Exit code of a run over many files: 1 (after listing them) if any file was skipped."""
    if len(bad):
        print(bad.summary(), file=sys.stderr)
        return 1
    return 0


def cmd_styles(args: argparse.Namespace) -> int:
    from .model_io import load_generator
    from .pretrained import resolve_model

    args.model = str(resolve_model(args.model))
    for i, name in enumerate(load_generator(args.model).style_names):
        print(f"{i}\t{name}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    result = run_demo(args.out, steps=args.steps, verbose=_progress_verbosity(), train_first=args.train,
                      model=args.model)
    print(f"demo done in {result.seconds:.0f} s: contact sheet {result.contact_sheet}")
    return 0


def cmd_personalize(args: argparse.Namespace) -> int:
    from .personalize import PersonalizeConfig, personalize

    config = PersonalizeConfig(clusters=args.clusters, max_clusters=args.max_clusters,
                               image_size=args.image_size, loss_network=args.loss_network, seed=args.seed)
    profile = personalize(args.collection, args.out, config)
    scores = ", ".join(f"K={k}: {v:.3f}" for k, v in profile.silhouette.items()) or "n/a"
    print(f"{profile.k} sub-style(s) (silhouette {scores}):")
    for s in profile.sub_styles:
        print(f"  {s.name}: {len(s.members)} image(s), e.g. {s.exemplar}")
    print(f"profile written to {args.out}")
    if profile.skipped:
        print(f"skipped {len(profile.skipped)} unreadable file(s): "
              + ", ".join(f"{s['path']} ({s['problem']})" for s in profile.skipped), file=sys.stderr)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluation.evaluate import EvalConfig, evaluate

    config = EvalConfig(loss_network=args.loss_network, inception_weights=args.inception_weights,
                        image_size=args.image_size)
    report = evaluate(args.content, args.style, args.out, model=args.model, outputs=args.outputs,
                      config=config, progress=_on_terminal())
    overall = report.results["overall"]
    print(" ".join(f"{k}={v:.4g}" for k, v in overall.items() if isinstance(v, float)))
    reason = report.results["fid_kid"]["reason"]
    if reason:
        print(reason)
    print(f"report: {report.html_path} (JSON: {report.json_path})")
    return _report_skipped(report.bad)


def cmd_video(args: argparse.Namespace) -> int:
    from .errors import ConfigError
    from .inference.fusion import parse_style_spec
    from .inference.video import VideoConfig, stylize_video
    from .model_io import load_generator

    if len(args.paths) not in (2, 3):
        raise ConfigError("video: give [MODEL] INPUT OUTPUT")
    args.model, (args.input, args.output) = _split_model(args.paths, 2)
    config = VideoConfig(stabilize=args.stabilize, max_size=args.max_size, tile_size=args.tile_size)
    generator = load_generator(args.model).with_settings(_generator_settings(args))
    weights = parse_style_spec(args.style, generator.style_names)
    report = stylize_video(generator, args.input, args.output, weights, config, progress=_on_terminal())
    print(f"wrote {report.output}: {report.summary()}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .errors import ConfigError
    from .model_io import load_generator
    from .pretrained import resolve_model

    if not args.saved_model and not args.tflite:
        raise ConfigError("export: give --saved-model DIR and/or --tflite DIR")
    args.model = str(resolve_model(args.model))
    if not args.verbose:  # SavedModel writing logs every assets folder at INFO
        logging.getLogger("tensorflow").setLevel(logging.WARNING)
    from .deploy.defaults import export_generator

    settings = _generator_settings(args)  # a bad value fails before the model loads
    # What the export functions write: the flags over the export's defaults (deploy/defaults.py).
    generator = export_generator(load_generator(args.model), settings)
    if generator.textures is not None and generator.config.texture == 0 and args.texture is None:
        print("brushwork: the tiles left out, for size (--texture 1 carries them: the pack's int8 file is "
              "then 967 KB instead of 215 KB; with --abstraction 1 as well, stylize's pictures)")
    elif (generator.textures is not None and generator.config.texture > 0
          and generator.config.abstraction == 0 and args.abstraction is None):
        print("brushwork: tiles carried, the abstraction under them left out for speed "
              "(--abstraction 1 for stylize's pictures, about half again an int8 file's time)")
    if args.saved_model:
        from .deploy.saved_model import export_saved_model
        from .model_io import load_style_encoder

        encoder = load_style_encoder(args.model, generator)  # adds encode_style / stylize_fused
        print(f"SavedModel: {export_saved_model(generator, args.saved_model, encoder, settings)}"
              + (" (with the style encoder: strength and style images)" if encoder else ""))
    if args.tflite:
        from .deploy.tflite import PSNR_THRESHOLDS, export_tflite, parse_modes

        modes = parse_modes(args.quantize)
        model = Path(args.model)
        name = args.name or (model.resolve().name if model.is_dir() else model.stem)
        results = export_tflite(generator, args.tflite, modes, name=name, size=args.size, io=args.tflite_io,
                                settings=settings)
        print(f"{'mode':<8} {'size':>10} {'PSNR vs Keras':>14}  file")
        for r in results:
            mark = "" if r.psnr >= PSNR_THRESHOLDS[r.mode] else f"  (below {PSNR_THRESHOLDS[r.mode]:.0f} dB)"
            print(f"{r.mode:<8} {r.bytes / 1024:>7.0f} KB {r.psnr:>11.1f} dB  {Path(r.path)}{mark}")
        for r in results:
            if r.integer_check:
                print(f"{r.mode}: {r.integer_check} (TFLite model analyzer)")
    return 0


def cmd_app(args: argparse.Namespace) -> int:
    from .app import require_web_libraries
    from .pretrained import resolve_model

    require_web_libraries()  # one sentence naming the extra, not a traceback
    from .app.server import bind, load_app, serve

    sock = bind(args.host, args.port)  # a taken port fails before the model takes seconds to load
    app = load_app(resolve_model(args.model))
    serve(app, sock, on_ready=lambda url: print(f"stylefusion app: open {url} in a browser (Ctrl+C to stop)",
                                                flush=True))
    return 0


# --- stylefusion pack: the ready-made style pack's training and install (training/pack.py) ---
PACK_STAGES = {
    "train": "train (or resume) the pack's run; the style encoder once its last step is reached",
    "finish": "train the style encoder on the last checkpoint's generator, wherever training stopped",
    "harden": "fine-tune the run's generator to tolerate 8-bit activations (for int8 exports)",
    "install": "copy the finished run into the package (tf_stylefusion/pretrained/pack/), atomically",
}


def _add_pack(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pack", help="make the ready-made style pack: train, finish, harden, install")
    stages = p.add_subparsers(dest="stage", required=True)
    for stage, text in PACK_STAGES.items():
        q = stages.add_parser(stage, help=text, description=text)
        if stage != "install":
            q.add_argument("--content", required=True, help="folder of training photos")
        q.add_argument("--run", required=True, help="the pack's run folder (resumed if it exists)")
        q.add_argument("--recipe", default=None,
                       help="pack recipe JSON (default: the shipped tf_stylefusion/pretrained/style_pack.json)")
        if stage == "train":
            q.add_argument("--steps", type=int, default=None,
                           help="stop at this step this time (default: the recipe's)")
        if stage == "install":
            q.add_argument("--dest", default=None,
                           help="install into this folder instead of the package's pretrained/pack/")
        else:
            q.add_argument("--log", default=None,
                           help="append each stage's start and stop to this file (default: RUN/pack_log.txt)")
        q.set_defaults(func=cmd_pack)


def cmd_pack(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .training import pack

    recipe = pack.PackRecipe.from_json(args.recipe)
    if args.stage == "install":
        print(f"installed the pack: {pack.install_pack(args.run, recipe, args.dest)}")
        return 0
    note = pack.log_to(args.log or Path(args.run) / pack.LOG_FILE)
    if args.stage == "harden":
        print(f"hardened generator: {pack.harden_pack(recipe, args.content, args.run, note)}")
        return 0
    if args.stage == "finish":
        result = pack.finish_pack(recipe, args.content, args.run, note, verbose=_progress_verbosity())
    else:
        result = pack.train_pack(recipe, args.content, args.run, args.steps, note, verbose=_progress_verbosity())
    print(f"{args.stage}: step {result.steps}; model: {result.run_dir / 'generator.keras'}")
    return 0
# --- end of stylefusion pack ---


@contextlib.contextmanager
def native_stderr_silenced(silenced: bool = True) -> Iterator[None]:
    """File descriptor 2 points at the null device inside the block (when ``silenced``): native
    libraries (TensorFlow, the TFLite converter and interpreter) write their logging there
    directly. Python's own writes still reach the terminal: when ``sys.stderr`` is the process's
    stderr, it and the logging handlers on it move to a copy of the real descriptor for the block;
    exceptions are printed after it."""
    if not silenced:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    ours, moved = None, []
    try:
        if sys.stderr is not None and sys.stderr is sys.__stderr__:
            ours = open(os.dup(saved), "w", buffering=1, encoding=sys.stderr.encoding,
                        errors=sys.stderr.errors)
            moved = [h for h in logging.getLogger().handlers
                     if isinstance(h, logging.StreamHandler) and h.stream is sys.stderr]
            for handler in moved:
                handler.setStream(ours)
            sys.stderr = ours
        os.dup2(null, 2)
        yield
    finally:
        if ours is not None:
            sys.stderr = sys.__stderr__
            for handler in moved:
                handler.setStream(sys.__stderr__)
            ours.close()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def start_tensorflow(verbose: bool) -> None:
    """Import TensorFlow and Keras, quietly unless ``verbose``: TensorFlow's libraries print about
    a dozen lines as they load (oneDNN, CPU features, absl's pre-initialisation notice), and
    since TF 2.20 some ignore TF_CPP_MIN_LOG_LEVEL, so the load itself runs with stderr silenced.
    A TF_CPP_MIN_LOG_LEVEL the user set is kept."""
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with native_stderr_silenced(not verbose):
        import keras  # noqa: F401
        import tensorflow  # noqa: F401


def _is_verbose(args: argparse.Namespace) -> bool:
    return bool(args.verbose) or os.environ.get(VERBOSE_ENV, "0") not in ("", "0")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # --help and usage errors end here, before TensorFlow
    args.verbose = _is_verbose(args)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    # absl (TF checkpointing) and tf.distribute log every save and all-reduce at INFO; keep the
    # console for our own messages.
    for noisy in ("absl", "tensorflow"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    if not args.verbose:  # LiteRT's notice when the int8 calibration reads intermediate tensors
        warnings.filterwarnings("ignore", message=".*experimental_preserve_all_tensors", category=UserWarning)
    from .errors import TENSORFLOW_MISSING, StyleFusionError

    try:
        start_tensorflow(args.verbose)
    except ImportError:
        print(f"error: {TENSORFLOW_MISSING}", file=sys.stderr)
        return EXIT_USER_ERROR
    try:
        # the command's own output only: TFLite, for one, logs from C++ as it converts and runs
        with native_stderr_silenced(not args.verbose):
            return int(args.func(args) or 0)
    except StyleFusionError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as e:
        if e.errno not in DISK_ERRNOS:
            raise
        # The environment, not a bug: say which file, and leave no traceback.
        print(f"error: {e.filename or 'output'}: {e.strerror}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

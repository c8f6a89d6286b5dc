"""Configuration as data: dataclasses with working defaults, round-tripped through JSON."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError

ADVERSARIAL_KINDS = ("lsgan", "hinge", "bce")
STYLE_STATISTICS = ("gram", "mean_cov", "mean_local_cov", "mean_sliced")
LR_SCHEDULES = ("constant", "cosine")
COLOR_NORM_INITS = ("photo", "painting", "painting_fixed")
LAYOUT_COLOURS = ("channel", "linear", "monotone", "residual")
TV_OF = ("output", "residual", "residual_light")
TEACHERS = ("", "synthesis")
VGG_STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")

# Random VGG19 loss networks: "random" names the offline default, the symmetric filters (no
# preferred orientation: docs/recipe.md, row cmix_sym); "random-plain" is the network every
# offline run and style encoder used before, when they saved it as "random".
RANDOM_NETWORK = "random"
RANDOM_SYMMETRIC = "random-symmetric"
RANDOM_PLAIN = "random-plain"
# VGG19's layout with twice the filters, drawn as "random" is: a richer texture descriptor at the
# loss optimum (He, Wang & Hopcroft 2016), yet trained generators came out worse (docs/recipe.md,
# table rows 53 and 54, 2026-12-02); an option, not the recipe.
RANDOM_WIDE = "random-wide"
RANDOM_WIDE_WIDTH = 2


def network_name(loss_network: str) -> str:
    """The loss network a setting names, in full (``random`` → ``random-symmetric``): what a run
    or a style encoder saves, so a file never holds the bare alias."""
    return RANDOM_SYMMETRIC if loss_network == RANDOM_NETWORK else loss_network


def saved_network_name(loss_network: str) -> str:
    """The loss network a saved file names: files saved before the alias moved say ``random``
    and were trained with the plain random filters."""
    return RANDOM_PLAIN if loss_network == RANDOM_NETWORK else loss_network


@dataclass(frozen=True)
class SettingBound:
    """The range ``[low, high]`` one generator setting may take, and the flag that sets it."""

    low: float
    high: float
    flag: str


# The generator's settings without weights (any trained generator can take any value), each with
# its one range. Checked only by ``check_setting``, which both GeneratorConfig (what a model is
# saved with) and GeneratorSettings (a per-call override) call.
# texture: up to 2, twice the painting's own contrast (1 is the default). Amounts 0.6 and 1 were
# measured (docs/recipe.md); above 2 the tiles' light and dark mostly clip to black and white, and
# the app's slider spans exactly this range (it reads the bound from the model's info).
SETTING_BOUNDS: dict[str, SettingBound] = {
    "flat_guard": SettingBound(0.0, 1.0, "--flat-guard"),
    "texture": SettingBound(0.0, 2.0, "--texture"),
    "abstraction": SettingBound(0.0, 1.0, "--abstraction"),
}


def check_setting(name: str, value: float) -> float:
    """``value`` as a float if it lies in setting ``name``'s range, else a ConfigError naming the
    setting and its flag."""
    bound = SETTING_BOUNDS[name]
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} ({bound.flag}): expected a number, got {value!r}") from None
    if not bound.low <= number <= bound.high:  # NaN fails this too
        raise ConfigError(f"{name} ({bound.flag}) must be in [{bound.low:g}, {bound.high:g}], got {number:g}")
    return number


@dataclass(frozen=True)
class GeneratorSettings:
    """Per-call overrides of the generator's settings (the GeneratorConfig fields of the same
    names); None keeps the model's own. The one argument type the CLI flags, the app, the exports
    and Python callers use to change a setting for one call."""

    flat_guard: float | None = None
    texture: float | None = None
    abstraction: float | None = None

    def __post_init__(self) -> None:
        for name in SETTING_BOUNDS:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, check_setting(name, value))

    def overrides(self) -> dict[str, float]:
        """The settings this object sets (not None), by GeneratorConfig field name."""
        return {name: getattr(self, name) for name in SETTING_BOUNDS if getattr(self, name) is not None}

    def over(self, base: "GeneratorSettings | None") -> "GeneratorSettings":
        """These settings where set, ``base``'s elsewhere (defaults that a caller may override)."""
        return GeneratorSettings(**{**(base.overrides() if base else {}), **self.overrides()})


@dataclass
class GeneratorConfig:
    """Shape of the StyleFusionGenerator.

    The defaults are sized for speed: 10.9 GFLOPs at 1024² (scripts/bench_generator.py), and in
    TFLite a third of the 26-style Magenta network's time (scripts/bench_export.py).
    ``pixel_shuffle``: run every layer at half resolution or less (space-to-depth in,
    depth-to-space out); False gives the classic layout with full-resolution first and last
    layers, about 2.4× slower. ``separable``: depthwise-separable convs in the residual and
    decoder blocks. ``content_skip``: the output is ``sigmoid(logit(content) + residual)``, so
    training learns the change a style makes and fine detail passes straight through (the layers
    run at ½ and ¼ size).
    """

    num_styles: int = 1
    style_names: list[str] = field(default_factory=list)
    filters: tuple[int, int, int] = (16, 32, 64)
    num_res_blocks: int = 4
    # Residual blocks at 1/8 scale (twice the channels), their output upsampled and added to the
    # 1/4 features before the 1/4 blocks: a view twice as wide for the painting's coarse structure.
    # 0: no such stage (inputs are then padded to a multiple of 4, else of 8).
    coarse_blocks: int = 0
    # Fade the residual network's change where the photo is flat: its output is scaled by
    # min(d / flat_guard, 1), d the photo's local mean absolute luma deviation (20 px boxes at
    # quarter size), so skies, walls and fog keep the style's palette (the colour norm) and get no
    # invented ripples.
    # 0: off (the network paints everywhere). A gate without weights: any generator can take it.
    flat_guard: float = 0.0
    # How strongly each style's brushwork tile (models/texture.py) is laid over the pictures: 1 the
    # painting's own contrast, 0 the picture as the network paints it. Models without tiles ignore it.
    texture: float = 1.0
    # How far the picture is abstracted (a Kuwahara filter on the luma) where tiles are laid, 0 to
    # 1, scaled down with the texture below 1; 0 leaves the filter out of the graph. Exports
    # default to 0 (deploy/defaults.py: it costs an int8 file about half again its time).
    abstraction: float = 1.0
    separable: bool = True
    pixel_shuffle: bool = True
    content_skip: bool = True
    # Instance norm's ε: a floor under the variance, so a flat (foggy, night-sky) image's faint
    # noise is not blown up to full contrast and painted into structure.
    norm_epsilon: float = 0.1
    # With the content skip: a per-style affine colour map on the content (12 values a bank row).
    # Off by default: at small budgets it learned to fade the content (ablation in docs/recipe.md).
    color_map: bool = False
    # Each style's palette as a conditional instance norm on the content's RGB (per image: the
    # photo's channel means and spreads replaced by the style's), before the layers and the skip.
    # None: the loss network's recipe decides (RECIPE_GENERATOR: on for the offline recipe).
    color_norm: bool | None = None
    # With the colour norm: a per-style 3×3 colour transform after it (12 values a bank row), so a
    # style can move the photo's hues, not only each channel's spread and mean. None: the recipe
    # decides (on with the colour norm in the offline recipe).
    color_mix: bool | None = None

    def __post_init__(self) -> None:
        self.filters = tuple(int(f) for f in self.filters)  # type: ignore[assignment]
        self.style_names = [str(n) for n in self.style_names] or [
            f"style_{i}" for i in range(self.num_styles)
        ]
        if len(self.style_names) != self.num_styles:
            raise ConfigError(
                f"style_names has {len(self.style_names)} names but num_styles is {self.num_styles}"
            )
        if len(set(self.style_names)) != len(self.style_names):
            raise ConfigError(f"style names must be unique, got {self.style_names}")
        if self.num_styles < 1:
            raise ConfigError("num_styles must be at least 1")
        if len(self.filters) != 3 or min(self.filters) < 1:
            raise ConfigError(f"filters must be three positive widths, got {self.filters}")
        if self.num_res_blocks < 0:
            raise ConfigError("num_res_blocks must be >= 0")
        if self.coarse_blocks < 0:
            raise ConfigError("coarse_blocks must be >= 0")
        for name in SETTING_BOUNDS:
            setattr(self, name, check_setting(name, getattr(self, name)))
        if self.flat_guard and not self.content_skip:
            raise ConfigError("flat_guard fades the residual over the content skip: it needs content_skip")
        if self.color_mix and self.color_norm is False:
            raise ConfigError("color_mix needs the colour norm (color_norm)")


@dataclass
class DiscriminatorConfig:
    """Multi-scale PatchGAN conditioned on the style by projection."""

    filters: int = 32
    num_layers: int = 3
    num_scales: int = 2
    spectral_norm: bool = False

    def __post_init__(self) -> None:
        if self.num_scales < 1 or self.num_layers < 1 or self.filters < 1:
            raise ConfigError("discriminator filters, num_layers and num_scales must be >= 1")


# The loss recipe each kind of loss network trains best with (measured: the table in
# docs/recipe.md). A LossConfig field left at None takes its network's value; "imagenet" is the
# classic recipe of pretrained VGG19, "random" the offline one (any weights file counts as
# pretrained).
MULTISCALE_LAYERS = ("scale0", "scale1", "scale2", "scale3", "scale4")
RECIPES: dict[str, dict[str, Any]] = {
    "imagenet": {"style_weight": 1.0, "content_weight": 0.3, "tv_weight": 0.3, "tv_of": "output",
                 "adversarial_weight": 0.05,
                 "style_statistic": "gram", "style_layers": VGG_STYLE_LAYERS,
                 "content_layer": "block4_conv2", "layout_weight": 0.0, "layout_colours": "channel"},
    # Random VGG19 (docs/recipe.md): deep random layers see large blobs, not painting structure,
    # so style stops at block4_conv1 and content sits at block3_conv2; ReLU features of random
    # filters have large means, so the centred Gram is matched apart from them; the adversarial
    # term added streaks and no style.
    # With the colour norm (RECIPE_GENERATOR) the palette no longer has to come from the residual,
    # and a content weight of 3 keeps the photo's structure (docs/recipe.md, row cn_cw3).
    # The residual layout term keeps the residual network from painting large-scale light (the
    # dome over a night sky) at no cost in style match (docs/recipe.md, rows res30 and the
    # residual-layout pack). Total variation of the residual alone (not of the photo's edges)
    # smooths the fine lattice and streaks the residual network paints, and the meter's style
    # match and separation rise with it (docs/recipe.md, the recipe's residual TV).
    "random": {"style_weight": 1.0, "content_weight": 3.0, "tv_weight": 50.0, "tv_of": "residual",
               "adversarial_weight": 0.0,
               "style_statistic": "mean_cov", "style_layers": VGG_STYLE_LAYERS[:4],
               "content_layer": "block3_conv2", "layout_weight": 30.0, "layout_colours": "residual"},
    "random-multiscale": {"style_weight": 1.0, "content_weight": 0.3, "tv_weight": 0.3, "tv_of": "output",
                          "adversarial_weight": 0.0,
                          "style_statistic": "mean_cov", "style_layers": MULTISCALE_LAYERS,
                          "content_layer": "scale1", "layout_weight": 0.0, "layout_colours": "channel"},
}


# One offline recipe for "random", both filter draws it can name and the wide network.
RECIPES[RANDOM_SYMMETRIC] = RECIPES[RANDOM_PLAIN] = RECIPES[RANDOM_WIDE] = RECIPES[RANDOM_NETWORK]
# Generator settings a recipe implies where the configuration leaves them None.
RECIPE_GENERATOR: dict[str, dict[str, Any]] = {RANDOM_NETWORK: {"color_norm": True, "color_mix": True}}
RECIPE_GENERATOR[RANDOM_SYMMETRIC] = RECIPE_GENERATOR[RANDOM_PLAIN] = RECIPE_GENERATOR[RANDOM_WIDE] = \
    RECIPE_GENERATOR[RANDOM_NETWORK]


RECIPE_GENERATOR_FIELDS = ("color_norm", "color_mix")

# What a teacher (DataConfig.teacher) changes in a recipe, for the fields the recipe decided: the
# conditional discriminator carries the strokes (weight 1, at 5x the rate), and the offline
# recipe's regularisers, which hold the picture to the recoloured photo, are a tenth (docs/teacher.md,
# the student's ablation). The loss-network recipe's other fields stay.
TEACHER_RECIPE: dict[str, dict[str, float]] = {
    "losses": {"adversarial_weight": 1.0, "content_weight": 0.3, "layout_weight": 3.0, "tv_weight": 5.0},
    "training": {"d_learning_rate": 1e-3},
}
D_LEARNING_RATE = 2e-4  # the discriminator's rate without a teacher
# The offline recipe's teacher (DataConfig.teacher left to the recipe): on a user's two paintings
# it matched the style as well as the recipe without one at the same steps and gave the styles
# their own strokes (style separation 1.05 against 0.77, Magenta 0.99; docs/teacher.md).
OFFLINE_TEACHER = "synthesis"


def recipe_for(loss_network: str) -> dict[str, Any]:
    """The recipe defaults for a loss network setting (a weights file counts as pretrained)."""
    return dict(RECIPES[loss_network if loss_network in RECIPES else "imagenet"])


@dataclass
class LossConfig:
    """Loss weights and the loss networks.

    ``loss_network`` is ``"imagenet"`` (Keras downloads VGG19 weights once; the default),
    ``"random"`` (He-scaled random VGG19 with filters closed under transposition, so it favours no
    orientation: offline, and it selects the offline recipe; saved as ``"random-symmetric"``),
    ``"random-plain"`` (the same without the transposed filters: what runs saved as ``"random"``
    were trained with), ``"random-wide"`` (the symmetric draw with twice VGG19's filters in every
    layer: about 3× the training step's time, and it measured worse than ``"random"`` at both
    budgets tried, docs/recipe.md),
    ``"random-multiscale"`` (one layer of random multi-scale filters on an image pyramid: offline
    and about 4× faster than VGG19 forward and backward) or a path to a VGG19 ``.weights.h5``/``.h5`` file.
    Weights, the style statistic and the layers left at None take the loss network's recipe
    (``RECIPES``).
    """

    style_weight: float | None = None
    content_weight: float | None = None
    tv_weight: float | None = None
    # Weight of the large-scale layout term (training/losses.py: layout_loss): the output's light
    # and dark at 1/16 scale held to the photo's, as layout_colours says. None takes the loss
    # network's recipe (imagenet 0; random 30 with "residual" colours).
    layout_weight: float | None = None
    # "channel": each output channel's layout held to the same photo channel's; "linear": to the
    # best linear colour mix of the photo's; "monotone": only where the output's large-scale light
    # runs against the photo's (the bands a smooth sky gradient turns into); "residual": each
    # cell's colour held, unstandardised, to the photo as the style's colour norm and transform
    # recoloured it (no domes or blobs from the residual network; training/losses.py: layout_loss).
    layout_colours: str | None = None
    # What the total-variation term smooths: "output" (the stylized picture, the photo's own edges
    # included) or "residual" (the picture minus the photo as the style's colour norm and transform
    # recoloured it: only what the residual network paints, the streaks and lattice it can put
    # over a flat sky, not the photo's edges) or "residual_light" (only the residual's luma: its
    # colour left free). None takes the loss network's recipe (imagenet
    # "output"; random "residual").
    tv_of: str | None = None
    adversarial_weight: float | None = None
    inception_weight: float = 0.0
    # Weight of the palette term (training/losses.py: palette_distance): the output's colour
    # distribution against the painting's, along 16 directions in RGB, so a painting's few strong
    # colours are asked for and not only their mean and covariance. 0 leaves it off.
    palette_weight: float = 0.0
    # With a teacher (DataConfig.teacher): the mean absolute difference to the teacher's picture
    # of the same photo and style, and the loss network's features' normalised distance to its
    # features. Pure-style samples only (a blend has no teacher picture).
    teacher_weight: float = 1.0
    teacher_feature_weight: float = 1.0
    adversarial: str = "lsgan"
    # Style loss per layer divided by the mean square of each sample's own target Gram
    # ("target") or of the whole bank's ("bank"); see StyleFusionGAN.style_norms.
    style_normalization: str = "target"
    # What the style loss matches per layer: "gram" (plain Gram), "mean_cov" (channel means and
    # the Gram of the centred features, each on its own scale) or "mean_local_cov" (the same
    # around local means: texture without large-scale light and dark); see training/losses.py.
    style_statistic: str | None = None
    # Each output is cut into a k × k grid and every window's statistics are matched to the
    # painting's: a texture has to appear everywhere, not as a few large blobs over flat skies.
    style_windows: int = 1
    # The style statistics are matched at each of these scales: k > 1 compares output and
    # painting after k × k average pooling, where the loss network's deepest style layer sees
    # k times larger strokes (and the finest pixels, which a half-size layout can only fill with
    # a lattice, no longer count). The style term is the mean over scales.
    style_scales: tuple[int, ...] = (1,)
    loss_network: str = "imagenet"
    inception_network: str = "imagenet"
    style_layers: tuple[str, ...] | None = None
    content_layer: str | None = None
    seed: int = 1234

    def __post_init__(self) -> None:
        self.loss_network = network_name(self.loss_network)
        # Which fields the recipe filled (not a dataclass field: never saved), so RunConfig can
        # drop a recipe choice that needs a generator part the user turned off.
        recipe = recipe_for(self.loss_network)
        self.from_recipe = frozenset(name for name in recipe if getattr(self, name) is None)
        for name in self.from_recipe:
            setattr(self, name, recipe[name])
        self.style_layers = tuple(self.style_layers)
        self.style_scales = tuple(int(k) for k in self.style_scales)
        if not self.style_scales or min(self.style_scales) < 1 or len(set(self.style_scales)) != len(self.style_scales):
            raise ConfigError(f"style_scales must be distinct integers >= 1, got {self.style_scales}")
        if self.adversarial not in ADVERSARIAL_KINDS:
            raise ConfigError(
                f"adversarial must be one of {', '.join(ADVERSARIAL_KINDS)}, got {self.adversarial!r}"
            )
        if self.style_statistic not in STYLE_STATISTICS:
            raise ConfigError(f"style_statistic must be one of {', '.join(STYLE_STATISTICS)}, "
                              f"got {self.style_statistic!r}")
        if self.layout_colours not in LAYOUT_COLOURS:
            raise ConfigError(f"layout_colours must be one of {', '.join(LAYOUT_COLOURS)}, "
                              f"got {self.layout_colours!r}")
        if self.tv_of not in TV_OF:
            raise ConfigError(f"tv_of must be one of {', '.join(TV_OF)}, got {self.tv_of!r}")
        if self.style_windows < 1:
            raise ConfigError(f"style_windows must be >= 1, got {self.style_windows}")
        if self.style_normalization not in ("target", "bank"):
            raise ConfigError(f"style_normalization must be target or bank, got {self.style_normalization!r}")
        for name in ("style_weight", "content_weight", "tv_weight", "layout_weight", "adversarial_weight",
                     "inception_weight", "palette_weight", "teacher_weight", "teacher_feature_weight"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")


@dataclass
class DataConfig:
    """Where images come from and how they are cut into training crops.

    ``content`` is a folder (searched recursively) or ``tfds:NAME[:SPLIT]``. Each entry of
    ``styles`` is a folder (one style, named after the folder) or an image (named after its stem).
    ``profile`` is a folder written by ``stylefusion personalize``: one style per sub-style, each
    learned from all its member images (added after ``styles``).
    """

    content: str = ""
    styles: list[str] = field(default_factory=list)
    profile: str = ""
    image_size: int = 128
    batch_size: int = 4
    content_scale: float = 1.25
    # Shorter side of the style images; None: twice the crop size.
    style_size: int | None = None
    validation_fraction: float = 0.0
    test_fraction: float = 0.0
    cache: bool = True
    seed: int = 0
    # "synthesis": the generator also learns from a teacher, each painting's example-based
    # synthesis (tf_stylefusion/synthesis) of ``teacher_photos`` training photos at
    # ``teacher_size`` px (longer side), made once and cached in the run folder
    # (training/teacher.py); "": from the loss networks only; None: the recipe decides
    # (RunConfig: the teacher with a random loss network, the offline recipe; none otherwise).
    teacher: str | None = None
    teacher_photos: int = 16
    teacher_size: int = 512

    def __post_init__(self) -> None:
        self.styles = [str(s) for s in self.styles]
        if self.image_size < 32:
            raise ConfigError(f"image_size must be >= 32, got {self.image_size}")
        # Which fields were left for this config to derive (not a dataclass field: never saved).
        self.derived = frozenset(name for name in ("style_size", "teacher") if getattr(self, name) is None)
        if self.style_size is None:
            self.style_size = 2 * self.image_size
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.content_scale < 1.0:
            raise ConfigError("content_scale must be >= 1 (crops are cut from the resized image)")
        if self.style_size < self.image_size:
            raise ConfigError(
                f"style_size ({self.style_size}) must be >= image_size ({self.image_size})"
            )
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ConfigError("validation_fraction must be in [0, 1)")
        if not 0.0 <= self.test_fraction < 1.0 - self.validation_fraction:
            raise ConfigError("test_fraction must be >= 0 and validation_fraction + test_fraction < 1")
        if self.teacher is not None and self.teacher not in TEACHERS:
            raise ConfigError(f"teacher must be one of {', '.join(repr(t) for t in TEACHERS)}, got {self.teacher!r}")
        if self.teacher and self.teacher_photos < 1:
            raise ConfigError(f"teacher_photos must be >= 1, got {self.teacher_photos}")
        if self.teacher and self.teacher_size < self.image_size:
            raise ConfigError(f"teacher_size ({self.teacher_size}) must be >= image_size ({self.image_size}): "
                              "the training crops are cut from the teacher's pictures")


@dataclass
class TrainConfig:
    """Optimisation schedule, checkpointing and logging."""

    steps: int = 1000
    g_learning_rate: float = 2e-3
    # None: 2e-4, or the teacher recipe's (TEACHER_RECIPE) with a teacher.
    d_learning_rate: float | None = None
    mix_fraction: float = 0.25
    # The style bank's learning rate over the shared weights'. Each bank row sees only its own
    # style's samples, so at one rate the shared convolutions learn an average look long before
    # the rows tell the styles apart.
    bank_learning_rate_multiplier: float = 10.0
    # "cosine": the generator's and the bank's learning rates fall along a half cosine to a tenth
    # by ``steps`` (the last steps settle instead of jittering at full rate); "constant": they stay.
    lr_schedule: str = "constant"
    # With "cosine": the fall takes only the last ``lr_decay_steps`` steps, the rates constant
    # before (so a constant-rate run can be resumed into its anneal); 0: the whole run.
    lr_decay_steps: int = 0
    # Where each style's colour norm (GeneratorConfig.color_norm) starts: "photo" (an average
    # photo's spread and mean), "painting" (the painting's own per-channel spread and mean) or
    # "painting_fixed" (set to the painting's and held there). Learned freely, the spread shrinks
    # to a third of the painting's and the photo's detail fades (docs/recipe.md, row cnfix).
    # None: "painting_fixed" with the colour norm, "photo" without.
    color_norm_init: str | None = None
    checkpoint_every: int = 100
    sample_every: int = 0
    tensorboard: bool = True
    seed: int = 0
    strategy: str = "default"
    precision: str = "fp32"
    # After the GAN: steps of the StyleEncoder stage (0: no encoder; see training/style_encoder_stage.py).
    encoder_steps: int = 0
    # A trained model (run folder or .keras) to extend with this run's styles as new bank rows;
    # only the new rows are trained, so the old styles' outputs stay identical.
    base_model: str = ""
    # After the GAN: steps of noise-tolerance fine-tuning (training/noise_tolerance.py), the
    # generator distilled to its own pictures under activation noise: fewer stripes over faces
    # (docs/recipe.md) and an int8 file that keeps the pictures. 0: none.
    polish_steps: int = 0

    def __post_init__(self) -> None:
        if self.encoder_steps < 0:
            raise ConfigError(f"encoder_steps must be >= 0, got {self.encoder_steps}")
        if self.polish_steps < 0:
            raise ConfigError(f"polish_steps must be >= 0, got {self.polish_steps}")
        if self.polish_steps and self.base_model:
            raise ConfigError("polish_steps changes the shared weights, so it cannot extend a base model "
                              "(whose old styles must stay identical)")
        if self.strategy not in ("default", "mirrored", "multiworker", "tpu"):
            raise ConfigError(f"strategy must be default, mirrored, multiworker or tpu, got {self.strategy!r}")
        if self.precision not in ("fp32", "fp16", "bf16"):
            raise ConfigError(f"precision must be fp32, fp16 or bf16, got {self.precision!r}")
        if self.steps < 1:
            raise ConfigError(f"steps must be >= 1, got {self.steps}")
        if self.checkpoint_every < 1:
            raise ConfigError("checkpoint_every must be >= 1")
        if self.color_norm_init is not None and self.color_norm_init not in COLOR_NORM_INITS:
            raise ConfigError(f"color_norm_init must be one of {', '.join(COLOR_NORM_INITS)}, "
                              f"got {self.color_norm_init!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if not 0 <= self.lr_decay_steps <= self.steps:
            raise ConfigError(f"lr_decay_steps must be between 0 and steps ({self.steps}), got {self.lr_decay_steps}")
        if self.bank_learning_rate_multiplier <= 0:
            raise ConfigError("bank_learning_rate_multiplier must be > 0")
        if not 0.0 <= self.mix_fraction <= 1.0:
            raise ConfigError("mix_fraction must be in [0, 1]")


# The loss fields every saved run has listed since the first one: a config holding all of them is
# a saved run (older defaults apply to fields it lacks), not a partial config.
SAVED_LOSS_FIELDS = ("style_weight", "content_weight", "tv_weight", "adversarial_weight", "inception_weight",
                     "adversarial", "loss_network", "inception_network", "style_layers", "content_layer", "seed")


# The data fields every saved run has listed since the first one (see SAVED_LOSS_FIELDS).
SAVED_DATA_FIELDS = ("content", "styles", "image_size", "batch_size", "cache", "seed")


@dataclass
class RunConfig:
    """Everything a training run needs; saved as ``config.json`` in the run folder."""

    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    losses: LossConfig = field(default_factory=LossConfig)
    data: DataConfig = field(default_factory=DataConfig)
    training: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        # The recipe's fields are decided in this config's own sections: sections given by the
        # caller stay as given, so the same ones can make a config for another loss network.
        for section in ("generator", "discriminator", "losses", "data", "training"):
            setattr(self, section, copy.copy(getattr(self, section)))
        # Every field left None for the recipe (or another field) to decide, by section: what
        # ``updated`` decides again. Not a dataclass field: never saved.
        self.decided: dict[str, frozenset[str]] = {
            "generator": frozenset(n for n in RECIPE_GENERATOR_FIELDS if getattr(self.generator, n) is None),
            "losses": self.losses.from_recipe,
            "data": self.data.derived,
            "training": frozenset(n for n in ("color_norm_init", "d_learning_rate")
                                  if getattr(self.training, n) is None),
        }
        offline = self.losses.loss_network in RECIPE_GENERATOR
        if self.data.teacher is None:
            # A TFDS dataset's photos have no file to cache the teacher's pictures against.
            tfds = self.data.content.startswith("tfds:")
            self.data.teacher = OFFLINE_TEACHER if offline and not tfds else ""
        if self.data.teacher:
            for name, value in TEACHER_RECIPE["losses"].items():
                if name in self.losses.from_recipe and (offline or name == "adversarial_weight"):
                    setattr(self.losses, name, value)
        if self.training.d_learning_rate is None:
            self.training.d_learning_rate = (TEACHER_RECIPE["training"]["d_learning_rate"] if self.data.teacher
                                             else D_LEARNING_RATE)
        recipe = RECIPE_GENERATOR.get(self.losses.loss_network, {})
        asked_mix = self.generator.color_mix
        for name, value in recipe.items():
            if getattr(self.generator, name) is None:
                setattr(self.generator, name, value)
        if self.generator.color_norm is None:
            self.generator.color_norm = False
        if asked_mix and not self.generator.color_norm:
            raise ConfigError("color_mix needs the colour norm (color_norm)")
        # The recipe's colour transform goes with its colour norm: off when that is turned off.
        self.generator.color_mix = bool(self.generator.color_mix and self.generator.color_norm)
        losses = self.losses
        if not self.generator.color_norm and "layout_colours" in losses.from_recipe \
                and losses.layout_colours == "residual":
            # So does the recipe's residual layout: it holds the output to the photo as the colour
            # norm recoloured it, and without one that is the photo itself (no style could move
            # the palette). A weight the user gave stays, on the per-channel term.
            losses.layout_colours = "channel"
            if "layout_weight" in losses.from_recipe:
                losses.layout_weight = 0.0
        if self.training.color_norm_init is None:
            self.training.color_norm_init = "painting_fixed" if self.generator.color_norm else "photo"
        if self.training.color_norm_init != "photo" and not self.generator.color_norm:
            raise ConfigError(f"color_norm_init {self.training.color_norm_init!r} needs the generator's colour norm")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def updated(self, overrides: dict[str, dict[str, Any]]) -> "RunConfig":
        """This config with ``overrides`` (``{section: {field: value}}``), validated. Every field
        this config left to the loss network's recipe (or derived from another field) that the
        overrides do not set is decided again, for the new values: the one place where "None
        means the recipe decides" is settled (LossConfig and RunConfig fill them)."""
        d = self.to_dict()
        for section, names in self.decided.items():
            for name in names:
                d[section][name] = None
        for section, values in overrides.items():
            if section not in d:
                raise ConfigError(f"unknown config section {section!r}; known: {sorted(d)}")
            for name, value in values.items():
                if name not in d[section]:
                    raise ConfigError(f"{section} has no field {name!r}; known: {sorted(d[section])}")
                d[section][name] = list(value) if isinstance(value, tuple) else value
        return RunConfig.from_dict(d)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
        kinds = {
            "generator": GeneratorConfig,
            "discriminator": DiscriminatorConfig,
            "losses": LossConfig,
            "data": DataConfig,
            "training": TrainConfig,
        }
        unknown = set(d) - set(kinds)
        if unknown:
            raise ConfigError(f"unknown config sections: {sorted(unknown)}")
        if "generator" in d and "filters" in d["generator"]:
            # Runs saved before the pixel-shuffle layout (or the content skip) existed hold
            # models without it.
            d = {**d, "generator": {"pixel_shuffle": False, "content_skip": False, "norm_epsilon": 1e-5,
                                    "color_map": False, "color_norm": False, "color_mix": False,
                                    **d["generator"]}}
        if isinstance(d.get("data"), dict) and all(k in d["data"] for k in SAVED_DATA_FIELDS):
            # A saved run lists every field; one saved before the teacher existed had none.
            d = {**d, "data": {"teacher": "", **d["data"]}}
        if "training" in d and "steps" in d["training"]:
            # Runs saved before the colour norm could start at the painting's colours (a saved
            # run lists every field) learned it from an average photo's.
            d = {**d, "training": {"color_norm_init": "photo", **d["training"]}}
        if isinstance(d.get("losses"), dict) and all(k in d["losses"] for k in SAVED_LOSS_FIELDS):
            # A saved run lists every field; one saved before style statistics were a choice
            # matched plain Grams, one saved before the layout term joined the offline recipe
            # trained without it, and one saved before total variation could see the residual
            # smoothed the output (a partial config leaves all of these to the recipe).
            d = {**d, "losses": {"style_statistic": "gram", "layout_weight": 0.0, "layout_colours": "channel",
                                 "tv_of": "output", **d["losses"]}}
        return cls(**{k: from_fields(kinds[k], v) for k, v in d.items()})

    def to_json(self, path: str | os.PathLike[str]) -> None:
        from .fileutil import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict(), indent=2, sort_keys=True))

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> "RunConfig":
        """A run's saved ``config.json`` (a loss network saved as ``random`` is the plain one)."""
        try:
            with open(path, encoding="utf-8") as f:
                d = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"{path}: cannot read run config ({e})") from e
        if isinstance(d.get("losses"), dict) and "loss_network" in d["losses"]:
            d["losses"] = {**d["losses"], "loss_network": saved_network_name(d["losses"]["loss_network"])}
        return cls.from_dict(d)


def from_fields(kind: type, values: dict[str, Any] | Any) -> Any:
    """Build dataclass ``kind`` from a dict, rejecting unknown keys with a clear message."""
    if isinstance(values, kind):
        return values
    if not isinstance(values, dict):
        raise ConfigError(f"{kind.__name__} expects a mapping, got {type(values).__name__}")
    names = {f.name for f in dataclasses.fields(kind)}
    unknown = set(values) - names
    if unknown:
        raise ConfigError(f"{kind.__name__} has no fields {sorted(unknown)}; known: {sorted(names)}")
    return kind(**values)


@dataclass
class SynthesisConfig:
    """Example-based stylization: the photo repainted from the painting's own patches.

    Coarse to fine over ``scales`` pyramid levels, each level runs the ``patch_sizes`` that fit
    it (largest first), ``iterations`` times each: nearest painting patch for every patch of the
    picture, robust aggregation, fusion with the photo where its structure is, colour by ranks.
    """

    scales: int = 3                     # pyramid levels, each twice the size of the one before
    patch_sizes: tuple[int, ...] = (64, 32, 16)
    gap_ratio: float = 0.5              # the picture's patches lie patch × gap_ratio apart
    style_gap: int = 2                  # the painting's patches lie this many pixels apart
    max_style_patches: int = 40000      # above it the painting's grid step grows (bounds the search)
    iterations: int = 3
    robust_power: float = 0.5           # IRLS exponent r of |x − z|^r; 2 is the plain mean
    robust_steps: int = 3
    content_weight: float = 0.15        # how strongly the photo is kept on its contours
    luma_weight: float = 8.0            # the fusion is this many times stronger in luma than in chroma
    noise: float = 0.2                  # std of the noise added to the coarsest start
    style_size: float = 1.0             # the painting's longer side over the picture's longer side
    pca_energy: float = 0.95
    pca_max_dims: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        self.patch_sizes = tuple(int(p) for p in self.patch_sizes)
        if self.scales < 1:
            raise ConfigError(f"synthesis scales must be ≥ 1, got {self.scales}")
        if not self.patch_sizes or min(self.patch_sizes) < 3:
            raise ConfigError(f"synthesis patch_sizes must be ≥ 3 pixels, got {list(self.patch_sizes)}")
        if not 0.0 < self.gap_ratio <= 1.0:
            raise ConfigError(f"synthesis gap_ratio must be in (0, 1], got {self.gap_ratio}")
        if self.content_weight < 0 or self.noise < 0 or self.style_size <= 0:
            raise ConfigError("synthesis content_weight and noise must be ≥ 0 and style_size > 0")
        if not 0.0 < self.robust_power <= 2.0:
            raise ConfigError(f"synthesis robust_power must be in (0, 2], got {self.robust_power}")

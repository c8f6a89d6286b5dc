"""tf_stylefusion: GAN-based multi-style image style transfer and style fusion (TF / Keras 3)."""

from __future__ import annotations

try:
    import tensorflow as _tf  # noqa: F401
except ImportError as _e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "tf_stylefusion needs TensorFlow: pip install 'tf_stylefusion[cpu]' (CPU) or "
        "'tf_stylefusion[gpu]' (NVIDIA GPU)") from _e

from .config import (
    DataConfig,
    DiscriminatorConfig,
    GeneratorConfig,
    GeneratorSettings,
    LossConfig,
    RunConfig,
    SynthesisConfig,
    TrainConfig,
)
from .deploy.saved_model import export_saved_model
from .deploy.tflite import TFLiteStylizer, export_tflite
from .errors import (
    ConfigError,
    ImageError,
    ModelFileError,
    StyleFusionError,
    StyleWeightsError,
    WeightsUnavailableError,
)
from .evaluation.evaluate import EvalConfig, EvalReport, evaluate
from .inference.fusion import (
    StylizeOptions,
    build_mix,
    encode_style_images,
    normalize_weights,
    parse_style_spec,
)
from .inference.stylize import stylize_files, stylize_image
from .inference.tiling import TileConfig, stylize_tiled
from .model_io import load_generator, load_style_encoder
from .models.discriminator import PatchDiscriminator
from .models.generator import StyleFusionGenerator
from .models.style_encoder import StyleEncoder
from .personalize import PersonalizeConfig, personalize
from .pretrained import load_pack
from .synthesis import synthesize
from .synthesis.files import synthesize_files
from .training.gan import StyleFusionGAN, StyleTargets
from .training.run import TrainResult, train
from .training.style_encoder_stage import EncoderConfig, fit_style_encoder

__version__ = "0.1.0"

__all__ = [
    "ConfigError", "DataConfig", "DiscriminatorConfig", "GeneratorConfig", "GeneratorSettings", "ImageError",
    "LossConfig", "ModelFileError", "PatchDiscriminator", "RunConfig", "StyleFusionError",
    "StyleFusionGAN", "StyleFusionGenerator", "StyleTargets", "StyleWeightsError", "TrainConfig",
    "TrainResult", "WeightsUnavailableError", "load_generator", "normalize_weights",
    "parse_style_spec", "stylize_files", "stylize_image", "train", "load_pack",
    # fusion controls, arbitrary styles, personal styles
    "EncoderConfig", "PersonalizeConfig", "StyleEncoder", "StylizeOptions", "build_mix",
    "encode_style_images", "fit_style_encoder", "load_style_encoder", "personalize",
    "EvalConfig", "EvalReport", "evaluate", "TileConfig", "stylize_tiled",
    "TFLiteStylizer", "export_saved_model", "export_tflite",
    # example-based stylization
    "SynthesisConfig", "synthesize", "synthesize_files",
]

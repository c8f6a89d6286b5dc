"""tf_stylefusion: GAN-based multi-style image style transfer and style fusion (TF / Keras 3)."""

from __future__ import annotations

try:
    import tensorflow as _tf  # noqa: F401
except ImportError as _e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "tf_stylefusion needs TensorFlow: pip install 'tf_stylefusion[cpu]' (CPU) or "
        "'tf_stylefusion[gpu]' (NVIDIA GPU)") from _e

from .config import (DataConfig, DiscriminatorConfig, GeneratorConfig, LossConfig, RunConfig,
                     TrainConfig)
from .errors import (ConfigError, ImageError, ModelFileError, StyleFusionError, StyleWeightsError,
                     WeightsUnavailableError)
from .encoder_training import EncoderConfig, fit_style_encoder
from .fusion import StylizeOptions, build_mix, encode_style_images, normalize_weights, parse_style_spec
from .model_io import load_generator, load_style_encoder
from .export import export_saved_model
from .models.discriminator import PatchDiscriminator
from .models.generator import StyleFusionGenerator
from .models.style_encoder import StyleEncoder
from .personalize import PersonalizeConfig, personalize
from .evaluate import EvalConfig, EvalReport, evaluate
from .stylize import stylize_files, stylize_image
from .tiling import TileConfig, stylize_tiled
from .tflite import TFLiteStylizer, export_tflite
from .trainer import TrainResult, train
from .training import StyleFusionGAN, StyleTargets

__version__ = "0.1.0"

__all__ = [
    "ConfigError", "DataConfig", "DiscriminatorConfig", "GeneratorConfig", "ImageError",
    "LossConfig", "ModelFileError", "PatchDiscriminator", "RunConfig", "StyleFusionError",
    "StyleFusionGAN", "StyleFusionGenerator", "StyleTargets", "StyleWeightsError", "TrainConfig",
    "TrainResult", "WeightsUnavailableError", "load_generator", "normalize_weights",
    "parse_style_spec", "stylize_files", "stylize_image", "train",
    # fusion controls, arbitrary styles, personal styles
    "EncoderConfig", "PersonalizeConfig", "StyleEncoder", "StylizeOptions", "build_mix",
    "encode_style_images", "fit_style_encoder", "load_style_encoder", "personalize",
    "EvalConfig", "EvalReport", "evaluate", "TileConfig", "stylize_tiled",
    "TFLiteStylizer", "export_saved_model", "export_tflite",
]

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
from .export import export_saved_model
from .fusion import normalize_weights, parse_style_spec
from .model_io import load_generator
from .models.discriminator import PatchDiscriminator
from .models.generator import StyleFusionGenerator
from .stylize import stylize_files, stylize_image
from .tflite import TFLiteStylizer, export_tflite
from .trainer import TrainResult, train
from .training import StyleFusionGAN, StyleTargets

__version__ = "0.1.0"

__all__ = [
    "ConfigError", "DataConfig", "DiscriminatorConfig", "GeneratorConfig", "ImageError",
    "LossConfig", "ModelFileError", "PatchDiscriminator", "RunConfig", "StyleFusionError",
    "StyleFusionGAN", "StyleFusionGenerator", "StyleTargets", "StyleWeightsError", "TFLiteStylizer",
    "TrainConfig", "TrainResult", "WeightsUnavailableError", "export_saved_model", "export_tflite",
    "load_generator", "normalize_weights", "parse_style_spec", "stylize_files", "stylize_image",
    "train",
]

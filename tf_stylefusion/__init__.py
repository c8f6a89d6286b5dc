"""tf_stylefusion: GAN-based multi-style image style transfer and style fusion (TF / Keras 3).

The public names below are imported on first use (PEP 562), so ``import tf_stylefusion.cli`` does
not load TensorFlow: the command line decides how quietly TensorFlow starts, and ``--help`` needs
no TensorFlow at all.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import TENSORFLOW_MISSING

# public name → the module that defines it
_EXPORTS = {
    **dict.fromkeys(("DataConfig", "DiscriminatorConfig", "GeneratorConfig", "GeneratorSettings", "LossConfig",
                     "RunConfig", "SynthesisConfig", "TrainConfig"), "config"),
    "export_saved_model": "deploy.saved_model",
    **dict.fromkeys(("TFLiteStylizer", "export_tflite"), "deploy.tflite"),
    **dict.fromkeys(("ConfigError", "ImageError", "ModelFileError", "StyleFusionError", "StyleWeightsError",
                     "WeightsUnavailableError"), "errors"),
    **dict.fromkeys(("EvalConfig", "EvalReport", "evaluate"), "evaluation.evaluate"),
    **dict.fromkeys(("StylizeOptions", "build_mix", "encode_style_images", "normalize_weights",
                     "parse_style_spec"), "inference.fusion"),
    **dict.fromkeys(("stylize_files", "stylize_image"), "inference.stylize"),
    **dict.fromkeys(("TileConfig", "stylize_tiled"), "inference.tiling"),
    **dict.fromkeys(("load_generator", "load_style_encoder"), "model_io"),
    "PatchDiscriminator": "models.discriminator",
    "StyleFusionGenerator": "models.generator",
    "StyleEncoder": "models.style_encoder",
    **dict.fromkeys(("PersonalizeConfig", "personalize"), "personalize"),
    "load_pack": "pretrained",
    "synthesize": "synthesis",
    "synthesize_files": "synthesis.files",
    **dict.fromkeys(("StyleFusionGAN", "StyleTargets"), "training.gan"),
    **dict.fromkeys(("TrainResult", "train"), "training.run"),
    **dict.fromkeys(("EncoderConfig", "fit_style_encoder"), "training.style_encoder_stage"),
}

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tf_stylefusion' has no attribute {name!r}")
    try:
        import tensorflow  # noqa: F401
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(TENSORFLOW_MISSING) from e
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

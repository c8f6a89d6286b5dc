"""The exceptions users can cause. Each message names the file or argument and the fix."""

from __future__ import annotations


class StyleFusionError(Exception):
    """Base class for every error a user can cause (bad input, bad argument, missing weights)."""


class ImageError(StyleFusionError):
    """An image file cannot be used: unreadable, corrupt, truncated, too small or too large."""

    def __init__(self, path: object, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class StyleWeightsError(StyleFusionError, ValueError):
    """Style weights are malformed: wrong length or rank, negative, NaN/inf, or all zero."""


class ConfigError(StyleFusionError, ValueError):
    """A configuration value or command-line argument is invalid."""


class WeightsUnavailableError(StyleFusionError):
    """Pretrained weights could not be obtained (offline, or a bad weights file)."""


class ModelFileError(StyleFusionError):
    """A model file or run folder is missing or is not a tf_stylefusion model."""


TENSORFLOW_MISSING = ("tf_stylefusion needs TensorFlow: pip install 'tf_stylefusion[cpu]' (CPU) or "
                      "'tf_stylefusion[gpu]' (NVIDIA GPU)")

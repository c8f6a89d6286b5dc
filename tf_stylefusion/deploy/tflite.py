"""TFLite / LiteRT: conversion (fp32, fp16, dynamic-range int8, full int8), a runner and parity.

Every file has the same contract (signature ``serving_default``):
``images`` float32 ``[1, H, W, 3]`` in [0, 1] (any H, W ≥ 32, set with ``resize_tensor_input``),
``style_weights`` float32 ``[1, N]`` (non-negative, normalised to sum 1 inside the model) →
``stylized`` float32 ``[1, H, W, 3]`` in [0, 1]. Style weights stay an input, so one file does
style fusion on the device. The int8 file quantizes and dequantizes at its edges, so its I/O is
float as well.

The models are converted from a concrete function whose height and width are ``None``: a model
converted at a fixed size cannot be resized under XNNPACK.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from ..data.images import list_images, load_image, psnr
from ..data.pipelines import center_crops
from ..data.samples import samples_dir
from ..errors import ConfigError, ImageError, ModelFileError
from ..fileutil import atomic_write_bytes
from ..inference.fusion import normalize_weights
from ..models.generator import MIN_SIZE, StyleFusionGenerator
from ..models.layers import record_variance_maxima, variance_floors

log = logging.getLogger(__name__)

MODES = ("fp32", "fp16", "dynamic", "int8")
# Parity each mode must keep against the Keras model (PSNR, dB) — asserted by the tests.
PSNR_THRESHOLDS = {"fp32": 45.0, "fp16": 40.0, "dynamic": 35.0, "int8": 30.0}
IMAGES, WEIGHTS, OUTPUT = "images", "style_weights", "stylized"
SIGNATURE = "serving_default"
# Integer activations of the int8 mode (16x8: int16 activations): one quantization step of a
# tensor whose calibrated maximum is M is M / INT16_STEPS.
INT16_STEPS = 32767


def parse_modes(spec: str | Sequence[str]) -> list[str]:
    """``"fp32,int8"`` → ``["fp32", "int8"]``; unknown modes raise ConfigError."""
    items = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    bad = [m for m in items if m not in MODES]
    if bad or not items:
        raise ConfigError(f"--quantize {spec!r}: choose one or more of {', '.join(MODES)} (comma-separated)")
    return list(dict.fromkeys(items))


def input_specs(num_styles: int) -> list[tf.TensorSpec]:
    """Batch 1, any height and width (so ``resize_tensor_input`` works), N style weights."""
    return [tf.TensorSpec([1, None, None, 3], tf.float32, name=IMAGES),
            tf.TensorSpec([1, num_styles], tf.float32, name=WEIGHTS)]


def serving_function(generator: StyleFusionGenerator) -> tf.types.experimental.ConcreteFunction:
    """The concrete function that is converted: batch 1, any height and width."""

    @tf.function(input_signature=input_specs(generator.num_styles))
    def serve(images: tf.Tensor, style_weights: tf.Tensor) -> dict[str, tf.Tensor]:
        return {OUTPUT: generator((images, style_weights), training=False)}

    return serve.get_concrete_function()


def sample_content(size: int, folder: str | Path | None = None) -> np.ndarray:
    """Centre crops ``[K, size, size, 3]`` of the packaged sample photos (or ``folder``'s)."""

    folder = Path(folder) if folder is not None else samples_dir() / "content"
    paths = list_images(folder)
    if not paths:
        raise ImageError(folder, "holds no images to calibrate or check the TFLite model with")
    return center_crops([load_image(p, max_side=2 * size) for p in paths], size)


def sample_weights(num_styles: int, count: int, seed: int = 0) -> np.ndarray:
    """``count`` weight rows: each style alone first, then random two-style blends."""
    rng = np.random.default_rng(seed)
    rows = [np.eye(num_styles, dtype=np.float32)[i % num_styles] for i in range(min(count, num_styles))]
    while len(rows) < count:
        w = np.zeros(num_styles, np.float32)
        i, j = rng.choice(num_styles, size=2, replace=num_styles < 2)
        a = rng.uniform(0.2, 0.8)
        w[i] += a
        w[j] += 1 - a
        rows.append(w)
    return np.stack(rows)


def calibration_images(size: int, folder: str | Path | None = None) -> list[np.ndarray]:
    """The sample photos as ``size``² crops and as ``2·size``² crops (more detail per pixel):
    activation ranges calibrated at one framing only clipped on the other (measured)."""
    return list(sample_content(size, folder)) + list(sample_content(2 * size, folder))


def representative_dataset(images: Sequence[np.ndarray], num_styles: int, per_image: int = 4
                           ) -> Iterator[dict[str, np.ndarray]]:
    """Calibration samples keyed by the signature's input names (not by argument position)."""
    weights = sample_weights(num_styles, max(per_image * len(images), num_styles))
    for k, w in enumerate(weights):
        yield {IMAGES: images[k % len(images)][None].astype(np.float32), WEIGHTS: w[None]}


def convert(generator: StyleFusionGenerator, mode: str,
            calibration: Sequence[np.ndarray] | None = None) -> bytes:
    """Convert ``generator`` to a TFLite flatbuffer in ``mode`` (one of MODES).

    ``int8`` needs ``calibration`` images (``[H, W, 3]`` in [0, 1], sizes may differ). Its instance-norm
    statistics stay float (see ``_int8_converter``).
    """
    if mode not in MODES:
        raise ConfigError(f"mode {mode!r}: choose one of {', '.join(MODES)}")
    with tempfile.TemporaryDirectory(prefix="stylefusion_tflite_") as tmp:
        # Freeze the weights into constants first: converting the Keras variables directly
        # (from a concrete function or a SavedModel) left READ_VARIABLE ops that fail at run time.
        # Saving the frozen function as a signature keeps the input names for the interpreter.
        floors = integer_variance_floors(generator, calibration) if mode == "int8" else {}
        with variance_floors(floors):
            frozen = convert_variables_to_constants_v2(serving_function(generator))

        @tf.function(input_signature=input_specs(generator.num_styles))
        def serve(images: tf.Tensor, style_weights: tf.Tensor) -> dict[str, tf.Tensor]:
            out = frozen(images, style_weights)
            return {OUTPUT: out[OUTPUT] if isinstance(out, dict) else tf.nest.flatten(out)[0]}

        tf.saved_model.save(tf.Module(), tmp, signatures={SIGNATURE: serve.get_concrete_function()})
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=[SIGNATURE])
        _configure(converter, mode, calibration, generator.num_styles)
        with warnings.catch_warnings():
            # The int8 calibrator uses tf.lite.Interpreter internally; the warning is not ours.
            warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
            return converter.convert()


def _configure(converter: tf.lite.TFLiteConverter, mode: str, calibration: Sequence[np.ndarray] | None,
               num_styles: int) -> None:
    if mode == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif mode == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif mode == "int8":
        if calibration is None or len(calibration) == 0:
            raise ConfigError("int8 conversion needs calibration images")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: representative_dataset(calibration, num_styles)
        # 16-bit activations, 8-bit weights: with 8-bit activations the instance norms lose the
        # image (19.6 dB on a small trained model: conv outputs feeding a norm vary per channel
        # far less than their per-tensor range, so 8-bit steps swamp them). Ops without a 16x8
        # kernel stay float.
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8,
            tf.lite.OpsSet.TFLITE_BUILTINS]


def integer_variance_floors(generator: StyleFusionGenerator,
                            calibration: Sequence[np.ndarray]) -> dict[int, float]:
    """Per instance norm, a variance floor of two int16 steps of its calibrated range (see
    ``layers.variance_floors``), measured on the same samples the converter calibrates with."""
    with record_variance_maxima() as maxima:
        for sample in representative_dataset(calibration, generator.num_styles):
            generator((sample[IMAGES], sample[WEIGHTS]), training=False)
    return {key: 2.0 * peak / INT16_STEPS for key, peak in maxima.items()}


def tflite_filename(name: str, mode: str) -> str:
    return f"{name}_{mode}.tflite"


@dataclass
class ExportedTFLite:
    mode: str
    path: Path
    bytes: int
    psnr: float | None = None


def export_tflite(generator: StyleFusionGenerator, out_dir: str | Path, modes: Sequence[str] = MODES,
                  name: str = "stylefusion", size: int = 256, check: bool = True,
                  samples: str | Path | None = None) -> list[ExportedTFLite]:
    """Write ``<name>_<mode>.tflite`` for each mode into ``out_dir`` (atomically).

    ``size`` is the side of the sample crops used for the parity check and (with ``2·size``)
    for int8 calibration; the files themselves accept any size. With ``check``, each file's PSNR against the
    Keras model on the sample images is measured.
    """
    modes = parse_modes(modes)
    if size < MIN_SIZE:
        raise ConfigError(f"--size {size}: must be at least {MIN_SIZE}")
    images = sample_content(size, samples)
    calibration = calibration_images(size, samples) if "int8" in modes else None
    out_dir = Path(out_dir)
    results = []
    for mode in modes:
        data = convert(generator, mode, calibration)
        path = out_dir / tflite_filename(name, mode)
        atomic_write_bytes(path, data)
        result = ExportedTFLite(mode, path, len(data))
        if check:
            result.psnr = parity_psnr(path, generator, images)
        log.info("wrote %s (%.0f KB%s)", path, len(data) / 1024,
                 "" if result.psnr is None else f", {result.psnr:.1f} dB")
        results.append(result)
    return results


def make_interpreter(model: str | Path | bytes, num_threads: int = 2) -> Any:
    """A LiteRT interpreter (XNNPACK on CPU) for a .tflite file or flatbuffer.

    Falls back to the deprecated ``tf.lite.Interpreter`` only where ``ai-edge-litert`` is missing.
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - depends on the environment
        log.warning("ai-edge-litert is not installed (pip install 'tf_stylefusion[tflite]'); "
                    "using the deprecated tf.lite.Interpreter")
        Interpreter = tf.lite.Interpreter
    kwargs: dict[str, Any] = {"num_threads": num_threads}
    if isinstance(model, (bytes, bytearray)):
        kwargs["model_content"] = bytes(model)
    else:
        if not Path(model).is_file():
            raise ModelFileError(f"{model}: no such .tflite file")
        kwargs["model_path"] = str(model)
    try:
        return Interpreter(**kwargs)
    except ValueError as e:
        raise ModelFileError(f"{model if not isinstance(model, bytes) else '<bytes>'}: "
                             f"not a TFLite model ({e})") from e


class TFLiteStylizer:
    """Runs a converted file: ``stylizer(image [H, W, 3] in [0, 1], weights [N]) → [H, W, 3]``.

    Inputs are found by their signature names; the input tensors are resized (and the
    interpreter re-allocated) only when the image size changes.
    """

    def __init__(self, model: str | Path | bytes, num_threads: int = 2):
        self.interpreter = make_interpreter(model, num_threads)
        runner = self.interpreter.get_signature_runner(SIGNATURE)
        inputs, outputs = runner.get_input_details(), runner.get_output_details()
        if set(inputs) != {IMAGES, WEIGHTS} or OUTPUT not in outputs:
            raise ModelFileError(f"{model}: not a tf_stylefusion TFLite model "
                                 f"(inputs {sorted(inputs)}, outputs {sorted(outputs)})")
        self._images = inputs[IMAGES]["index"]
        self._weights = inputs[WEIGHTS]["index"]
        self._output = outputs[OUTPUT]["index"]
        self.num_styles = int(inputs[WEIGHTS]["shape"][-1])
        self._shape: tuple[int, int] | None = None

    def __call__(self, image: np.ndarray, weights: np.ndarray) -> np.ndarray:
        image = np.asarray(image, np.float32)
        if image.ndim != 3 or image.shape[-1] != 3 or min(image.shape[:2]) < MIN_SIZE:
            raise ImageError("image", f"expected [H, W, 3] with H, W ≥ {MIN_SIZE}, got {list(image.shape)}")
        h, w = image.shape[:2]
        weights = normalize_weights(weights, self.num_styles).reshape(1, self.num_styles)
        if self._shape != (h, w):
            self.interpreter.resize_tensor_input(self._images, [1, h, w, 3], strict=False)
            self.interpreter.allocate_tensors()
            self._shape = (h, w)
        self.interpreter.set_tensor(self._images, image[None])
        self.interpreter.set_tensor(self._weights, weights)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self._output)[0]


def parity_psnr(model: str | Path | bytes, generator: StyleFusionGenerator, images: np.ndarray,
                mixes: int = 2, num_threads: int = 2) -> float:
    """PSNR of the TFLite output against the Keras output over ``images`` × ``mixes`` weight rows
    (one MSE over everything, so one bad image is not averaged away in dB)."""
    stylizer = TFLiteStylizer(model, num_threads)
    weights = sample_weights(generator.num_styles, max(mixes, 1), seed=1)[-mixes:]
    got, expected = [], []
    for image in images:
        for w in weights:
            expected.append(generator((image[None], w[None]), training=False)[0].numpy())
            got.append(stylizer(image, w))
    return psnr(np.stack(got), np.stack(expected))

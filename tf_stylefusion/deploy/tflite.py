"""TFLite / LiteRT: conversion (fp32, fp16, dynamic-range int8, full int8, int16x8), a runner and parity.

Every file has the same contract (signature ``serving_default``):
``images`` float32 ``[1, H, W, 3]`` in [0, 1] (any H, W ≥ 32, set with ``resize_tensor_input``),
``style_weights`` float32 ``[1, N]`` (non-negative, normalised to sum 1 inside the model) →
``stylized`` float32 ``[1, H, W, 3]`` in [0, 1]. Style weights stay an input, so one file does
style fusion on the device. The integer files quantize and dequantize at their edges, so their I/O
is float as well; ``int8`` can instead take and give uint8 (``io="uint8"``): images as pixels
0–255, style weights as ``round(w · 255)``, output pixels ``q · scale`` (read the output's
quantization).

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

from ..config import GeneratorSettings
from ..data.images import list_images, load_image, psnr
from ..data.pipelines import center_crops
from ..data.samples import samples_dir
from ..errors import ConfigError, ImageError, ModelFileError
from ..fileutil import atomic_write_bytes
from ..inference.fusion import normalize_weights
from ..models.generator import MIN_SIZE, StyleFusionGenerator
from ..models.layers import record_variance_maxima, variance_floors
from .defaults import export_generator
from .integer import balanced_for_integer, check_integer_only
from .interpreter import make_interpreter
from .ranges import tighten_ranges

log = logging.getLogger(__name__)

MODES = ("fp32", "fp16", "dynamic", "int8", "int16x8")
INTEGER_MODES = ("int8", "int16x8")
IO_TYPES = ("float32", "uint8")
RANGE_METHODS = ("mse", "minmax")
# Parity each mode must keep against the Keras model (PSNR, dB) — asserted by the tests. Full int8
# (8-bit activations) depends most on the model: 31.4–36 dB on the noise-tolerant style packs,
# lowest on smooth photos at 1024² (tflite/README.md); the tests' small models get no such tuning.
PSNR_THRESHOLDS = {"fp32": 45.0, "fp16": 40.0, "dynamic": 35.0, "int8": 25.0, "int16x8": 30.0}
IMAGES, WEIGHTS, OUTPUT = "images", "style_weights", "stylized"
SIGNATURE = "serving_default"
# One quantization step of a tensor whose calibrated maximum is M is M / steps.
ACTIVATION_STEPS = {"int8": 127, "int16x8": 32767}


def parse_modes(spec: str | Sequence[str]) -> list[str]:
    """``"fp32,int8"`` → ``["fp32", "int8"]``; unknown modes raise ConfigError."""
    items = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    bad = [m for m in items if m not in MODES]
    if bad or not items:
        raise ConfigError(f"--quantize {spec!r}: choose one or more of {', '.join(MODES)} (comma-separated)")
    return list(dict.fromkeys(items))


def check_io(io: str) -> str:
    """``io`` if it is one of IO_TYPES, else ConfigError."""
    if io not in IO_TYPES:
        raise ConfigError(f"TFLite I/O {io!r}: choose one of {', '.join(IO_TYPES)}")
    return io


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
    activation ranges calibrated at one framing only clipped on the other (measured).

    The first crop's corner pixels are set to black and white, so the calibrated input range is
    exactly [0, 1]: a uint8 int8 file then takes raw pixel values (scale 1/255, zero point 0).
    """
    crops = list(sample_content(size, folder)) + list(sample_content(2 * size, folder))
    crops[0] = crops[0].copy()
    crops[0][0, 0], crops[0][-1, -1] = 0.0, 1.0
    return crops


def representative_dataset(images: Sequence[np.ndarray], num_styles: int, per_image: int = 4
                           ) -> Iterator[dict[str, np.ndarray]]:
    """Calibration samples keyed by the signature's input names (not by argument position)."""
    weights = sample_weights(num_styles, max(per_image * len(images), num_styles))
    for k, w in enumerate(weights):
        yield {IMAGES: images[k % len(images)][None].astype(np.float32), WEIGHTS: w[None]}


def convert(generator: StyleFusionGenerator, mode: str,
            calibration: Sequence[np.ndarray] | None = None, io: str = "float32",
            ranges: str = "mse") -> bytes:
    """Convert ``generator`` to a TFLite flatbuffer in ``mode`` (one of MODES).

    The integer modes need ``calibration`` images (``[H, W, 3]`` in [0, 1], sizes may differ).
    ``int8`` converts a copy reparameterised for 8-bit ranges (``integer.balanced_for_integer``)
    with every op integer; ``int16x8`` keeps 16-bit activations, and ops without a 16x8 kernel
    stay float. ``io="uint8"`` (``int8`` only) makes the inputs and output uint8. ``ranges``
    (``int8`` only): ``"mse"`` gives each feature map the range with the least quantization error
    on the calibration samples (``ranges.tighten_ranges``), ``"minmax"`` the full range seen.
    """
    if mode not in MODES:
        raise ConfigError(f"mode {mode!r}: choose one of {', '.join(MODES)}")
    if check_io(io) != "float32" and mode != "int8":
        raise ConfigError(f"uint8 input and output need the int8 mode, not {mode}")
    if mode in INTEGER_MODES and (calibration is None or len(calibration) == 0):
        raise ConfigError(f"{mode} conversion needs calibration images")
    if ranges not in RANGE_METHODS:
        raise ConfigError(f"ranges {ranges!r}: choose one of {', '.join(RANGE_METHODS)}")
    if mode == "int8":
        samples = [(s[IMAGES][0], s[WEIGHTS][0]) for s in representative_dataset(calibration, generator.num_styles)]
        generator = balanced_for_integer(generator, samples)
    with tempfile.TemporaryDirectory(prefix="stylefusion_tflite_") as tmp:
        # Freeze the weights into constants first: converting the Keras variables directly
        # (from a concrete function or a SavedModel) left READ_VARIABLE ops that fail at run time.
        # Saving the frozen function as a signature keeps the input names for the interpreter.
        floors = integer_variance_floors(generator, calibration, mode) if mode in INTEGER_MODES else {}
        with variance_floors(floors):
            frozen = convert_variables_to_constants_v2(serving_function(generator))

        @tf.function(input_signature=input_specs(generator.num_styles))
        def serve(images: tf.Tensor, style_weights: tf.Tensor) -> dict[str, tf.Tensor]:
            out = frozen(images, style_weights)
            return {OUTPUT: out[OUTPUT] if isinstance(out, dict) else tf.nest.flatten(out)[0]}

        tf.saved_model.save(tf.Module(), tmp, signatures={SIGNATURE: serve.get_concrete_function()})
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=[SIGNATURE])
        _configure(converter, mode, calibration, generator.num_styles, io)
        with warnings.catch_warnings():
            # The int8 calibrator uses tf.lite.Interpreter internally; the warning is not ours.
            warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
            if mode == "int8" and ranges == "mse":
                return strip_tensor_names(_quantize_with_mse_ranges(converter, calibration, generator.num_styles, io))
            return strip_tensor_names(converter.convert())


def _quantize_with_mse_ranges(converter: tf.lite.TFLiteConverter, calibration: Sequence[np.ndarray],
                              num_styles: int, io: str) -> bytes:
    """Calibrate only, tighten the ranges, then quantize as the converter itself would (the same
    two steps TFLite's quantization debugger takes)."""
    from tensorflow.lite.python.convert import mlir_quantize

    converter._experimental_calibrate_only = True  # noqa: SLF001 - the public debugger's route
    calibrated = converter.convert()
    tightened, changed = tighten_ranges(calibrated, representative_dataset(calibration, num_styles))
    log.debug("int8: %d activation ranges tightened", changed)
    io_type = tf.uint8 if io == "uint8" else tf.float32
    return mlir_quantize(tightened, input_data_type=io_type, output_data_type=io_type)


def strip_tensor_names(model: bytes) -> bytes:
    """``model`` without its internal tensor names (a fifth of an int8 file: 245 → 200 KB on the
    style pack). The signature, which is how every runner finds the inputs, keeps its names."""
    from tensorflow.lite.tools import flatbuffer_utils

    tree = flatbuffer_utils.convert_bytearray_to_object(bytearray(model))
    for subgraph in tree.subgraphs:
        for tensor in subgraph.tensors:
            tensor.name = None
    return bytes(flatbuffer_utils.convert_object_to_bytearray(tree))


def _configure(converter: tf.lite.TFLiteConverter, mode: str, calibration: Sequence[np.ndarray] | None,
               num_styles: int, io: str) -> None:
    if mode == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif mode == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif mode in INTEGER_MODES:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: representative_dataset(calibration, num_styles)
        if mode == "int8":
            # Every op integer: what NPU/DSP delegates and XNNPACK's int8 kernels need.
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            if io == "uint8":
                converter.inference_input_type = tf.uint8
                converter.inference_output_type = tf.uint8
        else:
            # 16-bit activations, 8-bit weights: the image survives the instance norms far better
            # than with 8-bit activations, but XNNPACK has no 16x8 kernels. Ops without a 16x8
            # kernel stay float.
            converter.target_spec.supported_ops = [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8,
                tf.lite.OpsSet.TFLITE_BUILTINS]


def integer_variance_floors(generator: StyleFusionGenerator, calibration: Sequence[np.ndarray],
                            mode: str = "int16x8") -> dict[int, float]:
    """Per instance norm, a variance floor of two activation steps of its calibrated range (see
    ``layers.variance_floors``), measured on the same samples the converter calibrates with."""
    with record_variance_maxima() as maxima:
        for sample in representative_dataset(calibration, generator.num_styles):
            generator((sample[IMAGES], sample[WEIGHTS]), training=False)
    return {key: 2.0 * peak / ACTIVATION_STEPS[mode] for key, peak in maxima.items()}


def tflite_filename(name: str, mode: str) -> str:
    return f"{name}_{mode}.tflite"


@dataclass
class ExportedTFLite:
    mode: str
    path: Path
    bytes: int
    psnr: float | None = None
    # Integer modes: the model analyzer's verdict on float ops (``integer.check_integer_only``).
    integer_check: str | None = None


def export_tflite(generator: StyleFusionGenerator, out_dir: str | Path, modes: Sequence[str] = MODES,
                  name: str = "stylefusion", size: int = 256, check: bool = True,
                  samples: str | Path | None = None, io: str = "float32",
                  settings: GeneratorSettings | None = None) -> list[ExportedTFLite]:
    """Write ``<name>_<mode>.tflite`` for each mode into ``out_dir`` (atomically).

    ``size`` is the side of the sample crops used for the parity check and (with ``2·size``)
    for integer calibration; the files themselves accept any size. With ``check``, each file's PSNR
    against the Keras model on the sample images is measured, and each integer file's ops are
    checked with the TFLite model analyzer. ``io`` applies to the int8 file (see ``convert``).
    ``settings`` override the export's defaults (``defaults.EXPORT_SETTINGS``), which override the
    model's own; the files and their parity check use the result.
    """
    modes = parse_modes(modes)
    generator = export_generator(generator, settings)
    if size < MIN_SIZE:
        raise ConfigError(f"--size {size}: must be at least {MIN_SIZE}")
    images = sample_content(size, samples)
    check_io(io)
    calibration = calibration_images(size, samples) if set(modes) & set(INTEGER_MODES) else None
    out_dir = Path(out_dir)
    results = []
    for mode in modes:
        data = convert(generator, mode, calibration, io if mode == "int8" else "float32")
        path = out_dir / tflite_filename(name, mode)
        atomic_write_bytes(path, data)
        result = ExportedTFLite(mode, path, len(data))
        if check:
            result.psnr = parity_psnr(path, generator, images)
            if mode in INTEGER_MODES:
                result.integer_check = check_integer_only(data).summary()
        log.info("wrote %s (%.0f KB%s)", path, len(data) / 1024,
                 "" if result.psnr is None else f", {result.psnr:.1f} dB")
        results.append(result)
    return results


class TFLiteStylizer:
    """Runs a converted file: ``stylizer(image [H, W, 3] in [0, 1], weights [N]) → [H, W, 3]``.

    Inputs are found by their signature names; the input tensors are resized (and the
    interpreter re-allocated) only when the image size changes. A file with uint8 I/O is fed and
    read through its tensors' quantization, so every file takes and gives floats here.
    """

    def __init__(self, model: str | Path | bytes, num_threads: int = 2):
        self.interpreter = make_interpreter(model, num_threads)
        runner = self.interpreter.get_signature_runner(SIGNATURE)
        inputs, outputs = runner.get_input_details(), runner.get_output_details()
        if set(inputs) != {IMAGES, WEIGHTS} or OUTPUT not in outputs:
            raise ModelFileError(f"{model}: not a tf_stylefusion TFLite model "
                                 f"(inputs {sorted(inputs)}, outputs {sorted(outputs)})")
        self._images, self._weights, self._output = inputs[IMAGES], inputs[WEIGHTS], outputs[OUTPUT]
        self.num_styles = int(inputs[WEIGHTS]["shape"][-1])
        self._shape: tuple[int, int] | None = None

    def __call__(self, image: np.ndarray, weights: np.ndarray) -> np.ndarray:
        image = np.asarray(image, np.float32)
        if image.ndim != 3 or image.shape[-1] != 3 or min(image.shape[:2]) < MIN_SIZE:
            raise ImageError("image", f"expected [H, W, 3] with H, W ≥ {MIN_SIZE}, got {list(image.shape)}")
        h, w = image.shape[:2]
        weights = normalize_weights(weights, self.num_styles).reshape(1, self.num_styles)
        if self._shape != (h, w):
            self.interpreter.resize_tensor_input(self._images["index"], [1, h, w, 3], strict=False)
            self.interpreter.allocate_tensors()
            self._shape = (h, w)
        self.interpreter.set_tensor(self._images["index"], _to_input(image[None], self._images))
        self.interpreter.set_tensor(self._weights["index"], _to_input(weights, self._weights))
        self.interpreter.invoke()
        out = self.interpreter.get_tensor(self._output["index"])[0]
        if out.dtype == np.float32:
            return out
        scale, zero = self._output["quantization"]
        return (out.astype(np.float32) - zero) * scale


def _to_input(values: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """Float values as the input tensor's dtype (quantized with its scale and zero point)."""
    if detail["dtype"] == np.float32:
        return values.astype(np.float32)
    scale, zero = detail["quantization"]
    info = np.iinfo(detail["dtype"])
    return np.clip(np.round(values / scale + zero), info.min, info.max).astype(detail["dtype"])


def parity_psnr(model: str | Path | bytes, generator: StyleFusionGenerator, images: np.ndarray,
                mixes: int = 2, num_threads: int = 2, weights: Sequence[np.ndarray] | None = None) -> float:
    """PSNR of the TFLite output against the Keras output over ``images`` × ``mixes`` weight rows
    (``weights``, when given, instead of the sampled rows); one MSE over everything, so one bad
    image is not averaged away in dB."""
    stylizer = TFLiteStylizer(model, num_threads)
    if weights is None:
        weights = sample_weights(generator.num_styles, max(mixes, 1), seed=1)[-mixes:]
    got, expected = [], []
    for image in images:
        for w in weights:
            expected.append(generator((image[None], w[None]), training=False)[0].numpy())
            got.append(stylizer(image, w))
    return psnr(np.stack(got), np.stack(expected))

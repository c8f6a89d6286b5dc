"""SavedModel export for TF Serving: uint8 tensors, encoded-bytes (REST b64) and style names.

The SavedModel holds no Python: style weights are validated by graph assertions, so a server
rejects negative, NaN/inf, all-zero or wrong-length weights with a message naming the problem.

Signatures (``saved_model_cli show --all`` lists them):

- ``serving_default``: ``images`` uint8 ``[B, H, W, 3]`` (H, W ≥ 32), ``style_weights`` float32
  ``[B, N]`` → ``stylized`` uint8 ``[B, H, W, 3]``;
- ``stylize_bytes``: ``image_bytes`` string ``[B]`` (JPEG/PNG/GIF/BMP files), ``style_weights``
  float32 ``[B, N]`` → ``stylized_bytes`` string ``[B]`` (PNG files). Names end in ``_bytes`` so
  TF Serving's REST API reads and writes them as ``{"b64": ...}``;
- ``stylize_regions``: as ``serving_default`` but ``style_weights`` float32 ``[B, H, W, N]``, a
  mix per pixel (masks, gradients between styles; soft edges are the caller's choice);
- ``style_names``: no input → ``style_names`` string ``[N]`` (also in
  ``assets.extra/style_names.txt``, one name per line).
"""

from __future__ import annotations

import logging
from pathlib import Path

import keras
import tensorflow as tf

from .errors import ConfigError
from .fileutil import atomic_dir
from .models.generator import MIN_SIZE, StyleFusionGenerator

log = logging.getLogger(__name__)

SERVING_SIGNATURE = "serving_default"
BYTES_SIGNATURE = "stylize_bytes"
REGIONS_SIGNATURE = "stylize_regions"
NAMES_SIGNATURE = "style_names"
STYLE_NAMES_FILE = "assets.extra/style_names.txt"


def style_names_of(generator: StyleFusionGenerator) -> list[str]:
    """The generator's style names, or ``style_0 … style_{N-1}`` where it has none."""
    names = generator.style_names
    if len(names) != generator.num_styles:
        names = [f"style_{i}" for i in range(generator.num_styles)]
    return names


def validate_weights_in_graph(weights: tf.Tensor, leading: tf.Tensor, num_styles: int,
                              names: list[str]) -> tf.Tensor:
    """Graph-side twin of ``fusion.normalize_weights``: assert, then normalise to sum 1.

    ``weights`` is ``[B, N]`` (one mix per image) or ``[B, H, W, N]`` (a mix per pixel);
    ``leading`` is the shape its leading axes must have (``[B]`` or ``[B, H, W]``)."""
    listing = ", ".join(names)
    per_pixel = weights.shape.rank == 4
    checks = [
        tf.debugging.assert_equal(
            tf.shape(weights)[-1], num_styles,
            message=f"style_weights: wrong length; give {num_styles} weights per "
                    f"{'pixel' if per_pixel else 'image'}, one per style in this order: {listing}"),
        tf.debugging.assert_equal(
            tf.shape(weights)[:-1], leading,
            message="style_weights: needs one weight map per image, as high and wide as the image"
            if per_pixel else "style_weights: needs one row of weights per image (batch sizes differ)"),
    ]
    with tf.control_dependencies(checks):
        finite = tf.debugging.Assert(
            tf.reduce_all(tf.math.is_finite(weights)),
            ["style_weights: contains NaN or infinite values; give finite weights >= 0"])
    with tf.control_dependencies([finite]):
        non_negative = tf.debugging.assert_non_negative(
            weights, message="style_weights: weights must be non-negative")
        some_weight = tf.debugging.Assert(
            tf.reduce_all(tf.reduce_sum(weights, axis=-1) > 0),
            ["style_weights: all weights are zero" + (" at some pixel" if per_pixel else "")
             + "; give at least one style a weight > 0"])
    with tf.control_dependencies([non_negative, some_weight]):
        return weights / tf.reduce_sum(weights, axis=-1, keepdims=True)


def _check_images(images: tf.Tensor) -> list[tf.Operation]:
    # A loaded signature enforces its TensorSpec's dtype but not the channel count.
    shape = tf.shape(images)
    return [
        tf.debugging.assert_equal(shape[3], 3, message="images: expected 3 channels (RGB) in the last axis"),
        tf.debugging.assert_greater_equal(
            tf.reduce_min(shape[1:3]), MIN_SIZE,
            message=f"images: height and width must be at least {MIN_SIZE} pixels"),
    ]


def _to_uint8(images: tf.Tensor) -> tf.Tensor:
    """float [0, 1] → uint8, rounded like ``images.to_uint8``."""
    return tf.cast(tf.floor(tf.clip_by_value(images, 0.0, 1.0) * 255.0 + 0.5), tf.uint8)


def build_export_archive(generator: StyleFusionGenerator) -> keras.export.ExportArchive:
    """An ExportArchive with the three signatures (see the module docstring)."""
    n = generator.num_styles
    names = style_names_of(generator)

    def stylize_uint8(images: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
        with tf.control_dependencies(_check_images(images)):  # images first: weights use their shape
            leading = tf.shape(images)[: weights.shape.rank - 1]
            weights = validate_weights_in_graph(weights, leading, n, names)
            x = tf.cast(images, tf.float32) / 255.0
        return _to_uint8(generator((x, weights), training=False))

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="images"),
                                  tf.TensorSpec([None, None], tf.float32, name="style_weights")])
    def serving_default(images: tf.Tensor, style_weights: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"stylized": stylize_uint8(images, style_weights)}

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="images"),
                                  tf.TensorSpec([None, None, None, n], tf.float32, name="style_weights")])
    def stylize_regions(images: tf.Tensor, style_weights: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"stylized": stylize_uint8(images, style_weights)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes"),
                                  tf.TensorSpec([None, None], tf.float32, name="style_weights")])
    def stylize_bytes(image_bytes: tf.Tensor, style_weights: tf.Tensor) -> dict[str, tf.Tensor]:
        weights = validate_weights_in_graph(style_weights, tf.shape(image_bytes), n, names)

        def one(args: tuple[tf.Tensor, tf.Tensor]) -> tf.Tensor:
            data, w = args
            # Images in one request may differ in size: each is decoded and stylized on its own.
            image = tf.io.decode_image(data, channels=3, dtype=tf.uint8, expand_animations=False)
            out = stylize_uint8(image[None], w[None])
            return tf.io.encode_png(out[0])

        return {"stylized_bytes": tf.map_fn(one, (image_bytes, weights),
                                            fn_output_signature=tf.TensorSpec([], tf.string))}

    names_tensor = tf.constant(names, tf.string)

    @tf.function(input_signature=[])
    def style_names() -> dict[str, tf.Tensor]:
        return {"style_names": tf.identity(names_tensor)}

    archive = keras.export.ExportArchive()
    archive.track(generator)
    archive.add_endpoint(SERVING_SIGNATURE, serving_default)
    archive.add_endpoint(BYTES_SIGNATURE, stylize_bytes)
    archive.add_endpoint(REGIONS_SIGNATURE, stylize_regions)
    archive.add_endpoint(NAMES_SIGNATURE, style_names)
    return archive


def export_saved_model(generator: StyleFusionGenerator, path: str | Path) -> Path:
    """Write a TF Serving SavedModel of ``generator`` to ``path`` atomically and return it.

    For TF Serving, ``path`` is a numbered version folder (``models/NAME/1``). An existing
    folder at ``path`` is replaced only once the new export is complete.
    """
    if not isinstance(generator, StyleFusionGenerator):
        raise ConfigError(f"export_saved_model: expected a StyleFusionGenerator, got {type(generator).__name__}")
    path = Path(path)
    archive = build_export_archive(generator)
    with atomic_dir(path) as tmp:
        archive.write_out(str(tmp), verbose=False)
        names_file = tmp / STYLE_NAMES_FILE
        names_file.parent.mkdir(parents=True, exist_ok=True)
        names_file.write_text("\n".join(style_names_of(generator)) + "\n", encoding="utf-8")
    log.info("wrote SavedModel %s (signatures: %s, %s, %s, %s)", path, SERVING_SIGNATURE,
             BYTES_SIGNATURE, REGIONS_SIGNATURE, NAMES_SIGNATURE)
    return path

"""SavedModel export for TF Serving: uint8 tensors, encoded-bytes (REST b64) and style names.

The SavedModel holds no Python: style weights are validated by graph assertions, so a server
rejects negative, NaN/inf, all-zero or wrong-length weights with a message naming the problem.

Signatures (``saved_model_cli show --all`` lists them):

- ``serving_default``: ``images`` uint8 ``[B, H, W, 3]`` (H, W ≥ 32), ``style_weights`` float32
  ``[B, N]`` → ``stylized`` uint8 ``[B, H, W, 3]``;
- ``stylize_bytes``: ``image_bytes`` string ``[B]`` (JPEG/PNG/GIF/BMP files; a JPEG's EXIF
  orientation is applied, as the Python loader does), ``style_weights``
  float32 ``[B, N]`` → ``stylized_bytes`` string ``[B]`` (PNG files). Names end in ``_bytes`` so
  TF Serving's REST API reads and writes them as ``{"b64": ...}``;
- ``stylize_regions``: as ``serving_default`` but ``style_weights`` float32 ``[B, H, W, N]``, a
  mix per pixel (masks, gradients between styles; soft edges are the caller's choice);
- with a StyleEncoder (``export_saved_model(..., encoder=...)``; the CLI adds the run's
  ``style_encoder.keras`` when there is one): ``encode_style``: ``style_images`` uint8
  ``[B, H, W, 3]`` → ``style_rows`` float32 ``[B, D]`` (a style row for any image), and
  ``stylize_fused``: ``images``, ``style_weights`` ``[B, N + M]`` over the bank then ``style_rows``
  ``[B, M, D]`` (M ≥ 0), ``strength`` ``[B]`` in [0, 1], ``preserve_color`` ``[B]`` in [0, 1] (1: the
  content's colours, luminance-only) → ``stylized`` (the Python API's style-space strength with
  the content anchor and ``preserve_color="luminance"``, see ``fusion.StylizeOptions``);
- ``style_names``: no input → ``style_names`` string ``[N]`` (also in
  ``assets.extra/style_names.txt``, one name per line).
"""

from __future__ import annotations

import logging
from pathlib import Path

import keras
import tensorflow as tf

from ..config import GeneratorSettings
from ..data.pipelines import resize_short_side
from ..errors import ConfigError
from ..fileutil import atomic_dir
from ..inference.color import RGB_TO_YIQ, YIQ_TO_RGB
from ..models.generator import MIN_SIZE, StyleFusionGenerator
from ..models.style_encoder import StyleEncoder
from .defaults import export_generator
from .exif import apply_orientation, exif_orientation

log = logging.getLogger(__name__)

SERVING_SIGNATURE = "serving_default"
BYTES_SIGNATURE = "stylize_bytes"
REGIONS_SIGNATURE = "stylize_regions"
ENCODE_SIGNATURE = "encode_style"
FUSED_SIGNATURE = "stylize_fused"
NAMES_SIGNATURE = "style_names"
STYLE_NAMES_FILE = "assets.extra/style_names.txt"


def style_names_of(generator: StyleFusionGenerator) -> list[str]:
    """The generator's style names, or ``style_0 … style_{N-1}`` where it has none."""
    names = generator.style_names
    if len(names) != generator.num_styles:
        names = [f"style_{i}" for i in range(generator.num_styles)]
    return names


def validate_weights_in_graph(weights: tf.Tensor, leading: tf.Tensor, num_styles: int | tf.Tensor,
                              names: list[str]) -> tf.Tensor:
    """Graph-side twin of ``fusion.normalize_weights``: assert, then normalise to sum 1.

    ``weights`` is ``[B, N]`` (one mix per image) or ``[B, H, W, N]`` (a mix per pixel);
    ``leading`` is the shape its leading axes must have (``[B]`` or ``[B, H, W]``)."""
    listing = ", ".join(names)
    per_pixel = weights.shape.rank == 4
    count = num_styles if isinstance(num_styles, int) else "N + M"
    checks = [
        tf.debugging.assert_equal(
            tf.shape(weights)[-1], num_styles,
            message=f"style_weights: wrong length; give {count} weights per "
                    f"{'pixel' if per_pixel else 'image'}, one per style in this order: {listing}"
                    + ("" if isinstance(num_styles, int) else ", then one per style row")),
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


def _add_encoder_endpoints(archive: keras.export.ExportArchive, generator: StyleFusionGenerator,
                           encoder: StyleEncoder, names: list[str]) -> None:
    """``encode_style`` and ``stylize_fused`` (see the module docstring)."""
    if encoder.param_dim != generator.param_dim:
        raise ConfigError(f"export: the style encoder predicts rows of {encoder.param_dim} values, the "
                          f"generator's bank rows have {generator.param_dim}; it belongs to another model")
    n, d = generator.num_styles, generator.param_dim
    archive.track(encoder)
    archive.track(encoder.vgg().model)

    def rows_of(x: tf.Tensor, size: int) -> tf.Tensor:
        return encoder(encoder.statistics(resize_short_side(x, size)))

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="style_images")])
    def encode_style(style_images: tf.Tensor) -> dict[str, tf.Tensor]:
        with tf.control_dependencies(_check_images(style_images)):
            x = tf.cast(style_images, tf.float32) / 255.0
        return {"style_rows": rows_of(x, encoder.style_size)}

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="images"),
                                  tf.TensorSpec([None, None], tf.float32, name="style_weights"),
                                  tf.TensorSpec([None, None, d], tf.float32, name="style_rows"),
                                  tf.TensorSpec([None], tf.float32, name="strength"),
                                  tf.TensorSpec([None], tf.float32, name="preserve_color")])
    def stylize_fused(images: tf.Tensor, style_weights: tf.Tensor, style_rows: tf.Tensor,
                      strength: tf.Tensor, preserve_color: tf.Tensor) -> dict[str, tf.Tensor]:
        b = tf.shape(images)[0]
        checks = _check_images(images) + [
            tf.debugging.assert_equal(tf.shape(style_rows)[0], b,
                                      message="style_rows: needs one [M, D] set of rows per image"),
            tf.debugging.assert_equal(tf.shape(strength)[0], b, message="strength: needs one value per image"),
            tf.debugging.Assert(tf.reduce_all((strength >= 0.0) & (strength <= 1.0)),
                                ["strength: must lie in [0, 1] (0 = the content, 1 = the full style)"]),
            tf.debugging.assert_equal(tf.shape(preserve_color)[0], b,
                                      message="preserve_color: needs one value per image"),
            tf.debugging.Assert(tf.reduce_all((preserve_color >= 0.0) & (preserve_color <= 1.0)),
                                ["preserve_color: must lie in [0, 1] (1 = the content's colours)"]),
        ]
        with tf.control_dependencies(checks):
            k = n + tf.shape(style_rows)[1]
            weights = validate_weights_in_graph(style_weights, tf.shape(images)[:1], k, names)
            x = tf.cast(images, tf.float32) / 255.0
        # Rows: the bank, the given style rows, then the content's own row (its "no style").
        bank = tf.tile(tf.convert_to_tensor(generator.bank.table)[None], [b, 1, 1])
        table = tf.concat([bank, style_rows, rows_of(x, encoder.content_size)[:, None, :]], axis=1)
        s = strength[:, None]
        out = generator.stylize_with_table(x, tf.concat([weights * s, 1.0 - s], axis=-1), table)
        # Add back what the generator cannot reproduce of the content, scaled by (1 - strength):
        # strength 0 is then the content itself (as StylizeOptions.anchor_content does).
        # Skipped (a second generator pass) when every image asks for the full style.
        residual = tf.cond(
            tf.reduce_all(strength >= 1.0), lambda: tf.zeros_like(x),
            lambda: x - generator.stylize_with_table(x, tf.one_hot(tf.fill([b], k), k + 1), table))
        out = tf.clip_by_value(out + (1.0 - strength)[:, None, None, None] * residual, 0.0, 1.0)
        # Luminance-only transfer (color.transfer_luminance): the output's Y, the content's I and Q.
        to_yiq, to_rgb = tf.constant(RGB_TO_YIQ.T, tf.float32), tf.constant(YIQ_TO_RGB.T, tf.float32)
        kept = tf.clip_by_value(tf.concat([(out @ to_yiq)[..., :1], (x @ to_yiq)[..., 1:]], -1) @ to_rgb,
                                0.0, 1.0)
        p = preserve_color[:, None, None, None]
        return {"stylized": _to_uint8((1.0 - p) * out + p * kept)}

    archive.add_endpoint(ENCODE_SIGNATURE, encode_style)
    archive.add_endpoint(FUSED_SIGNATURE, stylize_fused)


def _to_uint8(images: tf.Tensor) -> tf.Tensor:
    """float [0, 1] → uint8, rounded like ``images.to_uint8``."""
    return tf.cast(tf.floor(tf.clip_by_value(images, 0.0, 1.0) * 255.0 + 0.5), tf.uint8)


def build_export_archive(generator: StyleFusionGenerator,
                         encoder: StyleEncoder | None = None) -> keras.export.ExportArchive:
    """An ExportArchive with the signatures of the module docstring (the encoder's two only when
    ``encoder`` is given)."""
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
            image = apply_orientation(image, exif_orientation(data))  # phone photos come upright
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
    if encoder is not None:
        _add_encoder_endpoints(archive, generator, encoder, names)
    return archive


def export_saved_model(generator: StyleFusionGenerator, path: str | Path,
                       encoder: StyleEncoder | None = None, settings: GeneratorSettings | None = None) -> Path:
    """Write a TF Serving SavedModel of ``generator`` to ``path`` atomically and return it.

    For TF Serving, ``path`` is a numbered version folder (``models/NAME/1``). An existing
    folder at ``path`` is replaced only once the new export is complete. ``settings`` override
    the export's defaults (``defaults.EXPORT_SETTINGS``), which override the model's own.
    """
    if not isinstance(generator, StyleFusionGenerator):
        raise ConfigError(f"export_saved_model: expected a StyleFusionGenerator, got {type(generator).__name__}")
    generator = export_generator(generator, settings)
    path = Path(path)
    archive = build_export_archive(generator, encoder)
    with atomic_dir(path) as tmp:
        archive.write_out(str(tmp), verbose=False)
        names_file = tmp / STYLE_NAMES_FILE
        names_file.parent.mkdir(parents=True, exist_ok=True)
        names_file.write_text("\n".join(style_names_of(generator)) + "\n", encoding="utf-8")
    signatures = [SERVING_SIGNATURE, BYTES_SIGNATURE, REGIONS_SIGNATURE, NAMES_SIGNATURE]
    if encoder is not None:
        signatures += [ENCODE_SIGNATURE, FUSED_SIGNATURE]
    log.info("wrote SavedModel %s (signatures: %s)", path, ", ".join(signatures))
    return path

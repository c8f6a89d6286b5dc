"""EXIF orientation inside a TensorFlow graph, for the SavedModel's encoded-bytes signature.

Phones store a portrait photo as landscape pixels plus an EXIF ``Orientation`` tag;
``tf.io.decode_image`` ignores the tag, so a served photo would come back on its side. These
ops read the tag from a JPEG's APP1 segment with plain tensor arithmetic (no Python at serving
time) and apply it the way Pillow's ``ImageOps.exif_transpose`` does, as the Python loader does.
"""

from __future__ import annotations

import tensorflow as tf

ORIENTATION_TAG = 0x0112
# The APP1 segment sits right after the JPEG's start marker; 64 KiB is its largest size.
_HEAD_BYTES = 65536
_MAX_ENTRIES = 64
_EXIF_MARKER = (0x45, 0x78, 0x69, 0x66, 0x00, 0x00)  # "Exif\0\0", then the TIFF header


def exif_orientation(data: tf.Tensor) -> tf.Tensor:
    """The EXIF orientation (int32 in 1..8) of one encoded image (a scalar string); 1 when the
    file is no JPEG, has no EXIF block, no orientation tag, or a value out of range."""
    head = tf.strings.substr(data, 0, tf.minimum(tf.strings.length(data), _HEAD_BYTES))
    raw = tf.cast(tf.io.decode_raw(head, tf.uint8), tf.int32)
    n = tf.shape(raw)[0]
    # Zero padding, so every read below stays inside the array whatever the offsets say.
    b = tf.concat([raw, tf.zeros([16 + 12 * _MAX_ENTRIES], tf.int32)], axis=0)
    size = tf.shape(b)[0]

    def at(offsets: tf.Tensor) -> tf.Tensor:
        return tf.gather(b, tf.clip_by_value(offsets, 0, size - 1))

    is_jpeg = tf.logical_and(tf.equal(b[0], 0xFF), tf.equal(b[1], 0xD8))
    positions = tf.range(tf.maximum(n - len(_EXIF_MARKER), 0))
    match = tf.ones_like(positions, tf.bool)
    for k, byte in enumerate(_EXIF_MARKER):
        match = tf.logical_and(match, tf.equal(at(positions + k), byte))
    found = tf.logical_and(is_jpeg, tf.reduce_any(match))
    # The first match (0 when there is none: ``found`` is then false anyway).
    tiff = tf.reduce_min(tf.where(match, positions, size)) % size + len(_EXIF_MARKER)
    little = tf.equal(at(tiff), 0x49)  # "II": Intel byte order; "MM": Motorola

    def u16(o: tf.Tensor) -> tf.Tensor:
        lo, hi = at(o), at(o + 1)
        return tf.where(little, lo + 256 * hi, 256 * lo + hi)

    def u32(o: tf.Tensor) -> tf.Tensor:
        return tf.where(little, u16(o) + 65536 * u16(o + 2), 65536 * u16(o) + u16(o + 2))

    ifd = tiff + u32(tiff + 4)
    count = tf.minimum(u16(ifd), _MAX_ENTRIES)
    entries = ifd + 2 + 12 * tf.range(_MAX_ENTRIES)
    hit = tf.logical_and(tf.equal(u16(entries), ORIENTATION_TAG), tf.range(_MAX_ENTRIES) < count)
    value = tf.reduce_max(tf.where(hit, u16(entries + 8), 0))
    valid = tf.logical_and(found, tf.logical_and(value >= 1, value <= 8))
    return tf.where(valid, value, 1)


def apply_orientation(image: tf.Tensor, orientation: tf.Tensor) -> tf.Tensor:
    """Turn a decoded ``[H, W, C]`` image upright for an EXIF ``orientation`` in 1..8."""
    branches = [
        lambda: image,                                            # 1: upright
        lambda: tf.image.flip_left_right(image),                  # 2: mirrored
        lambda: tf.image.rot90(image, 2),                         # 3: upside down
        lambda: tf.image.flip_up_down(image),                     # 4: mirrored upside down
        lambda: tf.transpose(image, [1, 0, 2]),                   # 5: transposed
        lambda: tf.image.rot90(image, 3),                         # 6: needs 90° clockwise
        lambda: tf.image.rot90(tf.transpose(image, [1, 0, 2]), 2),  # 7: transversed
        lambda: tf.image.rot90(image, 1),                         # 8: needs 90° anticlockwise
    ]
    return tf.switch_case(tf.clip_by_value(orientation, 1, 8) - 1, branches)

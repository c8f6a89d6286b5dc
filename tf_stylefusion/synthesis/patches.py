"""Patches in and out of an image, and the nearest painting patch for each (TensorFlow).

``extract`` cuts overlapping ``p × p`` patches on a grid of step ``gap``; ``fold`` lays weighted
patches back and averages where they overlap (the adjoint of ``extract``); ``nearest`` finds, for
every query patch, the closest patch of a set by one matrix product per chunk, so memory stays
bounded by the chunk sizes however large the painting is, and a GPU speeds it.
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf


def padded_size(size: int, patch: int, gap: int) -> int:
    """The smallest length ≥ ``size`` that a grid of ``patch``-long windows ``gap`` apart covers."""
    if size <= patch:
        return patch
    return patch + -(-(size - patch) // gap) * gap


def pad_to_grid(image: tf.Tensor, patch: int, gap: int) -> tf.Tensor:
    """``[H, W, C]`` → reflect-padded at the bottom and right so the patch grid covers it."""
    h, w = int(image.shape[0]), int(image.shape[1])
    ph, pw = padded_size(h, patch, gap) - h, padded_size(w, patch, gap) - w
    if ph == 0 and pw == 0:
        return image
    mode = "REFLECT" if ph < h and pw < w else "SYMMETRIC"
    return tf.pad(image, [[0, ph], [0, pw], [0, 0]], mode=mode)


def extract(image: tf.Tensor, patch: int, gap: int) -> tf.Tensor:
    """``[H, W, C]`` → ``[rows, cols, patch * patch * C]`` (VALID windows ``gap`` apart)."""
    return tf.image.extract_patches(image[None], sizes=[1, patch, patch, 1], strides=[1, gap, gap, 1],
                                    rates=[1, 1, 1, 1], padding="VALID")[0]


@functools.lru_cache(maxsize=32)
def _fold_index(rows: int, cols: int, patch: int, gap: int, channels: int) -> tf.Tensor:
    # The flat output position of every element of every patch, in extract_patches' order
    # (row, col, then (i * patch + j) * channels + c), so folding is one segment sum: linear in
    # the number of patch elements, where a conv2d_transpose with an identity kernel would be
    # quadratic in the patch's length.
    width = (cols - 1) * gap + patch
    origin = ((np.arange(rows)[:, None] * gap) * width + np.arange(cols)[None, :] * gap) * channels
    offset = ((np.arange(patch)[:, None] * width + np.arange(patch)[None, :]) * channels)[..., None] \
        + np.arange(channels)
    flat = origin.reshape(-1, 1).astype(np.int32) + offset.reshape(1, -1).astype(np.int32)
    return tf.constant(flat.reshape(-1))


def fold(patches: tf.Tensor, patch: int, gap: int, channels: int = 3) -> tf.Tensor:
    """Sum patches ``[rows, cols, patch*patch*C]`` back onto their ``[H, W, C]`` image grid."""
    rows, cols = int(patches.shape[0]), int(patches.shape[1])
    height, width = (rows - 1) * gap + patch, (cols - 1) * gap + patch
    index = _fold_index(rows, cols, patch, gap, channels)
    summed = tf.math.unsorted_segment_sum(tf.reshape(patches, [-1]), index, height * width * channels)
    return tf.reshape(summed, [height, width, channels])


def principal_axes(samples: tf.Tensor, energy: float, max_dims: int, seed: int = 0) -> tuple[tf.Tensor, tf.Tensor]:
    """Mean and the leading principal axes ``[D, k]`` holding ``energy`` of the samples' variance.

    Searching in this subspace keeps the ordering of distances between patches nearly intact at
    a fraction of the cost (a painting's patches are highly correlated). The axes come from a
    randomized range finder (a few power iterations on ``max_dims + 8`` directions), so a 32 px
    patch (3,072 values) costs a few small products rather than a full eigendecomposition.
    """
    mean = tf.reduce_mean(samples, axis=0)
    centred = samples - mean
    dims = int(samples.shape[1])
    cov = tf.matmul(centred, centred, transpose_a=True) / tf.cast(tf.shape(samples)[0], tf.float32)
    probe = min(dims, max_dims + 8)
    basis = tf.random.stateless_normal([dims, probe], seed=[seed, 17])
    for _ in range(3):
        basis, _ = tf.linalg.qr(tf.matmul(cov, basis))
    values, vectors = tf.linalg.eigh(tf.matmul(basis, tf.matmul(cov, basis), transpose_a=True))
    values, vectors = values[::-1], tf.matmul(basis, vectors[:, ::-1])
    share = tf.cumsum(values) / tf.maximum(tf.linalg.trace(cov), 1e-12)
    k = int(tf.reduce_sum(tf.cast(share < energy, tf.int32))) + 1
    return mean, vectors[:, :min(k, max_dims)]


def nearest(queries: tf.Tensor, keys: tf.Tensor, query_chunk: int = 4096,
            key_chunk: int = 16384) -> tf.Tensor:
    """Index into ``keys [M, D]`` of the nearest (L2) key for each row of ``queries [N, D]``.

    ``|q - k|² = |q|² - 2 (q·k - |k|²/2)``: with the keys augmented by ``-|k|²/2`` and the queries
    by 1, the nearest key is the argmax of one matrix product. Both sides are chunked and the
    running best kept, so memory is ``query_chunk × key_chunk`` floats.
    """
    m = int(keys.shape[0])
    keys = tf.concat([keys, -0.5 * tf.reduce_sum(tf.square(keys), axis=1, keepdims=True)], axis=1)
    queries = tf.concat([queries, tf.ones([tf.shape(queries)[0], 1], queries.dtype)], axis=1)
    found = []
    for q0 in range(0, int(queries.shape[0]), query_chunk):
        q = queries[q0:q0 + query_chunk]
        best, best_index = None, None
        for k0 in range(0, m, key_chunk):
            scores = tf.matmul(q, keys[k0:k0 + key_chunk], transpose_b=True)
            index = tf.argmax(scores, axis=1, output_type=tf.int32)
            if k0 + key_chunk >= m and best is None:
                best_index = index  # one chunk holds every key
                break
            value = tf.gather(scores, index, axis=1, batch_dims=1)
            if best is None:
                best, best_index = value, index
                continue
            better = value > best
            best = tf.where(better, value, best)
            best_index = tf.where(better, index + k0, best_index)
        found.append(best_index)
    return tf.concat(found, axis=0)

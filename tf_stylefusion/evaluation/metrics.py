"""Image-quality metrics for style transfer: formulas only (no files, no models).

- ``gram_distance``: Σ over layers of mean squared Gram difference / mean square of the target
  Gram (the style loss's normalisation, so layers count equally).
- ``content_distance``: mean squared feature difference / mean square of the target features.
- ``ssim``: structural similarity (``tf.image.ssim``, 11×11 Gaussian window, max value 1).
- ``color_histogram_distance``: chi-square distance ``½ Σ (p − q)² / (p + q)`` between joint 3-D
  RGB histograms (``bins`` per channel, normalised to sum 1); 0 for equal palettes, 1 for disjoint.
- ``frechet_distance`` / ``fid``: ``|μ₁ − μ₂|² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^½ Σ₂ Σ₁^½)^½``, the
  matrix square roots taken by symmetric eigendecomposition (eigenvalues clipped at 0), which
  is numerically safe for the singular covariances of small sample sets; from samples, the same
  trace comes exactly from a small SVD in sample space.
- ``kid``: unbiased squared MMD with the polynomial kernel ``k(x, y) = (x·y / d + 1)³``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

from ..data.images import psnr  # noqa: F401  (re-exported: part of the metrics API)
from ..training.losses import content_loss, gram_matrix, style_loss


def gram_distance(features: Sequence[tf.Tensor], target_grams: Sequence[tf.Tensor]) -> np.ndarray:
    """Per-image style distance ``[B]`` of feature maps to target Grams (``[1|B, C, C]`` each)."""
    grams = [gram_matrix(f) for f in features]
    norms = [tf.reduce_mean(tf.square(t)) + 1e-12 for t in target_grams]
    return style_loss(grams, target_grams, norms).numpy()


def content_distance(features: tf.Tensor, target: tf.Tensor) -> np.ndarray:
    """Per-image content distance ``[B]`` between two feature maps of the same shape."""
    return content_loss(features, target).numpy()


def ssim(images: np.ndarray, references: np.ndarray) -> np.ndarray:
    """Per-image SSIM ``[B]`` of float images in [0, 1] (``[B, H, W, 3]``, H, W ≥ 11)."""
    return tf.image.ssim(tf.convert_to_tensor(images, tf.float32),
                         tf.convert_to_tensor(references, tf.float32), max_val=1.0).numpy()


def color_histogram(images: Sequence[np.ndarray], bins: int = 8) -> np.ndarray:
    """Joint RGB histogram ``[bins³]`` of all pixels of ``images`` (float [0, 1]), summing to 1."""
    counts = np.zeros(bins ** 3, np.float64)
    for img in images:
        q = np.clip((np.asarray(img, np.float32) * bins).astype(np.int64), 0, bins - 1)
        idx = (q[..., 0] * bins + q[..., 1]) * bins + q[..., 2]
        counts += np.bincount(idx.ravel(), minlength=bins ** 3)
    return counts / max(counts.sum(), 1.0)


def chi_square_distance(p: np.ndarray, q: np.ndarray) -> float:
    """``½ Σ (p − q)² / (p + q)`` over bins where ``p + q > 0``; in [0, 1] for distributions."""
    s = p + q
    nz = s > 0
    return float(0.5 * np.sum((p[nz] - q[nz]) ** 2 / s[nz]))


def color_histogram_distance(image: np.ndarray, references: Sequence[np.ndarray], bins: int = 8) -> float:
    """Chi-square distance between the colour histogram of ``image`` and that of ``references``."""
    return chi_square_distance(color_histogram([image], bins), color_histogram(references, bins))


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between Gaussians N(μ₁, Σ₁) and N(μ₂, Σ₂).

    ``tr (Σ₁ Σ₂)^½`` equals ``tr (Σ₁^½ Σ₂ Σ₁^½)^½``, whose argument is symmetric positive
    semi-definite, so both roots come from ``eigh`` with no complex parts to discard.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    root1 = _sqrt_psd(s1)
    middle = root1 @ s2 @ root1
    values = np.linalg.eigvalsh((middle + middle.T) / 2.0)
    tr_covmean = float(np.sum(np.sqrt(np.clip(values, 0.0, None))))
    diff = mu1 - mu2
    return float(max(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean, 0.0))


def fid(features1: np.ndarray, features2: np.ndarray) -> float:
    """FID between two feature sets ``[n, d]`` (n ≥ 2 each; sample covariances).

    With fewer samples than dimensions (the usual case for a style set) this works in sample
    space: writing Σ₁ = AᵀA and Σ₂ = BᵀB (A, B the centred features over √(n − 1)), the nonzero
    eigenvalues of Σ₁Σ₂ are the squared singular values of ABᵀ, so ``tr (Σ₁Σ₂)^½`` is the sum of
    those singular values: exact, and O(n²d) instead of a d×d eigendecomposition.
    """
    f1, f2 = np.asarray(features1, np.float64), np.asarray(features2, np.float64)
    if len(f1) < 2 or len(f2) < 2:
        raise ValueError("FID needs at least 2 samples in each set")
    if min(len(f1), len(f2)) >= f1.shape[1]:
        return frechet_distance(f1.mean(0), np.cov(f1, rowvar=False), f2.mean(0), np.cov(f2, rowvar=False))
    a = (f1 - f1.mean(0)) / np.sqrt(len(f1) - 1)
    b = (f2 - f2.mean(0)) / np.sqrt(len(f2) - 1)
    tr_covmean = float(np.sum(np.linalg.svd(a @ b.T, compute_uv=False)))
    diff = f1.mean(0) - f2.mean(0)
    return float(max(diff @ diff + np.sum(a * a) + np.sum(b * b) - 2.0 * tr_covmean, 0.0))


def kid(features1: np.ndarray, features2: np.ndarray) -> float:
    """Unbiased squared MMD between feature sets ``[m, d]`` and ``[n, d]`` (m, n ≥ 2) with the
    cubic polynomial kernel: diagonal (self-similarity) terms are left out of the within-set means."""
    x, y = np.asarray(features1, np.float64), np.asarray(features2, np.float64)
    m, n, d = len(x), len(y), x.shape[1]
    if m < 2 or n < 2:
        raise ValueError("KID needs at least 2 samples in each set")
    kxx = (x @ x.T / d + 1.0) ** 3
    kyy = (y @ y.T / d + 1.0) ** 3
    kxy = (x @ y.T / d + 1.0) ** 3
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1))
                 + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2.0 * kxy.mean())

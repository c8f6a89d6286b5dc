"""Metrics against NumPy reference formulas on tiny inputs."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tf_stylefusion.evaluation import metrics


def kid_reference(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² written as explicit loops over pairs."""
    d = x.shape[1]
    k = lambda a, b: (a @ b / d + 1.0) ** 3  # noqa: E731
    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_frechet_distance_closed_form_for_gaussians() -> None:
    rng = np.random.default_rng(0)
    d = 6
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    a, b = rng.uniform(0.5, 3.0, d), rng.uniform(0.5, 3.0, d)
    # Diagonal covariances: FID = |μ₁ − μ₂|² + Σ (√a − √b)².
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert metrics.frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-9)
    # The same Gaussians in a rotated basis: the distance is invariant.
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    got = metrics.frechet_distance(q @ mu1, q @ np.diag(a) @ q.T, q @ mu2, q @ np.diag(b) @ q.T)
    assert got == pytest.approx(expected, rel=1e-7)
    # Shifted isotropic Gaussians: only the mean term remains.
    assert metrics.frechet_distance(mu1, np.eye(d), mu1 + 2.0, np.eye(d)) == pytest.approx(4.0 * d)


def test_fid_of_identical_sets_is_zero_even_when_covariance_is_singular() -> None:
    feats = np.random.default_rng(1).normal(size=(5, 32))  # 5 samples, 32 dims: rank 4
    assert metrics.fid(feats, feats) == pytest.approx(0.0, abs=1e-6)
    shifted = feats + 1.0
    assert metrics.fid(feats, shifted) == pytest.approx(32.0, rel=1e-6)
    # The sample-space route equals the eigendecomposition of the sample covariances.
    other = np.random.default_rng(5).normal(0.3, 2.0, size=(7, 32))
    expected = metrics.frechet_distance(feats.mean(0), np.cov(feats, rowvar=False),
                                        other.mean(0), np.cov(other, rowvar=False))
    assert metrics.fid(feats, other) == pytest.approx(expected, rel=1e-8)
    many_a, many_b = np.random.default_rng(6).normal(size=(2, 50, 4))
    assert metrics.fid(many_a, many_b) == pytest.approx(
        metrics.frechet_distance(many_a.mean(0), np.cov(many_a, rowvar=False),
                                 many_b.mean(0), np.cov(many_b, rowvar=False)), rel=1e-10)


def test_kid_matches_reference_and_is_near_zero_for_one_distribution() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(7, 5)), rng.normal(0.5, 1.2, size=(6, 5))
    assert metrics.kid(x, y) == pytest.approx(kid_reference(x, y), rel=1e-10)
    same_a, same_b = rng.normal(size=(300, 8)), rng.normal(size=(300, 8))
    far = rng.normal(1.0, 1.0, size=(300, 8))
    assert abs(metrics.kid(same_a, same_b)) < 0.1 * metrics.kid(same_a, far)
    with pytest.raises(ValueError, match="at least 2"):
        metrics.kid(x[:1], y)


def test_ssim_identical_is_one_and_noise_lowers_it() -> None:
    rng = np.random.default_rng(3)
    img = rng.random((2, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(metrics.ssim(img, img), 1.0, atol=1e-6)
    noisy = np.clip(img + rng.normal(0, 0.2, img.shape), 0, 1).astype(np.float32)
    assert (metrics.ssim(noisy, img) < 0.9).all()


def test_color_histogram_distance_reference() -> None:
    red = np.zeros((8, 8, 3), np.float32)
    red[..., 0] = 1.0
    blue = np.zeros((8, 8, 3), np.float32)
    blue[..., 2] = 1.0
    half = np.concatenate([red[:4], blue[:4]])
    assert metrics.color_histogram_distance(red, [red]) == 0.0
    assert metrics.color_histogram_distance(red, [blue]) == pytest.approx(1.0)
    # p = (1, 0), q = (½, ½) over {red, blue}: ½ [(½)²/1.5 + (½)²/½] = 1/3
    assert metrics.color_histogram_distance(red, [half]) == pytest.approx(1 / 3)
    assert metrics.color_histogram([red, blue], bins=4).sum() == pytest.approx(1.0)


def test_gram_and_content_distance_reference() -> None:
    rng = np.random.default_rng(4)
    f = rng.normal(size=(1, 4, 5, 3)).astype(np.float32)
    t = rng.normal(size=(1, 4, 5, 3)).astype(np.float32)
    gram = lambda a: np.einsum("bhwc,bhwd->bcd", a, a) / (4 * 5 * 3)  # noqa: E731
    target = gram(t)
    expected = np.mean((gram(f) - target) ** 2) / np.mean(target ** 2)
    got = metrics.gram_distance([tf.constant(f)], [tf.constant(target)])
    assert got[0] == pytest.approx(expected, rel=1e-5)
    assert metrics.gram_distance([tf.constant(t)], [tf.constant(target)])[0] == pytest.approx(0, abs=1e-9)
    expected_c = np.mean((f - t) ** 2) / (np.mean(t ** 2) + 1e-8)
    assert metrics.content_distance(tf.constant(f), tf.constant(t))[0] == pytest.approx(expected_c, rel=1e-5)

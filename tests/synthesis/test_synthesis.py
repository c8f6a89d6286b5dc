"""Example-based stylization: the picture is made of the painting's patches, keeps the photo's
contours, and its search stays bounded however large the painting is."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tf_stylefusion.config import SynthesisConfig
from tf_stylefusion.errors import ConfigError, ImageError
from tf_stylefusion.synthesis import patches as P
from tf_stylefusion.synthesis import synthesize
from tf_stylefusion.synthesis.color import match_histograms
from tf_stylefusion.synthesis.files import synthesize_files
from tf_stylefusion.synthesis.structure import edge_map

SMALL = SynthesisConfig(scales=2, patch_sizes=(8, 4), iterations=2, style_gap=1)


def disk_photo(size: int = 48) -> np.ndarray:
    """A bright disk on a dark, gently shaded background."""
    y, x = np.mgrid[:size, :size] / size
    inside = ((x - 0.5) ** 2 + (y - 0.5) ** 2) < 0.09
    base = 0.15 + 0.1 * x
    img = np.where(inside, 0.85, base)[..., None] * np.array([1.0, 0.9, 0.8])
    return img.astype(np.float32)


def stripe_painting(height: int = 64, width: int = 64) -> np.ndarray:
    """Diagonal yellow strokes on dark blue with red flecks: nothing like the photo."""
    rng = np.random.default_rng(3)
    y, x = np.mgrid[:height, :width]
    stripes = ((x + y) // 3) % 3 == 0
    img = np.where(stripes[..., None], [0.95, 0.85, 0.2], [0.1, 0.15, 0.5])
    img[rng.random((height, width)) < 0.05] = [0.8, 0.1, 0.1]
    return np.clip(img + rng.normal(0, 0.02, img.shape), 0, 1).astype(np.float32)


def mean_nn_distance(image: np.ndarray, painting: np.ndarray, patch: int = 4) -> float:
    """Mean distance from each of ``image``'s patches to its nearest painting patch."""
    q = tf.reshape(P.extract(tf.constant(image), patch, 2), [-1, patch * patch * 3])
    k = tf.reshape(P.extract(tf.constant(painting), patch, 1), [-1, patch * patch * 3])
    found = tf.gather(k, P.nearest(q, k))
    return float(tf.reduce_mean(tf.norm(q - found, axis=1)))


def test_nearest_equals_brute_force_across_chunks():
    rng = np.random.default_rng(0)
    queries = rng.normal(size=(50, 6)).astype(np.float32)
    keys = rng.normal(size=(37, 6)).astype(np.float32)
    expected = np.argmin(((queries[:, None] - keys[None]) ** 2).sum(-1), axis=1)
    got = P.nearest(tf.constant(queries), tf.constant(keys), query_chunk=7, key_chunk=5).numpy()
    np.testing.assert_array_equal(got, expected)


def test_fold_lays_extracted_patches_back_where_they_came_from():
    image = tf.constant(np.random.default_rng(1).random((21, 17, 3)), tf.float32)
    padded = P.pad_to_grid(image, 6, 4)
    grid = P.extract(padded, 6, 4)
    counts = P.fold(tf.ones_like(grid), 6, 4)
    np.testing.assert_allclose((P.fold(grid, 6, 4) / counts).numpy(), padded.numpy(), atol=1e-6)
    assert padded.shape[:2] == (22, 18)


def test_picture_is_made_of_the_paintings_patches():
    photo, painting = disk_photo(), stripe_painting()
    out = synthesize(photo, painting, SMALL)
    assert out.shape == photo.shape and out.dtype == np.float32
    # Against the photo already in the painting's palette, so the patches, not the colours, count.
    before = mean_nn_distance(match_histograms(photo, painting), painting)
    after = mean_nn_distance(out, painting)
    assert after < 0.8 * before, (before, after)


def test_photo_contours_survive():
    photo, painting = disk_photo(), stripe_painting()
    out = synthesize(photo, painting, SMALL)
    luma = out @ np.array([0.299, 0.587, 0.114], np.float32)
    y, x = np.mgrid[:48, :48] / 48
    r2 = (x - 0.5) ** 2 + (y - 0.5) ** 2
    inside, outside = luma[r2 < 0.05].mean(), luma[r2 > 0.15].mean()
    assert inside - outside > 0.02, (inside, outside)
    edges_photo, edges_out = edge_map(photo), edge_map(out, sigma=2.0)
    assert np.corrcoef(edges_photo.ravel(), edges_out.ravel())[0, 1] > 0.5


def test_huge_painting_keeps_the_search_bounded(monkeypatch):
    seen = []
    real = P.nearest

    def recording(queries, keys, **kw):
        seen.append((int(queries.shape[0]), int(keys.shape[0])))
        return real(queries, keys, **kw)

    monkeypatch.setattr(P, "nearest", recording)
    painting = np.tile(stripe_painting(), (40, 40, 1))  # 2560 × 2560
    config = SynthesisConfig(scales=1, patch_sizes=(8,), iterations=1, style_size=8.0, max_style_patches=5000)
    out = synthesize(disk_photo(32), painting, config)
    assert out.shape == (32, 32, 3)
    assert seen and max(keys for _, keys in seen) <= 5000


def test_same_seed_same_picture_and_bad_settings_are_named():
    photo, painting = disk_photo(32), stripe_painting(32, 32)
    config = SynthesisConfig(scales=1, patch_sizes=(4,), iterations=1)
    np.testing.assert_array_equal(synthesize(photo, painting, config), synthesize(photo, painting, config))
    with pytest.raises(ConfigError, match="patch_sizes"):
        SynthesisConfig(patch_sizes=(2,))
    with pytest.raises(ImageError, match="painting"):
        synthesize(photo, np.full((32, 32, 3), np.nan, np.float32), config)


def test_files_skip_a_bad_photo_and_name_a_bad_painting(tmp_path):
    from PIL import Image

    good = tmp_path / "good.png"
    Image.fromarray((disk_photo(32) * 255).astype(np.uint8)).save(good)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff not really a jpeg")
    painting = tmp_path / "stripes.png"
    Image.fromarray((stripe_painting(32, 32) * 255).astype(np.uint8)).save(painting)
    config = SynthesisConfig(scales=1, patch_sizes=(4,), iterations=1)
    report = synthesize_files([good, bad], painting, tmp_path / "out", config=config, progress=False)
    assert [p.name for p in report.written] == ["good__stripes.png"]
    assert [p for p, _ in report.bad.items] == [str(bad)]
    with pytest.raises(ImageError, match="bad.jpg"):
        synthesize_files([good], bad, tmp_path / "out2", config=config, progress=False)


def test_cli_method_synthesis_gives_the_python_picture(tmp_path, monkeypatch, capsys):
    from PIL import Image

    from tf_stylefusion import cli
    from tf_stylefusion.data.images import load_image
    from tf_stylefusion.synthesis import files

    photo = tmp_path / "disk.png"
    Image.fromarray((disk_photo(40) * 255).astype(np.uint8)).save(photo)
    painting = tmp_path / "stripes.png"
    Image.fromarray((stripe_painting(48, 48) * 255).astype(np.uint8)).save(painting)
    config = SynthesisConfig(scales=1, patch_sizes=(4,), iterations=1)
    # The CLI runs the default settings; a small config keeps the test fast, the same for both.
    monkeypatch.setattr(files, "SynthesisConfig", lambda: config)
    assert cli.main(["stylize", str(photo), "--method", "synthesis", "--style-image", str(painting),
                     "--out", str(tmp_path / "out")]) == 0
    expected = synthesize(load_image(photo), load_image(painting), config)
    got = load_image(tmp_path / "out" / "disk__stripes.png")
    np.testing.assert_allclose(got, expected, atol=1 / 255 + 1e-6)
    assert cli.main(["stylize", str(photo), "--method", "synthesis", "--style-image", str(painting),
                     "--mask", str(photo), "--out", str(tmp_path / "out")]) == cli.EXIT_USER_ERROR
    assert "does not take --mask" in capsys.readouterr().err
    assert cli.main(["stylize", str(photo), "--method", "synthesis", "--style", "nope",
                     "--out", str(tmp_path)]) == cli.EXIT_USER_ERROR
    assert "no bundled painting" in capsys.readouterr().err

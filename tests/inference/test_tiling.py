"""Tiling: large images are stylized in tiles that match the untiled output (no seams)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tf_stylefusion.data.images import load_image, to_uint8
from tf_stylefusion.errors import ConfigError
from tf_stylefusion.evaluation.metrics import psnr
from tf_stylefusion.inference import tiling
from tf_stylefusion.inference.stylize import stylize_image
from tf_stylefusion.models.generator import StyleFusionGenerator

from ..helpers import written


def styled_generator(num_res_blocks: int = 1, **kwargs) -> StyleFusionGenerator:
    keras.utils.set_random_seed(0)
    g = StyleFusionGenerator(3, filters=(8, 12, 16), num_res_blocks=num_res_blocks, **kwargs)
    table = g.bank.table.numpy()
    g.bank.table.assign(table + np.random.default_rng(0).normal(0, 0.3, table.shape).astype(np.float32))
    return g


def photo(h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x / w, y / h, 0.5 + 0.3 * np.sin(x / 5.0)], -1) + rng.normal(0, 0.05, (h, w, 3))
    return np.clip(img, 0, 1).astype(np.float32)


WEIGHTS = np.array([0.2, 0.5, 0.3], np.float32)


def test_spans_cover_the_axis_aligned_to_the_stride() -> None:
    for n in (64, 65, 96, 130, 1000, 4097):
        spans = tiling.axis_spans(n, 64, 16)
        assert spans[0][0] == 0 and spans[-1][1] == n
        assert all(s % 4 == 0 for s, _ in spans)
        assert all(b[0] <= a[1] - 16 for a, b in zip(spans, spans[1:]))  # neighbours overlap ≥ 16
        assert all(e - s <= 64 + 3 for s, e in spans)  # the last one may take the stride's rest
    # Tiles are spread evenly: 2048 px in 1024 px tiles with 96 px overlap take 3 of ~750 px.
    assert [e - s for s, e in tiling.axis_spans(2048, 1024, 96)] == [748, 748, 748]


def test_feather_weights_sum_to_one_across_every_overlap() -> None:
    n, ov = 64 + 3 * 40, 24  # four tiles of 64 that overlap by exactly 24
    spans = tiling.axis_spans(n, 64, ov)
    assert len(spans) == 4
    total = np.zeros((1, n, 1), np.float32)
    for sx in spans:
        blend = tiling.feather((0, 1), sx, 1, n, ov, context=8)
        total[:, sx[0]:sx[1]] += blend
        inner = [sx[0] > 0, sx[1] < n]
        assert (blend[0, :8, 0] == 0).all() == inner[0] and (blend[0, -8:, 0] == 0).all() == inner[1]
    np.testing.assert_allclose(total, 1.0, atol=1e-6)


def test_tiles_with_context_at_least_the_receptive_field_match_the_untiled_output() -> None:
    g = styled_generator(num_res_blocks=1)
    assert tiling.receptive_radius(g) == 26
    assert tiling.receptive_radius(StyleFusionGenerator(1, num_res_blocks=1, content_skip=False)) == 24
    assert tiling.receptive_radius(StyleFusionGenerator(1, num_res_blocks=1, pixel_shuffle=False)) == 16
    img = photo(144, 192)
    full = g((img[None], WEIGHTS[None])).numpy()[0]
    tiled = tiling.stylize_tiled(g, img, WEIGHTS, tiling.TileConfig(tile_size=112, overlap=56))
    # 4 tiles, shared whole-image statistics, 26 px of discarded context per inner edge: exact.
    assert np.abs(tiled - full).max() < 1e-4


def test_a_coarse_stage_tiles_exactly_on_its_own_stride() -> None:
    g = styled_generator(num_res_blocks=1, coarse_blocks=1)
    assert g.stride == 8 and tiling.receptive_radius(g) == 26 + 28
    img = photo(244, 300)  # not multiples of 8: the last tiles take the stride's rest
    spans = tiling.axis_spans(300, 224, 108, g.stride)
    assert len(spans) == 2 and all(s % 8 == 0 for s, _ in spans)
    full = g((img[None], WEIGHTS[None])).numpy()[0]
    tiled = tiling.stylize_tiled(g, img, WEIGHTS, tiling.TileConfig(tile_size=224, overlap=108))
    # Exact but for float32 sums over more layers than above.
    assert np.abs(tiled - full).max() < 5e-4


def test_the_flat_guard_tiles_exactly() -> None:
    assert tiling.receptive_radius(styled_generator(num_res_blocks=1, flat_guard=0.05)) == 26  # the network's
    # This photo's spread keeps the gate between 0.1 and 0.4 (unsaturated), so a pixel whose gate
    # sees a tile's edge differs from the whole image's: 7e-5 with 18 px of context, 1e-7 with 24.
    g = styled_generator(num_res_blocks=0, flat_guard=0.05)
    assert tiling.receptive_radius(g) == 24  # the gate's reach, beyond the network's 18
    g.out_conv.bias.assign(np.full(3, 1.5, np.float32))  # a residual the gate visibly scales
    img = photo(144, 192)
    full = g((img[None], WEIGHTS[None])).numpy()[0]
    tiled = tiling.stylize_tiled(g, img, WEIGHTS, tiling.TileConfig(tile_size=112, overlap=56))
    assert np.abs(tiled - full).max() < 1e-5


def test_seam_error_with_small_overlap_is_bounded_and_shared_statistics_matter() -> None:
    g = styled_generator(num_res_blocks=1)
    img = photo(96, 128)
    full = g((img[None], WEIGHTS[None])).numpy()[0]
    tiled = tiling.stylize_tiled(g, img, WEIGHTS, tiling.TileConfig(tile_size=64, overlap=16))
    # Overlap 16 < 2 × receptive radius: pixels near tile edges see some padding. Stated bound:
    # mean abs error under 0.02 and PSNR over 28 dB against the untiled output.
    assert np.abs(tiled - full).mean() < 0.02 and psnr(tiled, full) > 28
    # The same tiles normalised by their own statistics are far off: the statistics carry tone.
    own = np.zeros_like(full)
    total = np.zeros(full.shape[:2] + (1,), np.float32)
    for sy in tiling.axis_spans(96, 64, 16):
        for sx in tiling.axis_spans(128, 64, 16):
            out = g((img[None, sy[0]:sy[1], sx[0]:sx[1]], WEIGHTS[None])).numpy()[0]
            blend = tiling.feather(sy, sx, 96, 128, 16)
            own[sy[0]:sy[1], sx[0]:sx[1]] += out * blend
            total[sy[0]:sy[1], sx[0]:sx[1]] += blend
    own /= total
    assert np.abs(own - full).mean() > 3 * np.abs(tiled - full).mean()


def test_statistics_from_a_downscaled_image_keep_tiles_consistent() -> None:
    g = styled_generator(num_res_blocks=1)
    img = photo(128, 160)
    full = g((img[None], WEIGHTS[None])).numpy()[0]
    cfg = tiling.TileConfig(tile_size=64, overlap=32, stats_size=80, exact_statistics=False)
    tiled = tiling.stylize_tiled(g, img, WEIGHTS, cfg)
    # Statistics measured at half size are approximate (this random generator is sensitive to
    # them: about 22 dB from the untiled output) but identical in every tile, so no seams.
    assert psnr(tiled, full) > 18
    seam_cols = [s for s, _ in tiling.axis_spans(160, 64, 32)[1:]]
    jump = np.abs(np.diff(tiled, axis=1)).mean(axis=(0, 2))
    assert max(jump[c + 16] for c in seam_cols) < 3 * np.median(jump)


def soft_halves(h: int, w: int) -> np.ndarray:
    """Per-pixel weights: style 0 on the left, style 2 on the right, a soft border between."""
    left = np.clip((w / 2 - np.arange(w)) / 24 + 0.5, 0, 1).astype(np.float32)
    weights = np.zeros((h, w, 3), np.float32)
    weights[..., 0], weights[..., 2] = left, 1 - left
    return weights


def test_tiles_blended_a_band_of_rows_at_a_time_equal_a_whole_image_sum_to_the_bit() -> None:
    """blend_tiles holds one tile-tall float band, not the whole picture: every pixel must still
    sum the same tiles in the same order, and each band be finished once, top to bottom."""
    g = styled_generator(num_res_blocks=1)
    h, w, cfg = 150, 170, tiling.TileConfig(tile_size=64, overlap=32)

    def render(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        return np.random.default_rng(1000 * y0 + x0).random((y1 - y0, x1 - x0, 3), dtype=np.float32)

    context = min(tiling.receptive_radius(g), cfg.overlap // 2)
    whole, total = np.zeros((h, w, 3), np.float32), np.zeros((h, w, 1), np.float32)
    for sy in tiling.axis_spans(h, 64, 32, g.stride):
        for sx in tiling.axis_spans(w, 64, 32, g.stride):
            blend = tiling.feather(sy, sx, h, w, 32, context)
            whole[sy[0]:sy[1], sx[0]:sx[1]] += render(*sy, *sx) * blend
            total[sy[0]:sy[1], sx[0]:sx[1]] += blend
    whole /= total
    assert len(tiling.axis_spans(h, 64, 32, g.stride)) >= 3  # bands carry overlap more than once

    np.testing.assert_array_equal(tiling.blend_tiles(g, h, w, cfg, render), whole)
    bands: list[tuple[int, np.dtype]] = []

    def finish(band: np.ndarray) -> np.ndarray:
        bands.append((band.shape[0], band.dtype))
        return to_uint8(band)

    out = tiling.blend_tiles(g, h, w, cfg, render, finish)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, to_uint8(whole))
    assert sum(n for n, _ in bands) == h and max(n for n, _ in bands) <= 64 + 3
    assert all(dtype == np.float32 for _, dtype in bands)


def test_a_uint8_image_is_read_a_tile_at_a_time_as_its_float_copy_would_be() -> None:
    g = styled_generator(num_res_blocks=1)
    img = to_uint8(photo(150, 200))
    cfg = tiling.TileConfig(tile_size=128, overlap=64)
    as_float = img.astype(np.float32) / 255.0
    np.testing.assert_array_equal(tiling.image_region(img, 10, 70, 30, 90), as_float[10:70, 30:90])
    expected = stylize_image(g, as_float, WEIGHTS, tile_size=cfg)
    np.testing.assert_array_equal(stylize_image(g, img, WEIGHTS, tile_size=cfg), expected)
    np.testing.assert_array_equal(stylize_image(g, img, WEIGHTS, tile_size=cfg, uint8=True), to_uint8(expected))
    # untiled, and the downscaled statistics' box filter, read it the same way
    np.testing.assert_array_equal(stylize_image(g, img, WEIGHTS, tile_size=0, uint8=True),
                                  to_uint8(stylize_image(g, as_float, WEIGHTS, tile_size=0)))
    fast = tiling.TileConfig(tile_size=64, overlap=32, stats_size=80, exact_statistics=False)
    np.testing.assert_array_equal(stylize_image(g, img, WEIGHTS, tile_size=fast),
                                  stylize_image(g, as_float, WEIGHTS, tile_size=fast))


@pytest.mark.parametrize("color_norm,per_pixel", [(False, False), (True, False), (True, True)])
def test_exact_statistics_accumulated_over_tiles_match_the_untiled_output(color_norm, per_pixel) -> None:
    g = styled_generator(num_res_blocks=1, color_norm=color_norm)
    img = photo(160, 190)  # 190 is no multiple of the stride: the padding counts as in one pass
    weights = soft_halves(160, 190) if per_pixel else WEIGHTS
    full = g((img[None], weights[None])).numpy()[0]
    cfg = tiling.TileConfig(tile_size=112, overlap=56, stats_size=80, exact_statistics=True)
    whole = tiling.measure_statistics(g, img, weights, stats_size=1024)
    exact = tiling.exact_statistics(g, img, weights, cfg)
    for (m, v), (em, ev) in zip(whole, exact):
        # per style region with per-pixel weights
        assert m.shape == ((1, 3, m.shape[-1]) if per_pixel else (1, 1, 1, m.shape[-1]))
        np.testing.assert_allclose(em.numpy(), m.numpy(), rtol=1e-3, atol=1e-5)
        np.testing.assert_allclose(ev.numpy(), v.numpy(), rtol=1e-3, atol=1e-6)
    assert np.abs(tiling.stylize_tiled(g, img, weights, cfg) - full).max() < 1e-3


def test_per_pixel_weights_are_cropped_per_tile() -> None:
    g = styled_generator(num_res_blocks=1)
    img = photo(96, 128)
    weights = np.zeros((96, 128, 3), np.float32)
    weights[:, :64, 0] = 1.0
    weights[:, 64:, 2] = 1.0
    full = g((img[None], weights[None])).numpy()[0]
    tiled = tiling.stylize_tiled(g, img, weights, tiling.TileConfig(tile_size=64, overlap=32))
    assert psnr(tiled, full) > 40


def test_stylize_image_routes_by_tile_size() -> None:
    g = styled_generator(num_res_blocks=1)
    img = photo(144, 192)
    untiled = stylize_image(g, img, WEIGHTS, tile_size=0)
    np.testing.assert_allclose(stylize_image(g, img, WEIGHTS), untiled, atol=1e-6)  # auto: small
    tiled = stylize_image(g, img, WEIGHTS, tile_size=96)
    assert psnr(tiled, untiled) > 60
    with pytest.raises(ConfigError, match="tile size"):
        stylize_image(g, img, WEIGHTS, tile_size=50)


def test_generator_norm_statistics_hook_leaves_normal_calls_unchanged() -> None:
    g = styled_generator(num_res_blocks=1)
    x = photo(40, 48)[None]
    before = g((x, WEIGHTS[None])).numpy()
    stats = tiling.measure_statistics(g, x[0], WEIGHTS, stats_size=1024)
    assert len(stats) == g.num_norm_layers
    with g.norm_statistics(lambda i, f, w: stats[i]):
        np.testing.assert_allclose(g((x, WEIGHTS[None])).numpy(), before, atol=1e-5)
    np.testing.assert_array_equal(g((x, WEIGHTS[None])).numpy(), before)
    assert all(n.statistics_hook is None for n in g._norm_layers())


def test_cli_stylize_tiles_exactly_and_rejects_a_bad_tile_size(tmp_path, capsys) -> None:
    from PIL import Image

    from tf_stylefusion.cli import main

    model = tmp_path / "g.keras"
    g = styled_generator()
    g.save(model)
    img = photo(150, 200)  # tiles of 128 (overlap 64 ≥ twice the receptive radius) cut it 2 × 2
    Image.fromarray((img * 255).round().astype(np.uint8)).save(tmp_path / "a.png")
    args = ["stylize", str(model), str(tmp_path / "a.png"), "--style", "0", "--out", str(tmp_path / "o")]
    assert main(args + ["--tile-size", "50"]) == 2
    assert "tile size must be a multiple of 4" in capsys.readouterr().err
    assert not list((tmp_path / "o").glob("a*.png"))
    assert main(args + ["--tile-size", "0"]) == 0  # untiled
    whole = load_image(written(tmp_path / "o", "a"))
    assert main(args + ["--tile-size", "128"]) == 0
    tiled = load_image(written(tmp_path / "o", "a"))
    assert np.abs(tiled - whole).max() <= 1.5 / 255  # exact statistics by default: equal up to rounding
    assert main(args + ["--tile-size", "128", "--fast-statistics"]) == 0
    fast = load_image(written(tmp_path / "o", "a"))
    # Below 1024 px the "downscaled" copy is the image itself: the same statistics.
    assert np.abs(fast - whole).max() <= 1.5 / 255


def test_default_tiling_equals_the_untiled_output() -> None:
    g = styled_generator(num_res_blocks=1)
    img = photo(150, 200)
    full = stylize_image(g, img, WEIGHTS, tile_size=0)
    # A statistics copy of 80 px would be far off: by default it is not used.
    cfg = tiling.TileConfig(tile_size=128, overlap=64, stats_size=80)
    assert np.abs(stylize_image(g, img, WEIGHTS, tile_size=cfg) - full).max() < 1e-3


def test_a_tiled_stylization_reports_each_tile_of_both_passes() -> None:
    g = styled_generator(num_res_blocks=1)
    img = photo(160, 190)
    cfg = tiling.TileConfig(tile_size=112, overlap=56, stats_size=80, exact_statistics=True)
    seen: list[tuple[str, int, int]] = []
    with tiling.reporting_progress(lambda *step: seen.append(step)):
        tiling.stylize_tiled(g, img, WEIGHTS, cfg)
    tiles = len(tiling.axis_spans(160, 112, 56, g.stride)) * len(tiling.axis_spans(190, 112, 56, g.stride))
    stats = [s for s in seen if s[0] == "statistics"]
    painted = [s for s in seen if s[0] == "tiles"]
    assert [d for _, d, _ in stats] == list(range(1, g.num_norm_layers * tiles + 1))
    assert {t for *_, t in stats} == {g.num_norm_layers * tiles}
    assert painted == [("tiles", i, tiles) for i in range(1, tiles + 1)]
    assert seen.index(painted[0]) > seen.index(stats[-1])  # statistics first
    seen.clear()
    tiling.stylize_tiled(g, img, WEIGHTS, cfg)  # outside the block nothing is reported
    assert seen == []

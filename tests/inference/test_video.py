"""Video: stabilised stylization of a tiny synthetic clip is steadier than frame by frame."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from ..helpers import require_video_extra

iio = require_video_extra()

from tf_stylefusion.cli import main  # noqa: E402
from tf_stylefusion.errors import ConfigError, ImageError  # noqa: E402
from tf_stylefusion.inference.fusion import StylizeOptions  # noqa: E402
from tf_stylefusion.inference.stylize import stylize_image  # noqa: E402
from tf_stylefusion.inference.video import VideoConfig, stylize_video  # noqa: E402
from tf_stylefusion.models.generator import StyleFusionGenerator  # noqa: E402

from ..helpers import moving_texture  # noqa: E402


@pytest.fixture
def generator() -> StyleFusionGenerator:
    keras.utils.set_random_seed(0)
    g = StyleFusionGenerator(2, style_names=["a", "b"], filters=(8, 12, 16), num_res_blocks=1)
    table = g.bank.table.numpy()
    g.bank.table.assign(table + np.random.default_rng(0).normal(0, 0.3, table.shape).astype(np.float32))
    return g


def test_stabilised_video_has_lower_warping_error(generator, tmp_path: Path) -> None:
    src = moving_texture(tmp_path / "in.mp4")
    weights = np.array([1.0, 0.0], np.float32)
    report = stylize_video(generator, src, tmp_path / "out.mp4", weights, VideoConfig(stabilize=0.6),
                           progress=False)
    assert report.frames == 8 and report.output.is_file()
    frames = [f for f in iio.get_reader(report.output, format="FFMPEG")]
    assert len(frames) == 8 and frames[0].shape == (64, 64, 3)
    assert report.warping_error_stabilized < report.warping_error_framewise


def test_bad_video_is_a_clear_error_and_leaves_no_output(generator, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    with pytest.raises(ImageError, match="bad.mp4"):
        stylize_video(generator, bad, tmp_path / "out.mp4", np.array([1.0, 0.0]), progress=False)
    assert not (tmp_path / "out.mp4").exists()
    model = tmp_path / "g.keras"
    generator.save(model)
    assert main(["video", str(model), str(bad), str(tmp_path / "o.mp4"), "--style", "a"]) == 2
    assert "bad.mp4" in capsys.readouterr().err


def _pan_with_a_sky_then_a_cut(path: Path, frames: int = 10, step: int = 3, cut: int = 3) -> Path:
    """``frames`` windows 96 px wide of a scene whose top 60 % is a flat sky, the camera moving
    ``step`` px right a frame; then ``cut`` frames of another, still scene."""
    rng = np.random.default_rng(1)
    h, w = 64, 96 + step * frames
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    scene = np.stack([0.5 + 0.4 * np.sin(x / 4.0) * np.cos(y / 5.0), 0.5 + 0.3 * np.cos(x / 6.0),
                      0.5 + 0.3 * np.sin((x + y) / 5.0)], -1) + rng.normal(0, 0.02, (h, w, 3))
    scene[: int(0.6 * h)] = (0.3, 0.4, 0.7)
    other = rng.random((h, 96, 3))
    pictures = [scene[:, t * step: t * step + 96] for t in range(frames)] + [other] * cut
    with iio.get_writer(path, format="FFMPEG", fps=8, quality=10, macro_block_size=2) as writer:
        for p in pictures:
            writer.append_data((np.clip(p, 0, 1) * 255).astype(np.uint8))
    return path


def test_the_tiles_follow_the_camera_and_stay_put_at_a_cut(generator, tmp_path: Path, monkeypatch) -> None:
    from tf_stylefusion.inference import video

    origins: list = []

    def spy(*args, origin=None, **kwargs):
        origins.append(origin)
        return stylize_image(*args, origin=origin, **kwargs)

    monkeypatch.setattr(video, "stylize_image", spy)
    src = _pan_with_a_sky_then_a_cut(tmp_path / "pan.mp4")
    stylize_video(generator, src, tmp_path / "out.mp4", np.array([1.0, 0.0], np.float32), progress=False)
    assert origins[0] == (0, 0)
    # The flat sky's flow is ~0: the camera is found on the textured ground, 3 px a frame.
    assert origins[9][0] == 0 and abs(origins[9][1] - 27) <= 2
    assert all(abs(o[1] - origins[9][1]) <= 1 for o in origins[10:])  # the cut moves nothing


def test_an_origin_lays_the_tiles_from_there(generator) -> None:
    tiles = np.random.default_rng(2).random((2, 16, 16, 3)).astype(np.float32)
    generator.set_textures(tiles)
    y, x = np.mgrid[0:64, 0:80].astype(np.float32)
    img = np.stack([0.5 + 0.4 * np.sin(x / 3.0), 0.5 + 0.4 * np.cos(y / 4.0),
                    0.5 + 0.2 * np.sin((x + y) / 5.0)], -1)
    weights = np.array([1.0, 0.0], np.float32)
    at = {o: stylize_image(generator, img, weights, origin=o) for o in [(0, 0), (0, 8), (16, 32)]}
    np.testing.assert_allclose(at[(16, 32)], at[(0, 0)], atol=1e-5)  # whole tiles away: the same
    np.testing.assert_allclose(at[(0, 0)], stylize_image(generator, img, weights), atol=1e-5)
    assert np.abs(at[(0, 8)] - at[(0, 0)]).mean() > 0.01
    tiled = stylize_image(generator, img, weights, origin=(0, 8), tile_size=64)
    assert np.abs(tiled - at[(0, 8)]).mean() < 0.1 * np.abs(at[(0, 8)] - at[(0, 0)]).mean()
    with pytest.raises(ConfigError, match="origin"):
        stylize_image(generator, img, weights, StylizeOptions(strength=0.5), origin=(0, 8))


def test_the_camera_is_not_moved_by_a_flow_that_explains_too_little() -> None:
    from tf_stylefusion.inference import video

    _, cv2 = video._video_modules()
    warper = video.FlowWarper(cv2, 512, 0.05)
    frame = np.random.default_rng(3).random((48, 64, 3)).astype(np.float32)
    maps = np.stack(np.meshgrid(np.arange(64, dtype=np.float32) + 5, np.arange(48, dtype=np.float32) - 2), -1)
    explained = np.ones((48, 64, 1), np.float32)
    np.testing.assert_allclose(warper.camera_move(frame, maps, explained), [-2.0, 5.0])
    assert warper.camera_move(frame, maps, 0.3 * explained) is None  # a cut

"""Video: stabilised stylization of a tiny synthetic clip is steadier than frame by frame."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from ..helpers import require_video_extra

iio = require_video_extra()

from tf_stylefusion.cli import main  # noqa: E402
from tf_stylefusion.errors import ImageError  # noqa: E402
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

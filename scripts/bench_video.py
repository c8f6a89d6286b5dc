"""Video stabilisation check: warping error of stabilised vs frame-by-frame output, and frames/s.

    python scripts/bench_video.py [--model RUN_OR_KERAS] [--frames 24] [--size 256] [--threads 2]
        [--pan PHOTO]

Makes a synthetic clip (a texture panning 3 px a frame with a square moving across it, so the
flow has both motion and occlusions), or with --pan a camera panning across a photo (4 px a
frame, ``--size`` px square windows of the photo read ``--size`` px high), and runs
``stylefusion video`` on it. Without --model a random default generator (2 styles) stands in; a
trained model gives the meaningful numbers.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402


def synthetic_clip(path: Path, frames: int, size: int) -> None:
    import imageio.v2 as iio

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    with iio.get_writer(path, format="FFMPEG", fps=12, quality=9, macro_block_size=2) as writer:
        for t in range(frames):
            xs = x - 3 * t
            img = np.stack([0.5 + 0.35 * np.sin(xs / 6.0) * np.cos(y / 9.0), 0.5 + 0.3 * np.cos(xs / 11.0),
                            0.45 + 0.3 * np.sin((xs + y) / 7.0)], -1)
            s0 = (5 * t) % size
            img[size // 3: size // 3 + size // 5, s0: s0 + size // 5] = (0.9, 0.2, 0.1)
            img += rng.normal(0, 0.01, img.shape)
            writer.append_data((np.clip(img, 0, 1) * 255).astype(np.uint8))


def pan_clip(path: Path, photo: Path, frames: int, size: int, step: int = 4) -> None:
    """A camera panning right across ``photo``: ``frames`` windows ``size`` px square, ``step``
    px apart, the photo read ``size`` px high."""
    import imageio.v2 as iio

    from tf_stylefusion.data.images import load_image, to_uint8
    from tf_stylefusion.synthesis.synthesize import resize

    image = load_image(photo)
    image = resize(image, size, round(image.shape[1] * size / image.shape[0])).numpy()
    if image.shape[1] < size + step * (frames - 1):
        raise SystemExit(f"{photo} is too narrow for {frames} frames of {size} px, {step} px apart")
    with iio.get_writer(path, format="FFMPEG", fps=12, quality=9, macro_block_size=2) as writer:
        for t in range(frames):
            writer.append_data(to_uint8(image[:, t * step: t * step + size]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="run folder or .keras file (default: a random generator)")
    ap.add_argument("--style", default="0")
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--pan", help="pan across this photo instead of the synthetic clip")
    args = ap.parse_args()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from tf_stylefusion.cli import main as cli

    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.mp4"
        if args.pan:
            pan_clip(clip, Path(args.pan), args.frames, args.size)
        else:
            synthetic_clip(clip, args.frames, args.size)
        model = args.model
        if model is None:
            import keras

            from tf_stylefusion.models.generator import StyleFusionGenerator

            keras.utils.set_random_seed(0)
            model = str(Path(tmp) / "random.keras")
            StyleFusionGenerator(2).save(model)
        raise SystemExit(cli(["video", model, str(clip), str(Path(tmp) / "out.mp4"), "--style", args.style]))


if __name__ == "__main__":
    main()

"""Stylize one large photo (default 4096², 16 MP) through the file path users take and report
wall time and peak RSS.

    python scripts/bench_large_image.py [--size 4096] [--tile-size 1024] [--fast-statistics] [--threads 2]
    python scripts/bench_large_image.py --pack --mask --strength 0.5 --preserve-color luminance

A random default generator (16 styles) stands in for a trained one: cost and memory do not
depend on the weights. ``--pack`` uses the shipped style pack (generator and style encoder), which
strength needs; ``--mask`` paints the first style over the left half (feathered). Peak RSS is the
process's ru_maxrss (Linux: KiB), read after the run.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

from tf_stylefusion.inference.fusion import StylizeOptions  # noqa: E402
from tf_stylefusion.inference.stylize import stylize_files  # noqa: E402
from tf_stylefusion.inference.tiling import TileConfig  # noqa: E402
from tf_stylefusion.models.generator import StyleFusionGenerator  # noqa: E402

from tf_stylefusion.machine import machine_line  # noqa: E402


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def synthetic_photo(size: int) -> np.ndarray:
    """A smooth gradient with fine stripes and noise, uint8 ``[size, size, 3]``, built in rows so
    the script itself does not add a full float copy to the peak."""
    rng = np.random.default_rng(0)
    img = np.empty((size, size, 3), np.uint8)
    x = np.arange(size, dtype=np.float32)
    for y0 in range(0, size, 512):
        y = np.arange(y0, min(size, y0 + 512), dtype=np.float32)[:, None]
        r = x[None] / size + 0 * y
        g = y / size + 0 * x[None]
        b = 0.5 + 0.3 * np.sin(x[None] / 7.0 + y / 11.0)
        rows = np.stack([r, g, b], -1) + rng.normal(0, 0.03, (len(y), size, 3))
        img[y0:y0 + len(y)] = (np.clip(rows, 0, 1) * 255).astype(np.uint8)
    return img


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--tile-size", type=int, default=None, help="default: automatic (1024 tiles)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fast-statistics", action="store_true", help="statistics on a downscaled copy")
    ap.add_argument("--pack", action="store_true", help="the shipped style pack, not a random generator")
    ap.add_argument("--mask", action="store_true", help="the first style on the left half only")
    ap.add_argument("--strength", type=float, default=1.0)
    ap.add_argument("--preserve-color", choices=("luminance", "histogram"))
    args = ap.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "photo.jpg"
        Image.fromarray(synthetic_photo(args.size)).save(src, quality=92)
        encoder = None
        if args.pack:
            from tf_stylefusion.pretrained import load_pack

            g, encoder = load_pack()
        else:
            g = StyleFusionGenerator(16)
        weights = np.full(g.num_styles, 1 / g.num_styles, np.float32)
        masks = []
        if args.mask:
            weights = np.eye(g.num_styles, dtype=np.float32)[0]
            mask = Image.new("L", (args.size, args.size), 0)
            mask.paste(255, (0, 0, args.size // 2, args.size))
            mask.save(Path(tmp) / "mask.png")
            masks = [str(Path(tmp) / "mask.png")]
        options = StylizeOptions(strength=args.strength, masks=masks, preserve_color=args.preserve_color,
                                 encoder=encoder)
        before = peak_rss_mib()
        start = time.perf_counter()
        tiling = args.tile_size
        if args.fast_statistics:
            tiling = dataclasses.replace(TileConfig.for_tile_size(args.tile_size), exact_statistics=False)
        report = stylize_files(g, [src], Path(tmp) / "out", weights, progress=False, tile_size=tiling,
                               options=options)
        if report.bad:
            sys.exit(f"failed: {report.bad}")
        seconds = time.perf_counter() - start
        out = report.written[0]
        with Image.open(out) as im:
            size = im.size
    print(f"{args.size}x{args.size} ({args.size ** 2 / 1e6:.1f} MP) -> {size[0]}x{size[1]} PNG: "
          f"{seconds:.1f} s, peak RSS {peak_rss_mib():.0f} MiB (before the run {before:.0f} MiB), "
          f"tile size {args.tile_size or 'auto'}, {'downscaled' if args.fast_statistics else 'exact'} "
          f"statistics, {args.threads} threads, "
          f"{'pack' if args.pack else 'random 16-style generator'}, mask {args.mask}, strength {args.strength:g}, "
          f"preserve colour {args.preserve_color}")
    print(machine_line())


if __name__ == "__main__":
    main()

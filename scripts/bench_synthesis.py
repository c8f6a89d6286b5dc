"""Example-based stylization over every photo × painting pair, timed; the pictures are named
``<photo>__<painting>.png`` so a style meter can score the folder.

    python scripts/bench_synthesis.py --content PHOTOS --style PAINTINGS --out OUT [--size 512]
        [--set content_weight=0.2 ...]

Prints one line per pair and the median seconds per photo with the machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from pathlib import Path

from timing import machine_line

from tf_stylefusion.config import SynthesisConfig
from tf_stylefusion.data.images import list_images, load_image, save_image
from tf_stylefusion.synthesis import synthesize
from tf_stylefusion.synthesis.files import load_painting


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--content", required=True, help="folder of photos")
    p.add_argument("--style", required=True, help="folder of paintings")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--size", type=int, default=512, help="photos' longer side (default 512, the CLI's)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=JSON",
                   help="override a SynthesisConfig field, e.g. content_weight=0.2 or patch_sizes=[48,24,12]")
    a = p.parse_args()
    overrides = {}
    for item in a.set:
        name, _, value = item.partition("=")
        overrides[name] = json.loads(value)
    config = SynthesisConfig(**overrides)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    print(machine_line())
    print("config", json.dumps(dataclasses.asdict(config)))
    times = []
    for photo_path in list_images(a.content):
        photo = load_image(photo_path, max_side=a.size)
        for painting_path in list_images(a.style):
            start = time.perf_counter()
            picture = synthesize(photo, load_painting(painting_path), config)
            times.append(time.perf_counter() - start)
            save_image(out / f"{photo_path.stem}__{painting_path.stem}.png", picture)
            print(f"{photo_path.stem}__{painting_path.stem}  {photo.shape[1]}x{photo.shape[0]}  {times[-1]:.1f} s",
                  flush=True)
    print(f"median {statistics.median(times):.1f} s per photo, max {max(times):.1f} s, {len(times)} pairs")


if __name__ == "__main__":
    main()

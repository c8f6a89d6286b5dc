"""Measure a style pack against Magenta on a set of photos and paintings, in one run.

    python scripts/measure_style_pack.py --meter STYLEMETER --content PHOTOS --style PAINTINGS \
        [--model PACK_OR_RUN] [--out meter_pack] [--docs docs/style_pack]

Stylizes every photo of ``--content`` with every style of the model whose painting is in
``--style`` (at ``--max-size``, as `stylefusion stylize --max-size` does), makes Magenta's pictures
for the same pairs, scores both with the stylemeter (``--meter``: its ``run`` command, taking
``score``, ``peer`` and ``sheet``; a ruler only, nothing trains with it) and writes ``meter.md`` and
``sheet.jpg`` into ``--docs``. Hold the photos out of the pack's training photos.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tf_stylefusion.machine import machine_line  # noqa: E402

KEYS = ("gram_score", "color_score", "content_dist", "ssim", "separation")


def stylize_all(generator, photos: list[Path], out_dir: Path, max_size: int) -> float:
    """Each photo in each of the generator's styles alone, as ``<photo>__<style>.png`` (the
    meter's naming); returns the seconds it took."""
    from tf_stylefusion import stylize_image
    from tf_stylefusion.data.images import load_image, save_image

    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.time()
    for photo in photos:
        image = load_image(photo, max_side=max_size)
        for i, name in enumerate(generator.style_names):
            w = np.eye(generator.num_styles, dtype=np.float32)[i]
            save_image(out_dir / f"{photo.stem}__{name}.png", stylize_image(generator, image, w))
    return time.time() - start


def score(meter: str, content: str, styles: str, outputs: Path, json_path: Path) -> dict:
    subprocess.run([meter, "score", "--content", content, "--style", styles, "--outputs", str(outputs),
                    "--json", str(json_path)], check=True, stdout=subprocess.DEVNULL)
    return json.loads(json_path.read_text())["mean"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--meter", required=True, help="the stylemeter's run command")
    p.add_argument("--content", required=True, help="folder of held-out photos")
    p.add_argument("--style", required=True, help="folder of the pack's paintings")
    p.add_argument("--model", default=None, help="run folder or .keras file (default: the installed pack)")
    p.add_argument("--out", default="meter_pack")
    p.add_argument("--max-size", type=int, default=384)
    p.add_argument("--docs", default="meter_pack/docs", help="where meter.md and sheet.jpg go")
    a = p.parse_args()

    from PIL import Image

    from tf_stylefusion.data.images import list_images
    from tf_stylefusion.fileutil import atomic_path, atomic_write_text
    from tf_stylefusion.model_io import load_generator
    from tf_stylefusion.pretrained import resolve_model

    out = Path(a.out)
    generator = load_generator(resolve_model(a.model))
    paintings = {s.stem for s in list_images(a.style)}
    missing = [n for n in paintings if n not in generator.style_names]
    if missing:
        raise SystemExit(f"the model has no style for {missing}")
    photos = list_images(a.content)
    ours = out / "ours"
    seconds = stylize_all(generator, photos, ours, a.max_size)
    for f in ours.iterdir():  # only pairs the meter can score
        if f.stem.split("__", 1)[1] not in paintings:
            f.unlink()
    peer = out / "magenta"
    t0 = time.time()
    subprocess.run([a.meter, "peer", "--content", a.content, "--style", a.style, "--out", str(peer)],
                   check=True, stdout=subprocess.DEVNULL)
    peer_s = time.time() - t0
    rows = {"pack": score(a.meter, a.content, a.style, ours, out / "pack.json"),
            "Magenta (same run)": score(a.meter, a.content, a.style, peer, out / "magenta.json")}
    docs = Path(a.docs)
    docs.mkdir(parents=True, exist_ok=True)
    sheet = out / "sheet.png"
    subprocess.run([a.meter, "sheet", "--content", a.content, "--style", a.style, "--out", str(sheet),
                    str(ours), str(peer)], check=True, stdout=subprocess.DEVNULL)
    with atomic_path(docs / "sheet.jpg") as tmp:
        Image.open(sheet).convert("RGB").save(tmp, quality=88)
    lines = [f"Measured {time.strftime('%Y-%m-%d')} on {machine_line()}: {len(photos)} photos × "
             f"{len(paintings)} paintings at {a.max_size} px (`scripts/measure_style_pack.py`). "
             f"Stylizing all pairs took {seconds:.1f} s for the pack, {peer_s:.1f} s for Magenta "
             "(ONNX Runtime, 2 threads, 512 px).", "",
             "| | " + " | ".join(KEYS) + " |", "|---" * (len(KEYS) + 1) + "|"]
    for name, m in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{m[k]:.3f}" for k in KEYS) + " |")
    atomic_write_text(docs / "meter.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    print(json.dumps(rows))


if __name__ == "__main__":
    main()

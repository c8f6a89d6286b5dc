"""Measure the installed style pack against Magenta on the development images, in one run.

    python scripts/measure_style_pack.py [--model PACK_OR_RUN] [--out meter_pack]

Stylizes every photo of ``../shared/images/content`` with every style of the model whose painting
is in ``../shared/images/style`` (at ``--max-size``, as `stylefusion stylize --max-size` does),
makes Magenta's pictures for the same pairs, scores both with ``../shared/tools/stylemeter`` (a
ruler only) and writes ``docs/style_pack/meter.md`` and ``docs/style_pack/sheet.jpg``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT / "scripts"))

from recipe_ablation import KEYS, METER, score, stylize_eval  # noqa: E402
from timing import machine_line  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="run folder or .keras file (default: the installed pack)")
    p.add_argument("--out", default="meter_pack")
    p.add_argument("--content", default=str(SHARED / "images" / "content"))
    p.add_argument("--style", default=str(SHARED / "images" / "style"))
    p.add_argument("--max-size", type=int, default=384)
    p.add_argument("--docs", default=str(ROOT / "docs" / "style_pack"), help="where meter.md and sheet.jpg go")
    a = p.parse_args()

    from PIL import Image

    from tf_stylefusion.data.images import list_images
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
    seconds = stylize_eval(generator, photos, ours, a.max_size)
    for f in ours.iterdir():  # only pairs the meter can score
        if f.stem.split("__", 1)[1] not in paintings:
            f.unlink()
    peer = out / "magenta"
    t0 = time.time()
    subprocess.run([str(METER), "peer", "--content", a.content, "--style", a.style, "--out", str(peer)],
                   check=True, stdout=subprocess.DEVNULL)
    peer_s = time.time() - t0
    rows = {"pack": score(Path(a.content), Path(a.style), ours, out / "pack.json"),
            "Magenta (same run)": score(Path(a.content), Path(a.style), peer, out / "magenta.json")}
    docs = Path(a.docs)
    docs.mkdir(parents=True, exist_ok=True)
    sheet = out / "sheet.png"
    subprocess.run([str(METER), "sheet", "--content", a.content, "--style", a.style, "--out", str(sheet),
                    str(ours), str(peer)], check=True, stdout=subprocess.DEVNULL)
    Image.open(sheet).convert("RGB").save(docs / "sheet.jpg", quality=88)
    lines = [f"Measured {time.strftime('%Y-%m-%d')} on {machine_line()}: {len(photos)} photos × "
             f"{len(paintings)} paintings at {a.max_size} px (`scripts/measure_style_pack.py`). "
             f"Stylizing all pairs took {seconds:.1f} s for the pack, {peer_s:.1f} s for Magenta "
             "(ONNX Runtime, 2 threads, 512 px).", "",
             "| | " + " | ".join(KEYS) + " |", "|---" * (len(KEYS) + 1) + "|"]
    for name, m in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{m[k]:.3f}" for k in KEYS) + " |")
    (docs / "meter.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(json.dumps(rows))


if __name__ == "__main__":
    main()

"""Contact sheets of the fusion controls for a trained run (one-off tool, not imported).

    python scripts/fusion_sheets.py RUN_DIR OUT_DIR --content DIR --style-image PATH [--size 256]

Writes personal_style.png (each bank style), blend.png (bank blends and a style image through
the StyleEncoder), masked_blend.png (two styles in two regions, plain and colour-preserving) and
strength_sweep.png (strength 0 … 1, anchored and pure style-space), and prints the strength-0
reconstruction PSNR.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from tf_stylefusion import StylizeOptions, encode_style_images, load_generator, load_style_encoder
from tf_stylefusion.data.images import contact_sheet, list_images, load_image, save_image
from tf_stylefusion.data.pipelines import center_crops
from tf_stylefusion.evaluation.metrics import psnr
from tf_stylefusion.inference.stylize import stylize_image


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("out")
    ap.add_argument("--content", required=True)
    ap.add_argument("--style-image", required=True)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--first", type=int, default=1, help="bank index of the first style of blends/masks")
    ap.add_argument("--second", type=int, default=2)
    args = ap.parse_args(argv)

    g = load_generator(args.run)
    enc = load_style_encoder(args.run, g, required=True)
    out = Path(args.out)
    photos = center_crops([load_image(p, max_side=2 * args.size) for p in list_images(args.content)], args.size)
    n, names = g.num_styles, g.style_names
    eye = np.eye(n + 1, dtype=np.float32)
    a, b = args.first, args.second
    style_rows = encode_style_images(enc, [load_image(args.style_image, max_side=4 * enc.style_size)])
    with_image = StylizeOptions(style_rows=style_rows)

    def run(img: np.ndarray, w: np.ndarray, **kw) -> np.ndarray:
        return stylize_image(g, img, w, StylizeOptions(style_rows=style_rows, encoder=enc, **kw))

    rows = [[p] + [stylize_image(g, p, eye[i, :n]) for i in range(n)] for p in photos]
    save_image(out / "personal_style.png", contact_sheet(rows, col_labels=["content"] + names, cell=160))

    image_name = Path(args.style_image).stem
    mix = np.zeros(n + 1, np.float32)
    mix[[a, b]] = 0.5
    img_mix = np.zeros(n + 1, np.float32)
    img_mix[[a, n]] = 0.5
    rows = [[p, run(p, eye[a]), run(p, mix), run(p, eye[b]), stylize_image(g, p, eye[n], with_image),
             run(p, img_mix)] for p in photos]
    labels = ["content", names[a], f"{names[a]}+{names[b]}", names[b], f"image:{image_name}",
              f"{names[a]}+image"]
    save_image(out / "blend.png", contact_sheet(rows, col_labels=labels, cell=160))

    mask = np.zeros((args.size, args.size), np.float32)
    yy, xx = np.mgrid[0 : args.size, 0 : args.size]
    mask[(xx - args.size * 0.5) ** 2 + (yy - args.size * 0.45) ** 2 < (args.size * 0.3) ** 2] = 1.0
    two = np.zeros(n + 1, np.float32)
    two[[a, b]] = 1.0
    rows = [[p, np.repeat(mask[..., None], 3, -1),
             run(p, two, masks=[mask], order=[a, b]),
             run(p, two, masks=[mask], order=[a, b], preserve_color="luminance"),
             run(p, two, masks=[mask], order=[a, b], preserve_color="histogram")] for p in photos]
    labels = ["content", f"mask: {names[a]} in", "masked blend", "+ luminance", "+ histogram"]
    save_image(out / "masked_blend.png", contact_sheet(rows, col_labels=labels, cell=160))

    strengths = [0.0, 0.25, 0.5, 0.75, 1.0]
    rows, row_labels = [], []
    for p in photos[:2]:
        for anchor in (True, False):
            rows.append([run(p, eye[b], strength=s, anchor_content=anchor) for s in strengths])
            row_labels.append("anchored" if anchor else "style space")
    save_image(out / "strength_sweep.png", contact_sheet(
        rows, row_labels=row_labels, col_labels=[f"strength {s:g}" for s in strengths], cell=160))

    pure = [psnr(run(p, eye[b], strength=0.0, anchor_content=False), p) for p in photos]
    anchored = [psnr(run(p, eye[b], strength=0.0), p) for p in photos]
    print(f"strength 0, style space only: PSNR {np.mean(pure):.1f} dB (per image "
          f"{', '.join(f'{v:.1f}' for v in pure)}); anchored: {np.mean(anchored):.1f} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Colour transfer alone, no network: each photo given each painting's colours three ways, for
the meter (docs/recipe.md, "Hue"). Also prints the average photo channel correlation that
``training/color_init.PHOTO_CORRELATION`` holds.

    python scripts/colour_transfer_baseline.py --content ../shared/images/content \\
        --style ../shared/images/style --photos pack_content --out /tmp/ct
    ../shared/tools/stylemeter/run score --content ../shared/images/content \\
        --style ../shared/images/style --outputs /tmp/ct/heldcorr

Modes: ``chan`` (per-channel spread and mean), ``full`` (the photo's own covariance to the
painting's), ``heldcorr`` (per channel, then the painting's covariance over an average photo's
correlation: what the colour norm with ``color_mix`` starts at).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

SIDE, STYLE_SIDE = 384, 256


def load(path: Path, side: int) -> np.ndarray:
    with Image.open(path) as im:
        im = im.convert("RGB")
        scale = side / max(im.size)
        size = (round(im.size[0] * scale), round(im.size[1] * scale))
        return np.asarray(im.resize(size, Image.Resampling.LANCZOS), np.float64) / 255


def matrix_power(c: np.ndarray, power: float) -> np.ndarray:
    w, v = np.linalg.eigh(c)
    return (v * np.maximum(w, 1e-5) ** power) @ v.T


def moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = x.reshape(-1, 3)
    return f.mean(0), np.cov(f.T)


def average_correlation(folder: Path, limit: int = 40) -> np.ndarray:
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:limit]:
        try:
            _, c = moments(load(path, STYLE_SIDE))
        except OSError as e:
            print(f"skipped {path}: {e}")
            continue
        d = np.sqrt(np.diag(c))
        found.append(c / np.outer(d, d))
    return np.mean(found, axis=0)


def transfer(x: np.ndarray, painting: np.ndarray, mode: str, corr: np.ndarray) -> np.ndarray:
    mp, cp = moments(painting)
    mx, cx = moments(x)
    f = x.reshape(-1, 3) - mx
    if mode == "chan":
        y = f / np.sqrt(np.diag(cx)) * np.sqrt(np.diag(cp))
    elif mode == "full":
        y = f @ (matrix_power(cp, 0.5) @ matrix_power(cx, -0.5)).T
    else:
        y = (f / np.sqrt(np.diag(cx))) @ (matrix_power(cp, 0.5) @ matrix_power(corr, -0.5)).T
    return np.clip(y + mp, 0, 1).reshape(x.shape)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--content", required=True, type=Path)
    p.add_argument("--style", required=True, type=Path)
    p.add_argument("--photos", required=True, type=Path, help="photos for the average channel correlation")
    p.add_argument("--out", required=True, type=Path)
    args = p.parse_args()
    corr = average_correlation(args.photos)
    print("average photo channel correlation:\n", corr.round(3))
    photos = sorted(args.content.glob("*.jpg"))
    paintings = sorted(args.style.glob("*.jpg"))
    for mode in ("chan", "full", "heldcorr"):
        (args.out / mode).mkdir(parents=True, exist_ok=True)
        for s in paintings:
            painting = load(s, STYLE_SIDE)
            for c in photos:
                y = transfer(load(c, SIDE), painting, mode, corr)
                target = args.out / mode / f"{c.stem}__{s.stem}.png"
                tmp = target.with_suffix(".tmp.png")
                Image.fromarray((y * 255).round().astype(np.uint8)).save(tmp)
                tmp.replace(target)


if __name__ == "__main__":
    main()

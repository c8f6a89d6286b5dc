"""Recipe ablation: train one variant of the offline recipe, stylize held-out photos, score them.

One variant per call (so each trains in a fresh process); ``--table`` gathers every scored
variant of an output folder into one markdown table. Scoring uses ``../shared/tools/stylemeter``
(a ruler only: nothing here trains with it), and the peer row is Magenta measured in the same
folder.

    python scripts/recipe_ablation.py --out ablation --name base --content photos/ \\
        --style wave.jpg --style udnie.jpg --eval-content ../shared/images/content \\
        --set losses.adversarial_weight=0
    python scripts/recipe_ablation.py --out ablation --table
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
METER = ROOT.parent / "shared" / "tools" / "stylemeter" / "run"
KEYS = ("gram_score", "color_score", "content_dist", "ssim", "separation")


def parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def apply_overrides(cfg, overrides: list[str]):
    """``section.field=value`` (value as JSON, else a string) onto a RunConfig, validated; the
    fields the recipe decided are decided again (RunConfig.updated)."""
    from tf_stylefusion.errors import ConfigError

    changes: dict[str, dict] = {}
    for item in overrides:
        key, _, value = item.partition("=")
        section, _, name = key.partition(".")
        changes.setdefault(section, {})[name] = parse_value(value)
    try:
        return cfg.updated(changes)
    except ConfigError as e:
        raise SystemExit(f"--set: {e}") from None


def style_dir_for(styles: list[Path], out: Path) -> Path:
    """A folder holding just these paintings (the meter scores every style of its --style dir)."""
    d = out / "styles"
    d.mkdir(parents=True, exist_ok=True)
    for s in styles:
        if not (d / s.name).exists():
            shutil.copy(s, d / s.name)
    return d


def stylize_eval(generator, photos: list[Path], out_dir: Path, max_size: int) -> float:
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


def score(content: Path, styles: Path, outputs: Path, json_path: Path) -> dict:
    subprocess.run([str(METER), "score", "--content", str(content), "--style", str(styles),
                    "--outputs", str(outputs), "--json", str(json_path)], check=True,
                   stdout=subprocess.DEVNULL)
    return json.loads(json_path.read_text())["mean"]


def run_variant(a) -> None:
    from tf_stylefusion import RunConfig, train
    from tf_stylefusion.config import DataConfig, LossConfig, TrainConfig
    from tf_stylefusion.data.images import list_images

    out = Path(a.out)
    styles = [Path(s) for s in a.style]
    cfg = RunConfig(
        losses=LossConfig(loss_network="random"),
        data=DataConfig(content=a.content, styles=[str(s) for s in styles], image_size=a.image_size,
                        batch_size=a.batch_size, style_size=max(a.image_size, a.style_size)),
        training=TrainConfig(steps=a.steps, checkpoint_every=max(1, a.steps // 4), tensorboard=False,
                             seed=a.seed),
    )
    cfg = apply_overrides(cfg, a.set)
    run_dir = out / "runs" / a.name
    t0 = time.time()
    result = train(cfg, run_dir, verbose=2)
    train_s = time.time() - t0
    photos = list_images(a.eval_content)
    outputs = out / "outputs" / a.name
    stylize_s = stylize_eval(result.generator, photos, outputs, a.max_size)
    sdir = style_dir_for(styles, out)
    (out / "scores").mkdir(parents=True, exist_ok=True)
    mean = score(Path(a.eval_content), sdir, outputs, out / "scores" / f"{a.name}.json")
    record = {"name": a.name, "overrides": a.set, "steps": a.steps, "image_size": a.image_size,
              "train_s": round(train_s, 1), "stylize_s": round(stylize_s, 1), **mean}
    (out / "scores" / f"{a.name}.record.json").write_text(json.dumps(record, indent=1))
    print(json.dumps(record))


def peer(a) -> None:
    out = Path(a.out)
    sdir = style_dir_for([Path(s) for s in a.style], out)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([str(METER), "peer", "--content", a.eval_content, "--style", str(sdir),
                        "--out", tmp], check=True, stdout=subprocess.DEVNULL)
        dest = out / "outputs" / "magenta"
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(tmp, dest)
    (out / "scores").mkdir(parents=True, exist_ok=True)
    mean = score(Path(a.eval_content), sdir, out / "outputs" / "magenta", out / "scores" / "magenta.json")
    (out / "scores" / "magenta.record.json").write_text(json.dumps({"name": "magenta", **mean}, indent=1))
    print(json.dumps(mean))


def table(a) -> None:
    out = Path(a.out)
    records = [json.loads(p.read_text()) for p in sorted((out / "scores").glob("*.record.json"))]
    peer_rec = next((r for r in records if r["name"] == "magenta"), None)
    lines = ["| variant | overrides | train s | " + " | ".join(KEYS) + " | gram ÷ Magenta | sep ÷ Magenta |",
             "|---" * (len(KEYS) + 5) + "|"]
    for r in records:
        ratio = (lambda k: f"{r[k] / peer_rec[k]:.2f}" if peer_rec and r.get(k) is not None else "")
        lines.append(f"| {r['name']} | {' '.join(r.get('overrides', [])) or '—'} | {r.get('train_s', '')} | "
                     + " | ".join(f"{r[k]:.3f}" if r.get(k) is not None else "" for k in KEYS)
                     + f" | {ratio('gram_score')} | {ratio('separation')} |")
    text = "\n".join(lines)
    (out / "table.md").write_text(text + "\n")
    print(text)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--name")
    p.add_argument("--content", help="training photos (a folder)")
    p.add_argument("--style", action="append", default=[])
    p.add_argument("--eval-content", default=str(ROOT.parent / "shared" / "images" / "content"))
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--style-size", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--max-size", type=int, default=384, help="stylize the held-out photos at this size")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", default=[], help="section.field=value (JSON), repeat")
    p.add_argument("--peer", action="store_true", help="make and score Magenta's outputs")
    p.add_argument("--table", action="store_true", help="gather the scored variants into table.md")
    a = p.parse_args()
    if a.table:
        table(a)
    elif a.peer:
        peer(a)
    elif a.name and a.content and a.style:
        run_variant(a)
    else:
        p.error("give --table, --peer, or --name, --content and --style")
    sys.exit(0)


if __name__ == "__main__":
    main()

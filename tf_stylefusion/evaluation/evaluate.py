"""``evaluate``: how stylized, how faithful, how realistic — as JSON and an HTML report.

Inputs: a model (it stylizes every content image with each style itself) or a folder of
outputs laid out as ``OUTPUTS/<style name>/<content stem>.<ext>`` (what
``stylefusion stylize --out OUTPUTS/<style>`` writes), plus the content images and the style
images. Per style and overall (formulas in ``metrics``):

- Gram style distance to the style images and content distance to the content image, on the
  VGG19 loss network (``random``, ``imagenet`` or a weights file);
- SSIM to the content image; chi-square distance of 8³-bin RGB histograms to the style images;
- FID and KID on InceptionV3 pool features between the outputs and the style images, each image
  contributing five views (the whole image and its four quadrants) so that a style given by one
  painting still yields a sample set. Inception needs real weights (``imagenet`` or a file): on
  random weights these numbers would mean nothing, so without them FID/KID are reported as
  unavailable, with the reason.
"""

from __future__ import annotations

import dataclasses
import html
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf

from ..config import RunConfig
from ..data.images import IMAGE_EXTENSIONS, BadFiles, contact_sheet, encode_image, list_images, save_image
from ..data.pipelines import StyleSource, load_or_report, resolve_styles
from ..errors import ConfigError, ImageError, WeightsUnavailableError
from ..fileutil import atomic_write_bytes, atomic_write_text
from ..inference.stylize import LABEL_SEPARATOR
from ..model_io import CONFIG_FILE, SPLITS_FILE
from ..models.generator import MIN_SIZE
from ..models.loss_networks import inception_features, vgg_features
from ..training.losses import gram_matrix
from . import metrics

log = logging.getLogger(__name__)

VGG_STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
VGG_CONTENT_LAYER = "block4_conv2"
INCEPTION_SIZE = 299
METRIC_NAMES = ("gram_distance", "content_distance", "ssim", "color_chi2", "fid", "kid")
LOWER_IS_BETTER = {"gram_distance": True, "content_distance": True, "ssim": False, "color_chi2": True,
                   "fid": True, "kid": True}
SHEET_ROWS = 6


@dataclass
class EvalConfig:
    """Evaluation settings. ``inception_weights``: ``imagenet``, a weights file, or ``none``."""

    loss_network: str = "random"
    inception_weights: str = "imagenet"
    image_size: int = 512
    histogram_bins: int = 8
    seed: int = 1234

    def __post_init__(self) -> None:
        if self.image_size < MIN_SIZE:
            raise ConfigError(f"image size must be at least {MIN_SIZE}, got {self.image_size}")
        if not 2 <= self.histogram_bins <= 64:
            raise ConfigError(f"histogram bins must be in [2, 64], got {self.histogram_bins}")


@dataclass
class EvalReport:
    """What ``evaluate`` measured and wrote."""

    results: dict[str, Any]
    json_path: Path
    html_path: Path
    sheet_path: Path
    bad: BadFiles = field(default_factory=BadFiles)


# ---------------------------------------------------------------- inputs


def content_from_run(model: str | Path) -> list[Path]:
    """The held-out test files of a run folder (its ``splits.json``)."""
    splits_file = Path(model) / SPLITS_FILE
    if not splits_file.is_file():
        raise ConfigError(f"{model}: no splits.json to take test images from; pass --content")
    try:
        splits = json.loads(splits_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"{splits_file}: cannot read ({e})") from e
    test = splits.get("test") or []
    if not test:
        raise ConfigError(f"{splits_file}: the run has no test split (train with --test-fraction); "
                          "pass --content")
    return [Path(p) for p in test]


def styles_from_run(model: str | Path) -> list[str]:
    config_file = Path(model) / CONFIG_FILE
    if not config_file.is_file():
        raise ConfigError(f"{model}: pass --style (no run config.json to take the style images from)")
    return RunConfig.from_json(config_file).data.styles


def resolve_content(content: Sequence[str | Path]) -> list[Path]:
    """Files and folders (recursive) → image files."""
    paths: list[Path] = []
    for c in content:
        p = Path(c)
        paths.extend(list_images(p) if p.is_dir() else [p])
    if not paths:
        raise ConfigError("no content images given")
    return paths


def find_output(outputs: Path, style: str, stem: str) -> Path | None:
    """``OUTPUTS/<style>/<stem>.<ext>``, or ``<stem>__<style>.png`` as `stylefusion stylize
    --style <style> --out OUTPUTS/<style>` names it."""
    for ext in IMAGE_EXTENSIONS:
        for name in (f"{stem}{ext}", f"{stem}{LABEL_SEPARATOR}{style}{ext}"):
            p = outputs / style / name
            if p.is_file():
                return p
    return None


# ---------------------------------------------------------------- features


def _views(img: np.ndarray) -> list[np.ndarray]:
    """The whole image and its four quadrants (FID/KID samples)."""
    h, w = img.shape[:2]
    hh, hw = h // 2, w // 2
    return [img, img[:hh, :hw], img[:hh, hw:], img[hh:, :hw], img[hh:, hw:]]


class FeatureSpace:
    """The loss network and (when real weights exist) Inception, built once per evaluation."""

    def __init__(self, config: EvalConfig):
        self.loss_network = vgg_features(config.loss_network, VGG_STYLE_LAYERS + (VGG_CONTENT_LAYER,), config.seed)
        self.inception = None
        self.unavailable: str | None = None
        if config.inception_weights == "none":
            self.unavailable = "FID/KID unavailable: disabled with --inception-weights none."
        elif config.inception_weights == "random":
            self.unavailable = ("FID/KID unavailable: random Inception weights give meaningless "
                                "numbers; pass --inception-weights imagenet or FILE.")
        else:
            try:
                self.inception = inception_features(config.inception_weights, config.seed)
            except WeightsUnavailableError as e:
                cause = str(e).split(";")[0].rstrip(".")
                self.unavailable = (f"FID/KID unavailable: InceptionV3 weights {config.inception_weights!r} "
                                    f"could not be loaded ({cause}); pass --inception-weights imagenet "
                                    "with internet access once, or --inception-weights FILE.")

    def vgg(self, img: np.ndarray) -> list[tf.Tensor]:
        """Loss-network feature maps of one image: the style layers, then the content layer."""
        return self.loss_network(tf.convert_to_tensor(img[None], tf.float32))

    def pooled(self, img: np.ndarray) -> np.ndarray | None:
        """Inception pool features ``[5, 2048]`` of the image's five views, or None."""
        if self.inception is None:
            return None
        views = [tf.image.resize(v[None], (INCEPTION_SIZE, INCEPTION_SIZE), antialias=True)
                 for v in _views(img)]
        return self.inception(tf.concat(views, 0), size=INCEPTION_SIZE).numpy()


# ---------------------------------------------------------------- evaluation


@dataclass
class _Style:
    name: str
    images: list[np.ndarray]
    grams: list[tf.Tensor]
    pooled: np.ndarray | None


def _prepare_style(source: StyleSource, space: FeatureSpace, size: int, bad: BadFiles) -> _Style:
    images = [im for im in (load_or_report(p, bad, size, MIN_SIZE) for p in source.paths) if im is not None]
    if not images:
        raise ImageError(source.name, f"style {source.name!r} has no readable image")
    per_image = [[gram_matrix(f) for f in space.vgg(im)[:-1]] for im in images]
    grams = [tf.reduce_mean(tf.concat(layer, 0), 0, keepdims=True) for layer in zip(*per_image)]
    pooled = None
    if space.inception is not None:
        pooled = np.concatenate([space.pooled(im) for im in images])
    return _Style(source.name, images, grams, pooled)


def _image_metrics(output: np.ndarray, content: np.ndarray, style: _Style, space: FeatureSpace,
                   bins: int) -> dict[str, float]:
    if output.shape != content.shape:
        output = tf.image.resize(output, content.shape[:2], antialias=True).numpy().clip(0, 1)
    out_feats, content_feats = space.vgg(output), space.vgg(content)
    return {
        "gram_distance": float(metrics.gram_distance(out_feats[:-1], style.grams)[0]),
        "content_distance": float(metrics.content_distance(out_feats[-1], content_feats[-1])[0]),
        "ssim": float(metrics.ssim(output[None], content[None])[0]),
        "color_chi2": metrics.color_histogram_distance(output, style.images, bins),
    }


def _fid_kid(outputs: np.ndarray, styles: np.ndarray) -> dict[str, float | None]:
    if len(outputs) < 2 or len(styles) < 2:
        return {"fid": None, "kid": None}
    return {"fid": metrics.fid(outputs, styles), "kid": metrics.kid(outputs, styles)}


def _summary(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name in ("gram_distance", "content_distance", "ssim", "color_chi2"):
        values = [r[name] for r in rows]
        out[name] = float(np.mean(values)) if values else None
    return out


def evaluate(content: Sequence[str | Path] | None, styles: Sequence[str] | None, out_dir: str | Path, *,
             model: str | Path | None = None, outputs: str | Path | None = None,
             config: EvalConfig | None = None, progress: bool = True) -> EvalReport:
    """Measure a model (or a folder of outputs) on content and style images; write
    ``report.json``, ``report.html`` and ``contact_sheet.png`` into ``out_dir`` (and, for a
    model, its outputs under ``out_dir/outputs/<style>/``). Unreadable files are skipped and
    listed in the report. ``content`` None: the run's test split; ``styles`` None: the run's
    style images."""
    from ..inference.stylize import stylize_image
    from ..model_io import load_generator

    config = config or EvalConfig()
    if (model is None) == (outputs is None):
        raise ConfigError("evaluate needs exactly one of a model (run folder or .keras) or --outputs DIR")
    if content is None:
        if model is None or not Path(model).is_dir():
            raise ConfigError("pass --content (only a run folder has a test split to default to)")
        content_paths = content_from_run(model)
    else:
        content_paths = resolve_content(content)
    if styles is None:
        if model is None or not Path(model).is_dir():
            raise ConfigError("pass --style for each style to evaluate")
        styles = styles_from_run(model)
    sources = resolve_styles(styles)
    generator = load_generator(model) if model is not None else None
    if generator is not None:
        unknown = [s.name for s in sources if s.name not in generator.style_names]
        if unknown:
            raise ConfigError(f"styles {unknown} are not in the model (it has {generator.style_names}); "
                              "pass --style images named like the model's styles")
    elif not Path(outputs).is_dir():  # type: ignore[arg-type]
        raise ConfigError(f"--outputs {outputs}: no such folder")

    out_dir = Path(out_dir)
    bad = BadFiles()
    space = FeatureSpace(config)
    contents = [(p, im) for p in content_paths if (im := load_or_report(p, bad, config.image_size, MIN_SIZE)) is not None]
    if not contents:
        raise ImageError(content_paths[0], f"none of the {len(content_paths)} content images could be read:\n"
                                           f"{bad.summary()}")
    rows: list[dict[str, Any]] = []
    per_style: dict[str, dict[str, Any]] = {}
    sheet: dict[str, list[np.ndarray]] = {}
    all_out_pooled, all_style_pooled = [], []
    bar = keras.utils.Progbar(len(sources) * len(contents), unit_name="image") if progress else None
    for s_index, source in enumerate(sources):
        style = _prepare_style(source, space, config.image_size, bad)
        style_rows, pooled = [], []
        sheet[style.name] = []
        for c_index, (path, content_img) in enumerate(contents):
            if generator is not None:
                weights = np.eye(generator.num_styles, dtype=np.float32)[generator.style_names.index(style.name)]
                output = stylize_image(generator, content_img, weights)
                save_image(out_dir / "outputs" / style.name / f"{path.stem}.png", output)
                out_path = path
            else:
                found = find_output(Path(outputs), style.name, path.stem)  # type: ignore[arg-type]
                if found is None:
                    bad.add(Path(outputs) / style.name / f"{path.stem}.*", "no output for this content image")  # type: ignore[arg-type]
                    output = None
                else:
                    output = load_or_report(found, bad, config.image_size, MIN_SIZE)
                    out_path = found
            if output is not None:
                row = {"style": style.name, "content": str(path), "output": str(out_path),
                       **_image_metrics(output, content_img, style, space, config.histogram_bins)}
                style_rows.append(row)
                if space.inception is not None:
                    pooled.append(space.pooled(output))
                if len(sheet[style.name]) < SHEET_ROWS:
                    sheet[style.name].append(output)
            if bar is not None:
                bar.update(s_index * len(contents) + c_index + 1)
        rows.extend(style_rows)
        summary: dict[str, Any] = {"n": len(style_rows), **_summary(style_rows), "fid": None, "kid": None}
        if pooled and style.pooled is not None:
            out_pooled = np.concatenate(pooled)
            summary.update(_fid_kid(out_pooled, style.pooled))
            all_out_pooled.append(out_pooled)
            all_style_pooled.append(style.pooled)
        per_style[style.name] = summary
        sheet[f"__style__{style.name}"] = style.images[:1]

    overall: dict[str, Any] = {"n": len(rows), **_summary(rows), "fid": None, "kid": None}
    if all_out_pooled:
        overall.update(_fid_kid(np.concatenate(all_out_pooled), np.concatenate(all_style_pooled)))
    results = {
        "settings": {**dataclasses.asdict(config), "model": str(model) if model else None,
                     "outputs": str(outputs) if outputs else None,
                     "content_images": len(contents), "styles": [s.name for s in sources],
                     "color_distance": f"chi-square of {config.histogram_bins}^3-bin joint RGB histograms",
                     "fid_kid_views": "whole image + 4 quadrants, InceptionV3 avg-pool at 299x299",
                     "kid_kernel": "unbiased MMD^2, k(x,y) = (x.y/d + 1)^3"},
        "fid_kid": {"available": space.inception is not None, "reason": space.unavailable},
        "overall": overall,
        "styles": per_style,
        "images": rows,
        "skipped": [{"path": p, "problem": why} for p, why in bad.items],
    }
    json_path, html_path, sheet_path = out_dir / "report.json", out_dir / "report.html", out_dir / "contact_sheet.png"
    sheet_img = _contact_sheet([c for _, c in contents[:SHEET_ROWS]], [p.stem for p, _ in contents[:SHEET_ROWS]],
                               sheet, [s.name for s in sources])
    atomic_write_bytes(sheet_path, encode_image(sheet_img, "PNG"))
    atomic_write_text(json_path, json.dumps(results, indent=1))
    atomic_write_text(html_path, render_html(results, sheet_path.name))
    return EvalReport(results, json_path, html_path, sheet_path, bad)


def _contact_sheet(contents: list[np.ndarray], names: list[str], sheet: dict[str, list[np.ndarray]],
                   styles: list[str]) -> np.ndarray:
    """Top row: the style images; then one row per content image: the content, then its outputs."""
    blank = np.ones((MIN_SIZE, MIN_SIZE, 3), np.float32)
    top = [blank] + [(sheet.get(f"__style__{s}") or [blank])[0] for s in styles]
    rows = [top]
    for i, content in enumerate(contents):
        outs = [sheet[s][i] if i < len(sheet.get(s, [])) else blank for s in styles]
        rows.append([content] + outs)
    return contact_sheet(rows, row_labels=["style"] + names, col_labels=["content"] + styles, cell=160)


# ---------------------------------------------------------------- HTML


def _svg_bars(metric: str, values: dict[str, float | None]) -> str:
    """A horizontal bar chart (inline SVG) of one metric per style."""
    known = {k: v for k, v in values.items() if v is not None and np.isfinite(v)}
    if not known:
        return ""
    width, bar_h, label_w = 420, 18, 130
    top = max(abs(v) for v in known.values()) or 1.0
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + label_w + 80}" '
             f'height="{bar_h * len(values) + 8}" role="img" aria-label="{html.escape(metric)}">']
    for i, (name, value) in enumerate(values.items()):
        y = 4 + i * bar_h
        parts.append(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end" font-size="12">'
                     f'{html.escape(name[:18])}</text>')
        if value is None or not np.isfinite(value):
            parts.append(f'<text x="{label_w}" y="{y + 13}" font-size="12" fill="#888">n/a</text>')
            continue
        w = max(1.0, width * abs(value) / top)
        parts.append(f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{bar_h - 5}" fill="#4a78b5"/>')
        parts.append(f'<text x="{label_w + w + 4}" y="{y + 13}" font-size="12">{value:.4g}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(results: dict[str, Any], sheet_name: str) -> str:
    """A self-contained report: settings, per-style table and bars, the contact sheet."""
    styles = results["styles"]
    esc = html.escape
    head = "".join(f"<th>{esc(m)}</th>" for m in METRIC_NAMES)

    def cell(v: Any) -> str:
        return "<td>n/a</td>" if v is None else f"<td>{v:.4g}</td>"

    body = "".join(f"<tr><td>{esc(name)}</td><td>{s['n']}</td>{''.join(cell(s[m]) for m in METRIC_NAMES)}</tr>"
                   for name, s in styles.items())
    overall = results["overall"]
    body += f"<tr><th>overall</th><td>{overall['n']}</td>{''.join(cell(overall[m]) for m in METRIC_NAMES)}</tr>"
    charts = "".join(
        f"<h3>{esc(m)} ({'lower' if LOWER_IS_BETTER[m] else 'higher'} is better)</h3>"
        + _svg_bars(m, {n: s[m] for n, s in styles.items()})
        for m in METRIC_NAMES if any(s[m] is not None for s in styles.values()))
    fid_note = results["fid_kid"]["reason"] or "FID/KID on ImageNet InceptionV3 pool features."
    skipped = "".join(f"<li>{esc(s['path'])}: {esc(s['problem'])}</li>" for s in results["skipped"])
    settings = "".join(f"<li>{esc(k)}: {esc(str(v))}</li>" for k, v in results["settings"].items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tf_stylefusion evaluation</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}</style>
</head><body>
<h1>Style transfer evaluation</h1>
<p>{esc(fid_note)}</p>
<h2>Per style</h2>
<table><tr><th>style</th><th>n</th>{head}</tr>{body}</table>
<p>gram_distance: Gram style distance to the style images on the loss network; content_distance:
feature distance to the content image; ssim: structural similarity to the content; color_chi2:
chi-square distance between colour histograms of output and style; fid/kid: InceptionV3 pool
features of outputs vs style images (5 views per image).</p>
<h2>Bars</h2>{charts}
<h2>Contact sheet</h2><img src="{esc(sheet_name)}" alt="style images, content images and outputs">
<h2>Settings</h2><ul>{settings}</ul>
{f'<h2>Skipped</h2><ul>{skipped}</ul>' if skipped else ''}
</body></html>
"""

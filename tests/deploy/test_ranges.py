"""MSE activation ranges: the search clips heavy tails and only where that lowers the error, and
rewrites the calibrated model's ranges without touching its edges."""

from __future__ import annotations

import numpy as np
import pytest

from tf_stylefusion.deploy.ranges import best_range, tighten_ranges


def quantization_mse(values: np.ndarray, lo: float, hi: float, levels: int = 256) -> float:
    """Direct (no histogram) squared error of clipping ``values`` to [lo, hi] and rounding."""
    step = (hi - lo) / (levels - 1)
    clipped = np.clip(values, lo, hi)
    return float(np.mean((np.round((clipped - lo) / step) * step + lo - values) ** 2))


def test_heavy_tails_get_a_tighter_range_with_less_error() -> None:
    rng = np.random.default_rng(0)
    # A feature map's shape: most values near zero, an exponential tail of edge pixels.
    values = rng.laplace(0.0, 1.0, 200_000)
    lo, hi = float(values.min()), float(values.max())
    new_lo, new_hi = best_range(values, lo, hi)
    assert lo < new_lo < 0 < new_hi < hi
    assert new_hi - new_lo < 0.9 * (hi - lo)  # measured: 0.81 of the range, 0.74 of the error
    assert quantization_mse(values, new_lo, new_hi) < 0.85 * quantization_mse(values, lo, hi)


def test_a_uniform_range_is_kept_and_zero_stays_inside() -> None:
    rng = np.random.default_rng(1)
    values = rng.uniform(-3.0, 5.0, 100_000)
    lo, hi = best_range(values, -3.0, 5.0)
    assert lo == pytest.approx(-3.0, rel=0.05) and hi == pytest.approx(5.0, rel=0.05)
    # ReLU outputs: the minimum stays exactly 0 (no negative range to spend steps on)
    relu = np.maximum(rng.normal(0.0, 1.0, 100_000), 0.0)
    lo, hi = best_range(relu, 0.0, float(relu.max()))
    assert lo == 0.0 and 0 < hi <= relu.max()
    assert best_range(np.zeros(10), 0.0, 0.0) == (0.0, 0.0)


def test_tighten_ranges_rewrites_feature_maps_not_the_edges(calibrated_model) -> None:
    from tensorflow.lite.tools import flatbuffer_utils

    model, samples = calibrated_model
    tightened, changed = tighten_ranges(model, samples)
    assert changed > 0

    def ranges(data: bytes) -> dict[int, tuple[float, float]]:
        graph = flatbuffer_utils.convert_bytearray_to_object(bytearray(data)).subgraphs[0]
        return {i: (float(t.quantization.min[0]), float(t.quantization.max[0]))
                for i, t in enumerate(graph.tensors)
                if t.quantization is not None and t.quantization.min is not None and len(t.quantization.min) == 1}

    before, after = ranges(model), ranges(tightened)
    graph = flatbuffer_utils.convert_bytearray_to_object(bytearray(model)).subgraphs[0]
    for edge in list(graph.inputs) + list(graph.outputs):
        if edge in before:
            assert after[edge] == before[edge]
    narrowed = [i for i in before if after[i] != before[i]]
    assert len(narrowed) == changed
    assert any(after[i][1] - after[i][0] < before[i][1] - before[i][0] for i in narrowed)
    for i in narrowed:
        # zero joins the range (as TFLite's quantizer would make it anyway); the ends only move in
        assert min(before[i][0], 0.0) <= after[i][0] <= 0.0 <= after[i][1] <= max(before[i][1], 0.0)
        assert not (before[i][0] >= 0.0 and before[i][1] <= 1.0)


@pytest.fixture(scope="module")
def calibrated_model(tmp_path_factory):
    """A calibrate-only TFLite model of a small conv net whose features have heavy tails."""
    import tensorflow as tf

    rng = np.random.default_rng(2)
    kernel = rng.normal(0, 1, (3, 3, 3, 8)).astype(np.float32)

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32, name="images")])
    def net(images):
        features = tf.nn.conv2d(images, kernel, 1, "SAME")
        return {"out": tf.sigmoid(tf.reduce_mean(tf.nn.relu(features) * features, axis=-1, keepdims=True))}

    def samples():
        for k in range(4):
            image = rng.uniform(0, 1, (1, 32, 32, 3)).astype(np.float32)
            image[0, k, k] = 1.0 if k % 2 else 0.0
            yield {"images": image}

    saved = str(tmp_path_factory.mktemp("saved"))
    tf.saved_model.save(tf.Module(), saved, signatures={"serving_default": net.get_concrete_function()})
    converter = tf.lite.TFLiteConverter.from_saved_model(saved)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = samples
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter._experimental_calibrate_only = True
    return converter.convert(), list(samples())

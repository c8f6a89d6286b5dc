"""TFLite / LiteRT: every mode keeps its parity threshold on a small trained model, other sizes
work through resize_tensor_input, style fusion happens inside one file, and the CLI exports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_stylefusion.cli import main
from tf_stylefusion.config import DataConfig, LossConfig, RunConfig
from tf_stylefusion.deploy.integer import (
    balanced_for_integer,
    check_integer_only,
    conv_norm_blocks,
    norm_input_statistics,
)
from tf_stylefusion.deploy.tflite import (
    INTEGER_MODES,
    MODES,
    TFLiteStylizer,
    calibration_images,
    convert,
    export_tflite,
    parity_psnr,
    parse_modes,
    sample_content,
)
from tf_stylefusion.errors import ConfigError, ImageError, ModelFileError, StyleWeightsError
from tf_stylefusion.training.run import build_gan

from ..conftest import texture
from ..helpers import signature_names

SIZE = 48
ROOT = Path(__file__).resolve().parents[2]
# What the README promises for each mode (PSNR against the Keras model, dB on a small trained
# model): stated here, not read from the code under test.
README_PARITY_DB = {"fp32": 45.0, "fp16": 40.0, "dynamic": 35.0, "int8": 22.0, "int16x8": 30.0}


@pytest.fixture(scope="module")
def trained():
    """A tiny generator trained a few dozen steps on two textures (random VGG, offline): trained
    norm parameters and kernels are what quantization has to keep, not a random init's.

    Seeded: integer parity depends on the model. Before the offline recipe had the colour norm,
    five seeds of this one gave int16x8 30.1–37.8 dB and three gave full int8 28.9–29.7 dB; with
    it, seeds 0 and 1 gave int8 33.3–34.5 and int16x8 36.9–39.1 dB; with the colour transform and
    the residual layout, seed 0 gives int8 37.2 and int16x8 41.3 dB (eager or traced steps alike);
    with the flat guard too, int8 37.8 and int16x8 42.0 dB."""
    keras.utils.set_random_seed(0)
    cfg = RunConfig(losses=LossConfig(loss_network="random"), data=DataConfig(teacher=""))
    cfg.generator.num_styles = 2
    cfg.generator.style_names = ["stripes", "checker"]
    cfg.generator.filters = (8, 12, 16)
    cfg.generator.num_res_blocks = 1
    cfg.generator.flat_guard = 0.03  # as the pack: every mode converts and keeps parity with the gate
    cfg.discriminator.filters = 8
    cfg.training.g_learning_rate = 5e-3
    styles = [texture("stripes", 64), texture("checker", 64)]
    gan = build_gan(cfg, [[s.astype(np.float32) / 255] for s in styles])
    content = tf.constant(sample_content(SIZE)[:2])
    style_batch = tf.constant(np.stack([s[:SIZE, :SIZE] for s in styles]) / 255.0, tf.float32)
    step = tf.function(gan.train_step)  # traced once: 30 eager steps cost more than the exports
    for _ in range(30):
        step((content, style_batch, tf.constant([0, 1])))
    return gan.generator


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    out = tmp_path_factory.mktemp("tflite")
    return {r.mode: r for r in export_tflite(trained, out, MODES, name="tiny", size=SIZE)}


def test_every_mode_has_a_promise() -> None:
    assert set(MODES) == set(README_PARITY_DB)


@pytest.mark.parametrize("mode", sorted(README_PARITY_DB))
def test_each_mode_keeps_its_parity_threshold(trained, exported, mode) -> None:
    r = exported[mode]
    assert r.path.name == f"tiny_{mode}.tflite" and r.path.stat().st_size == r.bytes
    assert r.psnr >= README_PARITY_DB[mode], f"{mode}: export reported {r.psnr:.1f} dB"
    # Measured here too, on the sample photos under single styles and blends (the export checks
    # single styles only): one MSE over all outputs, so one bad image is not averaged away.
    stylizer = TFLiteStylizer(r.path)
    images = sample_content(SIZE)
    got, want = [], []
    for weights in ([1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.2, 0.8]):
        w = np.array(weights, np.float32)
        got += [stylizer(image, w) for image in images]
        want += list(trained((images, np.tile(w, (len(images), 1))), training=False).numpy())
    mse = float(np.mean((np.stack(got).astype(np.float64) - np.stack(want)) ** 2))
    measured = 10 * np.log10(1.0 / max(mse, 1e-20))
    assert measured >= README_PARITY_DB[mode], f"{mode}: {measured:.1f} dB"


def test_no_temporary_files_left(exported) -> None:
    folder = next(iter(exported.values())).path.parent
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"tiny_{m}.tflite" for m in MODES)


def test_other_sizes_through_resize_and_fusion_in_one_file(trained, exported) -> None:
    stylizer = TFLiteStylizer(exported["fp32"].path, num_threads=2)
    photo = texture("photo", 72, seed=5).astype(np.float32) / 255
    for h, w in ((72, 40), (33, 57), (72, 40)):  # odd sizes, and back to a size seen before
        image = photo[:h, :w]
        for weights in ([1.0, 0.0], [0.0, 3.0], [0.5, 0.5]):
            got = stylizer(image, np.array(weights, np.float32))
            expected = trained((image[None], np.array([weights], np.float32)), training=False)[0]
            assert got.shape == (h, w, 3)
            np.testing.assert_allclose(got, expected.numpy(), atol=2e-3)
    one, other = (stylizer(photo, np.array(w, np.float32)) for w in ([1.0, 0.0], [0.0, 1.0]))
    assert np.abs(one - other).mean() > 1e-3  # the weights input really selects the style


@pytest.mark.parametrize("mode", INTEGER_MODES)
def test_integer_files_hold_on_images_they_were_not_calibrated_on(trained, exported, mode) -> None:
    other = sample_content(64)  # not the calibration size
    value = parity_psnr(exported[mode].path, trained, other)
    assert value >= README_PARITY_DB[mode], f"{value:.1f} dB"


@pytest.mark.parametrize("mode", INTEGER_MODES)
def test_integer_files_hold_on_a_large_image(trained, mode) -> None:
    # Integer instance-norm statistics over large maps (the 16x8 file once fell to 15 dB at
    # 1024² on the default generator); calibrated for the size, as `export --size` does.
    model = convert(trained, mode, calibration_images(144))
    value = parity_psnr(model, trained, sample_content(288)[:1], mixes=1)
    assert value >= README_PARITY_DB[mode], f"{value:.1f} dB"


def test_int8_file_computes_with_integers_only(exported) -> None:
    check = check_integer_only(exported["int8"].path)
    assert check.integer_only, check.summary()
    assert check.ops["CONV_2D"] > 0 and check.ops["DEPTHWISE_CONV_2D"] > 0 and check.ops["RSQRT"] > 0
    assert exported["int8"].integer_check == check.summary()
    # the check sees float ops where they are: every op of the fp32 file
    fp32 = check_integer_only(exported["fp32"].path)
    assert not fp32.integer_only and any(op.startswith("CONV_2D (FLOAT32") for op in fp32.float_ops)
    assert "compute in float" in exported["int16x8"].integer_check


def test_balanced_copy_is_the_same_function_with_unit_channels(trained) -> None:
    samples = [(image, np.array(w, np.float32)) for image in sample_content(SIZE) for w in ([1, 0], [0, 1])]
    before = [w.copy() for w in trained.get_weights()]
    balanced = balanced_for_integer(trained, samples)
    # every norm that follows a conv (the colour norm, on the photo itself, has none)
    after_conv = [i for i, n in enumerate(balanced._norm_layers())
                  if any(n is b.norm for b in conv_norm_blocks(balanced))]
    assert len(after_conv) >= balanced.num_norm_layers - 1
    stats, orig = norm_input_statistics(balanced, samples), norm_input_statistics(trained, samples)
    for (mean, var), (orig_mean, orig_var) in ((stats[i], orig[i]) for i in after_conv):
        np.testing.assert_allclose(mean, 0.0, atol=1e-3)
        np.testing.assert_allclose(var, 1.0, rtol=1e-3)
        assert np.abs(orig_var - 1.0).max() > 0.05 or np.abs(orig_mean).max() > 0.05
    other = sample_content(64)
    for w in ([1.0, 0.0], [0.3, 0.7]):
        weights = np.tile(np.array([w], np.float32), (len(other), 1))
        np.testing.assert_allclose(balanced((other, weights)).numpy(), trained((other, weights)).numpy(),
                                   atol=1e-4)
    assert all(np.array_equal(a, b) for a, b in zip(before, trained.get_weights()))  # a copy was edited


def test_int8_with_uint8_io_takes_pixels(trained, exported, tmp_path) -> None:
    from PIL import Image

    model = convert(trained, "int8", calibration_images(SIZE), io="uint8")
    stylizer = TFLiteStylizer(model)
    images = stylizer._images
    assert images["dtype"] == np.uint8 and images["quantization"] == pytest.approx((1 / 255, 0))
    assert stylizer._output["dtype"] == np.uint8
    float_io = TFLiteStylizer(exported["int8"].path)
    for image in sample_content(SIZE):
        pixels = np.round(image * 255) / 255
        np.testing.assert_allclose(stylizer(pixels, np.array([0.5, 0.5])), float_io(pixels, np.array([0.5, 0.5])),
                                   atol=1.5 / 255)
    with pytest.raises(ConfigError, match="uint8 input and output need the int8 mode"):
        convert(trained, "fp32", io="uint8")
    # the LiteRT example app runs the uint8 file too
    (tmp_path / "m.tflite").write_bytes(model)
    photo = texture("photo", 64, seed=4)
    Image.fromarray(photo).save(tmp_path / "photo.png")
    proc = run_example(tmp_path / "m.tflite", tmp_path / "photo.png", tmp_path / "out.png", "--weights", "1,1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = np.asarray(Image.open(tmp_path / "out.png"), np.float32) / 255
    np.testing.assert_allclose(got, float_io(photo / 255.0, np.array([0.5, 0.5])), atol=2.5 / 255)


def test_int8_mse_ranges_are_applied_and_lose_nothing(trained, exported) -> None:
    """The gain is the style pack's (about 2 dB, bench_export.py; an earlier pack 31.4–33.7
    against 29.2–31.5 dB on 4 photos); this tiny model's features have light tails (34.3 against
    34.1 dB without the colour transform, 32.65 against 32.80 with it), so here: different
    ranges, no more than a rounding's loss, still integer only."""
    calibration, images = calibration_images(SIZE), sample_content(SIZE)
    tight = exported["int8"].path.read_bytes()  # the export's int8 file: default (mse) ranges
    full = convert(trained, "int8", calibration, ranges="minmax")
    assert tight != full and check_integer_only(tight).integer_only
    mse, minmax = (parity_psnr(m, trained, images, mixes=3) for m in (tight, full))
    assert mse >= minmax - 0.3, (mse, minmax)
    with pytest.raises(ConfigError, match="ranges 'p99'"):
        convert(trained, "int8", calibration, ranges="p99")


@pytest.mark.parametrize("mode", INTEGER_MODES)
def test_integer_files_survive_flat_images(exported, mode) -> None:
    # A flat image makes every channel's variance 0: without the per-norm variance floors the
    # integer RSQRT fails ("only defined for positive values"). (How close a flat image comes to
    # the Keras output varies with the model: up to 0.4 max abs seen; natural images hold the
    # parity threshold.)
    stylizer = TFLiteStylizer(exported[mode].path)
    for value in (0.0, 1.0, 0.4):
        got = stylizer(np.full((40, 48, 3), value, np.float32), np.array([0.5, 0.5]))
        assert np.isfinite(got).all() and got.min() >= 0 and got.max() <= 1


def test_runner_rejects_bad_weights_and_files(exported, tmp_path) -> None:
    stylizer = TFLiteStylizer(exported["dynamic"].path)
    image = np.zeros((40, 40, 3), np.float32)
    for bad in ([1.0, -1.0], [0.0, 0.0], [1.0, 0.0, 0.0], [np.nan, 1.0]):
        with pytest.raises(StyleWeightsError):
            stylizer(image, np.array(bad, np.float32))
    for bad_image in (np.zeros(40, np.float32), np.zeros((40, 40), np.float32), np.zeros((40, 40, 4)),
                      np.zeros((8, 40, 3))):
        with pytest.raises(ImageError, match="expected"):
            stylizer(bad_image, np.array([1.0, 0.0], np.float32))
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a flatbuffer")
    with pytest.raises(ModelFileError, match="junk.tflite"):
        TFLiteStylizer(junk)
    with pytest.raises(ModelFileError, match="no such"):
        TFLiteStylizer(tmp_path / "missing.tflite")


def test_falls_back_to_tf_lite_interpreter_without_litert(trained, exported, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)  # import fails
    stylizer = TFLiteStylizer(exported["fp32"].path)
    assert type(stylizer.interpreter).__module__.startswith("tensorflow")
    image = sample_content(SIZE)[0]
    expected = trained((image[None], np.array([[0.3, 0.7]], np.float32)), training=False)[0]
    np.testing.assert_allclose(stylizer(image, np.array([0.3, 0.7])), expected.numpy(), atol=2e-3)


def run_example(model: Path, photo: Path, out: Path, *args: str) -> subprocess.CompletedProcess:
    """tflite/example.py as an app runs it, where neither TensorFlow nor tf_stylefusion exists."""
    blocked = ("import runpy, sys\n"
               "sys.modules['tensorflow'] = sys.modules['tf_stylefusion'] = None\n"
               "sys.argv = sys.argv[1:]\n"
               "runpy.run_path(sys.argv[0], run_name='__main__')\n")
    return subprocess.run([sys.executable, "-c", blocked, str(ROOT / "tflite" / "example.py"),
                           str(model), str(photo), str(out), *args],
                          capture_output=True, text=True, timeout=300, cwd=out.parent)


def test_litert_example_runs_on_an_exported_file_without_tensorflow(trained, exported, tmp_path) -> None:
    from PIL import Image

    photo = texture("photo", 72, seed=3)[:, :56]
    Image.fromarray(photo).save(tmp_path / "photo.png")
    out = tmp_path / "out.png"

    def example(*args: str) -> subprocess.CompletedProcess:
        return run_example(exported["fp32"].path, tmp_path / "photo.png", out, *args)

    proc = example("--weights", "1,3")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"wrote {out}" in proc.stdout
    got = np.asarray(Image.open(out), np.int32)
    expected = trained((photo[None] / 255.0, np.array([[0.25, 0.75]], np.float32)), training=False)[0].numpy()
    assert got.shape == (72, 56, 3)
    assert np.abs(got - np.round(expected * 255)).max() <= 2
    proc = example("--weights", "1,0,0")
    assert proc.returncode != 0 and "give 2 non-negative weights, not all zero" in proc.stderr


def test_parse_modes() -> None:
    assert parse_modes("int8, fp32,int8") == ["int8", "fp32"]
    with pytest.raises(ConfigError, match="fp32, fp16, dynamic, int8, int16x8"):
        parse_modes("fp32,int4")


def test_cli_export_writes_both_and_prints_the_table(trained, tmp_path, capsys) -> None:
    model = tmp_path / "mymodel.keras"
    trained.save(model)
    code = main(["export", str(model), "--saved-model", str(tmp_path / "serving" / "1"),
                 "--tflite", str(tmp_path / "lite"), "--quantize", "fp32,int8", "--tflite-io", "uint8",
                 "--size", "40"])
    out = capsys.readouterr().out
    assert code == 0
    assert (tmp_path / "serving" / "1" / "saved_model.pb").is_file()
    assert sorted(p.name for p in (tmp_path / "lite").iterdir()) == [
        "mymodel_fp32.tflite", "mymodel_int8.tflite"]
    assert "PSNR vs Keras" in out and "int8" in out and "below" not in out
    assert "int8: integer only" in out and "TFLite model analyzer" in out
    assert TFLiteStylizer(tmp_path / "lite" / "mymodel_int8.tflite")._images["dtype"] == np.uint8
    # no style encoder beside this model: the SavedModel has no encoder signatures
    assert "with the style encoder" not in out
    signatures = signature_names(tmp_path / "serving" / "1")
    assert "serving_default" in signatures and not {"encode_style", "stylize_fused"} & signatures


def test_cli_export_errors_are_one_line(tmp_path, capsys) -> None:
    assert main(["export", str(tmp_path / "none.keras"), "--tflite", str(tmp_path)]) == 2
    assert "no such model file" in capsys.readouterr().err
    assert main(["export", str(tmp_path)]) == 2
    assert "--saved-model DIR and/or --tflite DIR" in capsys.readouterr().err


@pytest.mark.parametrize("padding", [1, 2, 3])
def test_tflite_friendly_layers_match_the_reference_ops(padding) -> None:
    import keras

    from tf_stylefusion.models.layers import ReflectionPad2D, upsample_nearest_2x

    x = tf.random.normal([2, 7, 9, 5], seed=padding)
    p = padding
    np.testing.assert_array_equal(ReflectionPad2D(p)(x).numpy(),
                                  tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT").numpy())
    np.testing.assert_array_equal(upsample_nearest_2x(x).numpy(),
                                  keras.layers.UpSampling2D(2, interpolation="nearest")(x).numpy())

"""SavedModel export, checked the way a server would: a TensorFlow-only process, saved_model_cli,
and the exact JSON body of the REST client."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tf_stylefusion.data.images import encode_image, load_image, to_uint8
from tf_stylefusion.deploy.saved_model import (
    BYTES_SIGNATURE,
    NAMES_SIGNATURE,
    REGIONS_SIGNATURE,
    SERVING_SIGNATURE,
    STYLE_NAMES_FILE,
    export_saved_model,
)
from tf_stylefusion.errors import ConfigError
from tf_stylefusion.evaluation.metrics import psnr
from tf_stylefusion.models.generator import StyleFusionGenerator

from ..conftest import texture
from ..helpers import distinct_styles_generator, missing_dependency, signature_names

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["wave", "scream", "udnie"]


def psnr_uint8(a: np.ndarray, b: np.ndarray) -> float:
    return psnr(a / 255.0, b / 255.0)


@pytest.fixture(scope="module")
def generator() -> StyleFusionGenerator:
    return distinct_styles_generator(NAMES, seed=3, bank_seed=1)


@pytest.fixture(scope="module")
def saved_model(generator, tmp_path_factory) -> Path:
    return export_saved_model(generator, tmp_path_factory.mktemp("serving") / "stylefusion" / "1")


def keras_uint8(generator: StyleFusionGenerator, images: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return to_uint8(generator((images.astype(np.float32) / 255.0, weights), training=False).numpy())


def test_fresh_tensorflow_only_process_reproduces_keras_output(generator, saved_model, tmp_path) -> None:
    images = np.stack([texture("photo", 44, seed=1)[:, :40], texture("noise", 44, seed=2)[:, :40]])
    weights = np.array([[1, 0, 0], [0.2, 0.0, 0.6]], np.float32)
    np.save(tmp_path / "images.npy", images)
    np.save(tmp_path / "weights.npy", weights)
    # The child imports only TensorFlow: a server has no tf_stylefusion (checked, not assumed).
    script = f"""
import sys, numpy as np, tensorflow as tf
m = tf.saved_model.load({str(saved_model)!r})
out = m.signatures["serving_default"](images=tf.constant(np.load({str(tmp_path / 'images.npy')!r})),
                                      style_weights=tf.constant(np.load({str(tmp_path / 'weights.npy')!r})))
np.save({str(tmp_path / 'out.npy')!r}, out["stylized"].numpy())
names = m.signatures["style_names"]()["style_names"].numpy()
print(",".join(n.decode() for n in names))
assert not any(k.startswith("tf_stylefusion") for k in sys.modules), "tf_stylefusion was imported"
"""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ""}
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == ",".join(NAMES)
    out = np.load(tmp_path / "out.npy")
    assert out.dtype == np.uint8 and out.shape == images.shape
    expected = keras_uint8(generator, images, weights)
    assert np.abs(out.astype(int) - expected.astype(int)).max() <= 1
    # The weights are used: another mix gives another image.
    assert not np.array_equal(expected[0], keras_uint8(generator, images[:1], weights[1:])[0])


def test_saved_model_cli_lists_the_signatures(saved_model) -> None:
    cli = Path(sys.executable).with_name("saved_model_cli")
    if not cli.exists():
        missing_dependency("saved_model_cli is not installed beside this Python (it comes with TensorFlow)")
    proc = subprocess.run([str(cli), "show", "--dir", str(saved_model), "--all"],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = proc.stdout
    for name in (SERVING_SIGNATURE, BYTES_SIGNATURE, REGIONS_SIGNATURE, NAMES_SIGNATURE):
        assert f"signature_def['{name}']" in text
    for tensor in ("inputs['images'] tensor_info", "dtype: DT_UINT8", "outputs['stylized'] tensor_info",
                   "inputs['image_bytes'] tensor_info", "outputs['stylized_bytes'] tensor_info",
                   "outputs['style_names'] tensor_info"):
        assert tensor in text


def test_style_names_asset_and_any_size(saved_model) -> None:
    assert (saved_model / STYLE_NAMES_FILE).read_text().split() == NAMES
    m = tf.saved_model.load(str(saved_model))
    out = m.signatures[SERVING_SIGNATURE](images=tf.zeros([1, 37, 53, 3], tf.uint8),
                                          style_weights=tf.constant([[0.0, 2.0, 0.0]]))
    assert out["stylized"].shape == (1, 37, 53, 3)


@pytest.mark.parametrize("weights, message", [
    ([[1.0, -0.5, 0.0]], "non-negative"),
    ([[np.nan, 1.0, 0.0]], "NaN or infinite"),
    ([[np.inf, 1.0, 0.0]], "NaN or infinite"),
    ([[0.0, 0.0, 0.0]], "all weights are zero"),
    ([[1.0, 0.0]], "wrong length; give 3 weights"),
    ([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], "one row of weights per image"),
])
def test_bad_weights_are_rejected_inside_the_graph(saved_model, weights, message) -> None:
    m = tf.saved_model.load(str(saved_model))
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        m.signatures[SERVING_SIGNATURE](images=tf.zeros([1, 32, 32, 3], tf.uint8),
                                        style_weights=tf.constant(weights, tf.float32))


def test_too_small_image_is_rejected(saved_model) -> None:
    m = tf.saved_model.load(str(saved_model))
    with pytest.raises(tf.errors.InvalidArgumentError, match="at least 32 pixels"):
        m.signatures[SERVING_SIGNATURE](images=tf.zeros([1, 16, 40, 3], tf.uint8),
                                        style_weights=tf.constant([[1.0, 0.0, 0.0]]))


@pytest.mark.parametrize("images, weights, message", [
    (tf.zeros([1, 32, 32, 3], tf.float32), tf.constant([[1.0, 0, 0]]), "expected to be a uint8 tensor"),
    (tf.zeros([1, 32, 32, 3], tf.uint8), tf.constant([[1, 0, 0]]), "expected to be a float tensor"),
    (tf.zeros([1, 32, 32, 4], tf.uint8), tf.constant([[1.0, 0, 0]]), "expected 3 channels"),
])
def test_wrong_dtype_or_channels_are_rejected(saved_model, images, weights, message) -> None:
    m = tf.saved_model.load(str(saved_model))
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        m.signatures[SERVING_SIGNATURE](images=images, style_weights=weights)


def test_regions_signature_takes_a_mix_per_pixel(generator, saved_model) -> None:
    m = tf.saved_model.load(str(saved_model))
    images = np.stack([texture("photo", 40, seed=9)[:, :36]] * 2)
    weights = np.zeros((2, 40, 36, 3), np.float32)
    weights[:, :20, :, 0] = 1.0  # top half wave, bottom half udnie
    weights[:, 20:, :, 2] = 2.0  # unnormalised on purpose: the graph normalises per pixel
    got = m.signatures[REGIONS_SIGNATURE](images=tf.constant(images),
                                           style_weights=tf.constant(weights))["stylized"].numpy()
    expected = keras_uint8(generator, images, weights / weights.sum(-1, keepdims=True))
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1
    whole = m.signatures[SERVING_SIGNATURE](images=tf.constant(images),
                                            style_weights=tf.constant([[1.0, 0, 0]] * 2))["stylized"].numpy()
    assert not np.array_equal(got, whole)  # the bottom region really took another style


@pytest.mark.parametrize("shape, fill, message", [
    ((1, 40, 30, 3), 1.0, "as high and wide as the image"),
    ((1, 40, 36, 3), -1.0, "non-negative"),
    ((1, 40, 36, 3), 0.0, "all weights are zero at some pixel"),
])
def test_bad_region_weights_are_rejected(saved_model, shape, fill, message) -> None:
    m = tf.saved_model.load(str(saved_model))
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        m.signatures[REGIONS_SIGNATURE](images=tf.zeros([1, 40, 36, 3], tf.uint8),
                                        style_weights=tf.fill(shape, fill))


def load_rest_client():
    spec = importlib.util.spec_from_file_location("rest_client", ROOT / "export" / "rest_client.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tf_serving_predict(signature, body: str) -> str:
    """What TF Serving's REST API does with a row-format ("instances") request: JSON → named
    tensors ({"b64": ...} → bytes), run the signature, tensors → JSON ("*_bytes" outputs as b64)."""
    instances = json.loads(body)["instances"]
    decode = lambda v: base64.b64decode(v["b64"]) if isinstance(v, dict) else v  # noqa: E731
    inputs = {name: tf.constant([decode(row[name]) for row in instances])
              for name in instances[0]}
    inputs["style_weights"] = tf.cast(inputs["style_weights"], tf.float32)
    outputs = signature(**inputs)
    predictions = []
    for i in range(len(instances)):
        row = {}
        for name, tensor in outputs.items():
            value = tensor[i].numpy()
            row[name] = ({"b64": base64.b64encode(value).decode()} if name.endswith("_bytes")
                         else value.tolist())
        predictions.append(row[next(iter(row))] if len(row) == 1 else row)
    return json.dumps({"predictions": predictions})


def test_rest_client_json_body_is_accepted_and_gives_the_image(generator, saved_model) -> None:
    client = load_rest_client()
    photo = texture("photo", 48, seed=4)
    files = [encode_image(photo, "PNG"), encode_image(texture("checker", 40), "PNG")]
    body = client.build_request(files, {"wave": 0.25, "udnie": 0.75}, NAMES)
    request = json.loads(body)
    assert request["signature_name"] == BYTES_SIGNATURE
    assert set(request["instances"][0]) == {"image_bytes", "style_weights"}
    m = tf.saved_model.load(str(saved_model))
    response = tf_serving_predict(m.signatures[BYTES_SIGNATURE], body)
    images = client.parse_response(response)
    assert [im.shape for im in images] == [(48, 48, 3), (40, 40, 3)]
    expected = keras_uint8(generator, photo[None], np.array([[0.25, 0.0, 0.75]], np.float32))[0]
    assert psnr_uint8(images[0], expected) >= 45


def test_rest_client_rejects_unknown_style() -> None:
    client = load_rest_client()
    with pytest.raises(ValueError, match="unknown style 'monet'"):
        client.build_request([b"x"], {"monet": 1.0}, NAMES)


def test_export_is_atomic_and_replaces_old_version(generator, tmp_path, monkeypatch) -> None:
    target = tmp_path / "models" / "m" / "1"
    export_saved_model(generator, target)
    (target / "marker").write_text("old")
    import tf_stylefusion.deploy.saved_model as export_module

    class Boom(RuntimeError):
        pass

    class HalfWritingArchive:
        def write_out(self, path, **kwargs):
            Path(path, "saved_model.pb").write_bytes(b"half")
            raise Boom("disk full")

    monkeypatch.setattr(export_module, "build_export_archive", lambda g, e=None: HalfWritingArchive())
    with pytest.raises(Boom):
        export_saved_model(generator, target)
    # The old export is intact and no temporary folder is left behind.
    assert (target / "marker").read_text() == "old"
    assert sorted(p.name for p in target.parent.iterdir()) == ["1"]
    monkeypatch.undo()
    export_saved_model(generator, target)
    assert not (target / "marker").exists() and (target / "saved_model.pb").is_file()


def test_export_rejects_a_non_generator(tmp_path) -> None:
    with pytest.raises(ConfigError, match="StyleFusionGenerator"):
        export_saved_model(object(), tmp_path / "x")  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def encoder(generator):
    from tf_stylefusion.config import VGG_STYLE_LAYERS
    from tf_stylefusion.models.loss_networks import vgg_features
    from tf_stylefusion.models.style_encoder import StyleEncoder, statistics_dim

    vgg = vgg_features("random", tuple(VGG_STYLE_LAYERS) + ("block4_conv2",), 1234)
    enc = StyleEncoder(generator.param_dim, statistics_dim(vgg, len(VGG_STYLE_LAYERS)),
                       style_size=64, content_size=48)
    # An untrained encoder predicts one row for everything: make its rows depend on the image.
    enc.to_row.kernel.assign(tf.random.normal(enc.to_row.kernel.shape, stddev=0.05, seed=2))
    enc.set_base_row(generator.bank.table[1].numpy())
    return enc


@pytest.fixture(scope="module")
def fused_export(generator, encoder, tmp_path_factory) -> tuple[Path, str]:
    """The SavedModel `stylefusion export RUN --saved-model DIR` makes of a run folder holding a
    style encoder, and what the command printed."""
    import contextlib
    import io

    from tf_stylefusion.cli import main
    from tf_stylefusion.model_io import ENCODER_FILE, GENERATOR_FILE

    run = tmp_path_factory.mktemp("fused") / "run"
    run.mkdir()
    generator.save(run / GENERATOR_FILE)
    encoder.save(run / ENCODER_FILE)
    target = run.parent / "m" / "1"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["export", str(run), "--saved-model", str(target)]) == 0
    return target, printed.getvalue()


@pytest.fixture(scope="module")
def fused_model(fused_export):
    return tf.saved_model.load(str(fused_export[0]))


def test_cli_export_adds_the_encoder_signatures_when_the_run_has_an_encoder(fused_export,
                                                                           saved_model) -> None:
    from tf_stylefusion.deploy.saved_model import ENCODE_SIGNATURE, FUSED_SIGNATURE

    path, printed = fused_export
    assert "with the style encoder" in printed
    assert {SERVING_SIGNATURE, REGIONS_SIGNATURE, ENCODE_SIGNATURE, FUSED_SIGNATURE} <= signature_names(path)
    # a model without an encoder has neither (through the CLI too:
    # test_cli_export_writes_both_and_prints_the_table)
    plain = signature_names(saved_model)
    assert SERVING_SIGNATURE in plain and not {ENCODE_SIGNATURE, FUSED_SIGNATURE} & plain


def test_encoder_signatures_match_the_python_fusion_controls(generator, encoder, fused_model) -> None:
    from tf_stylefusion.deploy.saved_model import ENCODE_SIGNATURE, FUSED_SIGNATURE
    from tf_stylefusion.inference.fusion import StylizeOptions, encode_style_images, stylize_fused

    style = texture("checker", 80)[:, :72]
    rows = fused_model.signatures[ENCODE_SIGNATURE](style_images=tf.constant(style[None]))["style_rows"]
    np.testing.assert_allclose(rows.numpy(), encode_style_images(encoder, [style / 255.0]), atol=1e-4)

    image = texture("photo", 48, seed=4)[:, :40]
    fused = fused_model.signatures[FUSED_SIGNATURE]
    no_rows = tf.zeros([1, 0, generator.param_dim])

    def run(weights, strength, style_rows=no_rows, keep_colors=0.0):
        return fused(images=tf.constant(image[None]), style_weights=tf.constant([weights], tf.float32),
                     style_rows=style_rows, strength=tf.constant([strength]),
                     preserve_color=tf.constant([keep_colors]))["stylized"].numpy()[0]

    plain = to_uint8(generator((image[None] / 255.0, np.array([[0, 1.0, 0]], np.float32))).numpy()[0])
    assert np.abs(run([0, 1.0, 0], 1.0).astype(int) - plain.astype(int)).max() <= 1
    assert np.abs(run([0, 1.0, 0], 0.0).astype(int) - image.astype(int)).max() <= 1  # the content
    half = run([0.5, 0, 0, 0.5], 0.5, rows[:, None, :])
    expected = to_uint8(stylize_fused(generator, image / 255.0, np.array([0.5, 0, 0, 0.5], np.float32),
                                      StylizeOptions(strength=0.5, style_rows=rows.numpy(), encoder=encoder)))
    assert psnr_uint8(half, expected) >= 40
    kept = run([0, 1.0, 0], 1.0, keep_colors=1.0)
    expected = to_uint8(stylize_fused(generator, image / 255.0, np.array([0, 1.0, 0], np.float32),
                                      StylizeOptions(preserve_color="luminance")))
    assert psnr_uint8(kept, expected) >= 40
    with pytest.raises(tf.errors.InvalidArgumentError, match="strength: must lie in"):
        run([0, 1.0, 0], 1.5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="then one per style row"):
        run([0, 1.0, 0, 1.0], 1.0)  # four weights but no style rows


def test_bytes_signature_turns_a_phone_photo_upright(generator, saved_model, tmp_path) -> None:
    # A portrait phone photo: landscape pixels and EXIF orientation 6 (rotate 90° clockwise).
    pixels = texture("photo", 64, seed=2)[:40]
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "phone.jpg"
    Image.fromarray(pixels).save(path, quality=95, exif=exif.tobytes())
    upright = load_image(path)  # the Python loader applies the tag
    assert upright.shape == (64, 40, 3)
    m = tf.saved_model.load(str(saved_model))
    out = m.signatures[BYTES_SIGNATURE](image_bytes=tf.constant([path.read_bytes()]),
                                        style_weights=tf.constant([[1.0, 0.0, 0.0]]))["stylized_bytes"]
    served = tf.io.decode_png(out[0]).numpy()
    expected = keras_uint8(generator, to_uint8(upright)[None], np.array([[1.0, 0.0, 0.0]], np.float32))[0]
    assert served.shape == expected.shape
    assert psnr_uint8(served, expected) >= 35


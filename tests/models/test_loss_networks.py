"""Loss networks: the preprocessing each set of weights expects, and the offline random ones."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_stylefusion.config import MULTISCALE_LAYERS, LossConfig
from tf_stylefusion.errors import WeightsUnavailableError
from tf_stylefusion.models.loss_networks import (
    InceptionFeatures,
    MultiscaleRandomFeatures,
    VGGFeatures,
    WideRandomVGG,
    vgg_features,
)


def test_vgg_from_a_weights_file_uses_keras_imagenet_preprocessing(tmp_path) -> None:
    # A weights file of the ImageNet layout (made here: random values, the real layout) loads,
    # and is fed Caffe-style input exactly as keras.applications.vgg19.preprocess_input makes it.
    path = tmp_path / "vgg19_notop.weights.h5"
    reference = keras.applications.VGG19(weights=None, include_top=False, input_shape=(None, None, 3))
    reference.save_weights(path)
    net = VGGFeatures(str(path), layers=("block1_conv1", "block2_conv1"))
    images = np.random.default_rng(0).random((2, 40, 40, 3)).astype(np.float32)
    expected = keras.applications.vgg19.preprocess_input(images * 255.0)
    np.testing.assert_allclose(net.preprocess(images).numpy(), expected, atol=1e-3)
    # and the weights are the file's, not a fresh init
    got = net(images)[0].numpy()
    want = keras.Model(reference.input, reference.get_layer("block1_conv1").output)(expected).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)
    with pytest.raises(WeightsUnavailableError, match="does not exist"):
        VGGFeatures(str(tmp_path / "missing.h5"))


def test_inception_from_a_weights_file_uses_keras_inception_preprocessing(tmp_path) -> None:
    # The same for InceptionV3 (FID/KID and the feature loss): a weights file of the ImageNet
    # layout made here loads, and the network is fed [-1, 1] input exactly as
    # keras.applications.inception_v3.preprocess_input makes it.
    path = tmp_path / "inception_v3_notop.weights.h5"
    reference = keras.applications.InceptionV3(weights=None, include_top=False, pooling="avg",
                                               input_shape=(None, None, 3))
    reference.save_weights(path)
    net = InceptionFeatures(str(path))
    images = np.random.default_rng(1).random((2, 75, 75, 3)).astype(np.float32)
    expected = keras.applications.inception_v3.preprocess_input(images * 255.0)
    np.testing.assert_allclose(InceptionFeatures.preprocess(images).numpy(), expected, atol=1e-5)
    # and the weights are the file's: the features are the reference network's on that input
    got = net(images, size=75).numpy()  # at the network's own minimum size: no resizing
    want = reference(expected).numpy()
    assert got.shape == (2, 2048)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    with pytest.raises(WeightsUnavailableError, match="does not exist"):
        InceptionFeatures(str(tmp_path / "missing.h5"))


def test_multiscale_random_network_levels_and_seeds() -> None:
    layers = MULTISCALE_LAYERS + ("scale1",)
    net = MultiscaleRandomFeatures(layers, seed=3)
    x = tf.random.stateless_uniform([2, 64, 48, 3], seed=[0, 1])
    feats = net(x)
    assert [tuple(f.shape[1:3]) for f in feats] == [(64, 48), (32, 24), (16, 12), (8, 6), (4, 3), (32, 24)]
    assert all(f.shape[-1] == 192 and float(tf.reduce_min(f)) >= 0 for f in feats)
    np.testing.assert_array_equal(feats[1].numpy(), feats[-1].numpy())
    same = MultiscaleRandomFeatures(layers, seed=3)(x)
    other = MultiscaleRandomFeatures(layers, seed=4)(x)
    np.testing.assert_array_equal(feats[0].numpy(), same[0].numpy())
    assert np.abs(feats[0].numpy() - other[0].numpy()).mean() > 1e-3
    # coarse levels see coarse structure: a 1-px checkerboard vanishes from scale 1 on
    y, xx = np.mgrid[0:64, 0:64]
    checker = np.repeat(((y + xx) % 2).astype(np.float32)[None, ..., None], 3, -1)
    grey = np.full_like(checker, 0.5)
    f_checker, f_grey = net(checker), net(grey)
    assert np.abs(f_checker[0] - f_grey[0]).mean() > 0.1
    np.testing.assert_allclose(f_checker[1].numpy()[:, 2:-2, 2:-2], f_grey[1].numpy()[:, 2:-2, 2:-2], atol=1e-5)
    with pytest.raises(ValueError, match="no layers"):
        MultiscaleRandomFeatures(("block1_conv1",))


def test_the_multiscale_recipe_is_selected_by_its_name() -> None:
    lc = LossConfig(loss_network="random-multiscale")
    assert lc.style_layers == MULTISCALE_LAYERS and lc.content_layer.startswith("scale")
    net = vgg_features(lc.loss_network, lc.style_layers + (lc.content_layer,), lc.seed)
    assert isinstance(net, MultiscaleRandomFeatures)
    assert vgg_features(lc.loss_network, lc.style_layers + (lc.content_layer,), lc.seed) is net


@pytest.mark.parametrize("kind,equivariant", [("random", True), ("random-symmetric", True),
                                             ("random-plain", False)])
def test_the_symmetric_random_network_favours_no_orientation(kind: str, equivariant: bool) -> None:
    layers = ("block1_conv1", "block2_conv1", "block3_conv1")
    net = VGGFeatures(kind, layers, seed=1234)
    x = tf.random.uniform([1, 40, 40, 3], seed=3)
    transposed = net(tf.transpose(x, [0, 2, 1, 3]))
    for features, of_transposed in zip(net(x), transposed):
        # The transposed image's features are the features transposed, their halves swapped.
        h = features.shape[-1] // 2
        swapped = tf.transpose(tf.concat([of_transposed[..., h:], of_transposed[..., :h]], -1), [0, 2, 1, 3])
        error = float(tf.reduce_max(tf.abs(swapped - features)) / tf.reduce_max(tf.abs(features)))
        assert (error < 1e-4) == equivariant, error


def test_every_random_vgg_takes_the_offline_recipe() -> None:
    from tf_stylefusion.config import RunConfig

    cfg = RunConfig(losses=LossConfig(loss_network="random"))
    for other in ("random-plain", "random-wide"):
        run = RunConfig(losses=LossConfig(loss_network=other))
        assert run.losses.style_layers == cfg.losses.style_layers
        assert run.losses.content_weight == cfg.losses.content_weight and run.data.teacher == cfg.data.teacher
        assert run.losses.layout_weight == cfg.losses.layout_weight and run.losses.tv_of == "residual"
        assert run.generator.color_norm and run.generator.color_mix
    assert cfg.generator.color_norm and cfg.generator.color_mix
    assert vgg_features("random", ("block1_conv1",)) is vgg_features("random-symmetric", ("block1_conv1",))


def test_random_is_saved_in_full_and_files_saved_as_random_keep_the_plain_network(tmp_path) -> None:
    import json
    import shutil
    from pathlib import Path

    from tf_stylefusion.config import RunConfig
    from tf_stylefusion.errors import ConfigError
    from tf_stylefusion.models.style_encoder import StyleEncoder
    from tf_stylefusion.training.run import _check_resume_compatible

    # New runs and encoders name the symmetric network in full, so a file never holds the alias.
    new = RunConfig(losses=LossConfig(loss_network="random"))
    new.to_json(tmp_path / "new.json")
    assert json.loads((tmp_path / "new.json").read_text())["losses"]["loss_network"] == "random-symmetric"
    assert RunConfig.from_json(tmp_path / "new.json").losses.loss_network == "random-symmetric"
    encoder = StyleEncoder(param_dim=4, feature_dim=8, loss_network="random")
    assert encoder.get_config()["loss_network"] == "random-symmetric"
    assert StyleEncoder.from_config(encoder.get_config()).loss_network == "random-symmetric"

    # A run saved when "random" meant the plain filters keeps them, its recipe unchanged.
    old_run = tmp_path / "old_run"
    shutil.copytree(Path(__file__).parents[1] / "fixtures" / "run_v0_1", old_run)
    saved = json.loads((old_run / "config.json").read_text())
    assert saved["losses"]["loss_network"] == "random"
    old = RunConfig.from_json(old_run / "config.json")
    assert old.losses.loss_network == "random-plain"
    assert old.losses.style_layers == tuple(saved["losses"]["style_layers"])
    assert StyleEncoder.from_config({**encoder.get_config(), "loss_network": "random"}).loss_network == "random-plain"

    # Resuming it with the new meaning of "random" is refused with the way out; with its own network it goes on.
    (old_run / "checkpoints").mkdir(exist_ok=True)
    asked = RunConfig.from_json(old_run / "config.json")
    asked.losses.loss_network = "random-symmetric"
    with pytest.raises(ConfigError, match="--loss-network random-plain"):
        _check_resume_compatible(old_run, asked)
    _check_resume_compatible(old_run, RunConfig.from_json(old_run / "config.json"))


def test_the_wide_network_at_width_one_is_the_random_vgg19() -> None:
    layers = ("block1_conv2", "block2_conv1", "block3_conv2")
    x = tf.random.uniform([1, 36, 44, 3], seed=5)
    for wide, plain in zip(WideRandomVGG(layers, seed=1234, width=1)(x), VGGFeatures("random", layers)(x)):
        np.testing.assert_allclose(wide.numpy(), plain.numpy(), rtol=1e-4, atol=1e-5)


def test_random_wide_has_twice_the_filters_and_favours_no_orientation() -> None:
    layers = ("block1_conv1", "block2_conv1", "block3_conv1")
    net = vgg_features("random-wide", layers)
    assert isinstance(net, WideRandomVGG) and vgg_features("random-wide", layers) is net
    x = tf.random.uniform([1, 40, 40, 3], seed=3)
    features = net(x)
    assert [f.shape[-1] for f in features] == [128, 256, 512]
    transposed = net(tf.transpose(x, [0, 2, 1, 3]))
    for f, of_transposed in zip(features, transposed):
        h = f.shape[-1] // 2
        swapped = tf.transpose(tf.concat([of_transposed[..., h:], of_transposed[..., :h]], -1), [0, 2, 1, 3])
        assert float(tf.reduce_max(tf.abs(swapped - f)) / tf.reduce_max(tf.abs(f))) < 1e-4
    with pytest.raises(ValueError, match="block9_conv1"):
        WideRandomVGG(("block9_conv1",))

"""The student learns from the teacher: cached teacher pictures, the paired terms, the
conditional discriminator's real side, and blends that stay between their styles."""

from __future__ import annotations

import logging
import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_stylefusion.config import DataConfig, RunConfig, SynthesisConfig
from tf_stylefusion.data.images import BadFiles
from tf_stylefusion.data.pipelines import StyleSource
from tf_stylefusion.errors import ConfigError
from tf_stylefusion.models.discriminator import PatchDiscriminator
from tf_stylefusion.training.gan import StyleFusionGAN
from tf_stylefusion.training.run import _check_resume_compatible, _resumed_teacher, build_gan
from tf_stylefusion.training.teacher import MANIFEST_FILE, TEACHER_DIR, paired_crops, teacher_set

from ..conftest import texture, write
from .test_training import SIZE, style_images, tiny_config

# Small and quick: one level, one patch size (the pictures still come from the painting's patches).
QUICK = SynthesisConfig(scales=1, patch_sizes=(8,), iterations=1, robust_steps=1)


def paired_gan(**losses) -> StyleFusionGAN:
    cfg = tiny_config(2, **losses)
    cfg.data.teacher = "synthesis"
    return build_gan(cfg, style_images())


def paired_batch() -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Photos, a 'teacher picture' of each (its own style's colour field over the photo's light),
    and their style ids."""
    content = np.stack([texture("photo", SIZE, seed=i) for i in range(2)]).astype(np.float32) / 255
    light = content.mean(axis=-1, keepdims=True)
    teacher = np.stack([light[0] * [1.0, 0.3, 0.1], (1 - light[1]) * [0.1, 0.5, 1.0]]).astype(np.float32)
    return tf.constant(content), tf.constant(teacher), tf.constant([0, 1], tf.int32)


def teacher_distance(gan: StyleFusionGAN, batch) -> float:
    content, teacher, ids = batch
    out = gan.generator((content, tf.one_hot(ids, 2)), training=False)
    return float(tf.reduce_mean(tf.abs(out - teacher)))


def test_a_student_trained_a_few_steps_gets_closer_to_the_teachers_pictures() -> None:
    # Only the paired terms train (the mutation: the teacher terms returning zeros leaves the
    # generator where it started, and this fails).
    gan = paired_gan(style_weight=0.0, content_weight=0.0, tv_weight=0.0, adversarial_weight=0.0,
                     teacher_weight=10.0, teacher_feature_weight=1.0)
    gan.mix_fraction = 0.0
    batch = paired_batch()
    before = teacher_distance(gan, batch)
    step = tf.function(gan.train_step)
    for _ in range(30):
        logs = step(batch)
    after = teacher_distance(gan, batch)
    assert float(logs["teacher"]) > 0 and float(logs["teacher_feature"]) > 0
    assert after < 0.6 * before, (before, after)


def test_the_teacher_terms_skip_blends_and_runs_without_a_teacher() -> None:
    gan = paired_gan()
    content, teacher, _ = paired_batch()
    weights = tf.constant([[1.0, 0.0], [0.5, 0.5]])
    stylized = gan.generator((content, weights))
    terms = gan.perceptual_terms(content, stylized, weights, teacher, tf.constant([1.0, 0.0]))
    assert float(terms["teacher"][0]) > 0 and float(terms["teacher"][1]) == 0.0
    assert float(terms["teacher_feature"][0]) > 0 and float(terms["teacher_feature"][1]) == 0.0
    plain = gan.perceptual_terms(content, stylized, weights)
    assert float(tf.reduce_max(plain["teacher"])) == 0.0


D_CALLS: list[list[tf.Tensor]] = []


class RecordingDiscriminator(PatchDiscriminator):
    """Keeps the inputs of every call in D_CALLS (eager)."""

    def call(self, inputs, training=None):
        D_CALLS.append([tf.identity(x) for x in inputs])
        return super().call(inputs, training=training)


def test_the_discriminators_real_side_is_the_teachers_picture_of_that_photo_and_style() -> None:
    gan = paired_gan(adversarial_weight=0.1)
    d = RecordingDiscriminator(2, 8, 3, 2, conditional=True)
    D_CALLS.clear()
    gan.discriminator = d
    gan.d_optimizer = keras.optimizers.Adam(1e-4)
    gan.mix_fraction = 0.0
    content, teacher, ids = paired_batch()
    gan.train_step((content, teacher, ids))
    real, fake = D_CALLS[0], D_CALLS[1]
    np.testing.assert_array_equal(real[0].numpy(), teacher.numpy())          # the teacher's picture
    np.testing.assert_array_equal(real[1].numpy(), tf.one_hot(ids, 2).numpy())  # of that style
    np.testing.assert_array_equal(real[2].numpy(), content.numpy())          # of that photo
    np.testing.assert_array_equal(fake[2].numpy(), content.numpy())          # the fake sees it too
    assert not np.allclose(fake[0].numpy(), teacher.numpy())


def test_a_conditional_discriminator_judges_the_picture_with_its_photo() -> None:
    d = PatchDiscriminator(num_styles=1, filters=8, num_layers=2, conditional=True)
    x, w = tf.random.uniform([1, 32, 32, 3], seed=0), tf.ones([1, 1])
    a = d((x, w, tf.zeros([1, 32, 32, 3])))[0]
    b = d((x, w, tf.ones([1, 32, 32, 3])))[0]
    assert not np.allclose(a.numpy(), b.numpy())
    with pytest.raises(ValueError, match="photos"):
        d((x, w))
    gan = build_gan(tiny_config(1), style_images()[:1])
    targets = _targets(gan)
    with pytest.raises(ValueError, match="conditioned on the photo"):
        StyleFusionGAN(gan.generator, gan.discriminator, gan._vgg[0], targets, gan.loss_config, paired=True)


def _targets(gan: StyleFusionGAN):
    from tf_stylefusion.training.gan import StyleTargets

    return StyleTargets.compute(gan._vgg[0], style_images()[:1], len(gan.loss_config.style_layers),
                                statistic=gan.loss_config.style_statistic, seed=gan.loss_config.seed)


def test_blends_of_a_paired_student_lie_between_its_styles() -> None:
    gan = paired_gan(adversarial_weight=0.1)
    step = tf.function(gan.train_step)
    batch = paired_batch()
    for _ in range(10):
        step(batch)
    content = batch[0][:1]
    a, b, mid = (gan.generator((content, tf.constant([w])), training=False).numpy()
                 for w in ([1.0, 0.0], [0.0, 1.0], [0.5, 0.5]))
    ends = np.abs(a - b).mean()
    assert ends > 0.01
    assert np.abs(mid - a).mean() < ends and np.abs(mid - b).mean() < ends


@pytest.fixture
def teacher_inputs(tmp_path: Path) -> tuple[list[Path], list[StyleSource], DataConfig]:
    photos = [write(tmp_path / "content" / f"p{i}.png", texture("photo", 48, seed=i)) for i in range(2)]
    stripes = write(tmp_path / "stripes.png", texture("stripes", 40))
    checker = write(tmp_path / "checker.png", texture("checker", 40))
    sources = [StyleSource("stripes", [stripes]), StyleSource("checker", [checker])]
    return photos, sources, DataConfig(content=str(tmp_path / "content"), image_size=32, teacher="synthesis",
                                       teacher_size=48)


def test_teacher_pictures_are_cached_reused_and_a_damaged_one_is_named_and_rebuilt(
        tmp_path: Path, teacher_inputs, caplog) -> None:
    photos, sources, dc = teacher_inputs
    run = tmp_path / "run"
    first = teacher_set(run, photos, sources, dc, BadFiles(), QUICK)
    assert (first.made, first.reused) == (4, 0)
    assert len(first.pictures) == 2 and first.pictures[0][0].shape == first.photos[0].shape
    # The pictures come from the paintings: stripes' blue-and-red against checker's yellow.
    assert first.pictures[0][0][..., 2].mean() > first.pictures[1][0][..., 2].mean() + 40

    again = teacher_set(run, photos, sources, dc, BadFiles(), QUICK)
    assert (again.made, again.reused) == (0, 4)  # mutation: never reading the cache fails here

    damaged = sorted((run / TEACHER_DIR / "stripes").glob("*.png"))[0]
    damaged.write_bytes(damaged.read_bytes()[:100])
    with caplog.at_level(logging.WARNING):
        rebuilt = teacher_set(run, photos, sources, dc, BadFiles(), QUICK)
    assert (rebuilt.made, rebuilt.reused) == (1, 3)
    assert str(damaged) in caplog.text and "damaged" in caplog.text
    for s in range(2):  # reproducible: the remade picture is the one made first
        for p in range(2):
            np.testing.assert_array_equal(rebuilt.pictures[s][p], first.pictures[s][p])

    (run / TEACHER_DIR / MANIFEST_FILE).write_text("{not json")
    with caplog.at_level(logging.WARNING):
        remade = teacher_set(run, photos, sources, dc, BadFiles(), QUICK)
    assert remade.made == 4 and MANIFEST_FILE in caplog.text

    other = teacher_set(run, photos, sources, dc, BadFiles(), SynthesisConfig(**{**QUICK.__dict__, "seed": 1}))
    assert other.made == 4  # another setting is another picture, not a stale one


def test_a_bad_photo_is_skipped_and_reported_and_crops_stay_aligned(tmp_path: Path, teacher_inputs) -> None:
    photos, sources, dc = teacher_inputs
    broken = tmp_path / "content" / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not a jpeg")
    tiny = write(tmp_path / "content" / "tiny.png", texture("photo", 16))
    bad = BadFiles()
    t = teacher_set(tmp_path / "run", [*photos, broken, tiny], sources, dc, bad, QUICK)
    assert t.photo_paths == photos
    assert {Path(p).name for p, _ in bad.items} == {"broken.jpg", "tiny.png"}
    # An identity 'teacher' shows the crop windows and mirrors are the same for both images.
    t.pictures = [[p.copy() for p in t.photos] for _ in sources]
    crops = paired_crops(t, 32, seed=3)
    for _ in range(8):
        photo, picture, style = next(crops)
        assert photo.shape == (32, 32, 3) and style in (0, 1)
        np.testing.assert_array_equal(photo, picture)


def test_teacher_settings_are_checked_and_a_run_cannot_resume_under_another_teacher(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="teacher must be one of"):
        DataConfig(teacher="magenta")
    with pytest.raises(ConfigError, match="teacher_size"):
        DataConfig(teacher="synthesis", image_size=128, teacher_size=64)
    cfg = tiny_config(2)
    (tmp_path / "checkpoints").mkdir()
    cfg.to_json(tmp_path / "config.json")
    taught = RunConfig.from_dict({**cfg.to_dict(), "data": {**cfg.to_dict()["data"], "teacher": "synthesis"}})
    with pytest.raises(ConfigError, match="teacher"):
        _check_resume_compatible(tmp_path, taught)


def test_train_teacher_flags_reach_the_run_config() -> None:
    from tf_stylefusion.cli import build_parser, train_config_from_args

    base = ["train", "--content", "photos", "--style", "a.jpg", "--out", "run", "--loss-network", "random"]
    got = train_config_from_args(build_parser().parse_args(
        base + ["--teacher", "synthesis", "--teacher-photos", "5", "--teacher-weight", "2"]))
    assert (got.data.teacher, got.data.teacher_photos, got.losses.teacher_weight) == ("synthesis", 5, 2.0)
    # The offline recipe brings the teacher; `--teacher none` leaves it out, and so does another loss network.
    assert train_config_from_args(build_parser().parse_args(base)).data.teacher == "synthesis"
    assert train_config_from_args(build_parser().parse_args(base + ["--teacher", "none"])).data.teacher == ""
    assert train_config_from_args(build_parser().parse_args(base[:-2])).data.teacher == ""
    with pytest.raises(SystemExit):
        build_parser().parse_args(base + ["--teacher", "magenta"])


def test_train_with_a_teacher_writes_its_pictures_once_and_a_resume_reuses_them(image_folders, tmp_path: Path,
                                                                              caplog) -> None:
    from tf_stylefusion.training.run import train

    cfg = RunConfig().updated({
        "data": {"content": str(image_folders["content"]), "image_size": 32, "batch_size": 2,
                 "styles": [str(image_folders["stripes"]), str(image_folders["checker"])],
                 "teacher": "synthesis", "teacher_size": 48, "teacher_photos": 2},
        "losses": {"loss_network": "random", "adversarial_weight": 0.1},
        "generator": {"filters": [8, 12, 16], "num_res_blocks": 1},
        "training": {"steps": 2, "checkpoint_every": 2, "tensorboard": False}})
    run = tmp_path / "run"
    with caplog.at_level(logging.INFO, logger="tf_stylefusion.training.teacher"):
        first = train(cfg, run, verbose=0)
    assert first.history["teacher"][0] > 0 and first.history["adv_g"][0] > 0
    assert len(list((run / TEACHER_DIR).rglob("*.png"))) == 4 and "4 made, 0 reused" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="tf_stylefusion.training.teacher"):
        train(cfg.updated({"training": {"steps": 4}}), run, verbose=0)
    assert "0 made, 4 reused" in caplog.text


def test_a_teacher_brings_its_recipe_where_the_recipe_decides_and_a_given_value_wins() -> None:
    from tf_stylefusion.config import RECIPES, TEACHER_RECIPE, LossConfig

    plain = RunConfig(losses=LossConfig(loss_network="random"), data=DataConfig(teacher=""))
    taught = plain.updated({"data": {"teacher": "synthesis"}})
    for name, value in TEACHER_RECIPE["losses"].items():
        assert getattr(taught.losses, name) == value != RECIPES["random"][name], name
    assert taught.training.d_learning_rate == TEACHER_RECIPE["training"]["d_learning_rate"]
    # The teacher terms at the weights the student's ablation measured (docs/teacher.md, run U).
    assert (taught.losses.teacher_weight, taught.losses.teacher_feature_weight) == (1.0, 1.0)
    back = taught.updated({"data": {"teacher": ""}})  # decided again, not kept
    assert back.losses.tv_weight == RECIPES["random"]["tv_weight"] and back.training.d_learning_rate == 2e-4
    given = plain.updated({"data": {"teacher": "synthesis"}, "losses": {"tv_weight": 7.0},
                           "training": {"d_learning_rate": 5e-4}})
    assert given.losses.tv_weight == 7.0 and given.training.d_learning_rate == 5e-4
    # ImageNet's recipe keeps its own regularisers; the discriminator's part applies.
    online = RunConfig().updated({"data": {"teacher": "synthesis"}})
    assert online.losses.adversarial_weight == 1.0 and online.losses.layout_weight == RECIPES["imagenet"]["layout_weight"]


def test_the_offline_recipe_brings_the_teacher_and_an_old_run_resumes_without_one(tmp_path: Path) -> None:
    from tf_stylefusion.config import TEACHER_RECIPE, LossConfig

    offline = RunConfig(losses=LossConfig(loss_network="random"))
    assert offline.data.teacher == "synthesis"
    assert offline.losses.tv_weight == TEACHER_RECIPE["losses"]["tv_weight"]
    assert RunConfig().data.teacher == ""  # the ImageNet recipe
    tfds = RunConfig(losses=LossConfig(loss_network="random"), data=DataConfig(content="tfds:cycle_gan"))
    assert tfds.data.teacher == ""  # its photos have no file to cache the pictures against
    # A run saved before the offline recipe had a teacher lists every data field but that one.
    saved = RunConfig(losses=LossConfig(loss_network="random"), data=DataConfig(teacher="")).to_dict()
    del saved["data"]["teacher"]
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "config.json").write_text(json.dumps(saved))
    assert RunConfig.from_json(tmp_path / "config.json").data.teacher == ""
    # Resumed by a command that leaves the teacher to the recipe, it keeps its own (and the
    # recipe that goes with it); a teacher given on the command line is still refused.
    resumed = _resumed_teacher(tmp_path, offline)
    assert resumed.data.teacher == "" and resumed.losses.tv_weight != TEACHER_RECIPE["losses"]["tv_weight"]
    _check_resume_compatible(tmp_path, resumed)
    asked = offline.updated({"data": {"teacher": "synthesis"}})
    assert _resumed_teacher(tmp_path, asked) is asked
    with pytest.raises(ConfigError, match="teacher"):
        _check_resume_compatible(tmp_path, asked)

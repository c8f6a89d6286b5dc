"""Personal style profiles, training from a profile, and adding a style by fine-tuning one row."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tf_stylefusion.config import (
    DataConfig,
    DiscriminatorConfig,
    GeneratorConfig,
    LossConfig,
    RunConfig,
    TrainConfig,
)
from tf_stylefusion.errors import ConfigError, ImageError
from tf_stylefusion.model_io import load_generator
from tf_stylefusion.personalize import (
    PersonalizeConfig,
    kmeans,
    load_profile,
    personalize,
    profile_style_sources,
    silhouette,
)
from tf_stylefusion.training.run import train

from .conftest import texture, write


def variant(kind: str, seed: int) -> np.ndarray:
    """The texture shifted and slightly recoloured: same style, different image."""
    rng = np.random.default_rng(seed)
    img = np.roll(texture(kind, 64).astype(np.float32), int(rng.integers(8)), axis=1)
    img = img * rng.uniform(0.85, 1.0, 3) + rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture
def collection(tmp_path: Path) -> Path:
    root = tmp_path / "my_art"
    for i in range(4):
        write(root / f"stripes_{i}.png", variant("stripes", i))
        write(root / "more" / f"checker_{i}.png", variant("checker", 10 + i))
    (root / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return root


CFG = PersonalizeConfig(image_size=48, max_clusters=4, restarts=4)


def test_two_textures_become_two_sub_styles(collection: Path, tmp_path: Path) -> None:
    profile = personalize(collection, tmp_path / "profile", CFG)
    assert profile.k == 2
    groups = sorted(sorted(Path(m).name.split("_")[0] for m in s.members) for s in profile.sub_styles)
    assert groups == [["checker"] * 4, ["stripes"] * 4]
    assert max(profile.silhouette, key=profile.silhouette.get) == "2" and profile.silhouette["2"] > 0.35
    assert [s["path"].endswith("broken.jpg") for s in profile.skipped] == [True]
    saved = json.loads((tmp_path / "profile" / "profile.json").read_text())
    assert saved["k"] == 2 and "silhouette" in saved["criterion"]
    arrays = np.load(tmp_path / "profile" / "profile.npz")
    assert arrays["labels"].shape == (8,) and arrays["centroids"].shape[0] == 2
    assert (tmp_path / "profile" / "contact_sheet.png").stat().st_size > 0
    sources = profile_style_sources(tmp_path / "profile")
    assert [s.name for s in sources] == ["my_art_1", "my_art_2"]
    assert all(p.is_file() for s in sources for p in s.paths) and sum(len(s.paths) for s in sources) == 8


def test_profile_is_deterministic(collection: Path, tmp_path: Path) -> None:
    personalize(collection, tmp_path / "a", CFG)
    personalize(collection, tmp_path / "b", CFG)
    assert (tmp_path / "a" / "profile.json").read_bytes() == (tmp_path / "b" / "profile.json").read_bytes()
    a, b = np.load(tmp_path / "a" / "profile.npz"), np.load(tmp_path / "b" / "profile.npz")
    for key in a.files:
        np.testing.assert_array_equal(a[key], b[key])


def test_fixed_k_and_errors(collection: Path, tmp_path: Path) -> None:
    profile = personalize(collection, tmp_path / "p3", PersonalizeConfig(clusters=3, image_size=48, restarts=2))
    assert profile.k == 3 and sum(len(s.members) for s in profile.sub_styles) == 8
    with pytest.raises(ConfigError, match="clusters"):
        PersonalizeConfig(clusters="many")
    with pytest.raises(ConfigError, match="only 8"):
        personalize(collection, tmp_path / "p9", PersonalizeConfig(clusters=9, image_size=48))
    with pytest.raises(ConfigError, match="personalize"):
        load_profile(tmp_path / "nothing_here")


def test_tiny_and_unreadable_collections(tmp_path: Path) -> None:
    one = tmp_path / "one"
    write(one / "a.png", variant("stripes", 0))
    profile = personalize(one, tmp_path / "p1", CFG)
    assert profile.k == 1 and profile.sub_styles[0].members == ["a.png"]
    write(one / "b.png", variant("checker", 1))
    assert personalize(one, tmp_path / "p2", CFG).k == 1  # too few images to compare K by silhouette
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.png").write_bytes(b"nope")
    with pytest.raises(ImageError, match="could be read"):
        personalize(bad, tmp_path / "p3", CFG)
    assert not (tmp_path / "p3").exists()  # nothing half-written


def test_kmeans_and_silhouette_on_blobs() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 0.1, (10, 2)), rng.normal(5, 0.1, (10, 2))])
    labels, centroids, _ = kmeans(x, 2, seed=0)
    assert len(set(labels[:10])) == 1 and len(set(labels[10:])) == 1 and labels[0] != labels[10]
    assert silhouette(x, labels) > 0.9
    assert silhouette(x, rng.integers(0, 2, 20)) < 0.2


def tiny_run(content: Path, styles: list[str], steps: int = 2, **training) -> RunConfig:
    return RunConfig(
        generator=GeneratorConfig(filters=(8, 12, 16), num_res_blocks=1),
        discriminator=DiscriminatorConfig(filters=8, num_layers=2),
        losses=LossConfig(loss_network="random"),
        data=DataConfig(content=str(content), styles=styles, image_size=32, batch_size=2, style_size=48,
                        teacher=""),
        training=TrainConfig(steps=steps, checkpoint_every=steps, tensorboard=False, **training),
    )


def test_profile_trains_and_a_new_style_keeps_old_outputs_identical(collection, image_folders, tmp_path) -> None:
    personalize(collection, tmp_path / "profile", CFG)
    cfg = tiny_run(image_folders["content"], [str(image_folders["stripes"])])
    cfg.data.profile = str(tmp_path / "profile")
    base = train(cfg, tmp_path / "base", verbose=0)
    assert base.generator.style_names == ["stripes", "my_art_1", "my_art_2"]

    extended = tiny_run(image_folders["content"], [str(image_folders["checker"])], steps=3,
                        base_model=str(tmp_path / "base"))
    extended.training.g_learning_rate = 0.05
    result = train(extended, tmp_path / "extended", verbose=0)
    old, new = load_generator(tmp_path / "base"), load_generator(tmp_path / "extended")
    assert new.style_names == old.style_names + ["checker"]
    content = np.stack([texture("photo", 40, seed=i) for i in range(2)]).astype(np.float32) / 255
    for i in range(3):
        w_old = np.tile(np.eye(3, dtype=np.float32)[i], (2, 1))
        w_new = np.tile(np.eye(4, dtype=np.float32)[i], (2, 1))
        np.testing.assert_array_equal(old((content, w_old)).numpy(), new((content, w_new)).numpy())
    mix_old = np.tile(np.array([[0.2, 0.5, 0.3]], np.float32), (2, 1))
    mix_new = np.tile(np.array([[0.2, 0.5, 0.3, 0.0]], np.float32), (2, 1))
    # A mix sums its rows in an order that may change with the bank's size and the CPU's vector
    # width (7e-7 seen on AVX2): within 1e-6, not bit for bit.
    np.testing.assert_allclose(old((content, mix_old)).numpy(), new((content, mix_new)).numpy(), rtol=0, atol=1e-6)
    # the new row did train: it left its initial value, the mean of the old rows
    table = new.bank.table.numpy()
    assert np.abs(table[3] - table[:3].mean(0)).max() > 1e-3
    np.testing.assert_array_equal(table[:3], old.bank.table.numpy())
    assert result.steps == 3
    with pytest.raises(ConfigError, match="already has"):
        train(tiny_run(image_folders["content"], [str(image_folders["stripes"])],
                       base_model=str(tmp_path / "base")), tmp_path / "clash", verbose=0)


def test_cli_clusters_auto_falls_back_to_one_style_on_a_collection_with_one_look(tmp_path, capsys) -> None:
    # Eight photos of one texture, differing only by sensor noise: k-means still splits them for
    # every K, but no split is clear (every silhouette below 0.25), so auto keeps one sub-style.
    from tf_stylefusion.cli import main

    root = tmp_path / "one_look"
    for i in range(8):
        noisy = texture("stripes", 64) + np.random.default_rng(i).normal(0, 8, (64, 64, 3))
        write(root / f"stripes_{i}.png", np.clip(noisy, 0, 255).astype(np.uint8))
    out = tmp_path / "profile"
    assert main(["personalize", "--collection", str(root), "--out", str(out), "--clusters", "auto",
                 "--max-clusters", "4", "--image-size", "48"]) == 0
    assert "1 sub-style(s) (silhouette K=2:" in capsys.readouterr().out
    saved = json.loads((out / "profile.json").read_text())
    assert saved["k"] == 1 and len(saved["sub_styles"][0]["members"]) == 8
    scores = saved["silhouette"]
    assert sorted(scores) == ["2", "3", "4"]  # every K was tried: the fallback, not "too few images"
    assert max(scores.values()) < 0.25, scores


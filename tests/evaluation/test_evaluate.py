"""evaluate: a model or a folder of outputs → JSON and HTML report, with FID/KID only on real
Inception weights."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from tf_stylefusion.cli import main
from tf_stylefusion.evaluation.evaluate import EvalConfig, evaluate
from tf_stylefusion.models.generator import StyleFusionGenerator

from ..conftest import texture, write


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Path]:
    keras.utils.set_random_seed(0)
    g = StyleFusionGenerator(2, style_names=["stripes", "checker"], filters=(8, 12, 16), num_res_blocks=1)
    table = g.bank.table.numpy()
    g.bank.table.assign(table + np.random.default_rng(0).normal(0, 0.3, table.shape).astype(np.float32))
    model = tmp_path / "model.keras"
    g.save(model)
    content = tmp_path / "content"
    for i in range(3):
        write(content / f"photo_{i}.png", texture("photo", 48, seed=i))
    (content / "broken.jpg").write_bytes(b"not a jpeg")
    return {"model": model, "content": content,
            "stripes": write(tmp_path / "styles" / "stripes.png", texture("stripes", 64)),
            "checker": write(tmp_path / "styles" / "checker.png", texture("checker", 64))}


def test_model_evaluation_writes_report_and_outputs_then_outputs_mode_agrees(setup, tmp_path: Path) -> None:
    cfg = EvalConfig(image_size=64, inception_weights="none")
    styles = [str(setup["stripes"]), str(setup["checker"])]
    report = evaluate([setup["content"]], styles, tmp_path / "rep", model=setup["model"], config=cfg,
                      progress=False)
    results = json.loads(report.json_path.read_text())
    assert set(results["styles"]) == {"stripes", "checker"}
    for s in results["styles"].values():
        assert s["n"] == 3 and s["gram_distance"] > 0 and 0 < s["color_chi2"] <= 1 and -1 <= s["ssim"] <= 1
        assert s["fid"] is None and s["kid"] is None
    assert results["fid_kid"] == {"available": False,
                                  "reason": "FID/KID unavailable: disabled with --inception-weights none."}
    assert [Path(p["path"]).name for p in results["skipped"]] == ["broken.jpg"]
    html = report.html_path.read_text()
    assert "<svg" in html and "contact_sheet.png" in html and "FID/KID unavailable" in html
    assert report.sheet_path.stat().st_size > 1000
    # The saved outputs, evaluated as a folder, give the same numbers (up to 8-bit rounding).
    again = evaluate([setup["content"]], styles, tmp_path / "rep2", outputs=tmp_path / "rep" / "outputs",
                     config=cfg, progress=False).results
    for name in ("stripes", "checker"):
        for metric in ("gram_distance", "content_distance", "ssim", "color_chi2"):
            assert again["styles"][name][metric] == pytest.approx(results["styles"][name][metric],
                                                                  rel=0.05, abs=0.01)


def test_fid_kid_with_an_explicit_inception_weights_file(setup, tmp_path: Path) -> None:
    weights = tmp_path / "inception.weights.h5"
    keras.applications.InceptionV3(include_top=False, weights=None, pooling="avg").save_weights(weights)
    cfg = EvalConfig(image_size=64, inception_weights=str(weights))
    results = evaluate([setup["content"]], [str(setup["stripes"])], tmp_path / "rep", model=setup["model"],
                       config=cfg, progress=False).results
    assert results["fid_kid"]["available"] and results["fid_kid"]["reason"] is None
    s = results["styles"]["stripes"]
    assert np.isfinite(s["fid"]) and s["fid"] >= 0 and np.isfinite(s["kid"])


def test_cli_errors_are_one_line(setup, tmp_path: Path, capsys) -> None:
    assert main(["evaluate", str(setup["model"]), "--content", str(setup["content"]),
                 "--style", str(tmp_path / "styles"), "--out", str(tmp_path / "r")]) == 2
    assert "not in the model" in capsys.readouterr().err
    assert main(["evaluate", "--content", str(setup["content"]), "--style", str(setup["stripes"]),
                 "--out", str(tmp_path / "r")]) == 2
    assert "exactly one of a model" in capsys.readouterr().err


def test_unavailable_imagenet_inception_gives_one_sentence_not_random_numbers(monkeypatch) -> None:
    import importlib

    from tf_stylefusion.errors import WeightsUnavailableError

    # The package exports the function `evaluate`, which hides the module of the same name.
    evaluate_module = importlib.import_module("tf_stylefusion.evaluation.evaluate")

    def offline(weights: str, seed: int) -> None:
        raise WeightsUnavailableError("Could not download the ImageNet InceptionV3 weights (offline?); pass ...")

    monkeypatch.setattr(evaluate_module, "inception_features", offline)
    space = evaluate_module.FeatureSpace(EvalConfig(image_size=64, inception_weights="imagenet"))
    assert space.inception is None
    assert space.unavailable.startswith("FID/KID unavailable: InceptionV3 weights 'imagenet' could not be loaded")
    assert space.unavailable.count(". ") == 0  # one sentence
    random_space = evaluate_module.FeatureSpace(EvalConfig(image_size=64, inception_weights="random"))
    assert random_space.inception is None and "meaningless" in random_space.unavailable


def test_run_test_split_is_recorded_and_is_evaluate_default_content(tmp_path: Path) -> None:
    from tf_stylefusion.config import DataConfig, RunConfig
    from tf_stylefusion.evaluation.evaluate import content_from_run
    from tf_stylefusion.training.run import _content_split

    content = tmp_path / "content"
    for i in range(40):
        write(content / f"p{i}.png", texture("photo", 8, seed=i))
    run = tmp_path / "run"
    run.mkdir()
    config = RunConfig(data=DataConfig(content=str(content), validation_fraction=0.2, test_fraction=0.25))
    train, val = _content_split(config, run)
    recorded = json.loads((run / "splits.json").read_text())
    test = content_from_run(run)
    assert [str(p) for p in test] == recorded["test"] and len(test) > 0
    assert len(train) + len(val) + len(test) == 40 and not set(test) & (set(train) | set(val))


def test_cli_evaluate_scores_outputs_made_elsewhere(setup, tmp_path: Path, capsys) -> None:
    # Outputs laid out as DIR/<style>/<content stem>.png, made by something else: for "stripes"
    # the stripes texture itself (a perfect style, no content), for "checker" the photo itself
    # (all content, no style), and one output missing.
    outputs = tmp_path / "elsewhere"
    photos = sorted(setup["content"].glob("photo_*.png"))
    for p in photos:
        write(outputs / "stripes" / p.name, texture("stripes", 48))
    for p in photos[:2]:
        (outputs / "checker").mkdir(parents=True, exist_ok=True)
        (outputs / "checker" / p.name).write_bytes(p.read_bytes())
    rep = tmp_path / "rep"
    assert main(["evaluate", "--outputs", str(outputs), "--content", str(setup["content"]),
                 "--style", str(setup["stripes"]), "--style", str(setup["checker"]), "--out", str(rep),
                 "--inception-weights", "none", "--image-size", "64"]) == 1  # skipped files: status 1
    assert "broken.jpg" in capsys.readouterr().err
    results = json.loads((rep / "report.json").read_text())
    assert results["settings"]["outputs"] == str(outputs) and results["settings"]["model"] is None
    stripes, checker = results["styles"]["stripes"], results["styles"]["checker"]
    assert stripes["n"] == 3 and checker["n"] == 2
    assert {Path(r["output"]).parent.name for r in results["images"]} == {"stripes", "checker"}
    assert checker["ssim"] == pytest.approx(1.0, abs=1e-4)
    assert checker["content_distance"] == pytest.approx(0, abs=1e-6)
    assert stripes["ssim"] < 0.5 and stripes["content_distance"] > 0.1
    assert stripes["gram_distance"] < 0.1 * checker["gram_distance"]
    assert stripes["color_chi2"] < checker["color_chi2"]
    skipped = {Path(s["path"]).name: s["problem"] for s in results["skipped"]}
    assert skipped["photo_2.*"] == "no output for this content image" and "broken.jpg" in skipped
    assert not (rep / "outputs").exists()  # nothing was stylized here

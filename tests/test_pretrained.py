"""The ready-made style pack works right after install: no model argument, every control."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tf_stylefusion.cli import main
from tf_stylefusion.data.samples import samples_dir
from tf_stylefusion.errors import ModelFileError
from tf_stylefusion.pretrained import load_pack, pack_dir, resolve_model, style_names

from .conftest import texture, write
from .helpers import written

PACK_MB_LIMIT = 5.0


def test_the_pack_holds_every_bundled_painting_named_after_its_file() -> None:
    paintings = sorted(p.stem for p in (samples_dir() / "style").iterdir() if p.suffix == ".jpg")
    assert len(paintings) >= 7
    assert sorted(style_names()) == paintings
    generator, encoder = load_pack()
    assert encoder is not None and encoder.param_dim == generator.param_dim
    total = sum(f.stat().st_size for f in pack_dir().iterdir()) / 2**20
    assert total <= PACK_MB_LIMIT, f"the pack is {total:.1f} MB"
    assert (pack_dir() / "generator.keras").stat().st_size < 1 * 2**20
    assert generator.textures is not None and generator.textures.shape[:1] == (generator.num_styles,)


def test_each_pack_style_is_its_own_look() -> None:
    generator, _ = load_pack()
    photo = texture("photo", 64)[None].astype(np.float32) / 255
    n = generator.num_styles
    outs = [generator((photo, np.eye(n, dtype=np.float32)[i:i + 1])).numpy() for i in range(n)]
    for o in outs:
        assert np.all(np.isfinite(o)) and o.std() > 0.02  # not a flat image
    # no two styles give the same picture
    gaps = [np.abs(outs[i] - outs[j]).mean() for i in range(n) for j in range(i + 1, n)]
    assert min(gaps) > 0.02


def test_cli_stylize_and_styles_default_to_the_pack(tmp_path: Path, capsys) -> None:
    photo = write(tmp_path / "photo.png", texture("photo", 64))
    mask = write(tmp_path / "mask.png", np.repeat(np.where(np.arange(64) < 32, 255, 0).astype(np.uint8)[None, :, None],
                                                  64, 0).repeat(3, 2))
    assert main(["styles"]) == 0
    listed = capsys.readouterr().out.split()[1::2]
    assert listed == style_names()
    a, b = listed[0], listed[1]
    out = tmp_path / "out"
    assert main(["stylize", str(photo), "--style", a, "--out", str(out)]) == 0
    plain = np.asarray(Image.open(written(out, "photo")), np.float32)
    assert plain.shape == (64, 64, 3)
    # the pack's first argument may also be named explicitly
    assert main(["stylize", "pack", str(photo), "--style", a, "--out", str(tmp_path / "named")]) == 0
    np.testing.assert_array_equal(plain, np.asarray(Image.open(written(tmp_path / "named", "photo")), np.float32))
    controls = {
        "mix": ["--style", f"{a}:0.5,{b}:0.5"],
        "mask": ["--style", f"{a},{b}", "--mask", str(mask)],
        "strength": ["--style", a, "--strength", "0.3"],
        "color": ["--style", a, "--preserve-color"],
        "style_image": ["--style-image", str(samples_dir() / "style" / f"{b}.jpg")],
    }
    for name, flags in controls.items():
        assert main(["stylize", str(photo), *flags, "--out", str(tmp_path / name)]) == 0, name
        got = np.asarray(Image.open(written(tmp_path / name, "photo")), np.float32)
        assert np.abs(got - plain).mean() > 1.0, f"{name} left the picture unchanged"


def test_a_missing_pack_is_one_clear_sentence(monkeypatch, tmp_path: Path, capsys) -> None:
    import tf_stylefusion.pretrained as pretrained

    monkeypatch.setattr(pretrained, "PACK_NAME", "no_such_pack")
    with pytest.raises(ModelFileError, match="ready-made style pack is not in this installation"):
        resolve_model(None)
    photo = write(tmp_path / "photo.png", texture("photo", 40))
    assert main(["stylize", str(photo), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "style pack" in err and "Traceback" not in err


def test_demo_writes_its_contact_sheet_from_the_pack(tmp_path: Path, capsys) -> None:
    from tf_stylefusion.data.images import list_images, load_image
    from tf_stylefusion.data.pipelines import center_crops
    from tf_stylefusion.demo import SHEET_SIZE
    from tf_stylefusion.training.callbacks import sample_grid

    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    sheet_path = out / "contact_sheet.png"
    assert f"contact sheet {sheet_path}" in capsys.readouterr().out
    # the sheet is the pack's: every bundled photo under each of its styles and a blend
    generator, _ = load_pack()
    photos = list_images(samples_dir() / "content")
    content = center_crops([load_image(p, max_side=SHEET_SIZE * 2) for p in photos], SHEET_SIZE)
    expected, labels = sample_grid(generator, content)
    assert labels == ["content", *style_names(), f"{style_names()[0]}+{style_names()[1]}"]
    sheet = np.asarray(Image.open(sheet_path)).astype(int)
    assert sheet.shape == expected.shape
    assert np.abs(sheet - expected).max() <= 2  # PNG is lossless; float rounding aside
    stylized = sorted(p.name for p in (out / "stylized").glob("*.png"))
    assert stylized == sorted(f"{p.stem}_{name}.png" for p in photos for name in style_names())

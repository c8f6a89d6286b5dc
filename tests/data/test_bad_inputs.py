"""A corpus of bad (and odd-but-valid) inputs built here: each gets one clear error naming the
file, or is handled correctly; a batch over all of them writes every good output and reports
every bad one; nothing gives a traceback."""

from __future__ import annotations

import builtins
import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tf_stylefusion.cli import main
from tf_stylefusion.data import pipelines as data_lib
from tf_stylefusion.data.images import BadFiles, load_image, validate_image_array
from tf_stylefusion.errors import ImageError, StyleWeightsError
from tf_stylefusion.inference.fusion import normalize_weights, parse_style_spec
from tf_stylefusion.inference.stylize import stylize_image
from tf_stylefusion.models.generator import MIN_SIZE, StyleFusionGenerator

from ..conftest import texture
from ..helpers import written as written_for

W, H = 48, 40  # every valid corpus image is at least 32 px on its short side


def _encoded(fmt: str, mode: str = "RGB", **save: object) -> bytes:
    rgb = Image.fromarray(texture("photo", 64)).resize((W, H))
    buf = io.BytesIO()
    rgb.convert(mode).save(buf, format=fmt, **save)
    return buf.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def _corrupt_png_data() -> bytes:
    data = bytearray(_encoded("PNG"))
    start = data.index(b"IDAT") + 4
    for i in range(start + 10, start + 40):
        data[i] ^= 0xFF
    return bytes(data)


def _exif_rotated_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    return _encoded("JPEG", exif=exif.tobytes())


def _animated_gif() -> bytes:
    frames = [Image.new("RGB", (W, H), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    return buf.getvalue()


def _rgba_png() -> bytes:
    im = Image.new("RGBA", (W, H), (0, 0, 0, 0))  # fully transparent black
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def _gray16_png() -> bytes:
    a = np.full((H, W), 65535 // 2, np.uint16)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


# name → (bytes, expected): "ok" or a phrase the ImageError message must contain.
CORPUS: dict[str, tuple[bytes | None, str]] = {
    "zero.jpg": (b"", "empty (0 bytes)"),
    "zero.png": (b"", "empty (0 bytes)"),
    "truncated.jpg": (_encoded("JPEG")[:400], "truncated or corrupt"),
    "truncated.png": (_encoded("PNG")[:300], "truncated or corrupt"),
    "truncated.webp": (_encoded("WEBP")[:200], "truncated or corrupt"),
    "corrupt_data.png": (_corrupt_png_data(), "truncated or corrupt"),
    "text_renamed.jpg": (b"hello, this is a shopping list\n" * 20, "not an image"),
    "html_renamed.png": (b"<!doctype html><html><body>404</body></html>", "not an image"),
    "zip_renamed.png": (b"PK\x03\x04" + bytes(200), "not an image"),
    "one_pixel.png": (None, f"at least {MIN_SIZE}"),
    "thin_strip.png": (None, f"at least {MIN_SIZE}"),
    "bomb_30000x30000.png": (_png_header_only(30000, 30000), "decompression-bomb"),
    "unreadable.png": (_encoded("PNG"), "permission denied"),
    "folder.png": (None, "folder"),
    "missing.jpg": (None, "file not found"),
    "gray16.png": (_gray16_png(), "ok"),
    "cmyk.jpg": (_encoded("JPEG", "CMYK"), "ok"),
    "palette.png": (_encoded("PNG", "P"), "ok"),
    "rgba_transparent.png": (_rgba_png(), "ok"),
    "gray_alpha.png": (_encoded("PNG", "LA"), "ok"),
    "gray.jpg": (_encoded("JPEG", "L"), "ok"),
    "progressive.jpg": (_encoded("JPEG", progressive=True), "ok"),
    "interlaced.png": (_encoded("PNG", optimize=False), "ok"),
    "exif_rotated.jpg": (_exif_rotated_jpeg(), "ok"),
    "animated.gif": (_animated_gif(), "ok"),
    "png_named.jpg": (_encoded("PNG"), "ok"),
    "trailing_garbage.jpg": (_encoded("JPEG") + b"\x00garbage" * 10, "ok"),
    "photo.bmp": (_encoded("BMP"), "ok"),
    "photo.webp": (_encoded("WEBP"), "ok"),
    "ünïcode_名前.png": (_encoded("PNG"), "ok"),
}
NON_UTF8_NAME = os.fsdecode(b"latin1_caf\xe9.png")


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    folder = tmp_path / "corpus"
    folder.mkdir()
    paths = {}
    for name, (data, _) in CORPUS.items():
        p = folder / name
        if data is not None:
            p.write_bytes(data)
        paths[name] = p
    Image.new("RGB", (1, 1)).save(paths["one_pixel.png"])
    Image.new("RGB", (400, 8)).save(paths["thin_strip.png"])
    paths["folder.png"].mkdir()
    (folder / NON_UTF8_NAME).write_bytes(_encoded("PNG"))
    paths["latin1"] = folder / NON_UTF8_NAME
    unreadable = paths["unreadable.png"]
    unreadable.chmod(0)
    if os.geteuid() == 0:  # root reads anything: make the OS answer as it does for a user
        real_open = builtins.open

        def guarded(file, *args, **kwargs):  # type: ignore[no-untyped-def]
            if isinstance(file, (str, os.PathLike)) and os.fspath(file) == os.fspath(unreadable):
                raise PermissionError(13, "Permission denied", os.fspath(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", guarded)
    return paths


def expected_ok(name: str) -> bool:
    return name == "latin1" or CORPUS[name][1] == "ok"


def test_each_input_gets_one_clear_error_or_is_handled(corpus: dict[str, Path]) -> None:
    assert len(corpus) >= 30
    for name, path in corpus.items():
        if expected_ok(name):
            img = load_image(path, min_side=MIN_SIZE)
            assert img.dtype == np.float32 and img.ndim == 3 and img.shape[2] == 3, name
            assert np.isfinite(img).all() and 0 <= img.min() and img.max() <= 1, name
            expected_size = (W, H) if name != "exif_rotated.jpg" else (H, W)
            assert img.shape[:2] == expected_size[::-1], (name, img.shape)
            continue
        with pytest.raises(ImageError) as info:
            load_image(path, min_side=MIN_SIZE)
        message = str(info.value)
        assert path.name in message, (name, message)
        assert CORPUS[name][1] in message, (name, message)
        assert "\n" not in message and "Traceback" not in message


def test_valid_odd_formats_decode_to_the_right_pixels(corpus: dict[str, Path]) -> None:
    np.testing.assert_allclose(load_image(corpus["gray16.png"]), 0.5, atol=1e-4)  # 16-bit scaled
    np.testing.assert_allclose(load_image(corpus["rgba_transparent.png"]), 1.0)  # onto white
    np.testing.assert_allclose(load_image(corpus["animated.gif"])[0, 0], [1.0, 0, 0], atol=0.01)
    reference = load_image(corpus["photo.bmp"])
    cmyk = load_image(corpus["cmyk.jpg"])
    assert np.abs(cmyk - reference).mean() < 0.06  # CMYK converted, not read as garbage


def test_batch_stylize_writes_every_good_output_and_reports_every_bad(
        corpus: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "tiny.keras"
    StyleFusionGenerator(2, ["a", "b"], filters=(8, 8, 16), num_res_blocks=1).save(model)
    out = tmp_path / "out"
    code = main(["stylize", str(model), *map(str, corpus.values()), "--style", "a:1,b:1",
                 "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 1 and "Traceback" not in captured.err
    good = [n for n in corpus if expected_ok(n)]
    assert f"wrote {len(good)} image(s)" in captured.out
    for name in good:
        written = written_for(out, corpus[name].stem)
        assert written.is_file(), name
        assert Image.open(written).size == Image.open(corpus[name]).size or name == "exif_rotated.jpg"
    for name in corpus:
        if not expected_ok(name):
            assert corpus[name].name in captured.err, name
    assert not list(out.glob(".*tmp*"))  # no temporary files left behind


def test_training_data_skips_and_reports_every_bad_file(corpus: dict[str, Path]) -> None:
    bad = BadFiles()
    folder = corpus["gray16.png"].parent
    crops = data_lib.content_crops(str(folder), 32, 1.0, bad, seed=0).take(40)
    assert all(np.isfinite(c.numpy()).all() for c in crops)
    reported = {Path(p).name for p, _ in bad.items}
    # decodable-but-tiny images are usable training data once resized; unreadable ones are not
    unusable = {corpus[n].name for n in CORPUS
                if not expected_ok(n) and n not in ("one_pixel.png", "thin_strip.png", "missing.jpg",
                                                    "folder.png", "animated.gif")}
    assert unusable <= reported, unusable - reported


@pytest.mark.parametrize("weights,phrase", [
    ([np.nan, 1.0], "NaN"), ([np.inf, 1.0], "infinite"), ([-0.5, 1.5], "non-negative"),
    ([1.0, 0.0, 0.0], "2 styles"), ([0.0, 0.0], "all weights are zero"), ([], "expected shape"),
    ("abc", "not numeric"), (np.ones((1, 1, 1, 1, 2)), "expected shape"),
])
def test_bad_style_weights_are_rejected_clearly(weights: object, phrase: str) -> None:
    with pytest.raises(StyleWeightsError, match=phrase):
        normalize_weights(weights, 2)


@pytest.mark.parametrize("spec,phrase", [
    ("", "empty"), ("wave:abc", "not a number"), ("nosuch", "unknown style"), ("wave:-1", "non-negative"),
    ("wave:0,scream:0", "all weights are zero"), ("wave:nan", "NaN"),
])
def test_bad_style_specs_are_rejected_clearly(spec: str, phrase: str) -> None:
    with pytest.raises(StyleWeightsError, match=phrase):
        parse_style_spec(spec, ["wave", "scream"])


@pytest.mark.parametrize("array,phrase", [
    (np.full((40, 40, 3), np.nan, np.float32), "NaN"),
    (np.full((40, 40, 3), np.inf, np.float32), "NaN or infinite"),
    (np.full((40, 40, 3), 2.0, np.float32), r"\[0, 1\]"),
    (np.zeros((40, 40), np.float32), "expected shape"),
    (np.zeros((40, 40, 4), np.float32), "expected shape"),
    (np.zeros((40, 40, 3), np.int64), "dtype int64"),
    (np.zeros((0, 40, 3), np.float32), "empty"),
])
def test_bad_arrays_are_rejected_clearly(array: np.ndarray, phrase: str) -> None:
    with pytest.raises(ImageError, match=phrase):
        validate_image_array(array)


def test_stylize_image_rejects_too_small_and_mismatched_masks() -> None:
    g = StyleFusionGenerator(2, filters=(8, 8, 16), num_res_blocks=1)
    with pytest.raises(ImageError, match="at least 32"):
        stylize_image(g, np.zeros((20, 40, 3), np.float32), [1.0, 0.0])
    with pytest.raises(ImageError, match="per-pixel weights"):
        stylize_image(g, np.zeros((40, 40, 3), np.float32), np.ones((32, 32, 2), np.float32))

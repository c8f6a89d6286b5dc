"""`stylefusion app`'s HTTP API through Starlette's TestClient, on the ready-made pack with small
photos: uploads, the live preview following every control, clear JSON errors, the full render."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from .conftest import decoded, encoded, require_app_extra, sample_photo

require_app_extra()

from starlette.testclient import TestClient  # noqa: E402

from tf_stylefusion.app.server import create_app  # noqa: E402
from tf_stylefusion.app.session import Limits  # noqa: E402

W, H = 128, 96


@pytest.fixture(scope="module")
def client(pack) -> TestClient:
    generator, encoder = pack
    with TestClient(create_app(generator, encoder)) as c:
        yield c


def upload(client: TestClient, data: bytes, name: str = "photo.jpg", url: str = "/api/photos") -> Any:
    return client.post(url, files={"file": (name, data, "image/jpeg")})


def settings(photo: str, n: int, **kw: Any) -> dict[str, Any]:
    bank = [0.0] * n
    bank[kw.pop("style", 0)] = 1.0
    return {"photo": photo, "bank": kw.pop("bank", bank), "strength": 1.0, "color": "off", "masks": [], **kw}


def preview(client: TestClient, s: dict[str, Any], masks: list[bytes] = (), url: str = "/api/preview") -> Any:
    files = [("settings", (None, json.dumps(s)))] + [("mask", (f"mask_{i}.png", m, "image/png"))
                                                     for i, m in enumerate(masks)]
    return client.post(url, files=files)


def image_of(response: Any) -> np.ndarray:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    return decoded(response.content)


def mean_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


@pytest.fixture(scope="module")
def photo(client: TestClient) -> dict[str, Any]:
    r = upload(client, encoded(sample_photo(W, H)))
    assert r.status_code == 200, r.text
    return r.json()


def test_the_page_and_the_model_are_served(client: TestClient, pack) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "Render full size" in page.text
    for asset in ("/static/app.js", "/static/app.css"):
        assert client.get(asset).status_code == 200
    # The page must work offline: nothing is loaded from another host.
    assert "http" not in page.text.replace("http-equiv", "")
    info = client.get("/api/model").json()
    assert info["styles"] == list(pack[0].style_names) and info["encoder"] is True
    assert info["preview_side"] == 512


def test_an_uploaded_photo_gets_an_upright_backdrop(client: TestClient, photo: dict[str, Any]) -> None:
    assert (photo["width"], photo["height"]) == (W, H) == (photo["preview_width"], photo["preview_height"])
    backdrop = client.get(f"/api/photos/{photo['id']}/backdrop.jpg")
    assert backdrop.status_code == 200 and decoded(backdrop.content).shape == (H, W, 3)


def test_the_preview_follows_the_mix(client: TestClient, photo: dict[str, Any], pack) -> None:
    n = pack[0].num_styles
    first = image_of(preview(client, settings(photo["id"], n, style=0)))
    again = image_of(preview(client, settings(photo["id"], n, style=0)))
    other = image_of(preview(client, settings(photo["id"], n, style=5)))
    half = image_of(preview(client, settings(photo["id"], n, bank=[0.5, 0, 0, 0, 0, 0.5, 0])))
    assert first.shape == (H, W, 3)
    np.testing.assert_array_equal(first, again)
    assert mean_diff(first, other) > 0.05
    # A 50/50 mix lies between its two styles, different from both.
    assert mean_diff(half, first) > 0.01 and mean_diff(half, other) > 0.01
    # Weights are normalised: 3 and 3 is the same mix as 0.5 and 0.5.
    scaled = image_of(preview(client, settings(photo["id"], n, bank=[3, 0, 0, 0, 0, 3, 0])))
    np.testing.assert_allclose(scaled, half, atol=2 / 255)


def test_strength_zero_is_the_photo_and_one_the_full_style(client: TestClient, photo: dict[str, Any],
                                                           pack) -> None:
    n = pack[0].num_styles
    full = image_of(preview(client, settings(photo["id"], n, style=2, strength=1.0)))
    none = image_of(preview(client, settings(photo["id"], n, style=2, strength=0.0)))
    mid = image_of(preview(client, settings(photo["id"], n, style=2, strength=0.5)))
    source = decoded(client.get(f"/api/photos/{photo['id']}/backdrop.jpg").content)
    assert mean_diff(full, none) > 0.05
    assert mean_diff(none, source) < 0.02  # strength 0 gives the photo back (JPEG backdrop: ~1 %)
    assert mean_diff(mid, none) > 0.01 and mean_diff(mid, full) > 0.01


def test_colour_preservation_keeps_the_photos_colours(client: TestClient, photo: dict[str, Any],
                                                      pack) -> None:
    n = pack[0].num_styles
    source = decoded(client.get(f"/api/photos/{photo['id']}/backdrop.jpg").content)
    off = image_of(preview(client, settings(photo["id"], n, style=1)))
    kept = image_of(preview(client, settings(photo["id"], n, style=1, color="histogram")))
    channel_means = lambda im: im.reshape(-1, 3).mean(axis=0)  # noqa: E731
    assert (np.abs(channel_means(kept) - channel_means(source)).sum()
            < np.abs(channel_means(off) - channel_means(source)).sum())


def test_the_brushwork_slider_lays_the_pack_tiles_over_or_leaves_them_off(client: TestClient,
                                                                          photo: dict[str, Any], pack) -> None:
    n = pack[0].num_styles
    info = client.get("/api/model").json()
    assert info["textures"] is True and info["texture"] == 1.0
    default = image_of(preview(client, settings(photo["id"], n, style=2)))
    full = image_of(preview(client, settings(photo["id"], n, style=2, texture=1.0)))
    off = image_of(preview(client, settings(photo["id"], n, style=2, texture=0.0)))
    double = image_of(preview(client, settings(photo["id"], n, style=2, texture=2.0)))
    assert mean_diff(default, full) < 1e-3  # the default is the model's own amount
    assert mean_diff(full, off) > 0.01 and mean_diff(double, off) > 1.5 * mean_diff(full, off)
    r = preview(client, settings(photo["id"], n, texture=5))
    assert r.status_code == 400 and "texture" in r.text


def mask_png(width: int, height: int, left_fraction: float) -> bytes:
    m = np.zeros((height, width), np.uint8)
    m[:, : int(width * left_fraction)] = 255
    return encoded(np.repeat(m[..., None], 3, axis=2), "PNG")


def test_a_painted_mask_changes_its_region_most(client: TestClient, photo: dict[str, Any], pack) -> None:
    n = pack[0].num_styles
    plain = image_of(preview(client, settings(photo["id"], n, style=0)))
    # Paint the left third with style 5 while the sliders say style 0.
    painted = image_of(preview(client, settings(photo["id"], n, style=0, masks=[5], softness=2),
                               [mask_png(W, H, 1 / 3)]))
    diff = np.abs(painted - plain).mean(axis=2)
    inside, outside = diff[:, : W // 3 - 8].mean(), diff[:, W // 3 + 8:].mean()
    assert inside > 0.05 and inside > 5 * outside, (inside, outside)
    # Painted at another size (the page paints at the preview's size): resized to the photo.
    scaled = image_of(preview(client, settings(photo["id"], n, style=0, masks=[5], softness=2),
                              [mask_png(2 * W, 2 * H, 1 / 3)]))
    assert mean_diff(scaled, painted) < 0.01


def test_the_soft_edge_blends_the_border(client: TestClient, photo: dict[str, Any], pack) -> None:
    n = pack[0].num_styles
    hard, soft = (image_of(preview(client, settings(photo["id"], n, style=0, masks=[5], softness=s),
                                   [mask_png(W, H, 0.5)])) for s in (0, 10))
    diff = np.abs(soft - hard).mean(axis=2)
    border, far = diff[:, W // 2 - 6: W // 2 + 6].mean(), diff[:, -20:].mean()
    assert border > 0.03 and border > 3 * far, (border, far)


def test_two_painted_styles_each_keep_their_region(client: TestClient, photo: dict[str, Any], pack) -> None:
    n = pack[0].num_styles
    left, right = mask_png(W, H, 0.5), encoded(255 - decoded_u8(mask_png(W, H, 0.5)), "PNG")
    both = image_of(preview(client, settings(photo["id"], n, style=0, masks=[2, 5], softness=0),
                            [left, right]))
    only2 = image_of(preview(client, settings(photo["id"], n, style=2)))
    only5 = image_of(preview(client, settings(photo["id"], n, style=5)))
    # Away from the border (the generator's receptive field mixes pixels across it, and each
    # region's norm statistics borrow some of the whole image's, so a half is close to, not
    # equal to, the whole).
    assert mean_diff(both[:, :40], only2[:, :40]) < 0.5 * mean_diff(both[:, :40], only5[:, :40])
    assert mean_diff(both[:, -40:], only5[:, -40:]) < 0.5 * mean_diff(both[:, -40:], only2[:, -40:])


def decoded_u8(data: bytes) -> np.ndarray:
    return (decoded(data) * 255).round().astype(np.uint8)


def test_a_style_image_is_one_more_style(client: TestClient, photo: dict[str, Any], pack) -> None:
    from ..conftest import texture

    n = pack[0].num_styles
    r = upload(client, encoded(texture("stripes", 96), "PNG"), "my stripes.png", url="/api/styles")
    assert r.status_code == 200, r.text
    style = r.json()
    assert style["name"] == "my stripes.png"
    bank_only = image_of(preview(client, settings(photo["id"], n, style=0)))
    with_image = image_of(preview(client, settings(photo["id"], n, bank=[0.0] * n,
                                                    style_images=[{"id": style["id"], "weight": 1.0}])))
    assert mean_diff(with_image, bank_only) > 0.02
    # Its row is also paintable: row n is the first style image.
    painted = image_of(preview(client, settings(photo["id"], n, style=0, masks=[n],
                                                style_images=[{"id": style["id"], "weight": 0.0}]),
                               [mask_png(W, H, 1 / 3)]))
    diff = np.abs(painted - bank_only).mean(axis=2)
    assert diff[:, : W // 3 - 8].mean() > 3 * diff[:, W // 3 + 8:].mean()


def test_the_full_render_is_the_full_size_png(client: TestClient, pack) -> None:
    n = pack[0].num_styles
    big = upload(client, encoded(sample_photo(640, 480, "chelsea.jpg")), "cat photo.jpg").json()
    assert (big["width"], big["height"]) == (640, 480)
    assert (big["preview_width"], big["preview_height"]) == (512, 384)
    small = image_of(preview(client, settings(big["id"], n, style=3)))
    r = preview(client, settings(big["id"], n, style=3), url="/api/render")
    full = image_of(r)
    assert small.shape == (384, 512, 3) and full.shape == (480, 640, 3)
    assert "cat%20photo_stylized.png" in r.headers["content-disposition"]
    # The same look at both sizes (the generator is not scale-free, so only roughly).
    shrunk = np.asarray(Image.fromarray((full * 255).astype(np.uint8)).resize((512, 384)), np.float32) / 255
    assert mean_diff(shrunk, small) < 0.1


def test_the_render_reports_its_progress_while_it_runs(client: TestClient, photo: dict[str, Any], pack,
                                                        monkeypatch) -> None:
    from tf_stylefusion.app import server
    from tf_stylefusion.inference import tiling

    assert client.get("/api/render/progress").json() == {"stage": "", "done": 0, "total": 0}
    state = client.app.state.stylefusion
    during = []
    real = server.stylize_full

    def stylize_and_look(generator: Any, job: Any) -> np.ndarray:
        tiling._report("tiles", 3, 8)  # what blend_tiles reports after its third tile
        during.append(dict(state.render_progress))
        return real(generator, job)

    monkeypatch.setattr(server, "stylize_full", stylize_and_look)
    image_of(preview(client, settings(photo["id"], pack[0].num_styles), url="/api/render"))
    assert during == [{"stage": "tiles", "done": 3, "total": 8}]
    assert client.get("/api/render/progress").json()["stage"] == ""  # done: idle again


def test_a_corrupt_or_foreign_file_is_a_clear_json_error(client: TestClient) -> None:
    good = encoded(sample_photo(W, H))
    truncated = upload(client, good[: len(good) // 2], "half.jpg")
    assert truncated.status_code == 400
    message = truncated.json()["error"]
    assert message.startswith("half.jpg: ") and "truncated or corrupt" in message, message
    text = upload(client, b"these are not the pixels you are looking for\n" * 10, "notes.txt")
    assert text.status_code == 400
    assert text.json()["error"].startswith("notes.txt: not an image file"), text.json()
    empty = upload(client, b"", "empty.png")
    assert empty.status_code == 400 and empty.json()["error"].startswith("empty.png: ")
    tiny = upload(client, encoded(sample_photo(16, 16)), "tiny.jpg")
    assert tiny.status_code == 400 and "at least 32×32" in tiny.json()["error"]


def test_a_preview_that_a_newer_one_from_its_page_overtook_is_skipped(client: TestClient, photo: dict[str, Any],
                                                                     pack) -> None:
    # Two requests in flight may arrive in either order: the page's own count decides which is newer.
    s = settings(photo["id"], pack[0].num_styles, style=1)
    assert preview(client, {**s, "page": "tab-a", "seq": 7}).status_code == 200
    assert preview(client, {**s, "page": "tab-a", "seq": 6}).status_code == 204
    assert preview(client, {**s, "page": "tab-a", "seq": 8}).status_code == 200
    # Another page counts for itself, and a request naming no page is never held against a page's.
    assert preview(client, {**s, "page": "tab-b", "seq": 1}).status_code == 200
    assert preview(client, s).status_code == 200
    assert preview(client, {**s, "page": "tab-b", "seq": "2"}).status_code == 200  # not a count: arrival order


def test_bad_settings_are_clear_json_errors(client: TestClient, photo: dict[str, Any], pack) -> None:
    n = pack[0].num_styles
    zero = preview(client, settings(photo["id"], n, bank=[0.0] * n))
    assert zero.status_code == 400 and "every style slider is at 0" in zero.json()["error"]
    gone = preview(client, settings("no-such-photo", n))
    assert gone.status_code == 404 and "drop it again" in gone.json()["error"]
    bad = preview(client, settings(photo["id"], n, strength="strong"))
    assert bad.status_code == 400 and "strength" in bad.json()["error"]
    broken_mask = preview(client, settings(photo["id"], n, masks=[3]), [b"\x89PNG\r\n\x1a\n broken"])
    assert broken_mask.status_code == 400
    assert broken_mask.json()["error"].startswith(f"mask for {pack[0].style_names[3]}: "), broken_mask.json()


def test_another_sites_page_cannot_use_the_app(client: TestClient, photo: dict[str, Any], pack) -> None:
    data = encoded(sample_photo(W, H))
    foreign = client.post("/api/photos", files={"file": ("p.jpg", data)}, headers={"origin": "https://example.com"})
    assert foreign.status_code == 403 and "https://example.com" in foreign.json()["error"]
    own = client.post("/api/photos", files={"file": ("p.jpg", data)}, headers={"origin": "http://testserver"})
    assert own.status_code == 200, own.text
    s = json.dumps(settings(photo["id"], pack[0].num_styles))
    assert client.post("/api/render", files={"settings": (None, s)},
                       headers={"origin": "http://evil.test"}).status_code == 403


def test_uploads_over_the_limits_are_refused(pack) -> None:
    generator, encoder = pack
    limits = Limits(max_upload_bytes=40_000, max_pixels=200 * 150)
    with TestClient(create_app(generator, encoder, limits=limits)) as c:
        noise = (np.random.default_rng(0).random((160, 160, 3)) * 255).astype(np.uint8)
        data = encoded(noise, "PNG")  # ~77 KB
        big = upload(c, data, "noise.png")  # refused on its declared Content-Length
        assert big.status_code == 413 and "limit of 39 KB" in big.json()["error"], big.json()
        # Without a Content-Length (chunked), it is stopped while reading, and named.
        streamed = c.post("/api/photos", content=_multipart_chunks("noise.png", data),
                          headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"})
        assert streamed.status_code == 413, streamed.text
        assert streamed.json()["error"].startswith("noise.png: the upload is larger than the limit of 39 KB")
        many = upload(c, encoded(sample_photo(240, 180)), "wide.jpg")
        assert many.status_code == 400, many.text
        assert many.json()["error"] == ("wide.jpg: the image is 240×180 = 0.0 megapixels; the app takes up "
                                        "to 0.0 megapixels: downscale it first")


BOUNDARY = "stylefusion-test-boundary"


def _multipart_chunks(name: str, data: bytes) -> Any:
    """A multipart body as a generator: httpx then sends it chunked, with no Content-Length."""
    yield (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
           "Content-Type: image/png\r\n\r\n").encode()
    for i in range(0, len(data), 8192):
        yield data[i:i + 8192]
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def test_uploads_live_in_a_temporary_folder_removed_at_shutdown(pack) -> None:
    generator, encoder = pack
    app = create_app(generator, encoder)
    with TestClient(app) as c:
        folder = app.state.stylefusion.session.folder
        assert upload(c, encoded(sample_photo(W, H))).status_code == 200
        assert len(list(folder.iterdir())) == 1
    assert not folder.exists()


def test_the_cli_needs_the_app_extra_and_says_so(monkeypatch, capsys) -> None:
    from tf_stylefusion.cli import main

    monkeypatch.setitem(sys.modules, "uvicorn", None)  # `import uvicorn` now fails
    assert main(["app"]) == 2
    err = capsys.readouterr().err
    assert 'pip install "tf_stylefusion[app]"' in err and "uvicorn" in err and "Traceback" not in err
    assert err.count("\n") == 1


def test_the_cli_reports_a_taken_port_in_one_line(capsys) -> None:
    from tf_stylefusion.cli import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["app", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot listen on 127.0.0.1:{port}") and "--port" in err


def test_stylefusion_app_help_lists_host_and_port(capsys) -> None:
    from tf_stylefusion.cli import main

    with pytest.raises(SystemExit):
        main(["app", "--help"])
    out = capsys.readouterr().out
    assert "--port" in out and "--host" in out and "127.0.0.1" in out


def test_static_files_ship_as_package_data() -> None:
    import tomllib

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    data = pyproject["tool"]["setuptools"]["package-data"]["tf_stylefusion"]
    assert "app/static/*" in data
    extras = pyproject["project"]["optional-dependencies"]
    assert {d.split(">")[0] for d in extras["app"]} == {"starlette", "uvicorn", "python-multipart"}


def test_best_quality_repaints_from_the_one_selected_painting(client: TestClient, photo: dict[str, Any],
                                                               pack) -> None:
    names = list(pack[0].style_names)
    wave = names.index("wave")
    r = preview(client, settings(photo["id"], len(names), style=wave), url="/api/render-best")
    picture = image_of(r)
    assert picture.shape == (H, W, 3)
    assert "photo__wave_best.png" in r.headers["content-disposition"]
    # The synthesis' picture, not the generator's: made of the painting's patches.
    generated = image_of(preview(client, settings(photo["id"], len(names), style=wave)))
    assert mean_diff(picture, generated) > 0.03
    two = settings(photo["id"], len(names), bank=[1.0, 1.0] + [0.0] * (len(names) - 2))
    r = preview(client, two, url="/api/render-best")
    assert r.status_code == 400 and "one painting" in r.json()["error"]


def test_best_quality_takes_an_uploaded_painting(client: TestClient, photo: dict[str, Any], pack) -> None:
    stripes = np.zeros((80, 80, 3), np.float32)
    stripes[:, ::8] = [0.9, 0.8, 0.1]
    style = upload(client, encoded((stripes * 255).astype(np.uint8), "PNG"), "stripes.png", url="/api/styles").json()
    s = settings(photo["id"], len(pack[0].style_names), bank=[0.0] * len(pack[0].style_names),
                 style_images=[{"id": style["id"], "weight": 1.0}])
    picture = image_of(preview(client, s, url="/api/render-best"))
    # The painting's palette: yellow stripes on black, nothing of the photo's colours.
    assert picture.shape == (H, W, 3) and picture[..., 2].mean() < 0.1

"""`stylefusion app` in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``) driven by Selenium against the app served by uvicorn in a thread. A photo is
chosen through the file input, a slider moved, a region painted with the mouse, and the preview
and the downloaded full-size PNG must change accordingly."""

from __future__ import annotations

import base64
import io
import shutil
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
from PIL import Image

from ..helpers import missing_dependency, require_module
from .conftest import encoded, require_app_extra, sample_photo

require_app_extra()
require_module("selenium", "pip install 'tf_stylefusion[test]'")

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import TimeoutException, WebDriverException  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from tf_stylefusion.app.server import background_server, create_app  # noqa: E402

CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMEDRIVER = "/usr/bin/chromedriver"
PHOTO_W, PHOTO_H = 640, 480  # larger than the 512 px preview, so the render is a different size
TIMEOUT = 60


def chromium_paths() -> tuple[str, str]:
    binary = next((p for p in CHROMIUM if Path(p).is_file()), None) or shutil.which("chromium")
    driver = CHROMEDRIVER if Path(CHROMEDRIVER).is_file() else shutil.which("chromedriver")
    if not binary or not driver:
        missing_dependency("headless Chromium is not installed: apt-get install -y chromium chromium-driver")
    return binary, driver


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads: Path) -> Iterator[Any]:
    binary, driver_path = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                "--disable-gpu", "--no-first-run"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {
        "download.default_directory": str(downloads), "download.prompt_for_download": False,
        "profile.default_content_setting_values.automatic_downloads": 1})
    try:
        driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver_path))
    except WebDriverException as e:
        missing_dependency(f"headless Chromium does not start here: {e.msg}")
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def page(pack, browser: Any) -> Iterator[Any]:
    generator, encoder = pack
    with background_server(create_app(generator, encoder)) as url:
        browser.get(url)
        WebDriverWait(browser, TIMEOUT).until(lambda d: d.execute_script("return document.body.dataset.ready"))
        yield browser


def preview_version(driver: Any) -> int:
    return int(driver.execute_script("return document.getElementById('preview').dataset.version"))


def page_state(driver: Any) -> str:
    """What the page shows and holds, for a failure message."""
    return driver.execute_script("""
        const text = (id) => document.getElementById(id).textContent.trim();
        return `preview version ${document.getElementById('preview').dataset.version}, ` +
          `pending ${document.body.dataset.pending}, requests sent ${state.previewSeq}, ` +
          `shown ${state.shownSeq}, painted rows [${state.rows.flatMap((r, i) => r.painted ? [i] : [])}], ` +
          `status '${text('status')}', message '${text('message')}'`;""")


def wait_for_new_preview(driver: Any, after: int) -> None:
    """Until a preview newer than version ``after`` is on screen and none is pending."""
    try:
        WebDriverWait(driver, TIMEOUT).until(lambda d: preview_version(d) > after and d.execute_script(
            "return document.body.dataset.pending") == "0")
    except TimeoutException:
        raise AssertionError(f"no preview newer than version {after} in {TIMEOUT} s: {page_state(driver)}")


def preview_pixels(driver: Any) -> np.ndarray:
    """The preview <img>'s pixels, read back through a canvas."""
    url = driver.execute_script("""
        const img = document.getElementById('preview');
        const c = document.createElement('canvas');
        c.width = img.naturalWidth; c.height = img.naturalHeight;
        c.getContext('2d').drawImage(img, 0, 0);
        return c.toDataURL('image/png');""")
    data = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), np.float32) / 255.0


def set_slider(driver: Any, row: int, value: int) -> None:
    driver.execute_script("""
        const s = document.querySelector(`#styles .style-row[data-row="${arguments[0]}"] input.mix`);
        s.value = arguments[1];
        s.dispatchEvent(new Event('input', {bubbles: true}));""", row, value)


def paint_left_band(driver: Any, row: int) -> None:
    """Pick style ``row`` for the brush and paint the left third of the photo with the mouse."""
    driver.find_element(By.CSS_SELECTOR, f'#styles .style-row[data-row="{row}"] input.swatch').click()
    driver.execute_script("const b = document.getElementById('brush-size'); b.value = 160;"
                          "b.dispatchEvent(new Event('input', {bubbles: true}));")
    canvas = driver.find_element(By.ID, "paint")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
    w, h = canvas.size["width"], canvas.size["height"]
    x = -w // 2 + w // 8  # offsets are from the element's centre
    chain = ActionChains(driver, duration=20)
    chain.move_to_element_with_offset(canvas, x, -h // 2 + 4).click_and_hold()
    for y in range(-h // 2 + 4, h // 2 - 4, max(1, h // 10)):
        chain.move_to_element_with_offset(canvas, x, y)
    chain.move_to_element_with_offset(canvas, x, h // 2 - 5).release().perform()
    try:
        WebDriverWait(driver, 10).until(lambda d: d.execute_script(
            "return state.rows[arguments[0]].painted", row))
    except TimeoutException:
        raise AssertionError(f"the mouse stroke left no paint on the canvas: {page_state(driver)}")


def wait_for_download(folder: Path, count: int) -> Path:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        done = sorted((p for p in folder.iterdir() if p.suffix == ".png"), key=lambda p: p.stat().st_mtime)
        if len(done) >= count and not any(folder.glob("*.crdownload")):
            return done[-1]
        time.sleep(0.1)
    raise AssertionError(f"no download #{count} in {folder}: {sorted(p.name for p in folder.iterdir())}")


def render_and_download(driver: Any, folder: Path, count: int) -> np.ndarray:
    driver.find_element(By.ID, "render").click()
    path = wait_for_download(folder, count)
    time.sleep(0.2)  # the file is renamed from .crdownload when complete; let the rename settle
    return np.asarray(Image.open(path).convert("RGB"), np.float32) / 255.0


def test_slider_brush_and_download_in_headless_chromium(page: Any, downloads: Path, tmp_path: Path) -> None:
    driver = page
    photo = tmp_path / "harbour photo.jpg"
    photo.write_bytes(encoded(sample_photo(PHOTO_W, PHOTO_H, "coffee.jpg")))
    v0 = preview_version(driver)
    driver.find_element(By.ID, "photo-input").send_keys(str(photo))
    wait_for_new_preview(driver, v0)
    first = preview_pixels(driver)
    assert first.shape == (384, 512, 3)
    assert "harbour photo.jpg: 640×480" in driver.find_element(By.ID, "photo-info").text

    # The mix: from the first style to the sixth.
    v1 = preview_version(driver)
    set_slider(driver, 5, 100)
    set_slider(driver, 0, 0)
    wait_for_new_preview(driver, v1)
    mixed = preview_pixels(driver)
    assert np.abs(mixed - first).mean() > 0.05
    before = render_and_download(driver, downloads, 1)
    assert before.shape == (PHOTO_H, PHOTO_W, 3)

    # The brush: the left band gets the third style, the rest keeps the mix.
    v2 = preview_version(driver)
    paint_left_band(driver, 2)
    wait_for_new_preview(driver, v2)
    painted = preview_pixels(driver)
    diff = np.abs(painted - mixed).mean(axis=2)
    left, right = diff[:, :40].mean(), diff[:, 200:].mean()
    assert left > 0.05 and left > 4 * right, (left, right)

    after = render_and_download(driver, downloads, 2)
    assert after.shape == (PHOTO_H, PHOTO_W, 3)
    full_diff = np.abs(after - before).mean(axis=2)
    assert full_diff[:, :50].mean() > 0.05 and full_diff[:, :50].mean() > 4 * full_diff[:, 250:].mean()
    assert driver.find_element(By.ID, "message").is_displayed() is False


def test_a_corrupt_photo_shows_a_message_on_the_page(page: Any, tmp_path: Path) -> None:
    driver = page
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(encoded(sample_photo(96, 64))[:300])
    driver.find_element(By.ID, "photo-input").send_keys(str(bad))
    WebDriverWait(driver, TIMEOUT).until(lambda d: d.find_element(By.ID, "message").is_displayed())
    text = driver.find_element(By.ID, "message").text
    assert text.startswith("broken.jpg: ") and "corrupt" in text and "Traceback" not in text
    # Seen without scrolling, in a 1280×800 window: the message and the render's status.
    driver.set_window_size(1280, 800)
    for element in ("message", "status", "render"):
        top, bottom, height = driver.execute_script(
            f"const r = document.getElementById('{element}').getBoundingClientRect();"
            "return [r.top, r.bottom, window.innerHeight];")
        assert 0 <= top and bottom <= height, f"#{element} at {top:.0f}-{bottom:.0f} px, window {height} px"

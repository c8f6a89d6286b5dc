"""The README's screenshot of `stylefusion app`: the ready-made pack served in a thread (loaded and
warmed up as the command does), driven by headless Chromium (Debian's ``chromium`` and
``chromium-driver``, through Selenium): a bundled photo, a two-style mix, a painted region, the
live preview and a full-size render.

    python scripts/app_screenshot.py [--out docs/app/screenshot.png] [--photo coffee.jpg]

The PNG is palette-quantised (256 colours) to stay small.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from PIL import Image  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from tf_stylefusion.app.server import background_server, load_app  # noqa: E402
from tf_stylefusion.data.samples import samples_dir  # noqa: E402
from tf_stylefusion.pretrained import pack_dir  # noqa: E402

WIDTH, HEIGHT = 1200, 800
MIX = {"wave": 60, "udnie": 40}
BRUSH_STYLE = "the_scream"


def chromium(downloads: Path) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--hide-scrollbars",
                f"--window-size={WIDTH},{HEIGHT + 200}"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(options=options,
                              service=webdriver.ChromeService(executable_path="/usr/bin/chromedriver"))
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False})
    return driver


def settle(driver: webdriver.Chrome, after: int) -> None:
    """Wait until a preview newer than version ``after`` is shown and none is pending."""
    WebDriverWait(driver, 120).until(lambda d: d.execute_script(
        "return Number(document.getElementById('preview').dataset.version) > arguments[0] && "
        "document.body.dataset.pending === '0'", after))


def version(driver: webdriver.Chrome) -> int:
    return int(driver.execute_script("return document.getElementById('preview').dataset.version"))


def row_of(driver: webdriver.Chrome, style: str) -> int:
    names = driver.execute_script(
        "return [...document.querySelectorAll('#styles .style-row .name')].map(e => e.textContent)")
    return names.index(style)


def set_slider(driver: webdriver.Chrome, row: int, value: int) -> None:
    driver.execute_script("""
        const s = document.querySelector(`#styles .style-row[data-row="${arguments[0]}"] input.mix`);
        s.value = arguments[1]; s.dispatchEvent(new Event('input', {bubbles: true}));""", row, value)


def paint(driver: webdriver.Chrome, row: int) -> None:
    """A thick stroke of style ``row`` over the lower left of the photo."""
    driver.find_element(By.CSS_SELECTOR, f'#styles .style-row[data-row="{row}"] input.swatch').click()
    canvas = driver.find_element(By.ID, "paint")
    w, h = canvas.size["width"], canvas.size["height"]
    chain = ActionChains(driver, duration=15)
    chain.move_to_element_with_offset(canvas, -w // 2 + 20, h // 2 - 30).click_and_hold()
    for i in range(12):
        chain.move_to_element_with_offset(canvas, -w // 2 + 20 + i * w // 30, h // 2 - 30 - i * h // 40)
    chain.release().perform()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/app/screenshot.png")
    ap.add_argument("--photo", default="coffee.jpg", help="a bundled sample photo")
    args = ap.parse_args()
    app = load_app(pack_dir())  # as `stylefusion app` does, warm-up included
    with tempfile.TemporaryDirectory() as tmp, background_server(app) as url:
        driver = chromium(Path(tmp))
        try:
            driver.get(url)
            WebDriverWait(driver, 60).until(lambda d: d.execute_script("return document.body.dataset.ready"))
            v = version(driver)
            driver.find_element(By.ID, "photo-input").send_keys(str(samples_dir() / "content" / args.photo))
            settle(driver, v)
            v = version(driver)
            for style, weight in MIX.items():
                set_slider(driver, row_of(driver, style), weight)
            set_slider(driver, 0, 0)
            settle(driver, v)
            v = version(driver)
            driver.execute_script("const b = document.getElementById('brush-size'); b.value = 90;"
                                  "b.dispatchEvent(new Event('input', {bubbles: true}));")
            paint(driver, row_of(driver, BRUSH_STYLE))
            settle(driver, v)
            driver.find_element(By.ID, "render").click()
            WebDriverWait(driver, 120).until(
                lambda d: d.find_element(By.ID, "status").text.startswith("Rendered"))
            driver.execute_script("window.scrollTo(0, 0)")
            time.sleep(0.3)
            shot = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
        finally:
            driver.quit()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    shot.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG).save(
        out, optimize=True)
    print(f"{out}: {shot.size[0]}x{shot.size[1]}, {out.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    sys.exit(main())

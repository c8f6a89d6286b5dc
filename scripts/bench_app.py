"""`stylefusion app` with the ready-made pack, through the app's own routes (Starlette's
TestClient: multipart parsing, settings, stylization, PNG encoding; no network): the live
preview's latency at 512 px and the peak memory of a 16 MP full-size render.

    python scripts/bench_app.py [--requests 20] [--width 4896 --height 3264]

Preview: median and p90 over ``--requests`` requests after two warm-ups, for a one-hot style, a
3-way mix, a painted region (the mask the page sends: the left third, another style) and
strength 0.5; "stylize" is the server's own time (X-Render-Ms: stylization and PNG encoding),
"request" the whole round trip. Render: each case in its own process, so its peak RSS
(ru_maxrss, Linux: KiB) is its own; TensorFlow and the pack alone take a few hundred MiB.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from timing import machine_line, median_seconds  # noqa: E402  (scripts/timing.py)

SAMPLE = "astronaut.jpg"  # 512x512: the largest preview area


def photo_bytes(width: int, height: int) -> bytes:
    """A bundled sample photo resized to ``width``×``height``, as a JPEG file's bytes."""
    from tf_stylefusion.data.samples import samples_dir

    with Image.open(samples_dir() / "content" / SAMPLE) as im:
        big = im.convert("RGB").resize((width, height), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    big.save(buf, format="JPEG", quality=92)
    return buf.getvalue()


def mask_bytes(width: int, height: int) -> bytes:
    """The left third painted, as the page sends it (a greyscale PNG at the preview's size)."""
    m = Image.new("L", (width, height), 0)
    m.paste(255, (0, 0, width // 3, height))
    buf = io.BytesIO()
    m.save(buf, format="PNG")
    return buf.getvalue()


def client_for_pack(textures: bool = True, abstraction: bool = True) -> tuple[Any, int]:
    import warnings

    with warnings.catch_warnings():  # Starlette >= 1.0 prefers httpx2; httpx still works
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    from tf_stylefusion.app.server import create_app
    from tf_stylefusion.pretrained import load_pack

    generator, encoder = load_pack()
    if not textures:  # the pack as it was before its brushwork tiles, for comparison
        generator.set_textures(None)
    if not abstraction:  # the tiles without the abstraction filter, for comparison
        from tf_stylefusion.config import GeneratorSettings

        generator = generator.with_settings(GeneratorSettings(abstraction=0.0))
    return TestClient(create_app(generator, encoder)), generator.num_styles


def upload(client: Any, data: bytes) -> dict[str, Any]:
    r = client.post("/api/photos", files={"file": ("photo.jpg", data, "image/jpeg")})
    if r.status_code != 200:
        sys.exit(f"upload failed: {r.text}")
    return r.json()


def cases(photo: dict[str, Any], n: int) -> dict[str, tuple[dict[str, Any], list[bytes]]]:
    one_hot = [1.0] + [0.0] * (n - 1)
    three = [1 / 3] * 3 + [0.0] * (n - 3)
    base = {"photo": photo["id"], "bank": one_hot, "strength": 1.0, "color": "off", "masks": []}
    mask = mask_bytes(photo["preview_width"], photo["preview_height"])
    return {
        "one-hot": (base, []),
        "3-way mix": ({**base, "bank": three}, []),
        "painted region": ({**base, "masks": [2]}, [mask]),
        "strength 0.5": ({**base, "strength": 0.5}, []),
        "region+0.5+luminance": ({**base, "masks": [2], "strength": 0.5, "color": "luminance"}, [mask]),
    }


def post(client: Any, url: str, settings: dict[str, Any], masks: list[bytes]) -> Any:
    files = [("settings", (None, json.dumps(settings)))] + [("mask", ("mask.png", m, "image/png")) for m in masks]
    r = client.post(url, files=files)
    if r.status_code != 200:
        sys.exit(f"{url} failed: {r.text}")
    return r


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def bench_previews(requests: int, textures: bool = True, abstraction: bool = True) -> None:
    client, n = client_for_pack(textures, abstraction)
    with client:
        photo = upload(client, photo_bytes(512, 512))
        print(f"preview {photo['preview_width']}x{photo['preview_height']}, pack ({n} styles), "
              f"{requests} requests after 2 warm-ups:")
        print(f"  {'case':<30} {'request median':>15} {'p90':>7} {'stylize median':>15} {'p90':>7}")
        for name, (settings, masks) in cases(photo, n).items():
            for _ in range(2):
                post(client, "/api/preview", settings, masks)
            wall, server = [], []
            for _ in range(requests):
                start = time.perf_counter()
                r = post(client, "/api/preview", settings, masks)
                wall.append((time.perf_counter() - start) * 1000)
                server.append(float(r.headers["X-Render-Ms"]))
            print(f"  {name:<30} {statistics.median(wall):>12.0f} ms {percentile(wall, 90):>4.0f} ms "
                  f"{statistics.median(server):>12.0f} ms {percentile(server, 90):>4.0f} ms")


def style_image_bytes() -> bytes:
    """A bundled pack painting as an uploaded style image (the page's "add a style image")."""
    from tf_stylefusion.synthesis.files import bundled_painting

    return bundled_painting("wave").read_bytes()


def first_use_steps(photo: dict[str, Any], n: int, style_id: str) -> list[tuple[str, dict[str, Any], list[bytes]]]:
    """The controls in the order a new user meets them on the page, each step keeping the ones
    before it, as the page does."""
    one_hot = [1.0] + [0.0] * (n - 1)
    mask = mask_bytes(photo["preview_width"], photo["preview_height"])
    s: dict[str, Any] = {"photo": photo["id"], "bank": one_hot, "strength": 1.0, "color": "off", "masks": []}
    steps = [("first preview", dict(s), [])]
    s["bank"] = [1 / 3] * 3 + [0.0] * (n - 3)
    steps.append(("3-way mix", dict(s), []))
    s["texture"] = 0.0
    steps.append(("brushwork 0", dict(s), []))
    s["style_images"] = [{"id": style_id, "weight": 1.0}]
    steps.append(("a style image", dict(s), []))
    s["masks"] = [2]
    steps.append(("painted region", dict(s), [mask]))
    s["strength"] = 0.5
    steps.append(("strength 0.5", dict(s), [mask]))
    s["color"] = "luminance"
    steps.append(("luminance", dict(s), [mask]))
    s["color"] = "histogram"
    steps.append(("histogram", dict(s), [mask]))
    return steps


def bench_first_use() -> None:
    """Each control's first preview on a fresh app, warmed up as ``stylefusion app`` warms it
    (``load_app``), then a second photo of another shape with every control on."""
    from tf_stylefusion.app.rendering import warm_up

    client, n = client_for_pack()
    state = client.app.state.stylefusion
    start = time.perf_counter()
    warm_up(state.generator, state.encoder)
    print(f"first use of each control, 512 px previews (start-up warm-up {time.perf_counter() - start:.1f} s):")
    with client:
        photo = upload(client, photo_bytes(512, 512))
        start = time.perf_counter()
        r = client.post("/api/styles", files={"file": ("painting.jpg", style_image_bytes(), "image/jpeg")})
        if r.status_code != 200:
            sys.exit(f"style image upload failed: {r.text}")
        print(f"  {'adding a style image':<30} {(time.perf_counter() - start) * 1000:>6.0f} ms (upload and its row)")
        style_id = r.json()["id"]
        steps = first_use_steps(photo, n, style_id)
        other = upload(client, photo_bytes(512, 384))
        last = {**steps[-1][1], "photo": other["id"]}
        steps.append(("another photo, all on", last, [mask_bytes(other["preview_width"], other["preview_height"])]))
        print(f"  {'step':<30} {'first':>8} {'then (median of 5)':>20}")
        for name, settings, masks in steps:
            start = time.perf_counter()
            post(client, "/api/preview", settings, masks)
            first = (time.perf_counter() - start) * 1000
            warm = median_seconds(lambda: post(client, "/api/preview", settings, masks), 5) * 1000
            print(f"  {name:<30} {first:>5.0f} ms {warm:>17.0f} ms")


def render_child(width: int, height: int, case: str, textures: bool, abstraction: bool) -> None:
    """One full-size render in this process; prints a JSON line with its figures."""
    client, n = client_for_pack(textures, abstraction)
    with client:
        photo = upload(client, photo_bytes(width, height))
        settings, masks = cases(photo, n)[case]
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        start = time.perf_counter()
        r = post(client, "/api/render", settings, masks)
        seconds = time.perf_counter() - start
        with Image.open(io.BytesIO(r.content)) as im:
            size = im.size
    print(json.dumps({"case": case, "seconds": seconds, "size": size, "png_mb": len(r.content) / 2**20,
                      "before_mib": before,
                      "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def bench_renders(width: int, height: int, which: list[str], flags: list[str]) -> None:
    print(f"full-size render {width}x{height} ({width * height / 1e6:.1f} MP), each in its own process:")
    for case in which:
        out = subprocess.run([sys.executable, __file__, "--render-child", case, "--width", str(width),
                              "--height", str(height)] + flags,
                             capture_output=True, text=True)
        lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
        if out.returncode or not lines:
            sys.exit(f"render {case} failed:\n{out.stderr[-3000:]}")
        r = json.loads(lines[-1])
        print(f"  {case:<30} {r['seconds']:6.1f} s, peak RSS {r['peak_mib']:.0f} MiB (after the upload "
              f"{r['before_mib']:.0f} MiB), PNG {r['png_mb']:.1f} MB, {r['size'][0]}x{r['size'][1]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--width", type=int, default=4896)
    ap.add_argument("--height", type=int, default=3264)
    ap.add_argument("--renders", default="one-hot,region+0.5+luminance",
                    help="comma-separated cases to render at full size ('' for none)")
    ap.add_argument("--skip-previews", action="store_true")
    ap.add_argument("--skip-first-use", action="store_true")
    ap.add_argument("--no-textures", action="store_true", help="the pack without its brushwork tiles")
    ap.add_argument("--no-abstraction", action="store_true",
                    help="the tiles without the abstraction under them (abstraction 0)")
    ap.add_argument("--render-child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    textures, abstraction = not args.no_textures, not args.no_abstraction
    if args.render_child:
        render_child(args.width, args.height, args.render_child, textures, abstraction)
        return
    print(machine_line())
    if not args.skip_first_use:
        bench_first_use()
    if not args.skip_previews:
        bench_previews(args.requests, textures, abstraction)
    if args.renders:
        flags = (["--no-textures"] if args.no_textures else []) + (["--no-abstraction"] if args.no_abstraction else [])
        bench_renders(args.width, args.height, [c.strip() for c in args.renders.split(",") if c.strip()], flags)


if __name__ == "__main__":
    main()

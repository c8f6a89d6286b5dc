#!/usr/bin/env python3
"""REST client for a tf_stylefusion model served by TF Serving (standard library + Pillow/numpy).

    python export/rest_client.py photo.jpg --style wave:0.7,udnie:0.3 --out stylized.png \
        [--server http://localhost:8501] [--model stylefusion]

Sends the encoded image file as {"b64": ...} to the ``stylize_bytes`` signature and writes the
PNG it returns. Style names come from the model's ``style_names`` signature (or ``--names``).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import sys
import urllib.error
import urllib.request
from typing import Mapping, Sequence

BYTES_SIGNATURE = "stylize_bytes"
NAMES_SIGNATURE = "style_names"


def style_vector(weights: Mapping[str, float], names: Sequence[str]) -> list[float]:
    """``{"wave": 0.7}`` → one weight per style, in the model's order (the server normalises)."""
    vector = [0.0] * len(names)
    for name, value in weights.items():
        if name not in names:
            raise ValueError(f"unknown style {name!r}; the model has: {', '.join(names)}")
        vector[list(names).index(name)] += float(value)
    return vector


def parse_style(spec: str) -> dict[str, float]:
    """``"wave:0.7,udnie:0.3"`` → ``{"wave": 0.7, "udnie": 0.3}`` (a bare name weighs 1)."""
    out: dict[str, float] = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name, _, value = item.partition(":")
        out[name] = out.get(name, 0.0) + float(value or 1.0)
    return out


def build_request(files: Sequence[bytes], weights: Mapping[str, float], names: Sequence[str]) -> str:
    """The JSON body for ``POST /v1/models/NAME:predict``: one instance per encoded image."""
    vector = style_vector(weights, names)
    return json.dumps({
        "signature_name": BYTES_SIGNATURE,
        "instances": [{"image_bytes": {"b64": base64.b64encode(data).decode("ascii")},
                       "style_weights": vector} for data in files],
    })


def parse_response(text: str) -> list:
    """The ``predictions`` of a response → uint8 ``[H, W, 3]`` numpy arrays."""
    import numpy as np
    from PIL import Image

    images = []
    for row in json.loads(text)["predictions"]:
        value = row.get("stylized_bytes", row) if isinstance(row, dict) else row
        data = base64.b64decode(value["b64"])
        images.append(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
    return images


def post(url: str, body: str, timeout: float = 120.0) -> str:
    request = urllib.request.Request(url, data=body.encode("utf-8"),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read().decode("utf-8")
    except urllib.error.HTTPError as e:  # TF Serving puts the graph's message in the body
        raise SystemExit(f"error: server said {e.code}: {e.read().decode('utf-8', 'replace')}") from None
    except urllib.error.URLError as e:
        raise SystemExit(f"error: cannot reach {url}: {e.reason}") from None


def fetch_style_names(base: str) -> list[str]:
    body = json.dumps({"signature_name": NAMES_SIGNATURE, "inputs": {}})
    outputs = json.loads(post(f"{base}:predict", body))["outputs"]
    return list(outputs["style_names"] if isinstance(outputs, dict) else outputs)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", nargs="+", help="JPEG/PNG files")
    ap.add_argument("--style", required=True, help="NAME[:W][,NAME[:W]...]")
    ap.add_argument("--out", required=True, help="output PNG (one image) or folder (several)")
    ap.add_argument("--server", default="http://localhost:8501")
    ap.add_argument("--model", default="stylefusion")
    ap.add_argument("--names", help="style names, comma-separated (default: ask the model)")
    args = ap.parse_args(argv)
    base = f"{args.server.rstrip('/')}/v1/models/{args.model}"
    names = args.names.split(",") if args.names else fetch_style_names(base)
    files = []
    for path in args.images:
        with open(path, "rb") as f:
            files.append(f.read())
    try:
        body = build_request(files, parse_style(args.style), names)
    except ValueError as e:
        print(f"error: --style {args.style!r}: {e}", file=sys.stderr)
        return 2
    from pathlib import Path

    from PIL import Image

    outputs = parse_response(post(f"{base}:predict", body))
    out = Path(args.out)
    targets = [out] if len(outputs) == 1 and out.suffix else [out / (Path(p).stem + ".png") for p in args.images]
    for image, target in zip(outputs, targets):
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(target)
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

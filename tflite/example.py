#!/usr/bin/env python3
"""Minimal LiteRT example: stylize one photo with a tf_stylefusion .tflite file.

    pip install ai-edge-litert numpy pillow
    python tflite/example.py stylefusion_fp16.tflite photo.jpg out.png --weights 0.7,0,0.3 [--threads 2]

Needs neither TensorFlow nor tf_stylefusion: this is what an app does on the device. Works on
every mode's file, float or uint8 I/O.
"""

from __future__ import annotations

import argparse

import numpy as np
from ai_edge_litert.interpreter import Interpreter
from PIL import Image


def as_input(values: np.ndarray, detail: dict) -> np.ndarray:
    """Float values as the input's dtype: float32 files take them as they are; a uint8 file
    (``--tflite-io uint8``) takes ``round(v / scale) + zero_point`` (raw pixels for its images)."""
    if detail["dtype"] == np.float32:
        return values.astype(np.float32)
    scale, zero = detail["quantization"]
    return np.clip(np.round(values / scale) + zero, 0, 255).astype(detail["dtype"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("image")
    ap.add_argument("out")
    ap.add_argument("--weights", required=True, help="one weight per style, comma-separated")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    interpreter = Interpreter(model_path=args.model, num_threads=args.threads)  # XNNPACK on CPU
    inputs = interpreter.get_signature_runner("serving_default").get_input_details()
    output = interpreter.get_signature_runner("serving_default").get_output_details()["stylized"]

    pixels = np.asarray(Image.open(args.image).convert("RGB"))[None]                      # [1,H,W,3] uint8
    weights = np.array([[float(w) for w in args.weights.split(",")]], np.float32)        # [1,N]
    if weights.shape[1] != inputs["style_weights"]["shape"][1] or (weights < 0).any() or weights.sum() <= 0:
        raise SystemExit(f"error: give {inputs['style_weights']['shape'][1]} non-negative weights, not all zero")
    weights = weights / weights.sum()

    # The file accepts any H, W >= 32: resize the input, then (re)allocate.
    interpreter.resize_tensor_input(inputs["images"]["index"], pixels.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inputs["images"]["index"], as_input(pixels / 255.0, inputs["images"]))
    interpreter.set_tensor(inputs["style_weights"]["index"], as_input(weights, inputs["style_weights"]))
    interpreter.invoke()
    stylized = interpreter.get_tensor(output["index"])[0]
    if stylized.dtype != np.float32:  # an int8 file exported with --tflite-io uint8
        scale, zero = output["quantization"]
        stylized = (stylized.astype(np.float32) - zero) * scale                          # [H,W,3] in [0,1]
    Image.fromarray((np.clip(stylized, 0, 1) * 255 + 0.5).astype(np.uint8)).save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

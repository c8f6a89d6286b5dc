#!/usr/bin/env python3
"""Minimal LiteRT example: stylize one photo with a tf_stylefusion .tflite file.

    pip install ai-edge-litert numpy pillow
    python tflite/example.py stylefusion_fp16.tflite photo.jpg out.png --weights 0.7,0,0.3 [--threads 2]

Needs neither TensorFlow nor tf_stylefusion: this is what an app does on the device.
"""

from __future__ import annotations

import argparse

import numpy as np
from ai_edge_litert.interpreter import Interpreter
from PIL import Image


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

    image = np.asarray(Image.open(args.image).convert("RGB"), np.float32)[None] / 255.0  # [1,H,W,3]
    weights = np.array([[float(w) for w in args.weights.split(",")]], np.float32)        # [1,N]
    if weights.shape[1] != inputs["style_weights"]["shape"][1] or (weights < 0).any() or weights.sum() <= 0:
        raise SystemExit(f"error: give {inputs['style_weights']['shape'][1]} non-negative weights, not all zero")

    # The file accepts any H, W >= 32: resize the input, then (re)allocate.
    interpreter.resize_tensor_input(inputs["images"]["index"], image.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inputs["images"]["index"], image)
    interpreter.set_tensor(inputs["style_weights"]["index"], weights)
    interpreter.invoke()
    stylized = interpreter.get_tensor(output["index"])[0]                                # [H,W,3] in [0,1]
    Image.fromarray((np.clip(stylized, 0, 1) * 255 + 0.5).astype(np.uint8)).save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""gRPC client for a tf_stylefusion model served by TF Serving.

    pip install tensorflow-serving-api     # optional: only this client needs it
    python export/grpc_client.py photo.jpg --style wave:0.7,udnie:0.3 --out stylized.png \
        [--server localhost:8500] [--model stylefusion]

Uses the uint8 ``serving_default`` signature (no JPEG/PNG coding on the server); style names
come from the model's ``style_names`` signature.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence


def _imports():
    try:
        import grpc
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc
    except ImportError as e:  # the serving API is an optional install
        raise SystemExit(f"error: {e.name} is missing; pip install tensorflow-serving-api") from None
    return grpc, tf, predict_pb2, prediction_service_pb2_grpc


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("image")
    ap.add_argument("--style", required=True, help="NAME[:W][,NAME[:W]...]")
    ap.add_argument("--out", required=True)
    ap.add_argument("--server", default="localhost:8500")
    ap.add_argument("--model", default="stylefusion")
    ap.add_argument("--timeout", type=float, default=120.0)
    args = ap.parse_args(argv)
    grpc, tf, predict_pb2, service = _imports()
    import numpy as np
    from PIL import Image

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from rest_client import parse_style, style_vector  # same weight handling as REST

    stub = service.PredictionServiceStub(grpc.insecure_channel(args.server))

    names_request = predict_pb2.PredictRequest()
    names_request.model_spec.name = args.model
    names_request.model_spec.signature_name = "style_names"
    try:
        names = [n.decode() for n in tf.make_ndarray(
            stub.Predict(names_request, args.timeout).outputs["style_names"])]
    except grpc.RpcError as e:  # server down, unknown model name, ...
        print(f"error: {args.server} model {args.model!r}: {e.code().name}: {e.details()}", file=sys.stderr)
        return 1
    try:
        weights = style_vector(parse_style(args.style), names)
    except ValueError as e:
        print(f"error: --style {args.style!r}: {e}", file=sys.stderr)
        return 2

    image = np.asarray(Image.open(args.image).convert("RGB"), dtype=np.uint8)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = args.model
    request.model_spec.signature_name = "serving_default"
    request.inputs["images"].CopyFrom(tf.make_tensor_proto(image[None]))
    request.inputs["style_weights"].CopyFrom(tf.make_tensor_proto(np.array([weights], np.float32)))
    try:
        response = stub.Predict(request, args.timeout)
    except grpc.RpcError as e:  # bad weights: the graph's assertion message comes back here
        print(f"error: {e.code().name}: {e.details()}", file=sys.stderr)
        return 1
    Image.fromarray(tf.make_ndarray(response.outputs["stylized"])[0]).save(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

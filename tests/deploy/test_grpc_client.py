"""export/grpc_client.py over real gRPC against the exported SavedModel.

The TF Serving binary is not installable here, so an in-process gRPC server answers TF Serving's
PredictionService the way the model server does: TensorProtos → the named signature → TensorProtos,
graph errors as INVALID_ARGUMENT, an unknown model as NOT_FOUND. The client, the protos and the
transport are the real ones.
"""

from __future__ import annotations

import importlib.util
from concurrent import futures
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tf_stylefusion.data.images import to_uint8
from tf_stylefusion.deploy.saved_model import export_saved_model
from tf_stylefusion.models.generator import StyleFusionGenerator

from ..conftest import texture
from ..helpers import distinct_styles_generator, require_module

grpc = require_module("grpc", "pip install grpcio (TensorFlow brings it)")
require_module("tensorflow_serving.apis", "pip install --no-deps tensorflow-serving-api (README test command)")
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["wave", "scream"]
MODEL = "stylefusion"


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, saved_model: Path):
        self.model = tf.saved_model.load(str(saved_model))

    def Predict(self, request, context):  # noqa: N802 (gRPC method name)
        if request.model_spec.name != MODEL:
            context.abort(grpc.StatusCode.NOT_FOUND,
                          f"Servable not found for request: Latest({request.model_spec.name})")
        signature = self.model.signatures[request.model_spec.signature_name or "serving_default"]
        inputs = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
        try:
            outputs = signature(**inputs)
        except tf.errors.InvalidArgumentError as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, e.message)
        response = predict_pb2.PredictResponse()
        response.model_spec.CopyFrom(request.model_spec)
        for name, tensor in outputs.items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(tensor.numpy()))
        return response


@pytest.fixture(scope="module")
def generator() -> StyleFusionGenerator:
    return distinct_styles_generator(NAMES, seed=5, bank_seed=2)


@pytest.fixture(scope="module")
def server(generator, tmp_path_factory):
    saved = export_saved_model(generator, tmp_path_factory.mktemp("serving") / MODEL / "1")
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionService(saved), srv)
    port = srv.add_insecure_port("127.0.0.1:0")
    srv.start()
    yield f"127.0.0.1:{port}"
    srv.stop(None)


@pytest.fixture(scope="module")
def client():
    spec = importlib.util.spec_from_file_location("grpc_client", ROOT / "export" / "grpc_client.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_grpc_client_gets_the_model_output(generator, server, client, tmp_path) -> None:
    photo = texture("photo", 44, seed=3)[:, :40]
    Image.fromarray(photo).save(tmp_path / "photo.png")
    out = tmp_path / "out.png"
    assert client.main([str(tmp_path / "photo.png"), "--style", "wave:0.25,scream:0.75",
                        "--out", str(out), "--server", server]) == 0
    got = np.asarray(Image.open(out))
    expected = to_uint8(generator((photo[None].astype(np.float32) / 255.0, np.array([[0.25, 0.75]])),
                                  training=False).numpy())[0]
    assert got.shape == (44, 40, 3) and np.abs(got.astype(int) - expected.astype(int)).max() <= 1


def test_grpc_client_reports_errors_in_one_line(server, client, tmp_path, capsys) -> None:
    Image.fromarray(texture("photo", 40)).save(tmp_path / "p.png")
    args = [str(tmp_path / "p.png"), "--out", str(tmp_path / "o.png"), "--server", server]
    assert client.main(args + ["--style", "monet"]) == 2
    assert "unknown style 'monet'" in capsys.readouterr().err
    # Negative weights pass the client; the graph's own check answers, as TF Serving would relay it.
    assert client.main(args + ["--style", "wave:-1"]) == 1
    err = capsys.readouterr().err
    assert "INVALID_ARGUMENT" in err and "negative" in err
    assert client.main(args + ["--style", "wave", "--model", "other"]) == 1
    assert "NOT_FOUND" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()

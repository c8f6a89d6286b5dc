"""The LiteRT interpreter every TFLite reader here runs on: the runner and parity
(``tflite.py``) and the range search (``ranges.py``) both take it from this module, so neither
imports the other for it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..errors import ModelFileError

log = logging.getLogger(__name__)


def make_interpreter(model: str | Path | bytes, num_threads: int = 2, preserve_all_tensors: bool = False) -> Any:
    """A LiteRT interpreter (XNNPACK on CPU) for a .tflite file or flatbuffer.

    ``preserve_all_tensors`` keeps every intermediate tensor readable after ``invoke`` (for
    inspecting a model's feature maps, as ``ranges.collect_values`` does).

    Falls back to the deprecated ``tf.lite.Interpreter`` only where ``ai-edge-litert`` is missing.
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - depends on the environment
        log.warning("ai-edge-litert is not installed (pip install 'tf_stylefusion[tflite]'); "
                    "using the deprecated tf.lite.Interpreter")
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    kwargs: dict[str, Any] = {"num_threads": num_threads}
    if preserve_all_tensors:
        kwargs["experimental_preserve_all_tensors"] = True
    if isinstance(model, (bytes, bytearray)):
        kwargs["model_content"] = bytes(model)
    else:
        if not Path(model).is_file():
            raise ModelFileError(f"{model}: no such .tflite file")
        kwargs["model_path"] = str(model)
    try:
        return Interpreter(**kwargs)
    except ValueError as e:
        raise ModelFileError(f"{model if not isinstance(model, bytes) else '<bytes>'}: "
                             f"not a TFLite model ({e})") from e

"""tf.distribute and mixed precision."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tf_stylefusion.config import TrainConfig
from tf_stylefusion.errors import ConfigError
from tf_stylefusion.training.distribute import is_chief, make_strategy, precision_policy
from tf_stylefusion.training.run import build_gan

from .test_training import fixed_batch, style_images, tiny_config

ROOT = Path(__file__).resolve().parents[2]


def test_two_replicas_equal_one_replica_with_same_global_batch() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, str(ROOT / "tests" / "training" / "dist_equivalence.py")], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    # same data, same init, same global batch: same weights up to float reduction order
    assert result["max_abs_diff"] < 1e-5 * max(1.0, result["max_abs_weight"]), result
    assert abs(result["g_loss_single"] - result["g_loss_mirrored"]) < 1e-4, result


@pytest.mark.parametrize("precision,dtype", [("fp16", "float16"), ("bf16", "bfloat16")])
def test_mixed_precision_trains_with_float32_outputs(precision: str, dtype: str) -> None:
    cfg = tiny_config(2)
    cfg.training.precision = precision
    gan = build_gan(cfg, style_images())
    assert gan.generator.compute_dtype == dtype
    assert gan.generator.bank.table.dtype == "float32"  # variables stay float32
    logs = gan.train_step(fixed_batch())
    logs = gan.train_step(fixed_batch())
    assert all(np.isfinite(float(v)) for v in logs.values())
    out = gan.generator((fixed_batch()[0], tf.one_hot([0, 1], 2)))
    assert out.dtype == tf.float32
    if precision == "fp16":
        assert "LossScaleOptimizer" in type(gan.g_optimizer).__name__
    # the global policy is restored after building
    import keras
    assert keras.mixed_precision.global_policy().name == "float32"


def test_strategy_and_precision_names_are_validated(monkeypatch) -> None:
    with pytest.raises(ConfigError, match="strategy"):
        TrainConfig(strategy="horovod")
    with pytest.raises(ConfigError, match="precision"):
        TrainConfig(precision="int4")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="TF_CONFIG"):
        make_strategy("multiworker")
    with pytest.raises(ConfigError):
        with precision_policy("fp8"):
            pass
    assert is_chief(tf.distribute.get_strategy())

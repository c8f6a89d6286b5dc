"""MultiWorkerMirroredStrategy: two worker processes on 127.0.0.1 train one model in lock-step."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

from ..test_cli import train_args

ROOT = Path(__file__).resolve().parents[2]


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def generator_weights(checkpoint_dir: Path) -> dict[str, np.ndarray]:
    reader = tf.train.load_checkpoint(str(checkpoint_dir))
    # The checkpoint reaches G's variables through the G optimizer's variable list.
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
            if k.startswith("g_optimizer/_trainable_variables/")}


def test_two_workers_train_in_lock_step(image_folders, tmp_path: Path) -> None:
    run = tmp_path / "run"
    workers = [f"127.0.0.1:{p}" for p in free_ports(2)]
    args = train_args(image_folders, run, steps=4) + ["--strategy", "multiworker"]
    procs = []
    for index in range(2):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CONFIG": json.dumps(
            {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})}
        procs.append(subprocess.Popen([sys.executable, "-m", "tf_stylefusion.cli", *args], cwd=ROOT,
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
        assert "trained 4 steps" in out
    # the chief (worker 0) owns the run folder; worker 1 checkpoints beside it
    assert (run / "generator.keras").is_file() and list((run / "samples").glob("step_*.png"))
    chief, other = generator_weights(run / "checkpoints"), generator_weights(run / "workers" / "task_1")
    assert chief.keys() == other.keys() and len(chief) > 5
    for name in chief:  # synchronous all-reduce: both replicas hold the same weights
        np.testing.assert_array_equal(chief[name], other[name], err_msg=name)
    earlier = generator_weights(run / "checkpoints" / "ckpt-2")
    assert any(not np.array_equal(earlier[k], chief[k]) for k in chief)  # steps 3-4 changed G

"""A ``fit()`` for the strategies Keras 3's own ``Model.fit`` cannot drive.

Keras 3's ``fit`` fails under ``MultiWorkerMirroredStrategy`` ("Attempt to convert a value
(PerReplica...)", keras-team/keras#20585). This loop runs the same ``train_step`` through
``strategy.run`` and drives the same Keras callbacks (checkpoints, samples, CSV log, progress
bar), so a multi-worker run behaves like a ``fit`` run: same step counter, same run folder.
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import tensorflow as tf


def needs_custom_loop(strategy: tf.distribute.Strategy) -> bool:
    """Whether ``Model.fit`` cannot be used with ``strategy`` under Keras 3."""
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def distribute_dataset(dataset: tf.data.Dataset, strategy: tf.distribute.Strategy):
    """Shard by element (our sources are Python generators and decoders, not files)."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return strategy.experimental_distribute_dataset(dataset.with_options(options))


def strategy_fit(model: keras.Model, dataset: tf.data.Dataset, strategy: tf.distribute.Strategy, *,
                 steps_per_epoch: int, epochs: int, initial_epoch: int = 0,
                 callbacks: Sequence[keras.callbacks.Callback] = (), verbose: int | str = "auto"
                 ) -> dict[str, list[float]]:
    """Train ``model`` (whose ``train_step`` returns a dict of scalars) on the endless
    ``dataset`` of global batches; returns the per-epoch history like ``fit``'s."""
    iterator = iter(distribute_dataset(dataset, strategy))

    @tf.function
    def one_step(it: Any) -> dict[str, tf.Tensor]:
        logs = strategy.run(model.train_step, args=(next(it),))
        return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for k, v in logs.items()}

    history = keras.callbacks.History()
    progbar = verbose not in (0, "0")
    cbs = keras.callbacks.CallbackList(list(callbacks) + [history], add_progbar=progbar, model=model,
                                       verbose=1 if verbose == "auto" else verbose, epochs=epochs,
                                       steps=steps_per_epoch)
    model.stop_training = False
    cbs.on_train_begin()
    logs: dict[str, float] = {}
    for epoch in range(initial_epoch, epochs):
        cbs.on_epoch_begin(epoch)
        for batch in range(steps_per_epoch):
            cbs.on_train_batch_begin(batch)
            logs = {k: float(v) for k, v in one_step(iterator).items()}
            cbs.on_train_batch_end(batch, logs)
            if model.stop_training:
                break
        cbs.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    cbs.on_train_end(logs)
    return {k: [float(v) for v in vals] for k, vals in history.history.items()}

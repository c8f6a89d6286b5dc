"""Run in a subprocess (logical CPU devices must be set before TensorFlow starts):
train 2 steps on one replica with global batch 4, and 2 steps under MirroredStrategy on two
logical CPUs with 2 per replica, from the same initial weights; print the largest difference."""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from tests.training.test_training import fixed_batch, style_images, tiny_config  # noqa: E402
from tf_stylefusion.training.distribute import make_strategy  # noqa: E402
from tf_stylefusion.training.run import build_gan  # noqa: E402


def run(strategy):
    import keras
    keras.utils.set_random_seed(0)
    cfg = tiny_config(2)
    cfg.training.mix_fraction = 0.0
    gan = build_gan(cfg, style_images(), strategy=strategy)
    # Plain SGD: Adam's first steps are ~lr·sign(g) and would amplify float-rounding noise in
    # near-zero gradients; what is under test is the gradient aggregation and loss scaling.
    with strategy.scope():
        gan.compile(keras.optimizers.SGD(0.01), keras.optimizers.SGD(0.01))
    content, styles, ids = fixed_batch(2)
    batch = (tf.concat([content, content[::-1]], 0), tf.concat([styles, styles[::-1]], 0),
             tf.concat([ids, ids[::-1]], 0))
    ds = tf.data.Dataset.from_tensors(batch).repeat()
    h = gan.fit(ds, steps_per_epoch=2, epochs=1, verbose=0, shuffle=False).history
    return ([v.numpy() for v in gan.generator.trainable_variables + gan.discriminator.trainable_variables],
            h["g_loss"][-1])


single, loss1 = run(tf.distribute.get_strategy())
mirrored_strategy = make_strategy("mirrored")
assert mirrored_strategy.num_replicas_in_sync == 2
mirrored, loss2 = run(mirrored_strategy)
diff = max(float(np.max(np.abs(a - b))) for a, b in zip(single, mirrored))
scale = max(float(np.max(np.abs(a))) for a in single)
json.dump({"max_abs_diff": diff, "max_abs_weight": scale, "g_loss_single": loss1,
           "g_loss_mirrored": loss2, "replicas": 2}, sys.stdout)

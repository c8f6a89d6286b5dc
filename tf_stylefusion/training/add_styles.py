"""Adding styles to a trained model by training only their new bank rows.

The generator's convolutions and the old rows are copied and frozen (the layers are made
non-trainable and the bank's gradient is masked to the new rows), so the old rows stay
bit-identical, every old style gives bit-identical outputs after fine-tuning, and mixes of old
styles agree to within 1e-6 (a mix's sum may run in another order once the bank is larger).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import tensorflow as tf

from ..errors import ConfigError
from ..models.generator import StyleFusionGenerator
from .gan import StyleFusionGAN


def extend_generator(base: StyleFusionGenerator, new_names: Sequence[str]) -> StyleFusionGenerator:
    """A generator with ``base``'s weights and styles plus ``new_names`` as new bank rows
    (initialised to the mean of the old rows). All layers but the bank are frozen."""
    clash = sorted(set(new_names) & set(base.style_names))
    if clash:
        raise ConfigError(f"the model already has style(s) {clash}; give the new style another name "
                          "(rename its file or folder)")
    names = base.style_names + list(new_names)
    config = dataclasses.replace(base.config, num_styles=len(names), style_names=names)
    grown = StyleFusionGenerator.from_config_object(config)
    # Same architecture, same creation order: weights pair up by position (their auto-generated
    # names differ between instances).
    if len(base.weights) != len(grown.weights):
        raise ConfigError("cannot copy the base model's weights (architectures differ)")
    for old, v in zip(base.weights, grown.weights):
        if (old is base.bank.table) != (v is grown.bank.table):
            raise ConfigError("cannot copy the base model's weights (architectures differ)")
        if v is grown.bank.table:
            continue
        if tuple(old.shape) != tuple(v.shape):
            raise ConfigError(f"cannot copy weight {old.path} from the base model (architectures differ)")
        v.assign(old)
    table = base.bank.table.numpy()
    new_rows = np.repeat(table.mean(axis=0, keepdims=True), len(new_names), axis=0)
    grown.bank.table.assign(np.concatenate([table, new_rows], axis=0))
    freeze_all_but_bank(grown)
    return grown


def freeze_all_but_bank(generator: StyleFusionGenerator) -> None:
    """Make every layer except the style bank non-trainable."""
    for layer in generator.encoder + generator.residuals + generator.decoder + [generator.out_conv]:
        layer.trainable = False
    generator.bank.trainable = True


def restrict_to_new_rows(gan: StyleFusionGAN, num_old: int) -> None:
    """Train only rows ``num_old:`` of the bank: mask the bank's gradient, train pure new styles
    only (no blends with old ones), and give the old styles placeholder targets (never used)."""
    n = gan.num_styles
    if not 0 < num_old < n:
        raise ConfigError(f"fine-tuning needs new styles beyond the {num_old} old ones")
    mask = np.zeros([n, 1], np.float32)
    mask[num_old:] = 1.0
    gan.restrict_bank(mask)
    gan.mix_fraction = 0.0

    def pad(t: tf.Tensor) -> tf.Tensor:
        return tf.concat([tf.zeros([num_old] + t.shape[1:].as_list(), t.dtype), t], axis=0)

    if int(gan.gram_targets[0].shape[0]) == n - num_old:
        gan.gram_targets = [pad(t) for t in gan.gram_targets]
        gan.mean_targets = [pad(t) for t in gan.mean_targets]
        if gan.inception_targets is not None:
            gan.inception_targets = pad(gan.inception_targets)

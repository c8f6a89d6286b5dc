"""The offline recipe's loss without a generator: optimise each photo's pixels directly.

    python scripts/loss_ceiling.py --content ../shared/images/content --style A.jpg --style B.jpg \
        --out /tmp/ceiling [--size 256] [--steps 200] [--loss-network random | --vgg-width W] \
        [--set losses.FIELD=VALUE ...]
    ../shared/tools/stylemeter/run score --content ... --style ... --outputs /tmp/ceiling --size 256

Starts from the photo and runs Adam on its pixels against the recipe's style and content terms
(``LossConfig(loss_network=...)``: the same statistics, layers and weights a generator trains
with). What the meter says about these pictures is what the loss asks for at its optimum: if they
match the paintings and a trained generator's do not, the generator or its training falls short,
not the loss. Writes ``<photo>__<style>.png`` (the meter's naming).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from recipe_ablation import apply_overrides  # noqa: E402  (scripts/recipe_ablation.py)
from timing import machine_line  # noqa: E402  (scripts/timing.py)

from tf_stylefusion.config import LossConfig, RunConfig  # noqa: E402
from tf_stylefusion.data.images import list_images, load_image, save_image  # noqa: E402
from tf_stylefusion.models.loss_networks import WideRandomVGG, vgg_features  # noqa: E402
from tf_stylefusion.training.losses import (  # noqa: E402
    content_loss,
    layer_statistics,
    normalised_mse,
    style_distance,
    to_quantiles,
)


def fit_long_side(image: np.ndarray, side: int) -> tf.Tensor:
    h, w = image.shape[:2]
    scale = side / max(h, w)
    size = (max(32, round(h * scale)), max(32, round(w * scale)))
    return tf.image.resize(image[None], size, antialias=True)


def optimise(net, cfg: LossConfig, photo: tf.Tensor, painting: tf.Tensor, steps: int, lr: float) -> np.ndarray:
    n = len(cfg.style_layers)
    stat = cfg.style_statistic
    grams, means = layer_statistics(net(painting)[:n], stat, cfg.seed)
    if stat == "mean_sliced":
        grams = [to_quantiles(g) for g in grams]
    gram_norms = [tf.reduce_mean(tf.square(g)) for g in grams]
    mean_norms = [tf.reduce_mean(tf.square(m)) for m in means]
    content_target = net(photo)[n]
    x = tf.Variable(photo)
    opt = tf.keras.optimizers.Adam(lr)

    @tf.function
    def step() -> tf.Tensor:
        with tf.GradientTape() as tape:
            feats = net(x)
            g, m = layer_statistics(feats[:n], stat, cfg.seed)
            loss = cfg.style_weight * (style_distance(g, grams, gram_norms, stat)
                                       + (normalised_mse(m, means, mean_norms) if m else 0.0))
            loss += cfg.content_weight * content_loss(feats[n], content_target)
        opt.apply_gradients([(tape.gradient(loss, x), x)])
        x.assign(tf.clip_by_value(x, 0.0, 1.0))
        return loss

    for _ in range(steps):
        step()
    return x.numpy()[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--content", required=True, help="folder of photos")
    ap.add_argument("--style", action="append", required=True, help="painting (repeat)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", type=int, default=256, help="longer side of photo and painting")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--loss-network", default="random")
    ap.add_argument("--vgg-width", type=float, default=None, metavar="W",
                    help="a random VGG19 layout with W times the filters (symmetric draw) instead of --loss-network")
    ap.add_argument("--set", action="append", default=[], metavar="losses.FIELD=VALUE",
                    help='as recipe_ablation.py, e.g. losses.style_layers=["block1_conv1","block5_conv1"] (repeat)')
    a = ap.parse_args()
    cfg = apply_overrides(RunConfig(losses=LossConfig(loss_network=a.loss_network)), a.set).losses
    layers = tuple(cfg.style_layers) + (cfg.content_layer,)
    net = (WideRandomVGG(layers, cfg.seed, a.vgg_width) if a.vgg_width
           else vgg_features(cfg.loss_network, layers, cfg.seed))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for photo_path in list_images(a.content):
        photo = fit_long_side(load_image(photo_path), a.size)
        for style in a.style:
            t = time.perf_counter()
            painting = fit_long_side(load_image(style), a.size)
            image = optimise(net, cfg, photo, painting, a.steps, a.lr)
            save_image(out / f"{photo_path.stem}__{Path(style).stem}.png", image)
            print(f"{photo_path.stem} × {Path(style).stem}: {time.perf_counter() - t:.0f} s", flush=True)
    print(f"machine: {machine_line()}")


if __name__ == "__main__":
    main()

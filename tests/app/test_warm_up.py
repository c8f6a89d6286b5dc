"""The app's start-up warm-up traces every path a preview takes, so no control's first use on a
new photo waits for TensorFlow's tracing (seconds on 2 cores)."""

from __future__ import annotations

import numpy as np

from tf_stylefusion.app.rendering import CachedRows, Job, warm_up
from tf_stylefusion.app.server import AppState
from tf_stylefusion.app.session import Limits
from tf_stylefusion.config import GeneratorSettings
from tf_stylefusion.inference import fusion, stylize
from tf_stylefusion.inference.fusion import StylizeOptions
from tf_stylefusion.inference.stylize import stylize_image


def traces() -> int:
    graphs = [stylize._run_graph, *fusion._run_table.graphs.values()]
    return sum(g.experimental_get_tracing_count() for g in graphs)


def test_after_the_warm_up_no_control_traces_again(pack) -> None:
    generator, encoder = pack
    rows = CachedRows(encoder)
    warm_up(generator, rows)
    before = traces()
    n, h, w = generator.num_styles, 72, 88  # a shape and row counts the warm-up never saw
    image = np.random.default_rng(0).random((h, w, 3), dtype=np.float32)
    mask = np.zeros((h, w), np.float32)
    mask[: h // 2] = 1.0
    bank = generator.bank.table.numpy()
    tiles = generator.textures.numpy()
    three = {"style_rows": np.repeat(bank[:1], 3, axis=0), "style_textures": np.repeat(tiles[:1], 3, axis=0)}
    k = n + 3
    region = {"masks": [mask, 1.0 - mask], "order": [0, k - 1], "feather": 0.0}
    for options, weights in [
        (StylizeOptions(), np.eye(n, dtype=np.float32)[0]),
        (StylizeOptions(settings=GeneratorSettings(texture=0.0)), np.eye(n, dtype=np.float32)[1]),
        (StylizeOptions(settings=GeneratorSettings(texture=0.3), **three), np.full(k, 1 / k, np.float32)),
        (StylizeOptions(**three, **region), np.full(k, 1 / k, np.float32)),
        (StylizeOptions(settings=GeneratorSettings(texture=0.0), **three, **region), np.full(k, 1 / k, np.float32)),
        (StylizeOptions(strength=0.4, encoder=rows, preserve_color="luminance", **three, **region),
         np.full(k, 1 / k, np.float32)),
    ]:
        stylize_image(generator, image, weights, options)
        assert traces() == before, f"traced again for {options}"


def test_brushwork_on_a_model_that_lays_none_by_default_runs_one_warmed_copy(pack) -> None:
    generator, _ = pack
    plain = generator.copy(GeneratorSettings(texture=0.0))  # tiles, but none laid by default
    state = AppState(plain, None, Limits(), "no brushwork by default")
    for model in (plain, state.tiles_on):  # as load_app warms them
        warm_up(model, None)
    n, image = plain.num_styles, np.random.default_rng(1).random((72, 88, 3), dtype=np.float32)
    weights = np.eye(n, dtype=np.float32)[2]
    jobs = [Job(None, weights, StylizeOptions(settings=GeneratorSettings(texture=amount)), [])
            for amount in (0.6, 0.3, 0.0)]
    expected = [stylize_image(plain, image, weights, job.options) for job in jobs]  # a copy each
    before = traces()
    for job, picture in zip(jobs, expected):
        np.testing.assert_allclose(stylize_image(state.generator_for(job), image, weights, job.options),
                                   picture, atol=2e-5)
    assert traces() == before

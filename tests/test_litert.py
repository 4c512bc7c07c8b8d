"""The bench's LiteRT reference (IMPSY's fast path) computes what the engine computes."""

import numpy as np
import pytest

from robojam.core.engine import Engine
from robojam.train.litert import LiteRTStep
from synthetic import random_model, synthetic_performance


@pytest.mark.parametrize("correlated", [False, True], ids=["diagonal", "correlated"])
def test_litert_step_agrees_with_the_engine_over_a_performance(correlated):
    model = random_model(layers=2, units=12, mixtures=3, seed=5, correlated=correlated)
    step, engine = LiteRTStep(model), Engine(model)
    touches = synthetic_performance(np.random.default_rng(2))
    prev = None
    for x, y, dt in touches:
        params = step.step(model.encoding.step_input(prev, x, y, dt))
        engine.feed(x, y, dt)
        prev = model.encoding.context(prev, x, y)
        np.testing.assert_allclose(params, engine.mixture_params(), atol=1e-4)


def test_the_bench_times_impsys_step_on_a_correlated_model_too():
    from robojam.tools.bench import litert_step_times

    times = litert_step_times(random_model(units=8, mixtures=3, encoding="heading", correlated=True), steps=20)
    assert len(times) == 20 and (times > 0).all()

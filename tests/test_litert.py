"""The bench's LiteRT reference (IMPSY's fast path) computes what the engine computes."""

import numpy as np

from robojam.core.engine import Engine
from robojam.train.litert import LiteRTStep
from synthetic import random_model, synthetic_performance


def test_litert_step_agrees_with_the_engine_over_a_performance():
    model = random_model(layers=2, units=12, mixtures=3, seed=5)
    step, engine = LiteRTStep(model), Engine(model)
    touches = synthetic_performance(np.random.default_rng(2))
    prev = None
    for x, y, dt in touches:
        params = step.step(model.encoding.step_input(prev, x, y, dt))
        engine.feed(x, y, dt)
        prev = model.encoding.context(prev, x, y)
        np.testing.assert_allclose(params, engine.mixture_params(), atol=1e-4)

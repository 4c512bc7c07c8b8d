"""The Keras side: the explicit-state step network and the benchmark's reference step."""

import numpy as np
import pytest

from robojam.core.corpus import clean
from robojam.core.engine import Engine
from synthetic import random_model, synthetic_performance

pytest.importorskip("keras")


def test_step_network_with_explicit_state_matches_engine():
    from robojam.train.network import keras_step_model

    model = random_model(layers=2, units=12, mixtures=3)
    network = keras_step_model(model)
    engine = Engine(model)
    touches = clean(synthetic_performance(np.random.default_rng(4)))[:20]
    states = [np.zeros((1, 12), np.float32) for _ in range(4)]
    inputs = model.encoding.inputs(touches).astype(np.float32)
    for row, touch in zip(inputs, touches):
        outputs = network([row.reshape(1, 1, -1)] + states, training=False)
        states = [np.asarray(s) for s in outputs[1:]]
        engine.feed(*touch)
        np.testing.assert_allclose(np.asarray(outputs[0])[0, 0], engine.mixture_params(), atol=1e-4)


def test_keras_reference_timing_runs():
    from robojam.tools.bench import keras_step_times

    times = keras_step_times(random_model(units=8), steps=10)
    assert len(times) == 10 and (times > 0).all()

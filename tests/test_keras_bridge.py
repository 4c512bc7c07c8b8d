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


def test_the_training_loss_is_the_engines_density_over_weighted_steps():
    """The Keras twin of the head: masked_mdn_loss is the mean of -Head.log_prob over the steps
    weighted 1, whatever the batch and time axes, so training fits what the engine draws from."""
    from robojam.core.mixture import Head
    from robojam.train.network import masked_mdn_loss

    head, rng = Head(3, 4), np.random.default_rng(7)
    params = rng.normal(0, 1, (2, 5, head.size))
    params[..., head.sigmas] = rng.uniform(0.2, 2.0, (2, 5, 12))
    targets = rng.normal(0, 1, (2, 5, 3))
    weights = (rng.random((2, 5)) < 0.6).astype(np.float64)
    weights[0, 0] = 1.0
    y_true = np.concatenate([targets, weights[..., None]], axis=-1)
    loss = masked_mdn_loss(3, 4)(y_true.astype(np.float32), params.astype(np.float32))
    expected = -(head.log_prob(targets, params) * weights).sum() / weights.sum()
    assert np.isclose(float(loss), expected, rtol=1e-5)

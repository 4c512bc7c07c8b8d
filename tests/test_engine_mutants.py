"""The engine against a plain numpy LSTM written from Keras's equations, fast enough for every mutant of
the mutation run (README, "Development"), and its drawing API checked call by call."""

import math

import numpy as np
import pytest

from robojam import RobojamError
from robojam.core.engine import SIGMA_EPSILON, Engine, elu_plus_one
from robojam.core.modelfile import MDN_PARTS
from synthetic import random_model, synthetic_performance


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def reference_params(model, touches):
    """Mixture parameters after each touch: Keras's LSTM (gates i, f, g, o) and keras-mdn-layer's head."""
    w = {k: v.astype(np.float64) for k, v in model.weights.items()}
    inputs = model.encoding.inputs(np.asarray(touches, np.float64))
    h = [np.zeros(model.units) for _ in range(model.layers)]
    c = [np.zeros(model.units) for _ in range(model.layers)]
    kernel = np.hstack([w[f"mdn_{p}_kernel"] for p in MDN_PARTS])
    bias = np.hstack([w[f"mdn_{p}_bias"] for p in MDN_PARTS])
    kd = model.mixtures * model.output_dim
    out = []
    for x in inputs:
        below = x
        for i in range(model.layers):
            z = below @ w[f"lstm{i}_kernel"] + h[i] @ w[f"lstm{i}_recurrent_kernel"] + w[f"lstm{i}_bias"]
            gi, gf, gg, go = np.split(z, 4)
            c[i] = sigmoid(gf) * c[i] + sigmoid(gi) * np.tanh(gg)
            h[i] = sigmoid(go) * np.tanh(c[i])
            below = h[i]
        params = below @ kernel + bias
        sig = params[kd:2 * kd]
        params[kd:2 * kd] = np.where(sig > 0, sig, np.expm1(np.minimum(sig, 0))) + 1.0 + SIGMA_EPSILON
        out.append(params)
    return np.array(out)


@pytest.mark.parametrize("layers, encoding", [(1, "delta"), (2, "robojam"), (3, "heading")])
def test_feeding_and_conditioning_agree_with_a_plain_lstm(layers, encoding):
    model = random_model(layers=layers, units=6, mixtures=2, encoding=encoding, seed=layers)
    for weights in model.weights.values():
        weights *= 3  # saturate some gates, push some deviations below zero before their activation
    touches = synthetic_performance(np.random.default_rng(layers))[:30]
    expected = reference_params(model, touches)
    engine = Engine(model)
    for row, (x, y, dt) in zip(expected, touches):
        engine.feed(x, y, dt)
        np.testing.assert_allclose(engine.mixture_params(), row, atol=2e-5)
    for split in (1, 2, 17):
        at_once = Engine(model)
        at_once.condition(touches[:split])
        at_once.condition(touches[split:])  # conditioning again carries on from the context it left
        np.testing.assert_allclose(at_once.mixture_params(), expected[-1], atol=2e-5)
    spawned = engine.spawn()
    spawned.condition(touches)
    np.testing.assert_allclose(spawned.mixture_params(), expected[-1], atol=2e-5)
    engine.reset()
    engine.condition(touches)
    np.testing.assert_allclose(engine.mixture_params(), expected[-1], atol=2e-5)  # reset forgets everything


def test_mixture_params_activate_exactly_the_deviations():
    model = random_model(units=4, mixtures=2)
    engine = Engine(model)
    engine.feed(0.5, 0.5, 0.0)
    raw = engine.state.head.astype(np.float64)
    params = engine.mixture_params()
    assert params.dtype == np.float64
    kd = 2 * 3
    np.testing.assert_array_equal(params[:kd], raw[:kd])
    np.testing.assert_array_equal(params[2 * kd:], raw[2 * kd:])
    assert params[kd:2 * kd].tolist() == pytest.approx([elu_plus_one(v) for v in raw[kd:2 * kd]], rel=1e-12)


@pytest.mark.parametrize("v, expected", [(2.0, 3.0), (0.5, 1.5), (0.0, 1.0), (-1.0, math.exp(-1.0)), (-30.0, math.exp(-30.0))])
def test_a_deviation_is_elu_plus_one_plus_epsilon(v, expected):
    assert elu_plus_one(v) == pytest.approx(expected + SIGMA_EPSILON, rel=1e-9, abs=0)
    assert elu_plus_one(-30.0) > 0


def test_respond_is_condition_draw_feed_generate_at_the_asked_temperatures():
    model = random_model(units=8, mixtures=3, seed=2)
    call = synthetic_performance(np.random.default_rng(4))
    for temp, sigma_temp in ((0.4, 2.0), (1.0, 1.0)):
        engine, manual = Engine(model), Engine(model)
        got = engine.respond(call, 2.0, np.random.default_rng(9), temp, sigma_temp)
        rng = np.random.default_rng(9)
        manual.condition(call)
        first = manual.draw(rng, temp, sigma_temp)
        manual.feed(*first)
        rest = manual.generate(2.0, rng, temp, sigma_temp)
        np.testing.assert_array_equal(got, np.vstack([[first[0], first[1], 0.0], rest]))
    silent = Engine(model).respond(np.zeros((0, 3)), 1.0, np.random.default_rng(1))
    manual = Engine(model)
    manual.feed(0.5, 0.5, 0.0)  # an empty call: as if one touch at the centre
    rng = np.random.default_rng(1)
    first = manual.draw(rng)
    manual.feed(*first)
    np.testing.assert_array_equal(silent, np.vstack([[first[0], first[1], 0.0], manual.generate(1.0, rng)]))


def test_draw_defaults_to_temperatures_of_one():
    model = random_model(units=8, seed=5)
    a, b = Engine(model), Engine(model)
    for engine in (a, b):
        engine.feed(0.4, 0.6, 0.0)
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    assert [a.draw(rng_a) for _ in range(30)] == [b.draw(rng_b, 1.0, 1.0) for _ in range(30)]


def test_a_low_temperature_draw_follows_the_heaviest_component():
    model = random_model(units=8, mixtures=3, seed=6)
    engine = Engine(model)
    engine.feed(0.5, 0.5, 0.0)
    params = engine.mixture_params()
    kd = 3 * 3
    heaviest = int(np.argmax(params[2 * kd:]))
    state, rng = engine.snapshot(), np.random.default_rng(0)
    mean = np.array(engine.encoding.decode(engine.state.context, params[heaviest * 3:heaviest * 3 + 3]))
    for _ in range(20):
        engine.restore(state)
        touch = np.array(engine.draw(rng, temp=1e-3, sigma_temp=1e-8))
        np.testing.assert_allclose(touch, mean, atol=1e-3)


def test_feeding_clips_y_to_the_screen_and_names_a_bad_touch(tiny_model):
    high, edge = Engine(tiny_model), Engine(tiny_model)
    high.feed(0.5, 1.7, 0.1)
    edge.feed(0.5, 1.0, 0.1)
    np.testing.assert_array_equal(high.mixture_params(), edge.mixture_params())
    with pytest.raises(ValueError, match=r"touch \(0.5, nan, 0.1\) is not finite"):
        high.feed(0.5, float("nan"), 0.1)
    with pytest.raises(ValueError, match="call holds NaN or infinite values"):
        high.condition(np.array([[0.5, 0.5, 0.1], [0.5, float("inf"), 0.1]]))


def test_sixteen_draws_before_clipping(monkeypatch):
    """DRAWS_PER_TOUCH draws in all, no fewer: a touch from a mixture almost all off the screen."""
    model = random_model(units=4, mixtures=1, encoding="robojam", seed=1)
    engine = Engine(model)
    engine.feed(0.5, 0.5, 0.0)
    calls = []
    original = engine._sampler.draw

    def counting(*args):
        calls.append(1)
        return [5.0, 5.0, 0.1]  # always off the screen

    monkeypatch.setattr(engine._sampler, "draw", counting)
    assert engine.draw(np.random.default_rng(0))[:2] == (1.0, 1.0)
    assert len(calls) == 16
    del original


def test_errors_name_what_to_do(tiny_model):
    with pytest.raises(RobojamError, match="^the engine has not been fed a touch yet: feed one before drawing$"):
        Engine(tiny_model).mixture_params()
    with pytest.raises(RobojamError, match="^sigma_temp must be a positive number, not -1$"):
        Engine(tiny_model).respond(np.zeros((1, 3)), sigma_temp=-1)

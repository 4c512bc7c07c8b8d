"""The engine against a plain numpy LSTM written from Keras's equations, fast enough for every mutant of
the mutation run (README, "Development"), and its drawing API checked call by call."""

import math

import numpy as np
import pytest

from robojam import RobojamError
from robojam.core.corpus import clean
from robojam.core.engine import Engine
from robojam.core.mixture import SIGMA_EPSILON, elu_plus_one
from robojam.core.mixture import MDN_PARTS
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
    np.testing.assert_array_equal(params[2 * kd:], raw[2 * kd:2 * kd + 2])
    assert len(params) == 2 * kd + 2  # the sampler's logits (raw's last 2) are not parameters
    assert params[kd:2 * kd].tolist() == pytest.approx([elu_plus_one(v) for v in raw[kd:2 * kd]], rel=1e-12)


@pytest.mark.parametrize("v, expected", [(2.0, 3.0), (0.5, 1.5), (0.0, 1.0), (-1.0, math.exp(-1.0)),
                                         (-30.0, math.exp(-30.0))])
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
    with pytest.raises(ValueError, match="^call holds NaN or infinite values$"):
        high.condition(np.array([[0.5, 0.5, 0.1], [0.5, float("inf"), 0.1]]))


def test_sixteen_draws_before_clipping(monkeypatch):
    """DRAWS_PER_TOUCH draws in all, no fewer: a touch from a mixture almost all off the screen."""
    model = random_model(units=4, mixtures=1, encoding="robojam", seed=1)
    engine = Engine(model)
    engine.feed(0.5, 0.5, 0.0)
    calls = []
    original = engine.policy.sampler.draw

    def counting(*args):
        calls.append(1)
        return [5.0, 5.0, 0.1]  # always off the screen

    monkeypatch.setattr(engine.policy.sampler, "draw", counting)
    assert engine.draw(np.random.default_rng(0))[:2] == (1.0, 1.0)
    assert len(calls) == 16
    del original


def test_errors_name_what_to_do(tiny_model):
    with pytest.raises(RobojamError, match="^the engine has not been fed a touch yet: feed one before drawing$"):
        Engine(tiny_model).mixture_params()
    with pytest.raises(RobojamError, match="^sigma_temp must be a positive number, not -1$"):
        Engine(tiny_model).respond(np.zeros((1, 3)), sigma_temp=-1)


def test_an_unfed_engine_snapshots_and_restores_as_unfed():
    model = random_model(units=4, seed=7)
    engine = Engine(model)
    blank = engine.snapshot()
    assert blank.head is None and blank.context is None
    engine.feed(0.2, 0.3, 0.1)
    engine.restore(blank)
    with pytest.raises(RobojamError, match="has not been fed a touch yet"):
        engine.draw(np.random.default_rng(0))
    engine.feed(0.6, 0.4, 0.0)
    fresh = Engine(model)
    fresh.feed(0.6, 0.4, 0.0)
    np.testing.assert_array_equal(engine.mixture_params(), fresh.mixture_params())


def test_a_spawned_engine_compiles_nothing_and_plays_like_its_template(monkeypatch):
    model = random_model(units=6, seed=8)
    template = Engine(model)

    def compile_again(self):
        raise AssertionError("a spawned engine compiled the model's weights again")

    monkeypatch.setattr(Engine, "_compile", compile_again)
    spawned = template.spawn()
    touches = synthetic_performance(np.random.default_rng(8))[:12]
    spawned.condition(touches)
    template.condition(touches)
    np.testing.assert_array_equal(spawned.mixture_params(), template.mixture_params())


def dyadic_one_layer_model():
    """A one-layer raw model whose weights are quarters and whose recurrent kernel is zero: fed touches in
    eighths, every sum of products is exact in float32 whatever order a dot product adds it up in."""
    model = random_model(layers=1, units=8, mixtures=2, encoding="robojam", seed=3)
    rng = np.random.default_rng(0)
    for weights in model.weights.values():
        weights[...] = rng.integers(-8, 9, weights.shape) / 4
    model.weights["lstm0_recurrent_kernel"][...] = 0.0
    touches = rng.integers(0, 9, (40, 3)) / 8
    touches[:, 2] /= 4
    return model, touches


def test_conditioning_a_one_layer_model_is_exactly_feeding_it_in_float32():
    """With no rounding left to the dot products, both paths run the same float32 cell arithmetic, bit for
    bit (float64 working memory on either path shows in the last bit of the cells)."""
    model, touches = dyadic_one_layer_model()
    fed, conditioned = Engine(model), Engine(model)
    for x, y, dt in touches:
        fed.feed(x, y, dt)
    conditioned.condition(touches)
    for state in (fed.state, conditioned.state):
        assert state.signals.dtype == state.cells.dtype == state.head.dtype == np.float32
    np.testing.assert_array_equal(conditioned.state.cells, fed.state.cells)
    np.testing.assert_array_equal(conditioned.state.signals, fed.state.signals)
    np.testing.assert_array_equal(conditioned.mixture_params(), fed.mixture_params())


class ScriptedSampler:
    """Stands in for an engine's sampler: hands out the given targets in turn (the last one for ever)
    and records the temperatures of every draw."""

    def __init__(self, *targets):
        self.targets, self.temperatures = list(targets), []

    def draw(self, noise, *temperatures):
        self.temperatures.append(temperatures)
        return list(self.targets.pop(0) if len(self.targets) > 1 else self.targets[0])


def scripted_engine(monkeypatch, *targets):
    engine = Engine(random_model(units=4, mixtures=2, encoding="robojam", seed=4))
    engine.feed(0.5, 0.5, 0.0)
    sampler = ScriptedSampler(*targets)
    monkeypatch.setattr(engine.policy.sampler, "draw", sampler.draw)
    return engine, sampler


def test_every_redraw_of_an_off_screen_touch_is_at_the_asked_temperatures(monkeypatch):
    engine, sampler = scripted_engine(monkeypatch, [1.5, 0.5, 0.1], [0.5, -0.2, 0.1], [0.25, 0.75, 0.1])
    assert engine.draw(np.random.default_rng(0), 0.3, 2.5) == (0.25, 0.75, 0.1)
    assert sampler.temperatures == [(0.3, 2.5)] * 3
    engine, sampler = scripted_engine(monkeypatch, [1.5, 0.5, 0.1], [0.25, 0.75, 0.1])
    engine.generate(0.25, np.random.default_rng(0), 0.4, 3.0)
    assert set(sampler.temperatures) == {(0.4, 3.0)} and len(sampler.temperatures) >= 3
    engine, sampler = scripted_engine(monkeypatch, [1.5, 0.5, 0.1], [0.25, 0.75, 0.1])
    engine.draw(np.random.default_rng(0))
    assert sampler.temperatures == [(1.0, 1.0)] * 2  # the defaults, on every draw


def test_a_response_plays_up_to_its_seconds_and_a_touch_ending_exactly_there_is_in_it(monkeypatch):
    engine, _ = scripted_engine(monkeypatch, [0.25, 0.75, 0.25])
    got = engine.generate(1.0, np.random.default_rng(0))
    np.testing.assert_array_equal(got, [[0.25, 0.75, 0.25]] * 4)  # 4 x 0.25 s is exactly 1 s
    assert engine.generate(0.2, np.random.default_rng(0)).shape == (0, 3)
    engine, _ = scripted_engine(monkeypatch, [0.25, 0.75, 0.25])
    response = engine.respond(np.array([[0.5, 0.5, 0.0]]), rng=np.random.default_rng(0))
    assert len(response) == 1 + 20 and response[1:, 2].sum() == 5.0  # five seconds by default


def test_a_response_holds_at_most_200_touches_a_second_and_never_less_than_one(monkeypatch):
    engine, _ = scripted_engine(monkeypatch, [0.25, 0.75, 0.0])  # a model that plays without pause
    assert len(engine.generate(1.0, np.random.default_rng(0))) == 200
    assert len(engine.generate(0.5, np.random.default_rng(0))) == 100
    assert len(engine.generate(0.001, np.random.default_rng(0))) == 1


def test_generate_is_draw_and_feed_until_the_seconds_are_played():
    model = random_model(units=8, mixtures=3, seed=11)
    call = synthetic_performance(np.random.default_rng(11))
    for temp, sigma_temp, seconds in ((0.5, 1.5, 1.5), (2.0, 0.5, 0.7)):
        engine, manual = Engine(model), Engine(model)
        engine.condition(call)
        manual.condition(call)
        got = engine.generate(seconds, np.random.default_rng(5), temp, sigma_temp)
        rng, expected, elapsed = np.random.default_rng(5), [], 0.0
        while True:
            x, y, dt = manual.draw(rng, temp, sigma_temp)
            if elapsed + dt > seconds:
                break
            elapsed += dt
            expected.append((x, y, dt))
            manual.feed(x, y, dt)
        assert len(expected) > 5
        np.testing.assert_array_equal(got, expected)


def test_respond_without_a_generator_draws_fresh_randomness():
    engine = Engine(random_model(units=8, seed=12))
    call = synthetic_performance(np.random.default_rng(12))
    # 5 s: a drawn gap is at most MAX_DT (5 s), so each response holds a second touch (at 1 s, one in 200 did not)
    first, second = engine.respond(call, 5.0), engine.respond(call, 5.0)
    assert first.shape[1] == second.shape[1] == 3 and len(first) > 1
    assert not np.array_equal(first, second)


def test_a_style_models_engine_plays_the_average_style_until_told_and_keeps_its_style_across_resets():
    model = random_model(units=6, seed=13, style=True)
    touches = synthetic_performance(np.random.default_rng(13))[:20]
    style = np.linspace(-1.5, 1.5, model.style.dim).tolist()  # every slot its own value: a shifted write shows
    untold, average, styled, reset = Engine(model), Engine(model), Engine(model), Engine(model)
    average.set_style([0.0] * model.style.dim)
    styled.set_style(style)
    reset.set_style(style)
    reset.condition(touches[:5])
    reset.reset()
    for engine in (untold, average, styled, reset):
        engine.condition(touches)
    np.testing.assert_array_equal(untold.mixture_params(), average.mixture_params())
    np.testing.assert_array_equal(reset.mixture_params(), styled.mixture_params())
    assert not np.allclose(styled.mixture_params(), average.mixture_params(), atol=1e-3)


def test_a_style_not_of_the_models_length_or_not_finite_is_refused_and_changes_nothing():
    model = random_model(units=4, seed=15, style=True)
    dim = model.style.dim
    engine, untouched = Engine(model), Engine(model)
    for bad in ([0.5] * (dim - 1), [0.5] * (dim + 1), [0.5] * (dim - 1) + [float("nan")],
                [float("inf")] + [0.5] * (dim - 1)):
        with pytest.raises(ValueError, match=f"^a style is {dim} finite numbers for this model$"):
            engine.set_style(bad)
    for e in (engine, untouched):
        e.feed(0.3, 0.6, 0.1)
    np.testing.assert_array_equal(engine.mixture_params(), untouched.mixture_params())
    with pytest.raises(ValueError, match="^a style is 0 finite numbers for this model$"):
        Engine(random_model(units=4)).set_style([0.0])


def test_respond_to_a_style_model_hears_the_call_plainly_and_plays_in_its_style():
    model = random_model(units=6, seed=14, style=True)
    call = synthetic_performance(np.random.default_rng(14))
    engine = Engine(model)
    engine.set_style([1.0] * model.style.dim)  # a style left over from before: forgotten
    got = engine.respond(call, 1.0, np.random.default_rng(2))
    manual, rng = Engine(model), np.random.default_rng(2)
    manual.condition(call)
    manual.set_style(model.style.vector(clean(call)))
    first = manual.draw(rng)
    manual.feed(*first)
    np.testing.assert_array_equal(got, np.vstack([[first[0], first[1], 0.0], manual.generate(1.0, rng)]))
    flat = Engine(model).respond(call.ravel().tolist(), 1.0, np.random.default_rng(2))  # rows as one list
    np.testing.assert_array_equal(flat, got)

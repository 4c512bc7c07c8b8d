import subprocess
import sys

import numpy as np
import pytest

from robojam import RobojamError
from robojam.core.corpus import clean
from robojam.core.engine import Engine
from synthetic import random_model, synthetic_performance


@pytest.mark.parametrize("encoding", ["delta", "heading"])
def test_engine_agrees_with_keras_over_500_events(encoding):
    keras = pytest.importorskip("keras")
    from robojam.core.mixture import Head
    from robojam.core.modelfile import Model
    from robojam.train.network import build_sequence_network, keras_sequence_model, weights_from_keras
    from robojam.core.encoding import ENCODINGS

    keras.utils.set_random_seed(3)
    chosen = ENCODINGS[encoding](10.0, -3.5, 1.2)
    network = build_sequence_network(chosen.input_dim, 2, 24, 4)
    model = Model(2, 24, 4, chosen, weights_from_keras(network, 2, Head(3, 4)))
    rng = np.random.default_rng(0)
    touches = clean(np.vstack([synthetic_performance(rng, strokes=12) for _ in range(3)]))[:500]
    assert len(touches) == 500

    inputs = model.encoding.inputs(touches)[None].astype(np.float32)
    expected = np.asarray(network(inputs))[0]
    engine = Engine(model)
    got = []
    for x, y, dt in touches:
        engine.feed(x, y, dt)
        got.append(engine.mixture_params())
    np.testing.assert_allclose(np.array(got), expected, atol=1e-4, rtol=0)
    # the bridge back: the same weights loaded into a fresh Keras network
    reloaded = keras_sequence_model(model)
    np.testing.assert_allclose(np.asarray(reloaded(inputs))[0], expected, atol=1e-6)


def test_snapshot_and_restore_branch_identically(tiny_model):
    engine = Engine(tiny_model)
    engine.condition(synthetic_performance(np.random.default_rng(1)))
    saved = engine.snapshot()
    first = engine.generate(2.0, np.random.default_rng(5))
    engine.restore(saved)
    again = engine.generate(2.0, np.random.default_rng(5))
    np.testing.assert_array_equal(first, again)
    engine.restore(saved)
    other = engine.generate(2.0, np.random.default_rng(6))
    assert not np.array_equal(first[:5], other[:5])


def test_restore_does_not_share_buffers(tiny_model):
    engine = Engine(tiny_model)
    engine.feed(0.5, 0.5, 0.0)
    saved = engine.snapshot()
    before = engine.mixture_params()
    engine.feed(0.9, 0.1, 0.3)
    engine.restore(saved)
    engine.feed(0.2, 0.2, 0.1)
    engine.restore(saved)
    np.testing.assert_array_equal(engine.mixture_params(), before)


def test_feed_rejects_non_finite_and_clips_out_of_range(tiny_model):
    engine = Engine(tiny_model)
    engine.feed(0.5, 0.5, 0.0)
    state = engine.snapshot()
    for bad in [(float("nan"), 0.5, 0.1), (0.5, float("inf"), 0.1), (0.5, 0.5, float("-inf"))]:
        with pytest.raises(ValueError):
            engine.feed(*bad)
    np.testing.assert_array_equal(engine.snapshot().signals, state.signals)
    engine.feed(1.7, -3.0, 99.0)
    clipped = Engine(tiny_model)
    clipped.feed(0.5, 0.5, 0.0)
    clipped.feed(1.0, 0.0, 5.0)
    np.testing.assert_array_equal(engine.mixture_params(), clipped.mixture_params())


def test_draw_before_feed_is_a_clear_error(tiny_model):
    with pytest.raises(RobojamError, match="feed one before drawing"):
        Engine(tiny_model).draw(np.random.default_rng(0))


@pytest.mark.parametrize("encoding", ["delta", "robojam", "heading"])
def test_respond_is_seeded_valid_and_as_long_as_asked(encoding):
    engine = Engine(random_model(encoding=encoding))
    call = synthetic_performance(np.random.default_rng(2))
    a = engine.respond(call, 3.0, np.random.default_rng(11))
    b = engine.respond(call, 3.0, np.random.default_rng(11))
    np.testing.assert_array_equal(a, b)
    assert a[0, 2] == 0.0
    assert 0 < a[:, 2].sum() <= 3.0
    assert ((a[:, :2] >= 0) & (a[:, :2] <= 1)).all() and (a[:, 2] >= 0).all()


def test_respond_rejects_bad_temperatures(tiny_model):
    with pytest.raises(RobojamError, match="temp must be a positive number"):
        Engine(tiny_model).respond(np.zeros((2, 3)), temp=0.0)


def test_engine_path_never_imports_tensorflow():
    code = ("import sys; from robojam.core.engine import Engine; from robojam.core.modelfile import load_model; "
            "from robojam import cli; from robojam.train import evaluate; "
            "from robojam.core import corpus, performance; "
            "bad = [m for m in ('tensorflow', 'keras', 'matplotlib') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("layers, encoding", [(1, "delta"), (2, "delta"), (3, "delta"), (2, "heading")])
def test_condition_wavefront_matches_feeding_one_by_one(layers, encoding):
    model = random_model(layers=layers, units=10, encoding=encoding)
    call = synthetic_performance(np.random.default_rng(9))
    one_by_one, at_once = Engine(model), Engine(model)
    one_by_one.feed(0.3, 0.3, 0.0)
    at_once.feed(0.3, 0.3, 0.0)
    for x, y, dt in call:
        one_by_one.feed(x, y, dt)
    at_once.condition(call)
    np.testing.assert_allclose(at_once.mixture_params(), one_by_one.mixture_params(), atol=1e-5)
    np.testing.assert_allclose(at_once.snapshot().cells, one_by_one.snapshot().cells, atol=1e-5)
    for length in (1, 2):
        short_a, short_b = Engine(model), Engine(model)
        short_a.condition(call[:length])
        for x, y, dt in call[:length]:
            short_b.feed(x, y, dt)
        np.testing.assert_allclose(short_a.mixture_params(), short_b.mixture_params(), atol=1e-5)


def test_spawned_engines_share_weights_not_state(tiny_model):
    parent = Engine(tiny_model)
    child = parent.spawn()
    parent.feed(0.2, 0.3, 0.0)
    assert child.state.head is None
    child.feed(0.2, 0.3, 0.0)
    np.testing.assert_array_equal(child.mixture_params(), parent.mixture_params())
    child.feed(0.9, 0.9, 0.1)
    assert not np.array_equal(child.mixture_params(), parent.mixture_params())


@pytest.mark.parametrize("encoding", ["delta", "robojam", "heading"])
def test_decoded_touches_are_clipped_python_floats(encoding):
    decode = random_model(encoding=encoding).encoding.decode
    for target in ([1e9, -1e9, 1e9], [float("nan")] * 3, np.array([-1e9, 1e9, -1e9])):
        x, y, dt = decode((0.5, 0.5, 0.01, 0.0), target)
        assert all(type(v) is float for v in (x, y, dt))
        assert 0.0 <= x <= 1.0 and 0.0 <= y <= 1.0 and 0.0 <= dt <= 5.0


def _edge_share_of_draws(engine: Engine, draws: int = 400) -> float:
    engine.reset()
    engine.feed(1.0, 0.5, 0.0)  # at the right edge: about half the mixture lies off the screen
    start, rng = engine.snapshot(), np.random.default_rng(3)
    xs = []
    for _ in range(draws):
        engine.restore(start)
        xs.append(engine.draw(rng)[0])
    return float(np.mean(np.array(xs) >= 1.0))


def test_draws_off_the_screen_are_drawn_again_not_piled_on_the_edge(monkeypatch):
    engine = Engine(random_model(units=8, seed=4))
    assert _edge_share_of_draws(engine) < 0.02
    monkeypatch.setattr("robojam.core.policy.DRAWS_PER_TOUCH", 1)  # clipping alone, as before
    assert _edge_share_of_draws(engine) > 0.2


def test_generated_responses_stay_off_the_edges():
    engine = Engine(random_model(units=8, seed=4))
    response = engine.respond(np.array([[0.98, 0.02, 0.0], [0.99, 0.01, 0.02]]), seconds=3.0,
                              rng=np.random.default_rng(0))
    on_edge = (response[:, :2] <= 0.0) | (response[:, :2] >= 1.0)
    assert len(response) > 20 and on_edge.mean() < 0.05

import math

import numpy as np

from robojam.core.encoding import DeltaEncoding, RawEncoding
from robojam.train.evaluate import score, score_model
from robojam.core.modelfile import Model

PERFORMANCE = np.array([
    [0.5, 0.5, 0.0],
    [0.6, 0.5, 0.1],   # scored
    [1.2, 0.4, 0.2],   # off screen: fed (clipped to x = 1) but not scored
    [0.4, 0.4, 0.0],   # dt 0: not scored
    [0.4, 0.4, 7.0],   # dt over 5 s: not scored
    [0.5, 0.5, 0.3],   # scored
])


def constant_model(encoding, mus) -> Model:
    """One LSTM unit with zero weights: the head predicts N(mus, 1) whatever it is fed."""
    model = Model(1, 1, 1, encoding, {})
    model.weights = {name: np.zeros(shape, np.float32) for name, shape in model.expected_shapes().items()}
    model.weights["mdn_mus_bias"] = np.array(mus, np.float32)
    return model


def log_normal(v, mu):
    return -0.5 * math.log(2 * math.pi) - 0.5 * (v - mu) ** 2


def test_score_of_raw_encoding_by_hand():
    mus = [0.5, 0.5, 0.1]
    result = score_model(constant_model(RawEncoding(), mus), [PERFORMANCE])
    events = [PERFORMANCE[1], PERFORMANCE[5]]
    expected = -np.mean([sum(log_normal(v, m) for v, m in zip(e, mus)) for e in events])
    assert result.events == 2 and result.performances == 1
    assert math.isclose(result.nll_per_event, expected, rel_tol=1e-6)


def test_score_of_delta_encoding_includes_the_jacobian():
    encoding = DeltaEncoding(delta_scale=10.0, logdt_mean=-3.0, logdt_std=2.0)
    result = score_model(constant_model(encoding, [0.0, 0.0, 0.0]), [PERFORMANCE])

    def log_p(previous, event):
        dx, dy = (event[0] - previous[0]) * 10, (event[1] - previous[1]) * 10
        z = (math.log(event[2]) + 3.0) / 2.0
        jacobian = 2 * math.log(10) - math.log(2.0) - math.log(event[2])
        return log_normal(dx, 0) + log_normal(dy, 0) + log_normal(z, 0) + jacobian

    expected = -(log_p(PERFORMANCE[0], PERFORMANCE[1]) + log_p(PERFORMANCE[4], PERFORMANCE[5])) / 2
    assert math.isclose(result.nll_per_event, expected, rel_tol=1e-6)


def test_score_skips_performances_without_scored_events():
    single = np.array([[0.5, 0.5, 0.0]])
    nothing_scored = np.array([[0.5, 0.5, 0.0], [2.0, 0.5, 0.1]])
    result = score(lambda clean: np.zeros(len(clean) - 1), [single, nothing_scored, PERFORMANCE])
    assert (result.events, result.performances, result.nll_per_event) == (2, 1, 0.0)
    assert math.isnan(score(lambda clean: np.zeros(len(clean) - 1), [single]).nll_per_event)


def test_each_event_is_scored_given_exactly_the_events_before_it():
    """A model whose prediction depends on what it heard (the all-zero one above cannot tell the order)."""
    from robojam.core.engine import Engine
    from robojam.core.mixture import log_prob
    from robojam.train.evaluate import model_event_log_probs
    from synthetic import random_model, synthetic_performance

    for encoding in ("robojam", "delta"):
        model = random_model(units=8, encoding=encoding, seed=3)
        clean = synthetic_performance(np.random.default_rng(7))[:12].clip(0.0, 1.0)
        expected = []
        for i in range(1, len(clean)):
            engine = Engine(model)
            engine.condition(clean[:i])
            target = model.encoding.targets(clean[i - 1:i + 1])[1:]
            expected.append(log_prob(target, engine.mixture_params()[None], engine.dim, engine.mixtures)[0]
                            + model.encoding.log_jacobian(clean[i:i + 1])[0])
        np.testing.assert_allclose(model_event_log_probs(Engine(model), clean), expected, rtol=1e-5)

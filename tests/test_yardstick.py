import json
import math

import numpy as np
import pytest

from robojam.train.yardstick import Yardstick

TRUE_POSITION_WEIGHTS = np.array([0.6, 0.3, 0.1])
TRUE_S1, TRUE_S2 = 0.01, 0.03
TRUE_DT_WEIGHTS = np.array([0.7, 0.3])
TRUE_DT_LOG_MEANS = np.log([0.02, 0.5])
TRUE_DT_LOG_SIGMAS = np.array([0.3, 0.8])


def synthetic_performance(rng: np.random.Generator, n: int) -> np.ndarray:
    """Events drawn from the yardstick's own model with the TRUE_* parameters.

    Positions are not clipped, so the data follow the model exactly (the
    Gaussian components dwarf the jump density wherever they put points).
    """
    xy = np.empty((n, 2))
    xy[0] = rng.uniform(0, 1, 2)
    components = rng.choice(3, size=n, p=TRUE_POSITION_WEIGHTS)
    for t in range(1, n):
        current = xy[t - 1]
        velocity = current - xy[t - 2] if t >= 2 else np.zeros(2)
        if components[t] == 0:
            xy[t] = current + velocity + rng.normal(0, TRUE_S1, 2)
        elif components[t] == 1:
            xy[t] = current + rng.normal(0, TRUE_S2, 2)
        else:
            xy[t] = rng.uniform(0, 1, 2)
    dt = synthetic_dt(rng, n)
    dt[0] = 0.0
    return np.column_stack([xy, dt])


def synthetic_dt(rng: np.random.Generator, n: int) -> np.ndarray:
    k = rng.choice(len(TRUE_DT_WEIGHTS), size=n, p=TRUE_DT_WEIGHTS)
    return np.exp(rng.normal(TRUE_DT_LOG_MEANS[k], TRUE_DT_LOG_SIGMAS[k]))


def true_dt_log_density(dt: np.ndarray) -> np.ndarray:
    z = (np.log(dt)[:, None] - TRUE_DT_LOG_MEANS) / TRUE_DT_LOG_SIGMAS
    density = TRUE_DT_WEIGHTS * np.exp(-0.5 * z**2) / (TRUE_DT_LOG_SIGMAS * math.sqrt(2 * math.pi))
    return np.log(density.sum(axis=1)) - np.log(dt)


@pytest.fixture(scope="module")
def fitted() -> Yardstick:
    rng = np.random.default_rng(1234)
    performances = [synthetic_performance(rng, 100) for _ in range(200)]
    return Yardstick.fit(performances)


def test_fit_recovers_position_mixture(fitted):
    np.testing.assert_allclose(fitted.position_weights, TRUE_POSITION_WEIGHTS, atol=0.02)
    np.testing.assert_allclose(fitted.position_sigmas, [TRUE_S1, TRUE_S2], rtol=0.05)


def test_fit_matches_dt_density(fitted):
    # Four log-normals fitted to two: compare densities, not parameters.
    held_out = synthetic_dt(np.random.default_rng(99), 20_000)
    performance = np.column_stack([np.full((len(held_out), 2), 0.5), held_out])
    fitted_dt = fitted.event_log_probs(performance) - position_only_log_probs(fitted, performance)
    true_dt = true_dt_log_density(held_out[1:])
    assert abs(fitted_dt.mean() - true_dt.mean()) < 0.01


def position_only_log_probs(model: Yardstick, performance: np.ndarray) -> np.ndarray:
    """Position part alone: swap in a dt model of density 1 at dt=1 and score dt=1."""
    d = model.to_dict()
    d["dt"] = {"weights": [1.0], "log_means": [0.0], "log_sigmas": [1 / math.sqrt(2 * math.pi)]}
    unit_dt = performance.copy()
    unit_dt[1:, 2] = 1.0
    return Yardstick.from_dict(d).event_log_probs(unit_dt)


def hand_model() -> Yardstick:
    return Yardstick.from_dict({
        "position": {"weights": [0.5, 0.3, 0.2], "sigmas": [0.1, 0.2]},
        "dt": {"weights": [0.25, 0.75], "log_means": [math.log(0.1), math.log(0.2)], "log_sigmas": [0.5, 1.0]},
    })


def normal_2d(squared_distance: float, sigma: float) -> float:
    return math.exp(-squared_distance / (2 * sigma**2)) / (2 * math.pi * sigma**2)


def log_normal_mixture(dt: float) -> float:
    total = 0.0
    for weight, mean, sigma in [(0.25, math.log(0.1), 0.5), (0.75, math.log(0.2), 1.0)]:
        z = (math.log(dt) - mean) / sigma
        total += weight * math.exp(-0.5 * z * z) / (sigma * math.sqrt(2 * math.pi) * dt)
    return total


def test_event_log_probs_by_hand():
    performance = np.array([[0.5, 0.5, 0.0], [0.6, 0.5, 0.1], [0.7, 0.6, 0.2]])
    # Event 2: velocity 0, so both Gaussians are centred on (0.5, 0.5); distance^2 0.01.
    second = 0.5 * normal_2d(0.01, 0.1) + 0.3 * normal_2d(0.01, 0.2) + 0.2
    # Event 3: continue predicts (0.7, 0.5), step (0.6, 0.5); distances^2 0.01 and 0.02.
    third = 0.5 * normal_2d(0.01, 0.1) + 0.3 * normal_2d(0.02, 0.2) + 0.2
    expected = [
        math.log(second) + math.log(log_normal_mixture(0.1)),
        math.log(third) + math.log(log_normal_mixture(0.2)),
    ]
    np.testing.assert_allclose(hand_model().event_log_probs(performance), expected, rtol=1e-12)


def test_nonpositive_dt_is_nan_and_rest_scored():
    performance = np.array([[0.5, 0.5, 0.0], [0.6, 0.5, 0.0], [0.7, 0.6, 0.2], [0.1, 0.1, -1.0]])
    log_probs = hand_model().event_log_probs(performance)
    assert log_probs.shape == (3,)
    assert np.isnan(log_probs[0]) and np.isnan(log_probs[2])
    assert np.isfinite(log_probs[1])


def test_short_performances_give_empty_scores():
    assert hand_model().event_log_probs(np.zeros((1, 3))).shape == (0,)
    assert hand_model().event_log_probs(np.zeros((0, 3))).shape == (0,)


def test_dict_round_trip_through_json(fitted):
    performance = synthetic_performance(np.random.default_rng(7), 50)
    restored = Yardstick.from_dict(json.loads(json.dumps(fitted.to_dict())))
    np.testing.assert_array_equal(restored.event_log_probs(performance), fitted.event_log_probs(performance))


def test_fit_is_deterministic():
    rng = np.random.default_rng(5)
    performances = [synthetic_performance(rng, 30) for _ in range(10)]
    assert Yardstick.fit(performances, iterations=20).to_dict() == Yardstick.fit(performances, iterations=20).to_dict()


@pytest.mark.parametrize(
    "performances, message",
    [
        ([], "none"),
        ([np.zeros((1, 3)), np.zeros((0, 3))], "two or more events"),
        ([np.array([[0.1, 0.1, 0.0], [0.2, 0.2, 0.0]])], "dt > 0"),
        ([np.zeros((5, 2))], r"\(n, 3\)"),
    ],
)
def test_fit_rejects_unusable_input(performances, message):
    with pytest.raises(ValueError, match=message):
        Yardstick.fit(performances)


def test_fit_survives_degenerate_data():
    # A touch held perfectly still with identical gaps: every sigma hits its floor.
    still = np.column_stack([np.full((50, 2), 0.5), np.full(50, 0.01)])
    still[0, 2] = 0.0
    model = Yardstick.fit([still])
    log_probs = model.event_log_probs(still)
    assert np.all(np.isfinite(log_probs))
    assert np.all(model.position_sigmas >= 1e-4) and np.all(model.dt_sigmas >= 1e-4)


def test_from_dict_rejects_bad_dicts():
    with pytest.raises(ValueError):
        Yardstick.from_dict({"position": {"weights": [1.0]}})
    good = hand_model().to_dict()
    good["position"]["sigmas"] = [0.1, -0.2]
    with pytest.raises(ValueError, match="positive"):
        Yardstick.from_dict(good)

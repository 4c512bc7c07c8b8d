import math

import numpy as np

from robojam.core.mixture import Noise, log_prob, sample


def params_for(mus, sigmas, logits):
    return np.concatenate([np.ravel(mus), np.ravel(sigmas), logits])


def test_log_prob_matches_hand_computation():
    # two 2-D components, weights 0.25 / 0.75
    params = params_for([[0, 0], [1, 2]], [[1, 1], [0.5, 2]], np.log([1.0, 3.0]))
    y = np.array([0.5, 1.0])

    def normal(v, mu, s):
        return math.exp(-0.5 * ((v - mu) / s) ** 2) / (s * math.sqrt(2 * math.pi))

    expected = math.log(0.25 * normal(0.5, 0, 1) * normal(1, 0, 1) + 0.75 * normal(0.5, 1, 0.5) * normal(1, 2, 2))
    assert math.isclose(log_prob(y[None], params[None], 2, 2)[0], expected, rel_tol=1e-12)


def test_sampling_is_reproducible_with_a_seed():
    params = params_for([[0, 0, 0], [5, 5, 5]], np.ones((2, 3)), [0.0, 0.0])
    a = [sample(params, 3, 2, np.random.default_rng(7)) for _ in range(5)]
    b = [sample(params, 3, 2, np.random.default_rng(7)) for _ in range(5)]
    assert a == b
    assert a[0] != sample(params, 3, 2, np.random.default_rng(8))


def test_components_are_picked_with_their_tempered_weights():
    logits = np.log([0.1, 0.2, 0.7])
    params = params_for([[0.0], [10.0], [20.0]], [[1e-6], [1e-6], [1e-6]], logits)
    noise = Noise(np.random.default_rng(4), 3, 1)
    for temp in (1.0, 0.5):
        expected = np.exp(logits / temp) / np.exp(logits / temp).sum()
        picks = [round(sample(params, 1, 3, noise, temp)[0] / 10) for _ in range(20000)]
        frequencies = np.bincount(picks, minlength=3) / len(picks)
        np.testing.assert_allclose(frequencies, expected, atol=0.015)


def test_a_nan_head_still_gives_a_component_in_range():
    params = params_for([[0.0], [1.0]], [[1e-6], [1e-6]], [float("nan"), float("nan")])
    rng = np.random.default_rng(0)
    for _ in range(20):  # the component index stays in range, so the draw is one component's mean
        (value,) = sample(params, 1, 2, rng)
        assert math.isfinite(value) and min(abs(value), abs(value - 1.0)) < 1e-4


def test_lower_temperature_means_less_spread():
    params = params_for([[-3.0], [0.0], [3.0]], [[0.5], [0.5], [0.5]], [0.0, 0.5, 0.0])
    rng = np.random.default_rng(0)

    def spread(temp, sigma_temp):
        return np.std([sample(params, 1, 3, rng, temp, sigma_temp)[0] for _ in range(4000)])

    assert spread(0.1, 1.0) < 0.5 * spread(1.0, 1.0)
    assert spread(1.0, 1.0) < spread(3.0, 1.0)
    single = params_for([[1.0]], [[0.5]], [0.0])
    tight = np.std([sample(single, 1, 1, rng, 1.0, 0.25)[0] for _ in range(4000)])
    assert abs(tight - 0.5 * 0.5) < 0.02  # sigma_temp scales the variance


def test_noise_in_blocks_is_seeded_fresh_each_draw_and_scaled_by_temperature():
    a, b = Noise(np.random.default_rng(1), 4, 3, block=5), Noise(np.random.default_rng(1), 4, 3, block=5)
    draws = [a.take() for _ in range(12)]
    rows = [list(gumbels) + normals for gumbels, normals in draws]
    assert rows == [list(g) + n for g, n in (b.take() for _ in range(12))]
    assert all(len(row) == 7 for row in rows) and len({tuple(row) for row in rows}) == 12
    plain, tempered = Noise(np.random.default_rng(2), 4, 3, block=5), Noise(np.random.default_rng(2), 4, 3, block=5)
    for i in range(8):  # changing temperature mid-block scales what is left of it
        gumbels, _ = plain.take()
        scaled, _ = tempered.take(0.5 if i % 3 else 1.0)
        np.testing.assert_allclose(scaled, gumbels * (0.5 if i % 3 else 1.0), rtol=1e-6)


def test_a_tilt_leans_the_choice_towards_the_components_with_longer_gaps():
    """Sampler.tilt (the density knob): logits + tilt * each component's mean in the last dimension."""
    from robojam.core.mixture import Sampler

    # two components in 2 dimensions: means (0, -1) and (0, 2), sigmas 1, equal weights
    params = np.array([0.0, -1.0, 0.0, 2.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0], np.float32)
    sampler = Sampler(params, dim=2, mixtures=2)

    def share_of_the_longer(tilt):
        sampler.tilt = tilt
        noise = Noise(np.random.default_rng(0), 2, 2)
        return np.mean([sampler.draw(noise, sigma_temp=1e-6)[1] > 0.5 for _ in range(4000)])

    assert abs(share_of_the_longer(0.0) - 0.5) < 0.03
    # tilt t adds 3t to the longer one's logit over the shorter's: softmax gives 1 / (1 + e^-3t)
    for tilt in (0.3, -0.3, 1.0):
        assert abs(share_of_the_longer(tilt) - 1 / (1 + math.exp(-3 * tilt))) < 0.03, tilt

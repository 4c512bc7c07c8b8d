"""The mixture maths, checked where the mutation run (README, "Development") found it unchecked:
batches of any shape, numerically extreme heads, and draws built from exactly the documented noise."""

import math

import numpy as np
import pytest

from robojam.core.mixture import Noise, Sampler, log_prob, sample


def params_for(mus, sigmas, logits):
    return np.concatenate([np.ravel(mus), np.ravel(sigmas), logits])


def by_hand(y, params, dim, mixtures):
    """log p(y) for one row, summing the mixture term by term."""
    mus = params[:mixtures * dim].reshape(mixtures, dim)
    sigmas = params[mixtures * dim:2 * mixtures * dim].reshape(mixtures, dim)
    logits = params[2 * mixtures * dim:]
    weights = np.exp(logits - logits.max())
    weights /= weights.sum()
    total = 0.0
    for k in range(mixtures):
        density = 1.0
        for d in range(dim):
            s = sigmas[k, d]
            density *= math.exp(-0.5 * ((y[d] - mus[k, d]) / s) ** 2) / (s * math.sqrt(2 * math.pi))
        total += weights[k] * density
    return math.log(total)


def random_head(rng, dim, mixtures):
    return params_for(rng.normal(0, 1, (mixtures, dim)), rng.uniform(0.3, 2.5, (mixtures, dim)),
                      rng.normal(0, 1, mixtures))


def test_log_prob_of_batches_of_any_shape_matches_each_row_by_hand():
    rng = np.random.default_rng(0)
    dim, mixtures = 2, 3  # different, so summing over the wrong axis cannot pass
    params = np.array([[random_head(rng, dim, mixtures) for _ in range(4)] for _ in range(2)])  # (2, 4, P)
    y = rng.normal(0, 1, (2, 4, dim))
    expected = np.array([[by_hand(y[i, j], params[i, j], dim, mixtures) for j in range(4)] for i in range(2)])
    np.testing.assert_allclose(log_prob(y, params, dim, mixtures), expected, rtol=1e-10)
    np.testing.assert_allclose(log_prob(y[0], params[0], dim, mixtures), expected[0], rtol=1e-10)
    single = log_prob(y[0, 0], params[0, 0], dim, mixtures)  # one row: a scalar
    assert np.shape(single) == () and math.isclose(float(single), expected[0, 0], rel_tol=1e-10)


def test_log_prob_stays_finite_for_extreme_logits_and_outliers_in_one_batch():
    dim, mixtures = 1, 2
    calm = params_for([[0.0], [1.0]], [[1.0], [1.0]], [0.0, 0.0])
    loud = params_for([[0.0], [1.0]], [[1.0], [1.0]], [1000.0, 1000.0 - math.log(3.0)])  # weights 3/4, 1/4
    sharp = params_for([[0.0], [1.0]], [[1e-3], [1e-3]], [0.0, 0.0])
    params = np.array([calm, loud, sharp, sharp])
    y = np.array([[0.5], [0.5], [0.0], [40.0]])  # the last is 40 000 standard deviations out
    got = log_prob(y, params, dim, mixtures)
    assert np.isfinite(got).all()
    normal = [math.exp(-0.5 * v ** 2) / math.sqrt(2 * math.pi) for v in (0.5, -0.5)]
    assert got[0] == pytest.approx(math.log(0.5 * normal[0] + 0.5 * normal[1]), rel=1e-12)
    assert got[1] == pytest.approx(math.log(0.75 * normal[0] + 0.25 * normal[1]), rel=1e-12)
    assert got[2] == pytest.approx(math.log(0.5 / (1e-3 * math.sqrt(2 * math.pi))), rel=1e-9)
    expected_far = math.log(0.5) - math.log(1e-3 * math.sqrt(2 * math.pi)) - 0.5 * (39.0 / 1e-3) ** 2
    assert got[3] == pytest.approx(expected_far, rel=1e-9)


def test_noise_hands_out_the_generators_numbers_in_order():
    """Each draw takes ``mixtures`` Gumbel numbers and ``dim`` normals, a block at a time (documented)."""
    noise, twin = Noise(np.random.default_rng(5), 3, 2, block=4), np.random.default_rng(5)
    for _ in range(2):
        gumbels, normals = twin.gumbel(size=(4, 3)), twin.standard_normal((4, 2))
        for row in range(4):
            got_gumbels, got_normals = noise.take()
            assert got_gumbels.dtype == np.float32
            np.testing.assert_array_equal(got_gumbels, gumbels[row].astype(np.float32))
            assert got_normals == normals[row].tolist()


def test_a_blocks_first_draw_is_scaled_by_any_temperature():
    for temp in (2.0, 0.5):
        plain, tempered = Noise(np.random.default_rng(3), 4, 1, block=3), Noise(np.random.default_rng(3), 4, 1, block=3)
        for _ in range(5):
            np.testing.assert_allclose(tempered.take(temp)[0], plain.take()[0] * temp, rtol=1e-6)


def test_a_draw_is_the_chosen_components_mean_plus_its_scaled_deviation():
    dim, mixtures = 2, 3
    params = params_for([[0.1, 0.2], [5.0, 6.0], [-4.0, -3.0]], [[0.3, 0.4], [0.5, 0.7], [1.1, 1.3]],
                        [0.0, 0.4, -0.2]).astype(np.float32)
    for temp, sigma_temp in ((1.0, 1.0), (0.7, 0.25)):
        noise, twin = Noise(np.random.default_rng(8), mixtures, dim), Noise(np.random.default_rng(8), mixtures, dim)
        sampler = Sampler(params, dim, mixtures)
        for _ in range(50):
            gumbels, normals = twin.take(temp)
            k = int(np.argmax(params[2 * mixtures * dim:] + gumbels))
            mu, sigma = params[k * dim:(k + 1) * dim], params[mixtures * dim + k * dim:mixtures * dim + (k + 1) * dim]
            expected = [float(mu[d]) + float(sigma[d]) * math.sqrt(sigma_temp) * normals[d] for d in range(dim)]
            assert sampler.draw(noise, temp, sigma_temp) == pytest.approx(expected, rel=1e-12)


def test_default_temperatures_are_one():
    params = params_for([[0.0], [3.0]], [[0.5], [2.0]], [0.3, -0.3])
    # one draw a Generator: over 200 of them, a temperature of 2 picks another component at least once
    by_default = [sample(params, 1, 2, np.random.default_rng(seed)) for seed in range(200)]
    assert by_default == [sample(params, 1, 2, np.random.default_rng(seed), 1.0, 1.0) for seed in range(200)]
    assert by_default != [sample(params, 1, 2, np.random.default_rng(seed), 2.0, 1.0) for seed in range(200)]
    noise_a, noise_b = Noise(np.random.default_rng(4), 2, 1), Noise(np.random.default_rng(4), 2, 1)
    sampler = Sampler(params.astype(np.float32), 1, 2)
    assert [sampler.draw(noise_a) for _ in range(20)] == [sampler.draw(noise_b, 1.0, 1.0) for _ in range(20)]


def test_sample_takes_one_draws_numbers_from_a_generator_and_applies_sigma_of():
    rng, twin = np.random.default_rng(6), np.random.default_rng(6)
    params = params_for([[0.25, 0.75]], [[-1.0, -1.0]], [0.0])  # raw deviations, activated by sigma_of
    assert sample(params, 2, 1, rng, sigma_of=lambda v: 0.0) == [0.25, 0.75]
    twin.gumbel(size=(1, 1)), twin.standard_normal((1, 2))
    assert rng.random() == twin.random()  # the Generator was not run ahead

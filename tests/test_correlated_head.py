"""A correlated head (Graves 2013): a correlation per component between the movement's two numbers,
its density, its draw, its Keras twin, its model file and fine-tuning a diagonal model into one."""

from __future__ import annotations

import json

import numpy as np
import pytest
from synthetic import long_corpus, random_model, synthetic_performance
from test_cli import robojam_here
from test_corpus import raw_corpus_file

from robojam import RobojamError
from robojam.core.corpus import clean
from robojam.core.engine import Engine
from robojam.core.mixture import RHO_LIMIT, Head, Noise, Sampler
from robojam.core.modelfile import load_model, save_model
from robojam.train.evaluate import model_event_log_probs


def random_params(head: Head, rng: np.random.Generator, rows: int) -> np.ndarray:
    params = rng.normal(0, 1, (rows, head.size))
    params[:, head.sigmas] = rng.uniform(0.2, 2.0, (rows, head.mixtures * head.dim))
    params[:, head.rhos] = rng.uniform(-RHO_LIMIT, RHO_LIMIT, (rows, head.mixtures))
    return params


def full_covariance_log_prob(y: np.ndarray, params: np.ndarray, head: Head) -> float:
    """log p(y) written out with each component's whole covariance matrix, as a textbook has it."""
    dim, k = head.dim, head.mixtures
    means = params[head.means].reshape(k, dim)
    sigmas = params[head.sigmas].reshape(k, dim)
    weights = np.exp(params[head.logits] - params[head.logits].max())
    weights /= weights.sum()
    total = 0.0
    for j in range(k):
        covariance = np.diag(sigmas[j] ** 2)
        covariance[0, 1] = covariance[1, 0] = params[head.rhos][j] * sigmas[j, 0] * sigmas[j, 1]
        r = y - means[j]
        density = np.exp(-0.5 * r @ np.linalg.solve(covariance, r)) / np.sqrt(
            (2 * np.pi) ** dim * np.linalg.det(covariance))
        total += weights[j] * density
    return float(np.log(total))


def test_the_density_is_the_bivariate_normal_mixture_written_out():
    head, rng = Head(3, 4, correlated=True), np.random.default_rng(3)
    params = random_params(head, rng, 20)
    y = rng.normal(0, 1, (20, 3))
    got = head.log_prob(y, params)
    expected = [full_covariance_log_prob(y[i], params[i], head) for i in range(20)]
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_the_layout_puts_the_correlations_between_the_deviations_and_the_logits():
    head, plain = Head(3, 4, correlated=True), Head(3, 4)
    assert head.size == plain.size + 4 and head.parts == ("mus", "sigmas", "rhos", "pi")
    assert (head.rhos.start, head.rhos.stop) == (24, 28) and (head.logits.start, head.logits.stop) == (28, 32)
    assert plain.rhos.stop == plain.rhos.start == 24 and list(head.part_sizes.values()) == [12, 12, 4, 4]


def test_with_every_correlation_zero_the_density_is_the_diagonal_heads():
    head, plain, rng = Head(3, 4, correlated=True), Head(3, 4), np.random.default_rng(4)
    params = random_params(head, rng, 10)
    params[:, head.rhos] = 0.0
    y = rng.normal(0, 1, (10, 3))
    diagonal = np.delete(params, np.r_[head.rhos], axis=1)
    np.testing.assert_allclose(head.log_prob(y, params), plain.log_prob(y, diagonal), rtol=1e-12)


def test_a_draw_correlates_the_movement_as_its_component_says():
    head = Head(3, 1, correlated=True)
    params = np.zeros(head.size, np.float32)
    params[head.sigmas] = [2.0, 0.5, 1.0]
    params[head.rhos] = -0.8
    sampler = Sampler(params, 3, 1, correlated=True)
    noise = Noise(np.random.default_rng(5), 1, 3)
    draws = np.array([sampler.draw(noise) for _ in range(20000)])
    np.testing.assert_allclose(draws.std(axis=0), [2.0, 0.5, 1.0], rtol=0.03)
    correlations = np.corrcoef(draws.T)
    assert abs(correlations[0, 1] + 0.8) < 0.02
    assert abs(correlations[0, 2]) < 0.03 and abs(correlations[1, 2]) < 0.03


def test_the_engine_draws_with_its_activated_correlations():
    model = random_model(encoding="heading", correlated=True, seed=2)
    engine = Engine(model)
    engine.condition(synthetic_performance(np.random.default_rng(1)))
    params = engine.mixture_params()
    assert np.all(np.abs(params[model.head.rhos]) <= RHO_LIMIT) and np.any(params[model.head.rhos] != 0)
    sampler = engine.policy.sampler
    assert sampler._rhos == model.head.rhos.start
    raw = engine._head_out[model.head.rhos]
    np.testing.assert_allclose(params[model.head.rhos], RHO_LIMIT * np.tanh(raw), rtol=1e-6)
    model.weights["mdn_rhos_bias"][:] = 4.0  # raw outputs far past 1: only their activation is a correlation
    answer = Engine(model).respond(synthetic_performance(np.random.default_rng(1)), 2.0, np.random.default_rng(3))
    assert len(answer) > 5 and np.isfinite(answer).all()


def test_a_correlated_model_file_round_trips_and_a_bad_flag_is_refused(tmp_path):
    model = random_model(encoding="heading", correlated=True, seed=3)
    save_model(model, tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["architecture"]["correlated"] is True
    loaded = load_model(tmp_path / "m")
    assert loaded.correlated and "(correlated)" in loaded.describe()
    np.testing.assert_array_equal(loaded.weights["mdn_rhos_kernel"], model.weights["mdn_rhos_kernel"])
    plain = random_model(encoding="heading", seed=3)
    save_model(plain, tmp_path / "p")
    assert "correlated" not in json.loads((tmp_path / "p" / "model.json").read_text())["architecture"]
    meta["architecture"]["correlated"] = "yes"
    (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
    with pytest.raises(RobojamError, match="architecture.correlated is \"yes\""):
        load_model(tmp_path / "m")
    plain_meta = json.loads((tmp_path / "p" / "model.json").read_text())
    plain_meta["architecture"]["correlated"] = True  # a correlated model whose weights lack the correlations
    (tmp_path / "p" / "model.json").write_text(json.dumps(plain_meta))
    with pytest.raises(RobojamError, match="lacks mdn_rhos"):
        load_model(tmp_path / "p")


def test_added_correlations_leave_the_model_as_it_was():
    from robojam.train.training import with_correlations

    model = random_model(encoding="heading", seed=4)
    correlated = with_correlations(model)
    assert correlated.correlated and not model.correlated
    touches = clean(synthetic_performance(np.random.default_rng(2), strokes=5))
    np.testing.assert_allclose(model_event_log_probs(Engine(correlated), touches),
                               model_event_log_probs(Engine(model), touches), rtol=1e-6)
    a, b = (Engine(m).respond(touches, 2.0, np.random.default_rng(9)) for m in (model, correlated))
    np.testing.assert_allclose(a, b, rtol=1e-5)


def test_the_engine_agrees_with_the_keras_correlated_head():
    keras = pytest.importorskip("keras")
    from robojam.core.modelfile import Model
    from robojam.core.encoding import HeadingEncoding
    from robojam.train.network import build_sequence_network, keras_sequence_model, weights_from_keras

    keras.utils.set_random_seed(5)
    encoding = HeadingEncoding(10.0, -3.5, 1.2)
    network = build_sequence_network(encoding.input_dim, 2, 16, 3, correlated=True)
    model = Model(2, 16, 3, encoding, weights_from_keras(network, 2, Head(3, 3, True)), correlated=True)
    touches = clean(synthetic_performance(np.random.default_rng(0), strokes=8))
    inputs = encoding.inputs(touches)[None].astype(np.float32)
    expected = np.asarray(network(inputs))[0]
    assert np.abs(expected[:, model.head.rhos]).max() > 0.05  # the twin's correlations are not all 0
    engine, got = Engine(model), []
    for x, y, dt in touches:
        engine.feed(x, y, dt)
        got.append(engine.mixture_params())
    np.testing.assert_allclose(np.array(got), expected, atol=1e-4, rtol=0)
    np.testing.assert_allclose(np.asarray(keras_sequence_model(model)(inputs))[0], expected, atol=1e-6)


def test_the_training_loss_is_the_correlated_density():
    pytest.importorskip("keras")
    from robojam.train.network import masked_mdn_loss

    head, rng = Head(3, 4, correlated=True), np.random.default_rng(7)
    params = random_params(head, rng, 10).reshape(2, 5, head.size)
    targets = rng.normal(0, 1, (2, 5, 3))
    weights = np.ones((2, 5))
    y_true = np.concatenate([targets, weights[..., None]], axis=-1)
    loss = masked_mdn_loss(3, 4, correlated=True)(y_true.astype(np.float32), params.astype(np.float32))
    assert np.isclose(float(loss), -head.log_prob(targets, params).mean(), rtol=1e-5)


def test_train_from_a_diagonal_model_with_correlated_learns_correlations(tmp_path):
    corpus = tmp_path / "corpus.npz"
    raw_corpus_file(corpus, long_corpus(24, seed=5))
    base = tmp_path / "base"
    save_model(random_model(units=8, mixtures=2, encoding="heading"), base)  # any model with a diagonal head
    tuned = tmp_path / "tuned"
    result = robojam_here("train", corpus, "-o", tuned, "--from", base, "--correlated", "--lr", 0.01,
                          "--seq-len", 16, "--epochs", 2, "--seed", 1)
    assert "(correlated)" in result.stdout
    model = load_model(tuned)
    assert model.correlated and json.loads((tuned / "model.json").read_text())["training"]["correlated"] is True
    assert np.any(model.weights["mdn_rhos_kernel"] != 0)
    again = robojam_here("train", corpus, "-o", tmp_path / "again", "--from", tuned, "--seq-len", 16, "--epochs", 1)
    assert load_model(tmp_path / "again").correlated and "(correlated)" in again.stdout

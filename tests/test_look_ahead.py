"""The look-ahead head (robojam train --look-ahead): its targets, its loss, and a run that uses it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from synthetic import long_corpus
from test_cli import robojam_here
from test_corpus import raw_corpus_file

from robojam.core.encoding import DeltaEncoding
from robojam.core.modelfile import load_model
from robojam.train.look_ahead import GAP_FLOOR, ahead_targets, standardise_gaps
from robojam.train.training import make_windows


def _performance(n: int = 9) -> np.ndarray:
    rng = np.random.default_rng(3)
    return np.column_stack([rng.uniform(0, 1, n), rng.uniform(0, 1, n), rng.uniform(0.01, 0.05, n)])


def test_the_targets_are_the_move_and_the_time_k_touches_on():
    touches, k = _performance(), 3
    targets = ahead_targets(touches, np.ones(len(touches), bool), k)
    for t in range(len(touches) - k):
        np.testing.assert_allclose(targets[t, :2], (touches[t + k, :2] - touches[t, :2]) * 10)
        np.testing.assert_allclose(targets[t, 2], np.log(touches[t + 1:t + k + 1, 2].sum() + GAP_FLOOR))
    np.testing.assert_array_equal(targets[:, 3], [1] * (len(touches) - k) + [0] * k)
    assert not ahead_targets(touches[:k], np.ones(k, bool), k).any()


def test_an_unscored_touch_leaves_out_every_target_that_reaches_over_it():
    touches, k = _performance(), 2
    scored = np.ones(len(touches), bool)
    scored[4] = False
    weights = ahead_targets(touches, scored, k)[:, 3]
    np.testing.assert_array_equal(weights, [1, 1, 0, 0, 1, 1, 1, 0, 0])  # events 2 and 3 reach over event 4


def test_windows_carry_each_events_look_ahead_after_the_next_touchs_target():
    touches, encoding = _performance(12), DeltaEncoding(10.0, -3.5, 1.2)
    plain_x, plain_y = make_windows([touches], encoding, seq_len=4)
    inputs, targets = make_windows([touches], encoding, seq_len=4, look_ahead=2)
    np.testing.assert_array_equal(inputs, plain_x)
    np.testing.assert_array_equal(targets[..., :plain_y.shape[-1]], plain_y)
    ahead = ahead_targets(touches, np.ones(len(touches), bool), 2)
    np.testing.assert_allclose(targets[1, :, plain_y.shape[-1]:], ahead[2:6], rtol=1e-6)  # windows start every 2


def test_the_log_times_are_standardised_by_the_training_windows_alone():
    train = np.array([[[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 3.0, 1.0], [0.0, 0.0, 9.0, 0.0]]])
    val = np.array([[[0.0, 0.0, 4.0, 1.0], [0.0, 0.0, 5.0, 0.0]]])
    standardise_gaps(train, val)
    np.testing.assert_allclose(train[0, :, 2], [-1.0, 1.0, 0.0])  # mean 2, spread 1; unweighted rows 0
    np.testing.assert_allclose(val[0, :, 2], [2.0, 0.0])


def test_the_loss_adds_the_weighted_look_ahead_to_the_next_touchs():
    pytest.importorskip("keras")
    from robojam.core.mixture import Head
    from robojam.train.look_ahead import AHEAD_DIM, AHEAD_MIXTURES, with_look_ahead
    from robojam.train.network import masked_mdn_loss

    head, ahead = Head(3, 2), Head(AHEAD_DIM, AHEAD_MIXTURES)
    rng = np.random.default_rng(0)
    y_pred = rng.uniform(0.5, 1.5, (2, 5, head.size + ahead.size)).astype(np.float32)  # deviations > 0
    y_true = rng.normal(0, 0.5, (2, 5, 4 + 4)).astype(np.float32)
    y_true[..., 3] = y_true[..., 7] = 1.0
    next_loss = masked_mdn_loss(3, 2)
    loss, next_touch = with_look_ahead(next_loss, head.size, 3, weight=0.5)
    alone = float(next_loss(y_true[..., :4], y_pred[..., :head.size]))
    further = float(masked_mdn_loss(AHEAD_DIM, AHEAD_MIXTURES)(y_true[..., 4:], y_pred[..., head.size:]))
    assert float(next_touch(y_true, y_pred)) == pytest.approx(alone, rel=1e-5)
    assert float(loss(y_true, y_pred)) == pytest.approx(alone + 0.5 * further, rel=1e-5)


def test_a_run_looking_ahead_saves_a_model_with_the_next_touchs_head_alone(tmp_path):
    pytest.importorskip("keras")
    corpus = tmp_path / "corpus.npz"
    raw_corpus_file(corpus, long_corpus(24, seed=5))
    out = tmp_path / "ahead"
    result = robojam_here("train", corpus, "-o", out, "--units", 8, "--mixtures", 2, "--seq-len", 16,
                          "--epochs", 2, "--look-ahead", 4, "--look-ahead-weight", 0.5)
    assert "looks 4 touches ahead" in result.stdout
    model = load_model(out)
    assert set(model.weights) == set(model.expected_shapes())
    training = json.loads((out / "model.json").read_text())["training"]
    assert training["look_ahead"] == 4 and training["look_ahead_weight"] == 0.5
    assert np.isfinite(training["best_val_loss"])


def test_checkpoints_follow_the_loss_the_run_is_judged_by(tmp_path):
    pytest.importorskip("keras")
    from synthetic import random_model

    from robojam.train.training import checkpoint_best

    made = []

    def make():
        made.append(1)
        return random_model(units=4, mixtures=1)

    callback = checkpoint_best(make, tmp_path / "checkpoints", monitor="val_next_touch")
    for next_touch, both in ((1.0, 5.0), (0.5, 9.0), (0.7, 9.5)):
        callback.on_epoch_end(0, {"val_next_touch": next_touch, "val_loss": both})
    assert len(made) == 2  # the first two epochs improved the next touch's loss, only the first the sum


def test_a_fresh_look_ahead_head_is_fitted_with_every_other_layer_held():
    pytest.importorskip("keras")
    from robojam.core.mixture import Head
    from robojam.train.look_ahead import fit_ahead_head_alone, with_look_ahead
    from robojam.train.network import build_sequence_network, masked_mdn_loss

    touches, encoding = _performance(40), DeltaEncoding(10.0, -3.5, 1.2)
    inputs, targets = make_windows([touches], encoding, seq_len=8, look_ahead=3)
    network = build_sequence_network(encoding.input_dim, 1, 4, 2, look_ahead=True)
    loss, _ = with_look_ahead(masked_mdn_loss(3, 2), Head(3, 2).size, 3, weight=0.3)
    before = {layer.name: [w.copy() for w in layer.get_weights()] for layer in network.layers}
    fit_ahead_head_alone(network, loss, inputs, targets, batch_size=4, epochs=2, verbose=0)
    for layer in network.layers:
        moved = [not np.array_equal(a, b) for a, b in zip(before[layer.name], layer.get_weights())]
        assert all(moved) if layer.name == "ahead" else not any(moved), layer.name
        assert layer.trainable

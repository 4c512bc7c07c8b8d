"""Drafted answers: the train split's calls answered as robojam plays, for the network to learn from."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from synthetic import long_corpus, random_model
from test_cli import robojam, robojam_here
from test_corpus import raw_corpus_file
from test_drafts import stump

from robojam import RobojamError
from robojam.core.corpus import load_corpus_npz, save_corpus_npz, split_of
from robojam.core.drafts import respond_with_drafts
from robojam.core.engine import Engine
from robojam.train.realism import make_pairs
from robojam.train.distill import ANSWER_STREAM, appended, calls_to_answer, drafted_answers

CALL = np.array([[0.2, 0.3, 0.0], [0.25, 0.32, 0.02], [0.3, 0.35, 0.04], [0.6, 0.6, 0.4], [0.62, 0.6, 0.02]])


def test_an_answer_follows_its_call_after_the_calls_median_gap():
    answer = np.array([[0.5, 0.5, 0.0], [0.52, 0.5, 0.017]])
    joined = appended(CALL, answer)
    assert joined.dtype == np.float32 and joined.shape == (7, 3)
    np.testing.assert_array_equal(joined[:5], CALL.astype(np.float32))
    np.testing.assert_array_equal(joined[5:], np.float32([[0.5, 0.5, 0.03], [0.52, 0.5, 0.017]]))
    assert answer[0, 2] == 0.0  # the answer given is left as it was
    np.testing.assert_array_equal(appended(CALL, np.empty((0, 3))), CALL.astype(np.float32))


def test_only_the_train_splits_calls_are_answered():
    corpus = long_corpus(40, seed=3)
    pairs = calls_to_answer(corpus)
    expected = make_pairs([p for p in corpus if split_of(p) == "train"])
    assert 0 < len(pairs) == len(expected) < len(make_pairs(corpus))
    for got, want in zip(pairs, expected):
        np.testing.assert_array_equal(got.call, want.call)
    with pytest.raises(RobojamError, match="train split is long enough"):
        calls_to_answer([p[:10] for p in corpus])


def test_each_is_its_call_and_the_drafted_answer_robojam_would_play():
    model = random_model(style=True)
    model.selector = stump(0, 0.5)
    pairs = calls_to_answer(long_corpus(30, seed=5))[:6]
    ticks = []
    made = drafted_answers(model, pairs, drafts=4, seed=7, progress=ticks.append)
    assert ticks == [1] * len(pairs) and len(made) == len(pairs)
    rng, engine = np.random.default_rng([7, ANSWER_STREAM]), Engine(model)  # one engine: it draws noise in blocks
    for pair, joined in zip(pairs, made):
        seconds = float(pair.human[1:, 2].sum())
        answer = respond_with_drafts(engine, model.selector, pair.call, seconds, rng, 4)
        np.testing.assert_array_equal(joined, appended(pair.call, answer))
    plain = drafted_answers(model, pairs, drafts=1, seed=7)
    assert any(not np.array_equal(a, b) for a, b in zip(made, plain))  # the selector chose among the drafts


def test_drafting_without_a_selector_is_refused_and_one_draw_needs_none():
    model = random_model()
    pairs = calls_to_answer(long_corpus(30, seed=5))[:2]
    with pytest.raises(RobojamError, match="no selector"):
        drafted_answers(model, pairs, drafts=8)
    assert len(drafted_answers(model, pairs, drafts=1)) == 2


def test_a_written_corpus_reads_back_as_written(tmp_path):
    performances = [CALL, CALL[:2] * 0.5]
    path = save_corpus_npz(performances, tmp_path / "deep" / "made")  # no .npz: the name is kept as given
    assert path == tmp_path / "deep" / "made" and path.exists()
    read = load_corpus_npz(path)
    assert len(read) == 2
    for got, want in zip(read, performances):
        np.testing.assert_array_equal(got, want.astype(np.float32))


def test_distill_writes_a_corpus_that_train_learns_from_beside_the_train_split(tmp_path):
    corpus = tmp_path / "corpus.npz"
    performances = long_corpus(30, seed=2)
    raw_corpus_file(corpus, performances)
    out = tmp_path / "drafted.npz"
    result = robojam("distill", corpus, "-o", out, "--seed", 3, "--drafts", 2)
    made = load_corpus_npz(out)
    pairs = calls_to_answer(performances)
    assert f"{len(pairs)} drafted answers" in result.stdout and len(made) == len(pairs)
    for joined, pair in zip(made, pairs):
        assert len(joined) > len(pair.call)
        np.testing.assert_array_equal(joined[:len(pair.call)], pair.call.astype(np.float32))
    again = tmp_path / "again.npz"
    robojam("distill", corpus, "-o", again, "--seed", 3, "--drafts", 2)
    assert all(np.array_equal(a, b) for a, b in zip(made, load_corpus_npz(again)))
    refused = robojam("distill", corpus, "-o", tmp_path / "r.csv", check=False)
    assert refused.returncode != 0 and "ending .npz" in refused.stderr

    base = tmp_path / "base"
    plain = robojam_here("train", corpus, "-o", base, "--units", 8, "--mixtures", 2, "--seq-len", 16,
                         "--epochs", 2, "--seed", 1)
    taught = tmp_path / "taught"  # a learning rate that wrecks the model: with drafted answers the last epoch is kept
    result = robojam_here("train", corpus, "-o", taught, "--from", base, "--drafted", out, "--lr", 50,
                          "--seq-len", 16, "--epochs", 2, "--seed", 1)
    assert f"and {len(made)} drafted answers" in result.stdout and "the last epoch's validation loss" in result.stdout
    assert "saved unchanged" not in result.stdout
    drafted_windows = sum(len(range(0, len(r) - 1, 16 // 2)) for r in made)  # windows start every seq_len / 2
    assert windows(result.stdout) == windows(plain.stdout) + drafted_windows
    base_meta, meta = (json.loads((folder / "model.json").read_text()) for folder in (base, taught))
    info = meta["training"]
    assert info["drafted_answers"] == {"performances": len(made), "events": sum(len(r) for r in made)}
    assert info["epochs_run"] == 2 and info["kept_epoch"] == "last" and info["kept_base"] is False
    assert info["train"] == base_meta["training"]["train"] and info["val"] == base_meta["training"]["val"]
    base_weights, weights, checkpoint = (np.load(folder / "weights.npz") for folder in
                                         (base, taught, taught / "checkpoints"))
    assert not np.array_equal(base_weights["lstm0_kernel"], weights["lstm0_kernel"])
    assert np.array_equal(checkpoint["lstm0_kernel"], weights["lstm0_kernel"])  # the last epoch's, saved as it ended


def windows(train_output: str) -> int:
    """The training windows a robojam train run reports."""
    return int(re.search(r"\((\d+) windows of", train_output).group(1))

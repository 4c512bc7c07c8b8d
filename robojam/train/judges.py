"""The realism report's two judges: classifiers that try to tell robojam's responses from people.

**The features test** reads one row a performance: its
:data:`robojam.core.features.FEATURES`, summaries a person chose.

**The featureless test** reads what no one chose: runs of ``RUN``
consecutive raw touches, each a row (:mod:`robojam.core.touch_runs`). No value
summarises more than two touches. Tuning the sampler to a feature list does
not move this test.

Both use scikit-learn's ``HistGradientBoostingClassifier`` (settings in
``CLASSIFIER``), on unweighted rows (weights would make its binning hundreds
of times slower, and the AUC reads ranks, which a side with more rows does
not shift). A performance's score is the mean of its rows' predicted chances
of being robojam's. The AUC of those scores is 0.5 when the
judge cannot tell the sides apart and 1 when it always can.

A judge is scored two ways:

- **held out** (:func:`held_out_auc`): it learns from one set of pairs and
  is scored on pairs it never saw (the realism report's figure of record);
- **k-fold** (:func:`kfold_auc`): ``FOLDS`` folds of whole pairs (a call's
  human continuation and its response always share a fold), each scored by
  a judge that learned from the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable

import numpy as np

from robojam import RobojamError
from robojam.core.features import feature_matrix
from robojam.core.touch_runs import HOP, MIN_GAP, MIN_STEP, RUN, run_rows  # noqa: F401 (the judges' names)

FOLDS = 5
# Chosen on the val split (learned from train's pairs): more trees and leaves than this gained nothing.
CLASSIFIER = {"max_iter": 400, "learning_rate": 0.1, "max_leaf_nodes": 31, "min_samples_leaf": 20,
              "l2_regularization": 1.0, "early_stopping": False}
SKLEARN_MISSING = 'robojam eval --realism needs scikit-learn: pip install "robojam[eval]"'


@dataclass(frozen=True)
class Judge:
    """One test: its name and how a performance (rows ``x, y, dt``) becomes rows for the classifier."""

    name: str
    rows: Callable[[np.ndarray], np.ndarray]


def feature_rows(touches: np.ndarray) -> np.ndarray:
    """One row: the performance's features."""
    return feature_matrix([touches])


FEATURES_TEST = Judge("features", feature_rows)
FEATURELESS_TEST = Judge("featureless", run_rows)
JUDGES = (FEATURES_TEST, FEATURELESS_TEST)


def _sklearn():
    try:
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.metrics import roc_auc_score
    except ImportError:
        raise RobojamError(SKLEARN_MISSING) from None
    return HistGradientBoostingClassifier, roc_auc_score


def _stack(judge: Judge, performances: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Every performance's rows, stacked, and which performance each row came from."""
    blocks = [judge.rows(p) for p in performances]
    owners = np.repeat(np.arange(len(blocks)), [len(b) for b in blocks])
    return np.vstack(blocks), owners


def fit(judge: Judge, humans: list[np.ndarray], responses: list[np.ndarray], seed: int = 0):
    """A classifier that learned to tell ``responses`` (1) from ``humans`` (0)."""
    return fit_rows(_stack(judge, humans)[0], _stack(judge, responses)[0], seed)


def fit_rows(human_rows: np.ndarray, response_rows: np.ndarray, seed: int = 0):
    """A classifier that learned to tell ``response_rows`` (1) from ``human_rows`` (0)."""
    classifier, _ = _sklearn()
    labels = np.r_[np.zeros(len(human_rows)), np.ones(len(response_rows))]
    return classifier(random_state=seed, **CLASSIFIER).fit(np.vstack([human_rows, response_rows]), labels)


def scores(fitted, judge: Judge, performances: list[np.ndarray]) -> np.ndarray:
    """Each performance's mean chance, over its rows, of being a response."""
    rows, owners = _stack(judge, performances)
    chances = fitted.predict_proba(rows)[:, 1]
    return np.bincount(owners, weights=chances, minlength=len(performances)) / np.bincount(owners)


def auc(human_scores: np.ndarray, response_scores: np.ndarray) -> float:
    """The chance that a response scores above a human performance (ties count half)."""
    _, roc_auc_score = _sklearn()
    labels = np.r_[np.zeros(len(human_scores)), np.ones(len(response_scores))]
    return float(roc_auc_score(labels, np.r_[human_scores, response_scores]))


def held_out_auc(judge: Judge, learn: tuple[list, list], scored: tuple[list, list], seed: int = 0) -> float:
    """AUC on ``scored`` (humans, responses) of a judge that learned from ``learn`` alone."""
    fitted = fit(judge, *learn, seed=seed)
    return auc(*(scores(fitted, judge, side) for side in scored))


def kfold_auc(judge: Judge, humans: list[np.ndarray], responses: list[np.ndarray], seed: int = 0) -> float:
    """AUC over FOLDS folds of whole pairs: ``humans[i]`` and ``responses[i]`` are pair i's two sides."""
    fold = np.random.default_rng(seed).permutation(len(humans)) % FOLDS
    predicted = [np.zeros(len(humans)), np.zeros(len(responses))]
    for k in range(FOLDS):
        inside, outside = np.flatnonzero(fold == k), np.flatnonzero(fold != k)
        if not len(inside):
            continue
        fitted = fit(judge, [humans[i] for i in outside], [responses[i] for i in outside], seed)
        for side, performances in zip(predicted, (humans, responses)):
            side[inside] = scores(fitted, judge, [performances[i] for i in inside])
    return auc(*predicted)

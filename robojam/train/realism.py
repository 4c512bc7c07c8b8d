"""How human-like a model's responses are: ``robojam eval DATA --realism``.

The method, in four parts.

**Pairs.** Every performance with at least ``MIN_TOUCHES`` touches lasting at
least ``MIN_SECONDS`` is cut in half *by time*: the first half is the
**call**, the second the **human continuation** (its first dt set to 0: it
starts when it starts, as a response does). The model answers the call with a
**response** (``Engine.respond``: reset, condition on the call, generate) as
long as the continuation. Halves of fewer than 2 touches, or a continuation
lasting no time, make no pair. A seeded numpy Generator makes it reproducible.

**Realism.** A classifier two-sample test. Each performance becomes
``FEATURES``: summaries that do not depend on its length (rates, shares,
quantiles, means). A gradient-boosted classifier learns to tell responses from
human continuations; its cross-validated AUC (stratified 5-fold, shuffled,
seeded, classes weighted equally) is 0.5 when they cannot be told apart and 1
when they always can. The classifier fitted on all pairs ranks the features
that give responses away; the two-sample KS distance per feature says how far
apart each distribution is. The control splits the human continuations into
two random halves and runs the same test: it should give about 0.5, and
shows how far from 0.5 chance alone goes with this many pairs.

**Following.** Whether a response takes up its call's style: for each of the
``STYLE_FEATURES``, the Spearman correlation across pairs between the call's
value and the response's, averaged over the features; beside it the same for
the call and its human continuation (how much people follow themselves). A
feature constant in either sample has no correlation and is skipped (and
named).

**The rest.** The edge share (touches within ``EDGE`` of the screen's edge)
of responses and of human continuations, and the held-out NLL
(:func:`robojam.train.evaluate.score_model`) on the same performances.

The features, and how each is measured, are in :mod:`robojam.core.features`.

numpy only at import; scikit-learn (the ``eval`` extra) and scipy, which comes
with it, are imported when the test runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from robojam import RobojamError
from robojam.core.corpus import usable
from robojam.core.engine import Engine
from robojam.core.features import (EDGE, FEATURES, STYLE_FEATURES, constant,  # noqa: F401 (the report's names)
                                   describe, feature_matrix, near_edge)
from robojam.core.modelfile import Model
from robojam.train.evaluate import score_model

MIN_TOUCHES = 40
MIN_SECONDS = 2.0
MIN_PAIRS = 10  # 5-fold cross-validation of the control needs 5 of each half
FOLDS = 5
N_ESTIMATORS = 100
MAX_DEPTH = 3
CONTROL_STREAM = 1  # the control's halves come from their own random stream, apart from the responses'

SKLEARN_MISSING = 'robojam eval --realism needs scikit-learn: pip install "robojam[eval]"'


# ---- pairs ------------------------------------------------------------------------------------

@dataclass
class Pair:
    """One performance's call and human continuation, and the model's response (rows ``x, y, dt``)."""

    call: np.ndarray
    human: np.ndarray
    robojam: np.ndarray | None = None


def split_in_time(touches: np.ndarray) -> Pair | None:
    """The call (first half by time) and human continuation of a cleaned performance, or None.

    None for performances too short (under MIN_TOUCHES touches or MIN_SECONDS)
    or with a half of under 2 touches or a continuation lasting no time.
    """
    times = np.concatenate([[0.0], np.cumsum(touches[1:, 2])])
    if len(touches) < MIN_TOUCHES or times[-1] < MIN_SECONDS:
        return None
    second = times > times[-1] / 2
    call, human = touches[~second], touches[second].copy()
    if len(call) < 2 or len(human) < 2:
        return None
    human[0, 2] = 0.0
    return Pair(call, human) if human[1:, 2].sum() > 0 else None


def make_pairs(performances: list[np.ndarray]) -> list[Pair]:
    """Calls and human continuations of the performances that qualify (no responses yet)."""
    halves = (split_in_time(touches) for touches, _ in usable(performances))
    return [pair for pair in halves if pair is not None]


def respond_to_pairs(model: Model, pairs: list[Pair], rng: np.random.Generator,
                     temp: float = 1.0, sigma_temp: float = 1.0) -> None:
    """Fill in each pair's response: the call answered for as long as its human continuation."""
    engine = Engine(model)
    for pair in pairs:
        seconds = float(pair.human[1:, 2].sum())
        pair.robojam = engine.respond(pair.call, seconds, rng, temp, sigma_temp)


# ---- the statistics ---------------------------------------------------------------------------

def require_sklearn():
    """scikit-learn's and scipy's parts the test needs, or RobojamError naming the extra."""
    try:
        from scipy.stats import ks_2samp, spearmanr
        from sklearn.ensemble import GradientBoostingClassifier
        from sklearn.metrics import roc_auc_score
        from sklearn.model_selection import StratifiedKFold
        from sklearn.utils.class_weight import compute_sample_weight
    except ImportError:
        raise RobojamError(SKLEARN_MISSING) from None
    return {"ks_2samp": ks_2samp, "spearmanr": spearmanr, "classifier": GradientBoostingClassifier,
            "roc_auc_score": roc_auc_score, "folds": StratifiedKFold, "weights": compute_sample_weight}


def _samples(first: np.ndarray, second: np.ndarray):
    """Stacked features, labels (0 first, 1 second) and weights that count each class equally."""
    features = np.vstack([first, second])
    labels = np.concatenate([np.zeros(len(first)), np.ones(len(second))])
    return features, labels, require_sklearn()["weights"]("balanced", labels)


def _classifier(seed: int):
    return require_sklearn()["classifier"](n_estimators=N_ESTIMATORS, max_depth=MAX_DEPTH, random_state=seed)


def classifier_auc(first: np.ndarray, second: np.ndarray, seed: int = 0) -> float:
    """Cross-validated AUC of a classifier telling ``second``'s rows from ``first``'s (0.5: it cannot)."""
    sk = require_sklearn()
    features, labels, weights = _samples(first, second)
    predicted = np.zeros(len(labels))
    for train, test in sk["folds"](FOLDS, shuffle=True, random_state=seed).split(features, labels):
        fitted = _classifier(seed).fit(features[train], labels[train], sample_weight=weights[train])
        predicted[test] = fitted.predict_proba(features[test])[:, 1]
    return float(sk["roc_auc_score"](labels, predicted))


def giveaways(first: np.ndarray, second: np.ndarray, seed: int = 0) -> list[tuple[str, float]]:
    """(feature, importance) of the classifier fitted on all rows, most telling first."""
    features, labels, weights = _samples(first, second)
    fitted = _classifier(seed).fit(features, labels, sample_weight=weights)
    ranked = sorted(zip(FEATURES, fitted.feature_importances_), key=lambda item: -item[1])
    return [(name, round(float(importance), 4)) for name, importance in ranked]


def control_auc(humans: np.ndarray, rng: np.random.Generator, seed: int = 0) -> float:
    """The same test on two random halves of the human continuations: about 0.5 by design."""
    order = rng.permutation(len(humans))
    half = len(humans) // 2
    return classifier_auc(humans[order[:half]], humans[order[half:]], seed)


def ks_distances(humans: np.ndarray, responses: np.ndarray) -> dict[str, float]:
    """Per feature, the two-sample Kolmogorov-Smirnov distance (0: same distribution, 1: disjoint)."""
    ks = require_sklearn()["ks_2samp"]
    return {name: round(float(ks(humans[:, j], responses[:, j]).statistic), 4) for j, name in enumerate(FEATURES)}


def following(calls: np.ndarray, answers: np.ndarray) -> dict[str, float | None]:
    """Per style feature, Spearman's correlation across pairs of call and answer; None if either is constant."""
    spearman = require_sklearn()["spearmanr"]
    result = {}
    for name in STYLE_FEATURES:
        j = FEATURES.index(name)
        a, b = calls[:, j], answers[:, j]
        result[name] = None if constant(a) or constant(b) else round(float(spearman(a, b).statistic), 4)
    return result


def _average(correlations: dict[str, float | None]) -> float | None:
    values = [v for v in correlations.values() if v is not None]
    return round(float(np.mean(values)), 4) if values else None


def following_report(calls: np.ndarray, humans: np.ndarray, responses: np.ndarray) -> dict:
    robojam, human = following(calls, responses), following(calls, humans)
    return {"mean": _average(robojam), "human_mean": _average(human),
            "per_feature": {name: {"robojam": robojam[name], "human": human[name]} for name in STYLE_FEATURES},
            "skipped": {"robojam": [n for n, v in robojam.items() if v is None],
                        "human": [n for n, v in human.items() if v is None]}}


def edge_share(pairs: list[Pair]) -> dict[str, float | None]:
    """Share of all touches within EDGE of the screen's edge: responses, human continuations, their ratio."""
    robojam = float(np.mean(near_edge(np.vstack([p.robojam for p in pairs]))))
    human = float(np.mean(near_edge(np.vstack([p.human for p in pairs]))))
    return {"robojam": round(robojam, 4), "human": round(human, 4),
            "ratio": round(robojam / human, 3) if human > 0 else None}


# ---- the report -------------------------------------------------------------------------------

@dataclass
class Study:
    """Everything the report is made from: the pairs, their feature matrices, and the report itself."""

    pairs: list[Pair]
    calls: np.ndarray
    humans: np.ndarray
    responses: np.ndarray
    report: dict


def realism_study(model: Model, performances: list[np.ndarray], *, seed: int = 0, temp: float = 1.0,
                  sigma_temp: float = 1.0) -> Study:
    """Make the pairs, answer the calls and run every test; see the module's docstring."""
    require_sklearn()
    pairs = make_pairs(performances)
    if len(pairs) < MIN_PAIRS:
        raise RobojamError(f"the realism report needs at least {MIN_PAIRS} performances of {MIN_TOUCHES}+ "
                           f"touches lasting {MIN_SECONDS:g}+ s; found {len(pairs)} among {len(performances)}")
    respond_to_pairs(model, pairs, np.random.default_rng(seed), temp, sigma_temp)
    calls, humans, responses = (feature_matrix([getattr(p, part) for p in pairs])
                                for part in ("call", "human", "robojam"))
    score = score_model(model, performances)
    return Study(pairs, calls, humans, responses, {
        "model": model.describe(),
        "pairs": len(pairs),
        "realism_auc": round(classifier_auc(humans, responses, seed), 4),
        "control_auc": round(control_auc(humans, np.random.default_rng([seed, CONTROL_STREAM]), seed), 4),
        "giveaways": [list(item) for item in giveaways(humans, responses, seed)],
        "ks": ks_distances(humans, responses),
        "medians": {name: {"human": round(float(np.median(humans[:, j])), 4),
                           "robojam": round(float(np.median(responses[:, j])), 4)}
                    for j, name in enumerate(FEATURES)},
        "following": following_report(calls, humans, responses),
        "edge_share": edge_share(pairs),
        "nll_per_event": round(score.nll_per_event, 4) if math.isfinite(score.nll_per_event) else None,
        "settings": {"temp": temp, "sigma_temp": sigma_temp, "shape_temp": model.temperatures.shape,
                     "rhythm_temp": model.temperatures.rhythm, "gap_tilt": model.temperatures.gap_tilt,
                     "rim": model.temperatures.rim, "rim_keep": model.temperatures.rim_keep,
                     "echo": model.temperatures.echo, "seed": seed},
    })


def realism_report(model: Model, performances: list[np.ndarray], *, seed: int = 0, temp: float = 1.0,
                   sigma_temp: float = 1.0) -> dict:
    """The realism report as a JSON-able dict (keys as in ``robojam eval --realism --json``)."""
    return realism_study(model, performances, seed=seed, temp=temp, sigma_temp=sigma_temp).report


def format_report(report: dict, top: int = 8) -> str:
    """The report as a few aligned lines and a table of features, most telling first."""
    following_ = report["following"]
    edge = report["edge_share"]
    settings = report["settings"]
    lines = [
        f"{report['model']}",
        f"{report['pairs']} pairs ({settings.get('split', 'all')}), temp {settings['temp']:g}, "
        f"sigma-temp {settings['sigma_temp']:g}, shape temp {settings['shape_temp']:g}, "
        f"rhythm temp {settings['rhythm_temp']:g}, gap tilt {settings['gap_tilt']:g}, "
        f"rim {settings['rim']:g} kept {settings['rim_keep']:g}, echo {settings['echo']:g}, seed {settings['seed']}",
        f"  realism AUC   {report['realism_auc']:.3f}   responses told from human continuations "
        f"(0.5: indistinguishable, 1: always)",
        f"  control AUC   {report['control_auc']:.3f}   two random halves of the human continuations",
        f"  following     {_show(following_['mean'])}   human {_show(following_['human_mean'])}   "
        f"mean Spearman, call to answer, over {len(STYLE_FEATURES)} style features",
        f"  edge share    {edge['robojam']:.3f}   human {edge['human']:.3f}   ratio {_show(edge['ratio'], '.2f')}",
        f"  held-out NLL  {_show(report['nll_per_event'], '.4f')} nats/event",
    ]
    for side, names in following_["skipped"].items():
        if names:
            lines.append(f"  following skips {', '.join(names)} ({side}: constant)")
    lines.append(f"\n  {'feature':<16}{'importance':>11}{'KS':>7}{'human':>10}{'robojam':>10}")
    for name, importance in report["giveaways"][:top] if top else report["giveaways"]:
        medians = report["medians"][name]
        lines.append(f"  {name:<16}{importance:>11.3f}{report['ks'][name]:>7.2f}"
                     f"{medians['human']:>10.3g}{medians['robojam']:>10.3g}")
    lines.append("  (importance in the classifier, KS distance, medians)")
    return "\n".join(lines)


def _show(value, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)

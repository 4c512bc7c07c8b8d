"""How human-like a model's responses are: ``robojam eval DATA --realism``.

The method; ``docs/realism.md`` says why each part is there.

**Pairs.** Every performance with at least ``MIN_TOUCHES`` touches lasting at
least ``MIN_SECONDS`` is cut in half *by time*: the first half is the
**call**, the second the **human continuation** (its first dt set to 0: it
starts when it starts, as a response does). The model answers the call with a
**response** (``Engine.respond``: reset, condition on the call, generate) as
long as the continuation; with ``drafts`` over 1 and a model with a selector,
drafted phrase by phrase, that many candidates a phrase
(:mod:`robojam.core.drafts`), as ``robojam respond`` plays. Halves of fewer
than 2 touches, or a continuation lasting no time, make no pair. A seeded
numpy Generator makes it reproducible.

**One grid.** Calls, continuations and responses are all snapped to one
touchscreen point grid (:mod:`robojam.train.grid`) before any test.

**Realism.** Two classifier two-sample tests (:mod:`robojam.train.judges`):
the *features* test reads each performance's ``FEATURES``, the *featureless*
test reads runs of raw consecutive touches. For ``--split test`` the judges
learn from the pairs of the train and val splits and are scored on the test
pairs (for ``--split val``, they learn from the train split's): a **held-out
judge**. Each is also scored by k-fold over the evaluated pairs alone. The
report's **realism AUC is the worse (higher) of the two tests**, held out
where there is a held-out judge. The control splits the human continuations
into two random halves and runs both tests' k-fold on them: about 0.5. The
**sanity row** runs the same tests on a sampler known to be wrong (each human
continuation with its steps in random order): a report that does not score it
at least ``SANITY_TARGET`` is too weak to trust. A gradient-boosted classifier
fitted on all the features ranks those that give responses away; the
two-sample KS distance says how far apart each feature's distributions lie.

**Following.** Whether a response takes up its call's style: for each of the
``STYLE_FEATURES``, the Spearman correlation across pairs between the call's
value and the response's, averaged over the features, and over the
``SHAPE_FEATURES`` (shape and space) alone; beside each, the same for the call
and its human continuation (how much people follow themselves). A feature
constant in either sample has no correlation and is skipped (and named).

**Copies** (:mod:`robojam.train.copies`): the share of the responses' runs
that repeat a run of their call's steps, and of the training split's; and
the share of their leaps between strokes that repeat one of their call's.

**The rest.** The edge share (touches within ``EDGE`` of the screen's edge)
of responses and of human continuations, and the held-out NLL
(:func:`robojam.train.evaluate.score_model`) on the evaluated performances.

The features, and how each is measured, are in :mod:`robojam.core.features`.

numpy only at import; scikit-learn (the ``eval`` extra) and scipy, which comes
with it, are imported when the test runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from robojam import RobojamError
from robojam.core.corpus import select_split, split_of, usable
from robojam.core.drafts import respond_with_drafts
from robojam.core.engine import Engine
from robojam.core.features import (EDGE, FEATURES, STYLE_FEATURES, constant,  # noqa: F401 (the report's names)
                                   describe, feature_matrix, near_edge)
from robojam.core.modelfile import Model
from robojam.train import copies, grid
from robojam.train.evaluate import score_model
from robojam.train.judges import JUDGES, SKLEARN_MISSING, held_out_auc, kfold_auc

MIN_TOUCHES = 40
MIN_SECONDS = 2.0
MIN_PAIRS = 10  # 5-fold cross-validation of the control needs 5 of each half
N_ESTIMATORS = 100  # the classifier that ranks the giveaways
MAX_DEPTH = 3
# Random streams of their own, apart from the evaluated responses': the control's halves, the
# judge's responses, the sanity sampler's shuffles.
CONTROL_STREAM, JUDGE_STREAM, SANITY_STREAM = 1, 2, 3
# Which splits' pairs a held-out judge learns from, for the split evaluated.
JUDGE_SPLITS = {"test": ("train", "val"), "val": ("train",)}
SHAPE_FEATURES = ("turning", "straight_share", "spread_x", "spread_y", "tap_share")
SANITY_TARGET = 0.95
SANITY_SAMPLER = "people's own steps in random order"


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
                     temp: float = 1.0, sigma_temp: float = 1.0, steer: dict[str, float] | None = None,
                     drafts: int = 1, progress: Callable[[int], None] | None = None) -> None:
    """Fill in each pair's response: the call answered for as long as its human continuation (with the
    knobs of ``steer``, robojam.core.steering), drafted with ``drafts`` candidates a phrase by the model's selector.
    ``progress`` is called with 1 after each call is answered."""
    engine = Engine(model)
    for pair in pairs:
        seconds = float(pair.human[1:, 2].sum())
        pair.robojam = respond_with_drafts(engine, model.selector, pair.call, seconds, rng, drafts, temp,
                                           sigma_temp, steer)
        if progress is not None:
            progress(1)


# ---- the statistics ---------------------------------------------------------------------------

def require_sklearn():
    """scikit-learn's and scipy's parts the report needs, or RobojamError naming the extra."""
    try:
        from scipy.stats import ks_2samp, spearmanr
        from sklearn.ensemble import GradientBoostingClassifier
        from sklearn.utils.class_weight import compute_sample_weight
    except ImportError:
        raise RobojamError(SKLEARN_MISSING) from None
    return {"ks_2samp": ks_2samp, "spearmanr": spearmanr, "classifier": GradientBoostingClassifier,
            "weights": compute_sample_weight}


def giveaways(first: np.ndarray, second: np.ndarray, seed: int = 0) -> list[tuple[str, float]]:
    """(feature, importance) of a classifier fitted on all rows, most telling first."""
    sk = require_sklearn()
    features = np.vstack([first, second])
    labels = np.concatenate([np.zeros(len(first)), np.ones(len(second))])
    fitted = sk["classifier"](n_estimators=N_ESTIMATORS, max_depth=MAX_DEPTH, random_state=seed).fit(
        features, labels, sample_weight=sk["weights"]("balanced", labels))
    ranked = sorted(zip(FEATURES, fitted.feature_importances_), key=lambda item: -item[1])
    return [(name, round(float(importance), 4)) for name, importance in ranked]


def judged(humans: list, responses: list, learn: tuple[list, list] | None, seed: int = 0) -> dict:
    """Both tests' AUCs (k-fold over the pairs, and held out when ``learn`` gives the judge's pairs)
    and ``worse``: the higher of the two tests' figures of record."""
    tests = {}
    for judge in JUDGES:
        tests[judge.name] = {"kfold": round(kfold_auc(judge, humans, responses, seed), 4)}
        if learn is not None:
            tests[judge.name]["held_out"] = round(held_out_auc(judge, learn, (humans, responses), seed), 4)
    record = "held_out" if learn is not None else "kfold"
    return {"worse": max(test[record] for test in tests.values()), **tests}


def control(humans: list, rng: np.random.Generator, seed: int = 0) -> dict:
    """Both tests' k-fold on two random halves of the human continuations: about 0.5 by design."""
    order = rng.permutation(len(humans))
    half = len(humans) // 2
    first, second = ([humans[i] for i in part] for part in (order[:half], order[half:2 * half]))
    return judged(first, second, None, seed)


def shuffled_steps(touches: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The sanity sampler: the same first touch, then the performance's own steps (dx, dy, dt) in a
    random order, positions kept on the screen."""
    steps = np.diff(touches[:, :2], axis=0)[rng.permutation(len(touches) - 1)]
    gaps = touches[1:, 2][rng.permutation(len(touches) - 1)]
    xy = np.clip(touches[0, :2] + np.vstack([np.zeros((1, 2)), np.cumsum(steps, axis=0)]), 0.0, 1.0)
    return np.column_stack([xy, np.r_[touches[0, 2], gaps]])


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


def _average(correlations: dict[str, float | None], names=STYLE_FEATURES) -> float | None:
    values = [correlations[name] for name in names if correlations[name] is not None]
    return round(float(np.mean(values)), 4) if values else None


def following_report(calls: np.ndarray, humans: np.ndarray, responses: np.ndarray) -> dict:
    robojam, human = following(calls, responses), following(calls, humans)
    return {"mean": _average(robojam), "human_mean": _average(human),
            "shape_mean": _average(robojam, SHAPE_FEATURES), "human_shape_mean": _average(human, SHAPE_FEATURES),
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


@dataclass
class Answered:
    """A split's pairs and the held-out judge's, answered and snapped to one grid."""

    evaluated: list[np.ndarray]
    pairs: list[Pair]
    judge_pairs: list[Pair]
    learn_splits: tuple[str, ...]
    points: int


def answered_pairs(model: Model, performances: list[np.ndarray], split: str, seed: int,
                   temp: float = 1.0, sigma_temp: float = 1.0, steer: dict[str, float] | None = None,
                   drafts: int = 1) -> Answered:
    """Make the pairs of ``split`` (and the held-out judge's), answer the calls and snap every part to the
    grid chosen from the people's continuations."""
    require_sklearn()
    evaluated = select_split(performances, split)
    pairs = make_pairs(evaluated)
    if len(pairs) < MIN_PAIRS:
        raise RobojamError(f"the realism report needs at least {MIN_PAIRS} performances of {MIN_TOUCHES}+ "
                           f"touches lasting {MIN_SECONDS:g}+ s; found {len(pairs)} among {len(evaluated)}")
    learn_splits = JUDGE_SPLITS.get(split, ())
    judge_pairs = make_pairs([p for p in performances if split_of(p) in learn_splits])
    if len(judge_pairs) < MIN_PAIRS:
        judge_pairs, learn_splits = [], ()
    respond_to_pairs(model, pairs, np.random.default_rng(seed), temp, sigma_temp, steer, drafts)
    respond_to_pairs(model, judge_pairs, np.random.default_rng([seed, JUDGE_STREAM]), temp, sigma_temp, steer,
                     drafts)
    points = grid.chosen_points([p.human for p in pairs])
    for pair in pairs + judge_pairs:
        pair.call, pair.human, pair.robojam = (grid.snap(part, points) for part in (pair.call, pair.human,
                                                                                    pair.robojam))
    return Answered(evaluated, pairs, judge_pairs, learn_splits, points)


def realism_auc(answered: Answered, seed: int) -> float:
    """The realism AUC of record alone (the worse of the two tests, held out where there is a judge's
    split, else k-fold): what ``robojam eval --steer --realism`` reports for each knob."""
    humans, responses = [p.human for p in answered.pairs], [p.robojam for p in answered.pairs]
    if not answered.judge_pairs:
        return max(kfold_auc(judge, humans, responses, seed) for judge in JUDGES)
    learn = ([p.human for p in answered.judge_pairs], [p.robojam for p in answered.judge_pairs])
    return max(held_out_auc(judge, learn, (humans, responses), seed) for judge in JUDGES)


def realism_study(model: Model, performances: list[np.ndarray], *, split: str = "all", seed: int = 0,
                  temp: float = 1.0, sigma_temp: float = 1.0, drafts: int = 1) -> Study:
    """Make the pairs of ``split`` (and the held-out judge's), answer the calls (``drafts`` candidates a phrase)
    and run every test; see the module's docstring."""
    answered = answered_pairs(model, performances, split, seed, temp, sigma_temp, drafts=drafts)
    evaluated, pairs, judge_pairs, points = answered.evaluated, answered.pairs, answered.judge_pairs, answered.points
    calls, humans, responses = (feature_matrix([getattr(p, part) for p in pairs])
                                for part in ("call", "human", "robojam"))
    score = score_model(model, evaluated)
    return Study(pairs, calls, humans, responses, {
        "model": model.describe(),
        "pairs": len(pairs),
        "judge": {"learned_from": list(answered.learn_splits), "pairs": len(judge_pairs)},
        "grid": {"points": points, "time_step_s": grid.TIME_STEP},
        **_realism(pairs, judge_pairs, seed),
        "giveaways": [list(item) for item in giveaways(humans, responses, seed)],
        "ks": ks_distances(humans, responses),
        "medians": {name: {"human": round(float(np.median(humans[:, j])), 4),
                           "robojam": round(float(np.median(responses[:, j])), 4)}
                    for j, name in enumerate(FEATURES)},
        "following": following_report(calls, humans, responses),
        "copies": _copies(pairs, performances, split, points),
        "edge_share": edge_share(pairs),
        "nll_per_event": round(score.nll_per_event, 4) if math.isfinite(score.nll_per_event) else None,
        "settings": {"temp": temp, "sigma_temp": sigma_temp, "shape_temp": model.temperatures.shape,
                     "rhythm_temp": model.temperatures.rhythm, "gap_tilt": model.temperatures.gap_tilt,
                     "rim": model.temperatures.rim, "rim_keep": model.temperatures.rim_keep,
                     "echo": model.temperatures.echo, "seed": seed, "split": split,
                     "drafts": drafts if model.selector is not None else 1},
    })


def _realism(pairs: list[Pair], judge_pairs: list[Pair], seed: int) -> dict:
    """Both tests on the responses, the control, and the sanity row."""
    humans, responses = [p.human for p in pairs], [p.robojam for p in pairs]
    learn = ([p.human for p in judge_pairs], [p.robojam for p in judge_pairs]) if judge_pairs else None
    tests = judged(humans, responses, learn, seed)
    controls = control(humans, np.random.default_rng([seed, CONTROL_STREAM]), seed)
    shuffle = np.random.default_rng([seed, SANITY_STREAM])
    wrong = [shuffled_steps(h, shuffle) for h in humans]
    wrong_learn = (learn[0], [shuffled_steps(h, shuffle) for h in learn[0]]) if learn else None
    sanity = judged(humans, wrong, wrong_learn, seed)
    return {"realism_auc": tests.pop("worse"), "tests": tests,
            "control_auc": controls.pop("worse"), "control": controls,
            "sanity": {"sampler": SANITY_SAMPLER, "auc": sanity["worse"], "target": SANITY_TARGET,
                       "caught": sanity.pop("worse") >= SANITY_TARGET, "tests": sanity}}


def _copies(pairs: list[Pair], performances: list[np.ndarray], split: str, points: int) -> dict:
    """Shares of moving runs repeated from the call, and from the training split (when it was not evaluated);
    the share of leaps between strokes repeated from the call."""
    humans, responses = [p.human for p in pairs], [p.robojam for p in pairs]
    calls = [copies.step_runs(p.call, points) for p in pairs]
    result = {"run_touches": copies.RUN,
              "call": {"robojam": copies.copied_share(responses, calls, points),
                       "human": copies.copied_share(humans, calls, points)},
              "call_leaps": {side: copies.leap_copied_share(parts, [p.call for p in pairs], points)
                             for side, parts in (("robojam", responses), ("human", humans))}}
    if split in JUDGE_SPLITS:
        corpus = copies.corpus_runs([grid.snap(clean, points) for clean, _ in
                                     usable(select_split(performances, "train"))], points)
        result["corpus"] = {"robojam": copies.copied_share(responses, [corpus] * len(pairs), points),
                            "human": copies.copied_share(humans, [corpus] * len(pairs), points)}
    return result


def realism_report(model: Model, performances: list[np.ndarray], *, split: str = "all", seed: int = 0,
                   temp: float = 1.0, sigma_temp: float = 1.0, drafts: int = 1) -> dict:
    """The realism report as a JSON-able dict (keys as in ``robojam eval --realism --json``)."""
    return realism_study(model, performances, split=split, seed=seed, temp=temp, sigma_temp=sigma_temp,
                         drafts=drafts).report

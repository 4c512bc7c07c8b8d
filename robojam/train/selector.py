"""Learning the drafts' selector for a model: ``robojam selector DATA --model M``.

The selector (:mod:`robojam.core.selector`) is the realism report's
featureless judge, fitted on the **train split** alone: its calls answered
plainly (one draft) by the model, against the same calls' human
continuations, both snapped to the grid chosen from those continuations. Its
trees are then written out as flat node arrays, so that choosing among drafts
needs numpy alone. The val and test splits stay unseen, so the realism
report's figures on them are still held out from the selector.
"""

from __future__ import annotations

import numpy as np

from robojam import RobojamError
from robojam.core.corpus import select_split
from robojam.core.modelfile import Model
from robojam.core.features import FEATURES
from robojam.core.selector import Selector, averaged, beside, call_context, selector_from_arrays
from robojam.core.touch_runs import run_rows
from robojam.train import grid
from robojam.train.judges import fit_rows
from robojam.train.realism import MIN_PAIRS, make_pairs, respond_to_pairs

SELECTOR_SPLIT = "train"
ANSWER_STREAM = 777  # the answers it learns from draw from a stream of their own
FIT_SEED = 1


def learn_selector(model: Model, performances: list[np.ndarray], seed: int = 0, drafts: int = 1,
                   reads_call: bool = False) -> Selector:
    """Answer the train split's calls with ``model`` and fit a selector to tell them from people's.

    With ``drafts`` over 1 (a further round), the answers are drafted with the model's own selector,
    that many candidates a phrase, and the selector returned averages the new one with it: the new
    trees learn what still gives the drafted answers away (and read the call if it does). With
    ``reads_call``, every run is read beside its call's features: the selector learns which answers
    people give to which calls.
    """
    pairs = make_pairs(select_split(performances, SELECTOR_SPLIT))
    if len(pairs) < MIN_PAIRS:
        raise RobojamError(f"a selector learns from at least {MIN_PAIRS} calls of the {SELECTOR_SPLIT} split; "
                           f"found {len(pairs)}")
    if drafts > 1 and model.selector is None:
        raise RobojamError("a further round drafts with the model's selector, and it has none: "
                           "learn one first (without --drafts)")
    if drafts > 1:
        reads_call = bool(model.selector.context)
    respond_to_pairs(model, pairs, np.random.default_rng([seed, ANSWER_STREAM]), drafts=drafts)
    points = grid.chosen_points([p.human for p in pairs])
    contexts = [call_context(p.call) if reads_call else np.zeros(0) for p in pairs]
    humans, responses = ([beside(run_rows(grid.snap(getattr(p, side), points)), context)
                          for p, context in zip(pairs, contexts)] for side in ("human", "robojam"))
    fitted = fit_rows(np.vstack(humans), np.vstack(responses), seed=FIT_SEED)
    learned = exported(fitted, points, len(FEATURES) if reads_call else 0)
    return averaged([model.selector, learned]) if drafts > 1 else learned


def exported(fitted, points: int, context: int = 0) -> Selector:
    """A fitted ``HistGradientBoostingClassifier``'s trees as a numpy Selector (same chances, to rounding)."""
    trees = [predictors[0].nodes for predictors in fitted._predictors]
    if any(tree["is_categorical"].any() for tree in trees):
        raise RobojamError("a selector's trees split on numbers only")
    offsets = np.cumsum([0] + [len(tree) for tree in trees[:-1]])
    nodes = np.concatenate(trees)
    shift = np.repeat(offsets, [len(tree) for tree in trees])
    return selector_from_arrays({
        "feature": nodes["feature_idx"].astype(np.int64),
        "threshold": nodes["num_threshold"].astype(np.float64),
        "missing_left": nodes["missing_go_to_left"].astype(bool),
        "left": nodes["left"].astype(np.int64) + shift,
        "right": nodes["right"].astype(np.int64) + shift,
        "leaf": nodes["is_leaf"].astype(bool),
        "value": nodes["value"].astype(np.float64),
        "roots": offsets.astype(np.int64),
        "baseline": np.float64(np.ravel(fitted._baseline_prediction)[0]),
        "points": np.int64(points), "context": np.int64(context),
    })

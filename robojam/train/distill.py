"""Distilling drafting into the network: ``robojam distill DATA --model M -o FILE``.

Drafting (:mod:`robojam.core.drafts`) keeps, phrase by phrase, the candidate
its selector finds most like a person's. Teaching the network on the answers
drafting keeps may bring some of that gain to every draw, steered ones
included. Each call of the train split (the first half by time of a
performance, as the realism report cuts it) is answered as ``robojam
respond`` plays, for as long as its human continuation, and the answer is
appended to its call, joined by the call's median gap between touches: one
**drafted answer**, a performance of its own. ``robojam train DATA --from M
--drafted FILE`` fine-tunes on the corpus with them beside its train split;
the val and test splits stay unseen.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from robojam import RobojamError
from robojam.core.corpus import select_split
from robojam.core.modelfile import Model
from robojam.train.realism import Pair, make_pairs, respond_to_pairs

CALLS_SPLIT = "train"
ANSWER_STREAM = 4242  # the answers draw from a stream of their own: default_rng([seed, ANSWER_STREAM])


def drafted_answers(model: Model, pairs: list[Pair], drafts: int, seed: int = 0,
                    progress: Callable[[int], None] | None = None) -> list[np.ndarray]:
    """Each pair's call followed by ``model``'s answer to it, drafted with ``drafts`` candidates a phrase,
    as long as the pair's human continuation (each pair's ``robojam`` is set to it, as the realism report's
    ``respond_to_pairs`` does). ``progress`` is called with 1 after each call is answered."""
    if model.selector is None and drafts > 1:
        raise RobojamError("this model has no selector to keep the drafts with: learn one first "
                           "(robojam selector DATA --model MODEL)")
    respond_to_pairs(model, pairs, np.random.default_rng([seed, ANSWER_STREAM]), drafts=drafts, progress=progress)
    return [appended(pair.call, pair.robojam) for pair in pairs]


def calls_to_answer(performances: list[np.ndarray]) -> list[Pair]:
    """The realism report's pairs (call and human continuation) of the train split."""
    pairs = make_pairs(select_split(performances, CALLS_SPLIT))
    if not pairs:
        raise RobojamError(f"no performance of the {CALLS_SPLIT} split is long enough to cut into a call "
                           f"and its continuation")
    return pairs


def appended(call: np.ndarray, answer: np.ndarray) -> np.ndarray:
    """``answer`` after ``call``, its first touch the call's median gap after the call's last (float32,
    as the published corpus stores performances)."""
    answer = np.array(answer, dtype=np.float64)
    if len(answer):
        answer[0, 2] = float(np.median(call[1:, 2]))
    return np.vstack([call, answer]).astype(np.float32)

"""Answering a call with drafts: several whole answers drawn, the most human-sounding one played.

One draw a touch gives an answer that wobbles its way along; a person's
answer is a whole. Drawing ``drafts`` answers to the same call and keeping the
one the model's selector (:mod:`robojam.core.selector`) finds least like
robojam's own plain answers lets whole-answer qualities count: a long sweep,
a curve carried through. Each draft is the model's own playing; the
selector only chooses among them.

One draft, a model without a selector, or a turned knob (``steer``) is
exactly ``Engine.respond`` with the same random stream. The selector learned
from unsteered answers, and choosing by it weakened every knob (test split,
60 calls: size 2.27x to 1.55x, curl right in 97% to 88% of calls), so a
steered answer is one draw; a knob at 0 is still the drafted answer.
"""

from __future__ import annotations

import numpy as np

from robojam import RobojamError
from robojam.core.engine import Engine
from robojam.core.selector import Selector
from robojam.core.shown import shown
from robojam.core.temperatures import check_temperatures

DEFAULT_DRAFTS = 8  # chosen on the val split: 16 chose no better (docs/model.md, "Drafts")
MAX_DRAFTS = 64


def check_drafts(drafts) -> int:
    """``drafts`` as a whole number from 1 to MAX_DRAFTS, or a RobojamError saying why not."""
    if isinstance(drafts, bool) or not isinstance(drafts, (int, np.integer)) or not 1 <= drafts <= MAX_DRAFTS:
        raise RobojamError(f"drafts must be a whole number from 1 to {MAX_DRAFTS}, not {drafts!r}")
    return int(drafts)


def drafts_named(drafts: int) -> str:
    """How a report names the drafts it answered with."""
    return "one draft" if drafts == 1 else f"best of {drafts} drafts"


def parse_drafts(texts: list[str]) -> int:
    """The HTTP API's ``drafts`` query parameter (the last given wins): DEFAULT_DRAFTS when absent."""
    if not texts:
        return DEFAULT_DRAFTS
    text = texts[-1].strip()
    if not text.isdecimal() or len(text) > 3:
        raise RobojamError(f"drafts must be a whole number from 1 to {MAX_DRAFTS}, not {shown(texts[-1])}")
    return check_drafts(int(text))


def respond_with_drafts(engine: Engine, selector: Selector | None, call: np.ndarray, seconds: float,
                        rng: np.random.Generator, drafts: int = DEFAULT_DRAFTS, temp: float = 1.0,
                        sigma_temp: float = 1.0, steer: dict[str, float] | None = None) -> np.ndarray:
    """The call answered ``drafts`` times (conditioned on once: ``Engine.take_call``, then ``answer`` from
    that state each time), and the answer the selector ranks most human."""
    drafts = check_drafts(drafts)
    if selector is None or any((steer or {}).values()):
        drafts = 1  # the selector learned unsteered answers: choosing by it pulls a steered one back to the usual
    if drafts == 1:
        return engine.respond(call, seconds, rng, temp, sigma_temp, steer)
    check_temperatures(temp, sigma_temp)
    engine.take_call(call, steer)
    heard = engine.snapshot()  # the call is conditioned on once; each draft starts from it
    answers = []
    for _ in range(drafts):
        engine.restore(heard)
        answers.append(engine.answer(seconds, rng, temp, sigma_temp))
    return answers[int(np.argmin(selector.scores(answers)))]

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

import math

import numpy as np

from robojam import RobojamError
from robojam.core.engine import MAX_TOUCHES_PER_SECOND, Engine
from robojam.core.selector import Selector
from robojam.core.shown import shown
from robojam.core.temperatures import check_temperatures
from robojam.core.touch_runs import run_rows, snap

DEFAULT_DRAFTS = 8  # chosen on the val split: 16 chose no better (docs/model.md, "Drafts")
MAX_DRAFTS = 64
# Drafting's work comes in steps: a touch drawn, or this many of a draft's run rows scored, which takes
# about as long as drawing SCORE_COST touches (the shipped model and selector: about 0.9 ms).
SCORE_ROWS = 4
SCORE_COST = 14


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
    """The call answered ``drafts`` times (conditioned on once: ``Engine.take_call``, then each draft from
    that state, as ``Engine.answer`` draws), and the answer the selector ranks most human."""
    drafts = check_drafts(drafts)
    if selector is None or any((steer or {}).values()):
        drafts = 1  # the selector learned unsteered answers: choosing by it pulls a steered one back to the usual
    if drafts == 1:
        return engine.respond(call, seconds, rng, temp, sigma_temp, steer)
    check_temperatures(temp, sigma_temp)
    engine.take_call(call, steer)
    drafting = Drafting(engine, selector, drafts, seconds, rng, temp, sigma_temp)
    drafting.work(math.inf)
    return drafting.kept()


class Drafting:
    """Drafts of one answer, drawn and scored a little at a time from the engine's state as it is (a
    call taken), so that a live session can draw them in the player's silence between other outputs.

    Each draft is what ``Engine.answer`` would draw from that state with the same random stream; after
    each the engine returns to the state it started from, and the draft is scored, a few of its runs
    at a time. ``kept`` is the draft the selector ranks most human. How the work is sliced never
    changes what is kept.
    """

    def __init__(self, engine: Engine, selector: Selector, drafts: int, seconds: float,
                 rng: np.random.Generator, temp: float = 1.0, sigma_temp: float = 1.0):
        self.engine, self._selector, self._rng = engine, selector, rng
        self.count, self._seconds, self._temps = check_drafts(drafts), seconds, (temp, sigma_temp)
        self._most = max(1, int(seconds * MAX_TOUCHES_PER_SECOND))  # as generate: past the first touch
        self._ready = engine.snapshot()
        self._answers: list[np.ndarray] = []  # drawn drafts, their first dt as drawn
        self._scores: list[float] = []
        self._touches: list[tuple[float, float, float]] = []  # the draft being drawn
        self._elapsed = 0.0
        self._unscored: np.ndarray | None = None  # the last draft's run rows still to score
        self._chances: list[np.ndarray] = []  # ...and the chances of those scored

    @property
    def done(self) -> bool:
        return len(self._scores) == self.count

    def work(self, budget: float) -> bool:
        """Draft on for about ``budget`` touches' worth of work (a touch drawn costs 1, SCORE_ROWS run rows
        scored SCORE_COST); True once every draft is drawn and scored."""
        spent = 0
        while not self.done and spent < budget:
            if self._unscored is None:
                self._draw_one()
                spent += 1
            else:
                self._score_some()
                spent += SCORE_COST
        return self.done

    def _draw_one(self) -> None:
        if len(self._touches) > self._most:
            self._end_draft()
            return
        x, y, dt = self.engine.draw(self._rng, *self._temps)
        if self._touches and self._elapsed + dt > self._seconds:
            self._end_draft()
            return
        if self._touches:
            self._elapsed += dt
        self._touches.append((x, y, dt))
        self.engine.feed(x, y, dt)

    def _end_draft(self) -> None:
        answer = np.array(self._touches)
        self._answers.append(answer)
        self._unscored = run_rows(snap(_as_played(answer), self._selector.points))
        self._touches, self._elapsed = [], 0.0
        self.engine.restore(self._ready)

    def _score_some(self) -> None:
        self._chances.append(self._selector.chances(self._unscored[:SCORE_ROWS]))
        self._unscored = self._unscored[SCORE_ROWS:]
        if not len(self._unscored):  # the draft's score: its runs' mean chance (Selector.scores)
            self._scores.append(float(np.mean(np.concatenate(self._chances))))
            self._unscored, self._chances = None, []

    def kept_as_drawn(self) -> np.ndarray:
        """The kept draft, rows ``x, y, dt``, its first dt as drawn (what the model heard)."""
        if not self.done:
            raise RobojamError("the drafts are not all drawn yet")
        return self._answers[int(np.argmin(self._scores))]

    def kept(self) -> np.ndarray:
        """The kept draft as an answer: its first touch has dt 0 (it starts when the answer starts)."""
        return _as_played(self.kept_as_drawn())


def _as_played(answer: np.ndarray) -> np.ndarray:
    played = answer.copy()
    played[0, 2] = 0.0
    return played

"""Answering a call with drafts: the answer drawn a phrase at a time, the most human-sounding candidate kept.

One draw a touch gives an answer that wobbles its way along; a person's
answer is shaped as it goes. Drafting draws ``drafts`` candidates for each
phrase (PHRASE touches) from the answer so far and keeps the one the model's
selector (:mod:`robojam.core.selector`) finds least like robojam's own plain
answers, then drafts the next phrase from where it ended: a long sweep or a
curve carried through can be chosen a piece at a time, where choosing among
whole answers could only take what one draw happened to play. Every touch is
the model's own playing; the selector only chooses among them.

One draft, a model without a selector, or a turned knob (``steer``) is
exactly ``Engine.respond`` with the same random stream. The selector learned
from unsteered answers, and choosing by it weakened every knob (test split,
60 calls: size 2.27x to 1.55x, curl right in 97% to 88% of calls), so a
steered answer is one draw; a knob at 0 is still the drafted answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from robojam import RobojamError
from robojam.core.engine import MAX_TOUCHES_PER_SECOND, Engine, EngineState
from robojam.core.selector import Selector, beside
from robojam.core.shown import shown
from robojam.core.temperatures import check_temperatures
from robojam.core.touch_runs import HOP, RUN, run_rows, snap

DEFAULT_DRAFTS = 8  # candidates a phrase, chosen on the val split (docs/model.md, "Drafts")
MAX_DRAFTS = 64
# Drafting's work comes in steps: a touch drawn, or this many of a phrase's run rows scored, which takes
# about as long as drawing SCORE_COST touches (the shipped model and selector: about 0.9 ms).
SCORE_ROWS = 4
SCORE_COST = 14
PHRASE = 8  # touches a phrase, chosen on the val split (docs/model.md, "Drafts")


def check_drafts(drafts) -> int:
    """``drafts`` as a whole number from 1 to MAX_DRAFTS, or a RobojamError saying why not."""
    if isinstance(drafts, bool) or not isinstance(drafts, (int, np.integer)) or not 1 <= drafts <= MAX_DRAFTS:
        raise RobojamError(f"drafts must be a whole number from 1 to {MAX_DRAFTS}, not {drafts!r}")
    return int(drafts)


def drafts_named(drafts: int) -> str:
    """How a report names the drafts it answered with."""
    return "one draft" if drafts == 1 else f"{drafts} drafts a phrase"


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
    """The call answered phrase by phrase (conditioned on once: ``Engine.take_call``, then ``Drafting`` from
    that state), each phrase the most human of ``drafts`` candidates by the selector."""
    drafts = check_drafts(drafts)
    if selector is None or any((steer or {}).values()):
        drafts = 1  # the selector learned unsteered answers: choosing by it pulls a steered one back to the usual
    if drafts == 1:
        return engine.respond(call, seconds, rng, temp, sigma_temp, steer)
    check_temperatures(temp, sigma_temp)
    engine.take_call(call, steer)
    drafting = Drafting(engine, selector, drafts, seconds, rng, temp, sigma_temp, call)
    drafting.work(math.inf)
    return drafting.kept()


class Drafting:
    """An answer drafted a phrase at a time, drawn and scored a little at a time from the engine's state
    as it is (a call taken), so that a live session can draw it in the player's silence between other
    outputs.

    Each phrase, ``count`` candidates of up to PHRASE touches are drawn on from the answer so far, as
    ``Engine.answer`` would draw (the same random stream, the same limits of time and touches). Their
    runs are scored a few at a time, and the candidate the selector ranks most human is kept: the next
    phrase starts from where it ended. The answer ends with a kept candidate that reached its time or
    touch limit, and the engine goes back to the state it started from. How the work is sliced never
    changes what is kept. A selector that reads the call judges the candidates beside the ``call``'s columns.
    """

    def __init__(self, engine: Engine, selector: Selector, drafts: int, seconds: float,
                 rng: np.random.Generator, temp: float = 1.0, sigma_temp: float = 1.0, call=None):
        if selector.context and call is None:
            raise RobojamError("this selector judges answers to their call: give the call")
        self.engine, self._selector, self._rng = engine, selector, rng
        self._call_columns = selector.call_columns(call) if selector.context else np.zeros(0)
        self.count, self._seconds, self._temps = check_drafts(drafts), seconds, (temp, sigma_temp)
        self._most = max(1, int(seconds * MAX_TOUCHES_PER_SECOND))  # as generate: past the first touch
        self._ready = engine.snapshot()
        self._kept: list[tuple[float, float, float]] = []  # the answer so far, its first dt as drawn
        self._kept_elapsed = 0.0
        self._phrase_from = self._ready  # the engine's state at the end of the answer so far
        self._candidates: list[_Candidate] = []  # this phrase's, drawn
        self._drawing = _Candidate()
        self._unscored: np.ndarray | None = None  # the phrase's run rows still to score, once all are drawn
        self._chances: list[np.ndarray] = []  # ...and the chances of those scored
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    def work(self, budget: float) -> bool:
        """Draft on for ``budget`` touches' worth of work, or one step of it (a touch drawn costs 1,
        SCORE_ROWS run rows scored SCORE_COST); True once the answer is drafted."""
        spent = 0
        while not self._done:
            cost = 1 if self._unscored is None else SCORE_COST
            if spent and spent + cost > budget:  # a slice overruns its budget by one step at most
                break
            if self._unscored is None:
                self._draw_one()
            else:
                self._score_some()
            spent += cost
        return self._done

    def _draw_one(self) -> None:
        drawing = self._drawing
        touches = len(self._kept) + len(drawing.touches)
        if touches > self._most:
            self._end_candidate(ends_answer=True)
            return
        x, y, dt = self.engine.draw(self._rng, *self._temps)
        if touches and self._kept_elapsed + drawing.elapsed + dt > self._seconds:
            self._end_candidate(ends_answer=True)
            return
        drawing.elapsed += dt if touches else 0.0
        drawing.touches.append((x, y, dt))
        self.engine.feed(x, y, dt)
        if len(drawing.touches) == PHRASE:
            self._end_candidate(ends_answer=False)

    def _end_candidate(self, ends_answer: bool) -> None:
        drawing = self._drawing
        drawing.ends_answer, drawing.state = ends_answer, self.engine.snapshot()
        self._candidates.append(drawing)
        self._drawing = _Candidate()
        self.engine.restore(self._phrase_from)
        if len(self._candidates) == self.count:
            blocks = [self._runs_ending_in(c.touches) for c in self._candidates]
            for candidate, block in zip(self._candidates, blocks):
                candidate.rows = len(block)
            self._unscored = np.vstack(blocks)

    def _runs_ending_in(self, touches: list[tuple[float, float, float]]) -> np.ndarray:
        """The run rows a candidate is scored by: a run ending on every HOP-th of its touches, back from its
        last, each reaching back into the answer so far. (Runs of the answer so far would favour a candidate
        that ends it early; one that ends it at once is scored by the answer's last run.)"""
        reach = self._kept[-RUN:]  # the most any run reaches back (a whole one, for a candidate of no touches)
        played = snap(np.array(reach + touches), self._selector.points)
        ends = range(len(played), len(played) - len(touches), -HOP) or [len(played)]
        return beside(np.vstack([run_rows(played[max(0, end - RUN):end]) for end in ends]), self._call_columns)

    def _score_some(self) -> None:
        self._chances.append(self._selector.chances(self._unscored[:SCORE_ROWS]))
        self._unscored = self._unscored[SCORE_ROWS:]
        if not len(self._unscored):
            self._keep_best(np.concatenate(self._chances))
            self._unscored, self._chances = None, []

    def _keep_best(self, chances: np.ndarray) -> None:
        """Keep the candidate whose runs' mean chance (as ``Selector.scores``) is lowest, the first of equals."""
        owners = np.repeat(np.arange(self.count), [c.rows for c in self._candidates])
        best = self._candidates[int(np.argmin(np.bincount(owners, weights=chances) / np.bincount(owners)))]
        self._kept += best.touches
        self._kept_elapsed += best.elapsed
        self._candidates = []
        self._phrase_from = best.state
        self._done = best.ends_answer
        self.engine.restore(self._ready if self._done else best.state)

    def kept_as_drawn(self) -> np.ndarray:
        """The kept answer, rows ``x, y, dt``, its first dt as drawn (what the model heard)."""
        if not self._done:
            raise RobojamError("the answer is not drafted yet")
        return np.array(self._kept).reshape(-1, 3)  # pragma: no mutate (reshape-neg)

    def kept(self) -> np.ndarray:
        """The kept answer as played: its first touch has dt 0 (it starts when the answer starts)."""
        return _as_played(self.kept_as_drawn())


@dataclass
class _Candidate:
    """One candidate for a phrase: its touches, their seconds (past the answer's first touch), whether
    it reached the answer's limit, the engine's state after it, and how many run rows score it."""

    touches: list[tuple[float, float, float]] = field(default_factory=list)
    elapsed: float = 0.0
    ends_answer: bool = False
    state: EngineState | None = None
    rows: int = 0


def _as_played(answer: np.ndarray) -> np.ndarray:
    played = answer.copy()
    played[0, 2] = 0.0
    return played

"""One performer's session: listening, responding, duet, and output timing.

A session owns an engine state and turns the performer's touches into a
schedule of output events, each with an absolute deadline on the server's
monotonic clock. It does no I/O and reads no clock: callers pass ``now``,
so modes, thresholds and barge-in are tested with a fake clock.

call-and-response (default)
    Every touch is fed on arrival. After ``threshold`` seconds of silence
    (or on ``respond``) a response of ``seconds`` is generated from the state
    a little ahead of playback. A touch during a response stops it at once
    (barge-in); the state then returns to what was heard, so the model
    remembers the performer, not itself.

    With ``drafts`` above 1 (and a model with a selector, no knob turned),
    the silence is put to use: from DRAFT_FROM of the threshold on, robojam
    drafts its answer phrase by phrase, that many candidates a phrase (the one
    the selector finds most human kept), a slice of work (DRAFT_SLICE) a turn
    of the server's loop while no output is due within DRAFT_QUIET_S, and
    plays it when the threshold comes (:mod:`robojam.core.drafts`). A touch
    drops the drafts; a response that starts before the answer is drafted is
    drawn as it plays, as with one draft.
duet
    robojam plays all the time alongside the performer: one touch of its own
    is drawn ahead, and redrawn whenever the performer plays, and both parts
    are fed to the state.

the plan (``Settings.plan``, on by default)
    robojam shows what it is about to play: ``plan`` outputs list touches
    before they play (``/robojam/plan``). A response's first touch plays as it
    starts, drawn alone as without a plan; ``prepare`` then draws the rest of
    the response to its end, PLAN_SLICE touches a turn (off the critical
    path), planned as drawn: PLAN_CHUNK touches to a plan output, sooner for
    touches due within LOOKAHEAD_S. A duet is drawn DUET_AHEAD_S
    ahead and kept so; the performer's touch redraws it (an empty plan, then
    the new one). A part that stops early sends an empty plan. The touches
    played are exactly those planned.
"""

from __future__ import annotations

import math
from bisect import insort
from collections import deque
from dataclasses import dataclass, field, fields

import numpy as np

from robojam import RobojamError
from robojam.core.drafts import Drafting
from robojam.core.engine import Engine
from robojam.core.corpus import MAX_DT
from robojam.core.dynamics import Dynamics
from robojam.core.performance import starts_stroke
from robojam.live.knobs import DEFAULTS, LIVE, MODES, RANGES
from robojam.core.shown import shown
from robojam.core.steering import KNOBS

# Response touches are generated this far ahead of their deadlines.
LOOKAHEAD_S = 0.25
# With the plan: a plan output holds at most this many touches...
PLAN_CHUNK = 32
# ...and a response is drawn this many touches a turn of the server's loop, so that touches due meanwhile
# leave on time; the plan goes out a chunk at a time, or at once for touches due within LOOKAHEAD_S.
PLAN_SLICE = 8
# With the plan, a duet is drawn at least this far ahead (and LOOKAHEAD_S more at each refill).
DUET_AHEAD_S = 1.0
DEFAULT_Z = 0.5
# Drafting starts once the silence has lasted this share of the threshold (a performer pausing within a
# call would drop drafts begun sooner), and does this much work a turn of the server's loop (Drafting.work:
# 16 touches, or 4 runs scored: about a millisecond), when no output is due within DRAFT_QUIET_S.
DRAFT_FROM = 0.5
DRAFT_SLICE = 16
DRAFT_QUIET_S = 0.002
# Touches a session keeps of what it heard, to bring a new model up to date (see use_engine).
HISTORY_TOUCHES = 512


@dataclass
class Settings:
    """The live controls of a session (each is an OSC control and a CLI option), in the ranges of
    ``robojam.live.knobs.RANGES``, starting from their declared defaults."""

    mode: str = DEFAULTS["mode"]
    temp: float = DEFAULTS["temp"]
    sigma_temp: float = DEFAULTS["sigma_temp"]
    seconds: float = DEFAULTS["seconds"]
    threshold: float = DEFAULTS["threshold"]
    drafts: int = DEFAULTS["drafts"]
    plan: bool = not DEFAULTS["no_plan"]  # send the touches about to play (/robojam/plan)
    # the player's knobs (robojam.core.steering), 0: robojam as it plays unsteered
    density: float = DEFAULTS["density"]
    energy: float = DEFAULTS["energy"]
    register: float = DEFAULTS["register"]
    size: float = DEFAULTS["size"]
    curl: float = DEFAULTS["curl"]
    contrast: float = DEFAULTS["contrast"]

    def steer(self) -> dict[str, float]:
        """The knobs as ``robojam.core.steering`` reads them."""
        return {name: getattr(self, name) for name in KNOBS}

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """RobojamError unless every setting is in range (``robojam.live.knobs.RANGES``)."""
        if not isinstance(self.mode, str) or self.mode not in MODES:
            raise RobojamError(f"mode must be one of {', '.join(MODES)}, not {shown(self.mode)}")
        for name in LIVE:  # a whole-number setting given as 4.0 is kept as 4
            setattr(self, name, RANGES[name].check(name, getattr(self, name)))
        if not isinstance(self.plan, bool):
            raise RobojamError(f"plan must be true or false, not {shown(self.plan)}")

    def changed(self, name: str, value) -> Settings:
        """A copy with one setting changed, validated."""
        if name not in {f.name for f in fields(self)}:
            raise RobojamError(f"unknown setting {name!r}")
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values[name] = value
        return Settings(**values)


@dataclass(frozen=True)
class History:
    """What a session heard, as a new model's engine hears it again (``replayed``): the call its
    part answers, and its last HISTORY_TOUCHES touches; ``epoch`` and ``heard_count`` (resets, touches
    heard ever) tell ``Session.use_prepared`` what it heard since."""

    epoch: int
    heard_count: int
    answered: tuple
    heard: tuple


def replayed(engine: Engine, history: History) -> Engine:
    """``engine``, reset, having heard ``history`` again (what ``Session.use_engine`` does; the
    model loader does it off the server's loop)."""
    engine.set_style(None)
    engine.reset()
    engine.hear_call(list(history.answered))
    if history.heard:
        engine.condition(list(history.heard))
    return engine


@dataclass(order=True)
class Output:
    """An event for the outside world: ``start``, ``touch``, ``up`` or ``end`` of robojam's part."""

    deadline: float
    kind: str = field(compare=False)
    x: float = field(default=0.0, compare=False)
    y: float = field(default=0.0, compare=False)
    z: float = field(default=DEFAULT_Z, compare=False)
    points: tuple = field(default=(), compare=False)  # a plan's touches: (deadline, x, y); none clears it
    drafted: bool = field(default=False, compare=False)  # a start: the response is a kept draft


class Session:
    """A performer's model state and robojam's part in reply."""

    def __init__(self, engine: Engine, settings: Settings, rng: np.random.Generator):
        self.engine = engine
        self.settings = settings
        engine.set_sampling_knobs(settings.steer())
        self.rng = rng
        self.last_heard: float | None = None      # server time of the performer's last touch
        self._last_touch_at: float | None = None  # the performer's own clock (time tags) for dt
        self._last_fed: float | None = None       # server time of the last event fed (duet)
        self._heard_state = None                  # state to return to after a response
        self._sent_touch: Output | None = None    # robojam's last touch sent in the open stroke
        # pragma: no mutate start (set-before-read, truth-value)
        self._call_pending = False
        self._queue: list[Output] = []            # scheduled, in deadline order (ties: in the order scheduled)
        self._drawing = False                     # robojam's part is started and not all drawn
        self._ending = False                      # ...drawn to its end, which is not yet out
        self._play_clock = 0.0                    # deadline of robojam's last scheduled touch
        self._play_end = math.inf
        self._first_touch = True
        self._unfed: tuple[float, float, float] | None = None  # scheduled, not yet fed to the state
        self._last_played: Output | None = None   # robojam's last touch played in this response or duet
        # pragma: no mutate end
        self._loudness = Dynamics()  # robojam's dynamics, through its part
        self._heard: deque[tuple[float, float, float]] = deque(maxlen=HISTORY_TOUCHES)  # what was fed
        self._call: deque[tuple[float, float, float]] = deque(maxlen=HISTORY_TOUCHES)  # heard since robojam last played
        self._style_of: list | None = None  # the call whose style robojam is about to play in
        self._answered: list = []  # the call robojam's part answers (its leaps echo there)
        self._next_engine: Engine | None = None  # a new model's engine, waiting for the response to end
        self._drafts: Drafting | None = None  # the call answered in the silence, and the state heard
        # pragma: no mutate start (set-before-read)
        self._drafts_from = None
        self._kept: deque | None = None  # the kept draft's touches still to play in this response
        # pragma: no mutate end
        self._chain: deque[list] = deque()  # duet with a plan: [touch, state after feeding it or None], unplayed
        self._base = None  # ...and the state before the chain (heard and played), once a chain touch is fed
        # pragma: no mutate start (set-before-read)
        self._next_history: History | None = None  # what that engine has heard already (None: nothing)
        self._unplanned: list[Output] = []  # touches scheduled, not yet in a plan output
        self._play_start = 0.0  # when robojam's part started
        # pragma: no mutate end
        # pragma: no mutate start (count-origin)
        self._epoch = 0  # resets so far
        self._heard_count = 0  # touches appended to _heard so far
        # pragma: no mutate end

    def use_engine(self, engine: Engine) -> None:
        """Answer with another model's engine from the next response on.

        The new engine hears again what this session heard (its last
        HISTORY_TOUCHES touches), so a call in progress carries over. A
        response that is playing finishes on the old model; a duet switches at once.
        """
        self.use_prepared(engine, None)

    def history(self) -> History:
        """What this session heard, for a new model's engine to hear again (cheap: two short copies)."""
        return History(self._epoch, self._heard_count, tuple(self._answered), tuple(self._heard))

    def use_prepared(self, engine: Engine, history: History | None) -> None:
        """As ``use_engine``, with an engine that has heard ``history`` already (``replayed``, off the
        server's loop): only what was heard since is fed to it here."""
        if self._drawing and self.settings.mode == "call-and-response":
            self._next_engine, self._next_history = engine, history
            return
        duet = self._drawing
        if duet:
            self._drop_chain(self._last_fed)
        self._switch_to(engine, history)
        if duet:
            self._draw_duet_touch()

    def _heard_since(self, history: History | None) -> int | None:
        """How many touches were heard since ``history``; None if they are not all kept (or a reset came)."""
        if history is None or history.epoch != self._epoch:
            return None
        since = self._heard_count - history.heard_count
        return since if 0 <= since <= len(self._heard) else None

    def _switch_to(self, engine: Engine, history: History | None = None) -> None:
        self._drop_drafts()
        since = self._heard_since(history)
        if since is not None:
            # The engine heard ``history``; bring it up to date with the touches heard since (none
            # during a response) and the call robojam answers now. Past the last HISTORY_TOUCHES,
            # the engine remembers a little further back than a full replay would.
            if since:
                engine.condition(list(self._heard)[-since:])
            if tuple(self._answered) != history.answered:
                engine.hear_call(self._answered)
        else:
            replayed(engine, self.history())
        engine.set_sampling_knobs(self.settings.steer(), self._answered)
        self.engine, self._next_engine, self._next_history = engine, None, None

    def _feed(self, x: float, y: float, dt: float) -> None:
        """Feed a touch that belongs to what the session heard (not a response's own)."""
        self._read_style()  # in a duet, the performer plays on in the style robojam took up
        self.engine.feed(x, y, dt)
        self._heard.append((x, y, dt))
        self._heard_count += 1
        self._call.append((x, y, dt))

    def _take_the_call(self) -> None:
        """The call is what was heard since robojam last started to play; a model with a style input
        plays its part in the call's style (as trained: the call heard plainly, the continuation with
        its style), read once robojam's first touch is out (``_read_style``). A model with an echo
        leaps to new strokes as the call did."""
        self._answered = list(self._call)
        self._style_of = self._answered if self.engine.model.style is not None else None
        self._call.clear()
        self.engine.hear_call(self._answered)
        self.engine.set_sampling_knobs(self.settings.steer(), self._answered)  # contrast reads the call

    def _read_style(self) -> None:
        if self._style_of is not None:
            self.engine.set_style(self.engine.steered_style(self._style_of, self.settings.steer()))
            self._style_of = None

    @property
    def playing(self) -> bool:
        """robojam's part is playing: being drawn, or drawn to its end and not yet over (not stopped)."""
        return self._drawing or self._ending

    # --- the performer ---------------------------------------------------

    def touch(self, x: float, y: float, z: float, now: float, at: float | None = None) -> None:
        """The performer touched (x, y); ``at`` is the touch's own time if known (else ``now``)."""
        self._drop_drafts()  # the call goes on
        duet = self.settings.mode == "duet"
        if not duet:
            self.stop(now)  # barge-in (nothing to stop if robojam is not playing)
        elif self._chain:
            self._drop_chain(now)  # what robojam planned to play no longer follows what it heard
        at = now if at is None else at
        if duet and self._last_fed is not None:
            dt = now - self._last_fed
        else:
            dt = 0.0 if self._last_touch_at is None else at - self._last_touch_at
        self._last_touch_at, self._last_fed, self.last_heard = at, now, now
        self._feed(x, y, min(max(dt, 0.0), MAX_DT))
        self._call_pending = not duet
        if duet:
            if not self._drawing:
                self._start(now)
            self._draw_duet_touch()
            self._flush_plan(now)

    def up(self, now: float) -> None:
        """The performer lifted their finger (the model sees strokes through dt and jumps)."""
        self.last_heard = now

    # --- controls ---------------------------------------------------------

    def respond(self, now: float) -> None:
        """Start robojam's part now: a response, or the duet."""
        self.stop(now)  # pragma: no mutate (stop-queue-time)
        if self.engine.state.head is None:
            self._feed(0.5, 0.5, 0.0)  # nothing heard yet: start from the middle of the screen
        self._start(now)
        if self.settings.mode == "duet":
            self._last_fed = now
            self._draw_duet_touch()
            self._flush_plan(now)
        else:
            self._fill_response(until=now)

    def stop(self, now: float) -> None:
        """Stop robojam's part at once: what was scheduled is dropped; up and end go out now."""
        if not self.playing:
            return
        self._queue = [o for o in self._queue if o.kind == "start"]
        self._unplanned = []  # pragma: no mutate (set-before-read)
        if self.settings.plan:
            self._queue.append(Output(now, "plan"))  # an empty plan: a display clears
        self._finish(now)
        self._ending = False  # pragma: no mutate (truth-value)

    def reset(self, now: float) -> None:
        """Stop playing and forget everything heard."""
        self.stop(now)
        self._drop_drafts()
        self.engine.reset()
        self._heard.clear()
        self._epoch += 1  # pragma: no mutate (new-epoch)
        self._call.clear()
        self._answered = []
        self.engine.hear_call(self._answered)
        self._last_touch_at = self._last_fed = None
        self._call_pending = False  # pragma: no mutate (truth-value)

    def apply(self, name: str, value, now: float) -> None:
        """Change one setting; a change of mode stops what is playing, any change drops the drafts."""
        updated = self.settings.changed(name, value)
        self._drop_drafts()
        if name == "mode" and updated.mode != self.settings.mode:
            self.stop(now)
            self._call_pending = False  # pragma: no mutate (truth-value)
        self.settings = updated
        if name in KNOBS:
            self._steer_now()

    def _steer_now(self) -> None:
        """The knobs from robojam's next drawn touch: the gap tilt, and the style it is playing in."""
        self.engine.set_sampling_knobs(self.settings.steer(), self._answered)
        self._kept = None  # a kept draft was drawn unsteered: robojam draws on from where it is
        if self._drawing and self._style_of is None and self.engine.model.style is not None:
            self.engine.set_style(self.engine.steered_style(self._answered, self.settings.steer()))

    # --- the clock ---------------------------------------------------------

    def next_output(self) -> float | None:
        """The deadline of this session's next output, if any is scheduled."""
        return self._queue[0].deadline if self._queue else None

    def next_deadline(self) -> float | None:
        """When this session next needs ``due`` (an output, more generation, or the silence threshold)."""
        candidates = [self._queue[0].deadline] if self._queue else []
        if self._threshold_armed():
            candidates.append(self.last_heard + self.settings.threshold)
        drafting = self._drafting_due()
        if drafting is not None:
            candidates.append(drafting)
        if self._drawing:
            if self.settings.mode == "duet":
                if self.settings.plan:
                    candidates.append(self._play_clock - DUET_AHEAD_S - LOOKAHEAD_S / 2)  # a margin
            elif self.settings.plan:
                candidates.append(self._play_start)  # draw on at once, a slice a turn
            else:
                candidates.append(self._play_clock - LOOKAHEAD_S)
        return min(candidates) if candidates else None

    def due(self, now: float) -> list[Output]:
        """Outputs whose deadline has come, in order; starts a response when the silence is long enough.

        Nothing is generated here but a response's first touch, so it goes
        out at once; call ``prepare`` after sending to generate ahead.
        """
        if self._threshold_armed() and now >= self.last_heard + self.settings.threshold:
            self.respond(now)
        self._flush_plan(now, whole=False)  # pragma: no mutate (truth-value)
        ready = []
        while self._queue and self._queue[0].deadline <= now:
            output = self._queue.pop(0)
            if output.kind == "touch":
                self._last_played = output
            elif output.kind == "end":
                self._ending = False  # pragma: no mutate (truth-value)
            ready.extend(self._with_stroke_ends(output))
            if output.kind == "touch" and self.settings.mode == "duet" and self._drawing:
                self._duet_touch_played(output, now)
        return ready

    def prepare(self, now: float, quiet_until: float = math.inf) -> None:
        """Generate ahead, off the critical path: a response LOOKAHEAD_S ahead of playback, or with the
        plan PLAN_SLICE more touches of it towards its end; a duet with the plan DUET_AHEAD_S ahead (up to
        PLAN_CHUNK touches a call). In the silence, a slice of drafts, unless an output of any session
        is due before ``quiet_until`` (the earliest) is DRAFT_QUIET_S away."""
        if not self._drawing:
            if quiet_until - now >= DRAFT_QUIET_S:  # pragma: no mutate (clock-boundary)
                self._draft(now)
        elif self.settings.mode == "duet":
            if self.settings.plan:
                for _ in range(PLAN_CHUNK):
                    if self._play_clock >= now + DUET_AHEAD_S + LOOKAHEAD_S:
                        break
                    self._extend_chain()
        elif self.settings.plan:
            self._fill_response(until=math.inf, most=PLAN_SLICE)
            self._flush_plan(now, whole=False)  # pragma: no mutate (truth-value)
            return
        else:
            self._fill_response(until=now + LOOKAHEAD_S)
        self._flush_plan(now)

    def _with_stroke_ends(self, output: Output) -> list[Output]:
        """Put an ``up`` before a touch that starts a new stroke, and before the end."""
        previous = self._sent_touch
        if output.kind == "touch":
            self._sent_touch = output
            if previous is not None:
                jump = math.hypot(output.x - previous.x, output.y - previous.y)
                if starts_stroke(output.deadline - previous.deadline, jump):
                    return [Output(output.deadline, "up"), output]
        elif output.kind == "end":
            self._sent_touch = None
            if previous is not None:
                return [Output(output.deadline, "up"), output]
        return [output]

    def _threshold_armed(self) -> bool:
        return self._call_pending and not self.playing and self.last_heard is not None

    # --- robojam's part -------------------------------------------------------

    def _start(self, now: float) -> None:
        kept = self._drafts.kept_as_drawn() if self._drafts is not None and self._drafts.done else None
        self._drop_drafts()
        self._kept = None if kept is None else deque(map(tuple, kept.tolist()))
        self._last_played = None
        self._loudness.reset()
        self._call_pending = False  # pragma: no mutate (truth-value)
        self._drawing = True
        self._unplanned = []
        self._play_clock = self._play_start = now
        self._first_touch = True
        self._unfed = None
        if self.settings.mode == "call-and-response":
            self._heard_state = self.engine.snapshot()
            self._play_end = now + self.settings.seconds
        else:
            self._play_end = math.inf  # pragma: no mutate (mode-only)
        self._take_the_call()
        # The part before may not have gone out whole: what stop left of it (its start, an empty plan,
        # its end) goes now.
        earlier = [Output(now, o.kind) for o in self._queue]
        self._queue = earlier + [Output(now, "start", drafted=kept is not None)]

    def _fill_response(self, until: float, most: float = math.inf) -> None:
        """Draw and schedule response touches until one is due at or after ``until`` (``most`` at most).

        A drawn touch is fed to the state only before the next one is drawn,
        so the way to sending the first touch of a response is a single draw.
        """
        drawn = 0
        while self._drawing and (self._first_touch or self._play_clock < until) and drawn < most:
            drawn += 1
            if self._unfed is not None:
                self._read_style()
                self.engine.feed(*self._unfed)
            touch = self._next_touch()
            # The first touch plays as the response starts; the model still hears the dt it drew.
            deadline = math.inf if touch is None else self._play_clock + (0.0 if self._first_touch else touch[2])
            if deadline > self._play_end:
                self._finish(self._play_end)
                self._ending = True
                return
            self._unfed = x, y, dt = touch
            self._schedule_touch(deadline, x, y, dt)

    def _next_touch(self) -> tuple[float, float, float] | None:
        """The response's next touch: the kept draft's (None once it is all played), or one drawn now."""
        if self._kept is None:
            return self.engine.draw(self.rng, self.settings.temp, self.settings.sigma_temp)
        return self._kept.popleft() if self._kept else None

    def _draw_duet_touch(self) -> None:
        """(Re)draw robojam's next duet touch from the state as it is now."""
        self._queue = [o for o in self._queue if o.kind != "touch"]
        self._unplanned = []
        self._chain.clear()
        x, y, dt = self.engine.draw(self.rng, self.settings.temp, self.settings.sigma_temp)
        output = self._schedule_touch(self._last_fed + dt, x, y, dt)
        if self.settings.plan:
            self._chain.append([output, None, min(max(dt, 0.0), MAX_DT)])

    def _extend_chain(self) -> None:
        """Draw the duet's next touch after the last one drawn (fed to the state first)."""
        entry = self._chain[-1]
        if entry[1] is None:
            if self._base is None:
                self._base = self.engine.snapshot()
            self._read_style()
            self.engine.feed(entry[0].x, entry[0].y, entry[2])  # as _duet_touch_played would have fed it
            entry[1] = self.engine.snapshot()
        x, y, dt = self.engine.draw(self.rng, self.settings.temp, self.settings.sigma_temp)
        output = self._schedule_touch(entry[0].deadline + dt, x, y, dt)
        self._chain.append([output, None, min(max(dt, 0.0), MAX_DT)])

    def _drop_chain(self, now: float | None) -> None:
        """Forget the duet's touches drawn ahead: the state returns to what was heard and played, their
        plans unsent are dropped, and with ``now`` an empty plan clears what was shown. The touches
        themselves are the caller's to drop: ``_draw_duet_touch`` or ``stop``."""
        if self._base is not None:
            self.engine.restore(self._base)
            self._base = None
        if not self._chain:
            return
        if now is not None:
            insort(self._queue, Output(now, "plan"))
        self._chain.clear()
        self._queue = [o for o in self._queue if not o.points]

    def _duet_touch_played(self, output: Output, now: float) -> None:
        entry = self._chain.popleft() if self._chain else None
        dt = min(max(output.deadline - self._last_fed, 0.0), MAX_DT)
        if entry is None or entry[1] is None:
            self._feed(output.x, output.y, dt)
            self._base = None
        else:  # fed already, drawing ahead: heard now
            self._heard.append((output.x, output.y, dt))
            self._heard_count += 1
            self._call.append((output.x, output.y, dt))
            self._base = entry[1]  # the state before the touches still to play
        self._last_fed = output.deadline
        if not self._chain:
            self._draw_duet_touch()
            self._flush_plan(now)

    def _schedule_touch(self, deadline: float, x: float, y: float, dt: float) -> Output:
        output = Output(deadline, "touch", x, y, self._dynamics(x, y, dt))
        if self.settings.plan and not (self._first_touch and self.settings.mode == "call-and-response"):
            self._unplanned.append(output)  # a response's first touch plays at once: planning never delays it
        insort(self._queue, output)  # not append and sort: a planned response can queue thousands
        self._first_touch = False  # pragma: no mutate (truth-value)
        self._play_clock = deadline
        return output

    def _dynamics(self, x: float, y: float, dt: float) -> float:
        """The touch's z by robojam's dynamics rule, after the touch scheduled or played before it."""
        previous = next((o for o in reversed(self._queue) if o.kind == "touch"), self._last_played)
        step = math.inf if previous is None else math.hypot(x - previous.x, y - previous.y)  # none: a new stroke
        self._loudness.energy = self.settings.energy  # a knob turned takes effect from the next touch
        return self._loudness.touch(step, dt, bool(starts_stroke(dt, step)))

    def _flush_plan(self, now: float, whole: bool = True) -> None:
        """Plan outputs, PLAN_CHUNK touches each, for the touches scheduled since the last: due now,
        and before the first of them. Unless ``whole``, a response still being drawn is planned a full
        chunk at a time, sooner only for touches due within LOOKAHEAD_S."""
        if not self._unplanned:
            return
        if (not whole and self._drawing and len(self._unplanned) < PLAN_CHUNK
                and self._unplanned[0].deadline > now + LOOKAHEAD_S):
            return
        touches, self._unplanned = self._unplanned, []
        at = min(now, touches[0].deadline)
        later = (i for i, o in enumerate(self._queue) if o.deadline > at or (o.kind == "touch" and o.deadline >= at))
        index = next(later, len(self._queue))  # pragma: no mutate (in-queue)
        plans = [Output(at, "plan", points=tuple((t.deadline, t.x, t.y) for t in touches[i:i + PLAN_CHUNK]))
                 for i in range(0, len(touches), PLAN_CHUNK)]
        self._queue[index:index] = plans

    def _finish(self, at: float) -> None:
        self._drop_chain(None)
        self._queue.append(Output(at, "end"))
        self._drawing = False  # pragma: no mutate (truth-value)
        self._unfed = None  # pragma: no mutate (set-before-read)
        self._style_of = None
        self.engine.set_style(None)
        if self._heard_state is not None:
            self.engine.restore(self._heard_state)
            self._heard_state = None
        if self._next_engine is not None:
            self._switch_to(self._next_engine, self._next_history)

    # --- drafts in the silence -------------------------------------------------

    def _drafting_due(self) -> float | None:
        """From when drafts are to be drawn (a past time while some are still to draw), or None."""
        settings = self.settings
        if (settings.drafts < 2 or not self._threshold_armed() or self.engine.model.selector is None
                or any(settings.steer().values()) or (self._drafts is not None and self._drafts.done)):
            return None
        return self.last_heard + settings.threshold * DRAFT_FROM

    def _draft(self, now: float) -> None:
        """A slice (DRAFT_SLICE) more of the drafts' work, once they are due."""
        due = self._drafting_due()
        if due is None or now < due:  # pragma: no mutate (clock-boundary)
            return
        if self._drafts is None:
            self._begin_drafts()
        if self._drafts.work(DRAFT_SLICE):
            self._back_to_heard()

    def _begin_drafts(self) -> None:
        """Take the call as a response would (``_take_the_call``, the style read at once) and start drafting."""
        call, settings = list(self._call), self.settings
        self._drafts_from = self.engine.snapshot()
        self.engine.hear_call(call)
        if self.engine.model.style is not None:  # drafts are drawn only while every knob is at 0
            self.engine.set_style(self.engine.steered_style(call, None))
        self._drafts = Drafting(self.engine, self.engine.model.selector, settings.drafts, settings.seconds,
                                self.rng, settings.temp, settings.sigma_temp, call)

    def _back_to_heard(self) -> None:
        """The engine as before drafting: what was heard, no style. (The call's leaps it heard stay until
        robojam's part starts and ``_take_the_call`` gives it the call again.)"""
        self.engine.set_style(None)
        self.engine.restore(self._drafts_from)

    def _drop_drafts(self) -> None:
        if self._drafts is not None:
            if not self._drafts.done:
                self._back_to_heard()
            self._drafts = self._drafts_from = None

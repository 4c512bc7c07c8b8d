"""robojam shows what it is about to play (/robojam/plan): the session with a fake clock (UDP: test_plan_udp.py)."""

import numpy as np
import pytest

from robojam.core.engine import Engine
from robojam.live.session import DUET_AHEAD_S, LOOKAHEAD_S, PLAN_CHUNK, PLAN_SLICE, Session, Settings
from synthetic import random_model
from test_session_mutants import FakeEngine


def make(engine=None, **settings) -> Session:
    return Session(engine or Engine(random_model(units=8)), Settings(**settings), np.random.default_rng(0))


def play_call(session, start=0.0, touches=30, rate=60.0):
    for i in range(touches):
        session.touch(0.3 + 0.01 * i, 0.5, 0.5, now=start + i / rate)
    return start + (touches - 1) / rate


class PlanView:
    """What a display makes of the outputs: the plan (deadline, x, y) still to play, and checks that
    every touch played after a response's first was planned, in order, before it played."""

    def __init__(self, ahead=True):
        self.ahead = ahead  # every planned touch is due at or after its plan goes out
        self.plan: list[tuple[float, float, float]] = []
        self.played: list[tuple[float, float, float]] = []
        self.unplanned: list = []
        self.clears = 0
        self.plans = 0
        self.first = False  # the next touch is a response's first

    def see(self, now, output):
        if output.kind == "plan":
            assert len(output.points) <= PLAN_CHUNK
            if output.points:
                assert not self.ahead or all(d >= now for d, _, _ in output.points)  # before the touches
                self.plans += 1
                self.plan += list(output.points)
            else:
                self.clears += 1
                self.plan = []
        elif output.kind == "start":
            self.first = True
        elif output.kind == "touch":
            touch = (output.deadline, output.x, output.y)
            if self.plan and self.plan[0] == touch:
                self.plan.pop(0)
                self.played.append(touch)
            else:
                self.unplanned.append((self.first, touch))
            self.first = False


def run(session, view, start, stop, step=0.001, ahead=None):
    """Advance a fake clock as the server does, showing each output to ``view``; ``ahead`` collects how
    far the plan reaches past each moment."""
    for now in np.arange(start, stop, step):
        now = float(now)
        for output in session.due(now):
            view.see(now, output)
        session.prepare(now)
        if ahead is not None:
            ahead.append(session._play_clock - now if session.playing else None)
            for output in session.due(now):  # what prepare planned goes out at once
                view.see(now, output)


def test_a_response_is_planned_whole_and_played_as_planned():
    session = make(threshold=0.5, seconds=3.0)
    last = play_call(session)
    view = PlanView()
    run(session, view, last + 0.5, last + 4.0)
    assert [first for first, _ in view.unplanned] == [True]  # only its first touch plays unplanned
    assert len(view.played) > PLAN_CHUNK  # several plan messages
    assert view.plan == [] and view.plans <= 2 + len(view.played) // PLAN_CHUNK
    assert not session.playing


def test_the_whole_response_is_planned_within_a_few_turns_of_its_start():
    session = make(FakeEngine([(0.5, 0.5, 0.01)]), seconds=5.0)
    session.respond(0.0)
    assert [o.kind for o in session.due(0.0)] == ["start", "touch"]
    assert len(session.engine.drawn_with) == 1  # the first touch waits for one draw, as without a plan
    turns, plans = [], []
    while session.playing and session.next_deadline() <= 0.0:  # drawing on, at once, a slice a turn
        session.prepare(0.0)
        turns.append(len(session.engine.drawn_with))
        out = session.due(0.0)
        assert {o.kind for o in out} <= {"plan"}
        plans += [o.points for o in out]
    # planned a chunk at a time, sooner while touches are due within LOOKAHEAD_S
    assert [len(p) for p in plans[:-1]] == [PLAN_SLICE] * 3 + [PLAN_CHUNK] * (len(plans) - 4)
    assert plans[2][-1][0] == pytest.approx(LOOKAHEAD_S - 0.01) and plans[3][0][0] == pytest.approx(LOOKAHEAD_S)
    slices = np.diff([1, *turns])
    assert set(slices[:-1]) == {PLAN_SLICE} and slices[-1] <= PLAN_SLICE  # off the critical path, a few a turn
    planned = [o for o in session._queue if o.kind == "touch"]
    assert len(planned) >= 499 and planned[-1].deadline <= 5.0 and planned[-2].deadline >= 4.98
    assert session.playing  # drawn to its end, still playing: a touch stops it


def test_a_long_planned_response_orders_each_touch_in_a_few_steps_not_one_per_touch_queued(monkeypatch):
    """Planned whole, a minute's response queues thousands of touches; scheduling each may not cost a step
    per touch already queued (that made a session's every turn slower the longer its response)."""
    from robojam.live import session as module

    steps = []
    monkeypatch.setattr(module.Output, "__lt__", lambda a, b: steps.append(1) or a.deadline < b.deadline)
    session = make(FakeEngine([(0.5, 0.5, 0.01)]), seconds=60.0)
    session.respond(0.0)
    while session.playing and session.next_deadline() <= 0.0:
        session.prepare(0.0)
        session.due(0.0)
    queued = [o.deadline for o in session._queue]
    assert len(queued) > 5000 and queued == sorted(queued)
    assert len(steps) < 40 * len(queued)  # a binary search's 13 or so a touch; a sort's would be thousands


def test_a_barge_in_and_a_stop_send_an_empty_plan():
    session = make(FakeEngine([(0.5, 0.5, 0.05)]), seconds=5.0)
    session.respond(0.0)
    session.due(0.0)
    session.prepare(0.0)
    session.due(0.0)
    session.touch(0.2, 0.2, 0.5, now=0.1)  # barge-in, long after every touch was drawn
    out = session.due(0.1)
    assert [(o.kind, o.points) for o in out if o.kind != "up"] == [("plan", ()), ("end", ())]
    assert not session.playing and [o for o in session._queue if o.kind == "touch"] == []
    session.respond(1.0)
    session.due(1.0)
    session.prepare(1.0)
    session.stop(1.2)
    assert [(o.kind, o.points) for o in session.due(1.2) if o.kind != "up"] == [("plan", ()), ("end", ())]


def test_no_plan_no_plan_outputs():
    for mode in ("call-and-response", "duet"):
        session = make(threshold=0.3, seconds=1.0, mode=mode, plan=False)
        play_call(session)
        kinds = []
        for now in np.arange(0.5, 2.0, 0.002):
            kinds += [o.kind for o in session.due(float(now))]
            session.prepare(float(now))
        session.stop(2.0)
        kinds += [o.kind for o in session.due(2.0)]
        assert "touch" in kinds and "plan" not in kinds


def test_a_duet_is_planned_a_second_ahead_and_played_as_planned():
    session = make(mode="duet")
    view, ahead = PlanView(), []
    session.respond(0.0)
    run(session, view, 0.0, 3.0, ahead=ahead)
    assert view.unplanned == [] and len(view.played) > 20
    assert min(a for a in ahead if a is not None) >= DUET_AHEAD_S
    # the performer plays: robojam clears its plan and redraws it from what it heard
    clears = view.clears
    for i in range(10):  # a redraw is a second ahead again within two turns of the loop
        session.touch(0.2 + 0.02 * i, 0.3, 0.5, now=3.0 + i * 0.02)
        run(session, view, 3.0 + i * 0.02, 3.0015 + i * 0.02)
        run(session, view, 3.002 + i * 0.02, 3.02 + i * 0.02, ahead=ahead)
    run(session, view, 3.2, 5.0, ahead=ahead)
    assert view.clears == clears + 10 and view.unplanned == []
    assert min(a for a in ahead if a is not None) >= DUET_AHEAD_S
    session.stop(5.0)
    assert [o.kind for o in session.due(5.0) if o.kind != "up"] == ["plan", "end"]


def test_a_duet_state_hears_what_was_played_not_what_was_planned():
    engine = FakeEngine([(0.5, 0.5, 0.1)])
    session = make(engine, mode="duet")
    session.respond(0.0)
    for now in np.arange(0.0, 0.35, 0.01):
        session.due(float(now))
        session.prepare(float(now))
    assert len([o for o in session._queue if o.kind == "touch"]) >= DUET_AHEAD_S / 0.1  # drawn ahead
    session.touch(0.2, 0.2, 0.5, now=0.35)
    played = [(0.5, 0.5, 0.1)] * 3  # at 0.1, 0.2, 0.3
    assert engine.fed == [(0.5, 0.5, 0.0), *played, (0.2, 0.2, pytest.approx(0.05))]
    session.stop(0.4)
    session.due(0.4)
    assert engine.fed == [(0.5, 0.5, 0.0), *played, (0.2, 0.2, pytest.approx(0.05))]


def test_a_new_model_redraws_a_duet_and_its_plan():
    session = make(mode="duet")
    view = PlanView(ahead=False)  # the new model's first touch may be due already, as without a plan
    session.respond(0.0)
    run(session, view, 0.0, 1.0)
    clears = view.clears
    session.prepare(1.0)  # a plan drawn, not yet sent: the new model's plan replaces it
    session.use_engine(Engine(random_model(units=8, seed=5)))
    run(session, view, 1.0, 3.0)
    assert view.clears == clears + 1 and view.unplanned == [] and len(view.played) > 20

"""Session logic with a fake clock: no sockets, no sleeping."""

import math

import numpy as np
import pytest

from robojam import RobojamError
from robojam.core.engine import Engine
from robojam.live.session import LOOKAHEAD_S, Session, Settings
from synthetic import random_model


def make_session(**settings) -> Session:
    return Session(Engine(random_model(units=8)), Settings(**settings), np.random.default_rng(0))


def play_call(session, start=0.0, touches=30, rate=60.0):
    for i in range(touches):
        session.touch(0.3 + 0.01 * i, 0.5, 0.5, now=start + i / rate)
    return start + (touches - 1) / rate


def run_clock(session, start, stop, step=0.001):
    """Advance a fake clock in small steps as the server does, collecting (time, output) pairs."""
    got = []
    for now in np.arange(start, stop, step):
        got.extend((now, o) for o in session.due(float(now)))
        session.prepare(float(now))
    return got


def test_call_and_response_waits_for_silence_then_plays_the_response():
    session = make_session(threshold=0.5, seconds=2.0)
    last = play_call(session)
    assert session.due(last + 0.49) == []
    assert session.next_deadline() == pytest.approx(last + 0.5)
    got = run_clock(session, last + 0.5, last + 3.0)
    kinds = [o.kind for _, o in got]
    assert kinds[0] == "start" and kinds[-1] == "end" and "touch" in kinds
    start = got[0][0]
    for now, output in got:
        assert output.deadline <= now < output.deadline + 0.0011  # sent when due, not before
    touches = [o for _, o in got if o.kind == "touch"]
    assert all(a.deadline <= b.deadline for a, b in zip(touches, touches[1:]))
    assert touches[-1].deadline <= start + 2.0 + 1e-9
    assert all(0 <= t.x <= 1 and 0 <= t.y <= 1 for t in touches)
    assert kinds[-2] == "up"  # the open stroke is closed before the end
    assert not session.playing


def test_a_touch_during_the_response_stops_it_at_once():
    session = make_session(threshold=0.2, seconds=5.0)
    last = play_call(session)
    got = run_clock(session, last + 0.2, last + 1.0)
    assert any(o.kind == "touch" for _, o in got)
    session.touch(0.9, 0.9, 0.5, now=last + 1.0)
    stopped = session.due(last + 1.0)
    assert [o.kind for o in stopped][-1] == "end"
    assert all(o.kind in ("up", "end") or (o.kind, o.points) == ("plan", ()) for o in stopped)  # an empty plan
    assert not session.playing
    assert run_clock(session, last + 1.0, last + 1.19) == []  # listening again
    assert [o.kind for o in session.due(last + 1.2)][0] == "start"


def test_the_state_returns_to_what_was_heard_after_a_response():
    session = make_session(threshold=0.2, seconds=1.0)
    last = play_call(session)
    heard = session.engine.mixture_params()
    run_clock(session, last + 0.2, last + 1.5)
    np.testing.assert_array_equal(session.engine.mixture_params(), heard)


def test_response_is_generated_only_a_little_ahead():
    session = make_session(threshold=0.2, seconds=10.0)
    last = play_call(session)
    due = session.due(last + 0.2)
    assert [o.kind for o in due] == ["start", "touch"]  # only what is due is generated before sending
    assert all(o.deadline > last + 0.2 for o in session._queue)
    session.prepare(last + 0.2)
    assert max(o.deadline for o in session._queue) > last + 0.2 + LOOKAHEAD_S - 0.2
    assert all(o.deadline <= last + 0.2 + LOOKAHEAD_S + 5.0 for o in session._queue)


def test_respond_with_nothing_heard_starts_from_the_middle():
    session = make_session(seconds=1.0)
    session.respond(now=10.0)
    got = run_clock(session, 10.0, 11.1)
    assert [o.kind for _, o in got][0] == "start" and got[-1][1].kind == "end"


def test_stop_and_reset():
    session = make_session(threshold=0.2, seconds=5.0)
    last = play_call(session)
    session.due(last + 0.3)
    session.stop(last + 0.4)
    assert [o.kind for o in session.due(last + 0.4)][-1] == "end"
    session.reset(last + 0.5)
    assert session.engine.state.head is None
    assert session.next_deadline() is None


def test_duet_plays_continuously_and_hears_both_parts():
    session = make_session(mode="duet")
    session.touch(0.5, 0.5, 0.5, now=0.0)
    got = run_clock(session, 0.0, 3.0)
    touches = [o for _, o in got if o.kind == "touch"]
    assert got[0][1].kind == "start" and len(touches) > 5
    assert touches[-1].deadline > 2.0  # still playing late in the window
    before = session.engine.mixture_params()
    session.touch(0.1, 0.1, 0.5, now=3.0)
    assert not np.array_equal(before, session.engine.mixture_params())
    assert session.playing
    session.stop(3.1)
    assert session.due(3.1)[-1].kind == "end"


def test_settings_are_validated():
    session = make_session()
    for name, value in [("mode", "solo"), ("temp", 0), ("sigma_temp", -1), ("seconds", 0),
                        ("threshold", 100), ("loudness", 1)]:
        with pytest.raises(RobojamError):
            session.apply(name, value, now=0.0)
    session.apply("temp", 0.5, now=0.0)
    assert session.settings.temp == 0.5


def test_changing_mode_stops_the_part():
    session = make_session(threshold=0.1)
    last = play_call(session)
    session.due(last + 0.2)
    assert session.playing
    session.apply("mode", "duet", now=last + 0.3)
    assert session.due(last + 0.3)[-1].kind == "end"
    assert not session.playing  # once its end is out


def test_responses_have_dynamics_accented_strokes_and_speed():
    from robojam.core.dynamics import Dynamics

    session = make_session(threshold=0.5, seconds=3.0)
    last = play_call(session)
    got = [o for _, o in run_clock(session, last + 0.5, last + 4.0, step=0.002)]
    touches = [o for o in got if o.kind == "touch"]
    assert len({round(t.z, 3) for t in touches}) > 5
    replayed = Dynamics()
    assert 0.4 <= touches[0].z <= 0.7  # a first touch starts a stroke, before anything moved: half drive, its rest
    for before, touch in zip(touches, touches[1:]):
        ups = [o for o in got if o.kind == "up" and before.deadline < o.deadline <= touch.deadline]
        step, dt = math.hypot(touch.x - before.x, touch.y - before.y), touch.deadline - before.deadline
        assert touch.z == pytest.approx(replayed.touch(step, dt, bool(ups)))

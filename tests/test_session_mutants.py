"""Session behaviour pinned down precisely, with a recording fake engine: what is fed, drawn and scheduled."""


import numpy as np
import pytest

from robojam import RobojamError
from robojam.live.session import HISTORY_TOUCHES, LOOKAHEAD_S, Session, Settings


class State:
    def __init__(self):
        self.head = None


class FakeModel:
    style = None
    selector = None  # no drafts: every response is drawn as it plays


class FakeEngine:
    """Feeds are recorded; draws come from a list (x, y, dt), repeating the last one."""

    model = FakeModel()

    def __init__(self, draws=((0.4, 0.6, 0.1),)):
        self.draws = list(draws)
        self.fed = []
        self.drawn_with = []
        self.state = State()
        self.resets = 0
        self.conditioned = None

    def feed(self, x, y, dt):
        self.fed.append((x, y, dt))
        self.state.head = (x, y, dt)

    def draw(self, rng, temp, sigma_temp):
        self.drawn_with.append((temp, sigma_temp))
        return self.draws.pop(0) if len(self.draws) > 1 else self.draws[0]

    def set_style(self, values):
        self.style = values

    def steered_style(self, call, steer):
        return ("steered", len(call), tuple(sorted(steer.items())))

    def set_sampling_knobs(self, steer, call=None):
        self.tilted = dict(steer)
        self.tilted_for = None if call is None else list(call)

    def hear_call(self, call):
        self.heard_call = list(call)

    def reset(self):
        self.resets += 1
        self.fed = []
        self.state.head = None

    def snapshot(self):
        return list(self.fed)

    def restore(self, snap):
        self.fed = list(snap)

    def condition(self, touches):
        self.conditioned = [tuple(t) for t in np.asarray(touches).tolist()]
        self.fed = list(self.conditioned)
        self.state.head = self.fed[-1]


def make(engine=None, **settings):
    engine = engine or FakeEngine()
    # These pin the part drawn a moment ahead (no plan); test_plan.py pins the plan.
    return Session(engine, Settings(**{"plan": False, **settings}), np.random.default_rng(0)), engine


def test_settings_errors_name_the_setting_and_value():
    with pytest.raises(RobojamError, match=r"mode must be one of call-and-response, duet, not 'jazz'"):
        Settings(mode="jazz")
    with pytest.raises(RobojamError, match=r"^temp must be"):
        Settings(temp=0.0)
    with pytest.raises(RobojamError, match=r"unknown setting 'volume'"):
        Settings().changed("volume", 1)


def test_a_new_session_waits_for_a_call():
    session, _ = make()
    assert session.next_deadline() is None
    assert session.due(100.0) == []
    assert not session.playing and session.last_heard is None


def test_touch_dt_comes_from_time_tags_or_arrival_and_is_clipped():
    session, engine = make(threshold=60.0)
    session.touch(0.1, 0.2, 0.5, now=10.0)
    session.touch(0.1, 0.2, 0.5, now=10.3)
    session.touch(0.1, 0.2, 0.5, now=10.4, at=20.0)  # a time tag: dt on the sender's clock
    session.touch(0.1, 0.2, 0.5, now=10.5, at=20.25)
    session.touch(0.1, 0.2, 0.5, now=10.6, at=19.0)  # backwards: 0
    session.touch(0.1, 0.2, 0.5, now=30.0)  # 10.4 s since at=19.0... but at defaults to now: clipped to 5
    dts = [dt for _, _, dt in engine.fed]
    assert dts == pytest.approx([0.0, 0.3, 9.7 if False else 5.0, 0.25, 0.0, 5.0])
    assert list(session._heard) == engine.fed


def test_a_touch_dt_just_under_the_cap_is_kept():
    session, engine = make(threshold=60.0)
    session.touch(0.1, 0.2, 0.5, now=10.0)
    session.touch(0.1, 0.2, 0.5, now=14.5)
    assert engine.fed[-1][2] == pytest.approx(4.5)


def test_a_touch_during_a_duet_does_not_stop_it_and_dt_is_since_the_last_fed():
    session, engine = make(mode="duet")
    session.touch(0.3, 0.3, 0.5, now=1.0)
    assert session.playing
    session.touch(0.35, 0.3, 0.5, now=1.05)
    assert session.playing
    assert engine.fed[-1][2] == pytest.approx(0.05)
    assert engine.drawn_with and all(d == (1.0, 1.0) for d in engine.drawn_with)


def test_respond_draws_with_the_session_temperatures_and_starts_from_the_middle():
    session, engine = make(temp=0.5, sigma_temp=2.0, seconds=1.0)
    session.respond(5.0)
    assert engine.fed[0] == (0.5, 0.5, 0.0)
    assert engine.drawn_with[0] == (0.5, 2.0)
    out = session.due(5.0)
    assert [o.kind for o in out] == ["start", "touch"]
    assert (out[1].x, out[1].y, out[1].deadline) == (0.4, 0.6, 5.0)


def test_a_response_schedules_lookahead_and_ends_exactly_at_its_length():
    session, engine = make(FakeEngine([(0.4, 0.6, 0.25)]), seconds=1.0)
    session.respond(0.0)
    assert session.next_deadline() == pytest.approx(-LOOKAHEAD_S)  # generation ahead comes first
    session.due(0.0)
    # the first touch plays at once; next generation is due LOOKAHEAD_S before the last scheduled touch
    assert session.next_deadline() == pytest.approx(0.0 - LOOKAHEAD_S)
    session.prepare(0.0)
    deadlines = [o.deadline for o in session._queue if o.kind == "touch"]
    assert deadlines == pytest.approx([0.25])  # drawn until one is due at or after now + LOOKAHEAD_S
    assert session.next_deadline() == pytest.approx(0.25 - LOOKAHEAD_S)
    outputs = []
    for now in np.arange(0.0, 1.5, 0.01):
        outputs += session.due(float(now))
        session.prepare(float(now))
    touches = [o for o in outputs if o.kind == "touch"]
    assert [t.deadline for t in touches] == pytest.approx([0.25, 0.5, 0.75, 1.0])  # 1.0 is within seconds
    assert outputs[-1].kind == "end" and outputs[-1].deadline == pytest.approx(1.0)
    # each drawn touch is fed before the next draw, then the state returns to what was heard
    assert engine.fed == [(0.5, 0.5, 0.0)]


def test_the_previous_drawn_touch_is_fed_before_the_next_draw():
    session, engine = make(FakeEngine([(0.1, 0.1, 0.2), (0.2, 0.2, 0.2), (0.3, 0.3, 0.2)]), seconds=5.0)
    session.respond(0.0)
    session.prepare(0.3)
    assert engine.fed[1:] == [(0.1, 0.1, 0.2), (0.2, 0.2, 0.2), (0.3, 0.3, 0.2)]


def test_stop_sends_up_and_end_now_and_keeps_the_start():
    session, _ = make(seconds=5.0)
    session.respond(0.0)
    session.stop(0.5)
    out = session.due(0.5)
    assert [o.kind for o in out] == ["start", "end"]  # the touch not yet sent is dropped
    assert out[-1].deadline == 0.5 and not session.playing
    assert session.next_deadline() is None


def test_touch_up_before_the_end_only_when_a_stroke_is_open():
    session, _ = make(seconds=5.0)
    session.respond(0.0)
    assert [o.kind for o in session.due(0.0)] == ["start", "touch"]
    session.stop(0.1)
    assert [o.kind for o in session.due(0.1)] == ["up", "end"]
    session.respond(0.2)
    session._queue = [o for o in session._queue if o.kind != "touch"]
    session.stop(0.2)
    assert [o.kind for o in session.due(0.2)] == ["start", "end"]


def test_reset_forgets_and_waits_for_a_new_call():
    session, engine = make(threshold=0.5)
    session.touch(0.2, 0.2, 0.5, now=1.0)
    session.reset(1.1)
    assert engine.resets == 1 and len(session._heard) == 0
    assert session.next_deadline() is None and session.due(5.0) == []
    session.touch(0.2, 0.2, 0.5, now=7.0)
    assert engine.fed[-1][2] == 0.0
    session.respond(7.1)
    session.reset(7.2)
    assert [o.kind for o in session.due(7.2)][-1] == "end"


def test_changing_mode_stops_and_cancels_a_pending_call_but_other_settings_do_not():
    session, _ = make(threshold=0.5)
    session.touch(0.2, 0.2, 0.5, now=1.0)
    session.apply("temp", 2.0, 1.1)
    assert session.next_deadline() == pytest.approx(1.5)
    session.apply("mode", "call-and-response", 1.1)
    assert session.next_deadline() == pytest.approx(1.5)
    session.apply("mode", "duet", 1.2)
    assert session.next_deadline() is None and session._call_pending is False


def test_duet_touch_played_is_fed_with_its_dt_and_redrawn():
    session, engine = make(FakeEngine([(0.5, 0.5, 0.2)]), mode="duet")
    session.respond(1.0)
    assert [o.deadline for o in session._queue if o.kind == "touch"] == pytest.approx([1.2])
    assert session.next_deadline() == 1.0
    session.due(1.0)
    assert session.next_deadline() == pytest.approx(1.2)
    out = session.due(1.2)
    assert [o.kind for o in out] == ["touch"]
    assert engine.fed[-1] == pytest.approx((0.5, 0.5, 0.2))
    assert [o.deadline for o in session._queue] == pytest.approx([1.4])
    assert session._last_played is out[0]


def test_use_engine_during_a_response_waits_for_its_end_and_replays_what_was_heard():
    session, old = make(seconds=5.0)
    session.touch(0.2, 0.3, 0.5, now=0.0)
    session.respond(1.0)
    new = FakeEngine()
    session.use_engine(new)
    assert session.engine is old
    session.stop(1.5)
    assert session.engine is new and new.conditioned == [(0.2, 0.3, 0.0)]


def test_history_is_kept_to_its_length():
    session, _ = make(threshold=60.0)
    for i in range(HISTORY_TOUCHES + 3):
        session.touch(0.5, 0.5, 0.5, now=i * 0.01)
    assert len(session._heard) == HISTORY_TOUCHES
    assert len(session._call) == HISTORY_TOUCHES  # a call that never ends holds no more


def test_dynamics_accent_a_first_touch_and_follow_the_last_played():
    session, _ = make(FakeEngine([(0.5, 0.5, 0.01), (0.5, 0.5, 0.01)]), seconds=5.0)
    session.respond(0.0)
    first = [o for o in session._queue if o.kind == "touch"][0]
    from robojam.core.dynamics import Dynamics
    replayed = Dynamics()
    assert first.z == pytest.approx(replayed.touch(0.0, 0.01, new_stroke=True))
    session.due(0.0)
    session.prepare(0.0)
    second = [o for o in session._queue if o.kind == "touch"][0]
    assert second.z == pytest.approx(replayed.touch(0.0, 0.01, False))


def test_energy_turned_while_playing_is_louder_from_the_next_touch():
    session, _ = make(FakeEngine([(0.5, 0.5, 0.01), (0.52, 0.5, 0.01), (0.54, 0.5, 0.01)]), seconds=5.0, energy=1.0)
    session.respond(0.0)
    from robojam.core.dynamics import Dynamics
    replayed = Dynamics(1.0)
    assert [o for o in session._queue if o.kind == "touch"][0].z == pytest.approx(replayed.touch(0.0, 0.01, True))
    session.due(0.0)
    session.apply("energy", -2.0, 0.0)
    replayed.energy = -2.0
    session.prepare(0.0)
    second = [o for o in session._queue if o.kind == "touch"][0]
    assert second.z == pytest.approx(replayed.touch(0.02, 0.01, False))


def test_use_engine_between_responses_switches_at_once():
    session, old = make(seconds=5.0)
    session.touch(0.2, 0.3, 0.5, now=0.0)
    new = FakeEngine()
    session.use_engine(new)
    assert session.engine is new and new.conditioned == [(0.2, 0.3, 0.0)]
    assert old.resets == 0 and new.resets == 1


def test_respond_while_playing_ends_the_old_response_now_and_starts_again():
    session, _ = make(seconds=5.0)
    session.respond(0.0)
    session.due(0.0)
    session.respond(0.5)
    kinds = [(o.kind, o.deadline) for o in session.due(0.5)]
    assert kinds[:3] == [("up", 0.5), ("end", 0.5), ("start", 0.5)]
    assert session.playing


def test_a_duet_after_a_response_keeps_the_state_it_reached():
    session, engine = make(FakeEngine([(0.5, 0.5, 0.2)]), seconds=0.3)
    session.touch(0.2, 0.2, 0.5, now=0.0)
    session.respond(1.0)
    for now in (1.0, 1.2, 1.4):
        session.prepare(now)
        session.due(now)
    assert not session.playing and engine.fed == [(0.2, 0.2, 0.0)]  # back to what was heard
    session.apply("mode", "duet", 2.0)
    session.respond(2.0)
    session.due(2.2)
    session.stop(2.3)
    assert [o.kind for o in session.due(2.3)][-1] == "end"
    assert engine.fed[-1] == pytest.approx((0.5, 0.5, 0.2))  # a duet's touches stay heard


def test_a_duet_keeps_one_touch_of_its_own_pending():
    session, _ = make(FakeEngine([(0.5, 0.5, 0.2)]), mode="duet")
    session.respond(1.0)
    for now in (1.05, 1.1, 1.15):
        session.touch(0.3, 0.3, 0.5, now=now)
    assert [o.deadline for o in session._queue if o.kind == "touch"] == pytest.approx([1.35])


def test_a_response_asked_for_in_the_last_moments_of_another_ends_that_one_first():
    session, _ = make(FakeEngine([(0.5, 0.5, 0.1)]), seconds=0.3)
    session.respond(0.0)
    session.prepare(0.0)  # drawn to its end: touches at 0.1 to 0.3, its end at 0.3
    session.due(0.05)
    session.respond(0.1)
    out = [(o.kind, o.deadline) for o in session.due(0.1)]
    assert out[:3] == [("up", 0.1), ("end", 0.1), ("start", 0.1)]
    assert [o for o in session._queue if o.kind == "end"] == []  # the old end is not sent twice


# --- a new model's engine, prepared off the loop (use_prepared) ------------------------------------

def heard_touches(session, n, start=0.0):
    for i in range(n):
        session.touch(0.1 * i, 0.2, 0.5, now=start + 0.1 * i)


def test_a_prepared_engine_hears_only_what_was_heard_since_its_history():
    session, _ = make(threshold=60.0)
    heard_touches(session, 3)
    history = session.history()
    heard_touches(session, 2, start=1.0)
    new = FakeEngine()
    session.use_prepared(new, history)
    assert session.engine is new and new.resets == 0
    assert new.conditioned == [(0.0, 0.2, pytest.approx(0.8)), (0.1, 0.2, pytest.approx(0.1))]
    assert not hasattr(new, "heard_call")  # the call it answers is unchanged: not heard again


def test_a_prepared_engine_up_to_date_is_fed_nothing():
    session, _ = make(threshold=60.0)
    heard_touches(session, 3)
    new = FakeEngine()
    session.use_prepared(new, session.history())
    assert new.conditioned is None and new.resets == 0 and new.fed == []


def test_a_prepared_engine_whose_history_is_all_that_was_kept_hears_it_all_since():
    session, _ = make(threshold=60.0)
    history = session.history()  # nothing heard yet
    heard_touches(session, 3)
    new = FakeEngine()
    session.use_prepared(new, history)
    assert new.resets == 0 and len(new.conditioned) == 3


def test_a_prepared_engine_from_before_a_reset_hears_everything_again():
    session, _ = make(threshold=60.0)
    heard_touches(session, 3)
    history = session.history()
    session.reset(1.0)
    heard_touches(session, 2, start=2.0)
    new = FakeEngine()
    session.use_prepared(new, history)
    assert new.resets == 1 and new.conditioned == [(0.0, 0.2, 0.0), (0.1, 0.2, pytest.approx(0.1))]


def test_a_prepared_engine_further_behind_than_the_history_kept_hears_everything_again():
    session, _ = make(threshold=60.0)
    history = session.history()
    heard_touches(session, HISTORY_TOUCHES + 1)
    new = FakeEngine()
    session.use_prepared(new, history)
    assert new.resets == 1 and len(new.conditioned) == HISTORY_TOUCHES


def test_a_prepared_engine_hears_the_call_robojam_answers_now():
    session, _ = make(FakeEngine([(0.5, 0.5, 0.1)]), seconds=0.2)
    heard_touches(session, 2)
    history = session.history()
    session.respond(1.0)  # the two touches become the call answered
    session.stop(1.05)
    new = FakeEngine()
    session.use_prepared(new, history)
    assert new.heard_call == [(0.0, 0.2, 0.0), (0.1, 0.2, pytest.approx(0.1))]
    assert new.conditioned is None  # nothing heard since, and no full replay
    assert new.resets == 0


def test_a_switched_engine_takes_the_sessions_knobs_and_nothing_waits_after_it():
    session, old = make(seconds=5.0, size=1.0, curl=-0.5)
    session.respond(0.0)
    first, second = FakeEngine(), FakeEngine()
    session.use_prepared(first, None)
    assert session._next_engine is first and session.engine is old  # a response plays on on the old model
    session.stop(0.5)
    assert session.engine is first and session._next_engine is None and session._next_history is None
    assert first.tilted == session.settings.steer() and first.tilted["size"] == 1.0
    session.use_prepared(second, None)
    assert session.engine is second and second.tilted["curl"] == -0.5


def test_a_duet_switches_at_once_and_redraws_its_touch_from_the_new_engine():
    session, old = make(FakeEngine([(0.5, 0.5, 0.2)]), mode="duet")
    session.respond(1.0)
    new = FakeEngine([(0.7, 0.1, 0.3)])
    session.use_prepared(new, None)
    assert session.engine is new and session.playing
    touches = [(o.x, o.y, o.deadline) for o in session._queue if o.kind == "touch"]
    assert touches == [(0.7, 0.1, pytest.approx(1.3))]  # from the last touch fed, at 1.0


# --- the style robojam plays in, and the knobs turned while it plays -------------------------------

class StyledModel:
    style = "a style input"


class StyledEngine(FakeEngine):
    """A fake engine of a model with a style input: every style set is recorded."""

    model = StyledModel()

    def __init__(self, draws=((0.4, 0.6, 0.1),)):
        super().__init__(draws)
        self.styles = []

    def set_style(self, values):
        self.styles.append(values)


def steered(call_length, **knobs):
    steer = {**Settings().steer(), **knobs}
    return ("steered", call_length, tuple(sorted(steer.items())))


def test_a_response_is_played_in_the_calls_style_from_its_second_touch():
    session, engine = make(StyledEngine(), seconds=5.0, threshold=60.0)
    heard_touches(session, 2)
    session.respond(1.0)
    assert engine.styles == []  # the first touch is drawn with the call heard plainly
    session.prepare(1.0)
    assert engine.styles == [steered(2)]
    session.stop(1.1)
    assert engine.styles == [steered(2), None]  # listening again: the average style


def test_a_knob_turned_while_robojam_plays_steers_its_style_at_once():
    session, engine = make(StyledEngine(), seconds=5.0, threshold=60.0)
    heard_touches(session, 2)
    session.respond(1.0)
    session.prepare(1.0)
    session.apply("size", 1.0, 1.1)
    assert engine.styles == [steered(2), steered(2, size=1.0)]
    assert engine.tilted["size"] == 1.0


def test_a_knob_turned_before_the_style_is_read_is_in_it_when_it_is():
    session, engine = make(StyledEngine(), seconds=5.0, threshold=60.0)
    heard_touches(session, 3)
    session.respond(1.0)
    session.apply("curl", -1.0, 1.0)
    assert engine.styles == []
    session.prepare(1.0)
    assert engine.styles == [steered(3, curl=-1.0)]


def test_a_knob_turned_while_listening_sets_no_style():
    session, engine = make(StyledEngine(), threshold=60.0)
    heard_touches(session, 2)
    session.apply("size", 1.0, 1.0)
    assert engine.styles == [] and engine.tilted["size"] == 1.0


def test_a_model_without_a_style_input_is_given_none_while_it_plays():
    session, engine = make(seconds=5.0, threshold=60.0)
    heard_touches(session, 2)
    session.respond(1.0)
    session.prepare(1.0)
    session.apply("size", 1.0, 1.1)
    assert engine.tilted["size"] == 1.0 and getattr(engine, "style", None) is None


def test_a_duet_takes_up_the_calls_style_when_the_performer_plays_on():
    session, engine = make(StyledEngine([(0.5, 0.5, 0.2)]), mode="duet")
    session.touch(0.3, 0.3, 0.5, now=1.0)  # starts the duet, answering this one touch
    assert engine.styles == []
    session.touch(0.35, 0.3, 0.5, now=1.05)  # the performer plays on, in the style robojam took up
    assert engine.styles == [steered(1)]


def test_plan_must_be_true_or_false():
    with pytest.raises(RobojamError, match=r"^plan must be true or false, not 'yes'$"):
        Settings(plan="yes")


def test_a_prepared_engine_from_between_two_resets_hears_everything_again():
    session, _ = make(threshold=60.0)
    session.reset(0.0)
    history = session.history()
    session.reset(0.5)
    heard_touches(session, 2, start=1.0)
    new = FakeEngine()
    session.use_prepared(new, history)
    assert new.resets == 1 and len(new.conditioned) == 2


def test_an_engine_prepared_during_a_response_catches_up_when_it_ends_without_a_replay():
    session, old = make(seconds=5.0, threshold=60.0)
    heard_touches(session, 2)
    history = session.history()
    session.respond(1.0)
    new = FakeEngine()
    session.use_prepared(new, history)
    assert session.engine is old
    session.stop(1.5)
    assert session.engine is new and new.resets == 0 and new.conditioned is None
    assert new.heard_call == [(0.0, 0.2, 0.0), (0.1, 0.2, pytest.approx(0.1))]


# --- a duet with the plan: its chain of touches drawn ahead ----------------------------------------

def duet(dt=0.25, **settings):
    return make(FakeEngine([(0.5, 0.5, dt)]), mode="duet", plan=True, **settings)


def plans(outputs):
    return [[d for d, _, _ in o.points] for o in outputs if o.kind == "plan"]


def test_a_duet_is_planned_as_soon_as_its_first_touch_is_drawn():
    session, _ = duet(dt=0.5)
    session.respond(0.0)
    assert plans(session.due(0.0)) == [[0.5]]  # not held back for touches due soon


def test_a_duet_is_drawn_to_its_reach_exactly_and_planned_at_once():
    session, _ = duet()
    session.respond(0.0)
    session.due(0.0)
    session.prepare(0.0)  # drawn until a touch is due DUET_AHEAD_S + LOOKAHEAD_S (1.25 s) ahead
    touches = [o.deadline for o in session._queue if o.kind == "touch"]
    assert touches == [0.25, 0.5, 0.75, 1.0, 1.25]
    assert plans(session._queue) == [[0.5, 0.75, 1.0, 1.25]]  # the first touch was planned with its draw
    session.due(0.0)
    assert session.next_deadline() == pytest.approx(1.25 - 1.0 - LOOKAHEAD_S / 2)


def test_a_duet_without_touches_to_draw_waits_for_its_next_touch():
    session, _ = duet(dt=0.5)
    session.respond(0.0)
    session.due(0.0)
    session.prepare(0.0)
    session.due(0.0)
    assert [o.deadline for o in session._queue] == [0.5, 1.0, 1.5]
    assert session.next_deadline() == pytest.approx(1.5 - 1.0 - LOOKAHEAD_S / 2)  # before the first touch


def test_a_duet_touch_played_before_it_was_fed_ahead_is_fed_as_played():
    session, engine = duet()
    session.respond(0.0)
    session.due(0.0)
    session.due(0.25)  # played before prepare drew on from it
    assert engine.fed == [(0.5, 0.5, 0.0), (0.5, 0.5, 0.25)]


def test_a_performer_touch_before_any_planned_touch_played_is_heard_after_what_was_heard():
    session, engine = duet()
    session.respond(0.0)
    session.due(0.0)
    session.prepare(0.0)  # the chain's touches are fed as they are drawn
    assert len(engine.fed) > 2
    session.touch(0.2, 0.2, 0.5, now=0.1)
    assert engine.fed == [(0.5, 0.5, 0.0), (0.2, 0.2, pytest.approx(0.1))]


def test_duet_touches_played_from_the_chain_are_heard_and_counted():
    session, engine = duet()
    session.respond(0.0)
    history = session.history()
    session.due(0.0)
    session.prepare(0.0)
    for now in (0.25, 0.5):
        session.due(now)
    assert list(session._heard) == [(0.5, 0.5, 0.0), (0.5, 0.5, 0.25), (0.5, 0.5, 0.25)]
    new = FakeEngine()
    session.use_prepared(new, history)
    assert new.resets == 0 and new.conditioned == [(0.5, 0.5, 0.25), (0.5, 0.5, 0.25)]
    session.apply("mode", "call-and-response", 0.6)
    session.respond(0.7)  # what robojam played in the duet is the call the response answers
    assert new.heard_call == [(0.5, 0.5, 0.25), (0.5, 0.5, 0.25)]


def test_a_response_is_planned_a_slice_at_a_time_once_its_touches_come_within_reach():
    session, _ = make(FakeEngine([(0.5, 0.5, 0.25)]), seconds=5.0, plan=True)
    session.respond(0.0)
    session.due(0.0)
    session.prepare(0.0)  # PLAN_SLICE touches drawn; the first is due LOOKAHEAD_S from now
    assert plans(session._queue) == [[0.25 * i for i in range(1, 9)]]


def test_the_draw_time_levers_are_set_for_the_call_answered_as_it_starts_and_as_a_knob_turns():
    session, engine = make(threshold=60.0, seconds=2.0)
    for k in range(3):
        session.touch(0.1 * k, 0.2, 0.5, now=1.0 + 0.1 * k)
    session.respond(2.0)
    assert engine.tilted_for == list(session._answered) and len(engine.tilted_for) == 3
    engine.tilted_for = None
    session.apply("contrast", 0.5, 2.1)
    assert engine.tilted_for == list(session._answered) and engine.tilted["contrast"] == 0.5
    replacement = FakeEngine()
    session.stop(2.2)
    session.use_engine(replacement)
    assert replacement.tilted_for == list(session._answered)


def test_next_output_is_the_earliest_scheduled_deadline():
    session, _ = make(FakeEngine([(0.4, 0.6, 0.25)]), seconds=2.0)
    assert session.next_output() is None
    session.respond(0.0)
    session.due(0.0)
    session.prepare(0.0)
    assert len(session._queue) >= 1
    assert session.next_output() == min(o.deadline for o in session._queue) == session._queue[0].deadline

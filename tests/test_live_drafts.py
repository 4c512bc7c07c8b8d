"""Drafts drawn in the performer's silence: a slice at a time, played when the threshold comes, dropped
by a touch, a setting or a turned knob, and never leaving the model's state changed."""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from robojam.core.drafts import SCORE_ROWS, Drafting, respond_with_drafts
from robojam.core.engine import Engine
from robojam.live.knobs import RANGES, SERVE
from robojam.live.schedule import OutputSchedule
from robojam.live.session import DRAFT_FROM, DRAFT_QUIET_S, DRAFT_SLICE, Session, Settings
from synthetic import random_model
from test_drafts import CALL, stump

THRESHOLD = 1.0
TICK = 0.002


def drafting_model(style: bool = False):
    model = random_model(style=style)
    model.selector = stump(0, 0.7, lean=3.0)  # prefers runs that start left of 0.7 (the model's median)
    return model


def same_state(a: Engine, b: Engine) -> bool:
    sa, sb = a.snapshot(), b.snapshot()
    return (np.array_equal(sa.signals, sb.signals) and np.array_equal(sa.cells, sb.cells)
            and sa.context == sb.context and np.array_equal(sa.head, sb.head))


def heard(session: Session, call=CALL, start: float = 0.0) -> float:
    """Play ``call`` to the session; returns the time of its last touch."""
    now = start
    for x, y, dt in call:
        now += dt
        session.touch(float(x), float(y), 0.5, now)
    return now


def run(session: Session, start: float, until: float) -> list:
    """Turn the server's loop on a fake clock, as the schedule does: due outputs, then prepare."""
    outputs, now = [], start
    while now < until:
        now += TICK
        outputs += session.due(now)
        session.prepare(now)
    return outputs


def played(outputs) -> np.ndarray:
    return np.array([(o.deadline, o.x, o.y) for o in outputs if o.kind == "touch"]).reshape(-1, 3)


# ---- drafting a slice at a time ---------------------------------------------------------------------

@pytest.mark.parametrize("slice_size", [1, 3, 1000])
def test_drafts_drawn_in_slices_are_exactly_those_drawn_whole(slice_size):
    model = drafting_model()
    whole = respond_with_drafts(Engine(model), model.selector, CALL, 2.0, np.random.default_rng(3), 6)
    engine = Engine(model)
    engine.take_call(CALL)
    ready = engine.spawn()
    ready.restore(engine.snapshot())
    drafting = Drafting(engine, model.selector, 6, 2.0, np.random.default_rng(3))
    turns = 0
    while not drafting.work(slice_size):
        turns += 1
    assert np.array_equal(drafting.kept(), whole)
    assert turns >= (6 * 2 if slice_size == 1 else 0)
    assert same_state(engine, ready)  # each draft starts from the call taken, and the engine ends there


def test_the_kept_draft_keeps_the_first_dt_the_model_heard_and_plays_it_at_once():
    model = drafting_model()
    engine = Engine(model)
    engine.take_call(CALL)
    drafting = Drafting(engine, model.selector, 4, 2.0, np.random.default_rng(8))
    with pytest.raises(Exception, match="^the answer is not drafted yet$"):
        drafting.kept()
    drafting.work(10_000)
    as_drawn, kept = drafting.kept_as_drawn(), drafting.kept()
    assert kept[0, 2] == 0.0 and as_drawn[0, 2] > 0.0
    assert np.array_equal(as_drawn[1:], kept[1:]) and np.array_equal(as_drawn[0, :2], kept[0, :2])
    assert np.sum(kept[:, 2]) <= 2.0


# ---- in the silence ---------------------------------------------------------------------------------

def drafted_alone(engine: Engine, call, settings: Settings, seed: int) -> np.ndarray:
    """The kept draft, drawn on a copy of ``engine`` as a response would take ``call``: its leaps heard,
    its style read at once."""
    copy = engine.spawn()
    copy.restore(engine.snapshot())
    copy.hear_call(call)
    if copy.model.style is not None:
        copy.set_style(copy.steered_style(call, settings.steer()))
    drafting = Drafting(copy, copy.model.selector, settings.drafts, settings.seconds, np.random.default_rng(seed),
                        settings.temp, settings.sigma_temp, call)
    drafting.work(10_000)
    return drafting.kept_as_drawn()


def test_in_the_silence_robojam_drafts_and_plays_the_kept_draft_at_the_threshold():
    model = drafting_model(style=True)
    session = Session(Engine(model), Settings(threshold=THRESHOLD, seconds=2.0, temp=0.8, sigma_temp=0.9),
                      np.random.default_rng(0))
    last = heard(session)
    listening = session.engine.spawn()
    listening.restore(session.engine.snapshot())
    kept = drafted_alone(session.engine, list(session._call), session.settings, seed=0)
    assert session.next_deadline() == pytest.approx(last + THRESHOLD * DRAFT_FROM)
    run(session, last, last + THRESHOLD * DRAFT_FROM - TICK)
    assert session._drafts is None  # a pause within a call costs nothing
    run(session, last + THRESHOLD * DRAFT_FROM - TICK, last + THRESHOLD - 2 * TICK)
    assert session._drafts is not None and session._drafts.done
    assert session.next_deadline() == pytest.approx(last + THRESHOLD)  # drafted: the loop may sleep
    assert same_state(session.engine, listening) and session.engine._style == [0.0] * model.style.dim
    outputs = run(session, last + THRESHOLD - 2 * TICK, last + THRESHOLD + 3.0)
    assert [o.drafted for o in outputs if o.kind == "start"] == [True]  # counted in /robojam/status
    touches = played(outputs)
    assert len(touches) == len(kept) > 1
    assert touches[0, 0] == pytest.approx(last + THRESHOLD, abs=TICK)
    assert np.allclose(touches[:, 1:], kept[:, :2])
    assert np.allclose(np.diff(touches[:, 0]), kept[1:, 2])
    assert same_state(session.engine, listening)  # the model remembers the performer, not itself


def test_a_new_model_in_the_silence_drops_the_drafts_and_drafts_anew_with_it():
    model = drafting_model()
    session = Session(Engine(model), Settings(threshold=THRESHOLD), np.random.default_rng(0))
    last = heard(session)
    middle = last + THRESHOLD * DRAFT_FROM + 3 * TICK
    run(session, last, middle)
    old_drafts, new_engine = session._drafts, Engine(drafting_model())
    session.use_engine(new_engine)
    assert session._drafts is None and session.engine is new_engine
    replayed_alone = Engine(new_engine.model)
    replayed_alone.condition(CALL)
    run(session, middle, last + THRESHOLD - TICK)
    assert session._drafts is not old_drafts and session._drafts.engine is new_engine and session._drafts.done
    assert np.allclose(session.engine.mixture_params(), replayed_alone.mixture_params(), atol=1e-5)


def test_the_played_answers_score_as_the_selector_likes_better_than_one_draws():
    model = drafting_model()
    scores = {}
    for drafts in (1, 8):
        answers = []
        for seed in range(6):
            session = Session(Engine(model), Settings(threshold=THRESHOLD, seconds=2.0, drafts=drafts),
                              np.random.default_rng(seed))
            last = heard(session)
            touches = played(run(session, last, last + THRESHOLD + 2.5))
            answers.append(np.column_stack([touches[:, 1:], np.diff(touches[:, 0], prepend=touches[0, 0])]))
        scores[drafts] = np.mean(model.selector.scores(answers))
    assert scores[8] < scores[1] - 0.05


def test_a_touch_in_the_silence_drops_the_drafts_and_leaves_the_state_as_heard():
    model = drafting_model(style=True)
    drafting = Session(Engine(model), Settings(threshold=THRESHOLD), np.random.default_rng(0))
    plain = Session(Engine(model), Settings(threshold=THRESHOLD, drafts=1), np.random.default_rng(0))
    for session in (drafting, plain):
        last = heard(session)
        run(session, last, last + THRESHOLD * DRAFT_FROM + 10 * TICK)
        heard(session, CALL[:2], start=last + THRESHOLD * DRAFT_FROM + 10 * TICK)
    assert drafting._drafts is None
    assert same_state(drafting.engine, plain.engine)


@pytest.mark.parametrize("change", [("temp", 0.9), ("drafts", 4), ("seconds", 3.0)])
def test_a_setting_changed_in_the_silence_drops_the_drafts_and_they_start_again(change):
    model = drafting_model()
    session = Session(Engine(model), Settings(threshold=THRESHOLD), np.random.default_rng(0))
    last = heard(session)
    listening = session.engine.spawn()
    listening.restore(session.engine.snapshot())
    middle = last + THRESHOLD * DRAFT_FROM + 3 * TICK
    run(session, last, middle)
    assert session._drafts is not None and not session._drafts.done
    session.apply(*change, middle)
    assert session._drafts is None and same_state(session.engine, listening)
    run(session, middle, last + THRESHOLD - TICK)
    assert session._drafts.done and session._drafts.count == session.settings.drafts


def test_a_response_asked_for_before_the_drafts_are_done_is_drawn_as_it_plays():
    model = drafting_model()
    session = Session(Engine(model), Settings(threshold=THRESHOLD, seconds=2.0), np.random.default_rng(0))
    last = heard(session)
    listening = session.engine.spawn()
    listening.restore(session.engine.snapshot())
    middle = last + THRESHOLD * DRAFT_FROM + 3 * TICK
    run(session, last, middle)
    session.respond(middle)
    assert session._drafts is None and session._kept is None
    outputs = run(session, middle, middle + 3.0)
    assert [o.drafted for o in outputs if o.kind == "start"] == [False]
    touches = played(outputs)
    assert len(touches) > 1 and touches[0, 0] == pytest.approx(middle)
    assert same_state(session.engine, listening)


@pytest.mark.parametrize("settings", [{"drafts": 1}, {"curl": 0.5}, {"mode": "duet"}])
def test_one_draft_a_turned_knob_or_a_duet_draws_no_drafts(settings):
    model = drafting_model(style=True)
    session = Session(Engine(model), Settings(threshold=THRESHOLD, **settings), np.random.default_rng(0))
    last = heard(session)
    assert session.next_deadline() != pytest.approx(last + THRESHOLD * DRAFT_FROM)
    session.prepare(last + THRESHOLD * 0.9)
    assert session._drafts is None


def test_a_model_without_a_selector_draws_no_drafts():
    session = Session(Engine(random_model()), Settings(threshold=THRESHOLD), np.random.default_rng(0))
    last = heard(session)
    session.prepare(last + THRESHOLD * 0.9)
    assert session._drafts is None


def test_a_knob_turned_while_a_kept_draft_plays_draws_on_from_the_touch_reached():
    model = drafting_model(style=True)
    session = Session(Engine(model), Settings(threshold=THRESHOLD, seconds=3.0, plan=False), np.random.default_rng(0))
    last = heard(session)
    run(session, last, last + THRESHOLD + 0.5)
    assert session._kept  # without a plan, a response is drawn (here: taken from the kept draft) a little ahead
    session.apply("curl", 1.5, last + THRESHOLD + 0.5)
    assert session._kept is None
    later = played(run(session, last + THRESHOLD + 0.5, last + THRESHOLD + 3.5))
    assert len(later) > 0


def test_drafts_is_a_live_whole_number_setting_with_the_cores_limits():
    from robojam.core.drafts import DEFAULT_DRAFTS, MAX_DRAFTS
    assert SERVE["drafts"].default == DEFAULT_DRAFTS and SERVE["drafts"].live
    assert (RANGES["drafts"].low, RANGES["drafts"].high, RANGES["drafts"].integer) == (1, MAX_DRAFTS, True)
    assert Settings().changed("drafts", 4.0).drafts == 4 and isinstance(Settings(drafts=4.0).drafts, int)
    for bad in (0, 65, 2.5, "8", True):
        with pytest.raises(Exception, match="drafts must be a whole number"):
            Settings().changed("drafts", bad)


def test_a_reset_in_the_silence_drops_the_drafts_and_forgets_the_call():
    model = drafting_model()
    session = Session(Engine(model), Settings(threshold=THRESHOLD), np.random.default_rng(0))
    fresh = Session(Engine(model), Settings(threshold=THRESHOLD), np.random.default_rng(0))
    last = heard(session)
    middle = last + THRESHOLD * DRAFT_FROM + 3 * TICK
    run(session, last, middle)
    session.reset(middle)
    assert session._drafts is None
    heard(session, CALL[:2], start=middle)
    heard(fresh, CALL[:2], start=middle)
    assert same_state(session.engine, fresh.engine)


def test_drafting_waits_while_an_output_is_about_to_be_due():
    model = drafting_model()
    session = Session(Engine(model), Settings(threshold=THRESHOLD), np.random.default_rng(0))
    last = heard(session)
    now = last + THRESHOLD * 0.9
    session.prepare(now, quiet_until=now + DRAFT_QUIET_S / 2)
    assert session._drafts is None
    session.prepare(now, quiet_until=now + DRAFT_QUIET_S)
    assert session._drafts is not None


class OtherSession:
    """A performer's session with an output due at ``next_output`` and nothing to send yet."""

    def __init__(self, next_output: float):
        self._next = next_output

    def due(self, now):
        return []

    def next_output(self):
        return self._next

    def prepare(self, now, quiet_until=math.inf):
        pass


@pytest.mark.parametrize("other_due_in, drafts", [(DRAFT_QUIET_S / 2, False), (DRAFT_QUIET_S * 5, True)])
def test_the_schedule_lets_a_session_draft_only_while_no_sessions_output_is_near(other_due_in, drafts):
    session = Session(Engine(drafting_model()), Settings(threshold=THRESHOLD), np.random.default_rng(0))
    now = heard(session) + THRESHOLD * 0.9
    schedule = OutputSchedule(lambda: now)
    performers = {"a": SimpleNamespace(session=session), "b": SimpleNamespace(session=OtherSession(now + other_due_in))}
    schedule.send_due(performers, lambda key, performer, output: None)
    assert (session._drafts is not None) == drafts


class CountingSelector:
    """A selector that counts its calls and the rows each scored."""

    def __init__(self, selector):
        self.selector, self.points, self.context, self.calls = selector, selector.points, selector.context, []

    def chances(self, rows):
        self.calls.append(len(rows))
        return self.selector.chances(rows)


def test_a_slice_of_drafting_scores_at_most_a_few_runs():
    model = drafting_model()
    engine, counting = Engine(model), CountingSelector(model.selector)
    engine.take_call(CALL)
    drafting = Drafting(engine, counting, 3, 4.0, np.random.default_rng(2))
    per_slice = []
    while not drafting.done:
        before = len(counting.calls)
        drafting.work(DRAFT_SLICE)
        per_slice.append(counting.calls[before:])
    assert max(len(calls) for calls in per_slice) == 1  # drawing and scoring share no slice's budget twice
    assert max(max(calls, default=0) for calls in per_slice) <= SCORE_ROWS
    assert sum(map(len, per_slice)) > 3  # the runs of each draft took more than one slice to score


def test_the_bench_times_a_real_servers_drafted_answers_against_one_draft():
    from robojam.tools.bench_drafts import after_silence_ms
    for drafts, drafted in ((8, 2), (1, 0)):
        late, counted = after_silence_ms(None, drafts, rounds=2, seconds=2.0)
        assert len(late) == 2 and counted == drafted


def test_two_drafts_are_drafted():
    session = Session(Engine(drafting_model()), Settings(threshold=THRESHOLD, drafts=2), np.random.default_rng(0))
    last = heard(session)
    run(session, last, last + THRESHOLD - TICK)
    assert session._drafts is not None and session._drafts.done and session._drafts.count == 2


@pytest.mark.parametrize("touches_a_second", [None, 1])
@pytest.mark.parametrize("seed", range(4))
def test_one_candidate_a_phrase_is_exactly_what_the_engine_would_answer(monkeypatch, touches_a_second, seed):
    from robojam.core import drafts as drafts_module, engine as engine_module

    if touches_a_second is not None:  # a cap on touches that binds before the response's length does
        monkeypatch.setattr(engine_module, "MAX_TOUCHES_PER_SECOND", touches_a_second)
        monkeypatch.setattr(drafts_module, "MAX_TOUCHES_PER_SECOND", touches_a_second)
    model, seconds = drafting_model(), 4.0
    engine = Engine(model)
    engine.take_call(CALL)
    answer = engine.answer(seconds, np.random.default_rng(seed))
    drafter = Engine(model)
    drafter.take_call(CALL)
    drafting = Drafting(drafter, model.selector, 1, seconds, np.random.default_rng(seed))
    drafting.work(math.inf)
    assert np.array_equal(drafting.kept(), answer)
    assert len(answer) <= 5 if touches_a_second is not None else len(answer) > 2 * drafts_module.PHRASE

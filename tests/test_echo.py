"""A model's echo: new strokes that leap as the call's did, in the engine, the live session and the commands."""

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from robojam import RobojamError
from robojam.cli import main
from robojam.core.encoding import within
from robojam.core.engine import Engine
from robojam.core.modelfile import save_model
from robojam.core.performance import STROKE_GAP_S, Performance, read_csv, stroke_continues, stroke_leaps, write_csv
from robojam.core.temperatures import Temperatures, temperatures_from_dict
from robojam.live.session import Session, Settings
from synthetic import random_model, synthetic_corpus
from test_temperatures import with_temperatures

LEAP = 0.3


def taps(xs, gap=0.3, y=0.5) -> np.ndarray:
    """A call of single taps at ``xs`` (one stroke each: ``gap`` seconds apart)."""
    return np.array([[x, y, 0.0 if i == 0 else gap] for i, x in enumerate(xs)])


def echoing(echo=1.0, encoding="heading", **parts) -> Engine:
    return Engine(with_temperatures(random_model(encoding=encoding, seed=4), Temperatures(echo=echo, **parts)))


def echoes(touches, call, tol=1e-6) -> np.ndarray:
    """For each leap into a new stroke of ``touches``: whether it is one of ``call``'s, either way round."""
    known = stroke_leaps(call)
    known = np.vstack([known, -known])
    return np.array([np.hypot(*(known - leap).T).min() < tol for leap in stroke_leaps(touches)], dtype=bool)


# ---- the parts --------------------------------------------------------------------------------

def test_stroke_leaps_are_the_moves_into_each_new_stroke():
    touches = np.array([[0.1, 0.1, 0.0], [0.12, 0.1, 0.02], [0.5, 0.4, 0.02], [0.5, 0.4, 0.5], [0.52, 0.4, 0.02]])
    np.testing.assert_allclose(stroke_leaps(touches), [[0.38, 0.3], [0.0, 0.0]])  # a jump, then a pause in place
    assert stroke_leaps(touches[:2]).shape == (0, 2)
    assert stroke_leaps(np.zeros((0, 3))).shape == (0, 2)


@pytest.mark.parametrize("encoding", ["robojam", "delta", "heading"])
def test_moved_to_lands_where_asked_and_keeps_the_timing(encoding):
    model = random_model(encoding=encoding)
    prev = model.encoding.context(model.encoding.context(None, 0.3, 0.6), 0.35, 0.62)
    target = [0.4, -0.7, 0.25]
    x, y, dt = model.encoding.decode(prev, model.encoding.moved_to(prev, 0.8, 0.1, target))
    assert (x, y) == pytest.approx((0.8, 0.1))
    assert dt == model.encoding.decode(prev, target)[2]


def test_the_echo_is_checked_described_and_kept_in_model_files(tmp_path):
    assert Temperatures(echo=0.5).describe() == "shape temp 1, rhythm temp 1, echo 0.5"
    assert not Temperatures(echo=1).neutral and Temperatures(echo=0).neutral
    assert temperatures_from_dict(Temperatures(0.8, 1, echo=1.0).to_dict()) == Temperatures(0.8, 1, echo=1.0)
    assert temperatures_from_dict({"shape": 1, "rhythm": 1}).echo == 0.0  # older files: no echo
    for bad in (-0.01, 1.01, math.nan, "1", True, None):
        with pytest.raises(RobojamError, match="echo must be a number from 0 to 1"):
            Temperatures(echo=bad)
    folder = save_model(with_temperatures(random_model(), Temperatures(echo=0.75)), tmp_path / "m")
    assert json.loads((folder / "model.json").read_text())["temperatures"]["echo"] == 0.75


# ---- the engine -------------------------------------------------------------------------------

def test_new_strokes_leap_as_the_call_did():
    call = taps([0.5 - LEAP / 2, 0.5 + LEAP / 2] * 4)  # back and forth: leaps of +-0.3 across
    echoed = echoing().respond(call, 5.0, np.random.default_rng(1))
    assert len(stroke_leaps(echoed)) > 10
    assert echoes(echoed, call).all()  # each new stroke moves by one of the call's leaps
    assert stroke_continues(echoed).sum() > 20  # touches that carry a stroke on are drawn as they were
    assert not echoes(echoing(echo=0.0).respond(call, 5.0, np.random.default_rng(1)), call).any()


def test_a_leap_is_taken_either_way_round():
    call = np.array([[0.3, 0.35, 0.0], [0.5, 0.5, 0.3], [0.7, 0.65, 0.3]])  # the call only leaps up and right
    leaps = stroke_leaps(echoing().respond(call, 5.0, np.random.default_rng(2)))
    assert (leaps[:, 0] > 0).any() and (leaps[:, 0] < 0).any()
    np.testing.assert_allclose(np.abs(leaps), np.tile([0.2, 0.15], (len(leaps), 1)), atol=1e-9)
    assert np.allclose(leaps[:, 0] / leaps[:, 1], 0.2 / 0.15)  # the whole leap turned round, not one part


def test_the_leap_is_picked_at_random_among_those_that_fit():
    call = taps([0.5, 0.62, 0.5, 0.36, 0.5, 0.7, 0.5])  # leaps of 0.12, 0.14 and 0.2, each both ways
    leaps = np.concatenate([stroke_leaps(echoing().respond(call, 5.0, np.random.default_rng(seed)))
                            for seed in range(3)])
    lengths, counts = np.unique(np.round(np.abs(leaps[:, 0]), 6), return_counts=True)
    assert lengths.tolist() == [0.12, 0.14, 0.2] and counts.min() > 0.15 * len(leaps)
    assert 0.3 < np.mean(leaps[:, 0] > 0) < 0.7


def test_only_leaps_over_the_jump_may_start_a_stroke_without_a_pause():
    engine = echoing()
    engine.hear_call(taps([0.0, 0.1, 0.0, 0.3]))  # leaps of exactly the jump (0.1), then over it
    assert engine.policy._leaps == [[0.1, 0.0], [-0.1, 0.0], [0.3, 0.0]] and engine.policy._far_leaps == [[0.3, 0.0]]


def test_two_leaps_are_enough_and_only_the_call_s_last_are_kept():
    two = taps([0.3, 0.6, 0.3])
    echoed = echoing().respond(two, 5.0, np.random.default_rng(4))
    assert echoes(echoed, two).all() and len(stroke_leaps(echoed)) > 3
    engine = echoing()
    long_call = taps(np.resize([0.2, 0.4, 0.8], 100))
    engine.hear_call(long_call)
    np.testing.assert_array_equal(engine.policy._leaps, stroke_leaps(long_call)[-64:])


def test_only_a_pause_may_start_a_stroke_where_the_last_ended():
    call = taps([0.5] * 6)  # taps on one spot: leaps of length 0, only after a pause
    response = echoing().respond(call, 5.0, np.random.default_rng(3))
    moves = np.hypot(*np.diff(response[:, :2], axis=0).T)
    paused = response[1:, 2] > STROKE_GAP_S
    assert paused.any() and np.all(moves[paused] < 1e-9)  # every pause lands on the spot it left
    jumped = ~paused & (moves > 0.1)
    assert jumped.any()  # a stroke started without a pause keeps the model's own jump: no leap fits it


def test_some_new_strokes_echo_at_a_chance_below_one():
    call = taps([0.5 - LEAP / 2, 0.5 + LEAP / 2] * 4)

    def echoed_share(echo):
        return np.mean(np.concatenate([echoes(echoing(echo).respond(call, 5.0, np.random.default_rng(seed)), call)
                                       for seed in range(6)]))

    assert echoed_share(1.0) == 1.0
    assert 0.25 < echoed_share(0.5) < 0.85
    assert echoed_share(0.0) == 0.0


def test_echoed_leaps_keep_off_the_rim_and_the_screen_edge():
    call = taps([0.5, 0.94, 0.5, 0.94])  # leaps of 0.44: from the middle they land on a 0.1 rim
    for seed in range(4):
        plain = echoing().respond(call, 5.0, np.random.default_rng(seed))
        assert any(not within(x, y, 0.1) for x, y, _ in plain)  # without a rim the leaps reach it
        rimmed = echoing(rim=0.1, rim_keep=0.0).respond(call, 5.0, np.random.default_rng(seed))
        inside = [within(x, y, 0.1) for x, y, _ in rimmed]
        assert sum(was and not now for was, now in zip(inside, inside[1:])) <= 1  # only where 16 draws miss
    wide = taps([0.1, 0.9, 0.1, 0.9])  # leaps of 0.8: most land off the screen, and are not taken
    response = echoing().respond(wide, 5.0, np.random.default_rng(5))
    assert all(0.0 <= x <= 1.0 for x, _, _ in response)
    assert len(stroke_leaps(response))


def test_without_an_echo_or_leaps_to_echo_the_draws_are_as_before():
    call = synthetic_corpus(1, seed=3)[0]
    plain = echoing(echo=0.0).respond(call, 3.0, np.random.default_rng(9))
    np.testing.assert_array_equal(echoing(echo=1.0).respond(call[:1], 3.0, np.random.default_rng(9))[:1],
                                  echoing(echo=0.0).respond(call[:1], 3.0, np.random.default_rng(9))[:1])
    one_leap = taps([0.3, 0.6])
    np.testing.assert_array_equal(echoing(echo=1.0).respond(one_leap, 3.0, np.random.default_rng(9)),
                                  echoing(echo=0.0).respond(one_leap, 3.0, np.random.default_rng(9)))
    assert not np.array_equal(echoing(echo=1.0).respond(call, 3.0, np.random.default_rng(9)), plain)


def test_an_engine_that_heard_no_call_draws_as_without_an_echo():
    call = taps([0.35, 0.65] * 4)
    draws = []
    for echo in (1.0, 0.0):
        engine = echoing(echo)
        engine.condition(call)  # heard, but not as a call to answer (hear_call)
        rng = np.random.default_rng(6)
        draws.append([engine.draw(rng) for _ in range(30)])
    assert draws[0] == draws[1]


def test_a_call_with_bad_rows_still_lends_its_good_leaps():
    call = taps([0.35, 0.65] * 3)
    call[2, 0] = np.nan
    engine = echoing()
    engine.hear_call(call)
    assert sorted(map(tuple, np.round(engine.policy._leaps, 6))) == sorted(map(tuple, np.round(stroke_leaps(
        call[np.isfinite(call).all(axis=1)]), 6)))


# ---- the live session -------------------------------------------------------------------------

def live_response(session: Session, start: float, call: np.ndarray) -> np.ndarray:
    """Play a call into a session at its own timing, ask for a response and collect its touches."""
    now = start
    for x, y, dt in call:
        now += dt
        session.touch(x, y, 0.5, now=now)
    session.respond(now + 0.5)
    touches = []
    for tick in np.arange(now + 0.5, now + 4.0, 0.002):
        touches += [(o.x, o.y, o.deadline) for o in session.due(float(tick)) if o.kind == "touch"]
        session.prepare(float(tick))
    rows = np.array(touches)
    return np.column_stack([rows[:, :2], np.diff(rows[:, 2], prepend=rows[0, 2])])


def test_a_live_response_echoes_the_call_it_answers():
    session = Session(echoing(), Settings(seconds=3.0), np.random.default_rng(0))
    first = taps([0.5 - LEAP / 2, 0.5 + LEAP / 2] * 4)
    response = live_response(session, 0.0, first)
    assert len(stroke_leaps(response)) > 5 and echoes(response, first, 1e-6).all()
    second = taps([0.5, 0.5, 0.6, 0.6, 0.5], y=0.3)  # leaps of 0 and 0.1 this time: only after a pause
    response = live_response(session, 10.0, second)
    paused = echoes(response, second)
    assert paused.any() and not echoes(response, first).all()
    session.reset(20.0)
    assert session.engine.policy._leaps == []


# ---- the commands -----------------------------------------------------------------------------

def test_echo_as_a_command_option(tmp_path):
    folder = save_model(random_model(encoding="heading", seed=4), tmp_path / "m")
    result = CliRunner().invoke(main, ["tune", str(folder), "--echo", "0.5"])
    assert result.exit_code == 0 and "echo 0.5" in result.output
    assert json.loads((folder / "model.json").read_text())["temperatures"]["echo"] == 0.5
    assert CliRunner().invoke(main, ["tune", str(folder), "--echo", "2"]).exit_code == 2
    call = taps([0.35, 0.65] * 4)
    write_csv(Performance.from_xy_dt(call), tmp_path / "call.csv")

    def respond(name, *options):
        out = tmp_path / name
        result = CliRunner().invoke(main, ["respond", str(tmp_path / "call.csv"), "-o", str(out), "--model",
                                           str(folder), "--seed", "1", *map(str, options)])
        assert result.exit_code == 0, result.output
        return read_csv(out).xy_dt()

    assert echoes(respond("echoed.csv", "--echo", 1), call, 1e-5).all()
    assert not echoes(respond("plain.csv", "--echo", 0), call, 1e-5).all()

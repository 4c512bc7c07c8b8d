"""The curl knob's lean (#24): within a stroke, each touch is chosen among draws of the model's with odds
that grow as it turns the call's way round (below 0: as it goes straight)."""

import numpy as np
import pytest

from robojam.core.encoding import RawEncoding
from robojam.core.engine import Engine
from robojam.core.features import describe, way_round
from robojam.core.modelfile import load_model
from robojam.core.policy import TouchPolicy
from robojam.core.steering import CURL_TILT_PER_UNIT, curl_tilt
from robojam.core.temperatures import Temperatures
from scripted import FixedChance, ScriptedSampler

RIGHT = (0.5, 0.5, 0.01, 0.0)  # a heading context: at the middle, the last move 0.01 to the right
STEP = 0.02  # seconds: a touch this soon and this near carries the stroke on


def circle(turns: float, way: float, gap: float = 0.02, n: int = 60) -> np.ndarray:
    """A circle drawn ``turns`` times round, from +x towards +y for ``way`` +1 (clockwise on a screen, y down)."""
    angles = way * np.linspace(0.0, 2 * np.pi * turns, n)
    return np.column_stack([0.5 + 0.2 * np.cos(angles), 0.5 + 0.2 * np.sin(angles), np.full(n, gap)])


def test_way_round_says_which_way_a_performance_curls():
    assert way_round(circle(1.5, +1.0)) == 1.0 and way_round(circle(1.5, -1.0)) == -1.0
    line = np.column_stack([np.linspace(0.1, 0.9, 20), np.full(20, 0.5), np.full(20, STEP)])
    assert way_round(line) == 1.0 and way_round(np.empty((0, 3))) == 1.0
    # a small turn one way, then a pause and a whole circle the other: the circle's way
    assert way_round(np.vstack([circle(0.2, +1.0), circle(1.0, -1.0)[:1] * [1, 1, 0] + [0, 0, 1.0],
                                circle(1.0, -1.0)[1:]])) == -1.0
    # turns are counted within strokes only: taps round a circle (pauses between) turn no way
    assert way_round(circle(1.0, -1.0, gap=0.5)) == 1.0


def pick(draws, chance, tilt, prev=RIGHT, call=None, x_tilt=0.0) -> tuple:
    """The touch (x, y, dt) a policy with curl lean ``tilt`` picks among ``draws`` (raw encoding)."""
    policy = TouchPolicy(ScriptedSampler(draws), RawEncoding(), Temperatures())
    if call is not None:
        policy.hear_call(call)
    policy.curl_tilt, policy.x_tilt = tilt, x_tilt
    return tuple(policy.target(FixedChance(chance), prev, 1.0, 1.0))


STRAIGHT, LEFT_45, RIGHT_45, LEFT_90 = (0.51, 0.5, STEP), (0.51, 0.51, STEP), (0.51, 0.49, STEP), (0.5, 0.51, STEP)


def test_a_curl_lean_picks_turns_the_calls_way_round_with_their_odds():
    draws = [STRAIGHT, LEFT_45, RIGHT_45, LEFT_90]
    # odds exp(tilt * turn): at tilt 2 / (pi / 4), 1, e^2, e^-2, e^4 (of about 63)
    tilt = 2 / (np.pi / 4)
    assert [pick(draws, c, tilt) for c in (0.01, 0.05, 0.2, 0.99)] == [STRAIGHT, LEFT_45, LEFT_90, LEFT_90]
    assert pick(draws, 0.99, 1000.0) == LEFT_90  # the most turned towards +y: the way round of no call
    assert pick(draws, 0.5, 1000.0, call=circle(1.5, -1.0)) == RIGHT_45  # a call the other way round: turns its way
    assert pick(draws, 0.5, 1000.0, call=circle(1.5, +1.0)) == LEFT_90


def test_the_turn_is_measured_from_the_last_move_whichever_way_it_went():
    up = (0.5, 0.5, 0.0, 0.01)  # the last move along +y: the same turn from +x towards +y now points to -x
    draws = [(0.5, 0.51, STEP), (0.51, 0.5, STEP), (0.49, 0.5, STEP), (0.49, 0.51, STEP)]
    assert pick(draws, 0.99, 1000.0, prev=up) == (0.49, 0.5, STEP)
    assert pick(draws, 0.99, -1000.0, prev=up) == (0.5, 0.51, STEP)
    diagonal = (0.5, 0.5, 0.01, 0.01)
    assert pick(draws, 0.99, 1000.0, prev=diagonal) == (0.49, 0.5, STEP)  # 135 degrees on from the diagonal
    # the least turned: 45 degrees, either way round, with even odds
    assert [pick(draws, c, -1000.0, prev=diagonal) for c in (0.1, 0.9)] == [(0.5, 0.51, STEP), (0.51, 0.5, STEP)]


def test_a_gentle_curl_still_counts_the_turns_way_round():
    # tilt 1: odds e^(-pi/4), e^(pi/2), 1, 1 (of 7.27); counted either way round they would be 2.19, 4.81, 1, 1
    assert pick([RIGHT_45, LEFT_90, STRAIGHT, STRAIGHT], 0.07, 1.0) == LEFT_90
    assert pick([RIGHT_45, LEFT_90, STRAIGHT, STRAIGHT], 0.07, -1.0) == RIGHT_45  # below 0: its size either way


def test_below_zero_the_lean_picks_the_straightest_either_way():
    assert pick([LEFT_45, RIGHT_45, STRAIGHT, LEFT_90], 0.99, -1000.0) == STRAIGHT
    assert pick([LEFT_90, LEFT_45, RIGHT_45, LEFT_90], 0.99, -1000.0, call=circle(1.5, -1.0)) == RIGHT_45
    assert pick([LEFT_90, LEFT_45, RIGHT_45, LEFT_90], 0.01, -1000.0) == LEFT_45  # 45 degrees either way alike


def test_the_lean_never_changes_whether_a_stroke_ends():
    pause, leap = (0.51, 0.5, 0.5), (0.9, 0.9, STEP)
    # the first draw carries the stroke on: a draw that would end it is never picked, however it turns
    assert {pick([STRAIGHT, pause, leap, RIGHT_45], c, -1000.0) for c in (0.0, 0.5, 0.99)} == {STRAIGHT}
    assert {pick([RIGHT_45, pause, leap, LEFT_90], c, 1000.0) for c in (0.0, 0.5, 0.99)} == {LEFT_90}
    # the first ends it: one of those that end it, with even odds, whatever the others turn
    draws = [pause, LEFT_90, STRAIGHT, leap]
    assert [pick(draws, c, 1000.0) for c in (0.1, 0.45, 0.55, 0.99)] == [pause, pause, leap, leap]


def test_without_the_last_move_there_is_no_curl_lean():
    pause = (0.51, 0.5, 0.5)
    draws = [RIGHT_45, STRAIGHT, LEFT_90, pause]  # even odds: a chance of 0.1 picks the first, 0.99 the last
    assert pick(draws, 0.1, 1000.0, prev=(0.5, 0.5)) == RIGHT_45  # the raw and delta encodings' context
    assert pick(draws, 0.99, 1000.0, prev=(0.5, 0.5, 0.0, 0.0)) == pause  # a first touch: no move yet
    assert pick(draws, 0.1, 0.0) == RIGHT_45
    # another lean without curl's: a draw that ends the stroke may be picked
    assert pick([STRAIGHT, (0.9, 0.5, STEP), LEFT_90, RIGHT_45], 0.5, 0.0, x_tilt=1000.0) == (0.9, 0.5, STEP)


def test_the_curl_knob_sets_the_lean_and_the_lean_turns_the_shipped_models_strokes():
    assert curl_tilt({"curl": -1.5}) == pytest.approx(-1.5 * CURL_TILT_PER_UNIT) and curl_tilt({}) == 0.0
    model = load_model(None)
    engine = Engine(model)
    engine.set_sampling_knobs({"curl": 2.0})
    assert engine.policy.curl_tilt == pytest.approx(2 * CURL_TILT_PER_UNIT)
    engine.set_sampling_knobs({})
    assert engine.policy.curl_tilt == 0.0
    call = circle(2.0, -1.0, n=120)

    def turning(tilt):  # the lean alone: the style input as unsteered
        values = []
        for seed in range(4):
            engine.take_call(call)
            engine.policy.curl_tilt = tilt
            values.append(describe(engine.answer(4.0, np.random.default_rng(seed)))["turning"])
        return float(np.mean(values))
    straight, plain, curled = turning(-2.0), turning(0.0), turning(2.0)
    assert straight < 0.8 * plain and curled > 1.2 * plain

"""Knobs a player understands (#24, robojam.core.steering): respond --steer and eval --steer."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from robojam import RobojamError
from robojam.cli import main
from robojam.core.engine import Engine
from robojam.core.modelfile import load_model
from robojam.core.performance import read_csv
from robojam.core.steering import (CONTRAST, GAP_TILT_PER_UNIT, KNOBS, MOVERS, SPREADS_PER_UNIT, check_steer,
                                   extra_gap_tilt, parse_steer, steered)
from robojam.core.style import CLIP
from scripted import FixedChance, ScriptedSampler
from synthetic import random_model, synthetic_performance

CALL = str(Path(__file__).resolve().parents[1] / "examples" / "call.csv")


@pytest.fixture(scope="module")
def shipped():
    return load_model(None)  # the shipped model


def call_touches():
    return synthetic_performance(np.random.default_rng(3), strokes=6)


@pytest.mark.parametrize("knob", KNOBS)
def test_a_knob_at_zero_gives_exactly_the_unsteered_response(shipped, knob):
    plain = Engine(shipped).respond(call_touches(), 3.0, np.random.default_rng(5))
    steered_response = Engine(shipped).respond(call_touches(), 3.0, np.random.default_rng(5), steer={knob: 0.0})
    assert np.array_equal(plain, steered_response)


def test_a_knob_moves_the_features_it_pulls_by_its_spreads_and_no_others(shipped):
    features = shipped.style.features
    vector = [0.1] * len(features)
    moved = np.array(steered(features, vector, {"size": 0.5}, CLIP)) - 0.1
    pulled = {features.index(f): w for f, w in KNOBS["size"].pulls.items() if f in features}
    assert pulled and all(moved[i] == pytest.approx(0.5 * SPREADS_PER_UNIT * w) for i, w in pulled.items())
    assert np.count_nonzero(moved) == len(pulled)
    assert max(steered(features, [3.9] * len(features), {"curl": 2.0}, CLIP)) == CLIP  # never past the clip
    assert steered(features, vector, {}, CLIP) is vector
    every = {name: 1.0 for name in MOVERS}
    assert all(feature in features or feature == "curl" for name in every for feature in KNOBS[name].pulls)


def test_contrast_turns_the_calls_style_around(shipped):
    features = shipped.style.features
    vector = list(np.linspace(-1, 1, len(features)))
    assert steered(features, vector, {CONTRAST: 1.0}, CLIP) == pytest.approx([-v for v in vector])
    assert steered(features, vector, {CONTRAST: 0.5}, CLIP) == pytest.approx([0.0] * len(features))


def test_register_leans_each_touch_left_or_right_in_any_model():
    """register picks among LEAN_CANDIDATES draws of each touch with odds exp(tilt * its move right)."""
    from robojam.core.policy import LEAN_CANDIDATES
    from robojam.core.steering import SIZE_TILT_PER_UNIT, X_TILT_PER_UNIT, x_tilt

    assert x_tilt({"register": -1.5}) == pytest.approx(-1.5 * X_TILT_PER_UNIT) and x_tilt({}) == 0.0
    engine = Engine(random_model(units=8))  # no style input: register works by drawing alone
    call = call_touches()
    mean_x = {v: np.mean([engine.respond(call, 3.0, np.random.default_rng(seed), steer={"register": v})[:, 0].mean()
                          for seed in range(8)]) for v in (-2.0, 0.0, 2.0)}
    assert mean_x[-2.0] + 0.1 < mean_x[0.0] < mean_x[2.0] - 0.1
    engine.set_sampling_knobs({"register": 1.0, "size": -0.5})
    assert (engine.policy.x_tilt, engine.policy.size_tilt) == (X_TILT_PER_UNIT, -0.5 * SIZE_TILT_PER_UNIT)
    plain = Engine(random_model(units=8))  # each touch costs LEAN_CANDIDATES draws, no more
    drawn = {}
    for name, e, steer in (("plain", plain, {}), ("leaning", Engine(random_model(units=8)), {"register": 1.0})):
        calls = []
        original = e.policy._drawn
        e.policy._drawn = lambda *args, original=original, calls=calls: calls.append(1) or original(*args)
        drawn[name] = (len(e.respond(call, 2.0, np.random.default_rng(0), steer=steer)), len(calls))
    touches, draws = drawn["leaning"]  # every touch, and the one past the end, is drawn
    assert draws == LEAN_CANDIDATES * (touches + 1) and drawn["plain"][1] == drawn["plain"][0] + 1


def test_size_leans_each_touch_towards_longer_moves_or_shorter_in_any_model():
    engine, call = Engine(random_model(units=8)), call_touches()

    def moves(v):
        steps = [np.hypot(*np.diff(engine.respond(call, 3.0, np.random.default_rng(seed), steer={"size": v})[:, :2],
                                   axis=0).T) for seed in range(8)]
        return float(np.median(np.concatenate(steps)))
    small, plain, large = moves(-2.0), moves(0.0), moves(2.0)
    assert small < 0.7 * plain and plain < large


def test_density_tilts_the_choice_of_gesture_as_a_model_with_more_gap_tilt_would(shipped):
    assert extra_gap_tilt(0.1, {"density": 1.5}) == pytest.approx(-1.5 * GAP_TILT_PER_UNIT)
    assert extra_gap_tilt(0.1, {"density": -2.0}) == pytest.approx(2 * GAP_TILT_PER_UNIT)
    assert extra_gap_tilt(0.9, {"density": -2.0}) == pytest.approx(0.1)  # within the gap tilt's limits
    assert extra_gap_tilt(0.1, None) == 0.0
    more = replace(shipped, temperatures=replace(shipped.temperatures, gap_tilt=0.1 - 1.5 * GAP_TILT_PER_UNIT))
    steered_engine, folded = Engine(shipped), Engine(more)
    steered_engine.set_sampling_knobs({"density": 1.5})
    for engine in (steered_engine, folded):
        engine.condition(call_touches())
    sampler = steered_engine.policy.sampler
    tilted = sampler._logits + np.float32(sampler.tilt) * sampler._gaps
    assert np.allclose(tilted, folded.policy.sampler._logits, atol=1e-4)
    assert not np.allclose(sampler._logits, folded.policy.sampler._logits, atol=1e-2)
    call = read_csv(CALL).xy_dt()
    sparse, busy = (sum(len(Engine(shipped).respond(call, 5.0, np.random.default_rng(seed), steer={"density": d}))
                        for seed in range(8)) for d in (-1.5, 1.5))
    assert busy > 1.5 * sparse  # 1765 touches against 922 (with the echo, until 2026-12-07: 3x)


@pytest.mark.parametrize("steer, words", [
    ({"loudness": 1.0}, "no knob called 'loudness'; the knobs are density"),
    ({"density": 2.5}, "density takes a number from -2 to 2, not 2.5"),
    ({"curl": float("nan")}, "curl takes a number from -2 to 2, not nan"),
    ({"size": True}, "size takes a number"),
    ({CONTRAST: -0.1}, "contrast takes a number from 0 to 1"),
    ({"x" * 5000: 1.0}, "(5,002 characters)"),
])
def test_a_wrong_knob_is_a_clear_short_error(steer, words):
    with pytest.raises(RobojamError, match=None) as refused:
        check_steer(steer)
    assert words in str(refused.value) and len(str(refused.value)) < 200


def test_steer_settings_are_read_from_name_equals_value():
    assert parse_steer(["density=1.5", "curl = -1", "density=0.5"]) == {"density": 0.5, "curl": -1.0}
    for wrong, words in [("density", "NAME=VALUE"), ("density=loud", "'loud' is not a number")]:
        with pytest.raises(RobojamError, match=words):
            parse_steer([wrong])


def test_a_model_without_a_style_input_says_it_cannot_be_steered():
    engine = Engine(random_model(units=8))
    engine.respond(call_touches(), 1.0, np.random.default_rng(0), steer={"curl": 0.0, "density": 1.0})
    with pytest.raises(RobojamError, match=r"^this model has no style input for the knobs but density, register "
                                           r"and size to steer: train it with --style$"):
        engine.respond(call_touches(), 1.0, np.random.default_rng(0), steer={"curl": 1.0})


def test_respond_steer_on_the_command_line(tmp_path):
    runner = CliRunner()
    out = {}
    for name, steer in [("plain", []), ("zero", ["--steer", "energy=0"]), ("fast", ["--steer", "energy=1.5"])]:
        result = runner.invoke(main, ["respond", CALL, "-o", str(tmp_path / f"{name}.csv"), "--seed", "4", *steer])
        assert result.exit_code == 0, result.output
        out[name] = (tmp_path / f"{name}.csv").read_text()
    assert out["plain"] == out["zero"] != out["fast"]
    refused = runner.invoke(main, ["respond", CALL, "-o", str(tmp_path / "x.csv"), "--steer", "energy=9"])
    assert refused.exit_code != 0 and "energy takes a number from -2 to 2, not 9.0" in refused.output


def test_eval_steer_reports_each_knob(tmp_path):
    rng = np.random.default_rng(0)
    items = np.empty(12, dtype=object)
    items[:] = [synthetic_performance(rng, strokes=10).astype(np.float32) for _ in range(12)]
    np.savez(tmp_path / "corpus.npz", items)
    result = CliRunner().invoke(main, ["eval", str(tmp_path / "corpus.npz"), "--steer", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report["knobs"]) == set(MOVERS) and report["calls"] >= 10
    energy = report["knobs"]["energy"]
    assert energy["effect"] > 1.2 and energy["right_way"] >= 0.7  # the shipped model: faster when asked
    assert energy["median_low"] < energy["median_unsteered"] < energy["median_high"]
    louder = energy["velocity"]  # energy is louder too: the notes' MIDI velocity
    assert louder["effect"] > 10 and louder["right_way"] >= 0.8
    assert louder["median_low"] < louder["median_unsteered"] < louder["median_high"]
    for side in ("robojam", "people"):
        low, high = report["velocity_spread"][side]
        assert 40 <= low < high <= 120
    assert 0 <= report[CONTRAST]["farther"] <= 1
    text = CliRunner().invoke(main, ["eval", str(tmp_path / "corpus.npz"), "--steer", "--drafts", "2"])
    assert text.exit_code == 0 and "right way" in text.output and "note velocity" in text.output
    both = CliRunner().invoke(main, ["eval", str(tmp_path / "corpus.npz"), "--steer", "--yardstick"])
    assert both.exit_code != 0 and "choose one of" in both.output


def lean_pick(xs, chance, x_tilt=0.0, size_tilt=0.0) -> float:
    """The x of the touch a leaning policy picks among draws at ``xs`` (y 0.5), from (0.5, 0.5)."""
    from robojam.core.encoding import RawEncoding
    from robojam.core.policy import TouchPolicy
    from robojam.core.temperatures import Temperatures

    policy = TouchPolicy(ScriptedSampler([(x, 0.5, 0.02) for x in xs]), RawEncoding(), Temperatures())
    policy.x_tilt, policy.size_tilt = x_tilt, size_tilt
    return policy.target(FixedChance(chance), (0.5, 0.5), 1.0, 1.0)[0]


def test_a_lean_picks_each_draw_with_its_odds():
    xs, doubling = [0.3, 0.5, 0.6, 0.8], np.log(2) / 0.1  # odds 1/4, 1, 2, 8 (of 11.25) for moves -0.2 to +0.3
    assert [lean_pick(xs, c, x_tilt=doubling) for c in (0.01, 0.1, 0.2, 0.5, 0.99)] == [0.3, 0.5, 0.6, 0.8, 0.8]
    assert [lean_pick(xs, c, x_tilt=-doubling) for c in (0.01, 0.7, 0.72, 0.99)] == [0.3, 0.3, 0.5, 0.8]
    # size: odds 2 to the move's length over 0.1, either way round: 0.2 and 0.3 long beat 0 and 0.1
    assert [lean_pick(xs, c, size_tilt=doubling) for c in (0.2, 0.3, 0.5)] == [0.3, 0.5, 0.8]
    assert lean_pick(xs, 0.999, x_tilt=doubling) == 0.8 and lean_pick(xs, 1.0, x_tilt=doubling) == 0.8  # in range


def test_a_strong_lean_never_picks_a_draw_whose_odds_vanish():
    xs = [0.3, 0.5, 0.6, 0.8]
    assert lean_pick(xs, 0.0, x_tilt=5000.0) == 0.8  # exp(-2500) is 0: the first draw cannot be chosen
    assert lean_pick([0.8, 0.8, 0.3, 0.3], 0.25, x_tilt=1333.0) == 0.8  # scores near 400: no overflow to inf


def test_contrast_turns_the_calls_style_around_in_the_draw_time_levers_too():
    from robojam.core.steering import CONTRAST_FLOOR, CONTRAST_LEVERS, contrasted

    features = ("mean_x", "spread_x", "spread_y", "touch_rate", "pause_share")
    call_style = [0.5, 0.2, -0.2, 0.3, -0.1]  # right of the average, average spread, busy
    levers = contrasted({"contrast": 1.0, "density": 0.5}, features, call_style)
    assert levers["register"] == pytest.approx(-0.5 * CONTRAST_LEVERS)
    # stroke_length is not among the features: the mean of two, 0; the average is turned below it, by the floor
    assert levers["size"] == pytest.approx(-CONTRAST_FLOOR)
    # busy by 0.2 spreads: three times that is under the floor, which it moves instead
    assert CONTRAST_LEVERS * (0.3 + 0.1) / 2 < CONTRAST_FLOOR
    assert levers["density"] == pytest.approx(0.5 - CONTRAST_FLOOR)
    sparse = contrasted({"contrast": 1.0}, features, [0.0, 0.0, 0.0, -0.5, 0.5])  # a sparse call: answered busier
    assert sparse["density"] == pytest.approx(0.5 * CONTRAST_LEVERS)
    assert contrasted({"contrast": 0.5}, features, call_style)["register"] == pytest.approx(-0.25 * CONTRAST_LEVERS)
    assert contrasted({"contrast": 0.5}, features, [0.1, 0, 0, 0, 0])["register"] == pytest.approx(
        -0.5 * CONTRAST_FLOOR)  # the floor scales with the contrast
    assert contrasted({"contrast": 1.0}, features, [-0.1, 0, 0, 0, 0])["register"] == pytest.approx(CONTRAST_FLOOR)
    assert contrasted({"contrast": 1.0}, features, [9.0, 0, 0, 0, 0])["register"] == -2.0  # within range
    assert contrasted({"contrast": 0.0, "size": 1.0}, features, call_style) == {"contrast": 0.0, "size": 1.0}
    assert contrasted({"contrast": 0.5}, (), [])["contrast"] == 0.5 and "register" not in contrasted(
        {"contrast": 0.5}, (), [])


def test_contrast_leans_the_draw_away_from_the_calls_height():
    from robojam.core.steering import CONTRAST_FLOOR, CONTRAST_LEVERS, X_TILT_PER_UNIT, contrast_height, y_tilt

    features = ("mean_x", "mean_y")
    assert contrast_height({"contrast": 1.0}, features, [0.0, 0.5]) == pytest.approx(-0.5 * CONTRAST_LEVERS)
    assert contrast_height({"contrast": 1.0}, features, [0.0, -0.1]) == pytest.approx(CONTRAST_FLOOR)
    assert contrast_height({"contrast": 0.5}, features, [0.0, -0.5]) == pytest.approx(0.25 * CONTRAST_LEVERS)
    assert contrast_height({"contrast": 1.0}, features, [0.0, 9.0]) == -2.0  # within register's range
    assert contrast_height({"contrast": 1.0}, features, [0.0, -9.0]) == 2.0
    assert contrast_height({"contrast": 0.0, "size": 1.0}, features, [0.0, 0.5]) == 0.0
    assert contrast_height({"contrast": 1.0}, ("mean_x",), [0.5]) == 0.0  # a style input without the height
    assert y_tilt(-1.5) == pytest.approx(-1.5 * X_TILT_PER_UNIT)


def test_a_height_lean_picks_draws_down_the_screen_with_their_odds():
    from robojam.core.encoding import RawEncoding
    from robojam.core.policy import TouchPolicy
    from robojam.core.temperatures import Temperatures

    ys, doubling = [0.3, 0.5, 0.6, 0.8], np.log(2) / 0.1  # odds 1/4, 1, 2, 8 (of 11.25) for moves -0.2 to +0.3

    def pick(chance, tilt):
        policy = TouchPolicy(ScriptedSampler([(0.5, y, 0.02) for y in ys]), RawEncoding(), Temperatures())
        policy.y_tilt = tilt
        return policy.target(FixedChance(chance), (0.5, 0.5), 1.0, 1.0)[1]
    assert [pick(c, doubling) for c in (0.01, 0.1, 0.2, 0.5, 0.99)] == [0.3, 0.5, 0.6, 0.8, 0.8]
    assert [pick(c, -doubling) for c in (0.01, 0.7, 0.72, 0.99)] == [0.3, 0.3, 0.5, 0.8]
    assert pick(0.5, 0.0) == 0.3  # no lean: the first draw, as drawn


def test_contrast_leans_the_answer_away_from_where_the_call_played(shipped):
    from robojam.core.steering import X_TILT_PER_UNIT

    call = np.column_stack([np.linspace(0.8, 0.95, 40), np.linspace(0.3, 0.6, 40), np.full(40, 0.03)])
    engine = Engine(shipped)
    engine.take_call(call, {"contrast": 1.0})
    assert engine.policy.x_tilt < -0.5 * X_TILT_PER_UNIT  # the call kept right: the answer leans left
    assert engine.policy.y_tilt != 0.0
    engine.take_call(call, {"contrast": 0.0})
    assert engine.policy.x_tilt == 0.0 and engine.policy.y_tilt == 0.0
    mean_x = {c: np.mean([Engine(shipped).respond(call, 4.0, np.random.default_rng(seed),
                                                   steer={"contrast": c})[:, 0].mean() for seed in range(6)])
              for c in (0.0, 1.0)}
    assert mean_x[1.0] < mean_x[0.0] - 0.05

"""robojam eval --realism: the features, the pairs, the classifier test, following, and the command."""

import json
import sys
import warnings

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from robojam import RobojamError
from robojam.cli import main
from robojam.core.drafts import DEFAULT_DRAFTS
from robojam.core.modelfile import load_model
from robojam.train.judges import FEATURES_TEST, kfold_auc
from robojam.train.realism import (FEATURES, MIN_PAIRS, SHAPE_FEATURES, STYLE_FEATURES, answered_pairs, describe,
                                   feature_matrix, following, following_report, make_pairs, realism_report)
from synthetic import corpus_file, long_corpus

pytestmark = pytest.mark.usefixtures("quick_judges")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HZ = 60


def line(n=50, start=(0.1, 0.5), step=(0.01, 0.0)):
    """A straight drag at constant speed: n touches at 60 Hz."""
    xy = np.asarray(start) + np.outer(np.arange(n), step)
    return np.column_stack([xy, np.r_[0.0, np.full(n - 1, 1 / HZ)]])


def taps(n=12):
    """One-touch strokes, half a second apart, each far from the last."""
    rng = np.random.default_rng(1)
    xy = np.column_stack([np.where(np.arange(n) % 2, 0.2, 0.8), rng.uniform(0.2, 0.8, n)])
    return np.column_stack([xy, np.r_[0.0, np.full(n - 1, 0.5)]])


# ---- features ---------------------------------------------------------------------------------

def test_a_straight_line_at_constant_speed():
    f = describe(line())
    assert f["turning"] == pytest.approx(0, abs=1e-9) and f["curl"] == pytest.approx(0, abs=1e-9)
    assert f["straight_share"] == 1.0
    assert f["tap_share"] == 0.0 and f["stroke_touches"] == 50
    assert f["touch_rate"] == pytest.approx(HZ)
    assert f["speed"] == pytest.approx(0.01 * HZ)
    assert f["step_length"] == pytest.approx(0.01) and f["step_cv"] == pytest.approx(0, abs=1e-9)
    assert f["stroke_length"] == pytest.approx(0.49)
    assert f["pause_share"] == 0.0 and f["spread_y"] == 0.0 and f["mean_y"] == pytest.approx(0.5)


def test_a_zigzag_turns_and_is_not_straight():
    xy = np.column_stack([np.linspace(0.2, 0.8, 40), 0.5 + 0.01 * (np.arange(40) % 2)])
    f = describe(np.column_stack([xy, np.r_[0.0, np.full(39, 1 / HZ)]]))
    assert f["turning"] > 1.0 and f["straight_share"] == 0.0
    assert f["dy_autocorr"] == pytest.approx(-1.0)
    assert f["curl"] < 0.05 * f["turning"] * 38  # its 38 turns alternate: they cancel


def test_an_arc_curls_by_its_whole_turn_and_two_strokes_each_count():
    angles = np.linspace(0, 3, 31)
    arc = np.column_stack([0.5 + 0.3 * np.cos(angles), 0.5 + 0.3 * np.sin(angles)])
    one_way = np.column_stack([arc, np.r_[0.0, np.full(30, 1 / HZ)]])
    f = describe(one_way)
    assert f["curl"] == pytest.approx(2.9) and f["turning"] == pytest.approx(0.1)  # 29 turns of 0.1 rad
    other_way = np.column_stack([arc[::-1], np.r_[1.0, np.full(30, 1 / HZ)]])  # the same arc, back
    both = describe(np.vstack([one_way, other_way]))  # a pause between: two strokes turning opposite ways
    assert both["curl"] == pytest.approx(2.9) and both["turning"] == pytest.approx(0.1)


def test_taps():
    f = describe(taps())
    assert f["tap_share"] == 1.0 and f["stroke_touches"] == 1
    assert f["stroke_length"] == 0.0 and f["step_length"] == 0.0 and f["turning"] == 0.0
    assert f["pause_share"] == 1.0 and f["pause_median"] == pytest.approx(0.5)
    assert f["strokes_per_s"] == pytest.approx(12 / 5.5)


def test_edge_share_counts_touches_on_the_border():
    touches = np.array([[0.0, 0.5, 0], [1.0, 0.5, 0.5], [0.5, 0.99, 0.5], [0.5, 0.5, 0.5],
                        [0.3, 0.7, 0.5], [0.5, 0.03, 0.5], [1.4, 0.5, 0.5], [0.5, -0.2, 0.5]])
    # the last two are off the screen: cleaned (clipped) onto its edge, as everything robojam reads is
    assert describe(touches)["edge_share"] == pytest.approx(5 / 8)
    assert describe(line())["edge_share"] == 0.0


@pytest.mark.parametrize("touches", [
    np.zeros((0, 3)), np.array([[0.5, 0.5, 0.0]]), np.full((30, 3), 0.5), np.zeros((30, 3)),
    np.array([[np.nan, 0.2, 0.0], [np.inf, 0.1, 0.1], [0.5, 0.5, 0.0]]), np.array([[2.0, -1.0, 1e9]] * 5),
], ids=["empty", "one", "still", "zero-time", "nan", "off-screen"])
def test_features_are_finite_for_any_input(touches):
    f = describe(touches)
    assert list(f) == list(FEATURES)
    assert all(np.isfinite(v) for v in f.values()), f


@settings(max_examples=300, deadline=None)
@given(hnp.arrays(np.float64, st.tuples(st.integers(0, 12), st.just(3)),
                  elements=st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                                     st.floats(-1e-300, 1e-300), st.sampled_from([5e-324, 1e-320, 1e308]))))
def test_no_input_makes_numpy_warn(touches):
    """Subnormal gaps and huge numbers (#25): a warning from here reaches the stage console."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f = describe(touches)
    assert all(np.isfinite(v) for v in f.values()), f


@pytest.mark.filterwarnings("error")
def test_gaps_under_a_microsecond_count_as_none():
    moving = np.column_stack([np.linspace(0.1, 0.9, 40), np.full(40, 0.5), np.full(40, 1e-320)])
    assert describe(moving)["touch_rate"] == describe(moving)["speed"] == 0.0
    moving[:, 2] = 1e-6
    assert describe(moving)["touch_rate"] == pytest.approx(1e6)


def test_feature_set():
    assert len(FEATURES) == len(set(FEATURES)) >= 20
    assert len(STYLE_FEATURES) == 13 and set(STYLE_FEATURES) <= set(FEATURES)
    assert feature_matrix([line(), taps()]).shape == (2, len(FEATURES))
    assert feature_matrix([]).shape == (0, len(FEATURES))


# ---- pairs ------------------------------------------------------------------------------------

def test_pairs_are_halves_by_time():
    slow_then_fast = np.vstack([line(20)[:, :2], line(60, start=(0.1, 0.2))[:, :2]])
    dt = np.r_[0.0, np.full(19, 0.1), np.full(60, 1 / 30)]  # 1.9 s of 20 touches, then 2 s of 60
    performance = np.column_stack([slow_then_fast, dt])
    [pair] = make_pairs([performance, line(39), line(50)])  # 39 touches: too few; line(50): under 2 s
    times = np.cumsum(dt)
    assert len(pair.call) == int((times <= times[-1] / 2).sum()) and len(pair.call) + len(pair.human) == 80
    assert pair.human[0, 2] == 0.0 and pair.human[1:, 2].sum() == pytest.approx(times[-1] - times[len(pair.call)])


def test_responses_last_as_long_as_the_continuation(tiny_model):
    answered = answered_pairs(tiny_model, long_corpus(12), "all", seed=1)
    assert answered.pairs
    for pair in answered.pairs:
        assert pair.robojam is not None and len(pair.robojam)
        assert pair.robojam[1:, 2].sum() <= pair.human[1:, 2].sum() + 1e-9


# ---- the tests --------------------------------------------------------------------------------

def test_the_features_judge_cannot_tell_one_generator_from_itself():
    same = [kfold_auc(FEATURES_TEST, long_corpus(40, seed=2 * seed), long_corpus(40, seed=2 * seed + 1), seed)
            for seed in range(3)]
    assert 0.3 < np.mean(same) < 0.7, same


def test_the_features_judge_tells_drags_from_taps():
    tapping = [taps(int(n)) for n in np.random.default_rng(2).integers(10, 40, 20)]
    assert kfold_auc(FEATURES_TEST, long_corpus(20), tapping) > 0.95


def test_following_is_high_when_responses_copy_the_call():
    calls = feature_matrix(long_corpus(30, seed=3))
    noise = np.random.default_rng(4).normal(0, 1e-3, calls.shape)
    copied = following_report(calls, feature_matrix(long_corpus(30, seed=5)), calls + noise)
    assert copied["mean"] > 0.9
    assert abs(copied["human_mean"]) < 0.4  # unrelated performances do not follow


def test_following_skips_a_constant_feature_and_says_so():
    calls = feature_matrix(long_corpus(12))
    answers = calls.copy()
    answers[:, FEATURES.index("mean_x")] = 0.5
    assert following(calls, answers)["mean_x"] is None
    report = following_report(calls, calls, answers)
    assert set(report["skipped"]["robojam"]) == set(report["skipped"]["human"]) | {"mean_x"}
    assert report["per_feature"]["mean_x"] == {"robojam": None, "human": 1.0}
    assert report["mean"] == pytest.approx(1.0)


def test_shape_following_averages_the_shape_and_space_features_alone():
    calls = feature_matrix(long_corpus(30, seed=3))
    answers = calls.copy()
    shapes = [FEATURES.index(name) for name in SHAPE_FEATURES]
    answers[:, shapes] = -answers[:, shapes]  # shapes answered the other way round, the rest copied
    report = following_report(calls, calls, answers)
    assert report["shape_mean"] == pytest.approx(-1.0) and report["human_shape_mean"] == pytest.approx(1.0)
    assert report["skipped"]["robojam"] == ["tap_share"]  # made-up drags never tap
    assert report["mean"] == pytest.approx((12 - 2 * (len(SHAPE_FEATURES) - 1)) / 12, abs=1e-4)


def test_the_report_is_reproducible_and_seeded(tiny_model):
    performances = long_corpus(12)
    first = realism_report(tiny_model, performances, seed=3)
    assert realism_report(tiny_model, performances, seed=3) == first
    assert realism_report(tiny_model, performances, seed=4) != first
    assert 0 <= first["realism_auc"] <= 1 and np.isfinite(first["nll_per_event"])


def test_too_few_pairs_is_a_clear_error(tiny_model):
    with pytest.raises(RobojamError, match=f"at least {MIN_PAIRS}"):
        realism_report(tiny_model, long_corpus(MIN_PAIRS - 1) + [line(30)])


def test_without_scikit_learn_it_names_the_extra(tiny_model, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.ensemble", None)
    with pytest.raises(RobojamError) as error:
        realism_report(tiny_model, long_corpus(12))
    assert str(error.value) == 'robojam eval --realism needs scikit-learn: pip install "robojam[eval]"'


# ---- the command ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def corpus_npz(tmp_path_factory):
    return corpus_file(tmp_path_factory.mktemp("realism") / "corpus.npz", long_corpus(14))


def run(*args):
    return CliRunner().invoke(main, ["eval", *map(str, args)])


def test_eval_realism_json_has_every_key(corpus_npz):
    result = run(corpus_npz, "--realism", "--json", "--seed", 2, "--temp", 0.9)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert {"pairs", "realism_auc", "control_auc", "giveaways", "ks", "following", "edge_share",
            "nll_per_event", "settings", "tests", "control", "sanity", "grid", "judge", "copies"} <= set(report)
    assert set(report["tests"]) == {"features", "featureless"}
    assert report["realism_auc"] == max(test["kfold"] for test in report["tests"].values())
    assert report["judge"] == {"learned_from": [], "pairs": 0}
    assert {"shape_mean", "human_shape_mean"} <= set(report["following"])
    assert set(report["copies"]["call"]) == {"robojam", "human"} and "corpus" not in report["copies"]
    assert set(report["copies"]["call_leaps"]) == {"robojam", "human"}
    assert report["pairs"] == 14
    assert sorted(name for name, _ in report["giveaways"]) == sorted(FEATURES)
    importances = [importance for _, importance in report["giveaways"]]
    assert importances == sorted(importances, reverse=True) and sum(importances) == pytest.approx(1, abs=0.01)
    assert set(report["ks"]) == set(FEATURES) and all(0 <= d <= 1 for d in report["ks"].values())
    assert {"mean", "human_mean", "per_feature"} <= set(report["following"])
    assert set(report["following"]["per_feature"]) == set(STYLE_FEATURES)
    assert set(report["edge_share"]) == {"robojam", "human", "ratio"}
    own = load_model().temperatures  # the shipped model's
    assert report["settings"] == {"temp": 0.9, "sigma_temp": 1.0, "shape_temp": own.shape,
                                  "rhythm_temp": own.rhythm, "gap_tilt": own.gap_tilt, "rim": own.rim,
                                  "rim_keep": own.rim_keep, "echo": own.echo, "seed": 2,
                                  "split": "all", "drafts": DEFAULT_DRAFTS}
    plain = json.loads(run(corpus_npz, "--json").output)
    assert report["nll_per_event"] == pytest.approx(plain["nll_per_event"], abs=1e-4)


def test_eval_realism_report_and_plot(corpus_npz, tmp_path):
    picture = tmp_path / "realism.png"
    result = run(corpus_npz, "--realism", "--plot", picture)
    assert result.exit_code == 0, result.output
    for words in ("realism AUC", "featureless", "control AUC", "sanity AUC", "following", "shape", "copied runs",
                  "copied leaps",
                  "grid", "judge", "edge share", "nats/event", "importance"):
        assert words in result.output
    assert picture.read_bytes()[:8] == PNG_MAGIC


def test_eval_realism_errors_are_one_line(corpus_npz, tmp_path):
    few = corpus_file(tmp_path / "few.npz", long_corpus(3))
    result = run(few, "--realism")
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "at least 10" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert run(corpus_npz, "--plot", tmp_path / "x.png").exit_code == 2  # --plot needs --realism
    assert run(corpus_npz, "--realism", "--plot", tmp_path / "x.nope").exit_code == 1


def test_eval_steer_realism_judges_each_knobs_ends(corpus_npz):
    """eval --steer --realism (#24): the realism AUC of record, unsteered and at each knob's ends."""
    # two candidates a phrase, not the default eight: drafted all the same, in a quarter of the time
    result = CliRunner().invoke(main, ["eval", str(corpus_npz), "--steer", "--realism", "--json", "--seed", "2",
                                       "--drafts", "2"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    realism = report["realism"]
    plain = json.loads(run(corpus_npz, "--realism", "--json", "--seed", 2, "--drafts", 2).stdout)
    assert realism["unsteered"] == plain["realism_auc"]  # a knob at 0 is the unsteered report, exactly
    assert set(realism["knobs"]) == {"density", "energy", "register", "size", "curl", "contrast"}
    for figures in realism["knobs"].values():
        ends = [v for k, v in figures.items() if k != "rise"]
        assert all(0 <= v <= 1 for v in ends)
        assert figures["rise"] == pytest.approx(max(ends) - realism["unsteered"], abs=1e-4)
    assert len({f["low"] for f in realism["knobs"].values() if "low" in f} | {realism["unsteered"]}) > 1
    assert "realism 12/12: contrast +1" in result.stderr
    from robojam.train.steering_report import format_steer_report
    text = format_steer_report(report)
    assert f"realism AUC (all split; 0.5: people and robojam alike): unsteered {realism['unsteered']:.3f}" in text

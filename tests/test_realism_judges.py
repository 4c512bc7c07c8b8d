"""The realism report's grid, its two judges (held out and k-fold), the sanity row and the copy shares."""

import numpy as np
import pytest

from robojam.core.corpus import split_of
from robojam.train import copies, grid, judges
from robojam.train.judges import FEATURELESS_TEST, FEATURES_TEST, RUN, held_out_auc, kfold_auc, run_rows
from robojam.train.realism import SANITY_TARGET, realism_report, shuffled_steps
from test_echo import taps
from test_realism import HZ, line, long_corpus

pytestmark = pytest.mark.usefixtures("quick_judges")


def smooth(rng, n=80):
    """A finger drawing arcs: steady steps that turn a little at a time."""
    heading = np.cumsum(rng.normal(0, 0.05, n)) + rng.uniform(0, 2 * np.pi)
    xy = 0.5 + np.cumsum(0.01 * np.column_stack([np.cos(heading), np.sin(heading)]), axis=0) * 0.5
    return np.column_stack([np.clip(xy, 0, 1), np.r_[0.0, np.full(n - 1, 1 / HZ)]])


def wobbly(rng, n=80):
    """The same speed and gaps, each step's heading drawn afresh."""
    heading = rng.uniform(0, 2 * np.pi, n)
    xy = 0.5 + np.cumsum(0.01 * np.column_stack([np.cos(heading), np.sin(heading)]), axis=0) * 0.5
    return np.column_stack([np.clip(xy, 0, 1), np.r_[0.0, np.full(n - 1, 1 / HZ)]])


def many(maker, count, seed):
    rng = np.random.default_rng(seed)
    return [maker(rng) for _ in range(count)]


# ---- the grid ---------------------------------------------------------------------------------

def test_a_performance_on_a_canvas_grid_shows_that_grid():
    rng = np.random.default_rng(0)
    on_686 = np.column_stack([rng.integers(1, 686, (50, 2)) / 686, rng.uniform(0, 0.1, 50)])
    assert grid.grid_points(np.round(on_686, 6).astype(np.float32)) == 686  # as the corpus stores it
    assert grid.grid_points(rng.uniform(0, 1, (50, 3)).astype(np.float32)) is None
    assert grid.grid_points(on_686[:5]) is None  # too few coordinates to tell


def test_the_chosen_grid_is_the_most_common_and_snapping_puts_both_sides_on_it():
    rng = np.random.default_rng(1)

    def on(points):
        return np.column_stack([rng.integers(1, points, (40, 2)) / points, rng.uniform(0, 0.1, 40)])

    assert grid.chosen_points([on(600), on(1000), on(1000), rng.uniform(0, 1, (40, 3))]) == 1000
    assert grid.chosen_points([on(600), on(1000)]) == 600  # a tie: the coarser
    assert grid.chosen_points([rng.uniform(0, 1, (40, 3))]) == grid.DEFAULT_POINTS
    snapped = grid.snap(np.array([[0.12345, 0.9999, 0.0166666666], [0.5, 0.5, 1.2345678]]), 600)
    assert np.allclose(snapped[:, :2] * 600, np.round(snapped[:, :2] * 600))
    assert snapped[0, 0] == pytest.approx(74 / 600) and snapped[0, 1] == 1.0
    assert snapped[:, 2] == pytest.approx([0.016667, 1.234568], abs=1e-12)


# ---- the featureless judge's rows -------------------------------------------------------------

WIDTH = 5 * RUN - 4
GAPS, LENGTHS, TURNS = 2 * RUN, 3 * RUN - 1, 4 * RUN - 2  # where each part of a row starts


def test_runs_hold_start_steps_log_gaps_and_turns():
    touches = line(40)
    rows = run_rows(touches)
    assert rows.shape == (1 + (40 - RUN) // judges.HOP, WIDTH)
    assert rows[1, :2] == pytest.approx(touches[judges.HOP, :2])
    assert rows[0, 2:4] == pytest.approx([0.01, 0.0])
    assert rows[0, GAPS:LENGTHS] == pytest.approx(np.log(1 / HZ))
    assert rows[0, LENGTHS:TURNS] == pytest.approx(np.log(0.01))
    assert rows[0, TURNS:] == pytest.approx(0.0)
    corner = np.array([[0.1, 0.1, 0], [0.2, 0.1, 0.1], [0.2, 0.2, 0.1], [0.1, 0.2, 0.1], [0.1, 0.2, 0.1]])
    turns = run_rows(corner)[0, TURNS:TURNS + 3]
    assert turns[:2] == pytest.approx([np.pi / 2, np.pi / 2])
    assert np.isnan(turns[2])  # no turn beside a step that does not move


def test_a_short_performance_is_one_run_padded_with_missing_values():
    rows = run_rows(np.array([[0.1, 0.1, 0.0], [0.2, 0.1, 0.0], [0.3, 0.1, 5.0]]))
    assert rows.shape == (1, WIDTH)
    assert rows[0, 2:6] == pytest.approx([0.1, 0, 0.1, 0])
    assert rows[0, GAPS] == np.log(judges.MIN_GAP) and rows[0, GAPS + 1] == pytest.approx(np.log(5))
    assert np.isnan(rows[0, 6:GAPS]).all() and np.isnan(rows[0, GAPS + 2:LENGTHS]).all()


# ---- the judges -------------------------------------------------------------------------------

def test_the_featureless_judge_sees_wobble_that_no_summary_names():
    assert kfold_auc(FEATURELESS_TEST, many(smooth, 30, 0), many(wobbly, 30, 1)) > 0.95


def test_neither_judge_tells_a_generator_from_itself():
    for judge in (FEATURES_TEST, FEATURELESS_TEST):
        same = [kfold_auc(judge, many(smooth, 30, 2 * s), many(smooth, 30, 2 * s + 1), s) for s in range(3)]
        assert 0.3 < np.mean(same) < 0.7, (judge.name, same)


def test_a_held_out_judge_knows_only_what_it_learned():
    rng = np.random.default_rng(3)
    # learned: responses are wobbly; scored: responses differ only by where they sit
    learn = (many(smooth, 30, 4), many(wobbly, 30, 5))
    shifted = [np.column_stack([p[:, :2] * 0.3 + 0.6, p[:, 2]]) for p in many(smooth, 30, 6)]
    scored = ([np.column_stack([p[:, :2] * 0.3, p[:, 2]]) for p in many(smooth, 30, 7)], shifted)
    assert kfold_auc(FEATURELESS_TEST, *scored) > 0.95
    assert 0.3 < held_out_auc(FEATURELESS_TEST, learn, scored) < 0.7
    assert held_out_auc(FEATURELESS_TEST, learn, (many(smooth, 20, 8), many(wobbly, 20, 9))) > 0.95
    del rng


def test_a_performance_scores_the_mean_of_its_runs():
    short, long_ = many(lambda r: smooth(r, 20), 10, 0), many(lambda r: wobbly(r, 400), 10, 1)
    fitted = judges.fit(FEATURELESS_TEST, short, long_)
    assert len(run_rows(long_[0])) > 20 * len(run_rows(short[0]))
    scores = judges.scores(fitted, FEATURELESS_TEST, short + long_)
    assert scores.shape == (20,) and (scores[:10] < 0.5).all() and (scores[10:] > 0.5).all()
    assert scores[-1] == pytest.approx(fitted.predict_proba(run_rows(long_[-1]))[:, 1].mean())


# ---- the sanity sampler -----------------------------------------------------------------------

def test_shuffled_steps_keep_the_first_touch_and_the_steps_in_another_order():
    touches = smooth(np.random.default_rng(0), 60)
    wrong = shuffled_steps(touches, np.random.default_rng(1))
    assert wrong.shape == touches.shape and wrong[0] == pytest.approx(touches[0])
    assert sorted(wrong[1:, 2]) == pytest.approx(sorted(touches[1:, 2]))
    steps, wrong_steps = np.diff(touches[:, :2], axis=0), np.diff(wrong[:, :2], axis=0)
    assert sorted(map(tuple, np.round(wrong_steps, 9))) == sorted(map(tuple, np.round(steps, 9)))
    assert not np.allclose(wrong_steps, steps)
    edge = np.array([[0.99, 0.5, 0], [1.0, 0.5, 0.1], [0.9, 0.5, 0.1]])
    assert shuffled_steps(edge, np.random.default_rng(0))[:, :2].max() <= 1.0


# ---- copies -----------------------------------------------------------------------------------

def test_a_response_that_plays_the_call_again_elsewhere_is_all_copy():
    call = smooth(np.random.default_rng(0), 40)
    moved = np.column_stack([call[:, :2] - 0.2, call[:, 2]])
    other = smooth(np.random.default_rng(1), 40)
    source = [copies.step_runs(call, 600)]
    assert copies.copied_share([moved], source, 600) == 1.0
    assert copies.copied_share([other], source, 600) == 0.0
    half = np.vstack([other[:20], moved[20:]])
    assert 0.3 < copies.copied_share([half], source, 600) < 0.7


def test_runs_that_never_move_are_not_copies():
    still = np.column_stack([np.full((30, 2), 0.5), np.full(30, 0.1)])
    assert copies.copied_share([still], [copies.step_runs(still, 600)], 600) is None
    assert copies.step_runs(line(5), 600) == set()  # shorter than a run
    assert copies.corpus_runs([line(20), line(20, start=(0.3, 0.3))], 600) == copies.step_runs(line(20), 600)


def test_leaps_that_repeat_the_calls_either_way_round_are_copies():
    call = taps([0.2, 0.5, 0.8])
    assert copies.grid_leaps(call, 600).tolist() == [[180, 0], [180, 0]]
    echoed = taps([0.6, 0.3, 0.6, 0.3], y=0.2)  # elsewhere, the call's leaps taken either way round
    own = taps([0.3, 0.4, 0.6, 0.55], y=0.4)
    assert copies.leap_copied_share([echoed], [call], 600) == 1.0
    assert copies.leap_copied_share([own], [call], 600) == 0.0
    assert copies.leap_copied_share([echoed, own], [call, call], 600) == 0.5
    near, far = taps([0.1, 0.4 + 1 / 600]), taps([0.1, 0.4 + 3 / 600])
    assert copies.leap_copied_share([near, far], [call, call], 600) == 0.5  # snapping rounds a copy by a point
    assert copies.leap_copied_share([line(30)], [call], 600) is None  # one stroke: no leap
    assert copies.leap_copied_share([echoed], [line(30)], 600) == 0.0  # a call without leaps gives none to copy


# ---- the report with a held-out judge ---------------------------------------------------------

@pytest.fixture(scope="module")
def split_corpus():
    """Enough made performances for a test split of at least 10 pairs."""
    performances = long_corpus(150, seed=7)
    assert sum(split_of(p) == "test" for p in performances) >= 10
    return performances


def test_the_test_split_is_judged_by_what_learned_from_train_and_val(tiny_model, split_corpus):
    report = realism_report(tiny_model, split_corpus, split="test", seed=1)
    learned = sum(split_of(p) != "test" for p in split_corpus)
    assert report["judge"] == {"learned_from": ["train", "val"], "pairs": learned}
    assert report["pairs"] == sum(split_of(p) == "test" for p in split_corpus)
    for test in report["tests"].values():
        assert set(test) == {"held_out", "kfold"}
    assert report["realism_auc"] == max(test["held_out"] for test in report["tests"].values())
    assert set(report["copies"]) == {"run_touches", "call", "corpus", "call_leaps"}
    assert report["sanity"]["target"] == SANITY_TARGET
    assert report["sanity"]["auc"] == max(t["held_out"] for t in report["sanity"]["tests"].values())
    assert report["sanity"]["caught"] == (report["sanity"]["auc"] >= SANITY_TARGET)
    assert report["sanity"]["auc"] > 0.9  # steps in random order are plain to see
    val = realism_report(tiny_model, split_corpus, split="val", seed=1)
    assert val["judge"]["learned_from"] == ["train"]

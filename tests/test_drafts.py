"""Drafts and their selector: the trees in numpy, the selector file, choosing among drafts, its surfaces."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, strategies as st

from robojam import RobojamError
from robojam.cli import main
from robojam.core.drafts import MAX_DRAFTS, PHRASE, check_drafts, parse_drafts, respond_with_drafts
from robojam.core.engine import Engine
from robojam.core.modelfile import load_model, save_model
from robojam.core.selector import SELECTOR_FILE, averaged, load_selector, save_selector, selector_from_arrays
from robojam.core.touch_runs import HOP, ROW_WIDTH, RUN, run_rows, snap
from robojam.train.selector import exported, learn_selector
from synthetic import corpus_file, long_corpus, random_model, synthetic_performance

CALL = np.array([[0.2, 0.3, 0.0], [0.25, 0.32, 0.02], [0.3, 0.35, 0.02], [0.6, 0.6, 0.4], [0.62, 0.6, 0.02]])


def stump(column: int, threshold: float, points: int = 600, lean: float = 2.0):
    """A one-split selector: a row whose ``column`` is at or under ``threshold`` scores low (human-like)."""
    return selector_from_arrays({
        "feature": np.array([column, 0, 0]), "threshold": np.array([threshold, 0.0, 0.0]),
        "missing_left": np.array([False, False, False]), "left": np.array([1, 0, 0]), "right": np.array([2, 0, 0]),
        "leaf": np.array([False, True, True]), "value": np.array([0.0, -lean, lean]),
        "roots": np.array([0]), "baseline": np.float64(0.0), "points": np.int64(points)})


def ladder(columns: list[int], thresholds: np.ndarray, points: int = 600):
    """A selector of one stump a column and threshold, each a small step: its score moves with every value
    it reads (the last of a run's gaps, say), so that two runs seldom score alike."""
    pairs = [(column, threshold) for column in columns for threshold in thresholds]
    count = len(pairs)
    return selector_from_arrays({
        "feature": np.array([c for c, _ in pairs] + [0] * 2 * count),
        "threshold": np.array([t for _, t in pairs] + [0.0] * 2 * count),
        "missing_left": np.zeros(3 * count, dtype=bool),
        "left": np.concatenate([np.arange(count, 2 * count), np.zeros(2 * count, dtype=int)]),
        "right": np.concatenate([np.arange(2 * count, 3 * count), np.zeros(2 * count, dtype=int)]),
        "leaf": np.arange(3 * count) >= count,
        "value": np.concatenate([np.zeros(count), np.full(count, -0.3), np.full(count, 0.3)]),
        "roots": np.arange(count), "baseline": np.float64(0.0), "points": np.int64(points)})


LAST_GAP = ROW_WIDTH - 2 * RUN + 2  # a run's last gap: after it, its steps' lengths (RUN - 1) and turns (RUN - 2)


def fitted_classifier(seed=0):
    from sklearn.ensemble import HistGradientBoostingClassifier
    rng = np.random.default_rng(seed)
    rows = rng.normal(size=(1500, ROW_WIDTH))
    rows[rng.random(rows.shape) < 0.1] = np.nan  # missing values take each node's own way
    labels = (np.nan_to_num(rows[:, 3]) + rows[:, 7] ** 2 > 0.5).astype(int)
    return HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(rows, labels), rows


# ---- the trees ----------------------------------------------------------------------------------

def test_exported_trees_give_scikit_learns_chances():
    classifier, rows = fitted_classifier()
    selector = exported(classifier, 600)
    assert np.allclose(selector.chances(rows), classifier.predict_proba(rows)[:, 1], rtol=0, atol=1e-12)
    assert len(selector.roots) == 30 and selector.depth >= 2


def test_a_score_is_the_mean_chance_of_an_answers_snapped_runs():
    classifier, _ = fitted_classifier(1)
    selector = exported(classifier, 600)
    answers = [synthetic_performance(np.random.default_rng(seed), strokes=4) for seed in range(3)]
    expected = [classifier.predict_proba(run_rows(snap(answer, 600)))[:, 1].mean() for answer in answers]
    assert np.allclose(selector.scores(answers), expected, rtol=0, atol=1e-12)


def test_a_stump_sends_values_at_its_threshold_left_and_missing_values_its_own_way():
    rows = np.zeros((3, ROW_WIDTH))
    rows[:, 4] = [0.5, 0.50001, np.nan]
    chances = stump(4, 0.5).chances(rows)
    assert chances[0] == pytest.approx(1 / (1 + np.exp(2))) and chances[1] == pytest.approx(1 / (1 + np.exp(-2)))
    assert chances[2] == chances[1]  # missing_left is False: NaN goes right


# ---- the file -----------------------------------------------------------------------------------

def test_a_selector_round_trips_through_its_file_and_a_model_folder(tmp_path):
    classifier, rows = fitted_classifier()
    selector = exported(classifier, 686)
    model = random_model()
    save_model(model, tmp_path)
    assert load_model(tmp_path).selector is None
    save_selector(selector, tmp_path)
    loaded = load_model(tmp_path).selector
    assert loaded.points == 686 and np.array_equal(loaded.chances(rows), selector.chances(rows))
    save_model(model, tmp_path)  # new weights without a selector: the stale one goes
    assert not (tmp_path / SELECTOR_FILE).exists()


def test_the_shipped_model_has_a_selector():
    selector = load_model().selector
    assert selector is not None and len(selector.roots) > 10 and selector.points == 600


def hostile(tmp_path, **changes):
    arrays = {"feature": np.array([3, 0, 0]), "threshold": np.array([0.5, 0.0, 0.0]),
              "missing_left": np.array([True, False, False]), "left": np.array([1, 0, 0]),
              "right": np.array([2, 0, 0]), "leaf": np.array([False, True, True]),
              "value": np.array([0.0, -1.0, 1.0]), "roots": np.array([0]), "baseline": np.float64(0.1),
              "points": np.int64(600)}
    np.savez(tmp_path / SELECTOR_FILE, **{**arrays, **changes})
    return tmp_path


@pytest.mark.parametrize("changes, message", [
    ({"left": np.array([1, 5, 0])}, "left must lie from 0 to 2"),
    ({"feature": np.array([ROW_WIDTH, 0, 0])}, f"feature must lie from 0 to {ROW_WIDTH - 1}"),
    ({"leaf": np.array([False, False, True]), "left": np.array([1, 0, 0])}, "does not reach its leaves"),
    ({"threshold": np.array([np.nan, 0.0, 0.0])}, "threshold must be real numbers"),
    ({"value": np.array([0.0, np.inf, 1.0])}, "value must be finite"),
    ({"leaf": np.array([0, 1, 1])}, "leaf must be true/false flags"),
    ({"right": np.array([2.0, 0, 0])}, "right must be a list of whole numbers"),
    ({"roots": np.array([3])}, "roots must lie from 0 to 2"),
    ({"points": np.int64(1)}, "points must be a whole number"),
    ({"baseline": np.array([0.1, 0.2])}, "baseline must be one finite number"),
    ({"value": np.array([0.0, 1.0])}, "value must hold one value a node"),
])
def test_a_damaged_or_hostile_selector_is_refused_naming_the_file(tmp_path, changes, message):
    folder = hostile(tmp_path, **changes)
    with pytest.raises(RobojamError, match=message) as error:
        load_selector(folder)
    assert SELECTOR_FILE in str(error.value)


def test_a_well_formed_hand_made_selector_loads_and_a_missing_member_is_named(tmp_path):
    assert load_selector(hostile(tmp_path)).depth == 1
    np.savez(tmp_path / SELECTOR_FILE, feature=np.array([0]))
    with pytest.raises(RobojamError, match="no 'threshold'"):
        load_selector(tmp_path)
    (tmp_path / SELECTOR_FILE).write_bytes(b"not a zip")
    with pytest.raises(RobojamError, match="not a .npz archive"):
        load_selector(tmp_path)


# ---- choosing -------------------------------------------------------------------------------------

def test_one_draft_or_no_selector_is_exactly_a_plain_response():
    model = random_model()
    plain = Engine(model).respond(CALL, 3.0, np.random.default_rng(5))
    for selector, drafts in ((stump(0, 0.5), 1), (None, 8)):
        chosen = respond_with_drafts(Engine(model), selector, CALL, 3.0, np.random.default_rng(5), drafts)
        assert np.array_equal(chosen, plain)


def test_a_turned_knob_is_one_draw_and_a_knob_at_zero_is_drafted():
    model, selector = random_model(style=True), stump(0, 0.5, lean=-3.0)
    steered = Engine(model).respond(CALL, 3.0, np.random.default_rng(5), steer={"size": 1.0})
    chosen = respond_with_drafts(Engine(model), selector, CALL, 3.0, np.random.default_rng(5), 8, steer={"size": 1.0})
    assert np.array_equal(chosen, steered)
    at_zero = respond_with_drafts(Engine(model), selector, CALL, 3.0, np.random.default_rng(5), 8, steer={"size": 0})
    assert np.array_equal(at_zero, respond_with_drafts(Engine(model), selector, CALL, 3.0, np.random.default_rng(5), 8))
    assert not np.array_equal(at_zero, Engine(model).respond(CALL, 3.0, np.random.default_rng(5)))


def runs_ending_in(kept: list, touches: list) -> list[np.ndarray]:
    """Every RUN touches of the answer ending on every HOP-th of a candidate's touches (back from its last),
    or on the answer's last touch if it has none."""
    played = kept + touches
    ends = range(len(played), len(played) - len(touches), -HOP) if touches else [len(played)]
    return [np.array(played[max(0, end - RUN):end]) for end in ends]


def phrase_by_phrase(model, selector, seconds: float, rng, count: int) -> np.ndarray:
    """An answer to CALL drafted as drafts.py says, written out plainly: each phrase, ``count`` candidates
    from the answer so far, the one whose runs score lowest kept."""
    engine, kept, elapsed, ended = Engine(model), [], 0.0, False
    engine.take_call(CALL)
    while not ended:
        start, candidates = engine.snapshot(), []
        for _ in range(count):
            touches, spent, stop = [], 0.0, False
            while len(touches) < PHRASE and not stop:
                x, y, dt = engine.draw(rng)
                if kept or touches:
                    stop = elapsed + spent + dt > seconds
                    spent += 0.0 if stop else dt
                if not stop:
                    touches.append((x, y, dt))
                    engine.feed(x, y, dt)
            candidates.append((touches, spent, stop, engine.snapshot()))
            engine.restore(start)
        scores = [np.mean(selector.scores(runs_ending_in(kept, touches))) for touches, *_ in candidates]
        touches, spent, ended, state = candidates[int(np.argmin(scores))]
        kept, elapsed = kept + touches, elapsed + spent
        engine.restore(state)
    answer = np.array(kept)
    answer[0, 2] = 0.0
    return answer


@pytest.mark.parametrize("selector, seconds, seed", [
    (stump(0, 0.5, lean=-3.0), 3.0, 11), (stump(0, 0.5, lean=3.0), 3.0, 11),
    (ladder([0, LAST_GAP], np.linspace(-5, 1, 13)), 2.0, 11),
    (ladder([0, LAST_GAP], np.linspace(-5, 1, 13)), 3.0, 12)], ids=["left", "right", "ladder", "ladder-2"])
def test_each_phrase_kept_is_the_candidate_the_selector_scores_lowest(selector, seconds, seed):
    model = random_model()
    expected = phrase_by_phrase(model, selector, seconds, np.random.default_rng(seed), 6)
    chosen = respond_with_drafts(Engine(model), selector, CALL, seconds, np.random.default_rng(seed), 6)
    plain = Engine(model).respond(CALL, seconds, np.random.default_rng(seed))
    assert len(chosen) > PHRASE and not np.array_equal(chosen[:len(plain)], plain[:len(chosen)])
    assert np.array_equal(chosen, expected)
    assert np.sum(chosen[:, 2]) <= seconds


@pytest.mark.parametrize("bad", [0, MAX_DRAFTS + 1, True, 2.0, "3", None])
def test_a_bad_number_of_drafts_is_a_clear_error(bad):
    with pytest.raises(RobojamError, match="drafts must be a whole number"):
        check_drafts(bad)


@pytest.mark.parametrize("texts, expected", [([], 8), (["1"], 1), (["2", " 64 "], 64)])
def test_the_apis_drafts_parameter(texts, expected):
    assert parse_drafts(texts) == expected


@pytest.mark.parametrize("text", ["0", "65", "-1", "1.5", "x", "", "9" * 40])
def test_a_bad_drafts_parameter_is_refused(text):
    with pytest.raises(RobojamError, match="drafts must be a whole number"):
        parse_drafts([text])


# ---- learning one, and the commands -------------------------------------------------------------

def test_a_learned_selector_scores_the_models_plain_answers_above_people(quick_judges):
    from robojam.core.corpus import select_split
    from robojam.train.realism import make_pairs, respond_to_pairs
    performances = long_corpus(60)
    model = random_model()
    selector = learn_selector(model, performances)
    pairs = make_pairs(select_split(performances, "train"))
    respond_to_pairs(model, pairs, np.random.default_rng(3))
    humans, answers = selector.scores([p.human for p in pairs]), selector.scores([p.robojam for p in pairs])
    assert np.mean(answers) > np.mean(humans) + 0.2


def log_odds(chances: np.ndarray) -> np.ndarray:
    return np.log(chances / (1.0 - chances))


def test_an_averaged_selector_reads_the_mean_of_its_parts_log_odds():
    rows = np.random.default_rng(4).normal(0, 0.05, size=(200, ROW_WIDTH))
    parts = [stump(3, 0.0, lean=1.5), ladder([LAST_GAP, 5], np.linspace(-0.1, 0.1, 7)),
             selector_from_arrays({**{name: getattr(stump(7, 0.02), name) for name in
                                      ("feature", "threshold", "missing_left", "left", "right", "leaf", "value",
                                       "roots")}, "baseline": np.float64(0.8), "points": np.int64(600)})]
    for chosen in (parts[:2], parts):
        together = averaged(chosen)
        expected = np.mean([log_odds(part.chances(rows)) for part in chosen], axis=0)
        np.testing.assert_allclose(log_odds(together.chances(rows)), expected, rtol=0, atol=1e-9)
        assert len(together.roots) == sum(len(part.roots) for part in chosen)
    with pytest.raises(RobojamError, match="different grids"):
        averaged([stump(0, 0.5), stump(0, 0.5, points=300)])


def test_a_further_round_learns_from_drafted_answers_and_averages_with_the_selector_before(quick_judges):
    performances = long_corpus(60)
    model = random_model()
    with pytest.raises(RobojamError, match="has none"):
        learn_selector(model, performances, drafts=4)
    model.selector = learn_selector(model, performances)
    further = learn_selector(model, performances, drafts=4)
    assert len(further.roots) == 2 * len(model.selector.roots)

    from robojam.core.corpus import select_split
    from robojam.train import grid
    from robojam.train.judges import FEATURELESS_TEST, fit
    from robojam.train.realism import make_pairs, respond_to_pairs
    from robojam.train.selector import ANSWER_STREAM, FIT_SEED
    pairs = make_pairs(select_split(performances, "train"))  # the round, written out: answers drafted, then fit
    respond_to_pairs(model, pairs, np.random.default_rng([0, ANSWER_STREAM]), drafts=4)
    points = grid.chosen_points([p.human for p in pairs])
    learned = exported(fit(FEATURELESS_TEST, [grid.snap(p.human, points) for p in pairs],
                           [grid.snap(p.robojam, points) for p in pairs], seed=FIT_SEED), points)
    rows = run_rows(snap(long_corpus(1, seed=9)[0], 600))
    np.testing.assert_allclose(further.chances(rows), averaged([model.selector, learned]).chances(rows),
                               rtol=0, atol=1e-12)
    assert not np.allclose(log_odds(learned.chances(rows)), log_odds(model.selector.chances(rows)))


def test_the_selector_command_writes_one_that_respond_and_the_realism_report_use(tmp_path, quick_judges):
    data = corpus_file(tmp_path / "corpus.npz", long_corpus(60))
    save_model(random_model(), tmp_path / "model")
    result = CliRunner().invoke(main, ["selector", str(data), "--model", str(tmp_path / "model")])
    assert result.exit_code == 0, result.output
    assert "trees" in result.output and (tmp_path / "model" / SELECTOR_FILE).exists()
    trees = len(load_selector(tmp_path / "model").roots)
    result = CliRunner().invoke(main, ["selector", str(data), "--model", str(tmp_path / "model"), "--drafts", "3"])
    assert result.exit_code == 0, result.output
    assert len(load_selector(tmp_path / "model").roots) == 2 * trees
    call = tmp_path / "call.csv"
    call.write_text("time,x,y,z,moving\n0.0,0.2,0.3,0.5,0\n0.05,0.3,0.35,0.5,1\n0.1,0.4,0.4,0.5,1\n")
    outputs = []
    for drafts in ("1", "4"):
        out = tmp_path / f"answer{drafts}.csv"
        result = CliRunner().invoke(main, ["respond", str(call), "-o", str(out), "--model", str(tmp_path / "model"),
                                           "--seed", "2", "--drafts", drafts])
        assert result.exit_code == 0, result.output
        outputs.append(out.read_text())
    assert outputs[0] != outputs[1]
    report = CliRunner().invoke(main, ["eval", str(data), "--realism", "--json", "--model", str(tmp_path / "model"),
                                       "--drafts", "3"])
    assert report.exit_code == 0, report.output
    assert json.loads(report.output)["settings"]["drafts"] == 3


def test_respond_refuses_a_bad_number_of_drafts(tmp_path):
    call = tmp_path / "call.csv"
    call.write_text("time,x,y,z,moving\n0.0,0.2,0.3,0.5,0\n")
    result = CliRunner().invoke(main, ["respond", str(call), "-o", str(tmp_path / "o.csv"), "--drafts", "0"])
    assert result.exit_code == 2 and "--drafts" in result.output


# ---- fuzzing the parsers ------------------------------------------------------------------------

small_ints = st.lists(st.integers(-2, 6), min_size=1, max_size=6)


@given(feature=small_ints, left=small_ints, right=small_ints, roots=small_ints,
       leaf=st.lists(st.booleans(), min_size=1, max_size=6),
       threshold=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=6),
       value=st.lists(st.floats(-5, 5), min_size=1, max_size=6), points=st.integers(-5, 70000))
def test_any_node_arrays_give_a_selector_that_ends_or_a_clear_error(feature, left, right, roots, leaf, threshold,
                                                                    value, points):
    arrays = {"feature": np.array(feature), "left": np.array(left), "right": np.array(right),
              "roots": np.array(roots), "leaf": np.array(leaf), "missing_left": np.array(leaf[::-1]),
              "threshold": np.array(threshold, dtype=np.float64), "value": np.array(value, dtype=np.float64),
              "baseline": np.float64(0.0), "points": np.int64(points)}
    try:
        selector = selector_from_arrays(arrays)
    except RobojamError:
        return
    rows = np.random.default_rng(0).normal(size=(4, ROW_WIDTH))
    rows[0] = np.nan
    chances = selector.chances(rows)
    assert chances.shape == (4,) and np.all((chances >= 0) & (chances <= 1))


@given(st.lists(st.text(max_size=8), max_size=3))
def test_any_drafts_parameter_is_a_number_of_drafts_or_a_clear_error(texts):
    try:
        assert 1 <= parse_drafts(texts) <= MAX_DRAFTS
    except RobojamError as error:
        assert "drafts must be a whole number" in str(error)


def test_the_selector_command_without_scikit_learn_names_the_extra(tmp_path, monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "sklearn" else real(name, *a))
    result = CliRunner().invoke(main, ["selector", str(tmp_path), "--model", "default"])
    assert result.exit_code == 1
    assert 'robojam selector needs sklearn, which the light install leaves out: pip install "robojam[eval]"' \
        in result.output


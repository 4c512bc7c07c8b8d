"""A selector that reads the call: every run judged beside its call's features, so that it learns which
answers people give to which calls (``robojam selector --reads-call``)."""

import numpy as np
import pytest
from click.testing import CliRunner
from synthetic import corpus_file, long_corpus, random_model
from test_drafts import CALL, phrase_by_phrase, stump
from test_live_drafts import THRESHOLD, drafted_alone, heard, played, run

from robojam import RobojamError
from robojam.cli import main
from robojam.core.corpus import clean, select_split
from robojam.core.drafts import Drafting, respond_with_drafts
from robojam.core.engine import Engine
from robojam.core.features import FEATURES, feature_matrix
from robojam.core.modelfile import save_model
from robojam.core.selector import averaged, beside, call_context, load_selector, save_selector, selector_from_arrays
from robojam.core.touch_runs import ROW_WIDTH, run_rows, snap
from robojam.live.session import Session, Settings
from robojam.train import grid
from robojam.train.judges import fit_rows
from robojam.train.realism import make_pairs, respond_to_pairs
from robojam.train.selector import ANSWER_STREAM, FIT_SEED, exported, learn_selector

MEAN_Y = ROW_WIDTH + FEATURES.index("mean_y")  # a call column: how low on the screen the call played


def call_turns_the_choice(threshold: float, lean: float = 2.0, x_at: float = 0.5):
    """A selector reading the call: a call whose mean y is at or under ``threshold`` wants runs starting left
    (x at or under ``x_at`` scores low), any other call runs starting right."""
    value = [0.0, 0.0, -lean, lean, 0.0, lean, -lean]
    return selector_from_arrays({
        "feature": np.array([MEAN_Y, 0, 0, 0, 0, 0, 0]), "threshold": np.array([threshold, x_at, 0, 0, x_at, 0, 0]),
        "missing_left": np.zeros(7, dtype=bool), "left": np.array([1, 2, 0, 0, 5, 0, 0]),
        "right": np.array([4, 3, 0, 0, 6, 0, 0]), "leaf": np.array([False, False, True, True, False, True, True]),
        "value": np.array(value), "roots": np.array([0]), "baseline": np.float64(0.0), "points": np.int64(600),
        "context": np.int64(len(FEATURES))})


def test_the_calls_columns_are_its_features_and_a_call_too_short_has_none():
    np.testing.assert_array_equal(call_context(CALL), feature_matrix([clean(CALL)])[0])
    assert np.isnan(call_context(CALL[:1])).all() and len(call_context(CALL[:1])) == len(FEATURES)


def test_drafting_judges_each_candidate_beside_its_own_call():
    model, mean_y = random_model(), call_context(CALL)[FEATURES.index("mean_y")]
    for threshold, lean in ((mean_y + 0.1, 2.0), (mean_y - 0.1, -2.0)):
        chosen = respond_with_drafts(Engine(model), call_turns_the_choice(threshold), CALL, 3.0,
                                     np.random.default_rng(11), 6)
        expected = phrase_by_phrase(model, stump(0, 0.5, lean=lean), 3.0, np.random.default_rng(11), 6)
        np.testing.assert_array_equal(chosen, expected)
    with pytest.raises(RobojamError, match="give the call"):
        Drafting(Engine(model), call_turns_the_choice(0.5), 6, 3.0, np.random.default_rng(1))
    with pytest.raises(RobojamError, match="give the calls"):
        call_turns_the_choice(0.5).scores([CALL])


def test_scores_read_each_answer_beside_its_call():
    selector, answer = call_turns_the_choice(0.5), np.array([[0.2, 0.5, 0.0], [0.25, 0.5, 0.02]] * 4)
    low, high = CALL.copy(), CALL.copy()
    low[:, 1], high[:, 1] = 0.2, 0.8
    left_wanted, right_wanted = selector.scores([answer, answer], calls=[low, high])
    assert left_wanted < 0.5 < right_wanted


def test_its_file_keeps_the_calls_columns_and_a_bad_count_is_refused(tmp_path):
    selector = call_turns_the_choice(0.5)
    save_selector(selector, tmp_path)
    loaded = load_selector(tmp_path)
    assert loaded.context == len(FEATURES) and loaded.width == ROW_WIDTH + len(FEATURES)
    rows = beside(run_rows(snap(long_corpus(1)[0], 600)), call_context(CALL))
    np.testing.assert_array_equal(loaded.chances(rows), selector.chances(rows))
    arrays = dict(np.load(tmp_path / "selector.npz"))
    np.savez(tmp_path / "selector.npz", **{**arrays, "context": np.int64(7)})
    with pytest.raises(RobojamError, match="context must be 0 or"):
        load_selector(tmp_path)
    del arrays["context"]  # a node splitting past a run's columns, in a selector that does not read the call
    np.savez(tmp_path / "selector.npz", **arrays)
    with pytest.raises(RobojamError, match="feature must lie from 0 to"):
        load_selector(tmp_path)
    with pytest.raises(RobojamError, match="cannot be averaged"):
        averaged([selector, stump(0, 0.5)])


def test_learning_one_fits_each_run_beside_its_call_and_a_further_round_reads_it_too(quick_judges):
    performances, model = long_corpus(60), random_model()
    learned = learn_selector(model, performances, reads_call=True)
    assert learned.context == len(FEATURES)

    pairs = make_pairs(select_split(performances, "train"))  # the round, written out
    respond_to_pairs(model, pairs, np.random.default_rng([0, ANSWER_STREAM]))
    points = grid.chosen_points([p.human for p in pairs])
    humans, answers = ([beside(run_rows(grid.snap(getattr(p, side), points)), call_context(p.call)) for p in pairs]
                       for side in ("human", "robojam"))
    expected = exported(fit_rows(np.vstack(humans), np.vstack(answers), FIT_SEED), points, len(FEATURES))
    rows = np.vstack(answers)
    np.testing.assert_allclose(learned.chances(rows), expected.chances(rows), rtol=0, atol=1e-12)
    model.selector = learned
    further = learn_selector(model, performances, drafts=3)
    assert further.context == len(FEATURES) and len(further.roots) == 2 * len(learned.roots)


def test_the_selector_command_reads_the_call_when_asked(tmp_path, quick_judges):
    data = corpus_file(tmp_path / "corpus.npz", long_corpus(60))
    save_model(random_model(), tmp_path / "model")
    result = CliRunner().invoke(main, ["selector", str(data), "--model", str(tmp_path / "model"), "--reads-call"])
    assert result.exit_code == 0, result.output
    assert "reading the call" in result.output and load_selector(tmp_path / "model").context == len(FEATURES)


def test_a_live_session_drafts_in_the_silence_beside_the_call_it_heard():
    model, mean_y = random_model(), call_context(CALL)[FEATURES.index("mean_y")]
    answers = []
    for threshold in (mean_y + 0.1, mean_y - 0.1):
        model.selector = call_turns_the_choice(threshold, x_at=0.7)  # the model's median x
        session = Session(Engine(model), Settings(threshold=THRESHOLD, seconds=2.0), np.random.default_rng(0))
        last = heard(session)
        kept = drafted_alone(session.engine, list(session._call), session.settings, seed=0)
        touches = played(run(session, last, last + THRESHOLD + 3.0))
        assert len(touches) == len(kept) > 1 and np.allclose(touches[:, 1:], kept[:, :2])
        answers.append(touches[:, 1:])
    assert len(answers[0]) != len(answers[1]) or not np.allclose(*answers)

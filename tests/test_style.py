"""The style input: the call's style read beside every touch, in training, the engine and the live session."""

import json

import numpy as np
import pytest

from robojam import RobojamError
from robojam.core.corpus import clean
from robojam.core.engine import Engine
from robojam.core.features import STYLE_FEATURES, describe
from robojam.core.modelfile import load_model, save_model
from robojam.core.style import CLIP, Style, call_part, raw_style, style_from_dict
from robojam.live.session import Session, Settings
from synthetic import random_model, synthetic_corpus, synthetic_performance


def test_call_part_is_the_first_half_by_time():
    touches = np.array([[0.1, 0.1, 0.0], [0.2, 0.2, 1.0], [0.3, 0.3, 1.0], [0.4, 0.4, 1.0], [0.5, 0.5, 1.0]])
    assert call_part(touches).tolist() == touches[:3].tolist()  # times 0, 1, 2 of 4
    assert len(call_part(touches[:1])) == 1
    assert len(call_part(np.array([[0.1, 0.1, 0.0], [0.2, 0.2, 0.0], [0.3, 0.3, 0.0]]))) == 3  # no time passes


def test_raw_style_logs_rates_and_lengths():
    touches = synthetic_performance(np.random.default_rng(1))
    features, raw = describe(touches), raw_style(touches)
    for i, name in enumerate(STYLE_FEATURES):
        expected = np.log(features[name]) if name in ("touch_rate", "strokes_per_s", "stroke_length",
                                                      "step_length", "speed") else features[name]
        assert raw[i] == pytest.approx(expected), name


def test_the_vector_is_standardised_and_clipped():
    corpus = synthetic_corpus(30)
    style = Style.fitted(corpus)
    assert style.dim == len(STYLE_FEATURES)
    calls = np.array([raw_style(call_part(p)) for p in corpus])
    np.testing.assert_allclose(style.mean, calls.mean(axis=0))
    vectors = np.array([style.vector(call_part(p)) for p in corpus])
    np.testing.assert_allclose(vectors, np.clip((calls - calls.mean(axis=0)) / calls.std(axis=0), -CLIP, CLIP))
    assert np.abs(vectors).max() <= CLIP
    far = Style(style.mean, style.std / 1e6)
    assert set(np.abs(far.vector(corpus[0])).round(6)) <= {0.0, CLIP}
    assert style.vector(np.zeros((0, 3))) == [0.0] * style.dim


def test_a_style_round_trips_and_a_bad_one_is_refused():
    style = Style.fitted(synthetic_corpus(10))
    again = style_from_dict(json.loads(json.dumps(style.to_dict())))
    np.testing.assert_array_equal(again.mean, style.mean)
    np.testing.assert_array_equal(again.std, style.std)
    good = style.to_dict()
    for bad, message in [({**good, "features": ["touch_rate"]}, "style.mean must be 1 finite numbers"),
                         ({**good, "features": ["tempo"] + good["features"][1:]}, "unknown style feature 'tempo'"),
                         ({**good, "features": good["features"][:1] * 13}, "named twice"),
                         ({**good, "features": "touch_rate"}, "style features must be a list"),
                         ({**good, "features": []}, "style features must be a list"),
                         ({**good, "mean": good["mean"][:-1]}, "style.mean"),
                         ({**good, "mean": [float("nan")] + good["mean"][1:]}, "style.mean"),
                         ({**good, "std": [True] + good["std"][1:]}, "style.std"),
                         ({**good, "std": [0.0] + good["std"][1:]}, "style.std must be positive"),
                         ("style", "style must be an object")]:
        with pytest.raises(RobojamError, match=message):
            style_from_dict(bad)


def test_a_model_with_a_style_input_saves_and_loads(tmp_path):
    model = random_model(style=True)
    assert model.input_dim == model.encoding.input_dim + len(STYLE_FEATURES)
    assert model.weights["lstm0_kernel"].shape[0] == model.input_dim
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.style.mean, model.style.mean)
    assert "style input" in loaded.describe()
    metadata = json.loads((tmp_path / "m" / "model.json").read_text())
    assert metadata["architecture"]["input_dim"] == model.input_dim
    metadata["style"]["std"][0] = -1.0
    (tmp_path / "m" / "model.json").write_text(json.dumps(metadata))
    with pytest.raises(RobojamError, match="style.std must be positive"):
        load_model(tmp_path / "m")
    del metadata["style"]
    (tmp_path / "m" / "model.json").write_text(json.dumps(metadata))
    with pytest.raises(RobojamError, match="input_dim"):
        load_model(tmp_path / "m")


def _params_after(engine, touches, style=None):
    if style is not None:
        engine.set_style(style)
    engine.reset()
    engine.condition(touches)
    return engine.mixture_params()


def test_the_engine_reads_the_style_beside_every_touch():
    model = random_model(style=True)
    engine = Engine(model)
    touches = synthetic_performance(np.random.default_rng(2))
    plain = _params_after(engine, touches, [0.0] * model.style.dim)
    styled = _params_after(engine, touches, [1.0] * model.style.dim)
    assert not np.allclose(plain, styled)
    assert np.allclose(_params_after(engine, touches), styled)  # a reset keeps the style
    stepped = Engine(model)
    stepped.set_style([1.0] * model.style.dim)
    for x, y, dt in touches:
        stepped.feed(x, y, dt)
    np.testing.assert_allclose(stepped.mixture_params(), styled, atol=1e-5)
    with pytest.raises(ValueError, match="finite numbers"):
        engine.set_style([1.0])
    with pytest.raises(ValueError, match="finite numbers"):
        engine.set_style([float("nan")] * model.style.dim)
    with pytest.raises(ValueError):
        Engine(random_model()).set_style([0.0])


def _respond_by_hand(model, call, style, seconds=1.0):
    engine = Engine(model)
    engine.condition(call)
    rng = np.random.default_rng(0)
    first = engine.draw(rng)
    engine.set_style(style)
    engine.feed(*first)
    return np.vstack([[first[0], first[1], 0.0], engine.generate(seconds, rng)])


def test_respond_hears_the_call_plainly_then_plays_in_its_style():
    model = random_model(style=True, encoding="heading")
    call = clean(synthetic_performance(np.random.default_rng(3)))
    engine = Engine(model)
    engine.set_style([2.0] * model.style.dim)  # a style left from before is not heard in the call
    response = engine.respond(call, 1.0, np.random.default_rng(0))
    np.testing.assert_array_equal(response, _respond_by_hand(model, call, model.style.vector(call)))
    assert not np.array_equal(response, _respond_by_hand(model, call, None))


def test_the_engine_agrees_with_keras_on_a_style_model():
    pytest.importorskip("keras")
    from robojam.train.network import keras_sequence_model

    model = random_model(style=True, units=8)
    touches = clean(synthetic_performance(np.random.default_rng(4)))
    style = model.style.vector(touches)
    inputs = np.hstack([model.encoding.inputs(touches), np.tile(style, (len(touches), 1))])
    expected = np.asarray(keras_sequence_model(model)(inputs[None].astype(np.float32)))[0, -1]
    engine = Engine(model)
    np.testing.assert_allclose(_params_after(engine, touches, style), expected, atol=1e-4)


def test_a_session_plays_in_the_style_of_the_call_and_listens_plainly():
    model = random_model(style=True)
    engine = Engine(model)
    session = Session(engine, Settings(seconds=30.0, threshold=0.2), np.random.default_rng(0))
    before = synthetic_performance(np.random.default_rng(5))
    for i, (x, y, _) in enumerate(before):
        session.touch(x, y, 0.5, now=i / 60)
    session.respond(1.0)
    session.stop(1.1)
    call = synthetic_performance(np.random.default_rng(6))  # the next call: only what came after
    for i, (x, y, _) in enumerate(call):
        session.touch(x, y, 0.5, now=2.0 + i / 60)
    fed = np.array(list(session._heard)[-len(call):])
    plain = engine.snapshot()
    session.respond(3.0)
    assert engine._style == [0.0] * model.style.dim  # the first touch is drawn from the call heard plainly
    session.due(3.0)
    session.prepare(3.0)  # robojam's touches after it are heard in the call's style
    assert engine._style == pytest.approx(model.style.vector(fed))
    np.testing.assert_array_equal(session._heard_state.signals, plain.signals)  # the call was heard plainly
    session.stop(3.1)
    assert engine._style == [0.0] * model.style.dim
    np.testing.assert_array_equal(engine.state.signals, plain.signals)


def test_training_hears_the_first_half_plainly_and_the_second_with_its_style():
    from robojam.core.encoding import HeadingEncoding
    from robojam.train.training import make_windows, style_columns

    performance = clean(synthetic_performance(np.random.default_rng(6)))
    style = Style.fitted(synthetic_corpus(10))
    heard = len(call_part(performance))
    columns = style_columns(performance, style)
    assert 2 <= heard < len(performance) and columns.shape == (len(performance), style.dim)
    np.testing.assert_array_equal(columns[:heard], 0.0)
    expected = np.tile(style.vector(performance[:heard]), (len(performance) - heard, 1))
    np.testing.assert_array_equal(columns[heard:], expected)
    encoding = HeadingEncoding(10.0, -3.5, 1.2)
    inputs, _ = make_windows([performance], encoding, seq_len=len(performance))
    styled, _ = make_windows([performance], encoding, seq_len=len(performance), style=style)
    np.testing.assert_array_equal(styled[..., :encoding.input_dim], inputs)
    np.testing.assert_allclose(styled[0, :len(performance) - 1, encoding.input_dim:], columns[:-1], rtol=1e-6)


def test_scoring_reads_the_style_where_training_does():
    from robojam.train.evaluate import model_event_log_probs
    from robojam.train.training import style_columns

    model = random_model(style=True, encoding="heading")
    performance = clean(synthetic_performance(np.random.default_rng(8)))
    columns = style_columns(performance, model.style)
    engine, params = Engine(model), []
    for row, (x, y, dt) in zip(columns[:-1], performance[:-1]):
        engine.set_style(row)
        engine.feed(x, y, dt)
        params.append(engine.mixture_params())
    from robojam.core.mixture import log_prob
    expected = log_prob(model.encoding.targets(performance)[1:], np.array(params), 3, model.mixtures) \
        + model.encoding.log_jacobian(performance)[1:]
    np.testing.assert_allclose(model_event_log_probs(Engine(model), performance), expected, rtol=1e-9)


def test_train_with_a_style_input_as_a_command(tmp_path):
    from test_cli import robojam_here as robojam
    from test_corpus import raw_corpus_file

    corpus = tmp_path / "corpus.npz"
    raw_corpus_file(corpus, synthetic_corpus(40, seed=4))
    model = tmp_path / "styled"
    result = robojam("train", corpus, "-o", model, "--style", "--units", 8, "--mixtures", 2, "--seq-len", 16,
                     "--epochs", 2, "--seed", 1)
    assert "style input" in result.stdout
    meta = json.loads((model / "model.json").read_text())
    assert meta["architecture"]["input_dim"] == 11 + len(STYLE_FEATURES)
    assert meta["style"]["features"] == list(STYLE_FEATURES) and meta["training"]["style"] is True
    plain, given = tmp_path / "plain", tmp_path / "given"
    save_model(random_model(units=8, mixtures=2, encoding="heading"), plain)  # any model without a style input
    robojam("train", corpus, "-o", given, "--from", plain, "--style", "--epochs", 1, "--seed", 1)
    given_meta = json.loads((given / "model.json").read_text())
    assert given_meta["architecture"]["input_dim"] == 11 + len(STYLE_FEATURES) and "style" in given_meta
    call = tmp_path / "call.csv"
    from robojam.core.performance import Performance, write_csv
    write_csv(Performance.from_xy_dt(synthetic_performance(np.random.default_rng(7))), call)
    robojam("respond", call, "-o", tmp_path / "r.csv", "--model", model, "--seconds", 1, "--seed", 0)
    assert (tmp_path / "r.csv").exists()
    wider = tmp_path / "wider"
    robojam("train", corpus, "-o", wider, "--from", model, "--style-features", "touch_rate, edge_share",
            "--epochs", 1, "--seed", 1)
    wider_meta = json.loads((wider / "model.json").read_text())
    assert wider_meta["style"]["features"] == [*STYLE_FEATURES, "edge_share"]
    for stat in ("mean", "std"):  # fine-tuning keeps the style the model learned with, the new feature after it
        assert wider_meta["style"][stat][:-1] == meta["style"][stat]
    assert wider_meta["architecture"]["input_dim"] == 11 + len(STYLE_FEATURES) + 1
    robojam("respond", call, "-o", tmp_path / "w.csv", "--model", wider, "--seconds", 1, "--seed", 0)
    unknown = robojam("train", corpus, "-o", tmp_path / "x", "--style-features", "tempo", check=False)
    assert unknown.returncode == 1 and "unknown style feature 'tempo'" in unknown.stderr


def test_a_style_input_added_to_a_model_starts_silent():
    from robojam.train.training import with_style_input

    base = random_model(encoding="heading")
    styled = with_style_input(base, Style.fitted(synthetic_corpus(10)))
    assert styled.style is not None and base.style is None and styled.input_dim == base.input_dim + styled.style.dim
    call = synthetic_performance(np.random.default_rng(9))
    np.testing.assert_allclose(_params_after(Engine(styled), call, [3.0] * styled.style.dim),
                               _params_after(Engine(base), call), rtol=1e-5, atol=1e-6)


def test_features_added_to_a_style_input_start_silent():
    from robojam.train.training import with_style_input

    base = random_model(encoding="heading", style=True)
    wider = with_style_input(base, base.style.extended(synthetic_corpus(10), ["edge_share", "step_cv"]))
    assert wider.input_dim == base.input_dim + 2 and wider.style.dim == base.style.dim + 2
    call = synthetic_performance(np.random.default_rng(9))
    style = [0.5] * base.style.dim
    np.testing.assert_allclose(_params_after(Engine(wider), call, style + [3.0, -3.0]),
                               _params_after(Engine(base), call, style), rtol=1e-5, atol=1e-6)


def test_after_a_reset_the_style_is_that_of_what_came_after():
    model = random_model(style=True)
    engine = Engine(model)
    session = Session(engine, Settings(seconds=30.0), np.random.default_rng(0))
    for i, (x, y, _) in enumerate(synthetic_performance(np.random.default_rng(10))):
        session.touch(x, y, 0.5, now=i / 60)
    session.reset(5.0)
    after = synthetic_performance(np.random.default_rng(11))
    for i, (x, y, _) in enumerate(after):
        session.touch(x, y, 0.5, now=6.0 + i / 60)
    session.respond(8.0)
    session.prepare(8.0)
    assert engine._style == pytest.approx(model.style.vector(np.array(session._heard)))
    assert len(session._heard) == len(after)


def test_a_duet_plays_on_in_the_style_it_took_up_and_a_barge_in_forgets_it():
    model = random_model(style=True)
    engine = Engine(model)
    session = Session(engine, Settings(seconds=2.0), np.random.default_rng(0))
    call = synthetic_performance(np.random.default_rng(12))
    for i, (x, y, _) in enumerate(call):
        session.touch(x, y, 0.5, now=i / 60)
    session.respond(2.0)
    session.touch(0.5, 0.5, 0.5, now=2.01)  # the performer plays over it before robojam's first touch is fed
    assert engine._style == [0.0] * model.style.dim and session._style_of is None
    session.apply("mode", "duet", 3.0)
    session.respond(3.0)
    session.touch(0.4, 0.4, 0.5, now=3.05)
    assert engine._style == pytest.approx(model.style.vector(np.array([(0.5, 0.5, 0.0)])))


def test_a_style_may_read_other_features_and_be_extended():
    corpus = synthetic_corpus(10)
    style = Style.fitted(corpus)
    assert style.features == STYLE_FEATURES and style.dim == len(STYLE_FEATURES)
    wider = style.extended(corpus, [*STYLE_FEATURES[:2], "edge_share", "step_cv"])
    assert wider.features == STYLE_FEATURES + ("edge_share", "step_cv") and wider.dim == len(STYLE_FEATURES) + 2
    own = Style.fitted(corpus, ("edge_share", "step_cv"))
    np.testing.assert_array_equal(wider.mean, np.concatenate([style.mean, own.mean]))
    np.testing.assert_array_equal(wider.std, np.concatenate([style.std, own.std]))
    call = corpus[3]
    assert wider.vector(call) == style.vector(call) + own.vector(call)
    assert style.extended(corpus, ["turning"]) is style  # nothing new to add
    again = style_from_dict(json.loads(json.dumps(wider.to_dict())))
    assert again.features == wider.features and again.vector(call) == wider.vector(call)
    with pytest.raises(RobojamError, match="unknown style feature 'tempo'"):
        style.extended(corpus, ["tempo"])

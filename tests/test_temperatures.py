"""A model's own temperatures for shape and rhythm, gap tilt and rim: the values, the sampler, the model file,
the commands."""

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from robojam import RobojamError
from robojam.cli import main
from robojam.core.encoding import within
from robojam.core.engine import Engine
from robojam.core.mixture import Noise, Sampler
from robojam.core.modelfile import load_model, save_model, write_temperatures
from robojam.core.performance import Performance, read_csv, write_csv
from robojam.core.temperatures import LIMITS, Temperatures, temperatures_from_dict
from synthetic import random_model, synthetic_corpus
from test_mixture_mutants import params_for


# ---- the values -------------------------------------------------------------------------------

def test_spreads_scale_position_dims_by_the_shape_and_timing_by_the_rhythm():
    assert Temperatures(0.25, 0.64).spreads(3) == [0.5, 0.5, 0.8]
    assert Temperatures(0.81, 1.0).spreads(2) == [pytest.approx(0.9), 1.0]
    assert Temperatures().spreads(3) == [1.0, 1.0, 1.0]


def test_temperatures_are_checked():
    low, high = LIMITS
    assert Temperatures(low, high) == Temperatures(shape=low, rhythm=high)  # the limits themselves are allowed
    for bad in (low * 0.99, high * 1.01, 0, -1, math.nan, math.inf, True, "1", None):
        with pytest.raises(RobojamError, match="shape temperature must be a number from 0.05 to 4"):
            Temperatures(shape=bad)
        with pytest.raises(RobojamError, match="rhythm temperature"):
            Temperatures(rhythm=bad)


def test_neutral_describe_and_dict():
    assert Temperatures().neutral and Temperatures(1, 1).neutral
    assert not Temperatures(0.8).neutral and not Temperatures(rhythm=1.2).neutral
    assert Temperatures(0.8, 1.1).describe() == "shape temp 0.8, rhythm temp 1.1"
    assert temperatures_from_dict(Temperatures(0.8, 1.1).to_dict()) == Temperatures(0.8, 1.1)
    assert Temperatures(gap_tilt=0.1).describe() == "shape temp 1, rhythm temp 1, gap tilt 0.1"
    assert not Temperatures(gap_tilt=-0.1).neutral
    assert temperatures_from_dict({"shape": 0.8, "rhythm": 1}) == Temperatures(0.8, 1.0, 0.0)  # older files
    assert temperatures_from_dict(Temperatures(0.8, 1, 0.2).to_dict()) == Temperatures(0.8, 1, 0.2)
    for bad in ({"shape": 0.8}, {"shape": 0.8, "rhythm": 1, "tempo": 2}, {"rhythm": 1, "gap_tilt": 0}, [0.8, 1.0],
                None):
        with pytest.raises(RobojamError, match="must be an object with shape and rhythm, and gap_tilt, rim, "
                                               "rim_keep, echo or not"):
            temperatures_from_dict(bad)
    for bad in (-1.01, 1.01, math.nan, "0", True):
        with pytest.raises(RobojamError, match="gap tilt must be a number from -1 to 1"):
            Temperatures(gap_tilt=bad)
    assert Temperatures(gap_tilt=-1).gap_tilt == -1 and Temperatures(gap_tilt=1).gap_tilt == 1


def test_a_rim_is_checked_described_and_avoided_only_when_some_touches_on_it_are_dropped():
    rim = Temperatures(rim=0.05, rim_keep=0.2)
    assert rim.avoided_rim == 0.05 and not rim.neutral
    assert rim.describe() == "shape temp 1, rhythm temp 1, rim 0.05 kept 0.2"
    assert temperatures_from_dict(rim.to_dict()) == rim
    assert temperatures_from_dict({"shape": 1, "rhythm": 1, "rim": 0.05}) == Temperatures(rim=0.05)
    assert Temperatures(rim=0.05).avoided_rim == 0.0  # every touch kept: no rim to avoid
    assert Temperatures(rim_keep=0.0).avoided_rim == 0.0 and Temperatures(rim=0.25, rim_keep=0).avoided_rim == 0.25
    assert Temperatures(rim=0.05).describe().endswith("rim 0.05 kept 1")
    assert Temperatures(rim_keep=0.5).describe().endswith("rim 0 kept 0.5")
    for bad in (-0.01, 0.26, math.nan, "0.1", True, None):
        with pytest.raises(RobojamError, match="rim must be a number from 0 to 0.25"):
            Temperatures(rim=bad)
    for bad in (-0.01, 1.01, math.inf, False):
        with pytest.raises(RobojamError, match="rim keep must be a number from 0 to 1"):
            Temperatures(rim_keep=bad)


def test_noise_chances_are_uniform_and_repeatable():
    noise, twin = Noise(np.random.default_rng(7), 3, 2), Noise(np.random.default_rng(7), 3, 2)
    chances = []
    for _ in range(300):
        chances.append(noise.chance())
        assert twin.chance() == chances[-1]
        gumbels, normals = noise.take()
        twin_gumbels, twin_normals = twin.take()
        np.testing.assert_array_equal(gumbels, twin_gumbels)
        assert normals == twin_normals
    assert 0.0 <= min(chances) and max(chances) < 1.0 and 0.4 < np.mean(chances) < 0.6
    assert len(set(chances)) == len(chances)


# ---- the sampler ------------------------------------------------------------------------------

def test_a_draw_scales_each_dims_deviation_by_its_spread_and_by_sigma_temp():
    dim, mixtures = 3, 2
    params = params_for([[0.1, 0.2, 0.3], [5.0, 6.0, 7.0]], [[0.3, 0.4, 0.5], [0.5, 0.7, 0.9]],
                        [0.0, 0.4]).astype(np.float32)
    spreads = [0.5, 0.5, 2.0]
    sampler = Sampler(params, dim, mixtures, spreads=spreads)
    noise, twin = Noise(np.random.default_rng(2), mixtures, dim), Noise(np.random.default_rng(2), mixtures, dim)
    for sigma_temp in (1.0, 0.25, 0.25, 4.0, 1.0):  # a change of sigma_temp between draws is taken up
        for _ in range(10):
            gumbels, normals = twin.take()
            k = int(np.argmax(params[2 * mixtures * dim:] + gumbels))
            mu, sigma = params[k * dim:(k + 1) * dim], params[mixtures * dim + k * dim:mixtures * dim + (k + 1) * dim]
            expected = [float(mu[d]) + float(sigma[d]) * spreads[d] * math.sqrt(sigma_temp) * normals[d]
                        for d in range(dim)]
            assert sampler.draw(noise, 1.0, sigma_temp) == pytest.approx(expected, rel=1e-12)


# ---- the engine -------------------------------------------------------------------------------

def with_temperatures(model, temperatures):
    model.temperatures = temperatures
    return model


def test_an_engine_plays_at_its_models_temperatures():
    call = synthetic_corpus(1, seed=3)[0]
    plain = Engine(random_model(encoding="heading", seed=4))

    def respond(engine, sigma_temp=1.0):
        return engine.respond(call, 3.0, np.random.default_rng(9), 1.0, sigma_temp)

    both = Engine(with_temperatures(random_model(encoding="heading", seed=4), Temperatures(0.25, 0.25)))
    np.testing.assert_array_equal(respond(both), respond(plain, 0.25))  # both parts: as sigma_temp
    shape_only = Engine(with_temperatures(random_model(encoding="heading", seed=4), Temperatures(0.25, 1.0)))
    rhythm_only = Engine(with_temperatures(random_model(encoding="heading", seed=4), Temperatures(1.0, 0.25)))
    responses = [respond(shape_only), respond(rhythm_only), respond(plain), respond(plain, 0.25)]
    for i, a in enumerate(responses):
        for b in responses[i + 1:]:
            assert a.shape != b.shape or not np.array_equal(a, b)
    np.testing.assert_array_equal(respond(shape_only.spawn()), respond(shape_only))  # spawned engines too


def test_the_sampler_chooses_by_logits_tilted_towards_longer_gaps():
    tilt, mixtures, kd = 0.5, 3, 9
    engine = Engine(with_temperatures(random_model(encoding="heading", mixtures=mixtures, seed=2),
                                      Temperatures(gap_tilt=tilt)))
    engine.condition(synthetic_corpus(1, seed=5)[0])
    raw, params = engine.state.head, engine.mixture_params()
    assert len(raw) == 2 * kd + 2 * mixtures and len(params) == 2 * kd + mixtures
    np.testing.assert_allclose(raw[2 * kd + mixtures:], params[2 * kd:] + tilt * params[2:kd:3], rtol=1e-5, atol=1e-5)
    noise, twin = Noise(np.random.default_rng(4), mixtures, 3), Noise(np.random.default_rng(4), mixtures, 3)
    chooser = Sampler(raw, 3, mixtures, logits=raw[2 * kd + mixtures:])
    plain = Sampler(raw, 3, mixtures)
    picks = []
    for _ in range(300):
        gumbels, normals = twin.take()
        k = int(np.argmax(raw[2 * kd + mixtures:] + gumbels))
        picks.append((k, int(np.argmax(raw[2 * kd:2 * kd + mixtures] + gumbels))))
        expected = [float(raw[3 * k + d]) + float(raw[kd + 3 * k + d]) * normals[d] for d in range(3)]
        assert chooser.draw(noise) == pytest.approx(expected, rel=1e-9)
    tilted_mean = np.mean([params[3 * k + 2] for k, _ in picks])
    plain_mean = np.mean([params[3 * k + 2] for _, k in picks])
    assert tilted_mean > plain_mean  # the same noise picks components with longer gaps
    np.testing.assert_array_equal(np.asarray(plain._logits), raw[2 * kd:2 * kd + mixtures])  # not the tilted ones


def test_longer_gaps_with_a_gap_tilt_and_none_without():
    call = synthetic_corpus(1, seed=3)[0]

    def mean_log_gap(tilt):
        engine = Engine(with_temperatures(random_model(encoding="heading", seed=4), Temperatures(gap_tilt=tilt)))
        gaps = np.concatenate([engine.respond(call, 3.0, np.random.default_rng(seed))[1:, 2] for seed in range(20)])
        return float(np.mean(np.log(np.maximum(gaps, 1e-4))))

    assert mean_log_gap(0.6) > mean_log_gap(0.0) > mean_log_gap(-0.6)


@pytest.mark.parametrize("encoding", ["robojam", "delta", "heading"])
def test_each_encoding_tells_a_position_within_a_margin_of_the_edges(encoding):
    model = random_model(encoding=encoding)
    prev = model.encoding.context(model.encoding.context(None, 0.5, 0.5), 0.5, 0.5)
    for x, y, within_margin in ((0.5, 0.5, True), (0.07, 0.5, True), (0.03, 0.5, False), (0.5, 0.96, False),
                                (0.5, 0.94, True), (1.01, 0.5, False)):
        target = model.encoding.targets(np.array([[0.5, 0.5, 0.0], [x, y, 0.01]]))[1]
        if encoding == "robojam":
            target = [x, y, 0.01]
        assert model.encoding.on_screen(prev, target, 0.05) == within_margin, (x, y)
        assert model.encoding.on_screen(prev, target) == (x <= 1.0)
    assert within(0.05, 0.95, 0.05) and not within(0.0499, 0.5, 0.05) and within(0.0, 1.0, 0.0)


def rim_entries(temperatures, rim=0.1, seeds=20):
    """How often responses step from further than ``rim`` from every edge to nearer, and their touches."""
    engine = Engine(with_temperatures(random_model(encoding="heading", seed=4), temperatures))
    call, entries, touches = synthetic_corpus(1, seed=3)[0], 0, 0
    for seed in range(seeds):
        response = engine.respond(call, 3.0, np.random.default_rng(seed))
        inside = [within(x, y, rim) for x, y, _ in response]
        entries += sum(was and not now for was, now in zip(inside, inside[1:]))
        touches += len(response)
    return entries, touches


def test_an_engine_keeps_off_its_rim_but_for_the_touches_it_keeps():
    free, _ = rim_entries(Temperatures())
    assert free > 50  # this model wanders onto the rim often
    assert rim_entries(Temperatures(rim=0.1, rim_keep=0.0))[0] <= 2  # only where 16 draws in a row miss
    assert 0.25 * free < rim_entries(Temperatures(rim=0.1, rim_keep=0.5))[0] < 0.75 * free
    narrow, _ = rim_entries(Temperatures(rim=0.05, rim_keep=0.0))
    assert narrow > 0.25 * free  # the narrow rim leaves the wider band alone


def test_a_touch_already_on_the_rim_plays_on_freely():
    call = np.array([[0.5, 0.5, 0.0], [0.3, 0.5, 0.02], [0.1, 0.5, 0.02], [0.03, 0.5, 0.02]])  # ends on the rim

    def first_draws(temperatures):
        engine = Engine(with_temperatures(random_model(encoding="heading", seed=4), temperatures))
        engine.condition(call)
        rng = np.random.default_rng(3)
        return [engine.draw(rng) for _ in range(20)]  # each from the call's last touch

    free = first_draws(Temperatures())
    assert sum(not within(x, y, 0.1) for x, y, _ in free) > 5  # draws that land on the rim
    assert first_draws(Temperatures(rim=0.1, rim_keep=0.0)) == free  # kept, and no chances taken


def test_no_rim_or_keeping_every_touch_plays_as_without_one():
    call = synthetic_corpus(1, seed=3)[0]

    def respond(temperatures):
        return Engine(with_temperatures(random_model(encoding="heading", seed=4), temperatures)).respond(
            call, 3.0, np.random.default_rng(9))

    plain = respond(Temperatures())
    np.testing.assert_array_equal(respond(Temperatures(rim=0.1, rim_keep=1.0)), plain)
    np.testing.assert_array_equal(respond(Temperatures(rim=0.0, rim_keep=0.0)), plain)
    assert not np.array_equal(respond(Temperatures(rim=0.25, rim_keep=0.0)), plain)


# ---- the model file ---------------------------------------------------------------------------

def test_model_files_keep_their_temperatures(tmp_path):
    plain = save_model(random_model(), tmp_path / "plain")
    assert "temperatures" not in json.loads((plain / "model.json").read_text())  # 1 and 1: as trained
    assert load_model(plain).temperatures == Temperatures()
    tuned = save_model(with_temperatures(random_model(), Temperatures(0.8, 1.1)), tmp_path / "tuned")
    assert json.loads((tuned / "model.json").read_text())["temperatures"] == {
        "shape": 0.8, "rhythm": 1.1, "gap_tilt": 0.0, "rim": 0.0, "rim_keep": 1.0, "echo": 0.0}
    assert load_model(tuned).temperatures == Temperatures(0.8, 1.1)
    assert "shape temp 0.8, rhythm temp 1.1" in load_model(tuned).describe()
    assert "temp" not in load_model(plain).describe()


def test_write_temperatures_changes_only_them(tmp_path):
    folder = save_model(random_model(), tmp_path / "m")
    before = json.loads((folder / "model.json").read_text())
    weights = (folder / "weights.npz").read_bytes()
    write_temperatures(folder / "model.json", Temperatures(0.5, 2.0))
    after = json.loads((folder / "model.json").read_text())
    assert after.pop("temperatures") == {"shape": 0.5, "rhythm": 2.0, "gap_tilt": 0.0, "rim": 0.0,
                                         "rim_keep": 1.0, "echo": 0.0} and after == before
    assert (folder / "weights.npz").read_bytes() == weights
    write_temperatures(folder, Temperatures())
    assert json.loads((folder / "model.json").read_text()) == before
    assert sorted(p.name for p in folder.iterdir()) == ["model.json", "weights.npz"]


def test_a_model_file_with_bad_temperatures_is_refused(tmp_path):
    folder = save_model(random_model(), tmp_path / "m")
    metadata = json.loads((folder / "model.json").read_text())
    for bad, words in (({"shape": 1e9, "rhythm": 1}, "shape temperature must be"),
                       ("hot", "an object with shape and rhythm")):
        (folder / "model.json").write_text(json.dumps({**metadata, "temperatures": bad}))
        with pytest.raises(RobojamError, match=f"model {folder}: .*{words}"):
            load_model(folder)


def test_an_unwritable_model_gives_a_clear_error(tmp_path):
    folder = save_model(random_model(), tmp_path / "m")
    (folder / "model.json.new").mkdir()  # where the new model.json would be written
    with pytest.raises(RobojamError, match="cannot write model.json"):
        write_temperatures(folder, Temperatures(0.5))
    assert load_model(folder).temperatures == Temperatures()


# ---- the commands -----------------------------------------------------------------------------

def run(*args):
    return CliRunner().invoke(main, [*map(str, args)])


def test_robojam_temperatures_shows_and_sets(tmp_path):
    folder = save_model(random_model(), tmp_path / "m")
    assert run("tune", folder).output == f"{folder}: shape temp 1, rhythm temp 1\n"
    assert run("tune", folder, "--shape", 0.8).output == f"{folder}: shape temp 0.8, rhythm temp 1\n"
    assert run("tune", folder, "--rhythm", 1.2).output == f"{folder}: shape temp 0.8, rhythm temp 1.2\n"
    assert load_model(folder).temperatures == Temperatures(0.8, 1.2)
    assert run("tune", folder, "--gap-tilt", 0.1).output == \
        f"{folder}: shape temp 0.8, rhythm temp 1.2, gap tilt 0.1\n"
    assert load_model(folder).temperatures == Temperatures(0.8, 1.2, 0.1)
    assert run("tune", folder, "--rim", 0.05, "--rim-keep", 0.2).output == \
        f"{folder}: shape temp 0.8, rhythm temp 1.2, gap tilt 0.1, rim 0.05 kept 0.2\n"
    assert load_model(folder).temperatures == Temperatures(0.8, 1.2, 0.1, 0.05, 0.2)
    assert run("tune", folder, "--gap-tilt", 2).exit_code == 2
    assert run("tune", folder, "--rim", 0.3).exit_code == 2
    assert run("tune", folder, "--rim-keep", 2).exit_code == 2
    refused = run("tune", folder, "--shape", 9)
    assert refused.exit_code == 2 and "0.05<=x<=4.0" in refused.output
    missing = run("tune", tmp_path / "nothing", "--shape", 0.5)
    assert missing.exit_code == 1 and missing.output.startswith("Error: ") and "no such model folder" in missing.output


def test_respond_takes_temperatures_over_the_models(tmp_path):
    folder = save_model(random_model(encoding="heading"), tmp_path / "m")
    call = tmp_path / "call.csv"
    write_csv(Performance.from_xy_dt(synthetic_corpus(1)[0]), call)

    def respond(name, *options):
        result = run("respond", call, "-o", tmp_path / name, "--model", folder, "--seed", 5, "--seconds", 3,
                     *options)
        assert result.exit_code == 0, result.output
        return (tmp_path / name).read_text()

    plain, tight = respond("plain.csv"), respond("sigma.csv", "--sigma-temp", 0.25)
    assert respond("parts.csv", "--shape-temp", 0.25, "--rhythm-temp", 0.25) == tight
    assert respond("shape.csv", "--shape-temp", 0.25) not in (tight, plain)
    run("tune", folder, "--shape", 0.25, "--rhythm", 0.25)
    assert respond("own.csv") == tight  # the model's own, set with robojam tune
    assert respond("over.csv", "--shape-temp", 1, "--rhythm-temp", 1) == plain
    assert respond("tilted.csv", "--shape-temp", 1, "--rhythm-temp", 1, "--gap-tilt", 0.5) != plain
    assert len(read_csv(tmp_path / "own.csv")) > 0
    assert respond("rim.csv", "--shape-temp", 1, "--rhythm-temp", 1, "--rim", 0.2, "--rim-keep", 0) != plain
    assert respond("kept.csv", "--shape-temp", 1, "--rhythm-temp", 1, "--rim", 0.2, "--rim-keep", 1) == plain


@pytest.mark.usefixtures("quick_judges")
def test_eval_realism_reports_and_takes_temperatures(tmp_path):
    from test_realism import corpus_file, long_corpus

    data = corpus_file(tmp_path / "corpus.npz", long_corpus(12))
    folder = save_model(with_temperatures(random_model(encoding="heading"), Temperatures(0.5, 1.5)), tmp_path / "m")

    def settings(*options):
        result = run("eval", data, "--model", folder, "--realism", "--json", *options)
        assert result.exit_code == 0, result.output
        return json.loads(result.output)["settings"]

    stored = settings()
    assert (stored["shape_temp"], stored["rhythm_temp"], stored["gap_tilt"]) == (0.5, 1.5, 0.0)
    overridden = settings("--shape-temp", 0.7, "--gap-tilt", -0.2)
    assert (overridden["shape_temp"], overridden["rhythm_temp"], overridden["gap_tilt"]) == (0.7, 1.5, -0.2)
    assert (stored["rim"], stored["rim_keep"]) == (0.0, 1.0)
    rimmed = settings("--rim", 0.05, "--rim-keep", 0.2)
    assert (rimmed["rim"], rimmed["rim_keep"], rimmed["shape_temp"]) == (0.05, 0.2, 0.5)
    assert "shape temp 0.5, rhythm temp 1.5" in run("eval", data, "--model", folder, "--realism").output

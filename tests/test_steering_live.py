"""The player's knobs while robojam serve plays (#24): /robojam/steer, /robojam/status, config files."""

import numpy as np
import pytest

from oscpeer import recording_server, running_server
from robojam.core.engine import Engine
from robojam.core.modelfile import load_model
from robojam.core.steering import GAP_TILT_PER_UNIT
from robojam.live.assemble import session_settings
from robojam.live.knobs import DEFAULTS
from robojam.live.session import Session, Settings
from synthetic import synthetic_performance
from test_behaviours import oscsend

HOST = "10.0.0.9"
server = pytest.fixture(recording_server)


def steer(server, *args, now=100.0):
    return server.handle_message("/robojam/steer", list(args), None, HOST, now)


def test_a_knob_turned_over_osc_is_this_performers_and_in_its_status(server):
    steer(server, "density", 1.5)
    steer(server, "curl", -1, "alice")
    session = server.performers[HOST].session
    assert session.settings.density == 1.5 and session.settings.curl == 0.0
    assert server.performers[f"{HOST}/alice"].session.settings.curl == -1.0
    assert session.engine.policy.sampler.tilt == pytest.approx(-1.5 * GAP_TILT_PER_UNIT)
    server.handle_message("/robojam/status", [], None, HOST, 100.1)
    _, address, args = server.sent[-1]
    pairs = dict(zip(args[::2], args[1::2]))
    assert address == "/robojam/status" and pairs["density"] == 1.5 and pairs["contrast"] == 0.0
    assert isinstance(pairs["density"], float)


@pytest.mark.parametrize("args", [("loudness", 1.0), ("temp", 0.5), ("density", 2.5), ("contrast", -0.5)])
def test_a_wrong_knob_is_dropped_as_a_bad_value_and_changes_nothing(server, args):
    steer(server, "energy", 1.0)
    steer(server, *args)
    settings = server.performers[HOST].session.settings
    assert server.drops["bad_value"] == 1
    assert settings.energy == 1.0 and settings.temp == DEFAULTS["temp"] and settings.density == 0.0


def call():
    return synthetic_performance(np.random.default_rng(2), strokes=5)


def test_a_knob_turned_while_robojam_plays_steers_its_next_touch():
    engine = Engine(load_model(None))
    session = Session(engine, Settings(threshold=0.3, seconds=3.0), np.random.default_rng(0))
    t = 0.0
    for x, y, dt in call():
        t += dt
        session.touch(x, y, 0.5, t)
    session.respond(t + 0.01)
    session.due(t + 0.02)
    session.prepare(t + 0.02)  # past the first touch: robojam plays in the call's style
    playing_in = list(engine._style)
    assert any(playing_in)
    session.apply("curl", 1.5, t + 0.03)
    assert engine._style != playing_in  # from the next touch drawn, not the next response
    assert engine._style == engine.steered_style(session._answered, session.settings.steer())
    assert engine.policy.sampler.tilt == 0.0
    session.apply("density", -1, t + 0.04)
    assert engine.policy.sampler.tilt == pytest.approx(GAP_TILT_PER_UNIT)


def test_a_new_model_keeps_the_performers_knobs():
    model = load_model(None)
    session = Session(Engine(model), Settings(density=1.0), np.random.default_rng(0))
    assert session.engine.policy.sampler.tilt == pytest.approx(-GAP_TILT_PER_UNIT)
    fresh = Engine(model)
    session.use_engine(fresh)
    assert session.engine is fresh and fresh.policy.sampler.tilt == pytest.approx(-GAP_TILT_PER_UNIT)


def test_knobs_from_a_config_file_start_every_session():
    settings = session_settings({**DEFAULTS, "density": 1, "size": -0.5})
    assert (settings.density, settings.size, settings.curl) == (1.0, -0.5, 0.0)
    with pytest.raises(Exception, match="density must be a number from -2 to 2"):
        session_settings({**DEFAULTS, "density": 3})


def test_liblo_turns_a_knob_over_real_udp():
    with running_server() as (server, sender, listener):
        oscsend(server.address[1], "/robojam/steer", "sf", "energy", 1.25)
        oscsend(server.address[1], "/robojam/status", "")
        listener.collect(3.0, until="/robojam/status")
    status = [args for _, address, args in listener.received if address == "/robojam/status"][-1]
    assert dict(zip(status[::2], status[1::2]))["energy"] == 1.25


def test_contrast_in_a_session_leans_each_answer_away_from_its_own_call():
    engine = Engine(load_model(None))
    session = Session(engine, Settings(threshold=0.3, seconds=1.0, contrast=1.0), np.random.default_rng(0))
    t, tilts = 0.0, []
    for side in (0.85, 0.15):  # a call on the right, then one on the left
        for k in range(30):
            t += 1 / 60
            session.touch(side + 0.002 * k, 0.3 + 0.01 * k, 0.5, t)
        session.respond(t + 0.01)
        tilts.append(engine.policy.x_tilt)
        session.stop(t + 0.02)
    assert tilts[0] < 0 < tilts[1]
    session.apply("contrast", 0.0, t + 0.03)
    assert engine.policy.x_tilt == 0.0
    for k in range(30):  # the call on the left again, answered unsteered
        t += 1 / 60
        session.touch(0.15 + 0.002 * k, 0.3 + 0.01 * k, 0.5, t)
    session.respond(t + 0.01)
    session.apply("contrast", 1.0, t + 0.02)  # turned while it answers: it leans right from the next touch
    assert engine.policy.x_tilt == pytest.approx(tilts[1])


def test_curl_in_a_session_turns_each_answer_the_way_its_own_call_curled():
    from robojam.core.steering import CURL_TILT_PER_UNIT

    engine = Engine(load_model(None))
    session = Session(engine, Settings(threshold=0.3, seconds=1.0, curl=1.5), np.random.default_rng(0))
    t, ways = 0.0, []
    for way in (1.0, -1.0):  # a circle from +x towards +y, then one the other way round
        for k in range(40):
            t += 1 / 60
            angle = way * k * np.pi / 16
            session.touch(0.5 + 0.2 * np.cos(angle), 0.5 + 0.2 * np.sin(angle), 0.5, t)
        session.respond(t + 0.01)
        assert engine.policy.curl_tilt == pytest.approx(1.5 * CURL_TILT_PER_UNIT)
        ways.append(engine.policy._call_way_round())
        session.stop(t + 0.02)
    assert ways == [1.0, -1.0]
    session.apply("curl", 0.0, t + 0.03)
    assert engine.policy.curl_tilt == 0.0

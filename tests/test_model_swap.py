"""Changing the model while robojam serve plays: /robojam/model, SIGHUP, and what is refused."""

import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from oscpeer import running_server
from robojam.core.engine import Engine
from robojam.core.modelfile import save_model
from robojam.live.model_switch import model_path, trusted_host
from robojam.live.session import Session, Settings
from synthetic import random_model, synthetic_performance

from robojam import RobojamError


@pytest.fixture
def models_dir(tmp_path):
    folder = tmp_path / "models"
    save_model(random_model(units=8, seed=1), folder / "first")
    save_model(random_model(units=6, mixtures=2, seed=2), folder / "second")
    broken = folder / "broken"
    broken.mkdir()
    (broken / "model.json").write_text('{"format": "robojam-model", "format_version": 1}')
    return folder


def replies(listener, address, seconds=3.0):
    listener.collect(seconds, until=address)
    return [args for _, a, args in listener.received if a == address]


# --- sessions ------------------------------------------------------------------------


def test_a_session_finishes_its_response_on_the_old_model_then_answers_with_the_new():
    old, new = Engine(random_model(units=8, seed=1)), Engine(random_model(units=6, mixtures=2, seed=2))
    session = Session(old, Settings(threshold=0.5, seconds=1.0), np.random.default_rng(0))
    call = synthetic_performance(np.random.default_rng(3))
    for i, (x, y, _) in enumerate(call):
        session.touch(x, y, 0.5, now=i * 0.02)
    session.respond(now=2.0)
    session.use_engine(new)
    assert session.engine is old  # the response plays on
    outputs = []
    now = 2.0
    while now < 5.0 and not (outputs and outputs[-1].kind == "end"):
        now += 0.05
        outputs += session.due(now)
        session.prepare(now)
    assert outputs[-1].kind == "end" and session.engine is new
    heard = Engine(new.model)  # the new model has heard the call again, and only the call
    heard.condition(np.column_stack([call[:, :2], np.clip(np.r_[0.0, np.diff(np.arange(len(call)) * 0.02)], 0, 5)]))
    np.testing.assert_allclose(new.mixture_params(), heard.mixture_params(), atol=1e-5)


def test_a_duet_switches_at_once():
    old, new = Engine(random_model(units=8, seed=1)), Engine(random_model(units=6, mixtures=2, seed=2))
    session = Session(old, Settings(mode="duet"), np.random.default_rng(0))
    session.touch(0.5, 0.5, 0.5, now=0.0)
    assert session.playing
    session.use_engine(new)
    assert session.engine is new and session.next_deadline() is not None


# --- names, paths and who may give them ------------------------------------------------


def test_only_this_machine_may_name_a_model_by_path(tmp_path):
    assert trusted_host("127.0.0.1") and trusted_host("::1") and trusted_host("127.8.9.10")
    assert not any(trusted_host(h) for h in ("192.168.1.20", "10.0.0.5", "web:3", "midi", "localhost."))
    assert model_path("me", tmp_path, trusted=False) == tmp_path / "me"
    for spec in ("../etc", "/etc/passwd", "~/models/me", "a/b", ".hidden", "x" * 65, ""):
        with pytest.raises(RobojamError, match="paths only from this machine"):
            model_path(spec, tmp_path, trusted=False)
    assert model_path(str(tmp_path / "me"), tmp_path, trusted=True) == tmp_path / "me"
    assert model_path("default", tmp_path, trusted=False).name == "default"  # the shipped one


# --- over OSC --------------------------------------------------------------------------


def test_a_model_named_over_osc_answers_the_next_call(models_dir):
    with running_server(Settings(threshold=0.3, seconds=0.5), models_dir=models_dir,
                        model_change_gap_s=0) as (server, sender, listener):  # two changes in a row
        sender.send("/robojam/model", str(models_dir / "first"))  # a path: this machine may give one
        assert replies(listener, "/robojam/model/changed") == [["first"]]
        listener.received.clear()
        sender.send("/robojam/model", "second")
        assert replies(listener, "/robojam/model/changed") == [["second"]]
        sender.call(10)
        listener.collect(3.0, until="/robojam/response/end")
        assert server.performers["127.0.0.1"].session.engine.model.units == 6
        assert server.status_line().endswith("; model second")
        listener.received.clear()
        sender.send("/robojam/status")
        status = replies(listener, "/robojam/status")[-1]
    assert status[:2] == ["model", "second"]


def test_a_bad_model_sent_during_a_response_is_refused_and_the_response_plays_on(models_dir):
    with running_server(Settings(threshold=0.3, seconds=1.5), models_dir=models_dir,
                        model_change_gap_s=0) as (server, sender, listener):  # four changes in a row
        sender.send("/robojam/model", "first")
        replies(listener, "/robojam/model/changed")
        sender.call(10)
        listener.collect(1.0, until="/robojam/response/start")
        for bad in ("broken", "missing", "nowhere/at/all"):
            sender.send("/robojam/model", bad, "other")
            listener.collect(1.0, until="/robojam/model/refused")
        got = listener.collect(3.0, until="/robojam/response/end")
        refused = [args[0] for _, a, args in got if a == "/robojam/model/refused"]
        counts = server.status()
        units = server.performers["127.0.0.1"].session.engine.model.units
    addresses = [a for _, a, _ in got]
    assert addresses.count("/robojam/response/end") == 1 and addresses.count("/robojam/model/changed") == 1
    assert len(refused) == 3 and units == 8  # the old model stays
    assert "broken" in refused[0] and "lacks 'architecture'" in refused[0]
    assert "missing: no such model folder" in refused[1] and "nowhere/at/all" in refused[2]
    assert counts["dropped.bad_model"] == 3


def test_a_burst_of_changes_from_one_host_loads_the_first_and_refuses_the_rest(models_dir):
    with running_server(models_dir=models_dir) as (server, sender, listener):
        for _ in range(20):
            sender.send("/robojam/model", "second")
        listener.collect(2.0)
        changed = [a for _, a, _ in listener.received].count("/robojam/model/changed")
        refused = [args for _, a, args in listener.received if a == "/robojam/model/refused"]
        drops = dict(server.drops)
    assert changed == 1 and len(refused) == 19
    assert all("at most one every 1 s from one host" in args[0] for args in refused)
    assert drops.get("rate_limited") == 19 and not drops.get("bad_model")


def test_a_path_from_another_machine_is_refused(models_dir):
    with running_server(models_dir=models_dir) as (server, sender, listener):
        key = server.handle_message("/robojam/model", [str(models_dir / "second")], None, "192.0.2.7", 0.0)
        assert key == "192.0.2.7"
        assert server.drops["bad_model"] == 1 and server.model_path.name != "second"


def test_a_swap_while_several_performers_play(models_dir):
    with running_server(Settings(threshold=0.3, seconds=1.0), models_dir=models_dir) as (server, sender, listener):
        for who in ("alice", "bob", "carol"):
            sender.call(8, session=who)
        listener.collect(1.0, until="/robojam/response/start")
        sender.send("/robojam/model", "second", "dave")
        got = listener.collect(4.0)
        ends = [a for _, a, _ in got].count("/robojam/response/end")
        engines = {k: p.session.engine.model.units for k, p in server.performers.items()}
    assert ends == 3  # every response finished
    assert set(engines.values()) == {6}  # ... and every performer now has the new model


# --- SIGHUP --------------------------------------------------------------------------


def test_sighup_reads_the_model_folder_again(tmp_path):
    folder = tmp_path / "mine"
    save_model(random_model(units=8, seed=1), folder)
    process = subprocess.Popen([sys.executable, "-m", "robojam", "serve", "--model", str(folder), "--port", "0",
                                "--no-log", "--status-every", "0"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    lines = [process.stdout.readline()]
    while not lines[-1].startswith("ready in") and lines[-1]:
        lines.append(process.stdout.readline())
    save_model(random_model(units=12, seed=5), folder)  # retrained after the rehearsal
    process.send_signal(signal.SIGHUP)
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=10)
    assert process.returncode == 0, out
    assert re.search(r"now playing model mine: 2x12 LSTM", out), out

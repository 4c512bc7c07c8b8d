"""A flood of model changes cannot stall the music (#25): loading and replaying happen off the server's
loop, changes are rate-limited per sending host and the refusals counted, and waiting requests coalesce."""

import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from oscpeer import FakeClock, running_server
from robojam.core.engine import Engine
from robojam.core.modelfile import save_model
from robojam.live.model_loader import SUPERSEDED, ModelLoader
from robojam.live.server import Server, ServerOptions
from robojam.live.session import Session, Settings, replayed
from robojam.tools.bench_swap import run_swap_flood
from synthetic import random_model, synthetic_performance


@pytest.fixture
def models_dir(tmp_path):
    folder = tmp_path / "models"
    save_model(random_model(units=8, seed=1), folder / "first")
    save_model(random_model(units=6, mixtures=2, seed=2), folder / "second")
    return folder


# --- the flood, against a real robojam serve --------------------------------------------


def test_a_flood_of_model_changes_leaves_the_timing_within_twice_a_quiet_run():
    """4 performers play call-and-response against robojam serve (its own process, UDP on 127.0.0.1,
    ephemeral ports) for 8 s quiet, then 8 s on a fresh server while a sender asks for a model change
    100 times a second, two models in turn. Within 2x of quiet, or 25 ms when that is larger: on a
    loaded 2-core machine a quiet p99 of a millisecond or two moves by more than 2x from run to run.
    Before the change the flood took the p99s to 30 to 50 ms, in every try."""
    for _ in range(2):  # a second try only if the first misses: a shared machine stalls now and then
        result = run_swap_flood(seconds=8.0, rounds=1, performers=4, report=lambda line: None)
        [quiet], [flooded] = result["swap_flood_rounds"]["quiet"], result["swap_flood_rounds"]["flooded"]
        if all(flooded[f] <= max(2 * quiet[f], 25.0) for f in ("timing_p99_ms", "feed_p99_ms")):
            break
    for figure in ("timing_p99_ms", "feed_p99_ms"):
        assert 0 < quiet[figure] and 0 < flooded[figure], (quiet, flooded)
        assert flooded[figure] <= max(2 * quiet[figure], 25.0), (figure, quiet, flooded)
    assert flooded["changes_sent"] > 500 and 1 <= flooded["changes_made"] <= 12  # one a second got through
    assert flooded["dropped_rate_limited"] >= flooded["changes_sent"] - 12
    assert flooded["calls_answered"] >= 8 and quiet["calls_answered"] >= 8


# --- the rate limit ---------------------------------------------------------------------------


class RecordingLoader:
    def __init__(self):
        self.paths = []

    def load(self, path, done):
        self.paths.append(Path(path).name)

    def close(self):
        pass


@pytest.fixture
def clocked(models_dir):
    clock = FakeClock(100.0)
    server = Server(random_model(units=4), Settings(threshold=30.0),
                    ServerOptions(host="127.0.0.1", port=0, send=[("127.0.0.1", 9)], status_every=0, seed=1,
                                  models_dir=models_dir), clock=clock)
    server.fake_clock, server.models.loader = clock, RecordingLoader()
    server.replies = []
    server.models.reply = lambda key, address, *args: server.replies.append((key, address, args))
    yield server
    server.close()


def ask(server, host, name, at):
    server.fake_clock.now = at
    return server.handle_message("/robojam/model", [name], None, host, at)


def test_model_changes_are_rate_limited_per_host_counted_and_answered(clocked, capsys):
    for i in range(100):  # 100 a second, two models in turn, for a second
        ask(clocked, "192.0.2.1", ("first", "second")[i % 2], 100.0 + i / 100)
    assert clocked.models.loader.paths == ["first"]
    assert clocked.drops["rate_limited"] == 99 and clocked.status()["dropped.rate_limited"] == 99
    refused = [args[0] for key, address, args in clocked.replies if address == "/robojam/model/refused"]
    assert len(refused) == 99 and all("at most one every 1 s from one host" in why for why in refused)
    assert not clocked.drops["bad_model"]
    ask(clocked, "192.0.2.2", "second", 100.995)  # another host is not held back by the first
    assert clocked.models.loader.paths == ["first", "second"]
    ask(clocked, "192.0.2.1", "second", 101.0)  # a second after its last change, the first host may again
    assert clocked.models.loader.paths == ["first", "second", "second"]
    console = capsys.readouterr()
    assert len((console.out + console.err).splitlines()) <= 2  # counted, not a line each


def test_browser_connections_share_one_limit_and_a_gap_of_zero_lets_every_change_through(clocked):
    ask(clocked, "web:1", "first", 100.0)
    ask(clocked, "web:2", "second", 100.5)  # another connection: perhaps the same person
    assert clocked.models.loader.paths == ["first"] and clocked.drops["rate_limited"] == 1
    clocked.models.change_gap_s = 0.0
    for _ in range(10):
        ask(clocked, "192.0.2.1", "first", 102.0)
    assert len(clocked.models.loader.paths) == 11 and clocked.drops["rate_limited"] == 1


# --- coalescing -------------------------------------------------------------------------------


def test_requests_waiting_for_a_load_coalesce_to_the_latest_and_the_switch_interval_comes_back():
    started, release, results, intervals = [], threading.Event(), [], []
    finished = threading.Event()
    before = sys.getswitchinterval()

    def slow_load(path):
        started.append(path.name)
        intervals.append(sys.getswitchinterval())
        if path.name == "a":
            release.wait(5)
        return random_model(units=4)

    def done(path, loaded, error):
        results.append((path.name, loaded is not None, error))
        if path.name == "d":
            finished.set()

    loader = ModelLoader(lambda task: task(), dict, load=slow_load)
    try:
        loader.load(Path("a"), done)
        deadline = time.monotonic() + 5
        while started != ["a"] and time.monotonic() < deadline:
            time.sleep(0.005)
        for name in "bcd":   # while "a" loads: only the latest waits
            loader.load(Path(name), done)
        assert loader.busy
        release.set()
        assert finished.wait(5)
    finally:
        loader.close()
    assert started == ["a", "d"]
    assert sorted(results) == [("a", True, None), ("b", False, SUPERSEDED), ("c", False, SUPERSEDED),
                               ("d", True, None)]
    assert loader.superseded == 2
    # while a load runs, the GIL changes hands every 0.5 ms (process-wide), and the old interval is back after
    assert intervals == [0.0005, 0.0005] and sys.getswitchinterval() == before


# --- the swap: prepared off the loop, with each session's state replayed ----------------------


def test_a_swap_replays_each_session_off_the_loop_and_the_next_response_is_the_new_models(models_dir,
                                                                                         monkeypatch):
    where = []
    condition = Engine.condition

    def recorded(engine, call):
        where.append(threading.current_thread().name)
        return condition(engine, call)

    with running_server(Settings(threshold=30.0, seconds=0.5), models_dir=models_dir) as (server, sender, listener):
        for who in ("alice", "bob"):
            sender.call(12, session=who)
        time.sleep(0.2)
        monkeypatch.setattr(Engine, "condition", recorded)
        sender.send("/robojam/model", "second", "alice")
        listener.collect(3.0, until="/robojam/model/changed")
        monkeypatch.setattr(Engine, "condition", condition)
        assert [a for _, a, _ in listener.received].count("/robojam/model/changed") == 1
        # the performers are silent now (a 30 s threshold): their sessions can be read from here
        histories = {k: p.session.history() for k, p in server.performers.items()}
        params = {k: p.session.engine.mixture_params().copy() for k, p in server.performers.items()}
        units = {k: p.session.engine.model.units for k, p in server.performers.items()}
        listener.received.clear()
        sender.send("/robojam/respond", "alice")
        listener.collect(2.0, until="/robojam/response/end")
        responded = [a for _, a, args in listener.received if args and args[-1] == "alice"]
        answered_by = server.performers["127.0.0.1/alice"].session.engine.model.units
    assert "robojam-server" not in where and where.count("robojam-model-loader") == 2  # both replayed there
    assert units == {"127.0.0.1/alice": 6, "127.0.0.1/bob": 6}
    second = Engine(random_model(units=6, mixtures=2, seed=2))
    for key, history in histories.items():
        assert len(history.heard) == 12
        fresh = replayed(second.spawn(), history)
        np.testing.assert_allclose(params[key], fresh.mixture_params(), atol=1e-6)
    assert "/robojam/response/touch" in responded and answered_by == 6


def test_touches_heard_while_a_model_loads_are_fed_to_it_on_the_swap():
    old, new = Engine(random_model(units=8, seed=1)), Engine(random_model(units=6, mixtures=2, seed=2))
    session = Session(old, Settings(threshold=30.0), np.random.default_rng(0))
    call = synthetic_performance(np.random.default_rng(3))
    for i, (x, y, _) in enumerate(call[:-5]):
        session.touch(x, y, 0.5, now=i * 0.02)
    history = session.history()
    prepared = replayed(new.spawn(), history)   # the loader's part, off the loop
    for i, (x, y, _) in enumerate(call[-5:], len(call) - 5):   # heard meanwhile
        session.touch(x, y, 0.5, now=i * 0.02)
    session.use_prepared(prepared, history)
    assert session.engine is prepared
    everything = replayed(new.spawn(), session.history())
    np.testing.assert_allclose(prepared.mixture_params(), everything.mixture_params(), atol=1e-6)
    session.reset(now=10.0)  # a reset since the history was taken: the swap replays from scratch
    stale = replayed(new.spawn(), history)
    session.use_prepared(stale, history)
    assert session.engine is stale and stale.state.head is None  # it heard nothing: the reset forgot it all

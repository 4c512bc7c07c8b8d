"""Performers on the server's clock, without sockets in the way: the touch rate, idle expiry, eviction."""

import pytest

from robojam.live.server import Server, ServerOptions
from robojam.live.session import Settings
from oscpeer import clocked_server
from synthetic import random_model


@pytest.fixture
def server():
    srv = clocked_server()
    yield srv
    srv.close()


@pytest.fixture
def plain_server():
    srv = Server(random_model(units=4), Settings(threshold=30.0), ServerOptions(port=0, status_every=0),
                 clock=lambda: 0.0)
    yield srv
    srv.close()


def touch(server, host, at, session=None):
    server.fake_clock.now = at
    args = [0.5, 0.5] + ([session] if session else [])
    return server.handle_message("/robojam/touch", args, None, host, at)


def test_the_touch_rate_is_250_a_second_after_a_burst_of_as_many(plain_server):
    srv = plain_server
    for i in range(1000):  # 1000 touches a second for one second
        srv.handle_message("/robojam/touch", [0.5, 0.5], None, "10.1.1.1", i / 1000)
    dropped = srv.drops["rate_limited"]
    assert 450 <= dropped <= 550, dropped  # 250 at once, then 250 a second: about 500 get through
    assert srv.counts["touches"] == 1000  # every valid touch is still counted (and logged)


def test_a_performer_within_the_rate_loses_nothing(plain_server):
    srv = plain_server
    for i in range(600):  # 200 a second for three seconds
        srv.handle_message("/robojam/touch", [0.5, 0.5], None, "10.1.1.2", i / 200)
    assert srv.drops["rate_limited"] == 0


def test_idle_sessions_expire_after_the_timeout_and_not_before(server):
    touch(server, "10.0.0.1", 100.0)
    touch(server, "10.0.0.2", 130.0)
    server.registry.expire(159.0)
    assert set(server.performers) == {"10.0.0.1", "10.0.0.2"}
    server.registry.expire(161.0)
    assert set(server.performers) == {"10.0.0.2"}
    assert server.counts["sessions_ended"] == 1
    server.fake_clock.now = 191.0
    server._housekeeping()  # the server's loop expires them too
    assert server.performers == {}


def test_a_session_being_answered_does_not_expire(server):
    touch(server, "10.0.0.3", 100.0)
    session = server.performers["10.0.0.3"].session
    session.respond(100.1)
    assert session.playing
    server.registry.expire(1000.0)
    assert "10.0.0.3" in server.performers


def test_a_newcomer_evicts_the_longest_idle_performer_when_full(server):
    for i, at in enumerate((100.0, 101.0, 102.0)):
        touch(server, "10.0.0.9", at, session=f"p{i}")
    assert len(server.performers) == 3
    touch(server, "10.0.0.9", 103.0, session="p0")  # p0 plays again: p1 is now the longest idle
    touch(server, "10.0.0.9", 104.0, session="new")
    assert set(server.performers) == {"10.0.0.9/p0", "10.0.0.9/p2", "10.0.0.9/new"}
    assert server.counts["sessions_started"] == 4

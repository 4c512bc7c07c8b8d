"""robojam play: a recorded call sent over real UDP on 127.0.0.1 to a server, its response recorded."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager

import numpy as np
import pytest

from robojam import RobojamError
from robojam.live.osc import encode, parse_datagram
from robojam.core.performance import Performance, read_csv, write_csv
from robojam.tools.play import Player, call_messages, play
from robojam.live.server import Server, ServerOptions, run_in_thread
from robojam.live.session import Settings
from synthetic import random_model


def strokes(*lengths: int, spacing: float = 0.025, pause: float = 0.2, start: float = 0.0) -> Performance:
    """Straight strokes of the given touch counts, a pause between them."""
    rows, t = [], start
    for s, n in enumerate(lengths):
        for i in range(n):
            rows.append((t, 0.1 + 0.03 * i, 0.2 + 0.2 * s, 0.6, 1.0 if i else 0.0))
            t += spacing
        t += pause - spacing
    return Performance(np.array(rows))


def call_csv(tmp_path, call: Performance) -> Performance:
    """The call through a CSV file, as `robojam play CALL.csv` reads it."""
    write_csv(call, tmp_path / "call.csv")
    return read_csv(tmp_path / "call.csv")


@contextmanager
def serving(player: Player, settings: Settings):
    """A server on an ephemeral port replying to the player's port; yields (server, arrivals).

    ``arrivals`` collects (server clock, address) for every message the server reads.
    """
    options = ServerOptions(host="127.0.0.1", port=0, reply_port=player.listen_port, status_every=0, seed=1)
    server = Server(random_model(units=8), settings, options)
    arrivals: list[tuple[float, str]] = []
    handle = server.handle_datagram

    def recording(data: bytes, host: str, now: float) -> set[str]:
        arrivals.extend((now, m.address) for m in parse_datagram(data))
        return handle(data, host, now)

    server.handle_datagram = recording
    thread = run_in_thread(server)
    player.to = server.address
    try:
        yield server, arrivals
    finally:
        server.stop()
        thread.join(5)
        assert not thread.is_alive(), "the server did not stop"


def test_a_call_is_played_in_time_and_its_response_recorded(tmp_path):
    call = call_csv(tmp_path, strokes(20, 15))
    settings = Settings(threshold=0.3, seconds=0.5)
    with Player(("127.0.0.1", 9), 0) as player, serving(player, settings) as (server, arrivals):
        result = player.play(call, timeout=5.0)
        response_touches = len(server.timing_errors)  # one per response touch the server sent
        touches_heard = server.counts["touches"]

    assert result.sent == touches_heard == 35
    addresses = [a for _, a in arrivals]
    assert addresses == ["/robojam/touch"] * 20 + ["/robojam/up"] + ["/robojam/touch"] * 15 + \
        ["/robojam/up", "/robojam/respond"]
    heard = np.array([t for t, a in arrivals if a == "/robojam/touch"])
    assert np.abs((heard - heard[0]) - (call.time - call.time[0])).max() < 0.03

    assert result.complete and 0.25 < result.seconds_waited < 3.0
    response = result.response
    assert len(response) == response_touches > 0
    assert response.events[0, 4] == 0 and np.all(np.diff(response.time) >= 0) and response.time[0] >= 0
    assert np.all((response.events[:, 1:3] >= 0) & (response.events[:, 1:3] <= 1))
    write_csv(response, tmp_path / "response.csv")
    back = read_csv(tmp_path / "response.csv")
    np.testing.assert_allclose(back.events, response.events, atol=1e-6)


def test_without_respond_the_silence_threshold_answers_a_session(tmp_path):
    call = strokes(5)
    with Player(("127.0.0.1", 9), 0, session="alice") as player, \
            serving(player, Settings(threshold=0.3, seconds=0.5)) as (server, arrivals):
        result = player.play(call, timeout=3.0, respond_now=False)
        performers = set(server.performers)
    assert "/robojam/respond" not in [a for _, a in arrivals]
    assert performers == {"127.0.0.1/alice"}
    assert result.complete and result.seconds_waited > 0.25
    assert len(result.response) > 0   # the replies end with the session id, and play takes them


def test_a_response_the_call_interrupts_is_not_the_answer():
    call = strokes(4, 4, pause=0.8)  # the server answers in the pause; the second stroke stops it
    with Player(("127.0.0.1", 9), 0) as player, serving(player, Settings(threshold=0.3, seconds=0.5)) as (server, _):
        result = player.play(call, timeout=3.0)
        responses = server.counts["responses"]
    assert responses == 2
    assert result.complete and result.ignored > 0


class FakeServer:
    """Takes the call on an ephemeral port; after /robojam/respond sends scripted datagrams to the player."""

    def __init__(self, script: list[bytes]):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.script = script
        self.stopping = False
        self.heard: list[tuple[str, list]] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stopping:
            try:
                data, sender = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            message = parse_datagram(data)[0]
            self.heard.append((message.address, message.args))
            if message.address == "/robojam/respond":
                for datagram in self.script:
                    self.sock.sendto(datagram, sender)
                    time.sleep(0.01)

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *_) -> None:
        self.stopping = True
        self.thread.join(5)
        self.sock.close()


def test_response_messages_are_parsed_and_anything_else_ignored():
    script = [b"not osc", encode("/robojam/other", 1), encode("/robojam/response/touch", "a", "b", "c"),
              encode("/robojam/response/start"),
              encode("/robojam/response/touch", 0.1, 0.2, 0.3), encode("/robojam/response/touch", 0.2, 0.2, 0.3),
              encode("/robojam/response/touch", float("nan"), 0.2, 0.3),
              encode("/robojam/response/up"), encode("/robojam/response/touch", 0.8, 0.7),
              encode("/robojam/response/end")]
    events = []
    with FakeServer(script) as fake:
        result = play(strokes(3), ("127.0.0.1", fake.port), 0, timeout=2.0,
                      on_event=lambda address, args: events.append(address))
    response = result.response
    np.testing.assert_allclose(response.events[:, 1:], [[0.1, 0.2, 0.3, 0], [0.2, 0.2, 0.3, 1], [0.8, 0.7, 0.5, 0]],
                               atol=1e-6)
    assert response.time[0] == pytest.approx(0.01, abs=0.05) and np.all(np.diff(response.time) > 0)
    assert result.complete and result.ignored == 4
    assert events[:4] == ["/robojam/touch"] * 3 + ["/robojam/up"]
    assert events[-1] == "/robojam/response/end"


def test_a_response_without_an_end_is_returned_incomplete_and_stopped():
    script = [encode("/robojam/response/start"), encode("/robojam/response/touch", 0.5, 0.5, 0.5)]
    with FakeServer(script) as fake:
        result = play(strokes(2), ("127.0.0.1", fake.port), 0, timeout=0.5, session="bob")
        time.sleep(0.1)
    assert not result.complete and len(result.response) == 1
    assert fake.heard[-1] == ("/robojam/stop", ["bob"])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_response_is_an_error_that_says_what_to_check():
    started = time.monotonic()
    with pytest.raises(RobojamError, match="no response came") as error:
        play(strokes(2), ("127.0.0.1", free_port()), 0, timeout=0.4)
    assert time.monotonic() - started < 1.5
    assert "robojam serve" in str(error.value) and "--listen-port" in str(error.value)


def test_a_listening_port_in_use_is_an_error():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        with pytest.raises(RobojamError, match="already in use.*--listen-port"):
            Player(("127.0.0.1", 5000), taken.getsockname()[1])


def test_an_unknown_host_is_an_error():
    with pytest.raises(RobojamError, match="cannot find host"):
        Player(("no-such-host.invalid", 5000), 0)


def test_call_messages_lift_after_each_stroke_and_start_at_once():
    messages = call_messages(strokes(2, 1, start=3.0))
    assert [a for _, a, _ in messages] == ["/robojam/touch", "/robojam/touch", "/robojam/up",
                                           "/robojam/touch", "/robojam/up"]
    assert [t for t, _, _ in messages] == pytest.approx([0.0, 0.025, 0.025, 0.225, 0.225])
    assert messages[0][2] == pytest.approx((0.1, 0.2, 0.6))

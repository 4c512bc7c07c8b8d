"""Test helpers: a robojam server on loopback and OSC peers to talk to it."""

from __future__ import annotations

import socket
import time
from contextlib import contextmanager

from pythonosc.osc_message_builder import OscMessageBuilder

from robojam.live.osc import encode, parse_datagram
from robojam.live.server import Server, ServerOptions, run_in_thread
from robojam.live.session import Settings
from synthetic import random_model


class Listener:
    """A UDP socket on an ephemeral loopback port collecting (arrival time, address, args)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.received: list[tuple[float, str, list]] = []

    def collect(self, seconds: float, until: str | None = None) -> list[tuple[float, str, list]]:
        """Receive for up to ``seconds``, stopping early after a message at ``until``."""
        stop = time.monotonic() + seconds
        while time.monotonic() < stop:
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            arrival = time.monotonic()
            for message in parse_datagram(data):
                self.received.append((arrival, message.address, message.args))
                if message.address == until:
                    return self.received
        return self.received

    def addresses(self) -> list[str]:
        return [address for _, address, _ in self.received]

    def close(self):
        self.sock.close()


class Sender:
    def __init__(self, port: int):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.target = ("127.0.0.1", port)

    def send(self, address: str, *args):
        self.sock.sendto(encode(address, *args), self.target)

    def raw(self, data: bytes):
        self.sock.sendto(data, self.target)

    def call(self, touches: int = 20, rate: float = 60.0, session: str | None = None):
        extra = (session,) if session else ()
        for i in range(touches):
            self.send("/robojam/touch", 0.2 + 0.02 * i, 0.5 + 0.01 * i, 0.6, *extra)
            time.sleep(1 / rate)

    def close(self):
        self.sock.close()


def status_of(sender: Sender, listener: Listener) -> dict:
    listener.received.clear()
    sender.send("/robojam/status")
    listener.collect(2.0, until="/robojam/status")
    args = [a for _, address, a in listener.received if address == "/robojam/status"][-1]
    return dict(zip(args[::2], args[1::2]))


@contextmanager
def running_server(settings: Settings | None = None, model=None, log=None, midi=None, **options):
    """A server in a thread on an ephemeral port, replying to a Listener; yields (server, sender, listener)."""
    listener = Listener()
    opts = ServerOptions(host="127.0.0.1", port=0, send=[("127.0.0.1", listener.port)], status_every=0,
                         seed=1, **options)
    server = Server(model or random_model(units=8), settings or Settings(threshold=0.3, seconds=1.0),
                    opts, log=log, midi=midi)
    thread = run_in_thread(server)
    sender = Sender(server.address[1])
    try:
        yield server, sender, listener
    finally:
        server.stop()
        thread.join(5)
        sender.close()
        listener.close()
        assert not thread.is_alive(), "the server did not stop"


def bundle(address: str, args: list, timetag: float) -> bytes:
    """An OSC bundle holding one message, with a time tag in Unix seconds."""
    from pythonosc.osc_bundle_builder import OscBundleBuilder

    builder = OscBundleBuilder(timetag)
    message = OscMessageBuilder(address)
    for arg in args:
        message.add_arg(arg)
    builder.add_content(message.build())
    return builder.build().dgram


class FakeClock:
    """A clock the test sets (``clock.now = ...``)."""

    def __init__(self, now: float = 100.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def clocked_server() -> Server:
    """A server on a fake clock (``server.fake_clock``), never run: tests call handle_message and read
    its state. Up to 3 performers, who expire after 60 s idle; replies would go to port 9."""
    clock = FakeClock()
    server = Server(random_model(units=4), Settings(threshold=0.3, seconds=0.5),
                    ServerOptions(host="127.0.0.1", port=0, send=[("127.0.0.1", 9)], status_every=0, seed=1,
                                  max_sessions=3, session_timeout=60.0), clock=clock)
    server.fake_clock = clock
    return server


def recording_server():
    """A ``clocked_server`` whose replies are recorded in ``server.sent`` as (host, address, args), never
    sent; a generator, for ``pytest.fixture(recording_server)``."""
    server = clocked_server()
    server.sent = []
    server.outbox.send = lambda performer, address, *args: server.sent.append((performer.host, address, list(args)))
    yield server
    server.close()

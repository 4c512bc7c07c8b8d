"""``robojam serve``: the live performance agent on UDP OSC (and MIDI).

One thread runs everything: it waits in ``select`` for a datagram, a wake-up
(a MIDI note, a signal) or the next output deadline, whichever comes first.
Incoming touches are fed to their performer's session on arrival; outputs
are sent at their absolute deadlines on the monotonic clock, so generating a
response never delays or jitters playback.

The parts: :mod:`robojam.live.transport` (the UDP socket),
:mod:`robojam.live.registry` (performers and their sessions),
:mod:`robojam.live.schedule` (when outputs leave), :mod:`robojam.live.outbox`
(where they go), :mod:`robojam.live.inbox` (messages from other threads) and
:mod:`robojam.live.status` (the counters); :class:`Server` ties them together.
"""

from __future__ import annotations

import gc
import select
import signal
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path

from robojam.core.engine import Engine
from robojam.core.modelfile import Model, default_model_path
from robojam.core.touchlog import PERFORMER
from robojam.live.logwriter import LogKeeper, TouchLog
from robojam.live.model_switch import ModelKeeper
from robojam.live.inbox import Inbox
from robojam.live.knobs import DEFAULTS
from robojam.live.osc import OscError, parse_datagram
from robojam.live.outbox import Outbox
from robojam.live.protocol import ADDRESSES, BadMessage
from robojam.live.registry import Performer, SessionRegistry
from robojam.live.schedule import OutputSchedule
from robojam.live.session import Session, Settings
from robojam.live.status import StatusReport
from robojam.live.transport import UdpTransport
from robojam.live.console import RateLimitedWarnings

PACKETS_PER_TURN = 64       # datagrams read before deadlines are checked again
TIMING_SAMPLES = 20000      # recent outputs and touches the status percentiles cover


@dataclass
class ServerOptions:
    """The server's own settings; their defaults (and ranges, help) are robojam.live.knobs'."""

    host: str = DEFAULTS["host"]
    port: int = DEFAULTS["port"]
    reply_port: int = DEFAULTS["reply_port"]
    send: list[tuple[str, int]] = field(default_factory=list)
    max_sessions: int = DEFAULTS["max_sessions"]
    session_timeout: float = DEFAULTS["session_timeout"]
    touch_rate: float = 250.0   # touches a second a performer may send; more are dropped
    status_every: float = DEFAULTS["status_every"]
    seed: int | None = DEFAULTS["seed"]
    model_path: Path | None = DEFAULTS["model"]   # the model's folder, re-read on SIGHUP (None: the shipped one)
    models_dir: Path = Path(DEFAULTS["models_dir"])  # where models named over the network are found
    model_change_gap_s: float = DEFAULTS["model_change_gap"]  # a host may change the model once in this many s


class Server:
    """Receives touches, runs sessions, sends responses; see :mod:`robojam.live.protocol`."""

    def __init__(self, model: Model, settings: Settings, options: ServerOptions,
                 log: TouchLog | None = None, midi=None, adapter=None, clock=time.monotonic):
        self.adapter = adapter  # translates another app's OSC (robojam.live.adapters), or None
        self.settings = settings
        self.options = options
        self.log = log
        self.midi = midi
        self.clock = clock
        self.counts = Counter()
        self.drops = Counter()
        self.timing_errors: deque[float] = deque(maxlen=TIMING_SAMPLES)   # seconds late, per output
        self.feed_latency: deque[float] = deque(maxlen=TIMING_SAMPLES)    # seconds from arrival to state
        self.arrival_ns: int | None = None  # when the message in hand reached the machine (wall clock ns)
        self.registry = SessionRegistry(
            Engine(model), settings, self.counts, max_sessions=options.max_sessions,
            session_timeout=options.session_timeout, touch_rate=options.touch_rate, seed=options.seed)
        self.schedule = OutputSchedule(clock)
        self.transport = UdpTransport(options.host, options.port, self.drops)
        self.logbook = LogKeeper(log, self.counts)
        self.outbox = Outbox(self.transport, options, self.counts, self.timing_errors, self.logbook.record, clock,
                             adapter=adapter, midi=midi)
        self.inbox = Inbox()  # messages from other threads: MIDI, the web page
        self._stopping = False
        self.report = StatusReport(self.counts, self.drops, lambda: len(self.performers),
                                   {"timing_error_us_p99": self.timing_errors,
                                    "feed_latency_us_p99": self.feed_latency},
                                   options.status_every, clock, adapter)
        self.bridges: list = []  # robojam.live.bridge.Bridge: opened with open(), stopped by close()
        if midi is not None:
            self.bridges.append(midi)  # opened already; its stop sends notes off and closes its ports
        self.warnings = RateLimitedWarnings()  # about incoming traffic: one line per reason every few seconds
        self.models = ModelKeeper(
            model, Path(options.model_path) if options.model_path is not None else default_model_path(),
            options.models_dir, self.registry, self._reply, self.drops, self.inbox.run_soon, self.warnings,
            RateLimitedWarnings(write=lambda line: print(line, flush=True)),
            change_gap_s=options.model_change_gap_s, clock=clock)

    @property
    def address(self) -> tuple[str, int]:
        return self.transport.address

    def open(self, bridge) -> None:
        """Start a bridge (robojam.live.bridge) and route its performers' replies to it; close() stops it."""
        bridge.start()
        self.bridges.append(bridge)
        self.outbox.bridges[bridge.scheme] = bridge

    @property
    def web(self):
        """The web app (robojam.live.webapp), None without --web or --api."""
        return self.outbox.bridges.get("web")

    @property
    def performers(self) -> dict[str, Performer]:
        return self.registry.performers

    # --- the loop ---------------------------------------------------------------

    def serve_forever(self) -> None:
        # What is loaded by now lives as long as the server: out of the garbage
        # collector's full sweeps, which would otherwise stall the loop ~20 ms.
        gc.freeze()
        while not self._stopping:
            deadline = self.schedule.next_deadline(p.session for p in self.performers.values())
            readable, _, _ = select.select([self.transport, self.inbox], [], [], self.schedule.wait(deadline))
            if not readable and self.schedule.near(deadline):
                self.schedule.settle(deadline)
            if self.inbox in readable:
                self.inbox.drain_wakes()
            if self.transport in readable:
                self._receive()
            self._take_incoming()
            self.schedule.send_due(self.performers, self.outbox.output)
            self._housekeeping()
        self._shutdown()

    def stop(self) -> None:
        """Ask the loop to end (from a signal handler or another thread)."""
        self._stopping = True
        self.inbox.wake()

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stop())
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, lambda *_: self.inbox.run_soon(self.reload_model))

    # --- the model (robojam.live.model_switch) ------------------------------------------

    @property
    def model(self) -> Model:
        return self.models.model

    @property
    def model_path(self) -> Path:
        return self.models.path

    def change_model(self, key: str, spec: str) -> None:
        self.models.change(key, self.performers[key].host, spec)

    def reload_model(self) -> None:
        self.models.reload()

    def _reply(self, key: str | None, address: str, *args) -> None:
        if key in self.performers:
            self.outbox.send(self.performers[key], address, *args)

    def _receive(self) -> None:
        for data, host, arrival_ns in self.transport.receive(PACKETS_PER_TURN):
            self.arrival_ns = arrival_ns
            try:
                keys = self.handle_datagram(data, host, self.clock())
                self.schedule.send_due_now(self.performers, keys, self.outbox.output)
            except Exception as e:  # noqa: BLE001 - one bad datagram must not stop the performance
                self._internal_error(e)

    def _internal_error(self, error: Exception) -> None:
        """Count a bug met while handling input, and say so (at most every few seconds), without stopping."""
        self.drops["internal_error"] += 1
        self.warnings.warn("internal_error", f"internal error while handling a message, carrying on: {error!r}"[:300])

    # --- incoming -------------------------------------------------------------

    def handle_datagram(self, data: bytes, host: str, now: float) -> set[str]:
        """Act on a datagram; returns the keys of the performers it concerned."""
        self.counts["received"] += 1
        try:
            messages = parse_datagram(data)
        except OscError as e:
            self.drops[e.reason] += 1  # malformed, or unknown_type_tag
            return set()
        keys = set()
        for message in messages:
            for path, args in self._translate_in(message.address, message.args):
                keys.add(self.handle_message(path, args, message.timetag, host, now))
        keys.discard(None)
        return keys

    def _translate_in(self, path: str, args: list) -> list[tuple[str, list]]:
        """Another app's messages as robojam's, through the preset's adapter (if any)."""
        return [(path, args)] if self.adapter is None else self.adapter.incoming(path, args)

    def handle_message(self, path: str, args: list, timetag: float | None, host: str, now: float) -> str | None:
        """Act on one message; returns the key of its performer, None if it was dropped."""
        entry = ADDRESSES.get(path)
        if entry is None:
            self.drops["unknown_address"] += 1
            return None
        try:
            values, session_id = entry.parse(args)
            key = self.registry.key(host, session_id, self.clock())
            entry.handler(self, key, values, timetag, now)
        except BadMessage as e:
            self.drops[e.reason] += 1
            return None
        return key

    def session(self, key: str, now: float) -> Session:
        return self.registry.session(key, now)

    def performer_touch(self, key: str, x: float, y: float, z: float, timetag: float | None, now: float) -> None:
        """Log every valid touch; feed it to the session unless the performer exceeds the touch rate."""
        performer = self.performers[key]
        self.logbook.record(key, PERFORMER, x, y, z, performer.stroke_open)
        self.counts["touches"] += 1
        if not self.registry.allow_touch(performer, now):
            raise BadMessage("rate_limited", f"{key} sends touches faster than {self.options.touch_rate}/s")
        performer.session.touch(x, y, z, now, timetag)
        if self.arrival_ns is not None:  # each touch timed from its own arrival, whatever its transport
            self.feed_latency.append((time.time_ns() - self.arrival_ns) / 1e9)
        if self.midi is not None:
            self.midi.performer_touch(x, y, z, not performer.stroke_open, now)
        performer.stroke_open = True

    def performer_up(self, key: str, now: float) -> None:
        performer = self.performers[key]
        performer.session.up(now)
        performer.last_active = now
        performer.stroke_open = False
        if self.midi is not None:
            self.midi.performer_up()

    def _take_incoming(self) -> None:
        """Tasks and messages posted by other threads; messages are handled like OSC from their pseudo-host."""
        for item in self.inbox.messages():
            try:
                if callable(item):
                    self.arrival_ns = None
                    item()
                    continue
                path, args, host, arrival_ns = item
                self.arrival_ns = arrival_ns
                keys = {self.handle_message(path, args, None, host, self.clock())} - {None}
                self.schedule.send_due_now(self.performers, keys, self.outbox.output)
            except Exception as e:  # noqa: BLE001 - as for datagrams
                self._internal_error(e)

    def post(self, path: str, args: list, host: str = "midi") -> None:
        """Queue a message from another thread (it is handled on the server's thread).

        ``host`` names the performer as ``SCHEME:PEER`` (robojam.live.bridge): "midi" for a MIDI
        keyboard, "web:ID" for a browser connection; replies go back through that scheme's bridge.
        """
        self.inbox.post(path, args, host)

    def post_steer(self, name: str, value: float) -> None:
        """Turn a knob for every performer, from another thread (a MIDI controller's knob)."""
        self.inbox.run_soon(lambda: self.steer_everyone(name, value))

    def steer_everyone(self, name: str, value: float) -> None:
        """Turn a knob for every performer, and for every performer to come."""
        self.settings = self.settings.changed(name, value)
        self.registry.start_with(self.settings)
        now = self.clock()
        for performer in self.performers.values():
            performer.session.apply(name, value, now)

    # --- outgoing -------------------------------------------------------------

    def send_status(self, key: str, now: float) -> None:
        args: list = ["model", self.model_path.name]
        for name, value in self.status().items():
            args += [name, int(value)]
        for name, value in self.performers[key].session.settings.steer().items():
            args += [name, float(value)]  # the asking performer's knobs
        self.outbox.send(self.performers[key], "/robojam/status", *args)

    def status(self) -> dict[str, int]:
        return self.report.figures()

    def status_line(self) -> str:
        return f"{self.report.line()}; model {self.model_path.name}"

    # --- upkeep -----------------------------------------------------------------

    def _housekeeping(self) -> None:
        now = self.clock()
        self.registry.expire(now)
        if self.midi is not None:
            self.midi.check(now)
        self.report.tick(now)

    def _shutdown(self) -> None:
        now = self.clock()
        for key, performer in self.performers.items():
            performer.session.stop(now)
            for output in performer.session.due(now):
                self.outbox.output(key, performer, output)
        self.close()

    def close(self) -> None:
        """Bridges stopped, last opened first (MIDI's notes off last), logs and sockets closed (also for a
        server never run)."""
        while self.bridges:
            self.bridges.pop().stop()
        self.models.close()
        self.logbook.close()
        self.transport.close()
        self.inbox.close()


def run_in_thread(server: Server) -> threading.Thread:
    """Serve on a background thread (tests and benchmarks); ``server.stop()`` ends it."""
    thread = threading.Thread(target=server.serve_forever, name="robojam-server", daemon=True)
    thread.start()
    return thread

"""``robojam serve``: the live performance agent on UDP OSC (and MIDI).

One thread runs everything: it waits in ``select`` for a datagram, a wake-up
(a MIDI note, a signal) or the next output deadline, whichever comes first.
Incoming touches are fed to their performer's session on arrival; outputs
are sent at their absolute deadlines on the monotonic clock, so generating a
response never delays or jitters playback (see ``_settle`` for the last half
millisecond before a deadline).
"""

from __future__ import annotations

import gc
import signal
import socket
import sys
import struct
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from queue import Empty, SimpleQueue

import numpy as np

from robojam import RobojamError
from robojam.core.engine import Engine
from robojam.core.modelfile import Model
from robojam.live.osc import OscError, encode, parse_datagram
from robojam.live.protocol import ADDRESSES, BadMessage
from robojam.live.session import Output, Session, Settings
from robojam.core.touchlog import PERFORMER, ROBOJAM, TouchLog

SO_RXQ_OVFL = 40            # Linux: ancillary count of datagrams the socket buffer dropped
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux: kernel arrival time of each datagram
RECEIVE_BUFFER = 4 << 20    # bytes: room for bursts while a response is generated
PACKETS_PER_TURN = 64       # datagrams read before deadlines are checked again
MAX_DATAGRAM = 65536
SETTLE_S = 0.0005           # the loop wakes this long before a deadline and waits it out awake
SETTLE_SHARE = 0.05         # ...for at most this many seconds in each second
ANCILLARY_SPACE = socket.CMSG_SPACE(4) + socket.CMSG_SPACE(16)


@dataclass
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 5000
    reply_port: int = 5001
    send: list[tuple[str, int]] = field(default_factory=list)
    max_sessions: int = 16
    session_timeout: float = 600.0
    touch_rate: float = 250.0   # touches a second a performer may send; more are dropped
    status_every: float = 10.0  # seconds between status lines (0: never)
    seed: int | None = None


@dataclass
class Performer:
    """A session and what the server knows of its performer."""

    session: Session
    host: str
    last_active: float
    allowance: float        # token bucket for the touch rate
    stroke_open: bool = False           # the performer's finger is down
    robojam_stroke_open: bool = False   # robojam's finger is down


class Server:
    """Receives touches, runs sessions, sends responses; see :mod:`robojam.live.protocol`."""

    def __init__(self, model: Model, settings: Settings, options: ServerOptions,
                 log: TouchLog | None = None, midi=None, adapter=None, clock=time.monotonic):
        self.model = model
        self.adapter = adapter  # translates another app's OSC (robojam.live.adapters), or None
        self.settings = settings
        self.options = options
        self.log = log
        self.midi = midi
        self.clock = clock
        self.counts = Counter()
        self.drops = Counter()
        self.performers: dict[str, Performer] = {}
        self.timing_errors: deque[float] = deque(maxlen=20000)   # seconds late, per output
        self.feed_latency: deque[float] = deque(maxlen=20000)    # seconds from arrival to state
        self._seeds = np.random.SeedSequence(options.seed)
        self._engine = Engine(model)  # its kernels are shared by every session's engine
        self._incoming = SimpleQueue()  # (path, args, host) from other threads: MIDI, the web page
        self._stopping = False
        self.sock = self._open_socket()
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._last_status = clock()
        self._overflow_seen = 0
        self.keyboard = None  # an open MIDI input, closed at shutdown
        self.web = None       # the browser bridge (robojam.live.web), stopped at shutdown
        self._arrival_ns: int | None = None  # kernel arrival time of the datagram in hand
        self._settle_window, self._settled = clock(), 0.0  # spin-wait budget (see _settle)

    def _open_socket(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            sock.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        except OSError:
            pass  # not Linux: no overflow count or arrival times, a smaller buffer
        try:
            sock.bind((self.options.host, self.options.port))
        except OSError as e:
            sock.close()
            raise RobojamError(f"cannot listen on {self.options.host}:{self.options.port} ({e.strerror or e}); "
                               "is another robojam running? choose another --port") from None
        sock.setblocking(False)
        return sock

    @property
    def address(self) -> tuple[str, int]:
        return self.sock.getsockname()

    # --- the loop ---------------------------------------------------------------

    def serve_forever(self) -> None:
        import select

        # What is loaded by now lives as long as the server: out of the garbage
        # collector's full sweeps, which would otherwise stall the loop ~20 ms.
        gc.freeze()
        while not self._stopping:
            deadline = self._next_deadline()
            wait = 0.5 if deadline is None else min(max(deadline - self.clock() - SETTLE_S, 0.0), 0.5)
            readable, _, _ = select.select([self.sock, self._wake_read], [], [], wait)
            if not readable and deadline is not None and deadline - self.clock() <= SETTLE_S:
                self._settle(deadline)
            if self._wake_read in readable:
                self._drain_wake()
            if self.sock in readable:
                self._receive()
            self._take_incoming()
            self._send_due()
            self._housekeeping()
        self._shutdown()

    def stop(self) -> None:
        """Ask the loop to end (from a signal handler or another thread)."""
        self._stopping = True
        self.wake()

    def wake(self) -> None:
        try:
            self._wake_write.send(b"!")
        except OSError:
            pass

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stop())

    def _next_deadline(self) -> float | None:
        deadlines = [d for d in (p.session.next_deadline() for p in self.performers.values()) if d is not None]
        return min(deadlines) if deadlines else None

    def _settle(self, deadline: float) -> None:
        """Wait out the last SETTLE_S before a deadline awake, so the output leaves on time.

        Waking from sleep takes a varying fraction of a millisecond; spinning
        this briefly keeps the lateness of response touches well under a
        millisecond. The spinning is capped at SETTLE_SHARE of each second, so
        many performers' dense deadlines never pin a core: past the cap the
        loop simply sleeps to each deadline.
        """
        now = self.clock()
        if now - self._settle_window > 1.0:
            self._settle_window, self._settled = now, 0.0
        if self._settled >= SETTLE_SHARE:
            return
        while self.clock() < deadline:
            pass
        self._settled += self.clock() - now

    def _drain_wake(self) -> None:
        try:
            while self._wake_read.recv(4096):
                pass
        except OSError:
            pass

    def _receive(self) -> None:
        for _ in range(PACKETS_PER_TURN):
            try:
                data, ancillary, _, sender = self.sock.recvmsg(MAX_DATAGRAM, ANCILLARY_SPACE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.drops["socket_error"] += 1
                return
            self._arrival_ns = self._read_ancillary(ancillary)
            try:
                self._send_due_now(self.handle_datagram(data, sender[0], self.clock()))
            except Exception as e:  # noqa: BLE001 - one bad datagram must not stop the performance
                self._internal_error(e)

    def _internal_error(self, error: Exception) -> None:
        """Count a bug met while handling input, and say so once, without stopping."""
        self.drops["internal_error"] += 1
        if self.drops["internal_error"] == 1:
            print(f"robojam: internal error while handling a message, carrying on: {error!r}",
                  file=sys.stderr, flush=True)

    def _read_ancillary(self, ancillary) -> int | None:
        """Count socket-buffer overflows; return the kernel's arrival time (ns, wall clock) if given."""
        arrival = None
        for level, kind, payload in ancillary:
            if level != socket.SOL_SOCKET:
                continue
            if kind == SO_RXQ_OVFL and len(payload) >= 4:
                total = struct.unpack("=I", payload[:4])[0]
                if total > self._overflow_seen:
                    self.drops["socket_overflow"] += total - self._overflow_seen
                    self._overflow_seen = total
            elif kind == SO_TIMESTAMPNS and len(payload) >= 16:
                seconds, nanoseconds = struct.unpack("=qq", payload[:16])
                arrival = seconds * 1_000_000_000 + nanoseconds
        return arrival

    # --- incoming -------------------------------------------------------------

    def handle_datagram(self, data: bytes, host: str, now: float) -> set[str]:
        """Act on a datagram; returns the keys of the performers it concerned."""
        self.counts["received"] += 1
        try:
            messages = parse_datagram(data)
        except OscError:
            self.drops["malformed"] += 1
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
            key = self._key(host, session_id)
            entry.handler(self, key, values, timetag, now)
        except BadMessage as e:
            self.drops[e.reason] += 1
            return None
        return key

    def _key(self, host: str, session_id: str | None) -> str:
        key = f"{host}/{session_id}" if session_id else host
        if key not in self.performers:
            self._admit(key, host)
        self.performers[key].host = host
        return key

    def _admit(self, key: str, host: str) -> None:
        if len(self.performers) >= self.options.max_sessions and not self._evict_one():
            raise BadMessage("too_many_sessions", f"no room for performer {key}")
        now = self.clock()
        rng = np.random.default_rng(self._seeds.spawn(1)[0])
        session = Session(self._engine.spawn(), Settings(**vars(self.settings)), rng)
        self.performers[key] = Performer(session, host, now, allowance=self.options.touch_rate)
        self.counts["sessions_started"] += 1

    def _evict_one(self) -> bool:
        idle = [(p.last_active, k) for k, p in self.performers.items() if not p.session.playing]
        if not idle:
            return False
        self._end_session(min(idle)[1])
        return True

    def session(self, key: str, now: float) -> Session:
        performer = self.performers[key]
        performer.last_active = now
        return performer.session

    def performer_touch(self, key: str, x: float, y: float, z: float, timetag: float | None, now: float) -> None:
        """Log every valid touch; feed it to the session unless the performer exceeds the touch rate."""
        performer = self.performers[key]
        self._log(key, PERFORMER, x, y, z, performer.stroke_open)
        self.counts["touches"] += 1
        refill = (now - performer.last_active) * self.options.touch_rate
        performer.allowance = min(self.options.touch_rate, performer.allowance + refill)
        performer.last_active = now
        if performer.allowance < 1:
            raise BadMessage("rate_limited", f"{key} sends touches faster than {self.options.touch_rate}/s")
        performer.allowance -= 1
        performer.session.touch(x, y, z, now, timetag)
        self.feed_latency.append(self._since_arrival(now))
        if self.midi is not None:
            self.midi.performer_touch(x, y, z, not performer.stroke_open, now)
        performer.stroke_open = True

    def _since_arrival(self, now: float) -> float:
        """Seconds from the datagram reaching the machine (or being read) to now."""
        if self._arrival_ns is not None:
            return (time.time_ns() - self._arrival_ns) / 1e9
        return self.clock() - now

    def performer_up(self, key: str, now: float) -> None:
        performer = self.performers[key]
        performer.session.up(now)
        performer.last_active = now
        performer.stroke_open = False
        if self.midi is not None:
            self.midi.performer_up()

    def _take_incoming(self) -> None:
        """Messages queued by other threads, handled like OSC from their pseudo-host."""
        while True:
            try:
                path, args, host = self._incoming.get_nowait()
            except Empty:
                return
            try:
                self._send_due_now({self.handle_message(path, args, None, host, self.clock())} - {None})
            except Exception as e:  # noqa: BLE001 - as for datagrams
                self._internal_error(e)

    def post(self, path: str, args: list, host: str = "midi") -> None:
        """Queue a message from another thread (it is handled on the server's thread).

        ``host`` names the performer: "midi" for a MIDI keyboard, "web:ID" for
        a browser connection (whose replies go back over its connection).
        """
        self._incoming.put((path, list(args), host))
        self.wake()

    # --- outgoing -------------------------------------------------------------

    def _send_due_now(self, keys: set[str]) -> None:
        """Send what a message made due at once (a response's start, a barge-in's end) before reading on."""
        for key in keys:
            performer = self.performers.get(key)
            deadline = performer.session.next_deadline() if performer is not None else None
            if deadline is not None and deadline <= self.clock():
                for output in performer.session.due(self.clock()):
                    self._send_output(key, performer, output)

    def _send_due(self) -> None:
        """Send every output that is due, then let sessions generate ahead."""
        performers = list(self.performers.items())
        for key, performer in performers:
            for output in performer.session.due(self.clock()):
                self._send_output(key, performer, output)
        for _, performer in performers:
            performer.session.prepare(self.clock())

    def _send_output(self, key: str, performer: Performer, output: Output) -> None:
        if output.kind == "touch":
            self._send(performer, "/robojam/response/touch", output.x, output.y, output.z)
            self.timing_errors.append(self.clock() - output.deadline)
            self._log(key, ROBOJAM, output.x, output.y, output.z, performer.robojam_stroke_open)
            performer.robojam_stroke_open = True
        else:
            performer.robojam_stroke_open = False
            self._send(performer, f"/robojam/response/{output.kind}")
            if output.kind == "start":
                self.counts["responses"] += 1
        if self.midi is not None:
            self.midi.robojam_output(output, self.clock())

    def _send(self, performer: Performer, address: str, *args) -> None:
        """To a browser over its connection; else over OSC to --send or the performer's host."""
        if performer.host.startswith("web:"):
            if self.web is not None:
                self.web.send(performer.host[4:], address, list(args))
            return
        destinations = self.options.send or [(performer.host, self.options.reply_port)]
        messages = [(address, list(args))] if self.adapter is None else self.adapter.outgoing(address, list(args))
        for datagram in [encode(a, *values) for a, values in messages]:
            for destination in destinations:
                if destination[0] == "midi":
                    continue
                try:
                    self.sock.sendto(datagram, destination)
                except OSError:
                    self.drops["send_failed"] += 1

    def send_status(self, key: str, now: float) -> None:
        args: list = []
        for name, value in self.status().items():
            args += [name, int(value)]
        self._send(self.performers[key], "/robojam/status", *args)

    def status(self) -> dict[str, int]:
        figures = {"sessions": len(self.performers), "received": self.counts["received"],
                   "touches": self.counts["touches"], "responses": self.counts["responses"]}
        drops = dict(self.drops)
        if self.adapter is not None and self.adapter.dropped:
            drops["adapter"] = self.adapter.dropped
        figures["dropped"] = sum(drops.values())
        figures.update({f"dropped.{reason}": n for reason, n in sorted(drops.items())})
        for name, samples in (("timing_error_us_p99", self.timing_errors), ("feed_latency_us_p99", self.feed_latency)):
            if samples:
                figures[name] = int(np.percentile(np.fromiter(samples, float), 99) * 1e6)
        return figures

    def status_line(self) -> str:
        figures = self.status()
        drops = ", ".join(f"{k.split('.', 1)[1]} {v}" for k, v in figures.items() if k.startswith("dropped."))
        return (f"{figures['sessions']} performer(s), {figures['touches']} touches heard, "
                f"{figures['responses']} responses, {figures['dropped']} dropped" + (f" ({drops})" if drops else ""))

    # --- upkeep -----------------------------------------------------------------

    def _housekeeping(self) -> None:
        now = self.clock()
        for key, performer in list(self.performers.items()):
            if now - performer.last_active > self.options.session_timeout and not performer.session.playing:
                self._end_session(key)
        if self.midi is not None:
            self.midi.check(now)
        if self.options.status_every and now - self._last_status >= self.options.status_every:
            self._last_status = now
            if self.counts["received"]:
                print(time.strftime("%H:%M:%S"), self.status_line(), flush=True)

    def _end_session(self, key: str) -> None:
        self.performers.pop(key, None)
        self.counts["sessions_ended"] += 1

    def _log(self, key: str, source: str, x: float, y: float, z: float, moving: bool) -> None:
        if self.log is None:
            return
        try:
            self.log.write(key, source, self.log.now(), x, y, z, moving)
        except (RobojamError, ValueError):
            self.drops["log_failed"] += 1

    def _shutdown(self) -> None:
        now = self.clock()
        for key, performer in self.performers.items():
            performer.session.stop(now)
            for output in performer.session.due(now):
                self._send_output(key, performer, output)
        self.close()

    def close(self) -> None:
        """Notes off, inputs, web page, logs and sockets closed (also for a server never run)."""
        if self.midi is not None:
            self.midi.all_notes_off()
        if self.keyboard is not None:
            self.keyboard.close()
        if self.web is not None:
            self.web.stop()
        if self.log is not None:
            self.log.close()
        self.sock.close()
        self._wake_read.close()
        self._wake_write.close()


def run_in_thread(server: Server) -> threading.Thread:
    """Serve on a background thread (tests and benchmarks); ``server.stop()`` ends it."""
    thread = threading.Thread(target=server.serve_forever, name="robojam-server", daemon=True)
    thread.start()
    return thread

"""Play a recorded performance to a robojam server over OSC and record its answer.

``robojam play CALL.csv`` is the performer's side of ``robojam serve`` without
a touchscreen: it sends the call's touches at their times (``/robojam/touch``,
``/robojam/up`` after each stroke), asks for a response (``/robojam/respond``)
and records ``/robojam/response/...`` as it arrives into a performance.

The listening socket is bound before anything is sent, so no reply is missed,
and the call is sent from it too: the server replies to the sending host on its
``--reply-port``, which must be the port listened on here. With a session id,
every message sent ends with it, and so does every reply: replies for other
sessions (other players on this host, with ``--send`` to one port) are ignored.
"""

from __future__ import annotations

import ipaddress
import math
import select
import socket
import time
from dataclasses import dataclass
from collections.abc import Callable

import numpy as np

from robojam import RobojamError
from robojam.live.osc import OscError, encode, parse_datagram
from robojam.core.performance import COLUMNS, DEFAULT_Z, Performance

OnEvent = Callable[[str, tuple], None]
Clock = Callable[[], float]
MAX_DATAGRAM = 65536


@dataclass
class PlayResult:
    """What came back for a call."""

    response: Performance
    sent: int                # touches sent
    seconds_waited: float    # from the end of the call to the response's end (or to giving up)
    complete: bool = True    # False: the response began but no /robojam/response/end came in time
    ignored: int = 0         # messages ignored: malformed, other addresses, bad arguments, or during the call


class ResponseRecorder:
    """Builds a performance from ``/robojam/response/...`` messages and their arrival times."""

    def __init__(self):
        self.ignored = 0
        self.restart(None)

    def restart(self, origin: float | None) -> None:
        self.rows: list[tuple[float, float, float, float, float]] = []
        self.origin = origin   # arrival of /robojam/response/start (or of the first touch)
        self.stroke_open = False
        self.ended = False

    @property
    def started(self) -> bool:
        return self.origin is not None

    def message(self, address: str, args: list, arrival: float) -> bool:
        """Take one message; False when it is not a well-formed response message (it is ignored).

        start, up and end take no arguments: with one (another session's id) they are not ours."""
        if address in ("/robojam/response/start", "/robojam/response/up", "/robojam/response/end") and args:
            self.ignored += 1
            return False
        if address == "/robojam/response/start":
            self.restart(arrival)
        elif address == "/robojam/response/touch" and (point := touch_args(args)) is not None:
            if self.origin is None:  # the start datagram was lost: time from the first touch
                self.origin = arrival
            self.rows.append((arrival - self.origin, *point, 1.0 if self.stroke_open else 0.0))
            self.stroke_open = True
        elif address == "/robojam/response/up":
            self.stroke_open = False
        elif address == "/robojam/response/end" and self.started:
            self.ended = True
        else:
            self.ignored += 1
            return False
        return True

    def performance(self) -> Performance:
        return Performance(np.array(self.rows, dtype=np.float64).reshape(-1, len(COLUMNS)))


def touch_args(args: list) -> tuple[float, float, float] | None:
    """``x y [z]`` as finite floats, or None for anything else."""
    if len(args) not in (2, 3) or not all(_is_number(a) for a in args):
        return None
    x, y, z = (*map(float, args), DEFAULT_Z)[:3]
    return x, y, z


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def call_messages(call: Performance) -> list[tuple[float, str, tuple]]:
    """The call as (seconds from its first touch, address, args): a touch per event, an up after each stroke."""
    messages: list[tuple[float, str, tuple]] = []
    events = call.events
    for i, (t, x, y, z, _) in enumerate(events):
        offset = float(t - events[0, 0])
        messages.append((offset, "/robojam/touch", (float(x), float(y), float(z))))
        if i + 1 == len(events) or events[i + 1, 4] == 0:
            messages.append((offset, "/robojam/up", ()))
    return messages


class Player:
    """A performer without a touchscreen: binds its port on creation, then :meth:`play` sends and listens."""

    def __init__(self, to: tuple[str, int], listen_port: int, listen_host: str | None = None,
                 session: str | None = None, on_event: OnEvent | None = None, clock: Clock = time.monotonic):
        self.to = (_resolve(to[0]), int(to[1]))
        self.destination = f"{to[0]}:{to[1]}"
        self.session = session
        self.on_event = on_event
        self.clock = clock
        self.sock = _bind(listen_host or _listen_host_for(self.to[0]), listen_port)

    @property
    def listen_port(self) -> int:
        return self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Player:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def play(self, call: Performance, timeout: float = 15.0, respond_now: bool = True) -> PlayResult:
        """Send the call in real time, ask for a response (or let the server's silence threshold do it), record it.

        ``timeout`` counts from the end of the call. Raises RobojamError when
        nothing of a response comes in that time; a response that starts but
        does not end in time is returned with ``complete`` False (and the
        server is sent ``/robojam/stop``).
        """
        ignored = self._send_call(call)
        if respond_now:
            self._send("/robojam/respond")
        waiting_since = self.clock()
        recorder = self._record(waiting_since + timeout)
        waited = self.clock() - waiting_since
        if not recorder.started:
            raise RobojamError(self._no_response_message(timeout))
        if not recorder.ended:
            self._send("/robojam/stop")
        return PlayResult(recorder.performance(), len(call), waited, recorder.ended, ignored + recorder.ignored)

    def _send_call(self, call: Performance) -> int:
        """Send each message at its deadline; returns how many messages arrived meanwhile (all ignored).

        Anything heard during the call is a response the call's own touches
        interrupt (a pause longer than the server's threshold): not the answer.
        """
        ignored = 0
        start = self.clock()
        for offset, address, args in call_messages(call):
            ignored += len(self._receive_until(start + offset))
            self._send(address, *args)
        return ignored

    def _record(self, deadline: float) -> ResponseRecorder:
        recorder = ResponseRecorder()
        while not recorder.ended and self.clock() < deadline:
            for arrival, address, args in self._receive_until(deadline, first_only=True):
                if recorder.message(address, args, arrival) and self.on_event:
                    self.on_event(address, tuple(args))
                if recorder.ended:
                    break
        return recorder

    def _receive_until(self, deadline: float, first_only: bool = False) -> list[tuple[float, str, list]]:
        """Messages arriving before the deadline (waiting in select), or the first datagram's if first_only."""
        received: list[tuple[float, str, list]] = []
        while (remaining := deadline - self.clock()) > 0:
            readable, _, _ = select.select([self.sock], [], [], remaining)
            if not readable:
                break
            received += self._read_datagram()
            if first_only:
                break
        return received

    def _read_datagram(self) -> list[tuple[float, str, list]]:
        try:
            data = self.sock.recv(MAX_DATAGRAM)
        except OSError:  # e.g. an ICMP error reported on the socket: nothing to read
            return []
        arrival = self.clock()
        try:
            return [(arrival, m.address, self._own_args(m.args)) for m in parse_datagram(data)]
        except OscError:
            return [(arrival, "", [])]  # malformed: an unknown address, so ignored and counted

    def _own_args(self, args: list) -> list:
        """A reply's arguments without the session id it ends with (robojam serve adds ours to every
        reply); a reply for another session gets an argument no response takes, so it is ignored."""
        if self.session and args and args[-1] == self.session:
            return args[:-1]
        return args

    def _send(self, address: str, *args) -> None:
        if self.session:
            args = (*args, self.session)
        try:
            self.sock.sendto(encode(address, *args), self.to)
        except OSError as e:
            raise RobojamError(f"cannot send to {self.destination} ({e.strerror or e}); check --to") from None
        if self.on_event:
            self.on_event(address, args)

    def _no_response_message(self, timeout: float) -> str:
        return (f"no response came from {self.destination} within {timeout:g} s on port {self.listen_port}: "
                f"is `robojam serve` running there with --port {self.to[1]}, and does it reply to this "
                f"machine on --listen-port {self.listen_port} (its --reply-port, or --send HOST:"
                f"{self.listen_port})? check --to and --listen-port")


def play(call: Performance, to: tuple[str, int], listen_port: int, listen_host: str | None = None,
         timeout: float = 15.0, session: str | None = None, respond_now: bool = True,
         on_event: OnEvent | None = None, clock: Clock = time.monotonic) -> PlayResult:
    """Play ``call`` to the robojam server at ``to`` and record its response, listening on ``listen_port``.

    ``listen_host`` defaults to loopback when ``to`` is on this machine, else
    to all interfaces (the server replies to the host it heard from).
    ``session``, when given, ends every message (several performers on one
    host). ``on_event(address, args)`` hears every message sent and every
    response message received.
    """
    with Player(to, listen_port, listen_host, session, on_event, clock) as player:
        return player.play(call, timeout, respond_now)


def _resolve(host: str) -> str:
    try:
        return socket.gethostbyname(host)
    except OSError:
        raise RobojamError(f"cannot find host {host!r}; check --to") from None


def _listen_host_for(address: str) -> str:
    return "127.0.0.1" if ipaddress.ip_address(address).is_loopback else "0.0.0.0"


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise RobojamError(f"cannot listen on {host}:{port} ({e.strerror or e}); is something else "
                           "(another robojam play, oscdump) using that port? choose another --listen-port") from None
    return sock

"""Sending robojam's part: each output to its performer over OSC or its bridge, and to MIDI, logged and timed."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable

from robojam.core.touchlog import ROBOJAM
from robojam.live.bridge import Bridge, split_host
from robojam.live.osc import encode
from robojam.live.registry import Performer
from robojam.live.session import Output
from robojam.live.transport import UdpTransport


class Outbox:
    """Routes outputs: to the bridge whose scheme the performer's host names (``bridges``), else OSC to
    ``send`` or the performer's host.

    Every message for a performer known by a session id ends with that id
    (robojam's own form; an adapter's out-rules build the app's from named arguments).

    ``options`` are the server's (``send``, ``reply_port``, read at each send);
    ``log_touch(key, source, x, y, z, moving)`` records each touch played;
    ``timing_errors`` holds how late each touch left against its deadline.
    """

    def __init__(self, transport: UdpTransport, options, counts: Counter, timing_errors: deque,
                 log_touch: Callable, clock: Callable[[], float], adapter=None, midi=None):
        self.transport = transport
        self.options = options  # the server's: its send and reply_port
        self.counts = counts
        self.timing_errors = timing_errors
        self.log_touch = log_touch
        self.clock = clock
        self.adapter = adapter
        self.midi = midi
        self.bridges: dict[str, Bridge] = {}  # scheme -> the bridge that reaches its performers

    def output(self, key: str, performer: Performer, output: Output) -> None:
        if output.kind == "touch":
            self.send(performer, "/robojam/response/touch", output.x, output.y, output.z)
            self.timing_errors.append(self.clock() - output.deadline)
            self.log_touch(key, ROBOJAM, output.x, output.y, output.z, performer.robojam_stroke_open)
            performer.robojam_stroke_open = True
        elif output.kind == "plan":
            self.send(performer, "/robojam/plan", *plan_args(output.points, self.clock()))
            return
        else:
            performer.robojam_stroke_open = False
            self.send(performer, f"/robojam/response/{output.kind}")
            if output.kind == "start":
                self.counts["responses"] += 1
                self.counts["drafted"] += output.drafted
        if self.midi is not None:
            self.midi.robojam_output(output, self.clock())

    def send(self, performer: Performer, address: str, *args) -> None:
        """One message to a performer; one with a session id gets it as its last argument."""
        if performer.session_id is not None:
            args = (*args, performer.session_id)
        scheme, peer = split_host(performer.host)
        bridge = self.bridges.get(scheme)
        if bridge is None:
            self.osc(address, list(args), self.options.send or [(performer.host, self.options.reply_port)])
        elif not bridge.send(peer, address, list(args)):
            self.osc(address, list(args), self.options.send)

    def osc(self, address: str, args: list, destinations: list[tuple[str, int]]) -> None:
        """One message over OSC to each destination, in the preset's app's terms if it has an adapter."""
        messages = [(address, args)] if self.adapter is None else self.adapter.outgoing(address, args)
        for datagram in [encode(a, *values) for a, values in messages]:
            for destination in destinations:
                self.transport.send(datagram, destination)


def plan_args(points: tuple, now: float) -> list[float]:
    """A plan's touches as /robojam/plan sends them: (seconds from ``now``, x, y), flat."""
    args = []
    for deadline, x, y in points:
        args += [max(deadline - now, 0.0), x, y]
    return args

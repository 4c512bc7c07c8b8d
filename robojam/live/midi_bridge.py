"""The server's MIDI: robojam's part (and optionally the performer's) on output ports,
and MIDI keyboards (or a DAW playing into robojam's own input port) as a performer, whose
controller knobs (:mod:`robojam.live.midi_knobs`) turn robojam's player knobs.

This adapts :mod:`robojam.live.midi_touch`'s voices to the server's events; the server
calls it on its own thread, MIDI input arrives on mido's and is posted over.
"""

from __future__ import annotations

from robojam import RobojamError
from robojam.live.midi_knobs import KnobControllers
from robojam.live.midi_touch import (
    MidiMapping, MidiTouchReader, MidiVoice, open_input, open_output, open_virtual_input, open_virtual_output,
)
from robojam.live.session import Output


class MidiParts:
    """robojam's voice (and the performer's echo, if asked) on one output port, or several alike.

    ``port`` is anything with ``send(msg)``, or a list of them: each message
    goes to every one (a synth's port and robojam's own virtual port, say).
    A bridge (robojam.live.bridge) without performers: the server plays it
    every output, and stopping it sends notes off, then closes the ports.
    """

    scheme = "midi-out"

    def __init__(self, port, mapping: MidiMapping, channel: int = 0, echo_channel: int | None = None):
        self.ports = list(port) if isinstance(port, (list, tuple)) else [port]
        self.port = self.ports[0] if len(self.ports) == 1 else _Fanout(self.ports)
        self.robojam = MidiVoice(self.port, mapping, channel)
        self.performer = MidiVoice(self.port, mapping, echo_channel) if echo_channel is not None else None

    @classmethod
    def open(cls, name: str | None, mapping: MidiMapping, channel: int = 0, echo_channel: int | None = None,
             virtual: str | None = None, api: str | None = None):
        """Open the output port matching ``name`` and/or robojam's own output called ``virtual``."""
        ports = []
        try:
            if name:
                ports.append(open_output(name, api))
            if virtual:
                ports.append(open_virtual_output(virtual, api))
        except RobojamError:
            _close_all(ports)
            raise
        if not ports:
            raise RobojamError("no MIDI output to open: give a port name or a virtual port name")
        return cls(ports, mapping, channel, echo_channel)

    def robojam_output(self, output: Output, now: float) -> None:
        if output.kind == "touch":
            self.robojam.touch(output.x, output.y, output.z, not self.robojam.in_stroke, now)
        elif output.kind in ("up", "end"):
            self.robojam.lift()

    def performer_touch(self, x: float, y: float, z: float, new_stroke: bool, now: float) -> None:
        if self.performer is not None:
            self.performer.touch(x, y, z, new_stroke, now)

    def performer_up(self) -> None:
        if self.performer is not None:
            self.performer.lift()

    def check(self, now: float) -> None:
        """The stuck-note guard."""
        for voice in self._voices():
            voice.check(now)

    def all_notes_off(self) -> None:
        for voice in self._voices():
            voice.all_notes_off()

    def close(self) -> None:
        """Close the ports (after :meth:`all_notes_off`): on JACK this waits for what was sent to go out."""
        _close_all(self.ports)

    def start(self) -> None:
        """Nothing: :meth:`open` opened the ports."""

    def stop(self) -> None:
        self.all_notes_off()
        self.close()

    def send(self, peer: str, address: str, args: list) -> bool:
        return False

    def _voices(self) -> list[MidiVoice]:
        return [v for v in (self.robojam, self.performer) if v is not None]


class _Fanout:
    """Sends each message to several ports."""

    def __init__(self, ports: list):
        self.ports = ports

    def send(self, msg) -> None:
        for port in self.ports:
            port.send(msg)


class Keyboards:
    """Open MIDI inputs whose notes are one performer, host ``midi``: the ``midi`` bridge. It has no way
    back to its performer, so replies go to OSC's --send destinations."""

    scheme = "midi"

    def __init__(self, ports: list):
        self.ports = ports

    def start(self) -> None:
        """Nothing: :func:`listen_to_keyboard` opened the ports."""

    def stop(self) -> None:
        _close_all(self.ports)
        self.ports = []

    close = stop

    def send(self, peer: str, address: str, args: list) -> bool:
        return False


def listen_to_keyboard(name: str | None, mapping: MidiMapping, post, virtual: str | None = None,
                       api: str | None = None, knobs: KnobControllers | None = None, steer=None) -> Keyboards:
    """Open the MIDI input matching ``name`` and/or robojam's own input called ``virtual``; their notes
    become ``/robojam/touch`` and ``/robojam/up`` posts, and ``knobs``' control changes ``steer(knob, value)``
    calls."""
    ports = []
    try:
        if name:
            ports.append(open_input(name, _poster(mapping, post, knobs, steer), api))
        if virtual:
            ports.append(open_virtual_input(virtual, _poster(mapping, post, knobs, steer), api))
    except RobojamError:
        _close_all(ports)
        raise
    return Keyboards(ports)


def _poster(mapping: MidiMapping, post, knobs: KnobControllers | None = None, steer=None):
    """A mido callback turning one input's notes into posts (each input keeps its own held note), and
    its knobs into steer calls."""
    reader = MidiTouchReader(mapping)

    def on_message(msg) -> None:
        turned = knobs.turned(msg) if knobs is not None and steer is not None else None
        if turned is not None:
            steer(*turned)
            return
        event = reader.convert(msg)
        if event is None:
            return
        kind, touch = event
        post("/robojam/touch", list(touch)) if kind == "touch" else post("/robojam/up", [])

    return on_message


def _close_all(ports: list) -> None:
    for port in ports:
        close = getattr(port, "close", None)
        if close is not None:
            close()

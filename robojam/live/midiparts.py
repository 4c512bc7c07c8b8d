"""The server's MIDI: robojam's part (and optionally the performer's) on an output
port, and a MIDI keyboard as a performer.

This adapts :mod:`robojam.live.midi`'s voices to the server's events; the server
calls it on its own thread, MIDI input arrives on mido's and is posted over.
"""

from __future__ import annotations

from robojam.live.midi import MidiMapping, MidiTouchReader, MidiVoice, open_input, open_output
from robojam.live.session import Output


class MidiParts:
    """robojam's voice (and the performer's echo, if asked) on one output port."""

    def __init__(self, port, mapping: MidiMapping, channel: int = 0, echo_channel: int | None = None):
        self.port = port
        self.robojam = MidiVoice(port, mapping, channel)
        self.performer = MidiVoice(port, mapping, echo_channel) if echo_channel is not None else None

    @classmethod
    def open(cls, name: str, mapping: MidiMapping, channel: int = 0, echo_channel: int | None = None):
        return cls(open_output(name), mapping, channel, echo_channel)

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

    def _voices(self) -> list[MidiVoice]:
        return [v for v in (self.robojam, self.performer) if v is not None]


def listen_to_keyboard(name: str, mapping: MidiMapping, post) -> object:
    """Open a MIDI input whose notes become ``/robojam/touch`` and ``/robojam/up`` posts."""
    reader = MidiTouchReader(mapping)

    def on_message(msg) -> None:
        event = reader.convert(msg)
        if event is None:
            return
        kind, touch = event
        post("/robojam/touch", list(touch)) if kind == "touch" else post("/robojam/up", [])

    return open_input(name, on_message)

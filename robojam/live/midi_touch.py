"""Touches to MIDI and back, with mido.

A touch-down plays a note: x picks the pitch from a scale (x=0 the lowest
note of the range, x=1 the highest), z the velocity, and y a controller
(CC 74 by default; the top of the screen, y=0, is 127) sent on touch-down and
whenever it changes while dragging. A lift, the next touch-down, a stuck-note
check or :meth:`MidiVoice.all_notes_off` ends the note.

The other way, :class:`MidiTouchReader` turns a MIDI keyboard's notes into
touches, so a keyboard can be the performer. :func:`write_midi_file` writes a
performance as a standard MIDI file, and :func:`open_output` /
:func:`open_input` open ports by part of their name.
:func:`open_virtual_output` / :func:`open_virtual_input` open robojam's own
ports for a DAW or synth to connect to (Linux and macOS). Every port function
takes ``api``: ``alsa``, ``jack``, ``coremidi`` or ``winmm`` picks rtmidi's
API; None leaves mido's choice (its ``MIDO_BACKEND`` environment variable).
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

import mido
import numpy as np

from robojam import RobojamError
from robojam.core.dynamics import VELOCITIES, velocity
from robojam.core.performance import Performance

# Semitones above the root within one octave.
SCALES: dict[str, tuple[int, ...]] = {
    "chromatic": tuple(range(12)),
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "pentatonic": (0, 2, 4, 7, 9),
    "minor-pentatonic": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
    "whole-tone": (0, 2, 4, 6, 8, 10),
}
ALL_NOTES_OFF_CC = 123
# Controllers 120-127 are channel mode messages (all notes off, reset...).
HIGHEST_PLAIN_CC = 119
FILE_TEMPO_BPM = 120
# 960 ticks a beat at 120 bpm is about 0.52 ms a tick: times round to 0.26 ms.
FILE_TICKS_PER_BEAT = 960
# A performance records no lift, so the last note of a file rings this long
# after the last touch.
FILE_LAST_NOTE_S = 0.5
ALSA_SEQUENCER = "/dev/snd/seq"
# --midi-api's names for rtmidi's APIs.
MIDI_APIS = {"alsa": "LINUX_ALSA", "jack": "UNIX_JACK", "coremidi": "MACOSX_CORE", "winmm": "WINDOWS_MM"}
# rtmidi's API when none is asked for, by platform.
DEFAULT_APIS = {"linux": "LINUX_ALSA", "darwin": "MACOSX_CORE", "win32": "WINDOWS_MM"}
VIRTUAL_PORT_NAME = "robojam"
LOOPMIDI_URL = "https://www.tobias-erichsen.de/software/loopmidi.html"
DEFAULT_Y = 0.5


class MidiSink(Protocol):
    def send(self, msg: mido.Message) -> None: ...


@dataclass(frozen=True)
class MidiMapping:
    """How touches map to notes and controllers, and back."""

    scale: str = "pentatonic"
    root: int = 48
    octaves: int = 3
    cc: int = 74
    velocity_min: int = VELOCITIES[0]
    velocity_max: int = VELOCITIES[1]
    max_note_s: float = 4.0

    def __post_init__(self):
        if self.scale not in SCALES:
            raise RobojamError(f"unknown scale {self.scale!r}; choose one of {', '.join(SCALES)}")
        _check_int("root", self.root, 0, 127, "a MIDI note number")
        _check_int("octaves", self.octaves, 1, 10)
        if self.root + 12 * self.octaves > 127:
            raise RobojamError(
                f"root {self.root} plus {self.octaves} octaves reaches note {self.root + 12 * self.octaves}; "
                "the range must end at MIDI note 127 or below"
            )
        _check_int("cc", self.cc, 0, HIGHEST_PLAIN_CC, "120-127 are channel mode messages")
        _check_int("velocity_min", self.velocity_min, 1, 127, "velocity 0 would be a note-off")
        _check_int("velocity_max", self.velocity_max, self.velocity_min, 127, "at least velocity_min")
        if not (isinstance(self.max_note_s, (int, float)) and self.max_note_s > 0):
            raise RobojamError(f"max_note_s must be a number of seconds above 0, not {self.max_note_s!r}")

    @cached_property
    def notes(self) -> np.ndarray:
        """The notes of the range, lowest first."""
        return scale_notes(self.scale, self.root, self.octaves)

    def pitch(self, x: float) -> int:
        """The scale note at x: 0 the lowest of the range, 1 the highest."""
        index = round(_unit(x, default=0.5) * (len(self.notes) - 1))
        return int(self.notes[index])

    def x_of(self, pitch: int) -> float:
        """Where a pitch lies across the range; pitches off the scale fall between their neighbours."""
        positions = np.linspace(0.0, 1.0, len(self.notes))
        return float(np.interp(pitch, self.notes, positions))

    def velocity(self, z: float) -> int:
        return velocity(z, self.velocity_min, self.velocity_max)

    def z_of(self, velocity: int) -> float:
        span = self.velocity_max - self.velocity_min
        return _unit((velocity - self.velocity_min) / span if span else 0.5)

    def cc_value(self, y: float) -> int:
        return round((1.0 - _unit(y, default=DEFAULT_Y)) * 127)

    def y_of(self, cc_value: int) -> float:
        return 1.0 - _unit(cc_value / 127)


def scale_notes(scale: str, root: int, octaves: int) -> np.ndarray:
    """The MIDI notes of a scale from root up to root plus octaves (both included)."""
    steps = [12 * octave + step for octave in range(octaves) for step in SCALES[scale]]
    return np.array([root + step for step in steps] + [root + 12 * octaves])


class MidiVoice:
    """One part (the performer's or robojam's) played on one channel of one port.

    ``port`` is anything with ``send(msg)``: a mido output port or a recorder.
    Calls may come from several threads (touches from the network, ``check``
    from a timer); each call's messages go out together.
    """

    def __init__(self, port: MidiSink, mapping: MidiMapping | None = None, channel: int = 0):
        _check_int("channel", channel, 0, 15, "MIDI channels count from 0 here")
        self.port = port
        self.mapping = mapping or MidiMapping()
        self.channel = channel
        self.sounding: int | None = None  # the pitch of the note playing now
        self.started_at = 0.0
        self.in_stroke = False
        self.last_cc: int | None = None
        self.started: set[int] = set()  # every pitch played since the last all-notes-off
        self._lock = threading.Lock()

    def touch(self, x: float, y: float, z: float, new_stroke: bool, now: float) -> None:
        """A touch event at time ``now`` (seconds, any clock that ``check`` also uses)."""
        with self._lock:
            # A drag with no stroke begun (its touch-down was lost) starts one.
            if new_stroke or not self.in_stroke:
                self._touch_down(x, y, z, now)
            else:
                self._send_cc(self.mapping.cc_value(y), only_if_changed=True)

    def lift(self) -> None:
        """The finger left the screen: end the note."""
        with self._lock:
            self._end_note()
            self.in_stroke = False

    def check(self, now: float) -> None:
        """Release a note that has sounded ``max_note_s`` or longer without a lift."""
        with self._lock:
            deadline = self.release_deadline
            if deadline is not None and now >= deadline:
                self._end_note()

    @property
    def release_deadline(self) -> float | None:
        """When ``check`` will release the sounding note, or None when none sounds."""
        return None if self.sounding is None else self.started_at + self.mapping.max_note_s

    def all_notes_off(self) -> None:
        """Note-off for every note this voice started, then All Notes Off (CC 123)."""
        with self._lock:
            for pitch in sorted(self.started):
                self._send("note_off", note=pitch)
            self._send("control_change", control=ALL_NOTES_OFF_CC, value=0)
            self.started.clear()
            self.sounding = None
            self.in_stroke = False

    def _touch_down(self, x: float, y: float, z: float, now: float) -> None:
        self._end_note()
        # The controller goes first so the note starts with its value.
        self._send_cc(self.mapping.cc_value(y), only_if_changed=False)
        pitch = self.mapping.pitch(x)
        self._send("note_on", note=pitch, velocity=self.mapping.velocity(z))
        self.sounding, self.started_at, self.in_stroke = pitch, now, True
        self.started.add(pitch)

    def _end_note(self) -> None:
        if self.sounding is not None:
            self._send("note_off", note=self.sounding)
            self.sounding = None

    def _send_cc(self, value: int, only_if_changed: bool) -> None:
        if only_if_changed and value == self.last_cc:
            return
        self._send("control_change", control=self.mapping.cc, value=value)
        self.last_cc = value

    def _send(self, kind: str, **fields) -> None:
        self.port.send(mido.Message(kind, channel=self.channel, **fields))


TouchEvent = tuple[str, "tuple[float, float, float] | None"]


class MidiTouchReader:
    """Turns a MIDI keyboard's messages into touches: ``("touch", (x, y, z))`` or ``("up", None)``.

    x comes from the pitch, z from the velocity, and y from the last value of
    the mapping's controller seen on that channel (0.5 before any). Only the
    release of the latest note is a lift, so legato playing does not cut the
    new note. ``channel`` None listens to all channels.
    """

    def __init__(self, mapping: MidiMapping | None = None, channel: int | None = None):
        if channel is not None:
            _check_int("channel", channel, 0, 15, "MIDI channels count from 0 here")
        self.mapping = mapping or MidiMapping()
        self.channel = channel
        self.cc_values: dict[int, int] = {}
        self.held: tuple[int, int] | None = None  # (channel, note) of the latest note

    def convert(self, msg: mido.Message) -> TouchEvent | None:
        if self.channel is not None and getattr(msg, "channel", None) != self.channel:
            return None
        if msg.type == "control_change" and msg.control == self.mapping.cc:
            self.cc_values[msg.channel] = msg.value
        elif msg.type == "note_on" and msg.velocity > 0:
            self.held = (msg.channel, msg.note)
            return "touch", self._touch_of(msg)
        elif msg.type in ("note_off", "note_on") and self.held == (msg.channel, msg.note):
            self.held = None
            return "up", None
        return None

    def _touch_of(self, msg: mido.Message) -> tuple[float, float, float]:
        cc_value = self.cc_values.get(msg.channel)
        y = DEFAULT_Y if cc_value is None else self.mapping.y_of(cc_value)
        return self.mapping.x_of(msg.note), y, self.mapping.z_of(msg.velocity)


def list_ports(api: str | None = None) -> tuple[list[str], list[str]]:
    """The names of the MIDI input and output ports: ``(inputs, outputs)``."""
    backend = midi_backend(api)
    with _backend_errors("list MIDI ports", api):
        return list(backend.get_input_names()), list(backend.get_output_names())


def open_output(name: str, api: str | None = None):
    """Open the one MIDI output port whose name contains ``name`` (any case)."""
    backend = midi_backend(api)
    with _backend_errors(f"find MIDI output {name!r}: cannot list MIDI ports", api):
        names = backend.get_output_names()
    port_name = find_port(name, names, "output", api)
    with _backend_errors(f"open MIDI output {port_name!r}", api):
        return backend.open_output(port_name)


def open_input(name: str, callback: Callable[[mido.Message], None], api: str | None = None):
    """Open the one MIDI input port whose name contains ``name``; ``callback`` gets each message."""
    backend = midi_backend(api)
    with _backend_errors(f"find MIDI input {name!r}: cannot list MIDI ports", api):
        names = backend.get_input_names()
    port_name = find_port(name, names, "input", api)
    with _backend_errors(f"open MIDI input {port_name!r}", api):
        return backend.open_input(port_name, callback=callback)


def open_virtual_output(name: str = VIRTUAL_PORT_NAME, api: str | None = None):
    """Open robojam's own MIDI output port, ``name``, for DAWs and synths to read.

    Its client is called ``name`` too: ``robojam:robojam`` on ALSA and JACK.
    """
    backend = _virtual_backend(api)
    with _backend_errors(f"open the virtual MIDI output {name!r}", api):
        return backend.open_output(name, virtual=True, client_name=name)


def open_virtual_input(name: str = VIRTUAL_PORT_NAME, callback: Callable[[mido.Message], None] | None = None,
                       api: str | None = None):
    """Open robojam's own MIDI input port, ``name``, for DAWs and keyboards to play into.

    On JACK, where two clients cannot share a name, its client is ``name-in``
    (``robojam-in:robojam``); elsewhere it is ``name``.
    """
    backend = _virtual_backend(api)
    client = f"{name}-in" if api_in_use(api) == MIDI_APIS["jack"] else name
    with _backend_errors(f"open the virtual MIDI input {name!r}", api):
        return backend.open_input(name, virtual=True, client_name=client, callback=callback)


def midi_backend(api: str | None = None):
    """mido's backend for ``api`` (a :data:`MIDI_APIS` name), or mido itself (its default backend) for None.

    An API that is unknown or not compiled into python-rtmidi is a RobojamError.
    """
    if api is None:
        return mido
    if api not in MIDI_APIS:
        raise RobojamError(f"unknown MIDI API {api!r}; choose one of {', '.join(MIDI_APIS)}")
    available = compiled_apis()
    if api not in available:
        raise RobojamError(f"MIDI API {api} is not available on this machine: python-rtmidi here has "
                           f"{', '.join(available) or 'none'}")
    return mido.Backend("mido.backends.rtmidi", api=MIDI_APIS[api])


def compiled_apis() -> list[str]:
    """The :data:`MIDI_APIS` names python-rtmidi was built with here."""
    with _backend_errors("load python-rtmidi"):
        import rtmidi

        compiled = set(rtmidi.get_compiled_api())
    return [name for name, code in MIDI_APIS.items() if getattr(rtmidi, f"API_{code}", None) in compiled]


def api_in_use(api: str | None = None) -> str | None:
    """rtmidi's name for the API ports will open with (``UNIX_JACK``...), or None if unknown."""
    if api is not None:
        return MIDI_APIS.get(api)
    chosen = getattr(mido.backend, "api", None)  # from MIDO_BACKEND=mido.backends.rtmidi/API
    if chosen:
        return chosen
    platform = "linux" if sys.platform.startswith("linux") else sys.platform
    return DEFAULT_APIS.get(platform)


def _virtual_backend(api: str | None):
    if api_in_use(api) == MIDI_APIS["winmm"]:
        raise RobojamError(f"Windows has no virtual MIDI ports: install loopMIDI ({LOOPMIDI_URL}), add a port "
                           "there and give its name to --midi-out and --midi-in instead of --midi-virtual")
    return midi_backend(api)


def find_port(name: str, names: list[str], kind: str, api: str | None = None) -> str:
    """The port name that is ``name`` or contains it, ignoring case; an exact match wins."""
    wanted = name.lower()
    exact = [n for n in names if n.lower() == wanted]
    matches = exact or [n for n in names if wanted in n.lower()]
    if len(matches) == 1:
        return matches[0]
    if not names:
        raise RobojamError(f"no MIDI {kind} ports at all, so none matches {name!r}{_backend_hint(api)}")
    if matches:
        raise RobojamError(f"MIDI {kind} {name!r} is ambiguous, it matches {_quoted(matches)}; give more of the name")
    raise RobojamError(f"no MIDI {kind} port matches {name!r}; the {kind} ports are {_quoted(names)}")


@contextmanager
def _backend_errors(doing: str, api: str | None = None) -> Iterator[None]:
    """mido's backend (rtmidi) failing, e.g. with no sequencer or no JACK server, as a one-line RobojamError.

    What the C libraries underneath print meanwhile (libjack's "Cannot connect
    to server socket", ALSA lib's lines) is held back, and dropped when the
    error says it in one line; anything printed by a call that works is let through.
    """
    held = _StderrHold()
    try:
        yield
    except (OSError, ImportError, ValueError, RuntimeError) as e:
        held.drop()
        reason = "; ".join(line.strip() for line in str(e).splitlines() if line.strip()) or type(e).__name__
        raise RobojamError(f"cannot {doing}: {reason}{_backend_hint(api, reason)}") from None
    finally:
        held.release()


class _StderrHold:
    """Holds what is written to file descriptor 2 until :meth:`release` (or :meth:`drop`)."""

    def __init__(self):
        self._saved = self._file = None
        try:
            sys.stderr.flush()
            self._file = tempfile.TemporaryFile()
            self._saved = os.dup(2)
            os.dup2(self._file.fileno(), 2)
        except (OSError, ValueError, AttributeError):  # no descriptor 2 (a daemon), or no temporary file
            self._restore()

    def drop(self) -> None:
        self._restore()
        if self._file is not None:
            self._file.close()
            self._file = None

    def release(self) -> None:
        self._restore()
        if self._file is not None:
            self._file.seek(0)
            held = self._file.read()
            self._file.close()
            self._file = None
            if held:
                sys.stderr.flush()
                os.write(2, held)

    def _restore(self) -> None:
        if self._saved is not None:
            os.dup2(self._saved, 2)
            os.close(self._saved)
            self._saved = None


def _backend_hint(api: str | None = None, reason: str = "") -> str:
    in_use = api_in_use(api)
    if in_use == MIDI_APIS["jack"] and "server" in reason.lower():
        return " (start a JACK server first, e.g. with QjackCtl; JACK_DEFAULT_SERVER names which server to use)"
    if in_use == MIDI_APIS["alsa"] and sys.platform.startswith("linux") and not os.path.exists(ALSA_SEQUENCER):
        return (f" (the ALSA sequencer {ALSA_SEQUENCER} is missing: load the snd-seq kernel module, "
                "or use JACK with --midi-api jack)")
    return ""


def _quoted(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names)


def write_midi_file(
    performance: Performance, path: str | Path, mapping: MidiMapping | None = None, channel: int = 0
) -> None:
    """Write a performance as a type 0 standard MIDI file at 120 bpm.

    The notes are those a :class:`MidiVoice` plays for the touches: each
    stroke's note lasts until the next stroke, at most ``max_note_s``; the
    last rings ``FILE_LAST_NOTE_S`` past the last touch.
    """
    recorder = _TimedRecorder()
    voice = MidiVoice(recorder, mapping, channel)
    for t, x, y, z, moving in performance.events:
        _release_due(voice, recorder, t)
        recorder.now = t
        voice.touch(x, y, z, new_stroke=moving == 0, now=t)
    end = performance.duration + FILE_LAST_NOTE_S
    _release_due(voice, recorder, end)
    recorder.now = end
    voice.lift()
    _save(recorder.timed, Path(path))


class _TimedRecorder:
    """A port that keeps each message with the time it was sent at."""

    def __init__(self):
        self.now = 0.0
        self.timed: list[tuple[float, mido.Message]] = []

    def send(self, msg: mido.Message) -> None:
        self.timed.append((self.now, msg))


def _release_due(voice: MidiVoice, recorder: _TimedRecorder, t: float) -> None:
    """Release a stuck note at the moment the guard would, if that comes by time t."""
    deadline = voice.release_deadline
    if deadline is not None and deadline <= t:
        recorder.now = deadline
        voice.check(deadline)


def _save(timed: list[tuple[float, mido.Message]], path: Path) -> None:
    tempo = mido.bpm2tempo(FILE_TEMPO_BPM)
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=tempo, time=0)])
    origin = min([0.0] + [t for t, _ in timed])
    previous_tick = 0
    for t, msg in timed:
        # Absolute ticks, rounded once each, so rounding never accumulates;
        # an event out of time order is held at the tick before it.
        tick = max(round(mido.second2tick(t - origin, FILE_TICKS_PER_BEAT, tempo)), previous_tick)
        track.append(msg.copy(time=tick - previous_tick))
        previous_tick = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    midi_file = mido.MidiFile(type=0, ticks_per_beat=FILE_TICKS_PER_BEAT, tracks=[track])
    try:
        midi_file.save(path)
    except OSError as e:
        raise RobojamError(f"{path}: cannot write MIDI file ({e.strerror or e})") from None


def _check_int(name: str, value, low: int, high: int, why: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        note = f" ({why})" if why else ""
        raise RobojamError(f"{name} must be a whole number from {low} to {high}{note}, not {value!r}")


def _unit(value: float, default: float = 0.5) -> float:
    """Value clipped to [0, 1]; a missing or non-finite value becomes ``default``."""
    value = float(value)
    return min(max(value, 0.0), 1.0) if math.isfinite(value) else default

import os
import re
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import mido
import numpy as np
import pytest

from robojam import RobojamError
from robojam.live import midi_touch as midi
from robojam.live.midi_touch import MidiMapping, MidiTouchReader, MidiVoice, find_port, write_midi_file
from robojam.core.performance import Performance, read_csv

SOUNDFONTS = ("/usr/share/sounds/sf2/TimGM6mb.sf2", "/usr/share/sounds/sf2/default-GM.sf2",
              "/usr/share/sounds/sf2/FluidR3_GM.sf2")


class Recorder(mido.ports.BaseOutput):
    """An output port that keeps what it is sent."""

    def _open(self, **kwargs):
        self.sent = []

    def _send(self, msg):
        self.sent.append(msg)

    def take(self) -> list[tuple]:
        """What was sent since the last take, as short tuples."""
        taken, self.sent = [_short(m) for m in self.sent], []
        return taken


def _short(msg: mido.Message) -> tuple:
    if msg.type == "note_on":
        return ("on", msg.note, msg.velocity)
    if msg.type == "note_off":
        return ("off", msg.note)
    return ("cc", msg.control, msg.value)


@pytest.fixture
def port() -> Recorder:
    return Recorder()


# --- the mapping -----------------------------------------------------------

def test_x_picks_notes_of_the_scale_across_the_range():
    mapping = MidiMapping(scale="pentatonic", root=48, octaves=3)
    assert mapping.pitch(0.0) == 48 and mapping.pitch(1.0) == 84
    assert mapping.pitch(-3) == 48 and mapping.pitch(7) == 84  # clipped
    assert [mapping.pitch(i / 15) for i in range(6)] == [48, 50, 52, 55, 57, 60]
    assert {mapping.pitch(x) % 12 for x in np.linspace(0, 1, 101)} == {0, 2, 4, 7, 9}


@pytest.mark.parametrize("scale, steps", [
    ("chromatic", list(range(12))), ("major", [0, 2, 4, 5, 7, 9, 11]), ("minor", [0, 2, 3, 5, 7, 8, 10]),
    ("minor-pentatonic", [0, 3, 5, 7, 10]), ("blues", [0, 3, 5, 6, 7, 10]), ("whole-tone", [0, 2, 4, 6, 8, 10]),
])
def test_every_scale_spans_its_octaves(scale, steps):
    mapping = MidiMapping(scale=scale, root=60, octaves=2)
    assert mapping.notes.tolist() == [60 + s for s in steps] + [72 + s for s in steps] + [84]


def test_z_sets_velocity_and_y_the_controller():
    mapping = MidiMapping(velocity_min=40, velocity_max=120)
    assert [mapping.velocity(z) for z in (-1, 0, 0.5, 1, 5)] == [40, 40, 80, 120, 120]
    assert [mapping.cc_value(y) for y in (0, 0.5, 1)] == [127, 64, 0]  # the top of the screen is 127
    assert mapping.y_of(mapping.cc_value(0.25)) == pytest.approx(0.25, abs=0.5 / 127)


def test_pitch_and_back_within_one_scale_step():
    mapping = MidiMapping(scale="major", root=40, octaves=4)
    step = 1 / (len(mapping.notes) - 1)
    for x in np.linspace(0, 1, 57):
        assert abs(mapping.x_of(mapping.pitch(x)) - x) <= step / 2 + 1e-9
    assert mapping.x_of(0) == 0.0 and mapping.x_of(127) == 1.0  # outside the range: clipped


@pytest.mark.parametrize("options, message", [
    ({"scale": "dorian"}, "unknown scale 'dorian'; choose one of chromatic, major"),
    ({"root": 128}, "root must be a whole number from 0 to 127"),
    ({"root": 100, "octaves": 3}, "must end at MIDI note 127"),
    ({"octaves": 0}, "octaves must be a whole number from 1"),
    ({"cc": 123}, "cc must be a whole number from 0 to 119 (120-127 are channel mode messages)"),
    ({"velocity_min": 0}, "velocity_min must be a whole number from 1 to 127"),
    ({"velocity_min": 90, "velocity_max": 80}, "velocity_max must be a whole number from 90 to 127"),
    ({"max_note_s": 0}, "max_note_s must be a number of seconds above 0"),
])
def test_bad_mappings_say_what_is_allowed(options, message):
    with pytest.raises(RobojamError) as error:
        MidiMapping(**options)
    assert message in str(error.value)


def test_bad_channel_is_refused(port):
    with pytest.raises(RobojamError, match="channel must be a whole number from 0 to 15"):
        MidiVoice(port, MidiMapping(), channel=16)


# --- playing touches -------------------------------------------------------

def test_a_stroke_is_cc_then_note_on_then_cc_changes_then_note_off(port):
    voice = MidiVoice(port, MidiMapping(scale="chromatic", root=60, octaves=1), channel=3)
    voice.touch(0.0, 0.5, 0.5, new_stroke=True, now=0.0)
    assert port.take() == [("cc", 74, 64), ("on", 60, 80)]
    voice.touch(0.9, 0.5, 0.9, new_stroke=False, now=0.1)  # same y: nothing; dragging never changes the note
    voice.touch(0.9, 0.0, 0.9, new_stroke=False, now=0.2)
    assert port.take() == [("cc", 74, 127)]
    voice.lift()
    voice.lift()  # a second lift has nothing to end
    assert port.take() == [("off", 60)]
    assert {m.channel for m in voice.port.sent} <= {3}


def test_a_new_stroke_ends_the_previous_note_first(port):
    voice = MidiVoice(port, MidiMapping(scale="chromatic", root=60, octaves=1))
    voice.touch(0.0, 1.0, 0.0, new_stroke=True, now=0.0)
    voice.touch(1.0, 1.0, 1.0, new_stroke=True, now=0.5)
    assert port.take() == [("cc", 74, 0), ("on", 60, 40), ("off", 60), ("cc", 74, 0), ("on", 72, 120)]


def test_a_drag_without_its_touch_down_starts_a_stroke(port):
    voice = MidiVoice(port, MidiMapping(scale="chromatic", root=60, octaves=1))
    voice.touch(0.5, 0.5, 0.5, new_stroke=False, now=0.0)
    assert port.take() == [("cc", 74, 64), ("on", 66, 80)]


def test_stuck_note_guard_releases_after_max_note_s(port):
    voice = MidiVoice(port, MidiMapping(scale="chromatic", root=60, octaves=1, max_note_s=4.0))
    voice.touch(0.0, 0.5, 0.5, new_stroke=True, now=10.0)
    port.take()
    voice.check(13.9)
    assert port.take() == []
    voice.check(14.0)
    assert port.take() == [("off", 60)]
    voice.touch(0.0, 0.4, 0.5, new_stroke=False, now=14.5)  # still the same stroke: no new note
    voice.check(20.0)
    voice.lift()
    assert port.take() == [("cc", 74, 76)]


def test_all_notes_off_ends_every_note_started(port):
    voice = MidiVoice(port, MidiMapping(scale="chromatic", root=60, octaves=1), channel=2)
    for i, x in enumerate((0.5, 0.0, 1.0, 0.5)):
        voice.touch(x, 0.5, 0.5, new_stroke=True, now=i)
    port.sent.clear()
    voice.all_notes_off()
    assert port.take() == [("off", 60), ("off", 66), ("off", 72), ("cc", 123, 0)]
    voice.all_notes_off()
    assert port.take() == [("cc", 123, 0)]


# --- a MIDI keyboard as the performer --------------------------------------

def test_keyboard_notes_become_touches_and_lifts():
    mapping = MidiMapping(scale="chromatic", root=60, octaves=1)
    reader = MidiTouchReader(mapping)
    assert reader.convert(mido.Message("note_on", note=66, velocity=80)) == ("touch", (0.5, 0.5, 0.5))
    assert reader.convert(mido.Message("control_change", control=74, value=127)) is None
    assert reader.convert(mido.Message("note_on", note=72, velocity=127)) == ("touch", (1.0, 0.0, 1.0))
    assert reader.convert(mido.Message("note_off", note=66)) is None  # legato: not the latest note
    assert reader.convert(mido.Message("note_on", note=72, velocity=0)) == ("up", None)
    assert reader.convert(mido.Message("note_on", note=30, velocity=1)) == ("touch", (0.0, 0.0, 0.0))
    assert reader.convert(mido.Message("note_off", note=30)) == ("up", None)
    for other in (mido.Message("pitchwheel", pitch=100), mido.Message("control_change", control=1, value=3),
                  mido.Message("sysex", data=[1, 2]), mido.Message("program_change", program=4)):
        assert reader.convert(other) is None


def test_keyboard_cc_is_per_channel_and_channel_can_be_chosen():
    reader = MidiTouchReader(MidiMapping(), channel=1)
    assert reader.convert(mido.Message("note_on", channel=0, note=60, velocity=80)) is None
    reader.convert(mido.Message("control_change", channel=1, control=74, value=0))
    _, (_, y, _) = reader.convert(mido.Message("note_on", channel=1, note=60, velocity=80))
    assert y == 1.0


def test_keyboard_round_trip_through_a_voice(port):
    mapping = MidiMapping(scale="blues", root=36, octaves=4)
    voice, reader = MidiVoice(port, mapping), MidiTouchReader(mapping)
    step = 1 / (len(mapping.notes) - 1)
    for i, (x, y, z) in enumerate(np.random.default_rng(3).uniform(0, 1, (40, 3))):
        voice.touch(x, y, z, new_stroke=True, now=i)
        touches = [reader.convert(m) for m in port.sent]
        port.sent.clear()
        kind, (x2, y2, z2) = [t for t in touches if t and t[0] == "touch"][0]
        assert abs(x2 - x) <= step / 2 + 1e-9
        assert abs(y2 - y) <= 0.5 / 127 + 1e-9
        assert abs(z2 - z) <= 0.5 / 80 + 1e-9


# --- ports -----------------------------------------------------------------

OUTPUTS = ["Midi Through:Midi Through Port-0 14:0", "FLUID Synth (1234):Synth input port (1234:0) 128:0",
           "USB Keyboard:USB Keyboard MIDI 1 20:0", "USB Keyboard:USB Keyboard MIDI 2 20:1"]


def test_ports_match_part_of_the_name_in_any_case():
    assert find_port("fluid", OUTPUTS, "output") == OUTPUTS[1]
    assert find_port("midi 2", OUTPUTS, "output") == OUTPUTS[3]
    assert find_port("midi through", ["Midi Through", "Midi Through Port-1"], "output") == "Midi Through"


def test_open_output_names_the_ports_when_none_or_several_match(monkeypatch):
    monkeypatch.setattr(mido, "get_output_names", lambda: OUTPUTS)
    opened = []
    monkeypatch.setattr(mido, "open_output", lambda name: opened.append(name) or Recorder())
    midi.open_output("synth")
    assert opened == [OUTPUTS[1]]
    with pytest.raises(RobojamError, match="'usb' is ambiguous, it matches 'USB Keyboard:USB Keyboard MIDI 1"):
        midi.open_output("usb")
    with pytest.raises(RobojamError) as error:
        midi.open_output("nord")
    assert "no MIDI output port matches 'nord'; the output ports are 'Midi Through" in str(error.value)
    assert all(name in str(error.value) for name in OUTPUTS)


def test_no_ports_at_all_is_said(monkeypatch):
    monkeypatch.setattr(mido, "get_input_names", lambda: [])
    monkeypatch.setattr(midi.os.path, "exists", lambda path: path != midi.ALSA_SEQUENCER)
    monkeypatch.setattr(midi.sys, "platform", "linux")
    missing = "no MIDI input ports at all, so none matches 'keys'.*/dev/snd/seq is missing"
    with pytest.raises(RobojamError, match=missing):
        midi.open_input("keys", callback=print)


def test_backend_failures_are_robojam_errors(monkeypatch):
    def no_sequencer():
        raise OSError("MidiOutAlsa::initialize: error creating ALSA sequencer client object.")

    monkeypatch.setattr(mido, "get_output_names", no_sequencer)
    with pytest.raises(RobojamError, match="cannot list MIDI ports: MidiOutAlsa::initialize"):
        midi.open_output("synth")
    monkeypatch.setattr(mido, "get_output_names", lambda: OUTPUTS)
    monkeypatch.setattr(mido, "open_output", lambda name: no_sequencer())
    with pytest.raises(RobojamError, match="cannot open MIDI output 'USB Keyboard:USB Keyboard MIDI 1 20:0'"):
        midi.open_output("midi 1")


# Real ports (listed, opened, played, robojam serve's virtual ports) are tested on
# JACK, with a JACK server of the tests' own: tests/test_midi_jack.py.

def test_real_backend_without_sequencer_is_a_robojam_error():
    if os.path.exists(midi.ALSA_SEQUENCER) or not sys.platform.startswith("linux"):
        pytest.skip("this machine has an ALSA sequencer")
    with pytest.raises(RobojamError, match="/dev/snd/seq is missing.*--midi-api jack") as error:
        midi.list_ports("alsa")
    assert "\n" not in str(error.value)


# --- MIDI APIs and robojam's own ports --------------------------------------

def test_api_names_are_rtmidis_and_unknown_ones_are_refused():
    assert midi.MIDI_APIS == {"alsa": "LINUX_ALSA", "jack": "UNIX_JACK", "coremidi": "MACOSX_CORE",
                              "winmm": "WINDOWS_MM"}
    import rtmidi

    assert all(hasattr(rtmidi, f"API_{code}") for code in midi.MIDI_APIS.values())
    assert midi.midi_backend(None) is mido  # mido's own choice, which MIDO_BACKEND sets
    with pytest.raises(RobojamError, match="unknown MIDI API 'pulse'; choose one of alsa, jack, coremidi, winmm"):
        midi.midi_backend("pulse")


def test_an_api_not_compiled_in_is_a_clear_error(monkeypatch):
    import rtmidi

    monkeypatch.setattr(rtmidi, "get_compiled_api", lambda: [rtmidi.API_LINUX_ALSA])
    with pytest.raises(RobojamError, match="^MIDI API jack is not available on this machine: "
                                           "python-rtmidi here has alsa$"):
        midi.open_virtual_output("robojam", api="jack")
    assert midi.midi_backend("alsa").api == "LINUX_ALSA"


def test_the_api_in_use_follows_the_option_then_mido_backend_then_the_platform(monkeypatch):
    monkeypatch.setattr(mido.backend, "api", None)
    monkeypatch.setattr(midi.sys, "platform", "darwin")
    assert midi.api_in_use(None) == "MACOSX_CORE"
    assert midi.api_in_use("jack") == "UNIX_JACK"
    monkeypatch.setattr(mido.backend, "api", "UNIX_JACK")  # as MIDO_BACKEND=mido.backends.rtmidi/UNIX_JACK sets
    assert midi.api_in_use(None) == "UNIX_JACK"


@pytest.mark.parametrize("platform, api", [("win32", None), ("linux", "winmm")])
def test_windows_has_no_virtual_ports_and_says_use_loopmidi(monkeypatch, platform, api):
    monkeypatch.setattr(mido.backend, "api", None)
    monkeypatch.setattr(midi.sys, "platform", platform)
    for opener in (midi.open_virtual_output, midi.open_virtual_input):
        with pytest.raises(RobojamError) as error:
            opener("robojam", api=api)
        message = str(error.value)
        assert message.startswith("Windows has no virtual MIDI ports: install loopMIDI")
        assert "--midi-out and --midi-in" in message and "\n" not in message


def test_virtual_ports_open_with_their_name_as_client_name(monkeypatch):
    opened = []
    monkeypatch.setattr(mido.backend, "api", None)
    monkeypatch.setattr(midi.sys, "platform", "linux")
    monkeypatch.setattr(mido, "open_output", lambda name, **kw: opened.append(("out", name, kw)) or Recorder())
    monkeypatch.setattr(mido, "open_input", lambda name, **kw: opened.append(("in", name, kw)) or Recorder())
    midi.open_virtual_output("stage")
    midi.open_virtual_input("stage", print)
    assert opened == [("out", "stage", {"virtual": True, "client_name": "stage"}),
                      ("in", "stage", {"virtual": True, "client_name": "stage", "callback": print})]
    monkeypatch.setattr(mido.backend, "api", "UNIX_JACK")  # JACK clients need names of their own
    midi.open_virtual_input("stage", print)
    assert opened[-1][2]["client_name"] == "stage-in"


def test_no_jack_server_is_a_one_line_error(tmp_path):
    env = {**os.environ, "JACK_DEFAULT_SERVER": f"robojam-no-such-server-{os.getpid()}"}
    result = subprocess.run([sys.executable, "-m", "robojam", "serve", "--port", "0", "--no-log", "--midi-virtual",
                             "--midi-api", "jack"], capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env)
    assert result.returncode == 1
    # libjack's own complaints ("Cannot connect to server socket"...) are held back.
    assert result.stderr.splitlines() == [
        "Error: cannot open the virtual MIDI output 'robojam': MidiOutJack::initialize: JACK server not running? "
        "(start a JACK server first, e.g. with QjackCtl; JACK_DEFAULT_SERVER names which server to use)"]


# --- the server's MIDI parts ---------------------------------------------------

def test_parts_play_on_a_port_and_robojams_own_port_together(monkeypatch):
    from robojam.live import midi_bridge

    synth, own = Recorder(), Recorder()
    monkeypatch.setattr(midi_bridge, "open_output", lambda name, api: synth)
    monkeypatch.setattr(midi_bridge, "open_virtual_output", lambda name, api: own)
    parts = midi_bridge.MidiParts.open("synth", MidiMapping(scale="chromatic", root=60, octaves=1),
                                     virtual="robojam", api="jack")
    parts.robojam.touch(0.0, 0.5, 0.5, new_stroke=True, now=0.0)
    parts.all_notes_off()
    assert synth.take() == own.take() == [("cc", 74, 64), ("on", 60, 80), ("off", 60), ("cc", 123, 0)]
    parts.close()
    assert synth.closed and own.closed


def test_a_port_that_fails_to_open_closes_those_opened(monkeypatch):
    from robojam.live import midi_bridge

    synth = Recorder()
    monkeypatch.setattr(midi_bridge, "open_output", lambda name, api: synth)

    def refuse(name, api):
        raise RobojamError("cannot open the virtual MIDI output")

    monkeypatch.setattr(midi_bridge, "open_virtual_output", refuse)
    with pytest.raises(RobojamError, match="virtual"):
        midi_bridge.MidiParts.open("synth", MidiMapping(), virtual="robojam")
    assert synth.closed


def test_keyboards_and_robojams_own_input_are_one_performer(monkeypatch):
    from robojam.live import midi_bridge

    callbacks, ports = {}, []

    def opener(kind):
        def open_(name, callback, api):
            callbacks[kind] = callback
            ports.append(Recorder())
            return ports[-1]
        return open_

    monkeypatch.setattr(midi_bridge, "open_input", opener("keyboard"))
    monkeypatch.setattr(midi_bridge, "open_virtual_input", opener("virtual"))
    posts = []
    inputs = midi_bridge.listen_to_keyboard("keys", MidiMapping(scale="chromatic", root=60, octaves=1),
                                          lambda path, args: posts.append((path, args)), virtual="robojam")
    callbacks["virtual"](mido.Message("note_on", note=72, velocity=120))
    callbacks["keyboard"](mido.Message("note_on", note=60, velocity=40))
    callbacks["virtual"](mido.Message("note_off", note=72))
    assert posts == [("/robojam/touch", [1.0, 0.5, 1.0]), ("/robojam/touch", [0.0, 0.5, 0.0]), ("/robojam/up", [])]
    inputs.close()
    assert all(port.closed for port in ports) and len(ports) == 2


# --- robojam serve's options -----------------------------------------------------

def test_serve_and_bench_describe_the_midi_options():
    from click.testing import CliRunner
    from robojam.cli import main

    serve_help = CliRunner().invoke(main, ["serve", "--help"], terminal_width=200).output
    assert "--midi-virtual [NAME]" in serve_help and "on Windows use loopMIDI" in serve_help
    assert "--midi-api [alsa|jack|coremidi|winmm]" in serve_help and "MIDO_BACKEND" in serve_help
    bench_help = CliRunner().invoke(main, ["bench", "--help"], terminal_width=200).output
    assert "--no-midi" in bench_help and "JACK" in bench_help


def test_midi_virtual_takes_an_optional_name(monkeypatch):
    from click.testing import CliRunner
    from robojam.cli import main
    from robojam.live import assemble

    seen = []
    monkeypatch.setattr(assemble, "start_server", lambda settings, echo: seen.append(settings))
    for args, name, api in ([["--midi-virtual"], "robojam", None], [["--midi-virtual", "stage"], "stage", None],
                            [["--midi-virtual", "--midi-api", "jack"], "robojam", "jack"], [[], None, None]):
        result = CliRunner().invoke(main, ["serve", *args])
        assert result.exit_code == 0, result.output
        assert (seen[-1]["midi_virtual"], seen[-1]["midi_api"]) == (name, api)
    assert CliRunner().invoke(main, ["serve", "--midi-api", "pulse"]).exit_code == 2


def test_midi_options_from_config_files_and_the_daw_preset(tmp_path):
    from robojam.cli import _merge_serve_settings
    from robojam.live.assemble import describe_midi_ports, midi_api, midi_virtual

    config = tmp_path / "stage.toml"
    config.write_text('midi-virtual = true\nmidi-api = "jack"\n')
    settings = _merge_serve_settings(config, None, {})
    assert (midi_virtual(settings), midi_api(settings)) == ("robojam", "jack")
    assert describe_midi_ports(settings)[-1] == "  on JACK: robojam:robojam (out) and robojam-in:robojam (in)"
    assert midi_virtual(_merge_serve_settings(config, None, {"midi_virtual": "stage"})) == "stage"
    assert midi_virtual(_merge_serve_settings(None, "daw", {})) == "robojam"
    assert midi_virtual(_merge_serve_settings(None, None, {})) is None
    for bad, message in (('midi-api = "pulse"', "midi-api must be one of alsa, jack, coremidi, winmm, not 'pulse'"),
                         ("midi-virtual = 3", "midi-virtual must be a port name (or true for 'robojam'), not 3")):
        config.write_text(bad + "\n")
        with pytest.raises(RobojamError, match=re.escape(message)):
            settings = _merge_serve_settings(config, None, {})
            midi_api(settings), midi_virtual(settings)


# --- MIDI files ------------------------------------------------------------

def hand_made_response() -> Performance:
    """About 3 s of touches: five strokes of ten drags each, then a tap, with gaps between."""
    events, t = [], 0.0
    for stroke, (x, y) in enumerate([(0.1, 0.2), (0.5, 0.8), (0.9, 0.5), (0.3, 0.3), (0.7, 0.1)]):
        for step in range(10):
            events.append([t, x + 0.01 * step, y + 0.02 * step, 0.3 + 0.1 * stroke, step > 0])
            t += 0.0567
        t += 0.0511
    events.append([t, 0.0, 0.5, 1.0, 0])
    return Performance(np.array(events, dtype=float))


def read_back(path) -> list[tuple[float, mido.Message]]:
    """The file's messages with their times in seconds from the start."""
    now, timed = 0.0, []
    for msg in mido.MidiFile(path):
        now += msg.time
        if not msg.is_meta:
            timed.append((now, msg))
    return timed


def test_midi_file_notes_round_trip_within_a_millisecond(tmp_path):
    response = hand_made_response()
    mapping = MidiMapping(scale="minor", root=50, octaves=2)
    write_midi_file(response, tmp_path / "response.mid", mapping, channel=5)
    timed = read_back(tmp_path / "response.mid")
    downs = response.events[response.events[:, 4] == 0]
    note_ons = [(t, m) for t, m in timed if m.type == "note_on"]
    np.testing.assert_allclose([t for t, _ in note_ons], downs[:, 0], atol=1e-3)
    assert [m.note for _, m in note_ons] == [mapping.pitch(x) for x in downs[:, 1]]
    assert [m.velocity for _, m in note_ons] == [mapping.velocity(z) for z in downs[:, 3]]
    assert {m.channel for _, m in timed} == {5}
    assert mido.MidiFile(tmp_path / "response.mid").ticks_per_beat == midi.FILE_TICKS_PER_BEAT
    last_off = [t for t, m in timed if m.type == "note_off"][-1]
    assert last_off == pytest.approx(response.duration + midi.FILE_LAST_NOTE_S, abs=1e-3)
    ons = sum(m.type == "note_on" for _, m in timed)
    assert ons == sum(m.type == "note_off" for _, m in timed) == len(downs)


def test_midi_file_releases_a_long_stroke_like_the_guard(tmp_path):
    drag = [[t, 0.5, 0.5 - t / 20, 0.5, t > 0] for t in np.arange(0, 6, 0.5)]
    write_midi_file(Performance(np.array(drag, dtype=float)), tmp_path / "long.mid", MidiMapping(max_note_s=2.0))
    offs = [t for t, m in read_back(tmp_path / "long.mid") if m.type == "note_off"]
    assert offs == [pytest.approx(2.0, abs=1e-3)]


def test_midi_file_that_cannot_be_written_is_a_robojam_error(tmp_path):
    with pytest.raises(RobojamError, match="cannot write MIDI file"):
        write_midi_file(hand_made_response(), tmp_path / "no" / "such" / "dir.mid")


def soundfont() -> str:
    found = [path for path in SOUNDFONTS if os.path.exists(path)]
    if not shutil.which("fluidsynth") or not found:
        pytest.fail("fluidsynth and a General MIDI soundfont are needed: run scripts/install-debian-packages --tests")
    return found[0]


def assert_synth_plays(midi_path: Path, duration: float) -> None:
    """Render a MIDI file with fluidsynth: it must sound from the start and stop soon after ``duration``."""
    wav = midi_path.with_suffix(".wav")
    subprocess.run(["fluidsynth", "-ni", "-q", "-F", str(wav), "-r", "22050", soundfont(), str(midi_path)],
                   check=True, capture_output=True, timeout=60)
    rate, audio = read_wav(wav)
    window = rate // 20
    window_rms = np.sqrt(np.mean(audio[: len(audio) // window * window].reshape(-1, window) ** 2, axis=1))
    assert window_rms[: int(duration * 20)].max() > 1e-3, "the synth rendered silence"
    # fluidsynth pads the file with silence: the sound lasts until the last window within 40 dB of the loudest.
    # A piano may fade out before a long held note ends (one long stroke), so only an upper bound on when it stops.
    sounding = np.nonzero(window_rms > window_rms.max() / 100)[0]
    assert sounding[0] / 20 < 0.5, f"the first sound comes {sounding[0] / 20} s in"
    sounding_s = (sounding[-1] + 1) / 20
    assert sounding_s < duration + 1.5, f"sound lasts {sounding_s} s for a {duration:.2f} s response"


def test_a_real_synth_plays_the_midi_file(tmp_path):
    response = hand_made_response()
    write_midi_file(response, tmp_path / "response.mid")
    assert_synth_plays(tmp_path / "response.mid", response.duration)


def read_wav(path) -> tuple[int, np.ndarray]:
    """Sample rate and mono samples in [-1, 1] of a 16-bit WAV file."""
    with wave.open(str(path)) as wav:
        assert wav.getsampwidth() == 2
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        return wav.getframerate(), frames.reshape(-1, wav.getnchannels()).mean(axis=1) / 32768


def test_robojam_respond_midi_is_heard_through_a_real_synth(tmp_path):
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-m", "robojam", "respond", str(root / "examples" / "call.csv"),
                    "-o", str(tmp_path / "r.csv"), "--midi", str(tmp_path / "r.mid"), "--seed", "4"],
                   check=True, capture_output=True, timeout=120, cwd=tmp_path)
    assert_synth_plays(tmp_path / "r.mid", read_csv(tmp_path / "r.csv").duration)

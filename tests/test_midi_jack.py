"""Real MIDI ports, over a JACK server of the tests' own (JACK's dummy driver: no sound card).

``robojam serve --midi-virtual --midi-api jack`` runs as a musician runs it, a
subprocess; its part is heard by jackd2's ``jack_midi_dump`` and FluidSynth,
connected with ``jack_connect``; touches come from liblo's ``oscsend`` and
notes from a JACK MIDI port of the test's own.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import time
from contextlib import contextmanager

import mido
import numpy as np
import pytest

from oscpeer import Listener
from jackserver import PERIOD, RATE, JackServer, MidiDump, Serve, jack_environment, stop_process, unended_notes
from robojam import RobojamError
from robojam.live import midi_touch as midi
from robojam.live.midi_touch import MidiMapping, MidiVoice
from robojam.tools import bench_midi

OUT, IN = "robojam:robojam", "robojam-in:robojam"   # robojam's own ports on JACK
MAPPING = MidiMapping()                                # robojam serve's default mapping


@pytest.fixture(scope="module")
def jack():
    server = JackServer()
    try:
        with jack_environment(server):
            yield server
    finally:
        server.stop()


@pytest.fixture
def dump(jack):
    monitor = MidiDump(jack)
    try:
        yield monitor
    finally:
        monitor.close()


@pytest.fixture
def serve(jack, tmp_path):
    """Start robojam serve with ``serve(*args)``; whatever was started is stopped after the test."""
    started = []

    def start(*args) -> Serve:
        started.append(Serve(jack, tmp_path, "--midi-virtual", *args))
        return started[-1]

    yield start
    for server in started:
        if server.process.poll() is None:
            server.stop()


@contextmanager
def keys(jack, destination: str = IN):
    """A JACK MIDI output port of the test's own (a keyboard), connected to ``destination``."""
    port = mido.Backend("mido.backends.rtmidi", api="UNIX_JACK").open_output("keys", virtual=True,
                                                                                client_name="rj-keys")
    try:
        jack.connect("rj-keys:keys", destination)
        yield port
    finally:
        port.close()


def play_call(server: Serve, touches: int = 12) -> float:
    """A short call over OSC; returns when its last touch was sent."""
    for i in range(touches):
        server.osc("/robojam/touch", "fff", 0.2 + 0.04 * i, 0.4 + 0.02 * i, 0.5)
        time.sleep(0.015)
    return time.monotonic()


def short(msg: mido.Message) -> tuple:
    if msg.type == "note_on":
        return ("on", msg.note, msg.velocity)
    if msg.type == "note_off":
        return ("off", msg.note)
    return ("cc", msg.control, msg.value)


def sounding(dump: MidiDump, timeout: float = 5.0):
    """Wait until one of robojam's notes is sounding; returns the events so far."""
    return dump.wait_for(lambda events: unended_notes(events) and events, timeout, "note sounding")


# --- robojam.live.midi_touch on real ports -----------------------------------------

def test_real_jack_ports_are_listed_opened_and_carry_notes(jack, dump):
    inputs, outputs = midi.list_ports("jack")
    assert dump.port in outputs
    port = midi.open_output("rj-dump", api="jack")
    try:
        voice = MidiVoice(port, MidiMapping(scale="chromatic", root=60, octaves=1), channel=2)
        voice.touch(0.5, 0.5, 0.5, new_stroke=True, now=0.0)
        voice.lift()
        voice.all_notes_off()
        events = dump.wait_for(lambda events: len(events) >= 5 and events, 3.0, "the voice's five messages")
    finally:
        port.close()
    assert [short(m) for _, _, m in events] == [("cc", 74, 64), ("on", 66, 80), ("off", 66), ("off", 66),
                                                ("cc", 123, 0)]
    assert {m.channel for _, _, m in events} == {2}


def test_virtual_ports_are_real_jack_ports(jack):
    heard = queue.Queue()
    out = midi.open_virtual_output("rj-test", api="jack")
    into = midi.open_virtual_input("rj-test", heard.put, api="jack")
    try:
        assert "rj-test:rj-test" in midi.list_ports("jack")[0]
        assert "rj-test-in:rj-test" in midi.list_ports("jack")[1]
        jack.connect("rj-test:rj-test", "rj-test-in:rj-test")
        out.send(mido.Message("note_on", note=61, velocity=99))
        assert heard.get(timeout=3) == mido.Message("note_on", note=61, velocity=99)
    finally:
        out.close()
        into.close()
    assert "rj-test:rj-test" not in jack.ports()


# --- robojam serve --midi-virtual --midi-api jack ----------------------------

def test_robojams_part_arrives_in_real_time(jack, dump, serve):
    server = serve("--threshold", "0.3", "--seconds", "1.5", "--seed", "3")
    assert f"on JACK: {OUT} (out) and {IN} (in)" in server.banner
    assert (jack.direction(OUT), jack.direction(IN)) == ("output", "input")
    jack.connect(OUT, dump.port)
    call_end = play_call(server)
    time.sleep(0.3 + 1.5 + 0.4)
    events = list(dump.events)
    server.stop()
    note_ons = [(arrived, frame, m) for arrived, frame, m in events if m.type == "note_on" and m.velocity > 0]
    rows = [r for r in server.robojam_log_rows() if r["source"] == "robojam"]
    strokes = [r for r in rows if r["moving"] == "0"]
    assert len(note_ons) == len(strokes) >= 1, (len(note_ons), len(strokes))
    # Each stroke's first touch is a note: its pitch from x, its velocity from z.
    assert [m.note for _, _, m in note_ons] == [MAPPING.pitch(float(r["x"])) for r in strokes]
    assert [m.velocity for _, _, m in note_ons] == [MAPPING.velocity(float(r["z"])) for r in strokes]
    # In real time: after the silence threshold, and spaced as the response's strokes (JACK frames).
    assert 0.3 - 0.05 < note_ons[0][0] - call_end < 0.3 + 0.35
    frames = np.array([frame for _, frame, _ in note_ons]) / RATE
    logged = np.array([float(r["time"]) for r in strokes])
    np.testing.assert_allclose(frames - frames[0], logged - logged[0], atol=0.02 + PERIOD / RATE)
    assert frames[-1] - frames[0] <= 1.5
    assert unended_notes(events) == []  # every stroke's note ended with the response


def test_notes_into_the_virtual_input_are_a_call(jack, dump, serve):
    server = serve("--threshold", "0.4", "--seconds", "1.0", "--seed", "5")
    jack.connect(OUT, dump.port)
    played = [60, 64, 67, 72, 67, 64]
    with keys(jack) as keyboard:
        for note in played:
            keyboard.send(mido.Message("note_on", note=note, velocity=90))
            time.sleep(0.06)
            keyboard.send(mido.Message("note_off", note=note))
            time.sleep(0.02)
        call_end = time.monotonic()
        answer = dump.wait_for(lambda events: [e for e in events if e[2].type == "note_on"], 3.0, "an answer")
    assert 0.4 - 0.05 < answer[0][0] - call_end < 0.4 + 0.35
    time.sleep(1.3)
    server.stop()
    heard = [r for r in server.robojam_log_rows() if r["source"] == "performer"]
    assert {r["session"] for r in heard} == {"midi"}
    np.testing.assert_allclose([float(r["x"]) for r in heard], [MAPPING.x_of(n) for n in played], atol=1e-4)
    assert [r for r in server.robojam_log_rows() if r["source"] == "robojam"]
    assert "1 performer(s), 6 touches heard, 1 responses" in server.output


def test_a_controllers_knobs_on_a_real_port_steer_every_performer(jack, serve):
    listener = Listener()
    try:
        server = serve("--send", f"127.0.0.1:{listener.port}")
        server.osc("/robojam/touch", "fff", 0.5, 0.5, 0.5)  # a performer already playing
        with keys(jack) as knobs:
            knobs.send(mido.Message("control_change", control=22, value=127))  # energy, all the way up
            knobs.send(mido.Message("control_change", control=21, value=32, channel=3))  # density, a quarter
        steered = {}
        deadline = time.monotonic() + 5
        while steered.get("energy") != 2.0 and time.monotonic() < deadline:
            server.osc("/robojam/status")
            listener.collect(0.5, until="/robojam/status")
            replies = [args for _, address, args in listener.received if address == "/robojam/status"]
            steered = dict(zip(replies[-1][::2], replies[-1][1::2])) if replies else {}
        assert steered["energy"] == 2.0 and steered["density"] == -1.0 and steered["curl"] == 0.0
    finally:
        listener.close()


def assert_response_cut_short(dump: MidiDump, after: float) -> None:
    """Every note ended, and robojam stays silent: a response of 4 s would still be playing."""
    time.sleep(1.0)
    events = list(dump.events)
    assert unended_notes(events) == []
    assert any(m.type == "note_off" and arrived >= after for arrived, _, m in events)
    time.sleep(0.5)
    assert dump.events[len(events):] == []


def test_stop_ends_every_note(jack, dump, serve):
    server = serve("--threshold", "30", "--seconds", "4", "--seed", "1")
    jack.connect(OUT, dump.port)
    play_call(server)
    server.osc("/robojam/respond")
    sounding(dump)
    stop_sent = time.monotonic()
    server.osc("/robojam/stop")
    assert_response_cut_short(dump, stop_sent)


def test_barge_in_ends_every_note(jack, dump, serve):
    server = serve("--threshold", "30", "--seconds", "4", "--seed", "2")
    jack.connect(OUT, dump.port)
    play_call(server, touches=6)
    server.osc("/robojam/respond")
    sounding(dump)
    barged = time.monotonic()
    server.osc("/robojam/touch", "fff", 0.9, 0.1, 0.8)  # the performer plays over robojam
    assert_response_cut_short(dump, barged)
    server.stop()
    rows = server.robojam_log_rows()
    barge = max(i for i, r in enumerate(rows) if r["source"] == "performer")
    assert not [r for r in rows[barge:] if r["source"] == "robojam"]  # nothing played after it was heard
    assert "7 touches heard, 1 responses" in server.output


def test_shutdown_ends_every_note(jack, dump, serve):
    server = serve("--threshold", "30", "--seconds", "4", "--seed", "4")
    jack.connect(OUT, dump.port)
    play_call(server)
    server.osc("/robojam/respond")
    before = sounding(dump)
    server.stop(signal.SIGINT)
    assert server.process.returncode == 0, server.output
    events = dump.wait_for(lambda events: any(short(m) == ("cc", 123, 0) for _, _, m in events) and events, 2.0,
                           "all notes off")
    assert unended_notes(events) == [] and len(events) > len(before)
    assert short(events[-1][2]) == ("cc", 123, 0)  # all notes off, last
    assert OUT not in jack.ports() and IN not in jack.ports()


def test_a_real_synth_plays_robojams_part_live(jack, serve, tmp_path):
    """robojam serve into FluidSynth's JACK MIDI input, rendering to a file in real time."""
    from test_midi import read_wav, soundfont

    wav = tmp_path / "live.wav"
    synth = subprocess.Popen(["fluidsynth", "-a", "file", "-m", "jack", "-o", f"audio.file.name={wav}",
                              "-o", "midi.jack.id=rj-synth", "-r", "22050", "-g", "1.0", soundfont()],
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env=jack.env, cwd=tmp_path, text=True)
    try:
        server = serve("--threshold", "0.3", "--seconds", "1.5", "--seed", "3")
        jack.connect(OUT, "rj-synth:midi_00")
        time.sleep(0.3)
        play_call(server)
        time.sleep(0.3 + 1.5 + 0.5)
        server.stop()
        synth.communicate("quit\n", timeout=10)
    finally:
        stop_process(synth)
    rate, audio = read_wav(wav)
    window = rate // 20
    rms = np.sqrt(np.mean(audio[: len(audio) // window * window].reshape(-1, window) ** 2, axis=1))
    assert rms.max() > 1e-2, "the synth rendered silence"
    loud = np.nonzero(rms > rms.max() / 100)[0]
    # Silence while the call is played, then robojam's part, then its release.
    assert loud[0] / 20 > 0.3
    assert (loud[-1] - loud[0]) / 20 < 1.5 + 1.5


# --- errors --------------------------------------------------------------------

def test_jack_ports_on_a_server_that_is_not_there_are_a_clear_error(jack, monkeypatch):
    monkeypatch.setenv("JACK_DEFAULT_SERVER", f"{jack.name}-not-there")
    with pytest.raises(RobojamError, match="JACK server not running.*start a JACK server first"):
        midi.open_virtual_output("robojam", api="jack")


# --- robojam bench ----------------------------------------------------------------

def test_bench_times_note_ons_on_a_jack_server_of_its_own(jack, monkeypatch):
    monkeypatch.setenv("JACK_DEFAULT_SERVER", f"{jack.name}-not-there")  # none running: it starts its own
    figures = bench_midi.run_midi_bench(min_note_ons=3, max_seconds=3.0, seconds=1.5)
    assert "dummy driver" in figures.get("midi_jack", ""), figures
    assert figures["midi_note_ons"] >= 1
    assert 0 < figures["midi_timing_error_ms_median"] <= figures["midi_timing_error_ms_p99"] < 250
    assert os.environ["JACK_DEFAULT_SERVER"] == f"{jack.name}-not-there"  # put back as it was


def test_bench_without_jack_says_why(monkeypatch):
    monkeypatch.setattr(bench_midi, "jack_reachable", lambda env: False)
    monkeypatch.setattr(bench_midi.shutil, "which", lambda name: None)
    figures = bench_midi.run_midi_bench()
    assert figures == {"midi_note": "no MIDI timing figures: no JACK server running and no jackd to start one "
                                    "(Debian: apt-get install jackd2)"}

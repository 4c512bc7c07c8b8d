"""The MIDI part of ``robojam bench``: how late robojam's note-ons arrive on real MIDI ports.

Measured over JACK: the running JACK server if there is one, else a JACK
server of the bench's own on the dummy driver (no sound card needed), started
and stopped here. The server plays into its own virtual output port (as
``robojam serve --midi-virtual --midi-api jack`` does); a listener in another
process, connected to that port, stamps each note-on as it arrives on the
monotonic clock, which every process on the machine shares. The server runs
on a thread of this process, so each note-on's deadline (when its touch was
due) is known exactly. Figures: ``midi_timing_error_ms_median`` and
``midi_timing_error_ms_p99``, arrival minus deadline, over ``midi_note_ons``
note-ons. Without JACK the keys are absent and ``midi_note`` says why.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from robojam import RobojamError
from robojam.core.modelfile import load_model
from robojam.live.midi_touch import MidiMapping, compiled_apis
from robojam.live.midi_bridge import MidiParts
from robojam.live.osc import encode, parse_datagram
from robojam.live.server import Server, ServerOptions, run_in_thread
from robojam.live.session import Settings

RATE = 48000
PERIOD = 64            # frames: 1.3 ms at 48 kHz, a small but common JACK period
START_TIMEOUT_S = 10.0
PORT_NAME = "robojam-bench"
TOUCH_RATE = 60.0

# The listener: opens robojam's port over JACK, stamps note-ons, prints them when its stdin closes.
LISTENER = """
import sys, time, mido
backend = mido.Backend("mido.backends.rtmidi", api="UNIX_JACK")
stamps = []
def heard(msg):
    if msg.type == "note_on" and msg.velocity > 0:
        stamps.append((time.monotonic(), msg.note))
source = sys.argv[1]
names = [name for name in backend.get_input_names() if name == source]
if not names:
    print("no port", source, backend.get_input_names(), flush=True)
    sys.exit(1)
port = backend.open_input(names[0], callback=heard)
print("ready", flush=True)
sys.stdin.read()
port.close()
for when, note in stamps:
    print(repr(when), note)
"""


class MidiBenchUnavailable(Exception):
    """No JACK to measure on; the message says why."""


def run_midi_bench(model_path=None, min_note_ons: int = 30, max_seconds: float = 12.0, seconds: float = 3.0) -> dict:
    """MIDI timing figures over JACK, or ``{"midi_note": why not}``.

    Responses of ``seconds`` are played until ``min_note_ons`` note-ons have
    gone out, or for ``max_seconds`` at most.
    """
    try:
        with jack_server() as described:
            figures = measure(model_path, min_note_ons, max_seconds, seconds)
            figures["midi_jack"] = described
            return figures
    except MidiBenchUnavailable as e:
        return {"midi_note": f"no MIDI timing figures: {e}"}


@contextmanager
def jack_server() -> Iterator[str]:
    """A JACK server for the bench: the running one, else one of its own on the dummy driver.

    Its own runs in synchronous mode (``--sync``): without realtime scheduling,
    a client that misses a cycle would otherwise lose that cycle's MIDI events.

    Sets JACK_DEFAULT_SERVER meanwhile, so this process's and its children's
    JACK clients use it; yields a description of the server.
    """
    if "jack" not in compiled_apis():
        raise MidiBenchUnavailable("python-rtmidi here has no JACK API")
    if jack_reachable(os.environ):
        yield f"the running JACK server ({os.environ.get('JACK_DEFAULT_SERVER', 'default')})"
        return
    jackd = shutil.which("jackd")
    if jackd is None:
        raise MidiBenchUnavailable("no JACK server running and no jackd to start one "
                                   "(Debian: apt-get install jackd2)")
    name = f"robojam-bench-{os.getpid()}-{secrets.token_hex(3)}"
    env = jack_environment(name)
    process = subprocess.Popen([jackd, "-n", name, "--no-realtime", "--sync", "-d", "dummy", "-r", str(RATE),
                                "-p", str(PERIOD)], env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        wait_for_jack(process, env)
        with jack_clients_use(env):
            yield f"jackd of its own, dummy driver, {RATE} Hz, {PERIOD} frames a period ({PERIOD / RATE * 1000:.2f} ms)"
    finally:
        stop_process(process)
        for path in Path("/dev/shm").glob(f"jack*_{name}_*"):  # left behind by a jackd that had to be killed
            path.unlink(missing_ok=True)


@contextmanager
def jack_clients_use(env: dict[str, str]) -> Iterator[None]:
    """This process's JACK clients (mido over python-rtmidi) use the server named in ``env`` meanwhile."""
    saved = {key: os.environ.get(key) for key in ("JACK_DEFAULT_SERVER", "JACK_NO_AUDIO_RESERVATION")}
    os.environ.update({key: env[key] for key in saved})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def jack_environment(name: str) -> dict[str, str]:
    """The environment for a JACK server called ``name`` and its clients.

    JACK_NO_AUDIO_RESERVATION: jackd asks D-Bus for the sound card first
    otherwise, which fails as root in a container (no session bus).
    """
    return {**os.environ, "JACK_DEFAULT_SERVER": name, "JACK_NO_AUDIO_RESERVATION": "1"}


def jack_reachable(env) -> bool:
    """Whether a JACK server answers in this environment (a JACK client can open)."""
    if shutil.which("jack_lsp"):
        command = ["jack_lsp"]
    else:
        command = [sys.executable, "-c", "import rtmidi; rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK).delete()"]
    try:
        return subprocess.run(command, env=dict(env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def wait_for_jack(process: subprocess.Popen, env: dict) -> None:
    stop = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < stop:
        if process.poll() is not None:
            why = process.stderr.read().decode(errors="replace").strip().splitlines()
            raise MidiBenchUnavailable(f"jackd (dummy driver) did not start: {why[-1] if why else 'no reason given'}")
        if jack_reachable(env):
            return
        time.sleep(0.05)
    raise MidiBenchUnavailable(f"jackd (dummy driver) did not answer within {START_TIMEOUT_S:.0f} s")


def stop_process(process: subprocess.Popen, timeout: float = 5.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            stream.close()


class TimedParts(MidiParts):
    """MIDI parts that note each note-on's deadline and pitch as it goes out."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.note_ons: list[tuple[float, int]] = []

    def robojam_output(self, output, now: float) -> None:
        if output.kind == "touch" and not self.robojam.in_stroke:
            self.note_ons.append((output.deadline, self.robojam.mapping.pitch(output.x)))
        super().robojam_output(output, now)


def measure(model_path, min_note_ons: int, max_seconds: float, seconds: float) -> dict:
    """Play responses of ``seconds`` into a JACK port and time their note-ons' arrival."""
    try:
        parts = TimedParts.open(None, MidiMapping(), virtual=PORT_NAME, api="jack")
    except RobojamError as e:
        raise MidiBenchUnavailable(str(e)) from None
    listener = None
    inbox = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    inbox.bind(("127.0.0.1", 0))
    inbox.settimeout(0.05)
    server = Server(load_model(model_path), Settings(seconds=seconds, threshold=60.0),
                    ServerOptions(port=0, send=[("127.0.0.1", inbox.getsockname()[1])], status_every=0.0),
                    midi=parts)
    thread = run_in_thread(server)
    try:
        listener = subprocess.Popen([sys.executable, "-c", LISTENER, f"{PORT_NAME}:{PORT_NAME}"],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    text=True)
        ready = listener.stdout.readline()
        if ready.strip() != "ready":
            raise MidiBenchUnavailable(f"the MIDI listener could not open robojam's JACK port: {ready.strip()}")
        started, round_ = time.monotonic(), 0
        while len(parts.note_ons) < min_note_ons and time.monotonic() - started < max_seconds:
            play_call_and_respond(server.address[1], inbox, round_, seconds)
            round_ += 1
        time.sleep(0.2)  # the last notes' way through JACK
        out, _ = listener.communicate(timeout=10)
    finally:
        server.stop()
        thread.join(10)
        parts.close()
        inbox.close()
        if listener is not None:
            stop_process(listener)
    arrived = [(float(when), int(note)) for when, note in (line.split() for line in out.splitlines() if line)]
    return timing_figures(parts.note_ons, arrived)


def play_call_and_respond(port: int, inbox: socket.socket, round_: int, seconds: float) -> None:
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for k in range(30):
            out.sendto(encode("/robojam/touch", 0.2 + 0.02 * k, 0.3 + 0.1 * round_, 0.5, "bench"), ("127.0.0.1", port))
            time.sleep(1 / TOUCH_RATE)
        out.sendto(encode("/robojam/respond", "bench"), ("127.0.0.1", port))
        stop = time.monotonic() + seconds + 3.0
        while time.monotonic() < stop:
            try:
                data = inbox.recv(65536)
            except TimeoutError:
                continue
            if any(m.address == "/robojam/response/end" for m in parse_datagram(data)):
                return
    finally:
        out.close()


def timing_figures(sent: list[tuple[float, int]], arrived: list[tuple[float, int]]) -> dict:
    """Lateness of each note-on (arrival minus deadline), pairing sent and arrived in order."""
    if not sent:
        raise MidiBenchUnavailable("robojam played no notes")
    if [note for _, note in sent] != [note for _, note in arrived]:
        raise MidiBenchUnavailable(f"{len(sent)} note-ons sent but {len(arrived)} arrived, or not in order")
    late_ms = np.array([(when - deadline) * 1000 for (deadline, _), (when, _) in zip(sent, arrived)])
    return {
        "midi_timing_error_ms_median": float(np.median(late_ms)),
        "midi_timing_error_ms_p99": float(np.percentile(late_ms, 99)),
        "midi_note_ons": len(late_ms),
    }

"""A JACK server of the tests' own, and JACK MIDI peers no one here wrote.

The server runs JACK's dummy driver (no sound card), under a name no other
JACK uses (JACK_DEFAULT_SERVER points the tests' clients at it), in
synchronous mode: without realtime scheduling a client that misses a cycle on
a busy machine would otherwise drop that cycle's MIDI events. The MIDI
monitor is jackd2's ``jack_midi_dump``; the synth is FluidSynth.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import mido
import pytest

from robojam.tools.bench_midi import jack_clients_use

RATE = 48000
PERIOD = 128  # frames: 2.7 ms
INSTALL = "run scripts/install-debian-packages --tests (it installs jackd2)"
DUMP_LINE = re.compile(r"^\s*(\d+):\s+((?:[0-9a-f]{2} ?)+)")


class JackServer:
    """``jackd --no-realtime --sync -d dummy`` under a unique name; :meth:`stop` ends it."""

    def __init__(self, timeout: float = 10.0):
        for tool in ("jackd", "jack_lsp", "jack_connect", "jack_midi_dump"):
            if not shutil.which(tool):
                pytest.fail(f"{tool} is needed to test real MIDI ports: {INSTALL}")
        self.name = f"robojam-test-{os.getpid()}-{secrets.token_hex(3)}"
        # JACK_NO_AUDIO_RESERVATION: jackd would ask D-Bus for the sound card first,
        # which fails as root in a container with no session bus.
        self.env = {**os.environ, "JACK_DEFAULT_SERVER": self.name, "JACK_NO_AUDIO_RESERVATION": "1"}
        self.process = subprocess.Popen(
            ["jackd", "-n", self.name, "--no-realtime", "--sync", "-d", "dummy", "-r", str(RATE), "-p", str(PERIOD)],
            env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True)
        deadline = time.monotonic() + timeout
        while self.lsp(check=False) is None:
            if self.process.poll() is not None:
                pytest.fail(f"jackd did not start: {self.process.stderr.read().decode(errors='replace')}")
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"jackd did not answer jack_lsp within {timeout} s")
            time.sleep(0.05)

    def lsp(self, *args: str, check: bool = True) -> str | None:
        result = subprocess.run(["jack_lsp", *args], env=self.env, capture_output=True, text=True, timeout=10)
        if result.returncode != 0:
            assert not check, result.stderr
            return None
        return result.stdout

    def ports(self) -> list[str]:
        return [line for line in self.lsp().splitlines() if line and not line.startswith((" ", "\t"))]

    def direction(self, port: str) -> str | None:
        """``input`` or ``output`` (as jack_lsp -p says), None for a port that is not there."""
        lines = self.lsp("-p").splitlines()
        for name, properties in zip(lines, lines[1:]):
            if name == port:
                return next((p for p in ("input", "output") if p in properties), None)
        return None

    def wait_for_port(self, name: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while name not in self.ports():
            assert time.monotonic() < deadline, f"no JACK port {name!r}; ports: {self.ports()}"
            time.sleep(0.05)

    def connect(self, source: str, destination: str) -> None:
        self.wait_for_port(source)
        self.wait_for_port(destination)
        subprocess.run(["jack_connect", source, destination], env=self.env, check=True, timeout=10)

    def stop(self) -> None:
        stop_process(self.process, signal.SIGTERM, timeout=3.0)
        self.process.stderr.close()
        # A jackd that had to be killed leaves its shared memory behind.
        for path in Path("/dev/shm").glob(f"jack*_{self.name}_*"):
            path.unlink(missing_ok=True)


@contextmanager
def jack_environment(server: JackServer):
    """This process's JACK clients (mido over python-rtmidi) use ``server`` meanwhile."""
    with jack_clients_use(server.env):
        yield


def stop_process(process: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 10.0) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


class MidiDump:
    """jackd2's MIDI monitor on a port of its own; each line it prints is kept with when it arrived.

    ``events`` holds ``(arrival, frame, message)``: arrival on this process's
    monotonic clock, frame the JACK frame it came in (from the monitor's start).
    """

    def __init__(self, jack: JackServer, client: str = "rj-dump"):
        self.jack = jack
        self.port = f"{client}:input"
        # stdbuf: a line at a time through the pipe, as each event comes.
        self.process = subprocess.Popen(["stdbuf", "-oL", "jack_midi_dump", "-a", client], env=jack.env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.events: list[tuple[float, int, mido.Message]] = []
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        jack.wait_for_port(self.port)

    def _read(self) -> None:
        for line in self.process.stdout:
            arrived = time.monotonic()
            self.lines.append(line)
            match = DUMP_LINE.match(line)
            if match:
                data = bytes.fromhex(match.group(2))
                self.events.append((arrived, int(match.group(1)), mido.Message.from_bytes(data)))

    def note_ons(self) -> list[tuple[float, int, mido.Message]]:
        return [e for e in list(self.events) if e[2].type == "note_on" and e[2].velocity > 0]

    def wait_for(self, predicate, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = predicate(list(self.events))
            if found:
                return found
            time.sleep(0.005)
        raise AssertionError(f"no {what} within {timeout} s; the monitor printed:\n{''.join(self.lines[-20:])}")

    def close(self) -> None:
        stop_process(self.process, signal.SIGINT)
        self._reader.join(5)
        self.process.stdout.close()


def unended_notes(events) -> list[tuple[int, int]]:
    """(channel, note) of every note-on with no note-off (or velocity-0 note-on) after it."""
    sounding: dict[tuple[int, int], int] = {}
    for _, _, msg in events:
        if msg.type == "note_on" and msg.velocity > 0:
            sounding[(msg.channel, msg.note)] = sounding.get((msg.channel, msg.note), 0) + 1
        elif msg.type in ("note_off", "note_on"):
            sounding.pop((msg.channel, msg.note), None)
    return sorted(sounding)


class Serve:
    """``robojam serve --midi-api jack`` in a subprocess, with its OSC port; :meth:`stop` ends it."""

    def __init__(self, jack: JackServer, tmp_path: Path, *args):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "robojam", "serve", "--port", "0", "--log-dir", str(tmp_path / "logs"),
             "--status-every", "0", "--midi-api", "jack", *map(str, args)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path, env=jack.env)
        self.log_dir = tmp_path / "logs"
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            lines.append(line)
            if line.startswith("ready in") or not line:
                break
        self.banner = "".join(lines)
        match = re.search(r"udp://127\.0\.0\.1:(\d+)", self.banner)
        if not (match and "ready in" in self.banner):
            self.stop()
            raise AssertionError(f"robojam serve did not start:\n{self.banner}")
        self.port = int(match.group(1))
        self.output = ""

    def osc(self, address: str, types: str = "", *args) -> None:
        """Send with liblo's oscsend (an OSC implementation no one here wrote)."""
        subprocess.run(["oscsend", "127.0.0.1", str(self.port), address, types, *map(str, args)], check=True,
                       timeout=10)

    def stop(self, sig=signal.SIGINT) -> str:
        """Stop it (SIGINT: Ctrl-C) and return what it printed after the banner."""
        stop_process(self.process, sig)
        self.output = self.process.stdout.read()
        self.process.stdout.close()
        return self.output

    def robojam_log_rows(self) -> list[dict]:
        import csv

        log = next(self.log_dir.glob("*.csv"))
        with open(log, newline="") as f:
            return [row for row in csv.DictReader(f)]

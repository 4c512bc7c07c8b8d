"""Behaviours as a user reaches them: commands in a subprocess, `robojam serve` options, errors,
OSC argument types over the wire, and the server's counters."""

import csv
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from oscpeer import Listener, Sender, running_server, status_of
from robojam.live.server import Server
from robojam.live.session import Settings

ROOT = Path(__file__).resolve().parent.parent
ROBOJAM = [sys.executable, "-m", "robojam"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def oscsend(port, address, types="", *args):
    subprocess.run(["oscsend", "127.0.0.1", str(port), address, types, *map(str, args)], check=True,
                   timeout=10)


class Serve:
    """A `robojam serve` subprocess whose output is read by a thread, so no read ever blocks a test."""

    def __init__(self, tmp_path, *args):
        self.process = subprocess.Popen(
            [*ROBOJAM, "serve", "--port", "0", "--log-dir", str(tmp_path / "logs"), *map(str, args)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
        self.lines: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            if line is None or line.startswith("ready in"):
                break
        text = self.output()
        match = re.search(r"listening for OSC on udp://127\.0\.0\.1:(\d+)", text)
        assert match and "ready in" in text, text
        self.port = int(match.group(1))

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line)
            self._queue.put(line)
        self._queue.put(None)

    def output(self) -> str:
        return "".join(self.lines)

    def stop(self) -> str:
        """SIGTERM, then the whole output; kills the process if it does not stop."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (not self.lines or not self._queue.empty()):
            time.sleep(0.02)
        time.sleep(0.1)
        return self.output()


@pytest.fixture
def serve(tmp_path):
    started: list[Serve] = []

    def start(*args) -> Serve:
        server = Serve(tmp_path, *args)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait(10)


@pytest.fixture
def listener():
    peer = Listener()
    yield peer
    peer.close()


@pytest.fixture
def sender_to():
    senders: list[Sender] = []

    def make(port) -> Sender:
        senders.append(Sender(port))
        return senders[-1]

    yield make
    for s in senders:
        s.close()


def status(sender: Sender, listener: Listener, *session) -> dict:
    listener.received.clear()
    sender.send("/robojam/status", *session)
    listener.collect(3.0, until="/robojam/status")
    replies = [a for _, address, a in listener.received if address == "/robojam/status"]
    assert replies, f"no status reply: {listener.addresses()}"
    args = replies[-1]
    if session:
        assert args[-1] == session[0]
        args = args[:-1]
    return dict(zip(args[::2], args[1::2]))


def stopped_line(output: str) -> str:
    return next(line for line in output.splitlines() if line.startswith("stopped:"))


# --- 1. robojam protocol -------------------------------------------------------------------------

def test_protocol_command_prints_protocol_md():
    result = subprocess.run([*ROBOJAM, "protocol"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (ROOT / "server" / "PROTOCOL.md").read_text()


# --- 2. robojam play against a real robojam serve ---------------------------------------------------

def test_play_records_a_response_from_serve(tmp_path, serve):
    listen = free_port()
    server = serve("--send", f"127.0.0.1:{listen}", "--threshold", "5", "--seconds", "1.5", "--seed", "3",
                   "--status-every", "0")
    out = tmp_path / "out.csv"
    result = subprocess.run([*ROBOJAM, "play", str(ROOT / "examples" / "call.csv"), "-o", str(out),
                             "--to", f"127.0.0.1:{server.port}", "--listen-port", str(listen), "--timeout", "10"],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 1
    assert {"time", "x", "y"} <= set(rows[0])
    times = [float(r["time"]) for r in rows]
    assert 0.0 <= times[0] < 0.05  # timed from the response's start
    assert times == sorted(times)
    assert times[-1] <= 1.5 + 0.1
    output = server.stop()
    assert "1 responses" in stopped_line(output)
    assert "213 touches heard" in stopped_line(output)


# --- 3. serve options -------------------------------------------------------------------------------

def test_duet_mode_plays_while_the_performer_plays(serve, listener, sender_to):
    server = serve("--send", f"127.0.0.1:{listener.port}", "--mode", "duet", "--threshold", "30",
                   "--status-every", "0", "--seed", "1")
    sender = sender_to(server.port)
    last_sent = None
    for i in range(40):  # 1.3 s of playing, never a silence near the 30 s threshold
        sender.send("/robojam/touch", 0.2 + 0.01 * i, 0.5, 0.5)
        last_sent = time.monotonic()
        listener.collect(0.033)
    during = [t for t, address, _ in listener.received if address == "/robojam/response/touch"]
    assert during, listener.addresses()
    assert min(during) < last_sent


def test_call_and_response_with_the_same_threshold_stays_silent(serve, listener, sender_to):
    """The control for the duet test: the default mode says nothing while the performer plays."""
    server = serve("--send", f"127.0.0.1:{listener.port}", "--threshold", "30", "--status-every", "0")
    sender = sender_to(server.port)
    for i in range(40):
        sender.send("/robojam/touch", 0.2 + 0.01 * i, 0.5, 0.5)
        listener.collect(0.033)
    assert "/robojam/response/touch" not in listener.addresses()


def test_max_sessions_drops_a_second_session_while_the_first_plays(serve, listener, sender_to):
    server = serve("--send", f"127.0.0.1:{listener.port}", "--max-sessions", "1", "--threshold", "30",
                   "--seconds", "5", "--status-every", "0")
    sender = sender_to(server.port)
    sender.call(touches=10, session="alice")
    sender.send("/robojam/respond", "alice")
    listener.collect(2.0, until="/robojam/response/touch")  # alice's response is playing
    sender.send("/robojam/touch", 0.5, 0.5, 0.5, "bob")
    sender.send("/robojam/touch", 0.6, 0.5, 0.5, "bob")
    time.sleep(0.2)
    figures = status(sender, listener, "alice")
    assert figures["sessions"] == 1
    assert figures["touches"] == 10  # bob's were never heard
    assert figures["dropped.too_many_sessions"] == 2


def test_max_sessions_evicts_an_idle_session_for_a_newcomer(serve, listener, sender_to):
    server = serve("--send", f"127.0.0.1:{listener.port}", "--max-sessions", "1", "--threshold", "30",
                   "--status-every", "0")
    sender = sender_to(server.port)
    sender.send("/robojam/touch", 0.5, 0.5, 0.5, "alice")
    sender.send("/robojam/touch", 0.5, 0.5, 0.5, "bob")
    time.sleep(0.2)
    figures = status(sender, listener, "bob")
    assert figures["sessions"] == 1
    assert figures["touches"] == 2
    assert "dropped.too_many_sessions" not in figures


def test_session_timeout_expires_an_idle_session(serve, listener, sender_to):
    server = serve("--send", f"127.0.0.1:{listener.port}", "--session-timeout", "1", "--threshold", "30",
                   "--status-every", "0")
    sender = sender_to(server.port)
    sender.send("/robojam/touch", 0.5, 0.5, 0.5, "alice")
    time.sleep(0.1)
    assert status(sender, listener)["sessions"] == 2  # alice and the plain host asking
    time.sleep(2.0)
    assert status(sender, listener)["sessions"] == 1  # alice is gone; only whoever asks now


def test_status_every_prints_status_lines(serve, sender_to):
    server = serve("--status-every", "1", "--threshold", "30", "--no-log")
    sender = sender_to(server.port)
    sender.send("/robojam/touch", 0.5, 0.5, 0.5)
    time.sleep(2.5)
    output = server.stop()
    periodic = [line for line in output.splitlines()
                if re.match(r"^\d\d:\d\d:\d\d 1 performer\(s\), 1 touches heard, 0 responses, 0 dropped", line)]
    assert len(periodic) >= 1, output


def test_no_status_lines_with_status_every_zero(serve, sender_to):
    server = serve("--status-every", "0", "--threshold", "30", "--no-log")
    sender = sender_to(server.port)
    sender.send("/robojam/touch", 0.5, 0.5, 0.5)
    time.sleep(1.5)
    output = server.stop()
    assert not [line for line in output.splitlines() if re.match(r"^\d\d:\d\d:\d\d ", line)], output


def test_host_is_shown_in_the_listening_line(serve):
    server = serve("--host", "127.0.0.1", "--status-every", "0", "--no-log")
    assert f"listening for OSC on udp://127.0.0.1:{server.port}\n" in server.output()
    assert server.port != 0


# --- 4. errors --------------------------------------------------------------------------------------

def test_port_in_use_is_one_line_and_exit_status_1(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        result = subprocess.run([*ROBOJAM, "serve", "--port", str(port), "--no-log"],
                                capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"127.0.0.1:{port}" in lines[0] and "Address already in use" in lines[0]


def test_config_value_of_the_wrong_type_names_the_setting(tmp_path):
    config = tmp_path / "stage.toml"
    config.write_text('port = "x"\n')
    result = subprocess.run([*ROBOJAM, "serve", "--config", str(config), "--no-log"],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: port ") and "'x'" in lines[0]


# --- 5. OSC argument types over the wire ----------------------------------------------------------------

def test_int_and_double_touches_are_touches(serve, listener, sender_to):
    server = serve("--send", f"127.0.0.1:{listener.port}", "--threshold", "30", "--status-every", "0")
    oscsend(server.port, "/robojam/touch", "ii", 0, 1)
    oscsend(server.port, "/robojam/touch", "dd", 0.25, 0.75)
    oscsend(server.port, "/robojam/touch", "ddd", 0.5, 0.5, 0.5)
    time.sleep(0.2)
    figures = status(sender_to(server.port), listener)
    assert figures["touches"] == 3
    assert figures["dropped"] == 0
    log = next((Path(server.process.args[server.process.args.index("--log-dir") + 1])).glob("*.csv"))
    server.stop()
    with open(log, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["source"] == "performer"]
    assert [(float(r["x"]), float(r["y"])) for r in rows] == [(0.0, 1.0), (0.25, 0.75), (0.5, 0.5)]


def test_reset_over_the_wire_cancels_the_pending_response(serve, listener):
    server = serve("--send", f"127.0.0.1:{listener.port}", "--threshold", "0.5", "--seconds", "0.5",
                   "--status-every", "0")
    for i in range(8):
        oscsend(server.port, "/robojam/touch", "fff", 0.2 + 0.05 * i, 0.4, 0.5)
    oscsend(server.port, "/robojam/reset")
    listener.collect(1.5)
    assert "/robojam/response/start" not in listener.addresses()
    # the control: the same call without a reset is answered
    for i in range(8):
        oscsend(server.port, "/robojam/touch", "fff", 0.2 + 0.05 * i, 0.4, 0.5)
    listener.collect(3.0, until="/robojam/response/end")
    assert "/robojam/response/start" in listener.addresses()
    assert "1 responses" in stopped_line(server.stop())


# --- 6. server counters ------------------------------------------------------------------------------

def test_send_failed_is_counted_and_the_server_plays_on(serve, sender_to):
    # a broadcast address without SO_BROADCAST: the kernel refuses every send (EACCES)
    server = serve("--send", "255.255.255.255:9", "--threshold", "0.3", "--seconds", "0.5",
                   "--status-every", "0", "--no-log")
    sender = sender_to(server.port)
    sender.call(touches=10)
    time.sleep(1.3)
    sender.call(touches=10)
    time.sleep(1.3)
    assert server.process.poll() is None
    output = server.stop()
    assert server.process.returncode == 0 and "Traceback" not in output
    line = stopped_line(output)
    assert "20 touches heard, 2 responses" in line, line
    failed = int(re.search(r"send_failed (\d+)", line).group(1))
    assert failed >= 2 * 2  # at least a start and an end per response


def test_internal_error_is_counted_and_the_server_plays_on(monkeypatch):
    def broken(self, key, now):
        raise RuntimeError("boom")

    monkeypatch.setattr(Server, "performer_up", broken)
    with running_server(Settings(threshold=0.3, seconds=0.5)) as (server, sender, listener):
        sender.send("/robojam/up")
        sender.send("/robojam/up")
        time.sleep(0.1)
        figures = status_of(sender, listener)
        assert figures["dropped.internal_error"] == 2
        listener.received.clear()
        sender.call(touches=10)
        listener.collect(3.0, until="/robojam/response/end")
        assert "/robojam/response/start" in listener.addresses()
        assert status_of(sender, listener)["responses"] == 1

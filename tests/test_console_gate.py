"""A gate for the stage console (#25 item 7): a live `robojam serve`, its page, WebSocket, HTTP API and
OSC port all on loopback, fed every hostile input the parsers are tested with (their Hypothesis
strategies too); its console must then hold no traceback, no warning and no line over 200 characters.

The server is a real subprocess, so what is checked is exactly what a performer's terminal shows.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time

import pytest
from hypothesis import given, settings, strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from test_fuzz import csv_texts, datagrams, frames

LONGEST_LINE = 200
HOSTILE_FRAMES = [
    "[" * 2000, "{" * 1000, '{"address": "/robojam/touch", "args": ' + "[" * 1500 + "]" * 1500 + "}",
    "1" * 4000, '{"address": "/robojam/touch", "args": [0.5, ' + "9" * 4000 + "]}",
    json.dumps({"address": "/robojam/model", "args": ["../../etc/passwd"]}),
    json.dumps({"address": "/robojam/touch", "args": [1e-320, 1e308]}),
    json.dumps({"address": "/robojam/temp", "args": [1e308]}), "\ud800".encode("utf-8", "surrogatepass"),
    b"\x00" * 100, "nope",
]
HOSTILE_BODIES = [
    b"[" * 50000, b"{" * 50000, b"\xff\xfe\x00garbage", b'{"perf": "' + b"0," * 5000 + b'"}',
    json.dumps({"perf": "time,x,y\n" + "\n".join(f"{i * 1e-320},0.5,0.5" for i in range(40))}).encode(),
    json.dumps({"perf": "time,x,y\n0,1e308,-1e308\n1e308,0.5,0.5\n"}).encode(),
    json.dumps({"perf": "x" * 200_000}).encode(), json.dumps({"perf": "time," * 20000}).encode(),
    b"perf=" + b"%ff" * 1000, b"perf=%22" + b"[" * 5000,
]
RAW_REQUESTS = [
    b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X: " + b"y" * 20000 + b"\r\n\r\n",
    b"POST /api/predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n0\r\n\r\n",
    b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
    b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n{}",
    b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: !!\r\n\r\n",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 64,   # a TLS hello to a plain port
    b"GET /../../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", b"POST /api/predict HTTP/1.1\r\nHost: x\r\n",
]


@pytest.fixture
def serve(tmp_path):
    """`robojam serve` with the page, the API and OSC on ephemeral loopback ports; yields (process, ports)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "robojam", "serve", "--port", "0", "--web", "0", "--api", "0", "--no-log",
         "--status-every", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    started, deadline = [], time.monotonic() + 30
    while time.monotonic() < deadline and not (started and started[-1].startswith("ready in")):
        line = process.stdout.readline()
        if not line:
            break
        started.append(line)
    text = "".join(started)
    found = {name: re.search(pattern, text) for name, pattern in [
        ("udp", r"udp://127\.0\.0\.1:(\d+)"), ("web", r"web page: http://127\.0\.0\.1:(\d+)/"),
        ("api", r"HTTP API: POST performances to http://127\.0\.0\.1:(\d+)/")]}
    assert "ready in" in text and all(found.values()), text
    ports = {name: int(match.group(1)) for name, match in found.items()}
    yield process, ports
    if process.poll() is None:
        process.kill()
        process.communicate(timeout=10)


def send_frames(port: int, frames_: list) -> None:
    """The frames over one WebSocket, until the server closes it (after a frame over 4 KB)."""
    with connect(f"ws://127.0.0.1:{port}/ws", open_timeout=5) as ws:
        ws.recv(timeout=5)   # the settings
        try:
            for frame in frames_:
                ws.send(frame)
        except ConnectionClosed:
            pass


def raw(port: int, data: bytes, hang_up: bool = False) -> None:
    """Bytes to a port as one request, reading what comes back (or hanging up at once)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(data)
            if not hang_up:
                sock.shutdown(socket.SHUT_WR)
                while sock.recv(65536):
                    pass
    except OSError:
        pass


def post(port: int, body: bytes, hang_up: bool = False) -> None:
    head = b"POST /api/predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body)
    raw(port, head + body, hang_up)


def test_hostile_input_leaves_the_console_clean(serve):
    process, ports = serve
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    @settings(max_examples=150, deadline=None)
    @given(st.lists(frames, max_size=5), datagrams, csv_texts)
    def hostile(frames_, datagram, csv):
        send_frames(ports["web"], frames_)
        udp.sendto(datagram, ("127.0.0.1", ports["udp"]))
        post(ports["api"], json.dumps({"perf": csv}).encode())

    try:
        for frame in HOSTILE_FRAMES:
            send_frames(ports["web"], [frame])
        for body in HOSTILE_BODIES:
            post(ports["api"], body)
            post(ports["web"], body, hang_up=True)
        for request in RAW_REQUESTS:
            raw(ports["api"], request)
            raw(ports["web"], request, hang_up=True)
        with pytest.raises(ssl.SSLError):   # TLS to a plain HTTP port
            with socket.create_connection(("127.0.0.1", ports["api"]), timeout=5) as sock:
                ssl.create_default_context().wrap_socket(sock, server_hostname="127.0.0.1")
        hostile()
        slow = [threading.Thread(target=raw, args=(ports["api"], b"POST /api/predict HTTP/1.1\r\n", True))
                for _ in range(20)]
        for thread in slow:
            thread.start()
        for thread in slow:
            thread.join(10)
        time.sleep(1.2)   # a status line or two
    finally:
        udp.close()
    assert_clean_console(process)


def test_a_long_model_name_leaves_the_console_clean(serve):
    process, ports = serve
    send_frames(ports["web"], [json.dumps({"address": "/robojam/model", "args": ["x" * 3900]})])
    assert_clean_console(process)


def assert_clean_console(process: subprocess.Popen) -> None:
    """Stop the server as Ctrl-C would; what it printed, on either stream, holds no traceback, no warning
    and no line over LONGEST_LINE characters."""
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err[-2000:]
    for name, text in [("stderr", err), ("stdout", out)]:
        assert "Traceback" not in text and "Warning" not in text, f"{name}: {text[-3000:]}"
        long = [line[:300] for line in text.splitlines() if len(line) > LONGEST_LINE]
        assert not long, f"{name} has lines over {LONGEST_LINE} characters: {long[:3]}"

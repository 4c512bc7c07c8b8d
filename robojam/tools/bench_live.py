"""The live part of ``robojam bench``: ``robojam serve`` over real UDP on loopback.

The server runs in its own process, as on stage; the load comes from this
one. Figures: from sending ``/robojam/respond`` to the first
``/robojam/response/touch`` arriving (against a bare UDP echo measured in the
same run); the time to send the plan of a 5 s response (``/robojam/plan``) and
the first touch without a plan (``--no-plan``) in the same run; how late
response touches leave against their deadlines; and how
many performers, each sending 60 touches a second, the server holds with
99% of touches in the model state within 5 ms of reaching the machine.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time

import numpy as np

from robojam.live.osc import encode, parse_datagram

TOUCH_RATE = 60.0
LATENCY_TARGET_MS = 5.0


class LiveServer:
    """``robojam serve`` in a subprocess, replying to a socket of ours."""

    def __init__(self, model_path=None, *extra: str):
        self.inbox = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.inbox.bind(("127.0.0.1", 0))
        self.inbox.settimeout(0.01)
        command = [sys.executable, "-m", "robojam", "serve", "--port", "0", "--no-log", "--status-every", "0",
                   "--send", f"127.0.0.1:{self.inbox.getsockname()[1]}", "--threshold", "60",
                   "--max-sessions", "1024", *extra]
        if model_path:
            command += ["--model", str(model_path)]
        started = time.monotonic()
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.port = self._wait_ready()
        self.start_seconds = time.monotonic() - started  # from launch to ready, Python start included
        self.out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def _wait_ready(self) -> int:
        text = ""
        while "ready in" not in text:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"robojam serve did not start:\n{text}")
            text += line
        return int(re.search(r"udp://[\d.]+:(\d+)", text).group(1))

    def send(self, address: str, *args) -> None:
        self.out.sendto(encode(address, *args), ("127.0.0.1", self.port))

    def wait_for(self, address: str, timeout: float = 2.0) -> float | None:
        """Arrival time (monotonic) of the next message at ``address``."""
        stop = time.monotonic() + timeout
        while time.monotonic() < stop:
            try:
                data = self.inbox.recv(65536)
            except TimeoutError:
                continue
            arrived = time.monotonic()
            if any(m.address == address for m in parse_datagram(data)):
                return arrived
        return None

    def status(self) -> dict:
        self.drain()
        self.send("/robojam/status", "bench")
        stop = time.monotonic() + 2.0
        while time.monotonic() < stop:
            try:
                data = self.inbox.recv(65536)
            except TimeoutError:
                continue
            for message in parse_datagram(data):
                if message.address == "/robojam/status":
                    return dict(zip(message.args[::2], message.args[1::2]))
        return {}

    def drain(self) -> None:
        try:
            while True:
                self.inbox.recv(65536)
        except TimeoutError:
            pass

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self.inbox.close()
        self.out.close()


def udp_echo_ms(rounds: int = 200) -> np.ndarray:
    """Round trips through a bare Python UDP echo in another process: the floor for OSC figures."""
    echo = subprocess.Popen([sys.executable, "-c", (
        "import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(('127.0.0.1',0))\n"
        "print(s.getsockname()[1],flush=True)\nwhile True:\n d,a=s.recvfrom(65536)\n s.sendto(d,a)")],
        stdout=subprocess.PIPE, text=True)
    port = int(echo.stdout.readline())
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(1.0)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        sock.sendto(b"ping", ("127.0.0.1", port))
        sock.recv(64)
        times.append((time.perf_counter() - start) * 1000)
        time.sleep(0.002)
    echo.kill()
    sock.close()
    return np.array(times)


def _call_then_respond(server: LiveServer, i: int) -> float:
    """A short call (its height varying with ``i``), then /robojam/respond; when that was sent."""
    for k in range(20):
        server.send("/robojam/touch", 0.3 + 0.01 * k, 0.5 + 0.01 * (i % 10), 0.5, "bench")
    time.sleep(0.02)
    server.drain()
    sent = time.monotonic()
    server.send("/robojam/respond", "bench")
    return sent


def first_response_ms(server: LiveServer, rounds: int = 60) -> np.ndarray:
    """From sending /robojam/respond to the first response touch arriving, after a short call."""
    times = []
    for i in range(rounds):
        sent = _call_then_respond(server, i)
        arrived = server.wait_for("/robojam/response/touch")
        if arrived is not None:
            times.append((arrived - sent) * 1000)
        time.sleep(0.1)  # let the response play a little, as on stage
        server.send("/robojam/stop", "bench")
        time.sleep(0.01)
    return np.array(times)


def plan_ms(server: LiveServer, rounds: int = 40, window: float = 0.15) -> dict[str, np.ndarray]:
    """From sending /robojam/respond (a 5 s response) to: the first response touch arriving, the first
    /robojam/plan arriving, and the last (the whole response planned); and the triples planned."""
    got: dict[str, list] = {"first_touch": [], "first_plan": [], "whole_plan": [], "triples": []}
    for i in range(rounds):
        sent = _call_then_respond(server, i)
        touch, plans, triples = None, [], 0
        while time.monotonic() < sent + window:
            try:
                data = server.inbox.recv(65536)
            except TimeoutError:
                continue
            arrived = (time.monotonic() - sent) * 1000
            for message in parse_datagram(data):
                if message.address == "/robojam/response/touch" and touch is None:
                    touch = arrived
                elif message.address == "/robojam/plan" and len(message.args) > 1:
                    plans.append(arrived)
                    triples += len(message.args) // 3
        server.send("/robojam/stop", "bench")
        time.sleep(0.01)
        if touch is not None and plans:
            for key, value in zip(("first_touch", "first_plan", "whole_plan", "triples"),
                                  (touch, plans[0], plans[-1], triples)):
                got[key].append(value)
    return {key: np.array(values) for key, values in got.items()}


def timing_error_ms(model_path=None, responses: int = 4) -> float:
    """p99 of how late response touches leave against their deadlines, over whole 5 s responses."""
    server = LiveServer(model_path, "--seconds", "5")
    try:
        for i in range(responses):
            for k in range(30):
                server.send("/robojam/touch", 0.2 + 0.02 * k, 0.3 + 0.1 * i, 0.5, "bench")
                time.sleep(1 / TOUCH_RATE)
            server.send("/robojam/respond", "bench")
            server.wait_for("/robojam/response/end", timeout=7.0)
        return server.status().get("timing_error_us_p99", float("nan")) / 1000
    finally:
        server.close()


def performers_hold(model_path, performers: int, seconds: float = 3.0) -> float:
    """p99 touch-to-state latency (ms) with ``performers`` each sending 60 touches a second."""
    server = LiveServer(model_path)
    try:
        stop = time.monotonic() + seconds
        period = 1.0 / (TOUCH_RATE * performers)
        datagrams = [[encode("/robojam/touch", 0.5 + 0.2 * np.sin(k / 10), 0.5 + 0.2 * np.cos(k / 10), 0.5,
                             f"p{p}") for k in range(60)] for p in range(performers)]
        next_send, count = time.monotonic(), 0
        while time.monotonic() < stop:
            server.out.sendto(datagrams[count % performers][(count // performers) % 60], ("127.0.0.1", server.port))
            count += 1
            next_send += period
            pause = next_send - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        status = server.status()
        return status.get("feed_latency_us_p99", 1e9) / 1000
    finally:
        server.close()


def max_performers(model_path=None, limit: int = 256) -> tuple[int, dict[int, float]]:
    """The most performers (doubling from 1) held within the latency target, and each level's p99."""
    held, seen, performers = 0, {}, 1
    while performers <= limit:
        seen[performers] = performers_hold(model_path, performers)
        if seen[performers] > LATENCY_TARGET_MS:
            break
        held = performers
        performers *= 2
    return held, seen


def run_live_bench(model_path=None) -> dict:
    echo = udp_echo_ms()
    server = LiveServer(model_path, "--seconds", "5")
    try:
        first = first_response_ms(server)
        plan = plan_ms(server)
    finally:
        server.close()
    planless = LiveServer(model_path, "--seconds", "5", "--no-plan")
    try:
        first_planless = first_response_ms(planless)
    finally:
        planless.close()
    fresh = LiveServer(model_path)
    start = fresh.start_seconds
    fresh.close()
    lateness = timing_error_ms(model_path)
    held, levels = max_performers(model_path)
    return {
        "serve_start_s": start,
        "udp_echo_ms_median": float(np.median(echo)),
        "osc_first_response_ms_median": float(np.median(first)),
        "osc_first_response_ms_p99": float(np.percentile(first, 99)),
        "osc_first_response_over_udp_echo": float(np.median(first) / np.median(echo)),
        "osc_first_response_no_plan_ms_median": float(np.median(first_planless)),
        "osc_first_response_no_plan_ms_p99": float(np.percentile(first_planless, 99)),
        "osc_first_response_plan_over_no_plan": float(np.median(first) / np.median(first_planless)),
        "osc_plan_first_ms_median": float(np.median(plan["first_plan"])),
        "osc_plan_whole_5s_ms_median": float(np.median(plan["whole_plan"])),
        "osc_plan_whole_5s_ms_p99": float(np.percentile(plan["whole_plan"], 99)),
        "osc_plan_whole_over_first_response": float(np.median(plan["whole_plan"]) / np.median(plan["first_touch"])),
        "plan_triples_median": float(np.median(plan["triples"])),
        "timing_error_ms_p99": lateness,
        "max_performers": held,
        "feed_latency_ms_p99_by_performers": {str(k): round(v, 3) for k, v in levels.items()},
    }

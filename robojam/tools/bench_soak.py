"""``robojam bench --soak MINUTES --performers N``: a real ``robojam serve`` played for a long time.

N performers on this machine, each with a session id of its own, play
call-and-response cycles against ``robojam serve`` over loopback: a call of
20 touches at 60 a second, the silence threshold, robojam's response, a short
pause, again. Each reply carries its performer's session id, so every call is
checked for its answer. Minute by minute it reports the server's resident
memory, the responses and response touches that came back, drops by reason
(from ``/robojam/status``) and the p99 first-response latency: from the end of
the silence threshold after a call to the first response touch arriving.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from robojam.live.osc import parse_datagram
from robojam.tools.bench_live import LiveServer

CALL_TOUCHES = 20
TOUCH_GAP_S = 1 / 60
THRESHOLD_S = 0.3
RESPONSE_S = 1.0
PAUSE_S = (0.2, 0.6)
ANSWER_TIMEOUT_S = THRESHOLD_S + RESPONSE_S + 5.0


@dataclass
class Performer:
    name: str
    next_at: float
    touches_sent: int = 0
    call_ended: float | None = None   # when the last touch of the call went out
    first_touch_seen: bool = False


@dataclass
class Minute:
    responses: int = 0
    response_touches: int = 0
    answered: int = 0
    unanswered: int = 0
    latencies_ms: list = field(default_factory=list)


class Soak:
    def __init__(self, server: LiveServer, performers: int, rng: np.random.Generator):
        self.server, self.rng = server, rng
        start = time.monotonic()
        self.performers = {f"p{i}": Performer(f"p{i}", start + i * 0.05) for i in range(performers)}
        self.minute = Minute()

    def step(self, now: float) -> None:
        """Send what is due, read what came back, notice unanswered calls."""
        for performer in self.performers.values():
            if performer.call_ended is None and now >= performer.next_at:
                self._touch(performer, now)
            elif performer.call_ended is not None and now - performer.call_ended > ANSWER_TIMEOUT_S:
                self.minute.unanswered += 1
                self._next_call(performer, now)
        self._read()

    def _touch(self, performer: Performer, now: float) -> None:
        i = performer.touches_sent
        self.server.send("/robojam/touch", 0.2 + 0.03 * i, 0.3 + 0.02 * i, 0.5, performer.name)
        performer.touches_sent += 1
        performer.next_at = now + TOUCH_GAP_S
        if performer.touches_sent == CALL_TOUCHES:
            performer.call_ended, performer.first_touch_seen = time.monotonic(), False

    def _next_call(self, performer: Performer, now: float) -> None:
        performer.touches_sent, performer.call_ended = 0, None
        performer.next_at = now + self.rng.uniform(*PAUSE_S)

    def _read(self) -> None:
        while True:
            try:
                data = self.server.inbox.recv(65536)
            except (TimeoutError, BlockingIOError):
                return
            arrived = time.monotonic()
            for message in parse_datagram(data):
                self._reply(message.address, message.args, arrived)

    def _reply(self, address: str, args: list, arrived: float) -> None:
        performer = self.performers.get(args[-1]) if args and isinstance(args[-1], str) else None
        if performer is None or performer.call_ended is None:
            return
        if address == "/robojam/response/start":
            self.minute.responses += 1
        elif address == "/robojam/response/touch":
            self.minute.response_touches += 1
            if not performer.first_touch_seen:
                performer.first_touch_seen = True
                self.minute.latencies_ms.append((arrived - performer.call_ended - THRESHOLD_S) * 1000)
        elif address == "/robojam/response/end":
            self.minute.answered += 1
            self._next_call(performer, arrived)


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_soak(minutes: float, performers: int, model_path=None, report=print, seed: int = 0) -> dict:
    """Play the soak; ``report`` gets one line a minute. Returns the per-minute rows and the verdicts."""
    server = LiveServer(model_path, "--threshold", str(THRESHOLD_S), "--seconds", str(RESPONSE_S),
                        "--max-sessions", str(performers + 8))
    server.inbox.settimeout(0.001)
    soak, rows = Soak(server, performers, np.random.default_rng(seed)), []
    try:
        started = time.monotonic()
        for index in range(max(1, round(minutes))):
            minute_end = started + 60.0 * (index + 1) if minutes >= 1 else started + 60.0 * minutes
            while (now := time.monotonic()) < minute_end:
                soak.step(now)
                time.sleep(0.002)
            rows.append(_minute_row(index + 1, soak.minute, server))
            report(_minute_line(rows[-1]))
            soak.minute = Minute()
    finally:
        server.close()
    return {"minutes": rows, **_verdicts(rows)}


def _minute_row(index: int, minute: Minute, server: LiveServer) -> dict:
    status = _status(server)
    drops = {k.split(".", 1)[1]: v for k, v in status.items() if k.startswith("dropped.")}
    latencies = np.array(minute.latencies_ms) if minute.latencies_ms else np.array([np.nan])
    return {"minute": index, "rss_mb": round(resident_mb(server.process.pid), 2), "responses": minute.responses,
            "response_touches": minute.response_touches, "calls_answered": minute.answered,
            "calls_unanswered": minute.unanswered, "drops": drops,
            "first_response_ms_p99": round(float(np.percentile(latencies, 99)), 2)}


def _status(server: LiveServer) -> dict:
    """/robojam/status, asked as a session of its own (its reply carries that id)."""
    server.send("/robojam/status", "soak-status")
    stop = time.monotonic() + 2.0
    while time.monotonic() < stop:
        try:
            data = server.inbox.recv(65536)
        except (TimeoutError, BlockingIOError):
            continue
        for message in parse_datagram(data):
            if message.address == "/robojam/status":
                args = message.args[:-1] if len(message.args) % 2 else message.args
                return dict(zip(args[::2], args[1::2]))
    return {}


def _minute_line(row: dict) -> str:
    drops = ", ".join(f"{k} {v}" for k, v in row["drops"].items()) or "none"
    return (f"minute {row['minute']}: {row['rss_mb']:.1f} MB resident, {row['responses']} responses, "
            f"{row['response_touches']} response touches, {row['calls_answered']} calls answered, "
            f"{row['calls_unanswered']} unanswered, drops: {drops}, "
            f"first response p99 {row['first_response_ms_p99']:.1f} ms")


def _verdicts(rows: list[dict]) -> dict:
    after_first = [r["rss_mb"] for r in rows[1:]]
    p99s = [r["first_response_ms_p99"] for r in rows]
    return {
        "rss_spread_after_first_minute_mb": round(max(after_first) - min(after_first), 2) if after_first else None,
        "first_response_p99_drift_ms": round(p99s[-1] - p99s[1], 2) if len(p99s) > 2 else None,
        "calls_unanswered": sum(r["calls_unanswered"] for r in rows),
        "calls_answered": sum(r["calls_answered"] for r in rows),
        "drops": rows[-1]["drops"] if rows else {},
    }

"""``robojam bench --swap-flood``: does a flood of model changes stall ``robojam serve``?

Performers play call-and-response cycles against a real ``robojam serve``
over loopback, as in the soak (:mod:`robojam.tools.bench_soak`), for a while
with nothing else going on (quiet), then, on a fresh server, while a flooder
on this machine sends ``/robojam/model`` 100 times a second over UDP,
alternating two models (two copies of the model played, under names of their
own). The figures are the server's own (``/robojam/status``): how late
response touches left against their deadlines (``timing_error_us_p99``) and
from a touch reaching the machine to its being in the model state
(``feed_latency_us_p99``), each phase on a server of its own so that the p99s
do not mix. Quiet and flooded take turns, ``rounds`` times; the report gives
each round's p99s, their medians, and the flooded median over the quiet one.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from robojam.core.modelfile import default_model_path
from robojam.live.osc import encode
from robojam.tools.bench_live import LiveServer
from robojam.tools.bench_soak import RESPONSE_S, THRESHOLD_S, Soak, _status

FLOOD_RATE = 100.0   # model changes a second
MODELS = ("a", "b")  # the two names the flooder alternates


class Flooder:
    """A thread sending ``/robojam/model`` alternately for each of ``MODELS``, ``rate`` times a second."""

    def __init__(self, port: int, rate: float = FLOOD_RATE):
        self.port, self.gap = port, 1.0 / rate
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="swap-flooder", daemon=True)

    def start(self) -> Flooder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        next_at = time.monotonic()
        try:
            while not self._stop.is_set():
                sock.sendto(encode("/robojam/model", MODELS[self.sent % 2], "flooder"), ("127.0.0.1", self.port))
                self.sent += 1
                next_at += self.gap
                self._stop.wait(max(0.0, next_at - time.monotonic()))
        finally:
            sock.close()


class CountingSoak(Soak):
    """The soak's performers, counting the flooder's answers on the way (they carry its session id)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.changed = self.refused = 0

    def _reply(self, address: str, args: list, arrived: float) -> None:
        if args and args[-1] == "flooder":
            self.changed += address == "/robojam/model/changed"
            self.refused += address == "/robojam/model/refused"
            return
        super()._reply(address, args, arrived)


def play_phase(model_path, models_dir: Path, seconds: float, performers: int, flood: bool, seed: int,
               serve_args: tuple[str, ...] = ()) -> dict:
    """One server, ``performers`` playing for ``seconds`` (with the flood or without); its figures.
    ``serve_args``: more options for ``robojam serve`` (``--model-change-gap 0`` lets every change through)."""
    server = LiveServer(model_path, "--threshold", str(THRESHOLD_S), "--seconds", str(RESPONSE_S),
                        "--max-sessions", str(performers + 8), "--models-dir", str(models_dir), *serve_args)
    server.inbox.settimeout(0.001)
    soak = CountingSoak(server, performers, np.random.default_rng(seed))
    flooder = Flooder(server.port).start() if flood else None
    try:
        stop = time.monotonic() + seconds
        while (now := time.monotonic()) < stop:
            soak.step(now)
            time.sleep(0.002)
        if flooder is not None:
            flooder.stop()
        time.sleep(0.2)
        soak.step(time.monotonic())
        status = _status(server)
    finally:
        if flooder is not None:
            flooder.stop()
        server.close()
    return {
        "timing_p99_ms": round(status.get("timing_error_us_p99", -1000) / 1000, 2),
        "feed_p99_ms": round(status.get("feed_latency_us_p99", -1000) / 1000, 2),
        "calls_answered": soak.minute.answered, "calls_unanswered": soak.minute.unanswered,
        "changes_sent": flooder.sent if flooder else 0, "changes_made": soak.changed,
        "changes_refused": soak.refused, "dropped_rate_limited": status.get("dropped.rate_limited", 0),
    }


def run_swap_flood(seconds: float = 8.0, rounds: int = 3, performers: int = 4, model_path=None,
                   report=print, seed: int = 0, serve_args: tuple[str, ...] = ()) -> dict:
    """Quiet and flooded phases in turn; ``report`` gets a line a phase. Returns the figures."""
    source = Path(model_path) if model_path is not None else default_model_path()
    phases: dict[str, list[dict]] = {"quiet": [], "flooded": []}
    with tempfile.TemporaryDirectory(prefix="robojam-swap-") as folder:
        models_dir = Path(folder)
        for name in MODELS:
            shutil.copytree(source, models_dir / name)
        for index in range(rounds):
            for kind in ("quiet", "flooded"):
                row = play_phase(model_path, models_dir, seconds, performers, kind == "flooded", seed + index,
                                 serve_args)
                phases[kind].append(row)
                report(f"round {index + 1}, {kind}: timing p99 {row['timing_p99_ms']:.2f} ms, "
                       f"feed latency p99 {row['feed_p99_ms']:.2f} ms, {row['calls_answered']} calls answered, "
                       f"{row['calls_unanswered']} unanswered"
                       + (f"; {row['changes_sent']} changes sent, {row['changes_made']} made, "
                          f"{row['changes_refused']} refused" if kind == "flooded" else ""))
    result: dict = {"swap_flood_rounds": phases, "swap_flood_seconds": seconds, "swap_flood_performers": performers}
    for figure in ("timing_p99_ms", "feed_p99_ms"):
        quiet = float(np.median([r[figure] for r in phases["quiet"]]))
        flooded = float(np.median([r[figure] for r in phases["flooded"]]))
        result[f"swap_flood_{figure}_quiet"] = round(quiet, 2)
        result[f"swap_flood_{figure}_flooded"] = round(flooded, 2)
        result[f"swap_flood_{figure}_ratio"] = round(flooded / quiet, 2) if quiet > 0 else None
    result["swap_flood_calls_unanswered"] = sum(r["calls_unanswered"] for rows in phases.values() for r in rows)
    return result

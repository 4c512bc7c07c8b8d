"""The drafts' part of ``robojam bench``: what drafting in the player's silence costs on stage.

``robojam serve`` over real UDP on loopback, as in :mod:`robojam.tools.bench_live`,
each figure measured at 8 drafts and at 1 (``--drafts 1``) in the same run:
how late the first response touch arrives after the silence threshold, how
many responses were drafted, and how late another performer's response
touches leave while this one's pauses are drafted in.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from robojam.core.drafts import DEFAULT_DRAFTS
from robojam.live.osc import encode
from robojam.tools.bench_live import TOUCH_RATE, LiveServer

THRESHOLD_S = 1.0  # drafting starts half way through it (robojam.live.session.DRAFT_FROM)


def _call(server: LiveServer, i: int, session: str, touches: int = 20) -> float:
    """A short call at TOUCH_RATE; when its last touch was sent."""
    for k in range(touches):
        if k:
            time.sleep(1 / TOUCH_RATE)
        server.send("/robojam/touch", 0.3 + 0.01 * k, 0.4 + 0.03 * (i % 10), 0.5, session)
    return time.monotonic()


def after_silence_ms(model_path, drafts: int, rounds: int = 10, seconds: float = 5.0) -> tuple[np.ndarray, int]:
    """From the silence threshold's end (the call's last touch sent, plus the threshold) to the first touch
    of a ``seconds`` response arriving; and how many responses were drafted (``/robojam/status``)."""
    server = LiveServer(model_path, "--threshold", str(THRESHOLD_S), "--seconds", str(seconds),
                        "--drafts", str(drafts))
    try:
        times = []
        for i in range(rounds):
            last = _call(server, i, "bench")
            arrived = server.wait_for("/robojam/response/touch", timeout=THRESHOLD_S + 2.0)
            if arrived is not None:
                times.append((arrived - last - THRESHOLD_S) * 1000)
            server.send("/robojam/stop", "bench")
            time.sleep(0.02)
            server.drain()  # touches sent before the stop landed are not the next round's
        return np.array(times), int(server.status().get("drafted", 0))
    finally:
        server.close()


def lateness_beside_drafts_ms(model_path, drafts: int, responses: int = 3) -> float:
    """p99 of how late one performer's 5 s responses leave while another performer plays calls whose pauses
    are drafted in (each pause ends, before the threshold, with the next call)."""
    server = LiveServer(model_path, "--threshold", str(THRESHOLD_S), "--seconds", "5", "--drafts", str(drafts))
    playing = threading.Event()
    playing.set()

    def pausing_player() -> None:
        i = 0
        while playing.is_set():
            for k in range(20):
                server.out.sendto(encode("/robojam/touch", 0.6 + 0.01 * k, 0.2 + 0.03 * (i % 10), 0.5, "other"),
                                  ("127.0.0.1", server.port))
                time.sleep(1 / TOUCH_RATE)
            time.sleep(THRESHOLD_S * 0.85)
            i += 1

    other = threading.Thread(target=pausing_player, daemon=True)
    other.start()
    try:
        for i in range(responses):
            _call(server, i, "bench", touches=30)
            server.send("/robojam/respond", "bench")
            server.wait_for("/robojam/response/end", timeout=7.0)
        return server.status().get("timing_error_us_p99", float("nan")) / 1000
    finally:
        playing.clear()
        other.join(5)
        server.close()


def run_drafts_bench(model_path=None) -> dict:
    figures = {}
    for drafts, name in ((DEFAULT_DRAFTS, "drafts"), (1, "one_draft")):
        late, drafted = after_silence_ms(model_path, drafts)
        figures[f"silence_first_touch_{name}_ms_median"] = float(np.median(late))
        figures[f"silence_first_touch_{name}_ms_p99"] = float(np.percentile(late, 99))
        figures[f"silence_responses_drafted_{name}"] = f"{drafted} of {len(late)}"
        figures[f"timing_error_beside_{name}_ms_p99"] = lateness_beside_drafts_ms(model_path, drafts)
    figures["silence_first_touch_drafts_over_one"] = (figures["silence_first_touch_drafts_ms_median"]
                                                      / figures["silence_first_touch_one_draft_ms_median"])
    return figures

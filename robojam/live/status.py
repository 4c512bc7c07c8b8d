"""The server's counters as ``/robojam/status`` reports them, and as one line for the console."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable

import numpy as np


LINE_REASONS = 3  # /robojam/status has every reason; the console line names the commonest


def status_figures(sessions: int, counts: Counter, drops: dict[str, int],
                   samples: dict[str, Iterable[float]]) -> dict[str, int]:
    """Name-value pairs: sessions, received, touches, responses, drafted, dropped, dropped.REASON...,
    then the p99 of each non-empty series of seconds in ``samples``, in microseconds."""
    figures = {"sessions": sessions, "received": counts["received"],
               "touches": counts["touches"], "responses": counts["responses"], "drafted": counts["drafted"]}
    if counts["unlogged"]:
        figures["unlogged"] = counts["unlogged"]  # played, but the touch log could not be written
    figures["dropped"] = sum(drops.values())
    figures.update({f"dropped.{reason}": n for reason, n in sorted(drops.items())})
    for name, series in samples.items():
        values = np.fromiter(series, float)
        if len(values):
            figures[name] = int(np.percentile(values, 99) * 1e6)
    return figures


def status_line(figures: dict[str, int]) -> str:
    """One short line: the commonest drop reasons (LINE_REASONS of them) by name, the rest counted."""
    reasons = sorted(((k.split(".", 1)[1], v) for k, v in figures.items() if k.startswith("dropped.")),
                     key=lambda reason: (-reason[1], reason[0]))
    drops = ", ".join(f"{name} {n}" for name, n in reasons[:LINE_REASONS])
    if len(reasons) > LINE_REASONS:
        drops += f", {len(reasons) - LINE_REASONS} more reasons"
    unlogged = f", {figures['unlogged']} unlogged" if figures.get("unlogged") else ""
    drafted = f" ({figures['drafted']} drafted)" if figures.get("drafted") else ""
    return (f"{figures['sessions']} performer(s), {figures['touches']} touches heard, "
            f"{figures['responses']} responses{drafted}, {figures['dropped']} dropped"
            + (f" ({drops})" if drops else "") + unlogged)


class StatusReport:
    """The server's figures on demand, and a status line every ``every`` seconds once traffic came."""

    def __init__(self, counts: Counter, drops: Counter, sessions: Callable[[], int],
                 samples: dict[str, Iterable[float]], every: float, clock: Callable[[], float], adapter=None):
        self.counts, self.drops, self.sessions, self.samples = counts, drops, sessions, samples
        self.every, self.clock, self.adapter = every, clock, adapter
        self._last_line = clock()

    def figures(self) -> dict[str, int]:
        drops = dict(self.drops)
        if self.adapter is not None and self.adapter.dropped:
            drops["adapter"] = self.adapter.dropped
        return status_figures(self.sessions(), self.counts, drops, self.samples)

    def line(self) -> str:
        return status_line(self.figures())

    def tick(self, now: float) -> None:
        if self.every and now - self._last_line >= self.every:
            self._last_line = now
            if self.counts["received"]:
                print(time.strftime("%H:%M:%S"), self.line(), flush=True)

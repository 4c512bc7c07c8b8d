"""Warnings about what comes in from outside, at most one line per reason every few seconds.

The OSC port may be open to a whole venue's network: whatever strangers send,
the console gets at most one line per reason per period, with a count of the
lines held back since.
"""

from __future__ import annotations

import sys
import time
from typing import Callable


class RateLimitedWarnings:
    def __init__(self, period_s: float = 5.0, clock: Callable[[], float] = time.monotonic,
                 write: Callable[[str], None] | None = None):
        self.period_s, self.clock = period_s, clock
        self.write = write or (lambda line: print(line, file=sys.stderr, flush=True))
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def warn(self, reason: str, line: str) -> bool:
        """Print ``line`` unless a line for ``reason`` went out within the period; True if printed."""
        now = self.clock()
        if now - self._last.get(reason, -float("inf")) < self.period_s:
            self._held[reason] = self._held.get(reason, 0) + 1
            return False
        held = self._held.pop(reason, 0)
        self._last[reason] = now
        self.write(f"robojam: {line}" + (f" ({held} more like it held back)" if held else ""))
        return True

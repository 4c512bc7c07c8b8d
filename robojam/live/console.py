"""Warnings about what comes in from outside, at most one line per reason every few seconds.

The OSC port may be open to a whole venue's network: whatever strangers send,
the console gets at most one line per reason per period, with a count of the
lines held back since. Libraries' log records go the same way
(:func:`route_library_logs`): python-osc logs on the root logger,
aiohttp and asyncio on their own, and any of them could log once per
packet.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable

MAX_LINE = 300  # characters of a library's log message shown


class RateLimitedWarnings:
    def __init__(self, period_s: float = 5.0, clock: Callable[[], float] = time.monotonic,
                 write: Callable[[str], None] | None = None):
        self.period_s, self.clock = period_s, clock
        self.write = write or (lambda line: print(line, file=sys.stderr, flush=True))
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()  # the server's thread, the web page's and the model loader's warn

    def warn(self, reason: str, line: str) -> bool:
        """Print ``line`` unless a line for ``reason`` went out within the period; True if printed."""
        with self._lock:
            now = self.clock()
            if now - self._last.get(reason, -float("inf")) < self.period_s:
                self._held[reason] = self._held.get(reason, 0) + 1
                return False
            held = self._held.pop(reason, 0)
            self._last[reason] = now
        self.write(f"robojam: {line}" + (f" ({held} more like it held back)" if held else ""))
        return True


class RateLimitedLogHandler(logging.Handler):
    """Log records as rate-limited warnings: one line per call site (logger, file, line) per period.

    A record becomes one line, its exception named but never its traceback.
    """

    def __init__(self, warnings: RateLimitedWarnings, level: int = logging.WARNING):
        super().__init__(level)
        self.warnings = warnings

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                text += f" ({record.exc_info[1]!r})"
            text = " ".join(text.split())
            if len(text) > MAX_LINE:
                text = text[:MAX_LINE] + "..."
            self.warnings.warn(f"log:{record.name}:{record.pathname}:{record.lineno}", f"{record.name}: {text}")
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


def route_library_logs(warnings: RateLimitedWarnings) -> RateLimitedLogHandler:
    """Send every log record of WARNING and above (python-osc's on the root logger, aiohttp's,
    asyncio's) through ``warnings``, once per process; returns the handler.

    With a handler on the root logger, ``logging.warning()`` no longer sets up
    its own (which would print every record).
    """
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler, RateLimitedLogHandler):
            return handler
    handler = RateLimitedLogHandler(warnings)
    root.addHandler(handler)
    return handler

"""A watchdog for tests of code that reads hostile input: a hang fails the test instead of stalling the run."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


class Hang(BaseException):
    """Raised in the main thread when the watched code runs too long; a BaseException, so that a
    parser's own ``except Exception`` cannot swallow it."""


@contextmanager
def within(seconds: float, what: str = "it"):
    """Fail with Hang if the block runs longer than ``seconds`` (main thread only; elsewhere no watchdog)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def alarm(*_):
        raise Hang(f"{what} ran over {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

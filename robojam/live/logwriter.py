"""Writing the server's touch logs: every touch it hears or plays, safe against a crash.

The format is :mod:`robojam.core.touchlog`'s. Each event is one line,
flushed to the operating system as soon as it is written, so a server killed
with SIGKILL loses nothing it received; at worst the last line is torn, and
:func:`robojam.core.touchlog.read_log` skips it.
"""

from __future__ import annotations

import csv
import io
import math
import os
import sys
import threading
import time
from pathlib import Path

from robojam import RobojamError
from robojam.core.touchlog import LOG_COLUMNS, PERFORMER, ROBOJAM, SOURCES

MAX_SESSION_CHARS = 64


class TouchLog:
    """Appends touch events to one CSV file per server run in a log folder.

    ``write`` is safe to call from several threads. ``events`` counts the
    events written per source, for status lines.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        _make_folder(self.folder)
        self.path, self._file = _open_new_log(self.folder)
        self._csv = csv.writer(self._file, lineterminator="\n")
        self._lock = threading.Lock()
        self._opened = time.monotonic()
        self.events = {source: 0 for source in SOURCES}
        self._write_row(LOG_COLUMNS)

    def now(self) -> float:
        """Seconds on the server's monotonic clock since the log opened: the ``time`` to write."""
        return time.monotonic() - self._opened

    def write(self, session: str, source: str, time: float, x: float, y: float, z: float,
              moving: bool) -> None:
        """Append one touch and flush it to the operating system.

        Raises ValueError for an unknown source or a number that is not
        finite (it would make the log unreadable), RobojamError if the file
        cannot be written (a full disk).
        """
        if source not in SOURCES:
            raise ValueError(f"touch source {source!r} is neither {PERFORMER!r} nor {ROBOJAM!r}")
        numbers = _format_numbers(time, x, y, z)
        row = [*numbers, str(int(bool(moving))), safe_session(session), source]
        with self._lock:
            self._write_row(row)
            self.events[source] += 1

    def flush(self) -> None:
        """Write out what an earlier failed write left buffered; RobojamError if it still cannot."""
        with self._lock:
            self._try(self._file.flush)

    def close(self) -> None:
        """Close the file; RobojamError if what was buffered could not be written (it is lost)."""
        with self._lock:
            self._try(self._file.close)

    def __enter__(self) -> TouchLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _write_row(self, row) -> None:
        self._try(lambda: (self._csv.writerow(row), self._file.flush()))

    def _try(self, action) -> None:
        try:
            action()
        except OSError as e:
            raise RobojamError(f"{self.path}: cannot write the touch log ({e.strerror or e})") from None


class LogKeeper:
    """The server's touch log, kept so that a failing disk never stops the performance.

    The first failure is reported once, loudly, naming the file and the
    cause. While writing fails, touches go unlogged: counted in
    ``counts["unlogged"]``, never as drops, since they were played. Every
    RETRY_S the log is tried again, and it says so when it writes again.
    """

    RETRY_S = 1.0

    def __init__(self, log: TouchLog | None, counts, clock=time.monotonic, warn=None):
        self.log, self.counts, self.clock = log, counts, clock
        self.warn = warn or (lambda line: print(line, file=sys.stderr, flush=True))
        self._failing = False
        self._next_try = 0.0

    def record(self, session: str, source: str, x: float, y: float, z: float, moving: bool) -> None:
        if self.log is None:
            return
        now = self.clock()
        if self._failing and now < self._next_try:
            self.counts["unlogged"] += 1
            return
        try:
            if self._failing:
                self.log.flush()
            self.log.write(session, source, self.log.now(), x, y, z, moving)
        except (RobojamError, ValueError) as e:
            self._failed(e, now)
            return
        if self._failing:
            self._failing = False
            self.warn(f"robojam: writing the touch log again; {self.counts['unlogged']} touches so far went unlogged")

    def _failed(self, error: Exception, now: float) -> None:
        self.counts["unlogged"] += 1
        self._next_try = now + self.RETRY_S
        if not self._failing:
            self._failing = True
            self.warn(f"robojam: {error}; playing on, touches go unlogged until it can write again")

    def close(self) -> None:
        if self.log is None:
            return
        try:
            self.log.close()
        except RobojamError as e:
            self.warn(f"robojam: {e}; the last touches were not logged")


def safe_session(session) -> str:
    """A session id as logged: at most MAX_SESSION_CHARS, one line, printable.

    Commas and quotes are left to CSV quoting; control characters (newlines
    included) and unpaired surrogates become ``_`` so that every event is
    exactly one line, which is what lets a reader recognise a torn last line.
    """
    text = str(session)[:MAX_SESSION_CHARS]
    return "".join(c if c.isprintable() else "_" for c in text)


def _format_numbers(*values: float) -> list[str]:
    numbers = [float(v) for v in values]
    if not all(math.isfinite(v) for v in numbers):
        raise ValueError(f"touch values must be finite numbers, got {values}")
    return [f"{v:.6f}" for v in numbers]


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RobojamError(f"{folder}: cannot create the touch log folder ({e.strerror or e})") from None


def _open_new_log(folder: Path) -> tuple[Path, io.TextIOWrapper]:
    """A new file named after the time and process; never an existing one ('x' mode)."""
    stem = time.strftime("robojam-%Y%m%d-%H%M%S") + f"-{os.getpid()}"
    for attempt in range(1, 1000):
        path = folder / (f"{stem}.csv" if attempt == 1 else f"{stem}-{attempt}.csv")
        try:
            return path, open(path, "x", encoding="utf-8", newline="")
        except FileExistsError:
            continue
        except OSError as e:
            raise RobojamError(f"{folder}: cannot write a touch log here ({e.strerror or e})") from None
    raise RobojamError(f"{folder}: cannot find a free touch log name for {stem}.csv")

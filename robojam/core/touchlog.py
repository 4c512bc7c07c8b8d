"""The touch-log format, and reading logs back as performances.

The live server writes these logs (:mod:`robojam.live.logwriter`); training
reads them through :mod:`robojam.core.corpus`.

A log is one CSV file per server run, in RoboJam's performance format plus two
columns: ``time,x,y,z,moving,session,source``. ``time`` is seconds on the
server's clock since the log opened, ``session`` names the performer's
connection and ``source`` is ``performer`` (a touch the server received) or
``robojam`` (a touch it played in response). Each event is one line, so a
torn last line (a server killed mid-write) is recognised: :func:`read_log`
skips it.

:func:`read_log` turns a log back into performances (``x, y, dt`` arrays as
:mod:`robojam.core.corpus` returns): one per session and source, split into calls
wherever the performer pauses for longer than a gap.
"""

from __future__ import annotations

import csv
from array import array
from pathlib import Path

import numpy as np

from robojam import RobojamError
from robojam.core.performance import COLUMNS, CsvRows, _header_columns, _parse_row
from robojam.core.data_caps import MAX_FILE_TOUCHES, MAX_PERFORMANCES, refuse
from robojam.core.text_lines import MAX_LINE_CHARS, quote, read_complete_lines

PERFORMER = "performer"
ROBOJAM = "robojam"
SOURCES = (PERFORMER, ROBOJAM)
LOG_COLUMNS = COLUMNS + ("session", "source")
# A pause longer than this between a group's touches starts a new performance.
CALL_GAP_S = 3.0


def is_log_file(path: str | Path) -> bool:
    """Whether a CSV file is a touch log: its header has the session and source columns."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            header = next(csv.reader([f.readline(MAX_LINE_CHARS)]), [])  # a bounded look at the header
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    names = {h.strip().lower() for h in header}
    return {"session", "source"} <= names


def read_log(path: str | Path, sources=(PERFORMER,), gap: float = CALL_GAP_S) -> list[np.ndarray]:
    """Performances (raw x, y, dt arrays like corpus loaders return) from one log.

    Touches are grouped by (session, source) in the chosen sources, and a
    group is split wherever the time between successive touches exceeds
    ``gap`` seconds (a new call). A torn last line is skipped; a malformed
    line anywhere else raises RobojamError naming the file and line.
    """
    unknown = [s for s in sources if s not in SOURCES]
    if unknown:
        raise ValueError(f"unknown touch sources {unknown}; choose from {', '.join(SOURCES)}")
    name = str(path)
    # Each (session, source) group's lines and [time, x, y] rows, kept compactly as they are read.
    groups: dict[tuple[str, str], tuple[array, array]] = {}
    rows = 0
    for line, session, source, txy in _log_events(read_complete_lines(path, "touch log"), name):
        if source not in sources:
            continue
        rows += 1
        if rows > MAX_FILE_TOUCHES:
            raise refuse(f"{name}, line {line}", "more touches", MAX_FILE_TOUCHES, "touches per file")
        if (session, source) not in groups and len(groups) >= MAX_PERFORMANCES:
            raise refuse(f"{name}, line {line}", "more sessions", MAX_PERFORMANCES, "sessions per file")
        lines, values = groups.setdefault((session, source), (array("q"), array("d")))
        lines.append(line)
        values.extend(txy)
    performances = []
    for lines, values in groups.values():
        performances.extend(_split_calls(lines, np.frombuffer(values, dtype=np.float64).reshape(-1, 3), gap, name))
    return performances


def _log_events(lines, name: str):
    """(line, session, source, [time, x, y]) for every event of a log's lines."""
    rows = CsvRows(lines, name)
    header = next(rows, None)
    if header is None:
        raise RobojamError(f"{name}: empty file, expected a header '{','.join(LOG_COLUMNS)}'")
    columns = _log_header_columns(header, name)
    for row in rows:
        if not row or all(not cell.strip() for cell in row):
            continue
        yield _log_event(row, columns, name, rows.line_num)


def _log_header_columns(header: list[str], name: str) -> dict[str, int]:
    columns = _header_columns(header, name)
    names = [h.strip().lower() for h in header]
    for column in ("session", "source"):
        if column not in names:
            raise RobojamError(f"{name}, line 1: header lacks {column!r}; expected '{','.join(LOG_COLUMNS)}'")
        columns[column] = names.index(column)
    return columns


def _log_event(row: list[str], columns: dict[str, int], name: str, line: int):
    numeric = {c: i for c, i in columns.items() if c in COLUMNS}
    time_, x, y, _z, _moving = _parse_row(row, numeric, name, line)
    if len(row) <= max(columns["session"], columns["source"]):
        raise RobojamError(f"{name}, line {line}: missing the session or source column")
    source = row[columns["source"]].strip()
    if source not in SOURCES:
        raise RobojamError(f"{name}, line {line}: source {quote(source)} is neither {PERFORMER!r} nor {ROBOJAM!r}")
    return line, row[columns["session"]], source, [time_, x, y]


def _split_calls(lines, txy: np.ndarray, gap: float, name: str) -> list[np.ndarray]:
    """One group's touches (rows time, x, y, read from ``lines``) as x, y, dt arrays, split at pauses
    longer than ``gap``."""
    step = np.diff(txy[:, 0])
    backwards = np.nonzero(step < 0)[0]
    if len(backwards):
        raise RobojamError(f"{name}, line {lines[backwards[0] + 1]}: time goes backwards")
    starts = np.nonzero(step > gap)[0] + 1
    return [_xy_dt(call) for call in np.split(txy, starts)]


def _xy_dt(txy: np.ndarray) -> np.ndarray:
    dt = np.diff(txy[:, 0], prepend=txy[:1, 0])
    return np.column_stack([txy[:, 1], txy[:, 2], dt])

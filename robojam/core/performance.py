"""Touch performances and RoboJam's CSV format.

A performance is a sequence of touch events. In files each event is a row of
``time,x,y,z,moving``: seconds from the start, position in [0, 1] (x to the
right, y downwards), touch size or pressure, and 0 on touch-down (a new
stroke) or 1 while dragging.
"""

from __future__ import annotations

import csv
import io
import math
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from robojam import RobojamError
from robojam.core.data_caps import MAX_TOUCHES, refuse
from robojam.core.dynamics import dynamics_of
from robojam.core.text_lines import quote, read_lines

COLUMNS = ("time", "x", "y", "z", "moving")
DEFAULT_Z = 0.5
# A generated touch starts a new stroke when it comes after a pause or jumps
# across the screen: the model predicts (x, y, dt) only, so strokes are
# inferred from those.
STROKE_GAP_S = 0.1
STROKE_JUMP = 0.1
# Files are UTF-8 whatever the platform; a leading byte-order mark is read as nothing.
CSV_ENCODING = "utf-8-sig"
# A number read from a file beyond this is refused: no touch is 1e100 s long or 1e100 screens away,
# and a 1e308 would be written back as a 309-digit number.
MAX_MAGNITUDE = 1e100
# What csv says of a file it cannot read is quoted up to this long.
CSV_REASON_CHARS = 120  # pragma: no mutate (message-cap)


@dataclass
class Performance:
    """Touch events as an (n, 5) float array with columns ``COLUMNS``."""

    events: np.ndarray

    def __post_init__(self):
        self.events = np.asarray(self.events, np.float64).reshape(-1, len(COLUMNS))  # pragma: no mutate (reshape-neg)

    def __len__(self) -> int:
        return len(self.events)

    @property
    def time(self) -> np.ndarray:
        return self.events[:, 0]

    @property
    def duration(self) -> float:
        return float(self.time[-1]) if len(self) else 0.0

    def xy_dt(self) -> np.ndarray:
        """The (n, 3) array of ``x, y, dt`` the model works on (dt of the first event is 0)."""
        dt = np.diff(self.time, prepend=self.time[:1])
        return np.column_stack([self.events[:, 1], self.events[:, 2], dt])

    @classmethod
    def from_xy_dt(cls, xy_dt: np.ndarray, z: float | None = DEFAULT_Z, start: float = 0.0,
                   energy: float = 0.0) -> Performance:
        """Build a performance from ``x, y, dt`` rows, inferring strokes from pauses and jumps.

        ``z`` is every touch's size, or None for robojam's dynamics (:mod:`robojam.core.dynamics`, at
        the ``energy`` knob's value).
        """
        xy_dt = np.asarray(xy_dt, dtype=np.float64).reshape(-1, 3)  # pragma: no mutate (reshape-neg)
        time = start + np.cumsum(xy_dt[:, 2])
        moving = stroke_continues(xy_dt)
        z_col = dynamics_of(xy_dt, moving, energy) if z is None else np.full(len(xy_dt), z)
        return cls(np.column_stack([time, xy_dt[:, 0], xy_dt[:, 1], z_col, moving]))


def starts_stroke(gap, jump):
    """Whether a touch ``gap`` seconds after the one before and ``jump`` away from it starts a new
    stroke (numbers or arrays)."""
    return (gap > STROKE_GAP_S) | (jump > STROKE_JUMP)


def stroke_continues(xy_dt: np.ndarray) -> np.ndarray:
    """1 where an event continues the previous stroke, 0 where it starts a new one."""
    moving = np.zeros(len(xy_dt))
    if len(xy_dt) > 1:  # pragma: no mutate (empty-either-way)
        jump = np.hypot(np.diff(xy_dt[:, 0]), np.diff(xy_dt[:, 1]))
        moving[1:] = ~starts_stroke(xy_dt[1:, 2], jump)
    return moving


def stroke_leaps(xy_dt: np.ndarray) -> np.ndarray:
    """The moves (dx, dy) from each stroke's last touch to the next stroke's first, (n, 2)."""
    xy_dt = np.asarray(xy_dt, dtype=np.float64).reshape(-1, 3)  # pragma: no mutate (dtype-alike, reshape-neg)
    starts = stroke_continues(xy_dt)[1:] == 0
    return np.diff(xy_dt[:, :2], axis=0)[starts]


def write_csv(performance: Performance, path: str | Path) -> None:
    """Write a performance as RoboJam CSV (header ``time,x,y,z,moving``)."""
    with open(path, "w", newline="") as f:
        f.write(to_csv_text(performance))


def to_csv_text(performance: Performance) -> str:
    out = io.StringIO()
    out.write(",".join(COLUMNS) + "\n")
    events = performance.events
    if len(events) and not np.abs(events).max() < 1e15:
        # numbers this large (a time of 1e99, say) in exponent form, not as 100 digits
        for t, x, y, z, moving in events:
            out.write(f"{t:.15g},{x:.15g},{y:.15g},{z:.15g},{int(moving)}\n")
        return out.getvalue()
    for t, x, y, z, moving in events:
        out.write(f"{t:.6f},{x:.6f},{y:.6f},{z:.6f},{int(moving)}\n")
    return out.getvalue()


def read_csv(path: str | Path) -> Performance:
    """Read a RoboJam CSV performance.

    Forgiving about what is optional (``z`` and ``moving`` columns, column
    order, blank lines, a ``\\r\\n`` line end) and strict about the rest: a
    missing file, a missing ``time``/``x``/``y`` column, a row with more
    cells than the header names, a cell that is not a finite number (or is
    beyond ``MAX_MAGNITUDE``), time running backwards or more than
    ``MAX_TOUCHES`` rows raise :class:`RobojamError` naming the file and
    line. The file is read a line at a time (:func:`read_lines`), so a line
    of millions of cells is refused without being held.
    """
    return _parse_rows(CsvRows(read_lines(path, "performance CSV"), str(path)), str(path))


class CsvRows:
    """``csv.reader`` over text or an iterable of lines, lines ending in ``\n``, ``\r\n`` or ``\r``; what
    csv refuses (a field over its size limit, say) is a RobojamError naming the file and line. ``line_num``
    as csv's."""

    def __init__(self, text: str | Iterable[str], name: str):
        self._rows = csv.reader(io.StringIO(text, newline=None) if isinstance(text, str) else text)
        self.name = name

    @property
    def line_num(self) -> int:
        return self._rows.line_num

    def __iter__(self) -> CsvRows:
        return self

    def __next__(self) -> list[str]:
        try:
            return next(self._rows)
        except csv.Error as e:
            raise RobojamError(f"{self.name}, line {max(self._rows.line_num, 1)}: not readable as CSV "
                               f"({str(e)[:CSV_REASON_CHARS]})") from None


def parse_csv(text: str, name: str = "<csv>", ordered: bool = True) -> Performance:
    """A RoboJam CSV performance from text; ``ordered=False`` lets time run backwards (as MicroJam
    clients may send it: :func:`unfold_rows` and the HTTP API clamp such gaps to 0)."""
    return _parse_rows(CsvRows(text.lstrip("\ufeff"), name), name, ordered)


def _parse_rows(rows: CsvRows, name: str, ordered: bool = True) -> Performance:
    header = next(rows, None)
    if header is None:
        raise RobojamError(f"{name}: empty file, expected a header 'time,x,y,z,moving'")
    columns = _header_columns(header, name)
    width = len(_without_trailing_blanks(header))
    # 48 bytes a row, not a list of five floats' 200
    events, lines = array("d"), array("q")  # pragma: no mutate (unsigned-alike)
    for row in rows:
        if not row or all(not cell.strip() for cell in row):
            continue
        cells = len(_without_trailing_blanks(row))
        if cells > width:
            raise RobojamError(f"{name}, line {rows.line_num}: {cells:,} cells, the header names {width}; "
                               "robojam does not drop cells unread")
        if len(lines) >= MAX_TOUCHES:
            raise refuse(f"{name}, line {rows.line_num}", "a performance of more touches", MAX_TOUCHES,
                         "touches per performance")
        events.extend(_parse_row(row, columns, name, rows.line_num))
        lines.append(rows.line_num)
    if not events:
        raise RobojamError(f"{name}: no touch events after the header")
    performance = Performance(np.frombuffer(events))  # float64 rows, shared, not copied
    if ordered:
        _check_time_order(performance, name, lines)
    _fill_unknown_strokes(performance)
    return performance


def _without_trailing_blanks(cells: list[str]) -> list[str]:
    """A row without the empty cells a trailing comma leaves."""
    end = len(cells)
    while end and not cells[end - 1].strip():
        end -= 1
    return cells[:end]


def unfold_rows(text: str, name: str = "<csv>") -> str:
    """MicroJam's CSV, whose rows may follow the header on one line (joined by ``", "``), as one row a line.

    A line's fields must be whole rows of the header's width, or one short row that still holds
    every named column up to ``y``; else RobojamError.
    """
    lines = [line for line in text.lstrip("\ufeff").splitlines() if line.strip()]
    if not lines:
        return ""
    first = _fields(lines[0])
    width = next((i for i, field in enumerate(first) if _is_number(field)), len(first))
    needed = max((i for i, n in enumerate(first[:width]) if n.strip().lower() in ("time", "x", "y")), default=0)
    rows = [first[:width]]
    for number, fields in enumerate([first[width:]] + [_fields(line) for line in lines[1:]], 1):
        if width and len(fields) % width == 0:
            rows += [fields[i:i + width] for i in range(0, len(fields), width)]
        elif needed < len(fields) < width:  # pragma: no mutate (caught-above)
            rows.append(fields)
        else:
            raise RobojamError(f"{name}, line {number}: {len(fields)} fields, not rows of {width}")
    return "\n".join(",".join(row) for row in rows) + "\n"


def _fields(line: str) -> list[str]:
    fields = [f.strip() for f in line.split(",")]
    while fields and not fields[-1]:
        fields.pop()  # a trailing "," or ", "
    return fields


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _header_columns(header: list[str], name: str) -> dict[str, int]:
    names = [h.strip().lower() for h in header]
    missing = [c for c in ("time", "x", "y") if c not in names]
    twice = [c for c in COLUMNS if names.count(c) > 1]
    if missing or twice:
        shown = ",".join(header)
        shown = repr(shown if len(shown) <= 60 else shown[:60] + "...")
        raise RobojamError(
            f"{name}, line 1: header {shown} " + (f"lacks {', '.join(missing)}" if missing else
                                                   f"names {', '.join(twice)} twice")
            + "; expected 'time,x,y,z,moving' (z and moving optional)"
        )
    return {c: names.index(c) for c in COLUMNS if c in names}


def _parse_row(row: list[str], columns: dict[str, int], name: str, line: int) -> list[float]:
    values = {"z": DEFAULT_Z, "moving": math.nan}
    for column, index in columns.items():
        if index >= len(row):
            raise RobojamError(f"{name}, line {line}: missing the {column!r} column")
        values[column] = read_number(row[index], column, f"{name}, line {line}")
    return [values["time"], values["x"], values["y"], values["z"], values["moving"]]


def read_number(text: str, column: str, where: str) -> float:
    """A cell as a finite float within ``MAX_MAGNITUDE``, else RobojamError at ``where`` quoting it briefly."""
    try:
        value = float(text)
    except ValueError:
        raise RobojamError(f"{where}: {column} {quote(text)} is not a number") from None
    if not math.isfinite(value):
        raise RobojamError(f"{where}: {column} is {quote(text)}, not a finite number")
    if abs(value) > MAX_MAGNITUDE:
        raise RobojamError(f"{where}: {column} {value:.3g} is beyond ±{MAX_MAGNITUDE:.0e}, not a touch's number")
    return value


def _check_time_order(performance: Performance, name: str, lines: list[int]) -> None:
    backwards = np.nonzero(np.diff(performance.time) < 0)[0]
    if len(backwards):
        raise RobojamError(f"{name}, line {lines[backwards[0] + 1]}: time goes backwards")


def _fill_unknown_strokes(performance: Performance) -> None:
    """Files without a ``moving`` column get strokes inferred as for generated touches."""
    events = performance.events
    unknown = np.isnan(events[:, 4])
    if unknown.any():
        events[unknown, 4] = stroke_continues(performance.xy_dt())[unknown]

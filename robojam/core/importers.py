"""Other apps' recordings as robojam performances (``robojam import``).

Each reader takes one file and returns :class:`~robojam.core.performance.Performance`
objects (time from the start, x, y, z, moving); :func:`import_sources` finds
the files, reads them all and only then writes them to a folder as RoboJam
CSVs that every robojam command reads (``robojam train DIR`` among them).

Formats:

- ``impsy-npz``: an IMPSY dataset, an ``.npz`` whose ``perfs`` array holds
  performances of rows ``dt, x1, ..., xn`` (an object array of 2-D arrays,
  or one 2-D array). x is x1; y is x2, or 0.5 for one-dimensional data.
  Read with :func:`robojam.core.safe_npz.load_npz_arrays`: no pickle is
  trusted.
- ``impsy-log``: an IMPSY log, lines ``ISO-timestamp,source,x1,...,xn``;
  only ``interface`` rows (the performer) are kept, split into performances
  at pauses longer than a gap.
- ``csv``: RoboJam and MicroJam CSVs (``time,x,y,z,moving``, with or without
  spaces after the commas), and ``robojam serve``'s touch logs (the
  performers' touches, split into calls).
- ``columns``: any CSV, through a :class:`ColumnMap` naming its columns.

Malformed input raises :class:`RobojamError` naming the file and line (or
performance and row), quoting what it read in at most about 80 characters.
Files are read a line at a time (:func:`robojam.core.text_lines.read_lines`,
each line at most 65,536 characters) and held to the caps of
:mod:`robojam.core.data_caps`; a row with more cells than the header names
is refused, not cut, and a number beyond ±1e100 is refused. Odd but possible
data is kept and counted in the summary: positions outside [0, 1]
(:func:`robojam.core.corpus.clean` clips them for training), pauses over an
hour (training clips gaps) and touches over a day from the start.
"""

from __future__ import annotations

import math
import re
from array import array
from dataclasses import dataclass, field
from datetime import datetime, UTC
from pathlib import Path

import numpy as np

from robojam import RobojamError
from robojam.core.data_caps import MAX_FILE_TOUCHES, MAX_ROW_NUMBERS, MAX_TOUCHES, refuse
from robojam.core.performance import (
    DEFAULT_Z, MAX_MAGNITUDE, CsvRows, Performance, read_csv, read_number, stroke_continues, write_csv,
)
from robojam.core.safe_npz import load_npz_arrays
from robojam.core.text_lines import quote, read_lines
from robojam.core.touchlog import CALL_GAP_S, is_log_file, read_log

FORMATS = ("impsy-npz", "impsy-log", "csv", "columns")
SUFFIX_FORMATS = {".npz": "impsy-npz", ".log": "impsy-log", ".csv": "csv"}
FORMAT_SUFFIXES = {"impsy-npz": ".npz", "impsy-log": ".log", "csv": ".csv", "columns": ".csv"}
IMPSY_KEY = "perfs"
IMPSY_INTERFACE = "interface"
# y of one-dimensional IMPSY data (rows dt, x1): the middle of the screen.
DEFAULT_Y = 0.5
COLUMN_NAMES = ("time", "dt", "x", "y", "z", "moving")
SKIP_NAMES = ("-", "skip")
# Odd but possible, so kept and counted in the summary (as positions off the screen are):
LONG_GAP_S = 3600.0     # a pause between touches over an hour
LONG_TIME_S = 86400.0   # a touch over a day from its performance's start


# --- column mappings ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ColumnMap:
    """How to read a CSV of any layout.

    ``names``: the file's columns in order, each one of ``time`` (seconds
    from the start), ``dt`` (seconds since the previous touch), ``x``, ``y``,
    ``z``, ``moving``, or ``-``/``skip`` for a column to ignore. ``scale``:
    x and y are divided by these. ``header``: True skips the first row,
    False reads it as data, None skips it only if it is not numeric.
    """

    names: tuple[str, ...]
    scale: tuple[float, float] = (1.0, 1.0)
    header: bool | None = None

    @classmethod
    def parse(cls, columns: str, scale: str | None = None, header: bool | None = None) -> ColumnMap:
        return cls(parse_columns(columns), parse_scale(scale) if scale else (1.0, 1.0), header)

    def describe(self) -> str:
        return ",".join(self.names)


def parse_columns(spec: str) -> tuple[str, ...]:
    """``"dt,x,y,z"`` -> ``("dt", "x", "y", "z")``, checked: one of time or dt, x and y, no repeats."""
    names = tuple(name.strip().lower() for name in spec.split(","))
    unknown = [n for n in names if n not in COLUMN_NAMES + SKIP_NAMES]
    if unknown:
        raise RobojamError(f"--columns {quote(spec)}: unknown column {quote(unknown[0])}; name each column one of "
                           f"{', '.join(COLUMN_NAMES)}, or - (or skip) to ignore it")
    used = [n for n in names if n not in SKIP_NAMES]
    repeated = sorted({n for n in used if used.count(n) > 1})
    if repeated:
        raise RobojamError(f"--columns {quote(spec)}: {quote(repeated[0])} is named twice")
    if ("time" in used) == ("dt" in used):
        raise RobojamError(f"--columns {quote(spec)}: name exactly one of time (seconds from the start) "
                           "or dt (seconds since the previous touch)")
    missing = [n for n in ("x", "y") if n not in used]
    if missing:
        raise RobojamError(f"--columns {quote(spec)}: no {' or '.join(missing)} column")
    return names


def parse_scale(spec: str) -> tuple[float, float]:
    """``"1024"`` -> (1024, 1024); ``"1024,768"`` -> (1024, 768): positive numbers x and y are divided by."""
    parts = [p.strip() for p in str(spec).split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or not all(math.isfinite(v) and v > 0 for v in values):
        raise RobojamError(f"--scale {quote(spec)}: expected one positive number (x and y) or two (x,y), "
                           "e.g. 1024 or 1024,768")
    return (values[0], values[-1])


# --- readers -----------------------------------------------------------------------------------

def read_impsy_npz(path: str | Path) -> list[Performance]:
    """An IMPSY dataset's performances: ``perfs`` rows ``dt, x1, ..., xn`` (x = x1, y = x2 or 0.5).

    Each performance starts at time 0 (the first row's dt is the pause
    before it, which robojam does not keep). Empty performances come back
    empty; the caller skips them.
    """
    path = Path(path)
    perfs = load_npz_arrays(path, keys=[IMPSY_KEY])[IMPSY_KEY]
    return [_impsy_performance(item, path, i + 1) for i, item in enumerate(_impsy_items(perfs, path))]


def _impsy_items(perfs: np.ndarray, path: Path) -> list:
    if perfs.ndim == 1 and perfs.dtype == object:
        return list(perfs)                # ragged: one array per performance
    if perfs.ndim == 3:
        return list(perfs)                # every performance the same length
    if perfs.ndim == 2:
        return [perfs]                    # one performance
    raise RobojamError(f"{path}: 'perfs' has shape {perfs.shape}; expected performances of rows dt, x1, ..., xn")


def _impsy_performance(item, path: Path, number: int) -> Performance:
    where = f"{path}, performance {number}"
    try:
        rows = np.asarray(item, dtype=np.float64)
    except (TypeError, ValueError):
        raise RobojamError(f"{where}: not an array of numbers") from None
    if rows.size == 0:
        return Performance(np.zeros((0, 5)))
    if rows.ndim != 2 or rows.shape[1] < 2:
        raise RobojamError(f"{where}: shape {rows.shape}; expected rows dt, x1, ..., xn (at least 2 columns)")
    bad = np.argwhere(~np.isfinite(rows))
    if len(bad):
        row, col = bad[0]
        label = "dt" if col == 0 else f"x{col}"
        raise RobojamError(f"{where}, row {row + 1}: {label} is {rows[row, col]}, not a finite number")
    huge = np.argwhere(np.abs(rows) > MAX_MAGNITUDE)
    if len(huge):
        row, col = huge[0]
        label = "dt" if col == 0 else f"x{col}"
        raise RobojamError(f"{where}, row {row + 1}: {label} {rows[row, col]:.3g} is beyond ±{MAX_MAGNITUDE:.0e}, "
                           "not a touch's number")
    negative = np.nonzero(rows[:, 0] < 0)[0]
    if len(negative):
        row = negative[0]
        raise RobojamError(f"{where}, row {row + 1}: dt {rows[row, 0]:g} is negative (time goes backwards)")
    time = np.cumsum(rows[:, 0]) - rows[0, 0]
    y = rows[:, 2] if rows.shape[1] >= 3 else np.full(len(rows), DEFAULT_Y)
    return _performance(time, rows[:, 1], y)


def read_impsy_log(path: str | Path, gap: float = CALL_GAP_S) -> list[Performance]:
    """The performer's touches in an IMPSY log, split where touches are more than ``gap`` s apart.

    Lines are ``ISO-timestamp,source,x1,...,xn``; only ``interface`` rows
    are the performer's (``rnn`` rows are the model's part and are skipped).
    Every interface row must have as many values as the first.
    """
    path = Path(path)
    name = str(path)
    # Kept as they are read, 32 bytes a row: the line, the time, x1 and x2 (the rest are checked, not kept).
    lines, times, xs, ys = array("q"), array("d"), array("d"), array("d")
    width = first_line = origin = None
    for line_no, line in enumerate(read_lines(path, "IMPSY log"), 1):
        if not line.strip():
            continue
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) < 2:
            raise RobojamError(f"{name}, line {line_no}: expected 'timestamp,source,x1,...', "
                               f"got {quote(line.strip())}")
        stamp = _iso_time(cells[0], name, line_no)
        if cells[1] != IMPSY_INTERFACE:
            continue
        values = cells[2:]
        if width is None:
            if not values:
                raise RobojamError(f"{name}, line {line_no}: an interface row with no values")
            if len(values) > MAX_ROW_NUMBERS:
                raise refuse(f"{name}, line {line_no}", f"rows of {len(values):,} values", MAX_ROW_NUMBERS,
                             "numbers per row")
            width, first_line = len(values), line_no
        elif len(values) != width:
            raise RobojamError(f"{name}, line {line_no}: {len(values):,} values, expected {width} "
                               f"as on line {first_line}")
        if len(lines) >= MAX_FILE_TOUCHES:
            raise refuse(f"{name}, line {line_no}", "more interface rows", MAX_FILE_TOUCHES, "touches per file")
        origin = origin or stamp
        numbers = [read_number(v, f"x{i + 1}", f"{name}, line {line_no}") for i, v in enumerate(values)]
        lines.append(line_no)
        times.append((stamp - origin).total_seconds())  # exact to the microsecond
        xs.append(numbers[0])
        ys.append(numbers[1] if width >= 2 else DEFAULT_Y)
    if not lines:
        return []
    times, xs, ys = (np.frombuffer(a, dtype=np.float64) for a in (times, xs, ys))
    _check_forward(times, lines, name)
    starts = np.nonzero(np.diff(times) > gap)[0] + 1
    performances = []
    for index in np.split(np.arange(len(times)), starts):
        if len(index) > MAX_TOUCHES:
            raise refuse(f"{name}, line {lines[index[0]]}", f"a performance of {len(index):,} touches",
                         MAX_TOUCHES, "touches per performance")
        performances.append(_performance(times[index] - times[index[0]], xs[index], ys[index]))
    return performances


def read_robojam_csv(path: str | Path, gap: float = CALL_GAP_S) -> list[Performance]:
    """A RoboJam or MicroJam CSV (``time,x,y,z,moving``; spaces after commas are fine) as one performance.

    A ``robojam serve`` touch log (its header has ``session`` and
    ``source``) gives its performers' calls, split at pauses over ``gap``
    seconds, as ``robojam train`` reads it.
    """
    path = Path(path)
    if not path.exists():
        raise RobojamError(f"{path}: no such file")
    if is_log_file(path):
        return [Performance.from_xy_dt(xy_dt) for xy_dt in read_log(path, gap=gap)]
    try:
        return [read_csv(path)]
    except RobojamError as e:
        if ", line 1: header" in str(e):
            raise RobojamError(f"{e}; for other layouts name the columns with --columns") from None
        raise


def read_columns_csv(path: str | Path, columns: ColumnMap) -> list[Performance]:
    """One performance from a CSV of any layout, read through ``columns`` (see :class:`ColumnMap`)."""
    path = Path(path)
    name = str(path)
    names = columns.names
    rows = CsvRows(read_lines(path, "CSV"), name)
    parsed = {n: array("d") for n in names if n not in SKIP_NAMES}
    lines = array("q")
    first = True
    for row in rows:
        line = rows.line_num
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if first:
            first = False
            if columns.header or (columns.header is None and not _numeric_row(cells, names)):
                continue
        if len(cells) != len(names):
            raise RobojamError(f"{name}, line {line}: {len(cells):,} columns, expected {len(names)} "
                               f"(--columns {columns.describe()})")
        if len(lines) >= MAX_TOUCHES:
            raise refuse(f"{name}, line {line}", "a performance of more touches", MAX_TOUCHES,
                         "touches per performance")
        for column, cell in zip(names, cells):
            if column not in SKIP_NAMES:
                parsed[column].append(read_number(cell, column, f"{name}, line {line}"))
        lines.append(line)
    if not lines:
        raise RobojamError(f"{name}: no touch rows")
    data = {column: np.frombuffer(values, dtype=np.float64) for column, values in parsed.items()}
    if "dt" in data:
        negative = np.nonzero(data["dt"] < 0)[0]
        if len(negative):
            raise RobojamError(f"{name}, line {lines[negative[0]]}: dt {data['dt'][negative[0]]:g} is negative "
                               "(time goes backwards)")
        time = np.cumsum(data["dt"]) - data["dt"][0]
    else:
        _check_forward(data["time"], lines, name)
        time = data["time"] - data["time"][0]
    sx, sy = columns.scale
    x, y = data["x"] / sx, data["y"] / sy
    for label, scaled in (("x", x), ("y", y)):
        huge = np.nonzero(~(np.abs(scaled) <= MAX_MAGNITUDE))[0]
        if len(huge):
            raise RobojamError(f"{name}, line {lines[huge[0]]}: {label} divided by --scale is "
                               f"{scaled[huge[0]]:.3g}, beyond ±{MAX_MAGNITUDE:.0e}")
    return [_performance(time, x, y, data.get("z"), data.get("moving"))]


def _numeric_row(cells: list[str], names: tuple[str, ...]) -> bool:
    for column, cell in zip(names, cells):
        if column in SKIP_NAMES:
            continue
        try:
            float(cell)
        except ValueError:
            return False
    return True


def _performance(time, x, y, z=None, moving=None) -> Performance:
    """A performance from columns; z defaults to robojam's 0.5, strokes are inferred when not given."""
    time, x, y = (np.asarray(a, dtype=np.float64) for a in (time, x, y))
    if moving is None:
        moving = stroke_continues(np.column_stack([x, y, np.diff(time, prepend=time[:1])]))
    if z is None:
        z = np.full(len(time), DEFAULT_Z)
    return Performance(np.column_stack([time, x, y, z, moving]))


def _iso_time(text: str, name: str, line: int) -> datetime:
    """An ISO 8601 timestamp as an aware datetime (taken as UTC when it names no zone)."""
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise RobojamError(f"{name}, line {line}: timestamp {quote(text)} is not an ISO date and time "
                           "(expected e.g. 2024-05-01T12:00:00.123456)") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp


def _check_forward(times: np.ndarray, lines: list[int], name: str) -> None:
    backwards = np.nonzero(np.diff(times) < 0)[0]
    if len(backwards):
        raise RobojamError(f"{name}, line {lines[backwards[0] + 1]}: time goes backwards")


# --- choosing formats and finding files --------------------------------------------------------

def detect_format(path: str | Path, columns: ColumnMap | None = None) -> str:
    """The format of a file from its suffix, and from its content when the suffix says nothing.

    ``.npz`` is an IMPSY dataset and ``.log`` an IMPSY log; ``.csv`` is read
    through ``columns`` when given, else as a RoboJam/MicroJam CSV (or as an
    IMPSY log when its first cell is a timestamp). Other files are sniffed.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".npz", ".log"):
        return SUFFIX_FORMATS[suffix]
    if suffix == ".csv" and columns is not None:
        return "columns"
    sniffed = _sniff(path)
    if suffix == ".csv":
        return "impsy-log" if sniffed == "impsy-log" else "csv"
    if sniffed == "csv" and columns is not None:
        return "columns"
    if sniffed:
        return sniffed
    if columns is not None:
        return "columns"
    raise RobojamError(f"{path}: unknown format; name it with --format ({', '.join(FORMATS)}), "
                       "or give .npz, .log or .csv files")


def _sniff(path: Path) -> str | None:
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except FileNotFoundError:
        raise RobojamError(f"{path}: no such file") from None
    except OSError as e:
        raise RobojamError(f"{path}: cannot read ({e.strerror or e})") from None
    if head.startswith(b"PK\x03\x04"):
        return "impsy-npz"
    text = head.decode("utf-8-sig", errors="replace")
    first = next((line for line in text.splitlines() if line.strip()), "")
    cells = [cell.strip() for cell in first.split(",")]
    if len(cells) >= 2 and ":" in cells[0]:
        try:
            datetime.fromisoformat(cells[0])
            return "impsy-log"
        except ValueError:
            pass
    if {"time", "x", "y"} <= {cell.lower() for cell in cells}:
        return "csv"
    return None


def find_sources(paths, kind: str | None = None, exclude: str | Path | None = None) -> list[Path]:
    """The files to import: files as named, and folders walked for the format's suffixes.

    Without ``kind`` a folder gives its ``.npz``, ``.log`` and ``.csv``
    files. Hidden files and anything under ``exclude`` (the output folder)
    are left out; a file named twice counts once.
    """
    suffixes = {FORMAT_SUFFIXES[kind]} if kind else set(SUFFIX_FORMATS)
    excluded = Path(exclude).resolve() if exclude is not None else None
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files = sorted(f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in suffixes
                           and not any(part.startswith(".") for part in f.relative_to(path).parts)
                           and not (excluded and f.resolve().is_relative_to(excluded)))
            if not files:
                raise RobojamError(f"{path}: no {', '.join(sorted(suffixes))} files in this folder")
            found.extend(files)
        elif path.exists():
            found.append(path)
        else:
            raise RobojamError(f"{path}: no such file or folder")
    unique, seen = [], set()
    for path in found:
        if path.resolve() not in seen:
            seen.add(path.resolve())
            unique.append(path)
    return unique


def read_source(path: str | Path, kind: str | None = None, columns: ColumnMap | None = None,
                gap: float = CALL_GAP_S) -> list[Performance]:
    """One file's performances, in format ``kind`` or the one :func:`detect_format` chooses."""
    path = Path(path)
    if not path.exists():
        raise RobojamError(f"{path}: no such file")
    kind = kind or detect_format(path, columns)
    if kind == "impsy-npz":
        return read_impsy_npz(path)
    if kind == "impsy-log":
        return read_impsy_log(path, gap)
    if kind == "csv":
        return read_robojam_csv(path, gap)
    if kind == "columns":
        if columns is None:
            raise RobojamError("the columns format needs a column mapping (--columns)")
        return read_columns_csv(path, columns)
    raise RobojamError(f"unknown format {kind!r}; choose from {', '.join(FORMATS)}")


# --- importing ---------------------------------------------------------------------------------

@dataclass
class SourceResult:
    """What one source gave: its performances, what was skipped, and the files written for it."""

    source: Path
    format: str
    performances: list[Performance]
    empty: int = 0
    written: list[Path] = field(default_factory=list)
    stale: list[Path] = field(default_factory=list)

    @property
    def touches(self) -> int:
        return sum(len(p) for p in self.performances)

    @property
    def long_gaps(self) -> int:
        """Pauses over an hour between touches (kept; training clips every gap)."""
        return sum(int((np.diff(p.time) > LONG_GAP_S).sum()) for p in self.performances)

    @property
    def late_touches(self) -> int:
        """Touches whose time is over a day from their performance's start (kept)."""
        return sum(int((p.time > LONG_TIME_S).sum()) for p in self.performances)

    @property
    def off_screen(self) -> int:
        """Touches with x or y outside [0, 1] (kept; training clips them)."""
        return sum(int((((p.events[:, 1:3] < 0) | (p.events[:, 1:3] > 1)).any(axis=1)).sum())
                   for p in self.performances)

    def summary(self) -> str:
        line = f"{self.source}: {_count(len(self.performances), 'performance')}, {_count(self.touches, 'touch')}"
        if self.written:
            line += f" -> {self.written[0].name}" + (f" .. {self.written[-1].name}" if len(self.written) > 1 else "")
        notes = []
        if self.off_screen:
            notes.append(f"{_count(self.off_screen, 'touch')} outside [0, 1] kept (training clips them)")
        if self.long_gaps:
            notes.append(f"{_count(self.long_gaps, 'gap')} over an hour kept (training clips gaps)")
        if self.late_touches:
            notes.append(f"{_count(self.late_touches, 'touch')} over a day from the start kept")
        if self.empty:
            notes.append(f"{_count(self.empty, 'empty performance')} skipped")
        if not self.performances and self.format == "impsy-log" and not self.empty:
            notes.append("no interface rows")
        if self.stale:
            notes.append(f"{_count(len(self.stale), 'older file')} named {self.source.stem}-N.csv "
                         "left in place")
        return line + "".join(f"; {note}" for note in notes)


def _count(n: int, noun: str) -> str:
    plural = noun + ("es" if noun.endswith("ch") else "s")
    return f"{n:,} {noun if n == 1 else plural}"


def total_summary(results: list[SourceResult], out_dir: str | Path) -> str:
    performances = sum(len(r.performances) for r in results)
    touches = sum(r.touches for r in results)
    return (f"total: {_count(len(results), 'source')}, {_count(performances, 'performance')}, "
            f"{_count(touches, 'touch')} written to {out_dir}")


def output_names(stem: str, count: int) -> list[str]:
    """``stem-1.csv``, ... numbered from 1 and zero-padded so that they sort (``-01`` .. ``-12``)."""
    width = len(str(count))
    return [f"{stem}-{n:0{width}d}.csv" for n in range(1, count + 1)]


def import_sources(paths, out_dir: str | Path, kind: str | None = None, columns: ColumnMap | None = None,
                   gap: float = CALL_GAP_S, force: bool = False) -> list[SourceResult]:
    """Read every source, then write each performance to ``out_dir/<source-stem>-<n>.csv``.

    Everything is read and checked before anything is written, so a
    malformed source writes nothing. Existing files are never overwritten
    unless ``force``; two sources with the same stem are refused.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise RobojamError(f"{out_dir}: exists and is not a folder")
    results = []
    for path in find_sources(paths, kind, exclude=out_dir):
        chosen = kind or detect_format(path, columns)
        performances = read_source(path, chosen, columns, gap)
        kept = [p for p in performances if len(p)]
        results.append(SourceResult(path, chosen, kept, empty=len(performances) - len(kept)))
    _plan(results, out_dir, force)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for result in results:
            for performance, target in zip(result.performances, result.written):
                write_csv(performance, target)
    except OSError as e:
        raise RobojamError(f"{out_dir}: cannot write ({e.strerror or e})") from None
    return results


def _plan(results: list[SourceResult], out_dir: Path, force: bool) -> None:
    """Name every output file, refusing stem clashes and (without ``force``) existing files."""
    stems: dict[str, Path] = {}
    for result in results:
        stem = result.source.stem
        other = stems.setdefault(stem.casefold(), result.source)
        if other is not result.source:
            raise RobojamError(f"{other} and {result.source} would both write {stem}-N.csv; "
                               "import them to separate folders or rename one")
        result.written = [out_dir / name for name in output_names(stem, len(result.performances))]
        existing = [t for t in result.written if t.exists()]
        if existing and not force:
            raise RobojamError(f"{existing[0]} exists; nothing written (add --force to overwrite)")
        if out_dir.is_dir():
            pattern = re.compile(rf"{re.escape(stem)}-\d+\.csv", re.IGNORECASE)
            targets = {t.name.casefold() for t in result.written}
            result.stale = sorted(f for f in out_dir.iterdir()
                                  if pattern.fullmatch(f.name) and f.name.casefold() not in targets)

"""Reading a text file a line at a time, never holding more than one bounded line, and quoting it briefly.

:func:`read_lines` is how robojam reads CSVs and logs from disk: a line of
ten million cells (20 MB) is refused with one short line giving its number,
without ever being held whole, so a reader's memory grows with the rows it
keeps and not with what one line holds. :func:`quote` is how an error line
shows a name or value taken from a file: cut to about 80 characters.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from robojam import RobojamError
from robojam.core.shown import shown

MAX_LINE_CHARS = 65_536  # a touch row is under 100 characters; a header of 16 names under 1,000
QUOTE_CHARS = 80


def quote(text: str, limit: int = QUOTE_CHARS) -> str:
    """``repr(text)``, cut after ``limit`` characters of its content as :mod:`robojam.core.shown` cuts."""
    return shown(str(text), limit + 2)  # + its quotes


def read_lines(path: str | Path, what: str = "text", limit: int = MAX_LINE_CHARS) -> Iterator[str]:
    """Each line of a UTF-8 file (a leading byte-order mark dropped), with its line ending, ``\\r\\n``
    and ``\\r`` read as ``\\n``.

    A line over ``limit`` characters raises :class:`RobojamError` naming the
    file and the line's number, having read at most ``limit + 1`` characters
    of it; so do a missing file, a folder and bytes that are not UTF-8.
    """
    path = Path(path)
    number = 0
    try:
        with open(path, encoding="utf-8-sig", newline=None) as f:
            while True:
                line = f.readline(limit + 1)
                if not line:
                    return
                number += 1
                if len(line) > limit and not (len(line) == limit + 1 and line.endswith("\n")):
                    raise RobojamError(f"{path}, line {number}: longer than {limit:,} characters; "
                                       f"not a {what} robojam reads")
                yield line
    except UnicodeDecodeError:
        raise RobojamError(f"{path}: cannot read {what} (not UTF-8, near line {number + 1})") from None
    except OSError as e:
        raise _unreadable(path, what, e) from None


def read_complete_lines(path: str | Path, what: str = "text", limit: int = MAX_LINE_CHARS) -> Iterator[str]:
    """As :func:`read_lines`, for a file still being written: a last line without its newline (a writer
    killed mid-line, perhaps inside a multi-byte character) is left out. ``limit`` counts bytes here."""
    path = Path(path)
    number = 0
    try:
        with open(path, "rb") as f:
            while True:
                raw = f.readline(limit + 1)
                if not raw.endswith(b"\n"):
                    if len(raw) > limit:
                        raise RobojamError(f"{path}, line {number + 1}: longer than {limit:,} bytes; "
                                           f"not a {what} robojam reads")
                    return  # the end, or a torn last line
                number += 1
                if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise RobojamError(f"{path}, line {number}: cannot read {what} (not UTF-8)") from None
                yield text[:-2] + "\n" if text.endswith("\r\n") else text
    except OSError as e:
        raise _unreadable(path, what, e) from None


def _unreadable(path: Path, what: str, error: OSError) -> RobojamError:
    """Why a file could not be read, in one line."""
    if isinstance(error, FileNotFoundError):
        return RobojamError(f"{path}: no such file")
    if isinstance(error, IsADirectoryError):
        return RobojamError(f"{path}: is a folder, expected a {what} file")
    return RobojamError(f"{path}: cannot read {what} ({error.strerror or error})")

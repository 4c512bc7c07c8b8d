"""Performances and the CSV format, checked where the mutation run (README, "Development") found them
unchecked: columns kept apart, stroke boundaries, dynamics, and the file and line an error names."""

import io

import numpy as np
import pytest

from robojam import RobojamError
from robojam.core import performance
from robojam.core.performance import (STROKE_GAP_S, STROKE_JUMP, Performance, parse_csv, read_csv,
                                      stroke_continues, write_csv)


def test_each_column_stays_in_its_place():
    rows = np.array([[0.1, 0.7, 0.0], [0.2, 0.6, 0.05], [0.3, 0.5, 0.05]])
    perf = Performance.from_xy_dt(rows, z=0.9)
    np.testing.assert_allclose(perf.events, [[0.0, 0.1, 0.7, 0.9, 0], [0.05, 0.2, 0.6, 0.9, 0],
                                             [0.1, 0.3, 0.5, 0.9, 0]])  # jumps of 0.14: new strokes
    np.testing.assert_allclose(perf.xy_dt(), rows)
    assert perf.events.dtype == np.float64 and Performance([[1, 2, 3, 4, 0]]).events.dtype == np.float64
    assert Performance(np.arange(10)).events.shape == (2, 5)
    assert Performance.from_xy_dt(np.arange(6)).events.shape == (2, 5)
    assert Performance.from_xy_dt([[1, 1, 1]]).events[0, 0] == 1.0  # integers become seconds, starting at 0


def test_an_empty_performance_has_no_rows():
    empty = Performance(np.zeros((0, 5)))
    assert empty.xy_dt().shape == (0, 3) and empty.duration == 0.0
    assert stroke_continues(np.zeros((0, 3))).tolist() == []
    assert stroke_continues(np.array([[0.5, 0.5, 0.0]])).tolist() == [0]
    assert stroke_continues(np.array([[0.5, 0.5, 0.0], [0.51, 0.5, 0.01]])).tolist() == [0, 1]


def test_a_stroke_breaks_just_past_the_gap_and_the_jump():
    rows = np.array([[0.1, 0.1, 0.0], [0.1, 0.1, STROKE_GAP_S], [0.1, 0.1, STROKE_GAP_S + 1e-9],
                     [0.1, 0.1 + STROKE_JUMP, 0.01], [0.1, 0.2 + STROKE_JUMP + 1e-6, 0.01],
                     [0.1, 0.3, 0.9]])  # dt far above the gap on a still touch: the y jump, not dt, decides
    assert stroke_continues(rows).tolist() == [0, 1, 0, 1, 0, 0]
    # the documented boundary itself: at 60 Hz a pause of 0.15 s (nine frames) is a new stroke, 0.1 s is not
    assert stroke_continues(np.array([[0.2, 0.2, 0.0], [0.2, 0.2, 0.1], [0.2, 0.2, 0.15]])).tolist() == [0, 1, 0]
    still_long = np.array([[0.2, 0.2, 0.0], [0.2, 0.2, 0.05], [0.2, 0.2, 0.05]])
    assert stroke_continues(still_long).tolist() == [0, 1, 1]


def test_csv_files_are_written_with_plain_newlines_and_read_with_a_bom(tmp_path):
    path = tmp_path / "p.csv"
    write_csv(Performance([[0, 0.5, 0.5, 0.5, 0]]), path)
    assert path.read_bytes() == b"time,x,y,z,moving\n0.000000,0.500000,0.500000,0.500000,0\n"
    path.write_bytes("\ufefftime,x,y\r\n0,0.25,0.75\r\n".encode())
    np.testing.assert_allclose(read_csv(path).events[0, :3], [0, 0.25, 0.75])
    path.write_bytes(b"time,x,y\r0,0.25,0.75\r0.1,0.26,0.75\r")  # old Mac line ends
    assert len(read_csv(path)) == 2


def test_errors_name_the_file_and_the_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("time,x,y\n0,0.5,0.5\n0.5,0.5,0.5\n0.5,0.6,0.5\n0.2,0.5,0.5\n")
    with pytest.raises(RobojamError, match=f"^{path}, line 5: time goes backwards$"):
        read_csv(path)
    path.write_text("time,x,y\n0,0.5,0.5\n0,0.5,0.5\n")  # equal times are fine
    assert len(read_csv(path)) == 2
    path.write_text("t,x\n0,1\n")
    with pytest.raises(RobojamError, match=f"^{path}, line 1: header 't,x' lacks time, y; "
                                           r"expected 'time,x,y,z,moving' \(z and moving optional\)$"):
        read_csv(path)
    with pytest.raises(RobojamError, match=r"^<csv>: no touch events"):
        parse_csv("time,x,y\n")
    path.write_text('time,x,y\n0,0.5,0.5\n1,"' + "9" * 200_000 + '",0.5\n')
    with pytest.raises(RobojamError, match=f"^{path}, line 3: longer than 65,536 characters"):
        read_csv(path)  # refused by the line reader before csv sees it
    path.write_text('time,x,y\n0,0.5,0.5\n1,"' + "9\n" * 70_000 + '",0.5\n')
    with pytest.raises(RobojamError, match=f"^{path}, line [0-9]+: not readable as CSV"):
        read_csv(path)  # short lines, one quoted field past csv's limit


def test_blank_lines_and_rows_of_empty_cells_are_skipped():
    perf = parse_csv("time,x,y\n0,0.5,0.5\n\n , ,\n0.1,0.5,0.5\n")
    assert len(perf) == 2


def test_float32_rows_make_the_same_performance_as_float64_ones():
    """Times are summed in float64: ten seconds of float32 frames would drift by 20 microseconds."""
    rows = np.tile(np.array([[0.5, 0.5, 1 / 60]], np.float32), (600, 1))
    rows[::50, :2] = 0.25  # some jumps, for strokes and dynamics
    for z in (0.5, None):
        np.testing.assert_array_equal(Performance.from_xy_dt(rows, z=z).events,
                                      Performance.from_xy_dt(rows.astype(np.float64), z=z).events)


def test_csv_files_get_plain_newlines_even_where_the_platform_writes_crlf(tmp_path, monkeypatch):
    def windows_open(file, mode="r", *args, newline=None, **kwargs):  # text mode on Windows: "\n" -> "\r\n"
        return open(file, mode, *args, newline="\r\n" if newline is None else newline, **kwargs)

    monkeypatch.setattr(performance, "open", windows_open, raising=False)
    path = tmp_path / "p.csv"
    write_csv(Performance([[0, 0.5, 0.5, 0.5, 0]]), path)
    assert path.read_bytes() == b"time,x,y,z,moving\n0.000000,0.500000,0.500000,0.500000,0\n"


def test_csv_files_are_read_as_utf8_with_a_bom_whatever_the_locale(tmp_path, monkeypatch):
    monkeypatch.setattr(io, "text_encoding", lambda encoding, stacklevel=2: encoding or "cp1252")  # as on Windows
    path = tmp_path / "p.csv"
    path.write_bytes("\ufefftime,x,y\n0,0.25,0.75\n".encode())
    np.testing.assert_allclose(read_csv(path).events[0, :3], [0, 0.25, 0.75])


def test_csv_text_may_end_its_lines_in_a_bare_carriage_return():
    perf = parse_csv("time,x,y\r0,0.25,0.75\r0.1,0.26,0.75\r")
    np.testing.assert_allclose(perf.events[:, :3], [[0, 0.25, 0.75], [0.1, 0.26, 0.75]])
    perf = parse_csv("time,x,y\r\n0,0.25,0.75\r\n0.1,0.26,0.75\r\n")
    assert len(perf) == 2


def test_a_header_in_capitals_is_read():
    perf = parse_csv("X,Y,Time\n0.25,0.75,0\n")
    np.testing.assert_allclose(perf.events[0, :3], [0, 0.25, 0.75])


def test_a_header_csv_cannot_read_is_named_as_line_1():
    with pytest.raises(RobojamError, match=r"^<csv>, line 1: not readable as CSV"):
        parse_csv('"' + "9" * 200_000 + '",x,y\n0,0.5,0.5\n')


def test_a_row_wider_than_the_header_is_refused_by_its_line():
    with pytest.raises(RobojamError, match=r"^<csv>, line 3: 6 cells, the header names 5; "
                                           r"robojam does not drop cells unread$"):
        parse_csv("time,x,y,z,moving\n0,0.5,0.5,0.5,0\n0.1,0.5,0.5,0.5,1,7\n")


def test_trailing_blank_cells_are_not_cells():
    strip = performance._without_trailing_blanks
    assert strip(["1", "2", " ", ""]) == ["1", "2"]
    assert strip(["a", "", "b", ""]) == ["a", "", "b"]
    assert strip(["", " "]) == [] and strip([]) == [] and strip(["a"]) == ["a"]


def test_a_performance_of_as_many_touches_as_the_cap_is_read_and_one_more_refused(monkeypatch):
    monkeypatch.setattr(performance, "MAX_TOUCHES", 3)
    rows = "time,x,y\n" + "".join(f"{i / 10},0.5,0.5\n" for i in range(3))
    assert len(parse_csv(rows, "three.csv")) == 3
    with pytest.raises(RobojamError, match=r"^four\.csv, line 5: refused: a performance of more touches, more "
                                           r"than robojam reads \(3 touches per performance; a damaged or hostile"):
        parse_csv(rows + "0.3,0.5,0.5\n", "four.csv")


def test_time_may_run_backwards_where_the_caller_allows_it():
    backwards = "time,x,y\n0.2,0.5,0.5\n0.1,0.5,0.5\n"
    assert parse_csv(backwards, ordered=False).time.tolist() == [0.2, 0.1]
    with pytest.raises(RobojamError, match="line 3: time goes backwards"):
        parse_csv(backwards)


def test_a_file_not_of_text_names_what_it_should_have_been(tmp_path):
    (tmp_path / "image.csv").write_bytes(b"time,x,y\n\xff\xd8\xff\n")
    with pytest.raises(RobojamError, match=r"image\.csv: cannot read performance CSV \(not UTF-8, near line \d+\)"):
        read_csv(tmp_path / "image.csv")


def test_what_csv_cannot_read_is_said_in_its_words():
    import csv

    huge = "x" * (csv.field_size_limit() + 1)
    with pytest.raises(RobojamError, match=r"^f\.csv, line 2: not readable as CSV \(field larger than field limit"):
        parse_csv(f"time,x,y\n{huge},1,1\n", "f.csv")


def test_numbers_up_to_the_largest_are_read_and_beyond_it_refused():
    biggest = performance.MAX_MAGNITUDE
    assert performance.read_number(repr(biggest), "time", "here") == biggest
    with pytest.raises(RobojamError, match=r"^here: time 1e\+101 is beyond ±1e\+100, not a touch's number$"):
        performance.read_number("1e101", "time", "here")


def test_numbers_from_a_quadrillion_up_are_written_in_exponent_form_and_read_back():
    perf = Performance([[0.0, 0.5, 0.5, 0.5, 0], [1e15 - 1, 0.5, 0.5, 0.5, 1], [1e15, 0.5, 0.5, 0.5, 1]])
    assert performance.to_csv_text(Performance(perf.events[:2])).splitlines()[2] == \
        "999999999999999.000000,0.500000,0.500000,0.500000,1"
    text = performance.to_csv_text(perf)
    assert text.splitlines()[1:] == ["0,0.5,0.5,0.5,0", "999999999999999,0.5,0.5,0.5,1", "1e+15,0.5,0.5,0.5,1"]
    np.testing.assert_array_equal(parse_csv(text).events, perf.events)

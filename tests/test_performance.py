import math

import numpy as np
import pytest

from robojam import RobojamError
from robojam.core.performance import Performance, parse_csv, read_csv, stroke_continues, unfold_rows, write_csv


def test_csv_round_trip(tmp_path):
    events = np.array([[0.0, 0.1, 0.2, 0.3, 0], [0.0167, 0.15, 0.25, 0.4, 1], [0.5, 0.9, 0.8, 0.5, 0]])
    path = tmp_path / "perf.csv"
    write_csv(Performance(events), path)
    assert path.read_text().splitlines()[0] == "time,x,y,z,moving"
    np.testing.assert_allclose(read_csv(path).events, events, atol=1e-6)


def test_read_is_forgiving_about_optional_columns_and_layout():
    text = "\ufeffY,Time,X\r\n0.5,0.0,0.1\r\n\r\n0.52,0.0167,0.11\r\n0.9,1.0,0.8\r\n"
    perf = parse_csv(text)
    np.testing.assert_allclose(perf.events[:, :3], [[0, 0.1, 0.5], [0.0167, 0.11, 0.52], [1.0, 0.8, 0.9]])
    assert (perf.events[:, 3] == 0.5).all()  # default z
    assert perf.events[:, 4].tolist() == [0, 1, 0]  # strokes inferred: a pause and a jump start a new one


@pytest.mark.parametrize("text, message", [
    ("", "empty file"),
    ("time,x\n0,0.5\n", "lacks y"),
    ("time,x,y\n", "no touch events"),
    ("time,x,y\n0,0.5,0.5\n0.1,abc,0.5\n", "line 3: x 'abc' is not a number"),
    ("time,x,y\n0,0.5,nan\n", "line 2: y is 'nan', not a finite number"),
    ("time,x,y\n0,0.5,inf\n", "not a finite number"),
    ("time,x,y,z\n0,0.5,0.5\n", "line 2: missing the 'z' column"),
    ("time,x,y\n1,0.5,0.5\n0.5,0.5,0.5\n", "line 3: time goes backwards"),
])
def test_bad_csv_names_file_and_line(text, message):
    with pytest.raises(RobojamError, match="bad.csv") as error:
        parse_csv(text, name="bad.csv")
    assert message in str(error.value)


def test_missing_and_binary_files_are_clear_errors(tmp_path):
    with pytest.raises(RobojamError, match="no such file"):
        read_csv(tmp_path / "nope.csv")
    binary = tmp_path / "noise.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(RobojamError, match="noise.csv"):
        read_csv(binary)


def test_xy_dt_and_back():
    perf = Performance.from_xy_dt([[0.5, 0.5, 0.0], [0.51, 0.5, 0.0167], [0.9, 0.1, 0.3]], start=1.0)
    np.testing.assert_allclose(perf.time, [1.0, 1.0167, 1.3167])
    np.testing.assert_allclose(perf.xy_dt()[:, 2], [0.0, 0.0167, 0.3])
    assert perf.events[:, 4].tolist() == [0, 1, 0]
    assert perf.events[:, 3].tolist() == [0.5, 0.5, 0.5]
    played = Performance.from_xy_dt([[0.5, 0.5, 0.0], [0.51, 0.5, 0.0167], [0.9, 0.1, 0.3]], z=None)
    # robojam's dynamics: moving touches by their speed, strokes by the rest before them and the speed lately
    drive = (math.log2(0.6) + 3) / 5
    np.testing.assert_allclose(played.events[:, 3], [0.1 + 0.3, 0.25 + 0.6 * 0.6 / 1.6, 0.1 + 0.3 * 0.3 + 0.6 * drive],
                               atol=1e-3)


def test_stroke_inference_breaks_on_pause_or_jump():
    rows = np.array([[0.1, 0.1, 0], [0.11, 0.1, 0.016], [0.12, 0.1, 0.5], [0.6, 0.1, 0.016]])
    assert stroke_continues(rows).tolist() == [0, 1, 0, 0]


def test_a_field_csv_cannot_read_names_its_own_line():
    import csv

    from robojam import RobojamError
    from robojam.core.performance import parse_csv

    huge = "x" * (csv.field_size_limit() + 5)
    with pytest.raises(RobojamError, match=r"^f\.csv, line 3: not readable as CSV"):
        parse_csv(f"time,x,y\n0,0.1,0.1\n{huge},1,1\n0.2,0.2,0.2\n", "f.csv")


# ---- MicroJam's one-line rows and the header's checks ------------------------------------------

def test_unfold_rows_splits_rows_that_follow_the_header_on_one_line():
    text = "\ufefftime, x, y, z, moving, 0.0, 0.1, 0.2, 3, 0, 0.5, 0.3, 0.4, 3, 1, \n\n"
    assert unfold_rows(text) == "time,x,y,z,moving\n0.0,0.1,0.2,3,0\n0.5,0.3,0.4,3,1\n"
    assert unfold_rows("time,x,y\n0,0.1,0.2\n  \n1,0.3,0.4,\n") == "time,x,y\n0,0.1,0.2\n1,0.3,0.4\n"
    assert unfold_rows("") == "" and unfold_rows(" \n\n") == ""


def test_unfold_rows_keeps_a_short_row_only_while_it_holds_every_named_column_up_to_y():
    assert unfold_rows("Time,X,Y,z,moving\n0,0.1,0.2\n") == "Time,X,Y,z,moving\n0,0.1,0.2\n"
    assert unfold_rows("time,x,y,z,moving\n0,0.1,0.2,3\n") == "time,x,y,z,moving\n0,0.1,0.2,3\n"
    with pytest.raises(RobojamError) as short:
        unfold_rows("time,x,y,z,moving\n0,0.1\n", "call.csv")
    assert str(short.value) == "call.csv, line 2: 2 fields, not rows of 5"
    with pytest.raises(RobojamError, match=r"^<csv>, line 3: 7 fields, not rows of 5$"):
        unfold_rows("time,x,y,z,moving\n0,0.1,0.2,3,0\n1,2,3,4,5,6,7\n")
    with pytest.raises(RobojamError, match=r"line 1: 1 fields, not rows of 0$"):
        unfold_rows("0.5\n1.5\n")  # no header at all: the first field is a number


def test_a_header_naming_a_column_twice_or_lacking_one_is_refused_by_name():
    with pytest.raises(RobojamError) as twice:
        parse_csv("time,x,y,x\n0,0.1,0.2,0.3\n", "call.csv")
    assert str(twice.value) == ("call.csv, line 1: header 'time,x,y,x' names x twice; "
                                "expected 'time,x,y,z,moving' (z and moving optional)")
    with pytest.raises(RobojamError) as lacking:
        parse_csv("time,x,z\n0,0.1,3\n")
    assert str(lacking.value) == ("<csv>, line 1: header 'time,x,z' lacks y; "
                                  "expected 'time,x,y,z,moving' (z and moving optional)")
    long_header = "time,x," + ",".join(f"extra{i}" for i in range(20))
    with pytest.raises(RobojamError) as long_one:
        parse_csv(long_header + "\n")
    assert f"header {long_header[:60] + '...'!r} lacks y;" in str(long_one.value)
    exactly_60 = "time,x," + "a" * 53
    with pytest.raises(RobojamError, match=f"header '{exactly_60}' lacks y"):
        parse_csv(exactly_60 + "\n")
    read = parse_csv(" Moving , Y ,X,time\n1,0.2,0.1,0.5\n")
    assert read.events.tolist() == [[0.5, 0.1, 0.2, read.events[0, 3], 1.0]]


def test_unfold_rows_reads_which_columns_a_short_row_must_hold_from_the_header():
    assert unfold_rows("\ufeffX,Y,time\n0.1,0.2,0\n") == "X,Y,time\n0.1,0.2,0\n"  # only the mark is stripped
    for header in ("x,y,time,z,moving", "time,y,x,z,moving"):  # the last named of time, x, y is needed
        with pytest.raises(RobojamError, match="line 2: 2 fields, not rows of 5"):
            unfold_rows(f"{header}\n0.1,0.2\n")
    assert unfold_rows("a,b,c\n1\n") == "a,b,c\n1\n"  # naming none of them, any short row will do


def test_a_header_cut_at_60_characters_and_columns_named_twice_listed():
    at_61 = "time,x," + "a" * 54
    with pytest.raises(RobojamError) as cut:
        parse_csv(at_61 + "\n")
    assert f"header {at_61[:60] + '...'!r} lacks y" in str(cut.value)
    with pytest.raises(RobojamError, match="header 'time,x,y,x,y' names x, y twice;"):
        parse_csv("time,x,y,x,y\n0,0.1,0.2,0.1,0.2\n")

"""robojam import questions odd data (issue #25, item 5): rows wider than their header are refused
with the count, files are read row by row within bounds, long gaps and late touches are flagged as
off-screen positions are, absurd numbers are refused, and every error line about input is short."""

import tracemalloc

import numpy as np
import pytest
from click.testing import CliRunner

from robojam import RobojamError
from robojam.cli import main
from robojam.core import performance as performance_module
from robojam.core.importers import ColumnMap, read_columns_csv, read_impsy_log, read_impsy_npz, read_robojam_csv
from robojam.core.performance import read_csv, to_csv_text
from robojam.core import touchlog
from robojam.core.touchlog import read_log

LOG_HEADER = "time,x,y,z,moving,session,source\n"


def run(*args):
    return CliRunner().invoke(main, ["import", *map(str, args)])


def error_line(result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, lines[:3]
    assert len(lines[0]) < 400, f"{len(lines[0]):,} characters"
    return lines[0]


def nothing_written(tmp_path):
    out = tmp_path / "out"
    return not out.exists() or not any(out.iterdir())


# ---- wide rows ---------------------------------------------------------------------------------

def test_a_header_of_ten_million_names_gets_a_short_error(tmp_path):
    path = tmp_path / "names.csv"
    path.write_text(",".join(["n"] * 10_000_000) + "\n0,0.5,0.5\n")
    for extra in ([], ["--columns", "time,x,y"], ["--format", "impsy-log"]):
        line = error_line(run(path, "-o", tmp_path / "out", *extra))
        assert "line 1: longer than 65,536 characters" in line
    assert nothing_written(tmp_path)


def test_a_row_of_ten_million_cells_is_refused_without_holding_it(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text("time,x,y,z,moving\n0,0.5,0.5,0.5,0" + ",1" * 10_000_000 + "\n")
    tracemalloc.start()
    try:
        with pytest.raises(RobojamError, match=r"wide\.csv, line 2: longer than 65,536 characters"):
            read_robojam_csv(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, f"{peak:,} bytes for a 20 MB line"
    assert "line 2: longer than 65,536" in error_line(run(path, "-o", tmp_path / "out"))


def test_a_row_with_more_cells_than_the_header_names_is_refused_with_the_count(tmp_path):
    rows = [f"{i * 0.1:.1f},0.5,0.5,0.5,1" for i in range(6)] + ["0.6,0.5,0.5,0.5,1,7,8,9,10,11,12,13"]
    path = tmp_path / "extra.csv"
    path.write_text("time,x,y,z,moving\n" + "\n".join(rows) + "\n")
    line = error_line(run(path, "-o", tmp_path / "out"))
    assert line.endswith("extra.csv, line 8: 12 cells, the header names 5; robojam does not drop cells unread")
    assert nothing_written(tmp_path)


def test_a_trailing_comma_is_not_an_extra_cell(tmp_path):
    path = tmp_path / "trailing.csv"
    path.write_text("time,x,y,\n0,0.5,0.5,\n0.1,0.6,0.5,\n")
    assert len(read_csv(path)) == 2


def test_a_wide_row_in_an_impsy_log_or_mapped_csv_is_refused_with_the_count(tmp_path):
    log = tmp_path / "wide.log"
    log.write_text("2024-05-01T12:00:00,interface,0.1,0.2\n2024-05-01T12:00:01,interface,0.1,0.2,0.3\n")
    with pytest.raises(RobojamError, match=r"wide\.log, line 2: 3 values, expected 2 as on line 1"):
        read_impsy_log(log)
    mapped = tmp_path / "mapped.csv"
    mapped.write_text("0,0.1,0.2\n1,0.1,0.2,5\n")
    with pytest.raises(RobojamError, match=r"mapped\.csv, line 2: 4 columns, expected 3"):
        read_columns_csv(mapped, ColumnMap.parse("time,x,y"))


def test_a_touch_log_line_of_ten_million_cells_is_refused_without_holding_it(tmp_path):
    path = tmp_path / "serve.csv"
    path.write_text(LOG_HEADER + "0,0.5,0.5,0.5,0,a,performer" + ",1" * 10_000_000 + "\n")
    tracemalloc.start()
    try:
        with pytest.raises(RobojamError, match=r"serve\.csv, line 2: longer than 65,536 bytes"):
            read_log(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, f"{peak:,} bytes"
    assert "line 2: longer than 65,536 bytes" in error_line(run(path, "-o", tmp_path / "out"))


def test_touch_log_sessions_and_touches_are_capped(tmp_path, monkeypatch):
    path = tmp_path / "serve.csv"
    path.write_text(LOG_HEADER + "".join(f"{i},0.5,0.5,0.5,0,s{i},performer\n" for i in range(4)))
    monkeypatch.setattr(touchlog, "MAX_PERFORMANCES", 3)
    with pytest.raises(RobojamError, match=r"line 5: refused: more sessions, more than robojam reads \(3 sessions"):
        read_log(path)
    monkeypatch.setattr(touchlog, "MAX_PERFORMANCES", 10)
    monkeypatch.setattr(touchlog, "MAX_FILE_TOUCHES", 2)
    with pytest.raises(RobojamError, match=r"line 4: refused: more touches, more than robojam reads \(2 touches"):
        read_log(path)
    monkeypatch.setattr(touchlog, "MAX_FILE_TOUCHES", 10)
    assert len(read_log(path)) == 4


# ---- bounded memory, row by row ----------------------------------------------------------------

def test_rows_are_kept_compactly_while_reading(tmp_path):
    path = tmp_path / "long.csv"
    count = 100_000
    times = np.arange(count) * 0.01
    with open(path, "w") as f:
        f.write("time,x,y,z,moving\n")
        f.writelines(f"{t:.2f},0.5,0.5,0.5,1\n" for t in times)
    tracemalloc.start()
    try:
        performance = read_csv(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    kept = performance.events.nbytes
    assert len(performance) == count
    assert peak < 2.5 * kept, f"peak {peak:,} for {kept:,} kept"  # a list of rows took about 6x


def test_touches_per_performance_are_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(performance_module, "MAX_TOUCHES", 3)
    path = tmp_path / "many.csv"
    path.write_text("time,x,y\n" + "".join(f"{i},0.5,0.5\n" for i in range(4)))
    with pytest.raises(RobojamError, match=r"many\.csv, line 5: refused: a performance of more touches, more than "
                                           r"robojam reads \(3 touches per performance"):
        read_csv(path)


# ---- odd times flagged, absurd numbers refused -------------------------------------------------

def test_a_gap_over_an_hour_and_a_touch_over_a_day_are_flagged_and_kept(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text("time,x,y\n0,0.5,0.5\n1,0.5,0.5\n4000,0.5,0.5\n90000,0.5,0.5\n90001,1.5,0.5\n")
    result = run(path, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    summary = result.output.splitlines()[0]
    assert "2 gaps over an hour kept (training clips gaps)" in summary
    assert "2 touches over a day from the start kept" in summary
    assert "1 touch outside [0, 1] kept" in summary
    assert len(read_csv(tmp_path / "out" / "odd-1.csv")) == 5


def test_ordinary_files_get_no_new_notes(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("time,x,y\n0,0.5,0.5\n1,0.5,0.5\n")
    result = run(path, "-o", tmp_path / "out")
    assert result.exit_code == 0 and "gap" not in result.output and "day" not in result.output


def test_a_time_of_1e308_is_refused_in_every_format(tmp_path):
    csv = tmp_path / "huge.csv"
    csv.write_text("time,x,y\n0,0.5,0.5\n1e308,0.5,0.5\n")
    assert error_line(run(csv, "-o", tmp_path / "out")).endswith(
        "huge.csv, line 3: time 1e+308 is beyond ±1e+100, not a touch's number")
    mapped = tmp_path / "mapped.csv"
    mapped.write_text("0,0.5,0.5\n1e308,0.5,0.5\n")
    assert "line 2: dt 1e+308 is beyond ±1e+100" in error_line(run(mapped, "-o", tmp_path / "out",
                                                                     "--columns", "dt,x,y"))
    log = tmp_path / "huge.log"
    log.write_text("2024-05-01T12:00:00,interface,0.1,-1e200\n")
    with pytest.raises(RobojamError, match=r"huge\.log, line 1: x2 -1e\+200 is beyond"):
        read_impsy_log(log)
    served = tmp_path / "served.csv"
    served.write_text(LOG_HEADER + "0,0.5,0.5,0.5,0,a,performer\n1e300,0.5,0.5,0.5,1,a,performer\n")
    assert "served.csv, line 3: time 1e+300 is beyond" in error_line(run(served, "-o", tmp_path / "out"))
    npz = tmp_path / "huge.npz"
    np.savez(npz, perfs=np.array([[0.0, 0.5, 0.5], [1e150, 0.5, 0.5]]))
    with pytest.raises(RobojamError, match=r"performance 1, row 2: dt 1e\+150 is beyond"):
        read_impsy_npz(npz)
    assert nothing_written(tmp_path)


def test_scaling_cannot_make_a_number_absurd(tmp_path):
    path = tmp_path / "scaled.csv"
    path.write_text("0,1e90,0.5\n")
    with pytest.raises(RobojamError, match=r"line 1: x divided by --scale is 1e\+110, beyond"):
        read_columns_csv(path, ColumnMap.parse("time,x,y", scale="1e-20"))


def test_a_large_but_allowed_time_is_written_in_a_short_form(tmp_path):
    path = tmp_path / "late.csv"
    path.write_text("time,x,y\n0,0.5,0.5\n1e99,0.5,0.5\n")
    result = run(path, "-o", tmp_path / "out")
    assert result.exit_code == 0 and "over a day" in result.output
    written = (tmp_path / "out" / "late-1.csv").read_text()
    assert max(len(line) for line in written.splitlines()) < 120
    np.testing.assert_array_equal(read_csv(tmp_path / "out" / "late-1.csv").time, [0, 1e99])
    ordinary = read_csv(tmp_path / "out" / "late-1.csv")
    ordinary.events[1, 0] = 2.0
    assert to_csv_text(ordinary).splitlines()[2] == "2.000000,0.500000,0.500000,0.500000,0"


# ---- short error lines -------------------------------------------------------------------------

@pytest.mark.parametrize("name, text, columns", [
    ("cell.csv", "time,x,y\n0,0.5," + "zebra" * 10_000 + "\n", None),
    ("inf.csv", "time,x,y\n0,0.5,-" + "9" * 1000 + "e9999\n", None),
    ("stamp.log", "2024-05-01T12:" + "z" * 20_000 + ",interface,0.1,0.2\n", None),
    ("line.log", "2024" + "x" * 20_000 + "\n", None),
    ("mapped.csv", "0,0.5,0.5\n1,0.5," + "q" * 20_000 + "\n", "time,x,y"),
    ("value.log", "2024-05-01T12:00:00,interface,0.1," + "7" * 300 + "x\n", None),
])
def test_errors_quote_at_most_about_80_characters(tmp_path, name, text, columns):
    path = tmp_path / name
    path.write_text(text)
    line = error_line(run(path, "-o", tmp_path / "out", *(["--columns", columns] if columns else [])))
    assert " characters)" in line and len(line) < 230 + len(str(tmp_path)), line  # 80 quoted + the mark


def test_a_long_columns_option_is_quoted_short(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("0,0.5,0.5\n")
    result = CliRunner().invoke(main, ["import", str(path), "-o", str(tmp_path / "out"),
                                       "--columns", "time,x,y," + "w" * 5_000])
    assert result.exit_code != 0
    assert " characters)" in result.output and max(len(line) for line in result.output.splitlines()) < 330

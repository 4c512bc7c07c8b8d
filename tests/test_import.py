"""robojam import: IMPSY datasets and logs, MicroJam CSVs and mapped CSVs into robojam performances."""

import io
import os
import pickle
import zipfile

import numpy as np
import click
import pytest
from click.testing import CliRunner

from robojam import RobojamError
from robojam.cli import IMPORT_FORMATS, main
from robojam.core.corpus import load_performances
from robojam.core.importers import (
    FORMATS, ColumnMap, detect_format, output_names, parse_columns, parse_scale,
    read_columns_csv, read_impsy_log, read_impsy_npz, read_robojam_csv,
)
from robojam.core.performance import read_csv
from robojam.core.safe_npz import load_npz_arrays
from robojam.core.touchlog import CALL_GAP_S


def run(*args):
    return CliRunner().invoke(main, ["import", *map(str, args)])


def impsy_perfs():
    """Two ragged IMPSY performances of rows dt, x1, x2 (float32, as IMPSY saves them)."""
    first = np.array([[0.5, 0.1, 0.2], [0.05, 0.15, 0.25], [0.25, 0.3, 0.9]], dtype=np.float32)
    second = np.array([[0.0, 0.7, 0.6], [0.05, 0.75, 0.55]], dtype=np.float32)
    return [first, second]


def impsy_npz(path, perfs):
    np.savez_compressed(path, perfs=np.array(perfs, dtype=object))
    return path


class Payload:
    """Unpickling this runs a shell command: what a crafted .npz can do to np.load(allow_pickle=True)."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def evil_npz(path, marker, key="perfs"):
    items = np.empty(2, dtype=object)
    items[0] = np.zeros((2, 3))
    items[1] = Payload(f"touch {marker}")
    np.savez(path, **{key: items})
    return path


# ---- the safe loader ---------------------------------------------------------------------------

def test_safe_npz_reads_plain_and_object_arrays(tmp_path):
    perfs = impsy_perfs()
    path = tmp_path / "mixed.npz"
    np.savez(path, plain=np.arange(6.0).reshape(2, 3), perfs=np.array(perfs, dtype=object))
    arrays = load_npz_arrays(path)
    assert sorted(arrays) == ["perfs", "plain"]
    np.testing.assert_array_equal(arrays["plain"], np.arange(6.0).reshape(2, 3))
    assert arrays["perfs"].dtype == object and arrays["perfs"].shape == (2,)
    for got, want in zip(arrays["perfs"], perfs):
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, want)
    assert list(load_npz_arrays(path, keys=["plain"])) == ["plain"]


def test_a_pickle_that_runs_a_command_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "MARKER"
    path = evil_npz(tmp_path / "evil.npz", marker)
    with pytest.raises(RobojamError) as error:
        load_npz_arrays(path)
    message = str(error.value)
    assert "evil.npz[perfs]" in message and "refused" in message
    assert f"{os.system.__module__}.system" in message  # posix.system: the refused global, by name
    assert not marker.exists()
    # The file is a real attack: numpy's own pickle loading runs it.
    witness = tmp_path / "WITNESS"
    evil_npz(tmp_path / "witness.npz", witness)
    with np.load(tmp_path / "witness.npz", allow_pickle=True) as archive:
        archive["perfs"]
    assert witness.exists()


def npz_with_pickle(path, key, shape, pickled: bytes):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|O", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{key}.npy", header.getvalue() + pickled)
    return path


def test_numpy_1_pickles_and_numpy_scalars_load(tmp_path):
    items = np.empty(3, dtype=object)
    items[0] = np.array([[0.0, 0.5, 0.5]], dtype=np.float32)
    items[1] = np.float64(0.25)
    items[2] = 3
    pickled = pickle.dumps(items, protocol=3)
    assert b"numpy._core.multiarray" in pickled and b"scalar" in pickled
    # numpy 1 wrote these globals under numpy.core: both spellings load.
    old = npz_with_pickle(tmp_path / "old.npz", "perfs", (3,), pickled.replace(b"numpy._core.", b"numpy.core."))
    for path in (old, npz_with_pickle(tmp_path / "new.npz", "perfs", (3,), pickled)):
        loaded = load_npz_arrays(path)["perfs"]
        np.testing.assert_array_equal(loaded[0], items[0])
        assert loaded[1] == 0.25 and loaded[2] == 3


def test_other_globals_and_non_numeric_objects_are_refused(tmp_path):
    path = npz_with_pickle(tmp_path / "eval.npz", "perfs", (1,), b"cbuiltins\neval\n(S'1+1'\ntR.")
    with pytest.raises(RobojamError, match=r"refused to load: its pickle calls builtins\.eval"):
        load_npz_arrays(path)
    strings = tmp_path / "strings.npz"
    np.savez(strings, perfs=np.array(["a", {"b": 1}], dtype=object))
    with pytest.raises(RobojamError, match=r"strings\.npz\[perfs\]: holds a str"):
        load_npz_arrays(strings)


def test_safe_npz_errors_name_the_file(tmp_path):
    with pytest.raises(RobojamError, match="nothere.npz: no such file"):
        load_npz_arrays(tmp_path / "nothere.npz")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(RobojamError, match=r"text\.npz: not a \.npz archive"):
        load_npz_arrays(tmp_path / "text.npz")
    np.savez(tmp_path / "corpus.npz", arr_0=np.zeros((2, 3)))
    with pytest.raises(RobojamError, match=r"corpus\.npz: no 'perfs' array; it holds 'arr_0'"):
        load_npz_arrays(tmp_path / "corpus.npz", keys=["perfs"])


# ---- IMPSY datasets ----------------------------------------------------------------------------

def test_impsy_object_array(tmp_path):
    performances = read_impsy_npz(impsy_npz(tmp_path / "impsy.npz", impsy_perfs()))
    assert [len(p) for p in performances] == [3, 2]
    first = performances[0]
    # The first row's dt is the pause before the performance: time starts at 0.
    np.testing.assert_allclose(first.time, [0.0, 0.05, 0.3], atol=1e-6)
    np.testing.assert_allclose(first.events[:, 1], [0.1, 0.15, 0.3], atol=1e-6)
    np.testing.assert_allclose(first.events[:, 2], [0.2, 0.25, 0.9], atol=1e-6)
    assert list(first.events[:, 3]) == [0.5] * 3
    # Strokes inferred: the third touch comes after 0.25 s, so it starts a stroke.
    assert list(first.events[:, 4]) == [0, 1, 0]


def test_impsy_plain_2d_array_and_equal_lengths_and_one_dimension(tmp_path):
    np.savez(tmp_path / "plain.npz", perfs=np.array([[0.0, 0.25], [0.5, 0.75], [0.25, 1.0]]))
    (single,) = read_impsy_npz(tmp_path / "plain.npz")
    np.testing.assert_allclose(single.time, [0.0, 0.5, 0.75])
    np.testing.assert_allclose(single.events[:, 1], [0.25, 0.75, 1.0])
    np.testing.assert_allclose(single.events[:, 2], [0.5, 0.5, 0.5])  # one dimension: y in the middle
    same = [np.full((4, 3), 0.25), np.full((4, 3), 0.75)]  # numpy makes a (2, 4, 3) object array of these
    performances = read_impsy_npz(impsy_npz(tmp_path / "same.npz", same))
    assert [len(p) for p in performances] == [4, 4]
    assert performances[1].events[0, 1] == 0.75


def test_impsy_four_dimensional_rows_keep_x1_x2(tmp_path):
    rows = np.array([[0.0, 0.1, 0.2, 0.3, 0.4], [0.1, 0.5, 0.6, 0.7, 0.8]])
    (performance,) = read_impsy_npz(impsy_npz(tmp_path / "four.npz", [rows, rows[:1]]))[:1]
    np.testing.assert_allclose(performance.events[:, 1:3], [[0.1, 0.2], [0.5, 0.6]])


# ---- IMPSY logs --------------------------------------------------------------------------------

IMPSY_LOG = """2024-05-01T12:00:00.000000,interface,0.5,0.3
2024-05-01T12:00:00.050000,rnn,0.9,0.9
2024-05-01T12:00:00.100000,interface,0.55,0.35
2024-05-01T12:00:00.400000,interface,0.6,0.4
2024-05-01T12:00:01.000000,rnn,0.1,0.1
2024-05-01T12:00:05.000000,interface,0.2,0.8
2024-05-01T12:00:05.020000,interface,0.21,0.81
"""


def test_impsy_log_keeps_the_performer_and_splits_at_gaps(tmp_path):
    path = tmp_path / "session.log"
    path.write_text(IMPSY_LOG)
    first, second = read_impsy_log(path)
    np.testing.assert_allclose(first.time, [0.0, 0.1, 0.4], atol=1e-9)
    np.testing.assert_allclose(first.events[:, 1:3], [[0.5, 0.3], [0.55, 0.35], [0.6, 0.4]])
    assert list(first.events[:, 4]) == [0, 1, 0]  # 0.3 s pause: a new stroke
    np.testing.assert_allclose(second.time, [0.0, 0.02], atol=1e-9)
    np.testing.assert_allclose(second.events[:, 1:3], [[0.2, 0.8], [0.21, 0.81]])
    assert 0.9 not in first.events[:, 1] and 0.1 not in second.events[:, 1]  # no rnn rows
    # A longer gap joins them; a shorter one splits more.
    assert [len(p) for p in read_impsy_log(path, gap=10)] == [5]
    assert [len(p) for p in read_impsy_log(path, gap=0.2)] == [2, 1, 2]


def test_impsy_log_with_one_value_and_no_microseconds(tmp_path):
    path = tmp_path / "one.log"
    path.write_text("2024-05-01T12:00:00,interface,0.25\n\n2024-05-01T12:00:00.500000,interface,0.75\n")
    (performance,) = read_impsy_log(path)
    np.testing.assert_allclose(performance.time, [0.0, 0.5])
    np.testing.assert_allclose(performance.events[:, 1:3], [[0.25, 0.5], [0.75, 0.5]])


# ---- CSVs --------------------------------------------------------------------------------------

def test_microjam_csv_with_spaces_and_no_trailing_newline(tmp_path):
    path = tmp_path / "microjam.csv"
    path.write_text("time, x, y, z, moving\n0.000000, 0.100000, 0.200000, 12.500000, 0\n"
                    "0.016000, 0.110000, 0.210000, 13.000000, 1\n1.500000, 0.900000, 0.100000, 4.000000, 0")
    (performance,) = read_robojam_csv(path)
    np.testing.assert_allclose(performance.events, [[0, 0.1, 0.2, 12.5, 0], [0.016, 0.11, 0.21, 13, 1],
                                                    [1.5, 0.9, 0.1, 4, 0]])
    assert detect_format(path) == "csv"


def test_robojam_serve_logs_give_the_performers_calls(tmp_path):
    path = tmp_path / "robojam-run.csv"
    path.write_text("time,x,y,z,moving,session,source\n0.0,0.1,0.2,0.5,0,alice,performer\n"
                    "0.05,0.12,0.22,0.5,1,alice,performer\n1.0,0.9,0.9,0.5,0,alice,robojam\n"
                    "9.0,0.4,0.4,0.5,0,alice,performer\n9.1,0.41,0.41,0.5,1,alice,performer\n")
    first, second = read_robojam_csv(path)
    np.testing.assert_allclose(first.events[:, :3], [[0, 0.1, 0.2], [0.05, 0.12, 0.22]])
    np.testing.assert_allclose(second.events[:, 1], [0.4, 0.41])
    assert len(read_robojam_csv(path, gap=20)) == 1


def test_columns_csv_in_pixels_with_scale(tmp_path):
    path = tmp_path / "pixels.csv"
    path.write_text("label,t_ms,px,py\nA,0.0,512,384\nA,0.25,1024,0\nB,0.5,2048,768\n")
    columns = ColumnMap.parse("skip,dt,x,y", "1024,768")
    (performance,) = read_columns_csv(path, columns)
    np.testing.assert_allclose(performance.time, [0.0, 0.25, 0.75])
    np.testing.assert_allclose(performance.events[:, 1:3], [[0.5, 0.5], [1.0, 0.0], [2.0, 1.0]])
    assert list(performance.events[:, 3]) == [0.5] * 3
    # A time column, no header, one scale for both, z given.
    path.write_text("10.0,100,50,0.3\n10.5,200,100,0.4\n")
    (performance,) = read_columns_csv(path, ColumnMap.parse("time,x,y,z", "200"))
    np.testing.assert_allclose(performance.events[:, :4], [[0, 0.5, 0.25, 0.3], [0.5, 1.0, 0.5, 0.4]])
    # --no-header: a text first row is then an error; --header skips a numeric one.
    with pytest.raises(RobojamError, match=r"pixels\.csv, line 1: time 'time' is not a number"):
        path.write_text("time,x,y\n0,1,1\n")
        read_columns_csv(path, ColumnMap.parse("time,x,y", header=False))
    path.write_text("1,2,3\n0,0.5,0.5\n")
    (performance,) = read_columns_csv(path, ColumnMap.parse("time,x,y", header=True))
    assert len(performance) == 1 and performance.events[0, 1] == 0.5


def test_column_mappings_are_checked():
    assert parse_columns("dt, X ,y,-,z") == ("dt", "x", "y", "-", "z")
    assert parse_scale("1024") == (1024.0, 1024.0) and parse_scale("1024,768") == (1024.0, 768.0)
    for spec, message in [("x,y", "exactly one of time"), ("time,dt,x,y", "exactly one of time"),
                          ("time,x", "no y column"), ("time,x,y,x", "'x' is named twice"),
                          ("time,x,y,w", "unknown column 'w'")]:
        with pytest.raises(RobojamError, match=message):
            parse_columns(spec)
    for spec in ("0", "-5", "a", "1,2,3", "nan"):
        with pytest.raises(RobojamError, match="--scale"):
            parse_scale(spec)


# ---- malformed sources -------------------------------------------------------------------------

MALFORMED = [
    ("bad.log", "2024-05-01T12:00:00,interface,0.5,0.3\n2024-05-01T12:00:01,interface,0.5,zebra\n", None,
     "bad.log, line 2: x2 'zebra' is not a number"),
    ("count.log", "2024-05-01T12:00:00,interface,0.5,0.3\n2024-05-01T12:00:00.1,rnn,1\n"
                  "2024-05-01T12:00:01,interface,0.5\n", None, "count.log, line 3: 1 values, expected 2 as on line 1"),
    ("back.log", "2024-05-01T12:00:01,interface,0.5,0.3\n2024-05-01T12:00:00,interface,0.5,0.3\n", None,
     "back.log, line 2: time goes backwards"),
    ("stamp.log", "2024-05-01T12:00:00,interface,0.5,0.3\nyesterday,interface,0.5,0.3\n", None,
     "stamp.log, line 2: timestamp 'yesterday' is not an ISO date and time"),
    ("nan.log", "2024-05-01T12:00:00,interface,nan,0.3\n", None, "nan.log, line 1: x1 is 'nan', not a finite number"),
    ("short.log", "2024-05-01T12:00:00\n", None, "short.log, line 1: expected 'timestamp,source,x1,...'"),
    ("zebra.csv", "time, x, y\n0, 0.5, 0.5\n0.1, 0.5, zebra\n", None, "zebra.csv, line 3: y ' zebra' is not a number"),
    ("backwards.csv", "time,x,y\n1,0.5,0.5\n0.5,0.5,0.5\n", None, "backwards.csv, line 3: time goes backwards"),
    ("wide.csv", "dt,x,y\n0,1,2\n0.1,1,2,3\n", "dt,x,y", "wide.csv, line 3: 4 columns, expected 3 (--columns dt,x,y)"),
    ("inf.csv", "0,1,2\n0.1,inf,2\n", "dt,x,y", "inf.csv, line 2: x is 'inf', not a finite number"),
    ("negative.csv", "0,1,2\n-0.1,1,2\n", "dt,x,y", "negative.csv, line 2: dt -0.1 is negative"),
    ("rewind.csv", "0,1,2\n5,1,2\n4,1,2\n", "time,x,y", "rewind.csv, line 3: time goes backwards"),
    ("empty.csv", "\n\n", "dt,x,y", "empty.csv: no touch rows"),
    ("mystery.txt", "hello\nworld\n", None, "mystery.txt: unknown format; name it with --format"),
]


@pytest.mark.parametrize("name, text, columns, message", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_sources_are_refused_with_file_and_line(tmp_path, name, text, columns, message):
    (tmp_path / name).write_text(text)
    args = [tmp_path / name, "-o", tmp_path / "out"] + (["--columns", columns] if columns else [])
    result = run(*args)
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("rows, message", [
    ([[0.0, 0.1, 0.2], [0.1, 0.2, 0.3]], None),
    ([[0.0, 0.1, 0.2], [0.1, np.nan, 0.3]], "bad.npz, performance 2, row 2: x1 is nan, not a finite number"),
    ([[0.0, 0.1, 0.2], [-0.1, 0.2, 0.3]], "bad.npz, performance 2, row 2: dt -0.1 is negative"),
    ([[0.0], [0.1]], "bad.npz, performance 2: shape (2, 1); expected rows dt, x1, ..., xn"),
])
def test_malformed_impsy_datasets_name_the_performance_and_row(tmp_path, rows, message):
    path = impsy_npz(tmp_path / "bad.npz", [np.zeros((3, 3)), np.array(rows)])
    if message is None:
        assert len(read_impsy_npz(path)) == 2
        return
    with pytest.raises(RobojamError) as error:
        read_impsy_npz(path)
    assert message in str(error.value)


def test_a_missing_source_and_a_missing_key(tmp_path):
    result = run(tmp_path / "nothere.npz", "-o", tmp_path / "out")
    assert result.exit_code == 1 and "nothere.npz: no such file or folder" in result.output
    np.savez(tmp_path / "corpus.npz", arr_0=np.zeros((2, 3)))
    result = run(tmp_path / "corpus.npz", "-o", tmp_path / "out")
    assert result.exit_code == 1 and "corpus.npz: no 'perfs' array" in result.output


def test_the_pickle_attack_through_the_command(tmp_path):
    marker = tmp_path / "MARKER"
    evil_npz(tmp_path / "evil.npz", marker)
    result = run(tmp_path / "evil.npz", "-o", tmp_path / "out")
    assert result.exit_code == 1
    assert "refused to load" in result.output and "system" in result.output
    assert "Traceback" not in result.output
    assert not marker.exists()
    assert not (tmp_path / "out").exists()


# ---- the command -------------------------------------------------------------------------------

@pytest.fixture
def sources(tmp_path):
    folder = tmp_path / "sources"
    folder.mkdir()
    impsy_npz(folder / "impsy.npz", impsy_perfs() + [np.zeros((0, 3))])
    (folder / "session.log").write_text(IMPSY_LOG)
    (folder / "microjam.csv").write_text("time, x, y, z, moving\n0.0, 0.1, 0.2, 1.0, 0\n0.1, 0.2, 0.3, 1.0, 1")
    (folder / "notes.txt").write_text("not a performance")
    (folder / ".hidden.csv").write_text("garbage")
    return folder


def test_import_writes_sorted_csvs_that_read_back_and_train(tmp_path, sources):
    out = tmp_path / "out"
    result = run(sources, "-o", out)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines == [
        f"{sources / 'impsy.npz'}: 2 performances, 5 touches -> impsy-1.csv .. impsy-2.csv; "
        "1 empty performance skipped",
        f"{sources / 'microjam.csv'}: 1 performance, 2 touches -> microjam-1.csv",
        f"{sources / 'session.log'}: 2 performances, 5 touches -> session-1.csv .. session-2.csv",
        f"total: 3 sources, 5 performances, 12 touches written to {out}",
    ]
    names = sorted(p.name for p in out.iterdir())
    assert names == ["impsy-1.csv", "impsy-2.csv", "microjam-1.csv", "session-1.csv", "session-2.csv"]
    assert (out / "impsy-1.csv").read_text().splitlines()[0] == "time,x,y,z,moving"
    np.testing.assert_allclose(read_csv(out / "session-1.csv").events[:, 1:3],
                               [[0.5, 0.3], [0.55, 0.35], [0.6, 0.4]])
    np.testing.assert_allclose(read_csv(out / "microjam-1.csv").events[:, 3], [1.0, 1.0])
    # robojam train's loader reads the folder: the same x, y, dt, in file order.
    loaded = load_performances([out])
    assert [len(p) for p in loaded] == [3, 2, 2, 3, 2]
    np.testing.assert_allclose(loaded[0], [[0.1, 0.2, 0.0], [0.15, 0.25, 0.05], [0.3, 0.9, 0.25]], atol=1e-6)
    np.testing.assert_allclose(loaded[3][:, 2], [0.0, 0.1, 0.3], atol=1e-6)


def test_names_are_zero_padded_and_output_inside_the_source_folder_is_skipped(tmp_path):
    assert output_names("a", 12)[:2] == ["a-01.csv", "a-02.csv"] and output_names("a", 12)[-1] == "a-12.csv"
    folder = tmp_path / "data"
    folder.mkdir()
    impsy_npz(folder / "many.npz", [np.full((2, 3), 0.1 * i) for i in range(1, 12)])
    result = run(folder, "-o", folder / "imported")
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (folder / "imported").iterdir())
    assert written == [f"many-{n:02d}.csv" for n in range(1, 12)]
    # Importing the folder again does not import its own output.
    result = run(folder, "-o", folder / "imported", "--force")
    assert result.exit_code == 0 and "total: 1 source," in result.output


def test_no_overwrite_without_force(tmp_path, sources):
    out = tmp_path / "out"
    assert run(sources / "session.log", "-o", out).exit_code == 0
    (out / "session-1.csv").write_text("time,x,y\n0,0,0\n")
    result = run(sources / "session.log", "-o", out)
    assert result.exit_code == 1
    assert f"{out / 'session-1.csv'} exists; nothing written (add --force to overwrite)" in result.output
    assert (out / "session-1.csv").read_text() == "time,x,y\n0,0,0\n"
    result = run(sources / "session.log", "-o", out, "--force")
    assert result.exit_code == 0, result.output
    assert len(read_csv(out / "session-1.csv")) == 3
    # Fewer performances than last time: the older file is reported, not deleted.
    result = run(sources / "session.log", "-o", out, "--force", "--gap", 10)
    assert "1 performance, 5 touches" in result.output and "1 older file" in result.output
    assert (out / "session-2.csv").exists()


def test_a_malformed_source_writes_nothing(tmp_path, sources):
    (sources / "zz-broken.log").write_text("2024-05-01T12:00:00,interface,0.5\nnonsense\n")
    result = run(sources, "-o", tmp_path / "out")
    assert result.exit_code == 1 and "zz-broken.log, line 2" in result.output
    assert not (tmp_path / "out").exists()


def test_two_sources_with_one_stem_are_refused(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "take.log").write_text("2024-05-01T12:00:00,interface,0.5,0.5\n")
    result = run(tmp_path / "a", tmp_path / "b", "-o", tmp_path / "out")
    assert result.exit_code == 1 and "would both write take-N.csv" in result.output
    assert not (tmp_path / "out").exists()


def test_pixels_through_the_command_report_off_screen_touches(tmp_path):
    path = tmp_path / "tablet.csv"
    path.write_text("t,x,y\n0,512,384\n0.1,1024,768\n0.2,1100,800\n")
    result = run(path, "-o", tmp_path / "out", "--columns", "time,x,y", "--scale", "1024,768")
    assert result.exit_code == 0, result.output
    assert "tablet.csv: 1 performance, 3 touches -> tablet-1.csv; 1 touch outside [0, 1] kept" in result.output
    events = read_csv(tmp_path / "out" / "tablet-1.csv").events
    np.testing.assert_allclose(events[:, 1:3], [[0.5, 0.5], [1.0, 1.0], [1100 / 1024, 800 / 768]], atol=1e-6)


def test_format_forces_a_reader(tmp_path):
    path = tmp_path / "capture.txt"
    path.write_text("2024-05-01T12:00:00,interface,0.5,0.5\n2024-05-01T12:00:00.1,interface,0.6,0.5\n")
    assert detect_format(path) == "impsy-log"  # sniffed from the content
    (tmp_path / "capture.dat").write_text("0,0.5,0.5\n0.1,0.6,0.5\n")
    result = run(tmp_path / "capture.dat", "-o", tmp_path / "out", "--format", "columns", "--columns", "dt,x,y")
    assert result.exit_code == 0, result.output
    assert len(read_csv(tmp_path / "out" / "capture-1.csv")) == 2
    result = run(path, "-o", tmp_path / "out2", "--format", "csv")
    assert result.exit_code == 1 and "capture.txt, line 1: header" in result.output
    assert "name the columns with --columns" in result.output


@pytest.mark.parametrize("args, message", [
    (["--format", "columns"], "--format columns needs --columns"),
    (["--columns", "dt,x,y", "--format", "impsy-log"], "does not apply to --format impsy-log"),
    (["--scale", "1024"], "apply with --columns"),
    (["--columns", "x,y"], "exactly one of time"),
    (["--columns", "dt,x,y", "--scale", "0"], "--scale '0'"),
    (["--gap", "0"], "--gap"),
])
def test_bad_options_are_usage_errors(tmp_path, args, message):
    (tmp_path / "a.log").write_text("2024-05-01T12:00:00,interface,0.5,0.5\n")
    result = run(tmp_path / "a.log", "-o", tmp_path / "out", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_every_option_is_explained_and_defaults_agree():
    command = main.commands["import"]
    options = [p for p in command.params if isinstance(p, click.Option)]
    assert {o.name for o in options} == {"output", "format_", "columns", "scale", "header", "gap", "force"}
    for option in options:
        assert option.help and len(option.help) > 20, f"undocumented option {option.opts}"
    out = run("--help").output
    for flag in ("--output", "--format", "--columns", "--scale", "--header / --no-header", "--gap", "--force"):
        assert flag in out
    assert IMPORT_FORMATS == FORMATS
    assert next(o for o in options if o.name == "gap").default == CALL_GAP_S

"""The bounded line reader (robojam.core.text_lines): lines of at most 65,536 characters, never more
held, a longer line refused with its number; and quoting file content briefly in error lines."""

import tracemalloc

import pytest
from hypothesis import given, settings, strategies as st

from robojam import RobojamError
from robojam.core.text_lines import MAX_LINE_CHARS, quote, read_complete_lines, read_lines


def test_lines_come_back_with_their_endings_read_as_newlines(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"\xef\xbb\xbfa,b\r\nc\rd\n\ne")
    assert list(read_lines(path)) == ["a,b\n", "c\n", "d\n", "\n", "e"]


def test_a_line_of_exactly_the_limit_is_read_and_one_more_is_refused(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("x" * 10 + "\n" + "y" * 10)
    assert list(read_lines(path, limit=10)) == ["x" * 10 + "\n", "y" * 10]
    path.write_text("ok\n" + "x" * 11 + "\nmore\n")
    with pytest.raises(RobojamError, match=r"t\.csv, line 2: longer than 10 characters; not a text robojam"):
        list(read_lines(path, limit=10))


def test_a_20_megabyte_line_is_refused_holding_under_a_megabyte(tmp_path):
    path = tmp_path / "wide.csv"
    with open(path, "w") as f:
        f.write("time,x,y,z,moving\n")
        f.write("0,0.5,0.5,0.5,0" + ",1" * 10_000_000 + "\n")
    tracemalloc.start()
    try:
        with pytest.raises(RobojamError) as error:
            for _ in read_lines(path, "performance CSV"):
                pass
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(error.value) == f"{path}, line 2: longer than 65,536 characters; not a performance CSV robojam reads"
    assert peak < 1 << 20, f"{peak:,} bytes"


def test_unreadable_files_are_one_line_errors(tmp_path):
    with pytest.raises(RobojamError, match="no such file"):
        list(read_lines(tmp_path / "none.csv"))
    with pytest.raises(RobojamError, match="is a folder"):
        list(read_lines(tmp_path))
    (tmp_path / "latin.csv").write_bytes(b"time,x,y\n0,\xff,1\n")
    with pytest.raises(RobojamError, match=r"latin\.csv: cannot read CSV \(not UTF-8, near line 1\)"):
        list(read_lines(tmp_path / "latin.csv", "CSV"))


def test_quote_cuts_to_80_characters_with_a_mark():
    assert quote("zebra") == "'zebra'"
    long = quote("n" * 10_000_000)
    assert long == repr("n" * 80)[:-1] + "n... (10,000,002 characters)" and len(long) < 120
    assert quote("x" * 80) == repr("x" * 80)


@settings(max_examples=200)
@given(st.lists(st.text(alphabet="ab,é\t ", max_size=30), max_size=20), st.sampled_from(["\n", "\r\n", "\r"]),
       st.integers(min_value=1, max_value=25))
def test_read_lines_agrees_with_splitlines_or_names_the_first_long_line(tmp_path_factory, lines, ending, limit):
    path = tmp_path_factory.mktemp("lines") / "t.txt"
    path.write_bytes(ending.join(lines).encode())
    text = ending.join(lines).replace("\r\n", "\n").replace("\r", "\n")
    expected = text.split("\n") if text else []
    if expected and expected[-1] == "":
        expected.pop()
    too_long = next((i for i, line in enumerate(expected, 1) if len(line) > limit), None)
    if too_long is None:
        assert [line.rstrip("\n") for line in read_lines(path, limit=limit)] == expected
    else:
        with pytest.raises(RobojamError, match=f", line {too_long}: longer than {limit:,} characters"):
            list(read_lines(path, limit=limit))


def test_the_limit_is_far_above_any_real_row():
    assert MAX_LINE_CHARS == 65_536


def test_complete_lines_leave_out_a_torn_last_line_and_refuse_a_long_one(tmp_path):
    path = tmp_path / "log.csv"
    path.write_bytes(b"\xef\xbb\xbfa,b\r\nc\n" + "caf\u00e9".encode()[:-1])
    assert list(read_complete_lines(path)) == ["a,b\n", "c\n"]
    path.write_bytes(b"a\n" + b"x" * 11 + b"\n")
    with pytest.raises(RobojamError, match=r"log\.csv, line 2: longer than 10 bytes"):
        list(read_complete_lines(path, limit=10))
    path.write_bytes(b"a\n\xff\nb\n")
    with pytest.raises(RobojamError, match=r"log\.csv, line 2: cannot read touch log \(not UTF-8\)"):
        list(read_complete_lines(path, "touch log"))

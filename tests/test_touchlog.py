import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from robojam import RobojamError
from robojam.core.corpus import load_performances
from robojam.core.performance import Performance, write_csv
from robojam.core.touchlog import is_log_file, read_log
from robojam.live.logwriter import MAX_SESSION_CHARS, TouchLog

NASTY = 'evil,"id"\nwith\r\nnewlines'
LONG = "s" * 100


def write_session_log(folder):
    """A log of two performers and robojam's answers, alice pausing 5 s between two calls."""
    with TouchLog(folder) as log:
        log.write("alice", "performer", 0.0, 0.1, 0.2, 0.3, False)
        log.write(NASTY, "performer", 0.05, 0.9, 0.8, 0.7, False)
        log.write("alice", "performer", 0.1234567, 0.1234564, 0.654321, 0.5, True)
        log.write(NASTY, "performer", 0.25, 0.85, 0.75, 0.7, True)
        log.write("alice", "robojam", 1.0, 0.5, 0.5, 0.5, False)
        log.write("alice", "robojam", 1.5, 0.6, 0.4, 0.5, True)
        log.write("alice", "performer", 6.0, 0.3, 0.3, 0.2, False)  # a new call after a 5.9 s pause
        log.write("alice", "performer", 6.5, 0.31, 0.32, 0.2, True)
        log.write(LONG, "performer", 7.0, 1.0, 0.0, 0.1, False)
    return log


def test_log_file_is_named_after_the_run_and_never_overwritten(tmp_path):
    first, second = TouchLog(tmp_path / "logs" / "deep"), TouchLog(tmp_path / "logs" / "deep")
    assert first.path != second.path
    assert first.path.name.startswith("robojam-") and f"-{os.getpid()}" in first.path.name
    assert first.path.read_text() == "time,x,y,z,moving,session,source\n"
    assert is_log_file(first.path)
    first.close(), second.close()
    first.close()  # idempotent


def test_reads_performer_touches_by_default_split_at_pauses(tmp_path):
    log = write_session_log(tmp_path)
    assert log.events == {"performer": 7, "robojam": 2}
    performances = read_log(log.path)
    np.testing.assert_array_equal(performances[0], [[0.1, 0.2, 0.0], [0.123456, 0.654321, 0.123457]])
    np.testing.assert_array_equal(performances[1], [[0.3, 0.3, 0.0], [0.31, 0.32, 0.5]])
    np.testing.assert_array_equal(performances[2], [[0.9, 0.8, 0.0], [0.85, 0.75, 0.2]])
    np.testing.assert_array_equal(performances[3], [[1.0, 0.0, 0.0]])
    assert len(performances) == 4


def test_reads_both_sources_and_a_custom_gap(tmp_path):
    log = write_session_log(tmp_path)
    both = read_log(log.path, sources=("performer", "robojam"))
    assert sorted(len(p) for p in both) == [1, 2, 2, 2, 2]
    assert any(np.array_equal(p, [[0.5, 0.5, 0.0], [0.6, 0.4, 0.5]]) for p in both)
    assert [len(p) for p in read_log(log.path, gap=10.0)] == [4, 2, 1]


def test_nasty_session_ids_stay_on_one_line_and_are_truncated(tmp_path):
    log = write_session_log(tmp_path)
    lines = log.path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 + 9
    assert lines[2] == '0.050000,0.900000,0.800000,0.700000,0,"evil,""id""_with__newlines",performer'
    assert lines[-1].endswith(f",{'s' * MAX_SESSION_CHARS},performer")


def test_write_refuses_what_would_spoil_the_log(tmp_path):
    with TouchLog(tmp_path) as log:
        with pytest.raises(ValueError, match="source"):
            log.write("a", "audience", 0.0, 0.5, 0.5, 0.5, False)
        with pytest.raises(ValueError, match="finite"):
            log.write("a", "performer", 0.0, float("nan"), 0.5, 0.5, False)
        log.write("\ud800 lone surrogate", "performer", 0.0, 0.5, 0.5, 0.5, False)
    assert log.events == {"performer": 1, "robojam": 0}
    assert len(read_log(log.path)) == 1


KILLED_SERVER = textwrap.dedent("""
    import sys, time
    from robojam.live.logwriter import TouchLog
    log = TouchLog(sys.argv[1])
    for i in range(int(sys.argv[2])):
        log.write(f"s{i % 3}", "performer" if i % 2 else "robojam", i * 0.01, i / 1000, 0.5, 0.5, i > 2)
    print(log.path, flush=True)
    time.sleep(60)
""")


def test_a_server_killed_with_sigkill_loses_no_touch(tmp_path):
    count = 300
    server = subprocess.Popen([sys.executable, "-c", KILLED_SERVER, str(tmp_path), str(count)],
                              stdout=subprocess.PIPE, text=True)
    try:
        path = server.stdout.readline().strip()
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        server.stdout.close()
    assert server.returncode == -signal.SIGKILL
    performances = read_log(path, sources=("performer", "robojam"))
    assert sum(len(p) for p in performances) == count
    xs = np.sort(np.concatenate([p[:, 0] for p in performances]))
    np.testing.assert_array_equal(xs, np.round(np.arange(count) / 1000, 6))


def test_a_torn_last_line_is_skipped(tmp_path):
    log = write_session_log(tmp_path)
    whole = read_log(log.path)
    with open(log.path, "ab") as f:
        f.write('8.0,0.5,0.5,0.5,1,"caf\u00e9'.encode()[:-1])  # torn inside a two-byte character
    assert [p.tolist() for p in read_log(log.path)] == [p.tolist() for p in whole]


def test_a_malformed_line_elsewhere_names_file_and_line(tmp_path):
    log = write_session_log(tmp_path)
    lines = log.path.read_text().splitlines(keepends=True)
    lines[3] = "0.2,oops,0.5,0.5,1,alice,performer\n"
    log.path.write_text("".join(lines))
    with pytest.raises(RobojamError, match=rf"{log.path.name}, line 4: x 'oops' is not a number"):
        read_log(log.path)
    lines[3] = "0.2,0.5,0.5,0.5,1,alice,someone\n"
    log.path.write_text("".join(lines))
    with pytest.raises(RobojamError, match="line 4: source 'someone'"):
        read_log(log.path)


def test_time_running_backwards_in_a_session_is_refused(tmp_path):
    with TouchLog(tmp_path) as log:
        log.write("a", "performer", 2.0, 0.5, 0.5, 0.5, False)
        log.write("b", "performer", 1.0, 0.5, 0.5, 0.5, False)  # other sessions may interleave
        log.write("a", "performer", 1.5, 0.5, 0.5, 0.5, True)
    with pytest.raises(RobojamError, match="line 4: time goes backwards"):
        read_log(log.path)


def test_an_empty_log_holds_no_performances(tmp_path):
    with TouchLog(tmp_path) as log:
        pass
    assert read_log(log.path) == []


def test_load_performances_reads_log_folders_beside_plain_csvs(tmp_path):
    log = write_session_log(tmp_path / "logs")
    write_csv(Performance.from_xy_dt([[0.5, 0.5, 0.0], [0.6, 0.6, 0.1]]), tmp_path / "logs" / "plain.csv")
    assert not is_log_file(tmp_path / "logs" / "plain.csv")
    performer_only = load_performances([tmp_path / "logs"])
    assert len(performer_only) == 4 + 1
    assert len(load_performances([log.path])) == 4
    with_responses = load_performances([tmp_path / "logs"], log_sources=("performer", "robojam"))
    assert len(with_responses) == 5 + 1


def test_an_unusable_log_folder_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(RobojamError, match="cannot create the touch log folder"):
        TouchLog(blocker / "logs")

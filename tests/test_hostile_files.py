"""Hostile corpus files (issue #25, item 0): small files that would expand to gigabytes are refused
with one line, from their headers and before anything is allocated, and nothing is written.

Every hostile file is built here, in tmp_path: no test needs the corpus.
"""

import io
import pickle
import re
import subprocess
import sys
import tracemalloc
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from robojam import RobojamError
from robojam.cli import main
from robojam.core import data_caps
from robojam.core.corpus import load_corpus_npz
from robojam.core.data_caps import Tally
from robojam.core.importers import read_impsy_npz
from robojam.core.safe_npz import load_npz_arrays

PERF = np.array([[0.1, 0.2, 0.05], [0.3, 0.4, 0.05]], dtype=np.float32)


def run(*args):
    return CliRunner().invoke(main, [*map(str, args)])


def npy_member(shape, descr, body: bytes) -> bytes:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": descr, "fortran_order": False, "shape": shape})
    return header.getvalue() + body


def write_npz(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for key, data in members.items():
            archive.writestr(f"{key}.npy", data)
    return path


def references_npz(path, count, key="perfs"):
    """An object array of ``count`` items that are all one small array: the pickle holds it once and
    ``count - 1`` memo references to it (numpy writes exactly this for repeated items)."""
    items = np.empty(count, dtype=object)
    for i in range(count):
        items[i] = PERF
    np.savez_compressed(path, **{key: items})
    return path


def one_line(message: str) -> None:
    assert "\n" not in message.strip() and len(message) < 300, message


# ---- memo references ---------------------------------------------------------------------------

def test_a_tiny_file_of_100000_references_to_one_array_is_refused(tmp_path):
    path = references_npz(tmp_path / "refs.npz", 100_000)
    assert path.stat().st_size < 2_000  # about 640 bytes that stood for 100,000 performances
    with pytest.raises(RobojamError, match="refers to one array twice") as error:
        load_npz_arrays(path)
    one_line(str(error.value))
    assert "refs.npz[perfs]" in str(error.value)


def test_import_of_the_references_file_writes_nothing(tmp_path):
    path = references_npz(tmp_path / "refs.npz", 100_000)
    result = run("import", path, "-o", tmp_path / "out")
    assert result.exit_code != 0
    assert "each performance must be an array of its own" in result.output
    one_line(result.output.strip().splitlines()[-1])
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_eval_of_a_references_corpus_is_refused(tmp_path):
    path = references_npz(tmp_path / "corpus.npz", 1_000, key="arr_0")
    result = run("eval", path, "--yardstick")
    assert result.exit_code != 0 and "refers to one array twice" in result.output


def test_a_dup_of_an_array_is_refused(tmp_path):
    items = np.empty(2, dtype=object)
    items[0] = items[1] = PERF
    pickled = pickle.dumps(items, protocol=3)
    # The second item is a memo reference (BINGET) to the first; make it a DUP of the stack's top instead.
    duplicated, count = re.subn(rb"bh.e(tq.b\.)$", rb"b2e\1", pickled)
    assert count == 1
    path = write_npz(tmp_path / "dup.npz", {"perfs": npy_member((2,), "|O", duplicated)})
    with pytest.raises(RobojamError, match="refers to one array twice"):
        load_npz_arrays(path)


# ---- counts from the header, before unpickling -------------------------------------------------

def test_three_million_items_are_refused_from_the_header_before_unpickling(tmp_path):
    # 3 million memo references (6 KB compressed) grew import past 1.3 GB: the header's count is refused.
    body = b"\x80\x03" + b"garbage that is never read"
    path = write_npz(tmp_path / "many.npz", {"perfs": npy_member((3_000_000,), "|O", body)})
    with pytest.raises(RobojamError, match=r"3,000,000 performances, more than robojam reads \(100,000"):
        load_npz_arrays(path)


def test_item_count_cap_is_exact(tmp_path):
    pickled = b"\x80\x03."  # never read when the count is refused
    at = write_npz(tmp_path / "at.npz", {"perfs": npy_member((data_caps.MAX_PERFORMANCES + 1,), "|O", pickled)})
    with pytest.raises(RobojamError, match="100,001 performances"):
        load_npz_arrays(at)


# ---- caps on what the arrays declare -----------------------------------------------------------

def object_npz(path, arrays, key="perfs"):
    items = np.empty(len(arrays), dtype=object)
    for i, a in enumerate(arrays):
        items[i] = a
    np.savez(path, **{key: items})
    return path


def test_a_performance_over_a_million_touches_is_refused(tmp_path):
    path = object_npz(tmp_path / "long.npz", [np.zeros((data_caps.MAX_TOUCHES + 1, 1), np.int8)])
    with pytest.raises(RobojamError, match=r"a performance of 1,000,001 touches"):
        load_npz_arrays(path)


def test_rows_over_16_numbers_are_refused(tmp_path):
    path = object_npz(tmp_path / "wide.npz", [np.zeros((2, 17), np.float32)])
    with pytest.raises(RobojamError, match=r"rows of 17 numbers"):
        load_npz_arrays(path)


def test_a_declared_shape_is_checked_before_numpy_builds_the_array(tmp_path):
    # The state claims a million rows of 16 float64 (128 MB) and holds 8 bytes: refused at the shape,
    # before numpy is asked to build it.
    state = pickle.dumps(np.zeros((1, 1)), protocol=3)
    forged = state.replace(b"K\x01K\x01\x86", b"J\x41\x42\x0f\x00K\x10\x86")
    items = b"\x80\x03" + forged[2:-1]
    assert forged != state
    path = write_npz(tmp_path / "forged.npz", {"perfs": npy_member((), "|O", items + b".")})
    with pytest.raises(RobojamError, match=r"a performance of 1,000,001 touches"):
        load_npz_arrays(path)


def test_touches_per_file_are_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(data_caps, "MAX_FILE_TOUCHES", 5)
    path = object_npz(tmp_path / "file.npz", [np.zeros((3, 3))] * 1 + [np.ones((3, 3))])
    with pytest.raises(RobojamError, match=r"6 touches or more, more than robojam reads \(5 touches per file"):
        load_npz_arrays(path)


def test_the_tally_counts_numbers_as_float64():
    tally = Tally("t")
    tally.add((1_000_000, 16))
    tally.add((1_000_000, 16))
    with pytest.raises(RobojamError, match=r"bytes of numbers or more, more than robojam reads \(268,435,456"):
        tally.add((100_000, 16))
    with pytest.raises(RobojamError, match="100,001 performances"):
        Tally("t").add((100_001, 2, 3), performances=100_001)


def test_reconstruct_may_only_make_an_empty_array(tmp_path):
    pickled = (b"\x80\x03cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nJ\x00\x00\x00\x40\x85C\x01b"
               b"\x87R.")
    path = write_npz(tmp_path / "alloc.npz", {"perfs": npy_member((), "|O", pickled)})
    with pytest.raises(RobojamError, match="builds an array other than numpy's way"):
        load_npz_arrays(path)


def test_calling_ndarray_is_refused(tmp_path):
    pickled = b"\x80\x03cnumpy\nndarray\nJ\x00\x00\x00\x40\x85\x85R."
    path = write_npz(tmp_path / "nd.npz", {"perfs": npy_member((), "|O", pickled)})
    with pytest.raises(RobojamError, match="refused to load: its pickle calls ndarray"):
        load_npz_arrays(path)


def test_a_pickle_asking_for_huge_bytes_is_refused_before_reading(tmp_path):
    pickled = b"\x80\x04\x8e" + (1 << 62).to_bytes(8, "little") + b"xx."
    path = write_npz(tmp_path / "bytes8.npz", {"perfs": npy_member((1,), "|O", pickled)})
    with pytest.raises(RobojamError, match="its data asks for"):
        load_npz_arrays(path)


def test_a_long_walk_of_opcodes_is_refused(tmp_path):
    pickled = b"\x80\x03" + b"N0" * 10_000 + b"N."
    path = write_npz(tmp_path / "walk.npz", {"perfs": npy_member((1,), "|O", pickled)})
    with pytest.raises(RobojamError, match="steps per performance"):
        load_npz_arrays(path)


# ---- a 1 GiB array in a 1 MB zip ---------------------------------------------------------------

@pytest.fixture(scope="module")
def gigabyte_npz(tmp_path_factory):
    """A zip of about 1 MB holding a 1 GiB float64 array (just under the old 1 GiB per-member cap)."""
    path = tmp_path_factory.mktemp("gib") / "huge.npz"
    rows = (1 << 26) - 1024
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("perfs.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (rows, 2)})
            chunk = bytes(1 << 20)
            left = rows * 16
            while left:
                f.write(chunk[:min(left, len(chunk))])
                left -= min(left, len(chunk))
    return path


def test_a_gigabyte_array_is_refused_from_its_headers_in_under_a_megabyte(gigabyte_npz):
    assert gigabyte_npz.stat().st_size < 8 << 20
    tracemalloc.start()
    try:
        with pytest.raises(RobojamError, match="more than robojam reads") as error:
            load_npz_arrays(gigabyte_npz)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    one_line(str(error.value))
    assert peak < 1 << 20, f"{peak:,} bytes"


def test_the_header_cap_holds_when_the_zip_understates_the_size(tmp_path):
    # 20 performances of 500,000 rows of 16 float64 (1.3 GB) declared in the .npy header, in a member that is
    # small: the numbers cap refuses it from the header, whatever the zip says about its size.
    path = write_npz(tmp_path / "claims.npz", {"perfs": npy_member((20, 500_000, 16), "<f8", bytes(64))})
    with pytest.raises(RobojamError, match=r"bytes of numbers or more"):
        load_npz_arrays(path)


def test_import_refuses_the_gigabyte_array(gigabyte_npz, tmp_path):
    result = run("import", gigabyte_npz, "-o", tmp_path / "out")
    assert result.exit_code != 0 and "more than robojam reads" in result.output
    one_line(result.output.strip().splitlines()[-1])
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_eval_refuses_corpora_past_the_caps_from_their_headers(tmp_path):
    numbers = write_npz(tmp_path / "numbers.npz", {"arr_0": npy_member((20, 500_000, 16), "<f8", bytes(64))})
    result = run("eval", numbers, "--yardstick")
    assert result.exit_code != 0 and "bytes of numbers or more" in result.output
    many = write_npz(tmp_path / "many.npz", {"arr_0": npy_member((3_000_000,), "|O", b"\x80\x03.")})
    result = run("eval", many, "--yardstick")
    assert result.exit_code != 0 and "3,000,000 performances" in result.output
    one_line(result.output.strip().splitlines()[-1])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255), st.sampled_from(["set", "insert", "cut"])),
                min_size=1, max_size=4))
def test_a_mutated_pickle_loads_or_is_one_robojam_error(tmp_path_factory, edits):
    pickled = bytearray(pickle.dumps(_items([PERF, PERF * 2, np.float64(0.5)]), protocol=3))
    for position, value, kind in edits:
        position %= len(pickled)
        if kind == "set":
            pickled[position] = value
        elif kind == "insert":
            pickled.insert(position, value)
        else:
            del pickled[position]
    path = write_npz(tmp_path_factory.mktemp("mut") / "m.npz", {"perfs": npy_member((3,), "|O", bytes(pickled))})
    try:
        load_npz_arrays(path)
    except RobojamError as e:
        one_line(str(e))


FORGED = """
import pickle, sys, zipfile, io
import numpy as np
from robojam import RobojamError
from robojam.core.safe_npz import load_npz_arrays
old, new, shape = bytes.fromhex(sys.argv[2]), bytes.fromhex(sys.argv[3]), int(sys.argv[4])
items = np.empty(3, dtype=object)
for i in range(3):
    items[i] = np.full((2, 3), 0.5, np.float32)
pickled = pickle.dumps(items, protocol=3)
assert pickled.count(old) >= 1
pickled = pickled.replace(old, new, 1)
header = io.BytesIO()
np.lib.format.write_array_header_1_0(header, {"descr": "|O", "fortran_order": False, "shape": (shape,)})
with zipfile.ZipFile(sys.argv[1], "w") as archive:
    archive.writestr("perfs.npy", header.getvalue() + pickled)
try:
    loaded = load_npz_arrays(sys.argv[1])["perfs"]
    print(sum(float(np.asarray(item, np.float64).sum()) for item in loaded))
except RobojamError as e:
    print(e)
"""


@pytest.mark.parametrize("old, new, shape, refusal", [
    # the object array's state says 1000 items and lists 3: numpy reads past the list's end
    (b"(K\x01K\x03\x85", b"(K\x01M\xe8\x03\x85", 1000, "an array's data is not numpy's"),
    # a float32 dtype's state given the flags of an object dtype: numpy would take floats for pointers
    (b"\xff\xff\xff\xffK\x00t", b"\xff\xff\xff\xffK?t", 3, "a dtype's state is not numpy's"),
    # a dtype state of 6 fields where numpy writes 8
    (b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t", b"NJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t", 3,
     "a dtype's state is not numpy's"),
], ids=["short-list", "object-flags", "short-dtype-state"])
def test_states_numpy_would_crash_on_are_refused(tmp_path, old, new, shape, refusal):
    # numpy's own __setstate__ trusts these and the process dies (SIGSEGV) or reads garbage: run apart.
    result = subprocess.run([sys.executable, "-c", FORGED, str(tmp_path / "forged.npz"), old.hex(), new.hex(),
                             str(shape)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, (result.returncode, result.stderr[-500:])
    assert f"damaged .npy data ({refusal})" in result.stdout


def _items(values):
    items = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        items[i] = value
    return items


def test_memory_of_an_accepted_file_stays_near_what_robojam_keeps(tmp_path):
    perfs = [np.random.default_rng(i).random((2_000, 3)).astype(np.float32) for i in range(100)]
    path = object_npz(tmp_path / "fine.npz", perfs)
    tracemalloc.start()
    try:
        performances = read_impsy_npz(path)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    kept = sum(p.events.nbytes for p in performances)
    assert len(performances) == 100 and kept == 100 * 2_000 * 5 * 8
    assert peak < 2.2 * kept, f"peak {peak:,} for {kept:,} kept"


# ---- what real files hold still loads ----------------------------------------------------------

def test_ordinary_ragged_and_numeric_files_still_load(tmp_path):
    ragged = object_npz(tmp_path / "ragged.npz", [PERF, PERF.copy(), np.zeros((0, 3), np.float32)], key="arr_0")
    assert [len(p) for p in load_corpus_npz(ragged)] == [2, 2, 0]
    np.savez(tmp_path / "cube.npz", perfs=np.zeros((4, 5, 3), np.float32))
    assert [len(p) for p in read_impsy_npz(tmp_path / "cube.npz")] == [5] * 4

"""Fuzzing every parser that reads outside input, with Hypothesis (issue 13).

The property, for each: a clear error (RobojamError, OscError, BadMessage) or
a counted drop; never another exception, a hang (a watchdog fails the example
after a few seconds) or memory that keeps growing (the server is checked with
tracemalloc over thousands of hostile datagrams).

Parsers: OSC datagrams and bundles (nesting, lying sizes, every type tag),
the server acting on them, the adapters' messages and rules, the browser
page's WebSocket frames, performance CSVs, imported recordings (IMPSY
datasets and logs, any CSV through --columns), ``.npz`` archives, config
files and model folders. robojam has no HTTP API yet, so none is fuzzed.

Budgets: the profiles in conftest.py (``default``: a fixed, derandomized
number of examples per test, the same every run; ``HYPOTHESIS_PROFILE=long``
for a longer search by hand). A parser's weight below scales its share.
"""

from __future__ import annotations

import io
import json
import math
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from robojam import RobojamError
from robojam.live.osc import TYPE_TAGS, OscError, encode, parse_datagram
from robojam.live.protocol import ADDRESSES, OUTGOING
from synthetic import random_model
from watchdog import within

BASE_EXAMPLES = settings.default.max_examples   # from the profile conftest.py loaded
pytestmark = pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")   # archives made to be odd


def budget(weight: float = 1.0):
    """This test's share of the profile's examples."""
    return settings(max_examples=max(10, int(BASE_EXAMPLES * weight)))


# The reasons a server counts drops under (see /robojam/status in server/PROTOCOL.md), plus socket troubles.
DROP_REASONS = {"malformed", "unknown_type_tag", "unknown_address", "bad_args", "not_finite", "out_of_range",
                "bad_value", "rate_limited", "too_many_sessions", "bad_model", "socket_overflow", "adapter",
                "send_failed", "socket_error"}
ADDRESS_NAMES = sorted(ADDRESSES) + [signature.split()[0] for signature, _ in OUTGOING] + \
    ["/", "/robojam", "/robojam/", "/1/xy1", "/1/multixy1/1", "/touch", "/robojam/touch/extra"]


# --- OSC ---------------------------------------------------------------------------------------

def padded(data: bytes) -> bytes:
    return data + b"\0" * (4 - len(data) % 4)


floats = st.floats(allow_nan=True, allow_infinity=True)
int32 = st.integers(-2**31, 2**31 - 1)


@st.composite
def osc_argument(draw, tag: str) -> bytes:
    """The bytes of one argument for a type tag (and for unknown tags, any few bytes)."""
    if tag == "i":
        return struct.pack(">i", draw(st.one_of(st.integers(-2, 700), int32)))
    if tag == "f":
        return struct.pack(">f", draw(st.one_of(st.floats(-1, 2, width=32), st.floats(width=32))))
    if tag == "d":
        return struct.pack(">d", draw(st.one_of(st.floats(-1, 2), floats)))
    if tag in "ht":
        return struct.pack(">q", draw(st.integers(-2**63, 2**63 - 1)))
    if tag == "s":
        return padded(draw(st.one_of(st.text(max_size=80), st.sampled_from(["alice", "duet", "default", "x" * 70])))
                      .encode("utf-8", "surrogatepass").replace(b"\0", b""))
    if tag == "b":
        blob = draw(st.binary(max_size=40))
        size = draw(st.one_of(st.just(len(blob)), int32))   # a blob may lie about its size
        return struct.pack(">i", size) + blob + b"\0" * (-len(blob) % 4)
    if tag in "rm":
        return draw(st.binary(min_size=4, max_size=4))
    if tag in "TFN[]":
        return b""
    return draw(st.binary(max_size=8))


# Type tag strings: robojam's own messages' (most of the time), any known tags, or anything at all.
robojam_tags = st.sampled_from(["", "f", "ff", "fff", "ffs", "fffs", "s", "ss", "fs", "i", "ii", "iii", "d", "dd",
                                "ddd", "hh", "dds", "T", "N", "b", "[ff]", "ffT"])
known_tags = st.lists(st.sampled_from(TYPE_TAGS), max_size=12).map("".join)
any_tags = st.lists(st.sampled_from(TYPE_TAGS + "XSc?I,\x7f"), max_size=12).map("".join)


@st.composite
def osc_message(draw) -> bytes:
    """Mostly well-formed messages to robojam's addresses (so the handlers see them), the rest hostile."""
    address = draw(st.one_of(st.sampled_from(ADDRESS_NAMES), st.sampled_from(sorted(ADDRESSES)),
                             st.text(max_size=30).map(lambda t: "/" + t)))
    tags = draw(st.one_of(robojam_tags, robojam_tags, known_tags, any_tags))
    head = padded(address.encode("utf-8", "surrogatepass").replace(b"\0", b""))
    if not tags and draw(st.booleans()):
        return head   # no type tag string at all (OSC 1.0 allows it)
    body = b"".join(draw(osc_argument(tag)) for tag in tags)
    tail = draw(st.sampled_from(["exact", "exact", "exact", "short", "long"]))
    if tail == "short" and body:
        body = body[:draw(st.integers(0, len(body) - 1))]
    elif tail == "long":
        body += draw(st.binary(max_size=16))
    return head + padded(("," + tags).encode("latin-1")) + body


def bundle_of(draw, elements: list[bytes]) -> bytes:
    timetag = draw(st.one_of(st.just(1), st.integers(0, 2**64 - 1)))
    parts = [b"#bundle\0", struct.pack(">Q", timetag)]
    for element in elements:
        size = len(element) if draw(st.integers(0, 19)) else draw(int32)   # now and then a lying size
        parts += [struct.pack(">i", size), element]
    return b"".join(parts)


packets = st.recursive(osc_message(), lambda inner: st.builds(lambda d: d, st.lists(inner, max_size=4)).flatmap(
    lambda elements: st.composite(lambda draw: bundle_of(draw, elements))()), max_leaves=12)


@st.composite
def mutated(draw, datagram: st.SearchStrategy[bytes]) -> bytes:
    """A datagram with a few bytes flipped, cut, inserted or an aligned word replaced."""
    data = bytearray(draw(datagram))
    for _ in range(draw(st.integers(0, 4))):
        if not data:
            break
        kind = draw(st.sampled_from(["flip", "cut", "insert", "word"]))
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            at -= at % 4
            data[at:at + 4] = struct.pack(">i", draw(int32))
    return bytes(data)


# Well-formed messages to robojam's addresses, arguments of every kind robojam sends and reads.
message_args = st.lists(st.one_of(st.floats(-1, 2), st.floats(0.001, 700), floats, st.integers(-2**31, 2**31 - 1),
                                  st.sampled_from(["alice", "bob", "duet", "call-and-response", "default", "x" * 65]),
                                  st.text(max_size=8).map(lambda t: t.replace("\0", ""))), max_size=5)
session_ids = st.one_of(st.sampled_from(["alice", "bob", "carol", "x" * 65]), st.text(max_size=6))


@st.composite
def robojam_message(draw) -> bytes:
    """A message to one of robojam's addresses: its arguments as documented (values in or out of range,
    optional ones or not, a session id or not), or any arguments."""
    address = draw(st.sampled_from(sorted(ADDRESSES)))
    if draw(st.integers(0, 3)) == 0:
        return encode(address, *draw(message_args))
    args = []
    for arg in ADDRESSES[address].args:
        if arg.optional and draw(st.booleans()):
            break
        args.append(draw(st.sampled_from(["duet", "call-and-response", "default", "first", "../x", "solo"]))
                    if arg.kind == "s" else draw(st.one_of(st.floats(0, 1), st.floats(-1, 2), st.floats(0.001, 700),
                                                           floats, st.integers(-5, 700))))
    if draw(st.booleans()):
        args.append(draw(session_ids).replace("\0", ""))
    return encode(address, *args)


robojam_messages = robojam_message()
hostile = st.one_of(packets, mutated(st.one_of(packets, robojam_messages)), st.binary(max_size=200),
                    st.binary(max_size=64).map(lambda b: b"#bundle\0" + b),
                    st.binary(max_size=64).map(lambda b: b"/" + b))
# mostly well-formed, so the handlers behind the parser are reached
datagrams = st.integers(0, 3).flatmap(lambda k: hostile if k == 0 else robojam_messages)


@budget(5)
@given(datagrams)
def test_osc_datagrams_parse_or_raise_osc_error(data):
    with within(2.0, "parse_datagram"):
        try:
            messages = parse_datagram(data)
        except OscError as e:
            assert e.reason in ("malformed", "unknown_type_tag")
            return
    for message in messages:
        assert isinstance(message.address, str) and isinstance(message.args, list)
        assert message.timetag is None or math.isfinite(message.timetag)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server that is never run: the tests hand it datagrams and messages themselves."""
    import socket

    from robojam.live.server import Server, ServerOptions
    from robojam.live.session import Settings

    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    options = ServerOptions(host="127.0.0.1", port=0, send=[("127.0.0.1", sink.getsockname()[1])], status_every=0,
                            seed=1, models_dir=tmp_path_factory.mktemp("models"), max_sessions=8)
    server = Server(random_model(units=8), Settings(threshold=0.2, seconds=0.3), options)
    server.warnings.write = lambda line: None
    yield server
    server.close()
    sink.close()


def hand_to(server, data: bytes, host: str) -> None:
    """What the server's loop does with a datagram: act on it, send what is due, take what threads posted."""
    now = server.clock()
    with within(5.0, "the server on one datagram"):
        keys = server.handle_datagram(data, host, now)
        server.schedule.send_due_now(server.performers, keys, server.outbox.output)
        server._take_incoming()
        server.schedule.send_due(server.performers, server.outbox.output)


@budget(5)
@given(datagrams, st.sampled_from(["10.0.0.5", "192.168.1.20", "10.0.0.7"]))
def test_the_server_acts_on_or_counts_every_datagram(server, data, host):
    try:
        parse_datagram(data)
        reason = None
    except OscError as e:
        reason = e.reason
    before = server.drops[reason]
    hand_to(server, data, host)
    assert set(server.drops) <= DROP_REASONS, server.drops
    assert len(server.performers) <= server.options.max_sessions
    if reason is not None:   # a datagram robojam does not read is one drop, under its reason
        assert server.drops[reason] == before + 1


def hostile_datagrams(rng: np.random.Generator, count: int) -> list[bytes]:
    """Seeded hostile datagrams for the memory check: real messages, mutated, nested and lying."""
    seeds = [encode("/robojam/touch", 0.5, 0.5), encode("/robojam/touch", 0.4, 0.6, 0.5, "alice"),
             encode("/robojam/respond"), encode("/robojam/temp", 0.8), encode("/robojam/status", "bob"),
             encode("/robojam/mode", "duet"), encode("/robojam/nothing", 1)]
    out = []
    for i in range(count):
        data = bytearray(seeds[i % len(seeds)])
        kind = i % 5
        if kind == 1:
            data[int(rng.integers(len(data)))] ^= int(rng.integers(1, 256))
        elif kind == 2:
            data = bytearray(b"#bundle\0" + struct.pack(">Qi", 1, int(rng.integers(-64, 64))) + bytes(data))
        elif kind == 3:
            data = bytearray(padded(b"/robojam/touch") + padded(b"," + bytes(rng.choice(list(b"ifXS[]T"), 30))))
        elif kind == 4:
            data = bytearray(rng.bytes(int(rng.integers(1, 100))))
        out.append(bytes(data) + (f"{i}".encode() if kind == 0 and i % 3 == 0 else b""))
    return out


def test_the_servers_memory_stays_flat_under_hostile_traffic(server):
    rng = np.random.default_rng(13)
    batches = [hostile_datagrams(rng, 3000) for _ in range(5)]
    hosts = [f"10.0.{i // 250}.{i % 250}" for i in range(1000)]   # many hosts: sessions are capped
    tracemalloc.start()
    try:
        sizes = []
        for batch in batches:
            for i, data in enumerate(batch):
                hand_to(server, data, hosts[i % len(hosts)])
            sizes.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    assert max(sizes[2:]) - sizes[1] < 1_000_000, sizes   # bytes: flat once sessions and caches are warm
    assert len(server.performers) <= server.options.max_sessions


# --- the adapters -----------------------------------------------------------------------------

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), floats, st.text(max_size=20))
osc_values = st.one_of(st.booleans(), int32, floats, st.text(max_size=12), st.binary(max_size=8), st.none(),
                       st.lists(st.floats(), max_size=3))


def shipped_adapters():
    from robojam.config import load_preset
    from robojam.live.adapters import Adapter
    from robojam.cli import SERVE_DEFAULTS

    adapters = []
    for name in ("touchosc", "microjam"):
        adapters.append(Adapter.from_config(load_preset(name, set(SERVE_DEFAULTS))["adapter"], source=name))
    return adapters


ADAPTERS = shipped_adapters()
adapter_addresses = st.one_of(st.sampled_from(ADDRESS_NAMES + ["/1/xy1", "/1/multixy1/1", "/1/multixy1/2",
                                                               "/1/push1", "/1/push2", "/touch", "/1/xy2"]),
                              st.text(max_size=20).map(lambda t: "/" + t))


@budget(3)
@given(st.sampled_from(range(len(ADAPTERS))), adapter_addresses, st.lists(osc_values, max_size=8))
def test_adapters_translate_or_count_every_message(server, which, address, args):
    adapter = ADAPTERS[which]
    dropped = adapter.dropped
    with within(2.0, "an adapter"):
        incoming = adapter.incoming(address, list(args))
        outgoing = adapter.outgoing(address, list(args))
    assert adapter.dropped >= dropped
    for path, values in incoming + outgoing:
        assert isinstance(path, str) and isinstance(values, list)
    for path, values in incoming:   # and the server takes what comes out, or counts it
        with within(2.0, "the server on a translated message"):
            server.handle_message(path, values, None, "10.0.0.9", server.clock())
    for path, values in outgoing:   # what goes out can be sent
        if all(isinstance(v, (bool, int, float, str)) and (not isinstance(v, int) or -2**63 <= v < 2**63)
               for v in values):
            encode(path, *values)


rule_keys = st.sampled_from(["address", "args", "pairs", "flip", "when", "to", "from", "other"])
rule_values = st.one_of(json_scalars, st.sampled_from(["/1/xy1", "/a/{finger}", "/robojam/touch",
                                                       "/robojam/response/touch", "{x}", "/a/{1}"]),
                        st.lists(st.one_of(st.sampled_from(["x", "y", "z", "_", "mode", "finger"]), json_scalars),
                                 max_size=4),
                        st.dictionaries(st.sampled_from(["finger", "x", "down"]), json_scalars, max_size=2))
adapter_tables = st.one_of(
    st.dictionaries(st.sampled_from(["in", "out", "extra"]),
                    st.one_of(st.lists(st.dictionaries(rule_keys, rule_values, max_size=6), max_size=3), json_scalars),
                    max_size=3),
    json_scalars)


@budget(3)
@given(adapter_tables, adapter_addresses, st.lists(osc_values, max_size=6))
def test_adapter_rules_from_a_config_are_checked_and_never_raise_later(table, address, args):
    from robojam.live.adapters import Adapter

    with within(2.0, "reading adapter rules"):
        try:
            adapter = Adapter.from_config(table, source="fuzz")
        except RobojamError:
            return
        adapter.incoming(address, list(args))
        adapter.outgoing(address, list(args))


# --- the web page's WebSocket frames ------------------------------------------------------------

json_values = st.recursive(json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                                 st.dictionaries(st.text(max_size=8), inner,
                                                                                 max_size=4)),
                           max_leaves=10)
frames = st.one_of(
    st.builds(lambda address, args, extra: json.dumps({"address": address, "args": args, **extra}),
              st.one_of(st.sampled_from(ADDRESS_NAMES), json_scalars),
              st.one_of(st.lists(st.one_of(json_scalars, st.sampled_from([0.5, 1e400, -0.0, 2**70, 10**400, "alice"])),
                                 max_size=5), json_values),
              st.dictionaries(st.text(max_size=5), json_scalars, max_size=2)),
    json_values.map(json.dumps), st.text(max_size=200), st.binary(max_size=100),
    st.integers(1, 400).map(lambda n: "[" * n + "]" * n))


@budget(4)
@given(frames, st.sampled_from(["web:1", "web:2"]))
def test_web_frames_parse_or_are_counted_as_bad(server, frame, host):
    from robojam.live.webapp import parse_message

    with within(2.0, "parse_message"):
        parsed = parse_message(frame)
    if parsed is None:
        return   # the bridge counts it as a bad frame
    address, args = parsed
    assert isinstance(address, str) and address.startswith("/robojam/") and isinstance(args, list)
    drops = sum(server.drops.values())
    with within(2.0, "the server on a web message"):
        key = server.handle_message(address, args, None, host, server.clock())
    assert key is not None or sum(server.drops.values()) == drops + 1   # acted on, or one drop counted
    assert set(server.drops) <= DROP_REASONS


# --- performance CSVs and imported recordings ------------------------------------------------------

cells = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers().map(str),
                  st.sampled_from(["", " ", "nan", "inf", "-inf", "1e400", "0x10", "1_000", "zebra", '"0.5"',
                                   "\u0660"]),
                  st.text(max_size=6))
csv_headers = st.one_of(
    st.permutations(["time", "x", "y", "z", "moving"]).map(",".join),
    st.lists(st.sampled_from(["time", "x", "y", "z", "moving", "session", "source", "dt", "TIME", " x", ""]),
             max_size=7).map(",".join),
    st.just("time, x, y, z, moving"), st.just("time,x,y,z,moving,session,source"), st.text(max_size=30))
csv_texts = st.builds(
    lambda bom, header, rows, end: ("\ufeff" if bom else "") + end.join([header] + [",".join(r) for r in rows]),
    st.booleans(), csv_headers, st.lists(st.lists(cells, max_size=7), max_size=12),
    st.sampled_from(["\n", "\r\n", "\r"]))


@budget(3)
@given(st.one_of(csv_texts, st.text(max_size=300)))
def test_performance_csvs_parse_or_raise_robojam_error(text):
    from robojam.core.performance import parse_csv

    with within(2.0, "parse_csv"):
        try:
            performance = parse_csv(text, name="fuzz.csv")
        except RobojamError:
            return
    assert np.isfinite(performance.events).all() and (np.diff(performance.time) >= 0).all()


@budget(2)
@given(st.one_of(csv_texts.map(lambda t: t.encode("utf-8", "surrogatepass")), st.binary(max_size=300)),
       st.sampled_from(["read_csv", "robojam-csv", "columns"]))
def test_csv_files_read_or_raise_robojam_error(tmp_path_factory, data, reader):
    from robojam.core.importers import ColumnMap, read_source
    from robojam.core.performance import read_csv

    path = tmp_path_factory.mktemp("csv") / "fuzz.csv"
    path.write_bytes(data)
    with within(3.0, reader):
        try:
            if reader == "read_csv":
                read_csv(path)
            elif reader == "robojam-csv":
                read_source(path, "csv")
            else:
                read_source(path, "columns", ColumnMap(("dt", "-", "x", "y", "z")))
        except RobojamError:
            pass


log_lines = st.builds(
    lambda when, source, values: ",".join([when, source, *values]),
    st.one_of(st.sampled_from(["2024-05-01T10:00:00.000000", "2024-05-01T10:00:00.5", "2024-13-01T00:00:00",
                               "yesterday", ""]), st.text(max_size=10)),
    st.sampled_from(["interface", "rnn", "INTERFACE", "", "interface "]),
    st.lists(cells, max_size=4))


@budget(2)
@given(st.lists(st.one_of(log_lines, st.text(max_size=40)), max_size=15), st.floats(0.01, 100))
def test_impsy_logs_read_or_raise_robojam_error(tmp_path_factory, lines, gap):
    from robojam.core.importers import read_impsy_log

    path = tmp_path_factory.mktemp("log") / "fuzz.log"
    path.write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass")
    with within(3.0, "read_impsy_log"):
        try:
            read_impsy_log(path, gap=gap)
        except RobojamError:
            pass


@budget(2)
@given(st.text(max_size=40), st.one_of(st.none(), st.text(max_size=20)))
def test_column_and_scale_options_parse_or_raise_robojam_error(columns, scale):
    from robojam.core.importers import ColumnMap

    try:
        ColumnMap.parse(columns, scale)
    except RobojamError:
        pass


# --- .npz archives: corpora and IMPSY datasets ------------------------------------------------------

def filled(shape, dtype, fill) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.array(np.full(shape, fill), dtype=dtype)


numeric_arrays = st.builds(
    filled,
    st.lists(st.integers(0, 5), max_size=3).map(tuple), st.sampled_from(["f4", "f8", "i4", "u1", "?"]),
    st.sampled_from([0, 1, 0.5, np.nan, np.inf]))


def npz_bytes(arrays: dict, extra: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=True)
            archive.writestr(f"{name}.npy", member.getvalue())
        for name, data in extra.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def object_array(items: list) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items if items else []
    return out


npz_archives = st.builds(
    npz_bytes,
    st.dictionaries(st.sampled_from(["arr_0", "perfs", "other"]),
                    st.one_of(numeric_arrays, st.lists(numeric_arrays, max_size=3).map(object_array)), max_size=2),
    st.dictionaries(st.sampled_from(["junk.npy", "arr_0.npy", "x.txt"]), st.binary(max_size=64), max_size=1))


@budget(2)
@given(st.one_of(npz_archives, mutated(npz_archives), st.binary(max_size=200)),
       st.sampled_from(["corpus", "impsy", "safe"]))
def test_npz_archives_load_or_raise_robojam_error(tmp_path_factory, data, reader):
    from robojam.core.corpus import load_corpus_npz
    from robojam.core.importers import read_impsy_npz
    from robojam.core.safe_npz import load_npz_arrays

    path = tmp_path_factory.mktemp("npz") / "fuzz.npz"
    path.write_bytes(data)
    with within(5.0, reader):
        try:
            {"corpus": load_corpus_npz, "impsy": read_impsy_npz, "safe": load_npz_arrays}[reader](path)
        except RobojamError:
            pass


# --- config files -------------------------------------------------------------------------------

def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, (int, str)):
        return json.dumps(value) if isinstance(value, str) else str(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def serve_keys() -> list[str]:
    from robojam.cli import SERVE_DEFAULTS

    return sorted(SERVE_DEFAULTS)


toml_scalars = st.one_of(st.booleans(), st.integers(-2**63, 2**63 - 1), floats, st.text(max_size=12),
                         st.sampled_from(["127.0.0.1:5001", "duet", "call-and-response", "models", "", "a:b:c"]))
toml_values = st.recursive(toml_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["in", "out", "x"]), inner, max_size=2)),
    max_leaves=6)
config_texts = st.one_of(
    st.dictionaries(st.sampled_from(serve_keys() + ["reply-port", "sigma-temp", "max-sessions", "volume"]),
                    toml_values, max_size=6).map(
        lambda d: "\n".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in d.items())),
    st.text(max_size=200), st.integers(1, 2000).map(lambda n: "a = " + "[" * n + "]" * n),
    st.integers(4000, 6000).map(lambda n: "a = " + "9" * n))


def check_settings(settings: dict) -> None:
    """Everything `robojam serve` reads from its merged settings before it opens anything."""
    from robojam.live.adapters import Adapter
    from robojam.live.assemble import _number, _path, midi_mapping, server_options, session_settings

    session_settings(settings)
    server_options(settings)
    _path(settings, "log_dir")
    _number(settings, "web", int)
    midi_mapping(settings)
    if settings["adapter"] is not None:
        Adapter.from_config(settings["adapter"], source="config")


@budget(3)
@given(config_texts)
def test_config_files_load_or_raise_robojam_error(tmp_path_factory, text):
    from robojam.cli import SERVE_DEFAULTS
    from robojam.config import load_config

    path = tmp_path_factory.mktemp("config") / "stage.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    with within(3.0, "a config file"):
        try:
            settings = dict(SERVE_DEFAULTS, **load_config(path, set(SERVE_DEFAULTS)))
            check_settings(settings)
        except RobojamError:
            pass


# --- model folders ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def model_files(tmp_path_factory) -> tuple[dict, bytes]:
    from robojam.core.modelfile import save_model

    folder = save_model(random_model(layers=1, units=4, mixtures=2), tmp_path_factory.mktemp("model") / "m")
    return json.loads((folder / "model.json").read_text()), (folder / "weights.npz").read_bytes()


META_PATHS = [("format",), ("format_version",), ("architecture",), ("architecture", "layers"),
              ("architecture", "units"), ("architecture", "mixtures"), ("architecture", "input_dim"),
              ("architecture", "output_dim"), ("encoding",), ("encoding", "name"), ("encoding", "delta_scale"),
              ("encoding", "logdt_mean"), ("encoding", "logdt_std"), ("encoding", "extra"), ("score",)]
json_numbers = st.one_of(st.integers(-2**40, 2**40), floats, st.sampled_from([0, 1, 2, 4, 8, 9, 1024, 10**7]))


@st.composite
def model_changes(draw):
    changes = draw(st.lists(st.tuples(st.sampled_from(META_PATHS),
                                      st.one_of(json_numbers, json_values, st.just("delete"),
                                                st.sampled_from(["delta", "heading", "robojam", "robojam-model"]))),
                            max_size=3))
    weights = draw(st.sampled_from(["keep", "mutate", "member", "garbage"]))
    return changes, weights, draw(st.data())


@budget(2)
@given(model_changes())
def test_model_folders_load_or_raise_robojam_error_at_once(tmp_path_factory, model_files, drawn):
    from robojam.core.engine import Engine
    from robojam.core.modelfile import load_model

    meta, weights = json.loads(json.dumps(model_files[0])), model_files[1]
    changes, weights_kind, data = drawn
    for path, value in changes:
        target = meta
        for key in path[:-1]:
            target = target.setdefault(key, {}) if isinstance(target, dict) else {}
        if isinstance(target, dict):
            if value == "delete":
                target.pop(path[-1], None)
            else:
                target[path[-1]] = value
    if weights_kind == "mutate":
        weights = data.draw(mutated(st.just(weights)))
    elif weights_kind == "member":
        shape = data.draw(st.lists(st.integers(0, 10**6), max_size=3).map(tuple))
        dtype = data.draw(st.sampled_from(["<f4", "<f8", "|O", "<i4", "|b1", "<c8"]))
        header = repr({"descr": dtype, "fortran_order": data.draw(st.booleans()), "shape": shape}).encode()
        header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
        member = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data.draw(st.binary(max_size=64))
        buffer = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(weights)) as source, zipfile.ZipFile(buffer, "w") as archive:
            victim = data.draw(st.sampled_from(source.namelist()))
            for name in source.namelist():
                archive.writestr(name, member if name == victim else source.read(name))
        weights = buffer.getvalue()
    elif weights_kind == "garbage":
        weights = data.draw(st.binary(max_size=200))
    folder = tmp_path_factory.mktemp("model")
    (folder / "model.json").write_text(json.dumps(meta) if data.draw(st.integers(0, 9)) else
                                       data.draw(st.text(max_size=50)), errors="surrogatepass")
    (folder / "weights.npz").write_bytes(weights)
    with within(3.0, "load_model"):
        try:
            model = load_model(folder)
        except RobojamError:
            return
    engine = Engine(model)   # a model that loads plays sensibly
    engine.feed(0.5, 0.5, 0.0)
    x, y, dt = engine.draw(np.random.default_rng(0))
    assert 0 <= x <= 1 and 0 <= y <= 1 and 0 <= dt <= 5

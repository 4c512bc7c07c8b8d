"""Issue 13, hardening: what a stranger on the venue's network (or a shared file) did to robojam, kept fixed.

1. Unknown OSC type tags: discarded whole, counted apart, and no library logs once per packet.
2. Control values outside the one table of limits: refused and counted; the session keeps its value.
3. Hostile model folders: refused from their headers, at once, naming the field.
4. A corpus whose pickle runs code: refused, the code never run.
6. Replies for a session carry its id.

Network cases use real UDP on 127.0.0.1 with ephemeral ports; the fuzzing is in test_fuzz.py.
"""

from __future__ import annotations

import json
import logging
import os
import re
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from pythonosc.osc_message_builder import OscMessageBuilder

from oscpeer import Listener, Sender, running_server, status_of
from robojam import RobojamError
from robojam.core.corpus import load_corpus_npz
from robojam.core.modelfile import save_model
from robojam.live.osc import OscError, encode, parse_datagram
from robojam.live.session import Settings
from synthetic import random_model
from watchdog import within

ROOT = Path(__file__).resolve().parent.parent


def osc_string(text: bytes) -> bytes:
    return text + b"\0" * (4 - len(text) % 4)


def unknown_tags_datagram(tags: int = 65000) -> bytes:
    """The issue's attack: /robojam/touch with ',' + 65,000 'X' tags + 'ff', in one 65 KB datagram."""
    return osc_string(b"/robojam/touch") + osc_string(b"," + b"X" * tags + b"ff") + struct.pack(">ff", 0.5, 0.5)


def built(address: str, *args: tuple) -> bytes:
    """A message with explicit OSC types, (value, tag) each: e.g. doubles, which robojam never sends."""
    builder = OscMessageBuilder(address)
    for value, tag in args:
        builder.add_arg(value, tag)
    return builder.build().dgram


def response_of(listener, seconds=3.0):
    return list(listener.collect(seconds, until="/robojam/response/end"))


# --- 1. unknown type tags ----------------------------------------------------------------

def test_unknown_type_tags_are_refused_before_python_osc_reads_them():
    for datagram in [unknown_tags_datagram(), unknown_tags_datagram(1),
                     osc_string(b"/robojam/touch") + osc_string(b",fSf") + struct.pack(">f", 0.5) * 2,
                     osc_string(b"/robojam/touch") + osc_string(b",ffc") + struct.pack(">ffi", 0.5, 0.5, 65)]:
        with pytest.raises(OscError) as error:
            parse_datagram(datagram)
        assert error.value.reason == "unknown_type_tag"
    inner = unknown_tags_datagram(10)
    bundle = b"#bundle\0" + struct.pack(">Q", 1) + struct.pack(">i", len(inner)) + inner
    with pytest.raises(OscError, match="unknown OSC type tag") as error:
        parse_datagram(bundle)
    assert error.value.reason == "unknown_type_tag"
    known = built("/robojam/touch", (0.5, "f"), (0.5, "d"), (1, "i"), (2, "h"), ("s", "s"), (b"b", "b"),
                  (True, "T"), (False, "F"), (None, "N"))
    assert len(parse_datagram(known)[0].args) == 9


def test_unknown_type_tags_are_dropped_and_counted_not_taken_as_touches():
    with running_server(Settings(threshold=0.3, seconds=1.0)) as (server, sender, listener):
        for _ in range(5):
            sender.raw(unknown_tags_datagram())
        sender.call(10)
        got = response_of(listener)
        counts = status_of(sender, listener)
    assert counts["dropped.unknown_type_tag"] == 5
    assert counts["touches"] == 10                    # the five attack messages were not touches
    assert sum(a == "/robojam/response/touch" for _, a, _ in got) > 3


def test_a_bundle_element_with_a_lying_size_is_malformed_not_a_hang():
    # python-osc's bundle reader steps back on a negative size and loops for ever, logging each time.
    for size in (-4, -16, 0, 3, 1 << 30):
        datagram = b"#bundle\0" + struct.pack(">Q", 1) + struct.pack(">i", size) + encode("/robojam/up")
        with within(1.0, f"a bundle element of size {size}"), pytest.raises(OscError) as error:
            parse_datagram(datagram)
        assert error.value.reason == "malformed"
    deep = encode("/robojam/up")
    for _ in range(20):
        deep = b"#bundle\0" + struct.pack(">Q", 1) + struct.pack(">i", len(deep)) + deep
    with within(1.0, "deep bundles"), pytest.raises(OscError, match="nested deeper"):
        parse_datagram(deep)


def serve(tmp_path, *args) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "robojam", "serve", "--port", "0", "--no-log", "--status-every", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    text = ""
    deadline = time.monotonic() + 30
    while "ready in" not in text and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        text += line
    match = re.search(r"udp://127\.0\.0\.1:(\d+)", text)
    assert match, text + process.stderr.read()
    return process, int(match.group(1))


def test_a_flood_of_unknown_tags_prints_nothing_and_costs_little(tmp_path):
    """The issue's attack on `robojam serve` itself: five 65 KB datagrams printed 325,008 lines (13 MB)."""
    listener = Listener()
    process, port = serve(tmp_path, "--send", f"127.0.0.1:{listener.port}", "--threshold", "0.3",
                          "--seconds", "1")
    try:
        sender = Sender(port)
        cpu_before = os.times()
        for _ in range(5):
            sender.raw(unknown_tags_datagram())
        sender.call(10)
        got = response_of(listener)
        counts = status_of(sender, listener)
        sender.close()
    finally:
        process.terminate()
        out, err = process.communicate(timeout=20)
        listener.close()
    assert counts["dropped.unknown_type_tag"] == 5 and counts["touches"] == 10
    addresses = [a for _, a, _ in got]  # a whole response, however few touches its drawing gave it
    assert addresses[0] == "/robojam/response/start" and addresses[-1] == "/robojam/response/end"
    assert "/robojam/response/touch" in addresses
    assert err.count("\n") <= 2 and len(err) < 2000, err[:2000]
    assert "Unhandled parameter type" not in err and "Traceback" not in err
    assert os.times().children_user - cpu_before.children_user < 3.0


def as_python_osc_logs(tag: str) -> None:
    logging.warning(f"Unhandled parameter type: {tag}")   # pythonosc/osc_message.py, for each unknown tag


def test_library_logs_go_through_robojams_rate_limited_warnings():
    """python-osc logs on the root logger with logging.warning(), once per tag or element it skips."""
    from robojam.live.console import RateLimitedLogHandler, RateLimitedWarnings, route_library_logs

    lines = []
    warnings = RateLimitedWarnings(period_s=5.0, clock=lambda: now, write=lines.append)
    root = logging.getLogger()
    saved = root.handlers[:]
    now = 0.0
    try:
        handler = route_library_logs(warnings)
        assert route_library_logs(RateLimitedWarnings()) is handler   # once per process
        for i in range(1000):
            as_python_osc_logs(chr(65 + i % 26))
        logging.getLogger("robojam.live.web").error("opening handshake failed", exc_info=ValueError("x" * 5000))
        now = 6.0
        as_python_osc_logs("X")
    finally:
        root.handlers[:] = saved
    assert isinstance(handler, RateLimitedLogHandler)
    assert lines[0] == "robojam: root: Unhandled parameter type: A"
    assert lines[1].startswith("robojam: robojam.live.web: opening handshake failed (ValueError('xxx")
    assert len(lines[1]) < 400                                      # one line, cut short, no traceback
    assert lines[2] == "robojam: root: Unhandled parameter type: X (999 more like it held back)"
    assert len(lines) == 3


def test_internal_errors_on_incoming_traffic_are_rate_limited():
    lines = []
    with running_server() as (server, sender, listener):
        server.warnings.write = lines.append
        server.handle_message = lambda *args: 1 / 0   # a bug met on every message
        for _ in range(50):
            sender.send("/robojam/touch", 0.5, 0.5)
        time.sleep(0.3)
        errors = server.drops["internal_error"]
    assert errors == 50
    assert len(lines) == 1 and "ZeroDivisionError" in lines[0]


# --- 2. control values out of range ----------------------------------------------------------

def test_controls_outside_the_limits_are_refused_counted_and_the_old_values_kept():
    settings = Settings(threshold=0.3, seconds=1.0, temp=0.9, sigma_temp=0.8)
    with running_server(settings) as (server, sender, listener):
        for datagram in [built("/robojam/temp", (1e308, "d")), built("/robojam/sigma_temp", (1e308, "d")),
                         built("/robojam/temp", (1000.0, "f")), built("/robojam/sigma_temp", (1000, "i")),
                         built("/robojam/temp", (0.001, "d")), built("/robojam/sigma_temp", (0.0, "f")),
                         built("/robojam/seconds", (601.0, "f")), built("/robojam/threshold", (0.01, "f")),
                         built("/robojam/threshold", (61, "h"))]:
            sender.raw(datagram)
        sender.call(20)
        got = response_of(listener)
        counts = status_of(sender, listener)
        session = next(iter(server.performers.values())).session.settings
    assert counts["dropped.bad_value"] == 9
    assert (session.temp, session.sigma_temp, session.seconds, session.threshold) == (0.9, 0.8, 1.0, 0.3)
    assert sum(a == "/robojam/response/touch" for _, a, _ in got) > 10   # 1e308 made it 2 touches long


def test_one_table_of_limits_for_the_cli_config_files_osc_the_page_and_the_reference():
    import click

    from robojam.cli import SERVE_DEFAULTS, main
    from robojam.core.steering import KNOBS
    from robojam.live.knobs import LIVE, RANGES
    from robojam.live.protocol import reference
    from robojam.live.assemble import _number, session_settings

    serve_options = {p.name: p for p in main.commands["serve"].params}
    for name, limit in RANGES.items():
        kind = serve_options[name].type   # the command line
        assert isinstance(kind, (click.IntRange, click.FloatRange)), name
        assert (kind.min, kind.max, kind.min_open, kind.max_open) == (limit.low, limit.high, False, False), name
        for bad in (limit.low - 1, limit.high * 2 + 1, float("nan"), "5", True):   # config files
            config = dict(SERVE_DEFAULTS, **{name: bad})
            with pytest.raises(RobojamError, match=name.replace("_", "[-_]")):
                _number(config, name, int if limit.integer else float)
            if name in LIVE:
                with pytest.raises(RobojamError, match=name.replace("_", "[-_]")):
                    session_settings(config)
    for command in ("respond", "eval"):
        options = {p.name: p.type for p in main.commands[command].params}
        for name in ("temp", "sigma_temp"):
            assert (options[name].min, options[name].max) == (RANGES[name].low, RANGES[name].high)
    text = reference()
    for name in LIVE:  # a player's knob is /robojam/steer's value, the others an address's own
        pattern = rf"`value`: number, [^\n]*{name} " if name in KNOBS else rf"`{name}`: number, [^\n]*"
        assert re.search(pattern + re.escape(RANGES[name].text()), text), name
    for name in LIVE:  # OSC: the session refuses what the table refuses
        with pytest.raises(RobojamError):
            Settings().changed(name, RANGES[name].high * 1.01)
        assert getattr(Settings().changed(name, RANGES[name].high), name) == RANGES[name].high


def test_a_config_file_out_of_range_is_refused_at_start(tmp_path):
    for line, message in [("temp = 1000", "temp must be a number from 0.01 to 100"),
                          ("max-sessions = 100000", "max-sessions must be a whole number from 1 to 1024"),
                          ("session-timeout = -1", "session-timeout must be a number from 1 to 86400"),
                          ("reply-port = nan", "reply-port must be a whole number from 1 to 65535"),
                          ("send = 5", "send must be HOST:PORT")]:
        config = tmp_path / "stage.toml"
        config.write_text(line + "\n")
        result = subprocess.run([sys.executable, "-m", "robojam", "serve", "--config", str(config), "--port", "0",
                                 "--no-log"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert result.returncode == 1 and message in result.stderr, (line, result.stderr)
        assert "Traceback" not in result.stderr


# --- 3. hostile model folders --------------------------------------------------------------

def model_folder(tmp_path, name="m", **changes) -> Path:
    """A small model saved, then its model.json changed: {"architecture.layers": 10000000, ...}."""
    folder = save_model(random_model(units=8), tmp_path / name)
    meta = json.loads((folder / "model.json").read_text())
    for path, value in changes.items():
        section, key = path.split(".")
        meta[section][key] = value
    (folder / "model.json").write_text(json.dumps(meta))   # NaN and Infinity as Python's json writes them
    return folder


REFUSE_QUICKLY = """
import sys, time
from robojam import RobojamError
from robojam.core.modelfile import load_model
started = time.perf_counter()
try:
    load_model(sys.argv[1])
    print("LOADED")
except RobojamError as e:
    print(f"REFUSED {time.perf_counter() - started:.3f} {e}")
"""


def refused_within_a_second(folder: Path) -> str:
    """Load in a child process with 1 GB of address space at most; the message, checked for speed."""
    import resource

    def limit_memory():
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    result = subprocess.run([sys.executable, "-c", REFUSE_QUICKLY, str(folder)], capture_output=True, text=True,
                            timeout=20, preexec_fn=limit_memory)
    assert result.stdout.startswith("REFUSED"), result.stdout + result.stderr[-2000:]
    _, seconds, message = result.stdout.split(" ", 2)
    assert float(seconds) < 0.5, message
    return message


@pytest.mark.parametrize("field, value, expected", [
    ("architecture.layers", 10_000_000, "architecture.layers is 10000000; expected a whole number from 1 to 8"),
    ("architecture.units", 1 << 30, "architecture.units is 1073741824; expected a whole number from 4 to 1024"),
    ("architecture.mixtures", 0, "architecture.mixtures is 0"),
    ("architecture.layers", 2.5, "architecture.layers is 2.5"),
    ("architecture.units", "8", 'architecture.units is "8"'),
    ("architecture.input_dim", 99, "architecture.input_dim is 99, but the delta encoding has 5"),
    ("encoding.delta_scale", float("nan"), "encoding.delta_scale is NaN; expected a finite number from 0.01"),
    ("encoding.delta_scale", 0.0, "encoding.delta_scale is 0.0"),
    ("encoding.logdt_std", float("inf"), "encoding.logdt_std is Infinity"),
    ("encoding.logdt_mean", -1e308, "encoding.logdt_mean is -1e+308"),
    ("encoding.logdt_std", True, "encoding.logdt_std is true"),
])
def test_a_hostile_model_json_is_refused_at_once_naming_the_field(tmp_path, field, value, expected):
    message = refused_within_a_second(model_folder(tmp_path, **{field: value}))
    assert expected in message


def rewrite_member(folder: Path, name: str, data: bytes) -> None:
    """weights.npz again, with one member's bytes replaced (or added)."""
    path = folder / "weights.npz"
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    members[name] = data
    with zipfile.ZipFile(path, "w") as archive:
        for member, content in members.items():
            archive.writestr(member, content)


def npy_header(shape, dtype="<f4") -> bytes:
    header = repr({"descr": dtype, "fortran_order": False, "shape": tuple(shape)}).encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


def test_weights_are_checked_from_their_headers_before_they_are_read(tmp_path):
    # A header that claims 40 GB of floats, in a member of a few bytes.
    folder = model_folder(tmp_path, "huge")
    rewrite_member(folder, "lstm0_kernel.npy", npy_header((100_000, 100_000)) + b"\0" * 64)
    assert "lstm0_kernel has shape (100000, 100000), expected (5, 32)" in refused_within_a_second(folder)
    # The right shape, the data cut short.
    folder = model_folder(tmp_path, "short")
    rewrite_member(folder, "lstm0_kernel.npy", npy_header((5, 32)) + b"\0" * 64)
    assert "lstm0_kernel is" in refused_within_a_second(folder)
    # An archive much bigger than the architecture's weights (a megabyte no one asked for).
    folder = model_folder(tmp_path, "padded")
    rewrite_member(folder, "junk.npy", b"\0" * (1 << 20))
    assert "more than this architecture's weights need" in refused_within_a_second(folder)
    # Not floats.
    folder = model_folder(tmp_path, "objects")
    rewrite_member(folder, "lstm0_bias.npy", npy_header((32,), "|O") + b"\0" * 128)
    assert "lstm0_bias holds object, expected float32" in refused_within_a_second(folder)


def test_a_hostile_model_named_over_osc_is_refused_at_once_and_the_show_goes_on(tmp_path):
    models = tmp_path / "models"
    model_folder(models, "deep", **{"architecture.layers": 10_000_000})
    with running_server(Settings(threshold=0.3, seconds=0.5), models_dir=models) as (server, sender, listener):
        asked = time.monotonic()
        sender.send("/robojam/model", "deep")
        listener.collect(2.0, until="/robojam/model/refused")
        refused = [(t, args) for t, a, args in listener.received if a == "/robojam/model/refused"]
        assert refused and refused[0][0] - asked < 0.5
        assert "architecture.layers" in refused[0][1][0]
        listener.received.clear()
        sender.call(10)
        assert response_of(listener)[-1][1] == "/robojam/response/end"


# --- 4. a corpus file that runs code ---------------------------------------------------------

class RunsCode:
    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def evil_corpus(tmp_path) -> tuple[Path, Path]:
    """The issue's attack: an .npz whose object array holds an object that calls os.system when unpickled."""
    marker = tmp_path / "it-ran"
    items = np.empty(2, dtype=object)
    items[0] = np.zeros((4, 3), np.float32)
    items[1] = RunsCode(f"touch {marker}")
    path = tmp_path / "evil.npz"
    np.savez(path, items)
    return path, marker


def test_a_corpus_whose_pickle_runs_code_is_refused_in_process(tmp_path):
    path, marker = evil_corpus(tmp_path)
    with pytest.raises(RobojamError, match=r"refused to load: its pickle calls (posix|os|nt)\.system"):
        load_corpus_npz(path)
    assert not marker.exists()


@pytest.mark.parametrize("command", [["eval"], ["train", "-o", "out", "--epochs", "1"]])
def test_robojam_eval_and_train_refuse_a_corpus_that_runs_code(tmp_path, command):
    path, marker = evil_corpus(tmp_path)
    result = subprocess.run([sys.executable, "-m", "robojam", command[0], str(path), *command[1:]],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert not marker.exists(), "the pickle's command ran"
    assert result.returncode == 1, result.stdout + result.stderr
    assert "refused to load" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


# --- 6. replies say whose they are ------------------------------------------------------------

def test_replies_carry_the_session_id_of_the_performer_they_answer():
    with running_server(Settings(threshold=30, seconds=0.6)) as (server, sender, listener):
        sender.call(8, session="alice")
        sender.call(8, session="bob")
        sender.send("/robojam/respond", "alice")
        sender.send("/robojam/respond", "bob")
        listener.collect(2.0)
        sender.send("/robojam/status", "bob")
        sender.send("/robojam/model", "/nowhere/at/all", "alice")   # a path from this machine: tried, refused
        listener.collect(2.0, until="/robojam/model/refused")
        sender.call(8)                                              # no id: the host's own session
        sender.send("/robojam/respond")
        listener.collect(2.0)
    by_session = {"alice": [], "bob": [], None: []}
    for _, address, args in listener.received:
        who = args[-1] if args and args[-1] in ("alice", "bob") else None
        by_session[who].append((address, args))
    for who in ("alice", "bob"):
        addresses = [a for a, _ in by_session[who]]
        assert addresses.count("/robojam/response/start") == 1 and addresses.count("/robojam/response/end") == 1
        touches = [args for a, args in by_session[who] if a == "/robojam/response/touch"]
        assert len(touches) > 3 and all(len(args) == 4 and args[3] == who for args in touches)
        assert all(args == [who] for a, args in by_session[who] if a in ("/robojam/response/start",
                                                                          "/robojam/response/end"))
    assert [a for a, _ in by_session["bob"]].count("/robojam/status") == 1
    refused = [args for a, args in by_session["alice"] if a == "/robojam/model/refused"]
    assert len(refused) == 1 and len(refused[0]) == 2
    plain = by_session[None]                                         # the performer that sent no id
    assert [a for a, _ in plain].count("/robojam/response/start") == 1
    assert all(args == [] for a, args in plain if a in ("/robojam/response/start", "/robojam/response/end"))
    assert all(len(args) == 3 for a, args in plain if a == "/robojam/response/touch")


def test_a_session_id_longer_than_the_limit_is_refused():
    from robojam.live.limits import MAX_SESSION_ID

    with running_server() as (server, sender, listener):
        sender.send("/robojam/touch", 0.5, 0.5, "x" * (MAX_SESSION_ID + 1))
        sender.send("/robojam/touch", 0.5, 0.5, "x" * MAX_SESSION_ID)
        counts = status_of(sender, listener)
    assert counts["dropped.bad_args"] == 1 and counts["touches"] == 1


def test_robojam_play_takes_its_own_sessions_replies_and_ignores_others():
    from robojam.core.performance import Performance
    from robojam.tools.play import Player, ResponseRecorder

    recorder = ResponseRecorder()
    assert recorder.message("/robojam/response/start", ["bob"], 0.0) is False   # another session's
    assert not recorder.started
    call = Performance([[0.02 * i, 0.2 + 0.03 * i, 0.5, 0.5, 1.0 if i else 0.0] for i in range(10)])
    with Player(("127.0.0.1", 9), 0, session="alice") as player:
        assert player._own_args([0.1, 0.2, 0.5, "alice"]) == [0.1, 0.2, 0.5]
        assert player._own_args([0.1, 0.2, 0.5, "bob"]) == [0.1, 0.2, 0.5, "bob"]   # no response takes it
        with running_server(Settings(threshold=30, seconds=0.5)) as (server, sender, listener):
            server.options.send = []
            server.options.reply_port = player.listen_port
            player.to = server.address
            sender.call(5, session="bob")          # bob, on the same host, is answered at the same port
            sender.send("/robojam/respond", "bob")
            result = player.play(call, timeout=3.0)
    assert result.complete and len(result.response) > 3

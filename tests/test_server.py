"""The live server over real UDP on 127.0.0.1, with python-osc peers made here."""

import time

import numpy as np
import pytest

from oscpeer import bundle, running_server, status_of
from robojam.live.session import Settings
from robojam.core.touchlog import read_log


def response_of(listener, seconds=3.0):
    return listener.collect(seconds, until="/robojam/response/end")


def test_a_call_gets_a_timed_response():
    with running_server(Settings(threshold=0.3, seconds=1.0)) as (server, sender, listener):
        sender.call(20)
        sent = time.monotonic()
        got = response_of(listener)
    addresses = [a for _, a, _ in got]
    assert addresses[0] == "/robojam/response/start" and addresses[-1] == "/robojam/response/end"
    touches = [(t, args) for t, a, args in got if a == "/robojam/response/touch"]
    assert len(touches) > 3
    assert all(len(args) == 3 and all(isinstance(v, float) for v in args) for _, args in touches)
    assert all(0 <= v <= 1 for _, args in touches for v in args[:2])
    start, end = got[0][0], got[-1][0]
    assert 0.25 < start - sent < 0.6          # after the 0.3 s silence threshold
    assert 0.5 < end - start < 1.2            # a 1 s response
    assert set(addresses) <= {"/robojam/response/start", "/robojam/response/touch",
                              "/robojam/response/up", "/robojam/response/end", "/robojam/plan"}


def test_touches_arrive_at_their_deadlines_never_before():
    """Lateness measured where it matters, at the receiver: the listener shares the server's clock."""
    with running_server(Settings(threshold=0.2, seconds=2.0)) as (server, sender, listener):
        deadlines = []
        send_output = server.outbox.output

        def recording(key, performer, output):
            if output.kind == "touch":
                deadlines.append(output.deadline)
            send_output(key, performer, output)

        server.outbox.output = recording
        sender.call(10)
        got = response_of(listener)
    arrivals = np.array([t for t, address, _ in got if address == "/robojam/response/touch"])
    assert len(arrivals) > 3 and len(arrivals) == len(deadlines)
    lateness = arrivals - np.array(deadlines)
    assert (lateness >= 0).all()  # nothing leaves before its time
    assert np.median(lateness) < 0.01 and np.ptp(np.array(deadlines)) > 0.5  # spread over the response, not bunched


def test_respond_now_and_barge_in():
    with running_server(Settings(threshold=30, seconds=5.0)) as (server, sender, listener):
        sender.call(10)
        sender.send("/robojam/respond")
        listener.collect(0.5)
        assert "/robojam/response/touch" in listener.addresses()
        listener.received.clear()
        played_over = time.monotonic()
        sender.send("/robojam/touch", 0.5, 0.5)
        got = listener.collect(1.0, until="/robojam/response/end")
    assert got[-1][1] == "/robojam/response/end" and got[-1][0] - played_over < 0.1


def test_silence_threshold_and_response_length_controls():
    with running_server(Settings(threshold=5.0, seconds=5.0)) as (server, sender, listener):
        sender.send("/robojam/threshold", 0.2)
        sender.send("/robojam/seconds", 0.5)
        sender.send("/robojam/temp", 0.8)
        sender.send("/robojam/sigma_temp", 0.5)
        sender.call(10)
        got = response_of(listener, 2.0)
        session = next(iter(server.performers.values())).session
    assert got[-1][0] - got[0][0] < 0.7
    values = (session.settings.threshold, session.settings.seconds, session.settings.temp,
              session.settings.sigma_temp)
    assert values == pytest.approx((0.2, 0.5, 0.8, 0.5))  # OSC floats are 32-bit


def test_duet_plays_alongside_and_stops():
    with running_server(Settings(threshold=0.2)) as (server, sender, listener):
        sender.send("/robojam/mode", "duet")
        sender.call(5)
        listener.collect(1.5)
        touches = [t for t, a, _ in listener.received if a == "/robojam/response/touch"]
        assert len(touches) > 5 and touches[-1] - touches[0] > 0.5
        sender.send("/robojam/stop")
        listener.collect(0.5, until="/robojam/response/end")
        assert listener.addresses()[-1] == "/robojam/response/end"


def test_sessions_by_id_are_independent_and_capped():
    with running_server(Settings(threshold=0.2, seconds=3.0), max_sessions=2) as (server, sender, listener):
        sender.call(5, session="alice")
        sender.call(5, session="bob")
        sender.send("/robojam/seconds", 2.0, "bob")
        time.sleep(0.05)
        assert set(server.performers) == {"127.0.0.1/alice", "127.0.0.1/bob"}
        assert server.performers["127.0.0.1/alice"].session.settings.seconds == 3.0
        assert server.performers["127.0.0.1/bob"].session.settings.seconds == 2.0
        listener.collect(0.5)
        assert all(p.session.playing for p in server.performers.values())
        sender.send("/robojam/touch", 0.5, 0.5, "carol")  # both others are playing: no room
        time.sleep(0.05)
        assert server.drops["too_many_sessions"] == 1


def test_bundle_time_tags_set_dt():
    with running_server(Settings(threshold=30)) as (server, sender, listener):
        base = time.time() + 100.0  # in the future: must not be held back
        sender.raw(bundle("/robojam/touch", [0.5, 0.5], base))
        sender.raw(bundle("/robojam/touch", [0.55, 0.5], base + 0.25))
        time.sleep(0.1)
        session = next(iter(server.performers.values())).session
        assert session._last_touch_at == pytest.approx(base + 0.25)
        assert server.counts["touches"] == 2


def test_bad_input_is_dropped_counted_and_harmless():
    with running_server(Settings(threshold=0.3, seconds=0.5)) as (server, sender, listener):
        sender.raw(b"")
        sender.raw(b"garbage that is not OSC")
        sender.raw(b"/robojam/touch\x00\x00,ff\x00\x00\x00")             # arguments missing
        sender.raw(b"#bundle\x00" + b"\xff" * 12)                          # torn bundle
        sender.send("/robojam/touch", "x", "y")                            # wrong types
        sender.send("/robojam/touch", 0.5)                                 # too few
        sender.send("/robojam/touch", float("nan"), 0.5)
        sender.send("/robojam/touch", 0.5, float("inf"))
        sender.send("/robojam/touch", 7.0, 0.5)                            # far off screen
        sender.send("/robojam/temp", -1.0)
        sender.send("/robojam/mode", "karaoke")
        sender.send("/robojam/nothing", 1)
        counts = status_of(sender, listener)
        sender.call(10)
        assert response_of(listener)[-1][1] == "/robojam/response/end"   # still serving
    assert counts["dropped.malformed"] == 4
    assert counts["dropped.bad_args"] == 2
    assert counts["dropped.not_finite"] == 2
    assert counts["dropped.out_of_range"] == 1
    assert counts["dropped.bad_value"] == 2
    assert counts["dropped.unknown_address"] == 1
    assert counts["touches"] == 0


def resident_kb() -> int:
    """This process's resident memory now (the server runs in it, on a thread)."""
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


def test_flood_keeps_others_served_and_memory_bounded(tmp_path):
    import socket
    import threading

    from robojam.live.logwriter import TouchLog

    log = TouchLog(tmp_path)
    with running_server(Settings(threshold=0.3, seconds=0.5), log=log) as (server, sender, listener):
        stop = time.monotonic() + 5.0
        flooder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        from robojam.live.osc import encode
        packets = [encode("/robojam/touch", 0.5, 0.5, "flood"), b"junk", encode("/robojam/nothing")]

        def flood():
            sent = 0
            while time.monotonic() < stop:
                for _ in range(200):  # about 20,000 packets a second, in bursts
                    flooder.sendto(packets[sent % 3], server.address)
                    sent += 1
                time.sleep(0.01)

        thread = threading.Thread(target=flood)
        before = resident_kb()
        thread.start()
        time.sleep(0.5)
        sender.call(10, session="musician")
        got = response_of(listener, 3.0)
        thread.join()
        after = resident_kb()
        flooder.close()
        time.sleep(0.3)
        counts = dict(server.status())
    assert [a for _, a, _ in got][-1] == "/robojam/response/end"
    assert counts["dropped.rate_limited"] > 0 and counts["dropped.malformed"] > 0
    assert after - before < 50_000  # kilobytes of resident memory now, not the process's lifetime peak
    logged = read_log(log.path, sources=("performer",), gap=1000)
    assert sum(len(p) for p in logged) == counts["touches"]  # every valid touch reached the log


def test_a_vanished_client_does_not_stop_the_server():
    with running_server(Settings(threshold=0.2, seconds=0.5)) as (server, sender, listener):
        server.options.send = [("127.0.0.1", 9)]  # nobody listens there
        sender.call(5)
        time.sleep(1.0)
        server.options.send = [("127.0.0.1", listener.port)]
        sender.call(5)
        assert response_of(listener)[-1][1] == "/robojam/response/end"


class RecordingPort:
    """A mido-like output port that keeps what it is sent."""

    def __init__(self):
        self.messages = []

    def send(self, msg):
        self.messages.append(msg)


def test_midi_plays_the_response_and_all_notes_off_at_shutdown():
    from robojam.live.midi_touch import MidiMapping
    from robojam.live.midi_bridge import MidiParts

    port = RecordingPort()
    parts = MidiParts(port, MidiMapping(), channel=0, echo_channel=1)
    with running_server(Settings(threshold=0.2, seconds=2.0), midi=parts) as (server, sender, listener):
        sender.call(10)
        listener.collect(0.8)  # stop in the middle of the response
    robojam_notes = [m for m in port.messages if m.type == "note_on" and m.channel == 0]
    echo_notes = [m for m in port.messages if m.type == "note_on" and m.channel == 1]
    assert robojam_notes and len(echo_notes) == 1  # the call was one stroke
    assert all(m.note in MidiMapping().notes for m in robojam_notes)
    assert any(m.type == "control_change" and m.control == 74 for m in port.messages)
    last = port.messages[-1]
    assert last.type == "control_change" and last.control == 123  # all notes off at shutdown
    sounding = set()
    for m in port.messages:
        if m.type == "note_on":
            sounding.add((m.channel, m.note))
        elif m.type == "note_off":
            sounding.discard((m.channel, m.note))
    assert not sounding


def test_a_midi_keyboard_plays_the_performer_part():
    from robojam.live.midi_touch import MidiMapping, MidiTouchReader
    import mido

    reader = MidiTouchReader(MidiMapping())
    with running_server(Settings(threshold=0.2, seconds=0.5)) as (server, sender, listener):
        for note in (48, 52, 55, 60):
            kind, touch = reader.convert(mido.Message("note_on", note=note, velocity=90))
            server.post("/robojam/touch", list(touch))
            time.sleep(0.05)
            server.post("/robojam/up", [])
        got = response_of(listener)
        assert server.counts["touches"] == 4 and set(server.performers) == {"midi"}
    assert got[-1][1] == "/robojam/response/end"


def test_encoded_messages_are_what_python_osc_builds():
    from pythonosc.osc_message_builder import OscMessageBuilder

    from robojam.live.osc import encode

    for address, args in [("/robojam/response/touch", [0.25, 0.5, 0.125]), ("/robojam/response/start", []),
                          ("/robojam/status", ["sessions", 3, "dropped.bad_args", 0]), ("/a", ["abc", True, False]),
                          ("/robojam/touch", [0.1, 0.9, "alice"])]:
        builder = OscMessageBuilder(address)
        for arg in args:
            builder.add_arg(arg)
        assert encode(address, *args) == builder.build().dgram, address


class RecordingBridge:
    """A transport of the test's own: what a new bridge (robojam.live.bridge) needs, and nothing more."""

    def __init__(self, scheme: str, events: list, answers: bool = True):
        self.scheme, self.events, self.answers = scheme, events, answers
        self.sent = []

    def start(self) -> None:
        self.events.append(("start", self.scheme))

    def stop(self) -> None:
        self.events.append(("stop", self.scheme))

    def send(self, peer: str, address: str, args: list) -> bool:
        self.sent.append((peer, address, args))
        return self.answers


def test_a_new_transport_is_one_bridge_and_one_open():
    events = []
    with running_server(Settings(threshold=0.2, seconds=0.5)) as (server, sender, listener):
        bridge, mute = RecordingBridge("tram", events), RecordingBridge("bus", events, answers=False)
        server.open(bridge)
        server.open(mute)
        for i in range(6):
            server.post("/robojam/touch", [0.2 + 0.05 * i, 0.5], host="tram:7")
            server.post("/robojam/touch", [0.2 + 0.05 * i, 0.5], host="bus:1")
        server.post("/robojam/respond", [], host="tram:7")
        server.post("/robojam/respond", [], host="bus:1")
        got = response_of(listener)   # the bus has no way back: its replies go to the --send destination
        deadline = time.monotonic() + 3
        while not bridge.sent or bridge.sent[-1][1] != "/robojam/response/end":
            assert time.monotonic() < deadline, bridge.sent
            time.sleep(0.01)
    assert {peer for peer, _, _ in bridge.sent} == {"7"} and bridge.sent[0][1] == "/robojam/response/start"
    assert got[0][1] == "/robojam/response/start" and mute.sent
    assert "tram:7" in server.performers and "bus:1" in server.performers
    assert events == [("start", "tram"), ("start", "bus"), ("stop", "bus"), ("stop", "tram")]  # last opened first


def test_the_status_line_stays_short_naming_the_commonest_drops_and_the_drafted():
    from collections import Counter

    from robojam.live.status import LINE_REASONS, status_figures, status_line
    reasons = ["bad_args", "bad_model", "bad_value", "malformed", "not_finite", "out_of_range", "rate_limited",
               "too_many_sessions", "unknown_address", "unknown_type_tag", "socket_overflow", "send_failed"]
    drops = {reason: 1000 + i for i, reason in enumerate(reasons)}
    line = status_line(status_figures(1024, Counter(touches=123456, responses=9999, drafted=9876), drops, {}))
    assert len("stopped: " + line + "; model a-long-model-name") < 200
    assert "9999 responses (9876 drafted)" in line
    assert "send_failed 1011, socket_overflow 1010, unknown_type_tag 1009" in line
    assert f"{len(reasons) - LINE_REASONS} more reasons" in line and "bad_args" not in line
    assert "drafted" not in status_line(status_figures(1, Counter(responses=2), {}, {}))

"""The OSC protocol's argument checking and handlers, in-process: no sockets, a fake clock."""

import math
import re
from pathlib import Path

import pytest

from robojam.live.knobs import RANGES
from robojam.live.limits import MAX_SESSION_ID
from robojam.live.osc import MAX_BUNDLE_DEPTH, TYPE_TAGS
from robojam.live.protocol import ADDRESSES, OUTGOING, POSITION_SLACK, Address, Arg, BadMessage, position, reference
from oscpeer import recording_server

HOST = "10.0.0.9"
ROOT = Path(__file__).resolve().parent.parent


def parse(path, args):
    return ADDRESSES[path].parse(args)


def reason(path, args):
    with pytest.raises(BadMessage) as caught:
        parse(path, args)
    return caught.value.reason


server = pytest.fixture(recording_server)


def send(server, path, args, host=HOST, now=100.0, timetag=None):
    return server.handle_message(path, args, timetag, host, now)


# --- parse: argument checking ------------------------------------------------------------


def test_touch_takes_x_y_and_an_optional_z_as_floats():
    assert parse("/robojam/touch", [0.25, 0.75]) == ([0.25, 0.75], None)
    values, session = parse("/robojam/touch", [0, 1, 0.3])
    assert values == [0.0, 1.0, 0.3] and session is None
    assert all(type(v) is float for v in values)


def test_a_trailing_string_is_the_session_id():
    assert parse("/robojam/touch", [0.5, 0.5, "alice"]) == ([0.5, 0.5], "alice")
    assert parse("/robojam/touch", [0.5, 0.5, 0.2, "bob"]) == ([0.5, 0.5, 0.2], "bob")
    assert parse("/robojam/up", ["carol"]) == ([], "carol")
    assert parse("/robojam/up", []) == ([], None)
    assert parse("/robojam/temp", [2, "dave"]) == ([2.0], "dave")


def test_a_string_argument_is_not_taken_for_a_session_id():
    assert parse("/robojam/mode", ["duet"]) == (["duet"], None)
    assert parse("/robojam/mode", ["duet", "alice"]) == (["duet"], "alice")
    assert parse("/robojam/model", ["default"]) == (["default"], None)


def test_a_session_id_of_the_longest_length_is_accepted_and_one_longer_refused():
    longest = "a" * MAX_SESSION_ID
    assert parse("/robojam/up", [longest]) == ([], longest)
    assert reason("/robojam/up", [longest + "a"]) == "bad_args"
    with pytest.raises(BadMessage, match=str(MAX_SESSION_ID)):
        parse("/robojam/touch", [0.5, 0.5, "b" * (MAX_SESSION_ID + 1)])


def test_too_many_arguments_are_refused():
    assert reason("/robojam/up", [1.0]) == "bad_args"
    assert reason("/robojam/touch", [0.5, 0.5, 0.5, 0.5]) == "bad_args"
    with pytest.raises(BadMessage, match="too many arguments"):
        parse("/robojam/respond", [3])


def test_too_few_arguments_are_refused_naming_the_signature():
    with pytest.raises(BadMessage) as caught:
        parse("/robojam/touch", [0.5])
    assert caught.value.reason == "bad_args"
    assert "/robojam/touch x y [z]" in str(caught.value) and "got 1 arguments" in str(caught.value)
    assert reason("/robojam/touch", []) == "bad_args"
    assert reason("/robojam/touch", ["alice"]) == "bad_args"
    assert reason("/robojam/temp", []) == "bad_args"
    assert reason("/robojam/mode", []) == "bad_args"


def test_numbers_must_be_numbers_and_strings_strings():
    with pytest.raises(BadMessage, match="y must be a number, got bytes") as caught:
        parse("/robojam/touch", [0.5, b"no"])
    assert caught.value.reason == "bad_args"
    assert reason("/robojam/touch", [True, 0.5]) == "bad_args"
    assert reason("/robojam/touch", [0.5, None]) == "bad_args"
    with pytest.raises(BadMessage, match="mode must be a string") as caught:
        parse("/robojam/mode", [1.0])
    assert caught.value.reason == "bad_args"
    assert reason("/robojam/model", [3]) == "bad_args"


def test_not_finite_numbers_are_refused():
    for bad in (math.nan, math.inf, -math.inf):
        assert reason("/robojam/touch", [bad, 0.5]) == "not_finite"
        assert reason("/robojam/temp", [bad]) == "not_finite"
    with pytest.raises(BadMessage, match="x is nan"):
        parse("/robojam/touch", [math.nan, 0.5])


def test_an_integer_too_big_for_a_float_is_out_of_range():
    with pytest.raises(BadMessage, match="temp is too big") as caught:
        parse("/robojam/temp", [10 ** 400])
    assert caught.value.reason == "out_of_range"
    assert parse("/robojam/temp", [10 ** 300]) == ([1e300], None)


def test_a_string_is_an_argument_where_one_is_due_even_after_numbers():
    named = Address("/test/named", [Arg("level", "f", ""), Arg("name", "s", "")], handler=None)
    assert named.parse([0.5, "lead"]) == ([0.5, "lead"], None)
    assert named.parse([0.5, "lead", "alice"]) == ([0.5, "lead"], "alice")
    with pytest.raises(BadMessage, match="expected /test/named level name, got 1 arguments"):
        named.parse([0.5])


def test_an_argument_error_names_the_address():
    with pytest.raises(BadMessage, match=r"^/robojam/temp: temp must be a number, got bytes$"):
        parse("/robojam/temp", [b"hot"])
    with pytest.raises(BadMessage, match=r"^/robojam/mode: mode must be a string$"):
        parse("/robojam/mode", [1.0])

    assert ADDRESSES["/robojam/touch"].signature() == "/robojam/touch x y [z]"
    assert ADDRESSES["/robojam/up"].signature() == "/robojam/up"
    assert ADDRESSES["/robojam/mode"].signature() == "/robojam/mode mode"


def test_position_clips_a_little_outside_and_refuses_far_outside():
    assert position(0.3, "x") == 0.3
    assert position(-POSITION_SLACK, "x") == 0.0
    assert position(1 + POSITION_SLACK, "y") == 1.0
    assert position(-0.2, "x") == 0.0 and position(1.2, "x") == 1.0
    for far in (-POSITION_SLACK - 0.01, 1 + POSITION_SLACK + 0.01):
        with pytest.raises(BadMessage) as caught:
            position(far, "x")
        assert caught.value.reason == "out_of_range" and "x = " in str(caught.value)


# --- handlers, through a real server ----------------------------------------------------


def test_a_touch_reaches_the_performers_session(server):
    assert send(server, "/robojam/touch", [0.2, 0.4]) == HOST
    assert server.counts["touches"] == 1
    performer = server.performers[HOST]
    assert performer.stroke_open
    assert performer.session.last_heard == 100.0
    assert list(performer.session._heard) == [(0.2, 0.4, 0.0)]


def test_a_touch_a_little_outside_is_clipped_and_far_outside_dropped(server):
    send(server, "/robojam/touch", [-0.3, 1.4, 7.0])
    assert list(server.performers[HOST].session._heard)[-1][:2] == (0.0, 1.0)
    assert send(server, "/robojam/touch", [1.6, 0.5], now=100.1) is None
    assert send(server, "/robojam/touch", [0.5, -0.6], now=100.2) is None
    assert server.drops["out_of_range"] == 2
    assert server.counts["touches"] == 1


def test_touch_z_is_clipped_and_defaults_to_a_half(server):
    seen = []
    server.performer_touch = lambda key, x, y, z, timetag, now: seen.append((key, x, y, z, timetag, now))
    send(server, "/robojam/touch", [0.1, 0.2])
    send(server, "/robojam/touch", [0.1, 0.2, 3.0], timetag=55.0, now=101.0)
    send(server, "/robojam/touch", [0.1, 0.2, -1.0])
    send(server, "/robojam/touch", [0.1, 0.2, 0.7])
    assert [s[3] for s in seen] == [0.5, 1.0, 0.0, 0.7]
    assert seen[1] == (HOST, 0.1, 0.2, 1.0, 55.0, 101.0)


def test_up_ends_the_stroke(server):
    send(server, "/robojam/touch", [0.5, 0.5])
    assert send(server, "/robojam/up", [], now=100.5) == HOST
    performer = server.performers[HOST]
    assert not performer.stroke_open
    assert performer.session.last_heard == 100.5 and performer.last_active == 100.5


def test_respond_stop_and_reset(server):
    send(server, "/robojam/touch", [0.5, 0.5])
    session = server.performers[HOST].session
    send(server, "/robojam/respond", [], now=100.1)
    assert session.playing
    assert server.performers[HOST].last_active == 100.1
    send(server, "/robojam/stop", [], now=100.2)
    assert not session.playing
    send(server, "/robojam/respond", [], now=100.3)
    assert session.playing
    send(server, "/robojam/reset", [], now=100.4)
    assert not session.playing
    assert len(session._heard) == 0


@pytest.mark.parametrize("name", ["temp", "sigma_temp", "seconds", "threshold", "drafts"])
def test_each_control_sets_its_setting_within_its_limits(server, name):
    limit = RANGES[name]
    path = f"/robojam/{name}"
    assert send(server, path, [limit.high]) == HOST
    assert getattr(server.performers[HOST].session.settings, name) == limit.high
    assert send(server, path, [limit.low]) == HOST
    assert getattr(server.performers[HOST].session.settings, name) == limit.low
    assert send(server, path, [limit.high * 1.01]) is None
    assert send(server, path, [limit.low / 2]) is None
    assert server.drops["bad_value"] == 2
    assert getattr(server.performers[HOST].session.settings, name) == limit.low  # keeps its old value


def test_a_refused_setting_says_why(server):
    send(server, "/robojam/touch", [0.5, 0.5])
    with pytest.raises(BadMessage, match=re.escape(RANGES["temp"].text())) as caught:
        ADDRESSES["/robojam/temp"].handler(server, HOST, [1e6], None, 100.0)
    assert caught.value.reason == "bad_value"


def test_a_setting_marks_the_performer_active(server):
    send(server, "/robojam/touch", [0.5, 0.5])
    send(server, "/robojam/threshold", [2.0], now=130.0)
    assert server.performers[HOST].last_active == 130.0


def test_a_change_of_mode_ends_the_response_at_once(server):
    send(server, "/robojam/touch", [0.5, 0.5])
    session = server.performers[HOST].session
    send(server, "/robojam/respond", [], now=100.1)
    send(server, "/robojam/mode", ["duet"], now=100.2)
    assert not session.playing
    assert "end" not in [output.kind for output in session.due(100.19)]
    assert [output.kind for output in session.due(100.2)] == ["plan", "end"]  # the plan cleared, then the end


def test_settings_are_per_session(server):
    send(server, "/robojam/temp", [2.5, "alice"])
    send(server, "/robojam/temp", [0.5])
    assert server.performers[f"{HOST}/alice"].session.settings.temp == 2.5
    assert server.performers[HOST].session.settings.temp == 0.5


def test_mode_switches_and_a_bad_mode_is_refused(server):
    assert send(server, "/robojam/mode", ["duet"]) == HOST
    assert server.performers[HOST].session.settings.mode == "duet"
    assert send(server, "/robojam/mode", ["jazz"]) is None
    assert server.drops["bad_value"] == 1
    assert server.performers[HOST].session.settings.mode == "duet"
    send(server, "/robojam/mode", ["call-and-response", "alice"])
    assert server.performers[f"{HOST}/alice"].session.settings.mode == "call-and-response"


def test_model_asks_the_server_for_the_named_model(server):
    asked = []
    server.change_model = lambda key, spec: asked.append((key, spec))
    assert send(server, "/robojam/model", ["other", "alice"]) == f"{HOST}/alice"
    assert asked == [(f"{HOST}/alice", "other")]


def test_a_bad_model_name_is_refused_to_the_sender(server):
    send(server, "/robojam/model", ["../../etc"])
    assert [a for _, a, _ in server.sent] == ["/robojam/model/refused"]


def test_status_replies_with_the_counters(server):
    send(server, "/robojam/touch", [0.5, 0.5])
    send(server, "/robojam/status", [], now=100.1)
    host, address, args = server.sent[-1]
    assert (host, address) == (HOST, "/robojam/status")
    assert args[0] == "model" and isinstance(args[1], str)
    pairs = dict(zip(args[2::2], args[3::2]))
    assert pairs["touches"] == 1 and pairs["sessions"] == 1


def test_bad_arguments_are_counted_by_reason(server):
    assert send(server, "/robojam/touch", [0.5]) is None
    assert send(server, "/robojam/touch", [math.nan, 0.5]) is None
    assert send(server, "/robojam/nope", []) is None
    assert server.drops["bad_args"] == 1 and server.drops["not_finite"] == 1
    assert server.drops["unknown_address"] == 1
    assert server.performers == {}


# --- the reference -------------------------------------------------------------------------


def test_the_shipped_protocol_reference_is_the_generated_one():
    assert (ROOT / "server" / "PROTOCOL.md").read_text() == reference()


def test_reference_mentions_every_address_argument_and_range():
    text = reference()
    assert text.startswith("# robojam's OSC protocol\n") and text.endswith("\n") and not text.endswith("\n\n")
    for entry in ADDRESSES.values():
        assert f"### `{entry.signature()}`" in text
        assert " ".join(entry.doc.split()) in text
        for arg in entry.args:
            kind = "string" if arg.kind == "s" else "number"
            optional = " (optional)" if arg.optional else ""
            assert f"- `{arg.name}`{optional}: {kind}, {arg.meaning}" in text
    for name in ("temp", "sigma_temp", "seconds", "threshold", "drafts"):
        assert RANGES[name].text() in text
    assert "- `z` (optional): number, touch size" in text
    assert "- `mode`: string, call-and-response or duet" in text
    for signature, doc in OUTGOING:
        assert f"### `{signature}`\n\n{doc}\n" in text
    assert f"at most {MAX_SESSION_ID} characters" in text
    assert " ".join(TYPE_TAGS) in text and f"nest {MAX_BUNDLE_DEPTH} deep" in text
    assert text.index("## In: the performer and controls") < text.index("### `/robojam/touch x y [z]`")
    assert text.index("## Out: robojam's part") < text.index("### `/robojam/response/start`")
    assert "### `/robojam/up`\n\nThe finger lifted: the next touch starts a new stroke.\n\n### " in text
    assert re.search(r"### `/robojam/temp temp`\n\n.+\n\n- `temp`: number, .+\n\n### ", text)


@pytest.mark.parametrize("value", [2.5, 0, 65])
def test_drafts_must_be_a_whole_number_in_range(server, value):
    send(server, "/robojam/drafts", [4])
    assert send(server, "/robojam/drafts", [value]) is None
    assert server.drops["bad_value"] == 1
    assert server.performers[HOST].session.settings.drafts == 4

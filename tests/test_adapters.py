"""Adapters: the shipped presets' mappings, bad input and bad configs, and TouchOSC over real UDP."""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path

import pytest
from pythonosc.udp_client import SimpleUDPClient

from oscpeer import Listener
from robojam import RobojamError
from robojam.live.adapters import Adapter
from robojam.cli import SERVE_DEFAULTS
from robojam.live.server import Server, ServerOptions, run_in_thread
from robojam.live.session import Settings
from synthetic import random_model

PRESETS = Path(__file__).resolve().parent.parent / "server" / "presets"


def preset(name: str) -> dict:
    return tomllib.loads((PRESETS / f"{name}.toml").read_text(encoding="utf-8"))


def adapter(name: str) -> Adapter:
    return Adapter.from_config(preset(name)["adapter"], name)


@pytest.fixture(scope="module")
def touchosc() -> Adapter:
    return adapter("touchosc")


@pytest.fixture(scope="module")
def microjam() -> Adapter:
    return adapter("microjam")


def test_preset_settings_are_serve_options():
    for path in PRESETS.glob("*.toml"):
        keys = {key.replace("-", "_") for key in tomllib.loads(path.read_text(encoding="utf-8"))}
        assert keys - {"adapter"} <= set(SERVE_DEFAULTS), path.name


def test_touchosc_ports_are_touchoscs_defaults():
    settings = preset("touchosc")
    assert (settings["host"], settings["port"], settings["reply-port"]) == ("0.0.0.0", 8000, 9000)


def test_gm_synth_plays_fluidsynth():
    settings = preset("gm-synth")
    assert "FLUID" in settings["midi-out"] and settings["midi-channel"] == 1 and settings["cc"] == 74


# --- TouchOSC ---------------------------------------------------------------------------


def test_touchosc_xy_pad_is_a_touch_with_y_flipped(touchosc):
    assert touchosc.incoming("/1/xy1", [0.25, 0.75]) == [("/robojam/touch", [0.25, 0.25])]


def test_touchosc_lifting_a_finger_ends_the_stroke(touchosc):
    assert touchosc.incoming("/1/xy1/z", [0.0]) == [("/robojam/up", [])]
    assert touchosc.incoming("/1/xy1/z", [1.0]) == []


def test_touchosc_multixy_finger_one_plays(touchosc):
    assert touchosc.incoming("/1/multixy1/1", [0.5, 1.0]) == [("/robojam/touch", [0.5, 0.0])]
    assert touchosc.incoming("/1/multixy1/1/z", [0.0]) == [("/robojam/up", [])]
    assert touchosc.incoming("/1/multixy1/1/z", [1.0]) == []


def test_touchosc_multixy_other_fingers_are_ignored(touchosc):
    assert touchosc.incoming("/1/multixy1/2", [0.5, 0.5]) == []
    assert touchosc.incoming("/1/multixy1/2/z", [0.0]) == []


def test_touchosc_buttons_act_when_pressed(touchosc):
    assert touchosc.incoming("/1/push1", [1.0]) == [("/robojam/respond", [])]
    assert touchosc.incoming("/1/push1", [0.0]) == []
    assert touchosc.incoming("/1/push2", [1]) == [("/robojam/stop", [])]


def test_touchosc_shows_robojams_part_on_the_second_pad(touchosc):
    assert touchosc.outgoing("/robojam/response/touch", [0.5, 0.2, 0.5]) == [("/1/xy2", [0.5, 0.8])]
    assert touchosc.outgoing("/robojam/response/start", []) == [("/1/led1", [1.0])]
    assert touchosc.outgoing("/robojam/response/end", []) == [("/1/led1", [0.0])]


# --- MicroJam ---------------------------------------------------------------------------


def test_microjam_pairs_are_a_touch(microjam):
    assert microjam.incoming("/touch", ["/x", 0.1, "/y", 0.2, "/z", 0.3]) == [("/robojam/touch", [0.1, 0.2, 0.3])]
    assert microjam.incoming("/touch", ["/y", 0.2, "/x", 0.1]) == [("/robojam/touch", [0.1, 0.2])]


@pytest.mark.parametrize("args", [
    ["/x", 0.1, "/y"],                    # odd: a name without a value
    ["/x", 0.1, "/z", 0.3],               # no y
    [0.1, "/x", 0.2, "/y"],               # a name that is not a string
    ["/x", math.nan, "/y", 0.2],
    ["/x", "left", "/y", 0.2],
    [],
])
def test_microjam_bad_pairs_are_dropped(microjam, args):
    before = microjam.dropped
    assert microjam.incoming("/touch", args) == []
    assert microjam.dropped == before + 1


def test_microjam_answers_in_pairs(microjam):
    assert microjam.outgoing("/robojam/response/touch", [0.1, 0.2, 0.5]) == [
        ("/touch", ["/x", 0.1, "/y", 0.2, "/z", 0.5])]


# --- robustness and pass-through ----------------------------------------------------


@pytest.mark.parametrize("address", ["/1/xy1", "/1/xy1/z", "/1/multixy1/1", "/1/multixy1/1/z", "/1/push1"])
@pytest.mark.parametrize("args", [[], ["a", "b"], [math.nan, 0.5], [math.inf, 0.0], [b"\x00", 0.5], [None, None]])
def test_bad_arguments_never_raise(touchosc, address, args):
    assert touchosc.incoming(address, args) == []


def test_booleans_are_no_positions_but_count_as_pressed(touchosc):
    assert touchosc.incoming("/1/xy1", [True, False]) == []
    assert touchosc.incoming("/1/push1", [True]) == [("/robojam/respond", [])]


@pytest.mark.parametrize("name", ["touchosc", "microjam"])
def test_robojams_own_messages_pass_through(name):
    adapt = adapter(name)
    for message in [("/robojam/touch", [0.5, 0.5]), ("/robojam/up", []), ("/robojam/mode", ["duet"])]:
        assert adapt.incoming(*message) == [message]
    for message in [("/robojam/response/up", []), ("/robojam/status", ["sessions", 1])]:
        assert adapt.outgoing(*message) == [message]


def test_unmapped_messages_pass_through_for_the_server_to_count():
    assert adapter("touchosc").incoming("/accxyz", [0.1, 0.2, 0.3]) == [("/accxyz", [0.1, 0.2, 0.3])]


def test_a_rule_can_take_over_a_robojam_message():
    adapt = Adapter.from_config({"in": [{"address": "/robojam/reset", "args": ["sure"], "when": {"sure": "yes"},
                                         "to": "/robojam/reset"}]})
    assert adapt.incoming("/robojam/reset", []) == []
    assert adapt.incoming("/robojam/reset", ["yes"]) == [("/robojam/reset", [])]


def test_skipped_and_captured_arguments():
    adapt = Adapter.from_config({"in": [{"address": "/pad/{y}", "args": ["_", "x"], "to": "/robojam/touch"}]})
    assert adapt.incoming("/pad/1", ["ignored", 0.5]) == [("/robojam/touch", [0.5, 1.0])]
    assert adapt.incoming("/pad/top", ["ignored", 0.5]) == []
    assert adapt.incoming("/pad/\u00b2", ["ignored", 0.5]) == []   # a digit to Unicode, not to int()


# --- bad configs ------------------------------------------------------------------------


@pytest.mark.parametrize("table, complaint", [
    ({"inn": []}, "unknown key(s) inn"),
    ({"in": {"address": "/a"}}, "[[adapter.in]]"),
    ({"in": [{"address": "/a", "args": ["x", "y"], "to": "/robojam/touch", "flp": ["y"]}]}, "unknown key(s) flp"),
    ({"in": [{"args": ["x", "y"], "to": "/robojam/touch"}]}, "missing 'address'"),
    ({"in": [{"address": "/a", "args": ["x", "y"]}]}, "missing 'to'"),
    ({"in": [{"address": "/a", "args": ["x", "y"], "to": "/robojam/dance"}]}, "not one of robojam's messages"),
    ({"in": [{"address": "/a", "args": ["x"], "to": "/robojam/touch"}]}, "needs y"),
    ({"in": [{"address": "a", "args": ["x", "y"], "to": "/robojam/touch"}]}, "must start with /"),
    ({"in": [{"address": "/a/*", "args": ["x", "y"], "to": "/robojam/touch"}]}, "plain text or {name}"),
    ({"in": [{"address": "/a/{1x}", "args": ["x", "y"], "to": "/robojam/touch"}]}, "must be a new name"),
    ({"in": [{"address": "/a/{x}", "args": ["x", "y"], "to": "/robojam/touch"}]}, "named in both"),
    ({"in": [{"address": "/a", "args": ["x", "x"], "to": "/robojam/touch"}]}, "more than once"),
    ({"in": [{"address": "/a", "args": ["x", 2], "to": "/robojam/touch"}]}, "2 is not one"),
    ({"in": [{"address": "/a", "args": ["x", "y"], "flip": ["w"], "to": "/robojam/touch"}]}, "flip names w"),
    ({"in": [{"address": "/a", "args": ["x", "y"], "when": {"w": 1}, "to": "/robojam/touch"}]}, "when names w"),
    ({"in": [{"address": "/a", "args": ["x"], "pairs": True, "to": "/robojam/touch"}]}, "not both"),
    ({"in": [{"address": "/a", "pairs": "yes", "to": "/robojam/touch"}]}, "pairs must be true or false"),
    ({"out": [{"from": "/robojam/response/touch", "address": "/b", "args": ["w"]}]}, "has no w"),
    ({"out": [{"from": "/robojam/response/dance", "address": "/b"}]}, "outgoing messages"),
    ({"out": [{"from": "/robojam/response/touch", "address": "/b/{x}"}]}, "plain OSC address"),
])
def test_bad_configs_are_explained(table, complaint):
    with pytest.raises(RobojamError, match="^mine: .*" + re.escape(complaint)):
        Adapter.from_config(table, "mine")


# --- over real UDP ------------------------------------------------------------------


def test_touchosc_plays_and_sees_the_response_over_udp(touchosc):
    listener = Listener()
    options = ServerOptions(host="127.0.0.1", port=0, send=[("127.0.0.1", listener.port)], status_every=0, seed=1)
    server = Server(random_model(units=8), Settings(threshold=0.3, seconds=0.6), options, adapter=touchosc)
    thread = run_in_thread(server)
    try:
        tablet = SimpleUDPClient("127.0.0.1", server.address[1])
        for i in range(10):
            tablet.send_message("/1/xy1", [0.2 + 0.03 * i, 0.9])
        tablet.send_message("/1/xy1/z", 0.0)
        listener.collect(3.0, until="/1/led1")       # lit: the response starts
        got = listener.collect(3.0, until="/1/led1")  # out: it ends
    finally:
        server.stop()
        thread.join(5)
        listener.close()
    addresses = {address for _, address, _ in got}
    assert "/1/xy2" in addresses and "/robojam/response/touch" not in addresses
    assert [args for _, address, args in got if address == "/1/led1"] == [[1.0], [0.0]]
    assert all(len(args) == 2 and 0 <= min(args) <= max(args) <= 1 for _, a, args in got if a == "/1/xy2")
    assert server.counts["touches"] == 10 and not server.drops


# --- IMPSY ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def impsy() -> Adapter:
    return adapter("impsy")


def test_impsy_ports_are_impsys_defaults():
    settings = preset("impsy")
    assert (settings["host"], settings["port"], settings["reply-port"]) == ("127.0.0.1", 5000, 5002)


def test_impsy_interface_values_are_a_touch(impsy):
    assert impsy.incoming("/interface", [0.25, 0.75]) == [("/robojam/touch", [0.25, 0.75])]
    assert impsy.incoming("/interface", [0.25]) == []                   # a 2-dimensional IMPSY needs x and y
    assert impsy.incoming("/interface", [0.1, 0.2, 0.9]) == [("/robojam/touch", [0.1, 0.2])]


def test_impsy_controls(impsy):
    assert impsy.incoming("/impsy/pitemp", [0.8]) == [("/robojam/temp", [0.8])]
    assert impsy.incoming("/impsy/sigmatemp", [0.05]) == [("/robojam/sigma_temp", [0.05])]
    assert impsy.incoming("/impsy/reset", []) == [("/robojam/reset", [])]
    assert impsy.incoming("/impsy/pause", [1]) == [("/robojam/stop", [])]
    assert impsy.incoming("/impsy/pause", [0]) == []
    assert impsy.incoming("/impsy/mode", ["battle"]) == [("/impsy/mode", ["battle"])]  # not robojam's: counted


def test_impsy_hears_robojams_part_at_its_own_address(impsy):
    assert impsy.outgoing("/robojam/response/touch", [0.1, 0.2, 0.5]) == [("/impsy", [0.1, 0.2])]
    for message in [("/robojam/response/start", []), ("/robojam/response/end", [])]:
        assert impsy.outgoing(*message) == [message]
    assert impsy.incoming("/robojam/touch", [0.5, 0.5]) == [("/robojam/touch", [0.5, 0.5])]


@pytest.mark.parametrize("args", [[], ["a", "b"], [math.nan, 0.5], [math.inf, 0.0], [True, False]])
def test_impsy_bad_values_are_dropped(impsy, args):
    assert impsy.incoming("/interface", args) == []


def test_an_impsy_patch_plays_and_hears_the_response_over_udp(impsy):
    listener = Listener()
    options = ServerOptions(host="127.0.0.1", port=0, send=[("127.0.0.1", listener.port)], status_every=0, seed=1)
    server = Server(random_model(units=8), Settings(threshold=0.3, seconds=0.6), options, adapter=impsy)
    thread = run_in_thread(server)
    try:
        patch = SimpleUDPClient("127.0.0.1", server.address[1])
        for i in range(10):
            patch.send_message("/interface", [0.2 + 0.03 * i, 0.6])
        got = listener.collect(4.0, until="/robojam/response/end")
    finally:
        server.stop()
        thread.join(5)
        listener.close()
    parts = [args for _, address, args in got if address == "/impsy"]
    assert parts and all(len(args) == 2 and 0 <= min(args) <= max(args) <= 1 for args in parts)
    assert "/robojam/response/touch" not in {address for _, address, _ in got}
    assert server.counts["touches"] == 10 and not server.drops

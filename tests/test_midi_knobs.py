"""A MIDI controller's knobs turn robojam's player knobs (robojam.live.midi_knobs, #24)."""

import mido
import pytest

from oscpeer import recording_server
from robojam import RobojamError
from robojam.config import load_config
from robojam.live.knobs import DEFAULTS
from robojam.live.midi_bridge import _poster
from robojam.live.midi_knobs import DEFAULT_CCS, KnobControllers, knob_value
from robojam.live.midi_touch import MidiMapping

server = pytest.fixture(recording_server)


def cc(control: int, value: int, channel: int = 0) -> mido.Message:
    return mido.Message("control_change", control=control, value=value, channel=channel)


def test_a_controller_covers_the_knobs_range_with_zero_at_its_middle():
    assert [knob_value("density", v) for v in (0, 32, 64, 127)] == [-2.0, -1.0, 0.0, 2.0]
    assert knob_value("curl", 96) == pytest.approx(2 * 32 / 63)
    assert [knob_value("contrast", v) for v in (0, 127)] == [0.0, 1.0]
    assert knob_value("contrast", 64) == pytest.approx(64 / 127)


def test_the_default_controllers_turn_the_knobs_on_any_channel():
    knobs = KnobControllers()
    assert knobs.ccs == DEFAULT_CCS
    assert knobs.turned(cc(22, 127, channel=9)) == ("energy", 2.0)
    assert knobs.turned(cc(26, 0)) == ("contrast", 0.0)
    assert knobs.turned(cc(74, 10)) is None and knobs.turned(cc(20, 10)) is None
    assert knobs.turned(mido.Message("note_on", note=22, velocity=127)) is None


def test_a_config_table_chooses_the_controllers():
    knobs = KnobControllers.from_config({"curl": 1, "size": 2}, y_cc=74)
    assert knobs.turned(cc(1, 0)) == ("curl", -2.0) and knobs.turned(cc(21, 127)) is None
    assert KnobControllers.from_config({}).turned(cc(21, 127)) is None  # an empty table: no knobs


@pytest.mark.parametrize("table, words", [
    ({"loudness": 21}, "no knob called 'loudness'"),
    ({"density": 120}, "density takes a controller number from 0 to 119, not 120"),
    ({"density": "21"}, "not '21'"),
    ({"density": True}, "not True"),
    ({"density": 74}, "controller 74 already drives y (cc); choose another for density"),
    ({"density": 21, "energy": 21}, "controller 21 turns two knobs"),
    ([21, 22], "midi_knobs must be a table"),
])
def test_a_wrong_table_is_a_clear_error(table, words):
    with pytest.raises(RobojamError) as caught:
        KnobControllers.from_config(table, y_cc=74)
    assert words in str(caught.value)


def test_a_config_files_midi_knobs_table_is_a_known_setting(tmp_path):
    config = tmp_path / "stage.toml"
    config.write_text("[midi_knobs]\ndensity = 30\ncurl = 31\n")
    assert load_config(config, set(DEFAULTS))["midi_knobs"] == {"density": 30, "curl": 31}


def test_an_inputs_knobs_steer_and_its_notes_and_y_still_play():
    posts, steers = [], []
    on_message = _poster(MidiMapping(), lambda path, args: posts.append((path, args)), KnobControllers(),
                         lambda name, value: steers.append((name, value)))
    for msg in (cc(21, 0), cc(74, 127), mido.Message("note_on", note=60, velocity=100), cc(25, 127)):
        on_message(msg)
    assert steers == [("density", -2.0), ("curl", 2.0)]
    assert [path for path, _ in posts] == ["/robojam/touch"] and posts[0][1][1] == MidiMapping().y_of(127)


def test_a_knob_turned_from_midi_steers_every_performer_and_those_to_come(server):
    server.handle_message("/robojam/touch", [0.5, 0.5, 0.5], None, "10.0.0.9", 100.0)
    server.handle_message("/robojam/touch", [0.5, 0.5, 0.5, "alice"], None, "10.0.0.9", 100.0)
    server.post_steer("energy", 1.5)
    server._take_incoming()
    server.handle_message("/robojam/touch", [0.5, 0.5, 0.5], None, "10.0.0.7", 100.1)
    assert {key: p.session.settings.energy for key, p in server.performers.items()} == {
        "10.0.0.9": 1.5, "10.0.0.9/alice": 1.5, "10.0.0.7": 1.5}
    server.handle_message("/robojam/steer", ["energy", -1.0], None, "10.0.0.7", 100.2)  # each may still turn theirs
    assert server.performers["10.0.0.9"].session.settings.energy == 1.5

"""Outside text on the console and in replies is cut short (#25 item 4)."""

import pytest

from oscpeer import running_server
from robojam import RobojamError
from robojam.core.shown import MOST, cut, shown
from robojam.live.limits import Limit


def test_short_text_shows_whole_and_long_text_is_cut_with_its_length():
    assert cut("x" * MOST) == "x" * MOST
    assert cut("x" * 10_000) == "x" * MOST + "... (10,000 characters)"
    assert shown("a\nb") == "'a\\nb'"  # a line break shows escaped, never breaks the console's line
    assert shown(10 ** 5000) == "a number too long to show"


def test_a_setting_out_of_range_names_its_value_short():
    with pytest.raises(RobojamError) as refused:
        Limit(0, 1).check("temp", "9" * 10_000 + ".5")
    assert len(str(refused.value)) < 2 * MOST


def test_a_huge_model_name_is_refused_in_a_short_reply():
    with running_server() as (server, sender, listener):
        server.handle_message("/robojam/model", ["../" * 3_500], None, "192.0.2.7", 0.0)
        listener.collect(2.0, until="/robojam/model/refused")
        refused = [args[0] for _, address, args in listener.received if address == "/robojam/model/refused"]
    assert len(refused) == 1 and len(refused[0]) < 3 * MOST and "10,502 characters" in refused[0]

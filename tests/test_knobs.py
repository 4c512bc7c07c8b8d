"""robojam serve's settings, declared once (robojam.live.knobs): everything else is made from the table."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from robojam import RobojamError
from robojam.cli import SERVE_DEFAULTS, main
from robojam.live.knobs import DEFAULTS, LIVE, MIDI_APIS, MODES, SCALES, SERVE


def serve_options() -> dict:
    return {p.name: p for p in main.commands["serve"].params}


def test_every_knob_is_a_serve_option_with_its_help_default_and_type():
    options = serve_options()
    for name, knob in SERVE.items():
        if knob.kind == "table":
            assert name not in options   # config files only
            continue
        option = options[name]
        assert option.help.startswith(knob.help), name
        assert option.default is None   # so that a preset or config file may set it; the default is shown
        if knob.default not in (None, [], False):
            assert f"[default: {knob.default}]" in option.help, name
        if knob.choices:
            assert isinstance(option.type, click.Choice) and tuple(option.type.choices) == knob.choices, name
    assert set(options) - set(SERVE) == {"config_path", "preset"}


def test_the_defaults_are_the_sessions_the_servers_and_the_merges():
    from robojam.live.server import ServerOptions
    from robojam.live.session import Settings

    assert SERVE_DEFAULTS is DEFAULTS
    settings, options = Settings(), ServerOptions()
    for name in LIVE + ("mode",):
        assert getattr(settings, name) == DEFAULTS[name], name
    for name in ("host", "port", "reply_port", "max_sessions", "session_timeout", "status_every", "seed"):
        assert getattr(options, name) == DEFAULTS[name], name


def test_the_choices_are_the_ones_the_code_plays():
    from robojam.live.midi_touch import MIDI_APIS as APIS, SCALES as INTERVALS

    assert SCALES == tuple(INTERVALS) and MIDI_APIS == tuple(APIS) and MODES == ("call-and-response", "duet")


@pytest.mark.parametrize("name, value", [("scale", "lydian"), ("midi_api", "pipewire"), ("mode", "solo"),
                                         ("mode", 5)])
def test_a_config_value_off_its_choices_is_refused_by_name(name, value):
    from robojam.live.assemble import build_server

    settings = dict(SERVE_DEFAULTS, host="127.0.0.1", port=0, no_log=True, **{name: value})
    with pytest.raises(RobojamError, match=f"{name.replace('_', '-')} must be one of"):
        build_server(settings).close()


def test_a_bad_choice_in_a_config_file_is_one_line(tmp_path):
    config = tmp_path / "stage.toml"
    config.write_text('scale = "lydian"\n')
    result = subprocess.run([sys.executable, "-m", "robojam", "serve", "--config", str(config), "--port", "0",
                             "--no-log"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "scale must be one of chromatic" in result.stderr
    assert "Traceback" not in result.stderr

"""Config files: a mistyped key is reported as written, with the nearest known key (robojam.config)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from robojam import RobojamError
from robojam.cli import SERVE_DEFAULTS
from robojam.config import load_config

KNOWN = set(SERVE_DEFAULTS)


@pytest.mark.parametrize("line, reported", [
    ("reply-prot = 5001", "reply-prot (did you mean reply-port?)"),
    ("reply_prot = 5001", "reply_prot (did you mean reply_port?)"),     # in the style it was written
    ("Reply-Port = 5001", "Reply-Port (did you mean reply-port?)"),
    ("tmep = 1.0", "tmep (did you mean temp?)"),
    ("max-sesions = 3", "max-sesions (did you mean max-sessions?)"),
    ("midi_out_port = 'x'", "midi_out_port (did you mean midi_out?)"),
    ("[adaptor]", "adaptor (did you mean adapter?)"),
    ("volume = 11", "volume;"),                                         # nothing near: no guess
    ('"tab\\tkey" = 1', "'tab\\tkey'"),                                 # unprintable: shown quoted
])
def test_a_mistyped_key_is_reported_as_written_with_the_nearest(tmp_path, line, reported):
    config = tmp_path / "stage.toml"
    config.write_text(line + "\n")
    with pytest.raises(RobojamError) as caught:
        load_config(config, KNOWN)
    message = str(caught.value)
    assert f"unknown setting(s) {reported}" in message
    assert "known: " in message and "reply-port" in message


def test_every_unknown_key_is_named_in_file_order(tmp_path):
    config = tmp_path / "stage.toml"
    config.write_text("port = 5000\nreply-prot = 5001\nvolume = 11\nthreshhold = 2\n")
    with pytest.raises(RobojamError, match=r"unknown setting\(s\) reply-prot \(did you mean reply-port\?\), "
                                           r"volume, threshhold \(did you mean threshold\?\);"):
        load_config(config, KNOWN)


def test_known_keys_either_way_still_load(tmp_path):
    config = tmp_path / "stage.toml"
    config.write_text("reply-port = 6001\nsigma_temp = 0.5\n")
    assert load_config(config, KNOWN) == {"reply_port": 6001, "sigma_temp": 0.5}


def test_serve_says_so_in_one_line(tmp_path):
    config = tmp_path / "stage.toml"
    config.write_text("reply-prot = 5001\n")
    result = subprocess.run([sys.executable, "-m", "robojam", "serve", "--config", str(config)],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "unknown setting(s) reply-prot (did you mean reply-port?)" in result.stderr
    assert "reply_prot" not in result.stderr

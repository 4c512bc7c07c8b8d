"""`robojam serve` as a musician runs it: a subprocess, spoken to by liblo's oscsend and
heard by liblo's oscdump (an OSC implementation no one here wrote)."""

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from robojam.config import load_config
from robojam.live.protocol import ADDRESSES, reference
from robojam.core.touchlog import read_log

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_serve(tmp_path, *args) -> tuple[subprocess.Popen, int]:
    """Start `robojam serve` on an ephemeral port; returns the process and its port."""
    process = subprocess.Popen(
        [sys.executable, "-m", "robojam", "serve", "--port", "0", "--log-dir", str(tmp_path / "logs"),
         "--status-every", "0", *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    lines = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if line.startswith("ready in") or not line:
            break
    text = "".join(lines)
    match = re.search(r"udp://127\.0\.0\.1:(\d+)", text)
    assert match and "ready in" in text, text
    return process, int(match.group(1))


def oscsend(port, address, types="", *args):
    subprocess.run(["oscsend", "127.0.0.1", str(port), address, types, *map(str, args)], check=True,
                   timeout=10)


def play_call(port, touches=15):
    for i in range(touches):
        oscsend(port, "/robojam/touch", "fff", 0.2 + 0.03 * i, 0.4, 0.5)
        time.sleep(0.015)


def test_every_address_is_in_the_protocol_reference():
    documented = re.findall(r"^### `(/robojam/[a-z_/]+)", reference(), flags=re.M)
    assert set(ADDRESSES) <= set(documented)


def test_serve_with_liblo_peers(tmp_path):
    dump_port = free_port()
    dump = subprocess.Popen(["oscdump", "-L", str(dump_port)], stdout=subprocess.PIPE, text=True)
    server, port = start_serve(tmp_path, "--send", f"127.0.0.1:{dump_port}", "--threshold", "0.6",
                               "--seconds", "1.5", "--seed", "3")
    try:
        time.sleep(0.3)
        play_call(port)
        time.sleep(2.5)
        oscsend(port, "/robojam/status")
        time.sleep(0.3)
    finally:
        server.send_signal(signal.SIGTERM)
        out, _ = server.communicate(timeout=10)
        dump.terminate()
        dumped, _ = dump.communicate(timeout=10)
    assert server.returncode == 0
    # the shipped model drafts its answer in the silence (the threshold's second half is ample for it)
    assert "stopped: 1 performer(s), 15 touches heard, 1 responses (1 drafted), 0 dropped" in out
    stamped = [line.split(" ", 1) for line in dumped.splitlines() if " " in line]
    lines = [message for _, message in stamped]
    assert lines[0].startswith("/robojam/response/start")
    touches = [line for line in lines if line.startswith("/robojam/response/touch fff ")]
    assert len(touches) >= 1
    response_end = next(i for i, line in enumerate(lines) if line.startswith("/robojam/response/end"))
    assert lines[response_end - 1].startswith("/robojam/response/up")
    # oscdump stamps each message with its arrival time (NTP seconds.fraction in hex)
    arrival = [int(a, 16) + int(b, 16) / 2**32 for a, b in (stamp.split(".") for stamp, _ in stamped)]
    assert 0 < arrival[response_end] - arrival[0] <= 1.5 + 0.05
    assert any(line.startswith("/robojam/status ss") and '"model" "default" "sessions" 1 "received" 16' in line
               for line in lines)
    log = next((tmp_path / "logs").glob("*.csv"))
    assert sum(len(p) for p in read_log(log, sources=("performer",))) == 15
    assert sum(len(p) for p in read_log(log, sources=("robojam",))) == len(touches)


def test_sigkill_loses_no_logged_touch(tmp_path):
    server, port = start_serve(tmp_path, "--threshold", "30")
    play_call(port, touches=25)
    time.sleep(0.5)
    server.kill()
    server.wait(10)
    log = next((tmp_path / "logs").glob("*.csv"))
    assert sum(len(p) for p in read_log(log)) == 25


def test_corrupt_model_fails_at_start_with_a_clear_message(tmp_path):
    model = tmp_path / "broken"
    model.mkdir()
    (model / "model.json").write_text("{not json")
    result = subprocess.run([sys.executable, "-m", "robojam", "serve", "--model", str(model), "--port", "0"],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 1
    assert "model.json is not valid JSON" in result.stderr and "Traceback" not in result.stderr


def test_missing_midi_port_is_a_clear_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "robojam", "serve", "--port", "0", "--midi-out", "NoSuchSynth",
                             "--no-log"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 1
    assert "NoSuchSynth" in result.stderr and "Traceback" not in result.stderr


def test_config_files_and_presets_merge_under_the_command_line(tmp_path):
    from robojam.cli import SERVE_DEFAULTS, _merge_serve_settings

    config = tmp_path / "stage.toml"
    config.write_text('port = 6000\nreply-port = 6001\nsend = ["127.0.0.1:7000"]\nthreshold = 0.8\n')
    merged = _merge_serve_settings(config, "ensemble", {"threshold": 2.5, "port": None})
    assert (merged["port"], merged["reply_port"], merged["send"]) == (6000, 6001, ["127.0.0.1:7000"])
    assert merged["threshold"] == 2.5                        # the command line wins
    assert merged["max_sessions"] == 32                      # from the preset
    assert merged["temp"] == SERVE_DEFAULTS["temp"]
    bad = tmp_path / "bad.toml"
    bad.write_text("volume = 11\n")
    result = subprocess.run([sys.executable, "-m", "robojam", "serve", "--config", str(bad)],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 1 and "unknown setting(s) volume" in result.stderr
    result = subprocess.run([sys.executable, "-m", "robojam", "serve", "--preset", "nowhere"],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 1 and "no preset 'nowhere'" in result.stderr
    for preset in (ROOT / "server" / "presets").glob("*.toml"):
        load_config(preset, set(SERVE_DEFAULTS))  # every shipped preset is valid


@pytest.fixture
def tiny_disk(tmp_path):
    """A 64 kB file system of its own (tmpfs; mounting needs root, as CI and the dev machines have)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=True)


def fill(disk) -> Path:
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 1024)
        except OSError:
            pass
    return filler


def test_a_full_log_disk_warns_once_plays_on_and_logs_again_when_space_returns(tmp_path, tiny_disk):
    server, port = start_serve(tmp_path, "--log-dir", tiny_disk, "--threshold", "0.3", "--seconds", "2")
    try:
        filler = fill(tiny_disk)  # the log has what is left of its first 4 kB page: about 90 touches
        for i in range(100):
            oscsend(port, "/robojam/touch", "fff", 0.2 + 0.006 * i, 0.4, 0.5)
        time.sleep(2.8)  # the response plays on, unlogged
        filler.unlink()
        time.sleep(1.1)  # past the retry interval
        play_call(port, touches=10)
        time.sleep(0.5)
    finally:
        server.send_signal(signal.SIGINT)
        out, _ = server.communicate(timeout=10)
    assert server.returncode == 0 and "Traceback" not in out
    assert out.count("cannot write the touch log (No space left on device)") == 1
    assert "playing on, touches go unlogged until it can write again" in out
    assert "writing the touch log again" in out
    stopped = next(line for line in out.splitlines() if line.startswith("stopped:"))
    assert re.search(r"110 touches heard, 2 responses( \(\d drafted\))?, 0 dropped", stopped)
    unlogged = int(re.search(r"(\d+) unlogged", stopped).group(1))
    logged = sum(len(p) for p in read_log(next(tiny_disk.glob("*.csv")), sources=("performer", "robojam"), gap=1e9))
    assert unlogged >= 10 and logged >= 10  # the first response went partly unlogged, the second call logged

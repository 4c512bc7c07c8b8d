"""The light install (`pip install .`, no extras: here the wheel it builds) as a stage machine gets it: a
fresh virtual environment without TensorFlow, Keras or scikit-learn, running the main jobs."""

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

BOUNDARY_CHECK = """
import importlib, pkgutil, sys
import robojam
for info in pkgutil.walk_packages(robojam.__path__, "robojam."):
    if not info.name.startswith("robojam.train") and info.name != "robojam.__main__":
        importlib.import_module(info.name)
print(sorted(m for m in ("tensorflow", "keras", "keras_mdn_layer", "sklearn") if m in sys.modules))
"""


@pytest.fixture(scope="module")
def light_venv(tmp_path_factory, robojam_wheel) -> Path:
    """A fresh environment given robojam's wheel and what it depends on, by this environment's pip
    (the environment's own pip and compiled bytecode would only cost the run time)."""
    venv = tmp_path_factory.mktemp("light") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                    "--no-compile", "--disable-pip-version-check", str(robojam_wheel)],
                   check=True, timeout=900, capture_output=True)
    return venv / "bin"


def run(bin_dir: Path, *args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(bin_dir / args[0]), *map(str, args[1:])], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def test_light_install_brings_no_tensorflow_and_imports_none(light_venv):
    missing = run(light_venv, "python", "-c", "import importlib.util as u; "
                  "print([m for m in ('tensorflow', 'keras', 'sklearn') if u.find_spec(m)])")
    assert missing.stdout.strip() == "[]", missing.stdout + missing.stderr
    loaded = run(light_venv, "python", "-c", BOUNDARY_CHECK)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "[]"


def test_light_install_responds_to_a_call(light_venv, tmp_path):
    out = run(light_venv, "robojam", "respond", ROOT / "examples" / "call.csv", "-o", tmp_path / "r.csv",
              "--seed", "1", "--midi", tmp_path / "r.mid")
    assert out.returncode == 0, out.stderr
    rows = (tmp_path / "r.csv").read_text().splitlines()
    assert rows[0].startswith("time,x,y") and len(rows) > 1
    assert (tmp_path / "r.mid").read_bytes().startswith(b"MThd")
    # the full install (the one running these tests) plays the very same answer
    full = subprocess.run([sys.executable, "-m", "robojam", "respond", ROOT / "examples" / "call.csv",
                           "-o", tmp_path / "full.csv", "--seed", "1"], capture_output=True, text=True, timeout=120)
    assert full.returncode == 0, full.stderr
    assert (tmp_path / "full.csv").read_text() == (tmp_path / "r.csv").read_text()


def test_light_install_serves_and_stops_cleanly(light_venv, tmp_path):
    process = subprocess.Popen([str(light_venv / "robojam"), "serve", "--port", "0", "--no-log",
                                "--status-every", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, cwd=tmp_path)
    lines, deadline = [], time.monotonic() + 30
    while time.monotonic() < deadline and not (lines and lines[-1].startswith("ready in")):
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=20)
    text = "".join(lines) + rest
    assert re.search(r"listening for OSC on udp://127\.0\.0\.1:\d+", text), text
    assert "ready in" in text and "stopped:" in text and "Traceback" not in text
    assert process.returncode == 0


@pytest.mark.parametrize("command, extra", [
    (["train", "CORPUS", "-o", "m"], "train"),
    (["bench", "--no-live"], "train"),
])
def test_light_install_names_the_extra_a_command_needs(light_venv, tmp_path, command, extra):
    corpus = tmp_path / "c.csv"
    corpus.write_text("time,x,y\n0,0.1,0.1\n0.1,0.2,0.2\n")
    out = run(light_venv, "robojam", *[str(corpus) if a == "CORPUS" else a for a in command], cwd=tmp_path)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and f'pip install "robojam[{extra}]"' in lines[0], out.stderr

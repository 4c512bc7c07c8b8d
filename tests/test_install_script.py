"""scripts/install-debian-packages: what it installs, with apt-get and sudo stood in for; bash 3.2's limits."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent  # the checkout (robojam itself may be installed elsewhere)
SCRIPT = ROOT / "scripts" / "install-debian-packages"


def stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


def test_a_missing_package_is_installed_through_sudo(tmp_path):
    calls = tmp_path / "calls"
    stub(tmp_path, "python3", "exit 1")                      # no venv module: python3-venv is missing
    stub(tmp_path, "id", "echo 1000")                        # not root
    stub(tmp_path, "sudo", f'echo "$*" >> {calls}')
    stub(tmp_path, "apt-get", "exit 0")
    env = dict(os.environ, PATH=f"{tmp_path}:{os.environ['PATH']}")
    result = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "installing Debian packages: python3-venv\n"
    lines = calls.read_text().splitlines()
    assert lines[0] == "apt-get update -qq"
    assert lines[1].startswith("env DEBIAN_FRONTEND=noninteractive apt-get install")
    assert lines[1].endswith(" python3-venv")


def test_nothing_missing_is_nothing_done(tmp_path):
    stub(tmp_path, "python3", "exit 0")
    stub(tmp_path, "apt-get", f"touch {tmp_path / 'ran'}")
    env = dict(os.environ, PATH=f"{tmp_path}:{os.environ['PATH']}")
    result = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=30)
    assert result.returncode == 0 and result.stdout == "" and not (tmp_path / "ran").exists()


def test_it_uses_nothing_bash_3_2_lacks():
    text = SCRIPT.read_text()
    for newer in ("declare -A", "local -A", "mapfile", "readarray", "${!", ",,}", "^^}", "|&", "&>>"):
        assert newer not in text, newer


def test_ci_runs_exactly_the_readmes_test_command():
    readme = (ROOT / "README.md").read_text()
    command = next(line for line in readme.splitlines() if line.startswith("scripts/install-debian-packages --tests"))
    assert "ruff check" in command and command.endswith("pytest")
    assert (ROOT / ".ci" / "run").read_text().rstrip().endswith(command)


def test_the_readme_stays_a_guide():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 400
    for guide in ("model", "speed", "formats", "security", "development", "mutation-pragmas"):
        assert f"docs/{guide}.md" in readme and (ROOT / "docs" / f"{guide}.md").is_file(), guide

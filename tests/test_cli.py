"""The robojam command line, run as a user runs it: in a subprocess."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import click
import pytest

from robojam.core.performance import read_csv
from synthetic import synthetic_corpus
from test_corpus import raw_corpus_file

COMMANDS = ["respond", "train", "eval", "plot", "bench", "import"]

EXAMPLE_CALL = Path(__file__).resolve().parent.parent / "examples" / "call.csv"  # in the checkout


def robojam(*args, check=True, cwd=None):
    """Run the CLI away from the source tree, so the installed package is what runs."""
    result = subprocess.run([sys.executable, "-m", "robojam", *map(str, args)], capture_output=True, text=True,
                            timeout=600, cwd=cwd or Path(__file__).parent)
    if check and result.returncode != 0:
        raise AssertionError(f"robojam {' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}")
    return result


def robojam_here(*args, check=True):
    """Run a command in this process: for tests that train often, where each subprocess would import TensorFlow again.

    Returns what `robojam` does (returncode, stdout, stderr); one subprocess test still runs each command as installed.
    """
    from types import SimpleNamespace

    from click.testing import CliRunner

    from robojam.cli import main

    result = CliRunner().invoke(main, list(map(str, args)))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    if check and result.exit_code != 0:
        raise AssertionError(f"robojam {' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}")
    return SimpleNamespace(returncode=result.exit_code, stdout=result.stdout, stderr=result.stderr)


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "robojam"
    assert script.exists()
    assert "respond" in subprocess.run([script, "--help"], capture_output=True, text=True).stdout


def test_every_option_of_every_command_has_help_text():
    """Read from the commands themselves (not their --help pages, where a type name looks like help)."""
    from robojam.cli import main

    commands = main.commands
    assert {"serve", "play", "protocol", "import", *COMMANDS} <= set(commands)
    missing = [f"robojam {name} {'/'.join(option.opts)}" for name, command in commands.items()
               for option in command.params if isinstance(option, click.Option) and not (option.help or "").strip()]
    assert not missing, f"options without help text: {missing}"
    assert all((command.help or "").strip() for command in commands.values())


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_prints_its_help(command):
    out = robojam(command, "--help").stdout
    assert out.startswith("Usage: ") and f"robojam {command} [OPTIONS]" in out and "--help" in out


@pytest.fixture(scope="module")
def example_call(tmp_path_factory):
    path = tmp_path_factory.mktemp("call") / "call.csv"
    from robojam.tools.demo import demo_call
    from robojam.core.performance import write_csv
    write_csv(demo_call(3.0), path)
    return path


def test_respond_on_the_shipped_model(tmp_path, example_call):
    out = tmp_path / "response.csv"
    result = robojam("respond", example_call, "-o", out, "--seconds", 4, "--seed", 1)
    assert "touches over" in result.stdout
    response = read_csv(out)
    assert 0 < response.duration <= 4.0 and response.duration > 2.0
    assert ((response.events[:, 1:3] >= 0) & (response.events[:, 1:3] <= 1)).all()
    again = tmp_path / "again.csv"
    robojam("respond", example_call, "-o", again, "--seconds", 4, "--seed", 1)
    assert out.read_text() == again.read_text()


def test_respond_errors_are_one_clear_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("time,x,y\n0,0.5,zebra\n")
    result = robojam("respond", bad, "-o", tmp_path / "r.csv", check=False)
    assert result.returncode == 1
    assert "bad.csv, line 2: y 'zebra' is not a number" in result.stderr
    assert "Traceback" not in result.stderr
    result = robojam("respond", bad, "-o", tmp_path / "r.csv", "--model", tmp_path, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    result = robojam("respond", bad, "-o", tmp_path / "r.csv", "--temp", "-1", check=False)
    assert result.returncode == 2 and "--temp" in result.stderr


def test_plot_draws_call_and_response(tmp_path, example_call):
    response = tmp_path / "response.csv"
    robojam("respond", example_call, "-o", response, "--seed", 2, "--plot", tmp_path / "both.png")
    robojam("plot", example_call, response, "-o", tmp_path / "pair.png")
    for png in ("both.png", "pair.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_eval_respond_a_tiny_model_end_to_end(tmp_path, example_call):
    corpus = tmp_path / "corpus.npz"
    raw_corpus_file(corpus, synthetic_corpus(50, seed=4))
    folder = tmp_path / "csvs"
    folder.mkdir()
    from robojam.core.performance import Performance, write_csv
    for i, perf in enumerate(synthetic_corpus(10, seed=5)):
        write_csv(Performance.from_xy_dt(perf), folder / f"p{i}.csv")
    model = tmp_path / "tiny"
    result = robojam("train", corpus, folder, "-o", model, "--units", 8, "--mixtures", 2, "--seq-len", 16,
                     "--epochs", 3, "--seed", 1)
    assert "saved" in result.stdout and "validation score" in result.stdout
    assert "oneDNN" not in result.stderr and "absl" not in result.stderr
    meta = json.loads((model / "model.json").read_text())
    assert meta["architecture"] == {"layers": 2, "units": 8, "mixtures": 2, "input_dim": 11, "output_dim": 3}
    assert meta["training"]["train"]["performances"] + meta["training"]["val"]["performances"] <= 60
    assert (model / "checkpoints" / "weights.npz").exists()

    score = json.loads(robojam("eval", corpus, "--model", model, "--json").stdout)
    assert set(score) == {"nll_per_event", "events", "performances"}
    assert score["performances"] == 50 and np.isfinite(score["nll_per_event"])
    test_only = json.loads(robojam("eval", corpus, "--model", model, "--split", "test", "--json").stdout)
    assert test_only["performances"] < 50
    yardstick = json.loads(robojam("eval", corpus, "--yardstick", "--json").stdout)
    assert np.isfinite(yardstick["nll_per_event"])
    assert "nats/event" in robojam("eval", corpus, "--model", model).stdout

    out = tmp_path / "r.csv"
    robojam("respond", example_call, "-o", out, "--model", model, "--seconds", 2, "--seed", 0)
    assert read_csv(out).duration <= 2.0

    mine = tmp_path / "mine.npz"
    raw_corpus_file(mine, synthetic_corpus(30, seed=9))
    tuned = tmp_path / "tuned"
    result = robojam_here("train", mine, "-o", tuned, "--from", model, "--epochs", 4, "--seed", 2)
    assert "fine-tuning gained" in result.stdout
    meta = json.loads((tuned / "model.json").read_text())
    assert meta["architecture"]["units"] == 8
    assert meta["encoding"] == json.loads((model / "model.json").read_text())["encoding"]
    assert meta["training"]["base"] == str(model) and meta["training"]["learning_rate"] == 3e-5
    assert meta["score"]["nll_per_event"] < meta["base_score"]["nll_per_event"]  # it learned the new data
    wild = tmp_path / "wild"  # a learning rate that wrecks the model: the base is kept, unchanged
    result = robojam_here("train", mine, "-o", wild, "--from", tuned, "--lr", 50, "--epochs", 2, "--seed", 2)
    assert "the base model was saved unchanged" in result.stdout
    kernels = [np.load(folder / "weights.npz")["lstm0_kernel"].tobytes() for folder in (wild, tuned)]
    assert kernels[0] == kernels[1]
    clash = robojam_here("train", mine, "-o", tmp_path / "x", "--from", model, "--units", 16, check=False)
    assert clash.returncode == 1 and "--units does not apply when fine-tuning" in clash.stderr


def test_bench_reports_the_documented_keys():
    result = json.loads(robojam("bench", "--json", "--no-keras", "--no-litert", "--no-live", "--no-midi",
                                "--steps", 200).stdout)
    for key in ("step_ms_median", "step_ms_p99", "respond_5s_ms_median", "layers", "units", "mixtures",
                "respond_drafts_ms_median", "drafts_over_one_ratio"):
        assert result[key] > 0
    assert result["respond_drafts"] == 8  # the shipped model has a selector
    assert "litert_step_ms_median" not in result


def test_bench_times_the_litert_reference_in_the_same_run():
    run = robojam("bench", "--json", "--no-keras", "--no-live", "--no-midi", "--steps", 200)
    # robojam's own lines only
    assert "oneDNN" not in run.stderr and "absl" not in run.stderr and "XNNPACK" not in run.stderr
    result = json.loads(run.stdout)
    assert result["litert_step_ms_median"] > 0 and result["litert_step_ms_p99"] >= result["litert_step_ms_median"]
    assert result["litert_over_engine_ratio"] == result["litert_step_ms_median"] / result["step_ms_median"]


def test_the_shipped_model_by_its_name_default(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from robojam.cli import main
    from robojam.live.assemble import _model

    monkeypatch.chdir(tmp_path)   # no folder called default here
    runner = CliRunner()
    shown = runner.invoke(main, ["tune", "default"])
    assert shown.exit_code == 0 and "shape temp" in shown.output, shown.output
    answered = runner.invoke(main, ["respond", str(EXAMPLE_CALL), "-o", "r.csv",
                                    "--model", "default", "--seed", "1"])
    assert answered.exit_code == 0 and (tmp_path / "r.csv").exists(), answered.output
    assert _model({"model": "default"}) is None
    (tmp_path / "default").mkdir()   # a folder of that name wins, as for /robojam/model
    assert runner.invoke(main, ["tune", "default"]).exit_code == 1


def test_sampling_controls_are_model_builders_under_tune_and_still_reachable(tmp_path):
    """Players' help shows knobs; the eight sampling controls are out of the way but work (#24)."""
    from click.testing import CliRunner

    from robojam.cli import main

    runner = CliRunner()
    for command in ("respond", "eval", "serve"):
        shown = runner.invoke(main, [command, "--help"]).output
        listed = re.findall(r"^\s+(--[a-z-]+)", shown, re.MULTILINE)  # the options' own lines
        assert "--steer" in listed or "--density" in listed, command
        assert not {"--temp", "--sigma-temp", "--rim", "--echo"} & set(listed), command
        assert "robojam tune --help" in shown, command
    tune = runner.invoke(main, ["tune", "--help"]).output
    for option in ("--temp", "--sigma-temp", "--shape", "--rhythm", "--gap-tilt", "--rim", "--rim-keep", "--echo"):
        assert option in tune
    answered = runner.invoke(main, ["respond", str(EXAMPLE_CALL), "-o", str(tmp_path / "r.csv"), "--seed", "1",
                                    "--temp", "0.5", "--rim", "0.1", "--shape-temp", "0.5"])
    assert answered.exit_code == 0, answered.output
    refused = runner.invoke(main, ["respond", str(EXAMPLE_CALL), "-o", str(tmp_path / "r.csv"), "--rim", "9"])
    assert refused.exit_code == 2 and "--rim" in refused.output

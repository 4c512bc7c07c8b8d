"""Shared fixtures: small synthetic performances and tiny random models; Hypothesis's profiles."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from synthetic import random_model, synthetic_corpus
from robojam.core.modelfile import Model


@pytest.fixture
def tiny_model() -> Model:
    return random_model()


@pytest.fixture
def quick_judges(monkeypatch):
    """The realism report's judges with fewer trees and smaller leaves, on one thread: tests check what they
    do on small data, not how finely they are tuned for the corpus."""
    from threadpoolctl import threadpool_limits
    from robojam.train import judges
    monkeypatch.setattr(judges, "CLASSIFIER", {**judges.CLASSIFIER, "max_iter": 15, "min_samples_leaf": 5})
    with threadpool_limits(1):
        yield


@pytest.fixture
def corpus() -> list[np.ndarray]:
    return synthetic_corpus(40)


@pytest.fixture(scope="session")
def robojam_wheel(tmp_path_factory) -> Path:
    """This checkout built into a wheel, once a run (without build isolation: no index needed)."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), str(Path(__file__).resolve().parent.parent)],
                   check=True, capture_output=True, timeout=300)
    return next(out.glob("robojam-*.whl"))


# The fuzz tests (test_fuzz.py): the default profile gives each parser a fixed, derandomized budget
# (the same examples every run, well within CI's minutes on 2 cores); HYPOTHESIS_PROFILE=long
# searches 33 times as long with fresh examples each run, by hand.
_FUZZ = dict(deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("default", max_examples=300, derandomize=True, database=None, **_FUZZ)
settings.register_profile("long", max_examples=10000, **_FUZZ)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


# The tests run the code in this working tree. With an editable install (pip install -e .) robojam is
# imported from here; with a plain install (what .ci/run and users do) it is imported from site-packages,
# which is fine as long as it holds the same code. An installed copy that differs from the checkout
# (robojam/ edited since the last pip install) stops the run at once, since the tests would silently run
# the stale copy. ROBOJAM_TEST_INSTALLED=1 tests whatever copy is installed, on purpose.
def pytest_configure(config):
    import filecmp
    from pathlib import Path

    import robojam

    checkout = Path(__file__).resolve().parent.parent / "robojam"
    imported = Path(robojam.__file__).resolve().parent
    if imported == checkout or os.environ.get("ROBOJAM_TEST_INSTALLED") == "1" or not checkout.is_dir():
        return
    differ = sorted(str(f.relative_to(checkout)) for f in checkout.rglob("*.py")
                    if not (imported / f.relative_to(checkout)).is_file()
                    or not filecmp.cmp(f, imported / f.relative_to(checkout), shallow=False))
    if differ:
        raise pytest.UsageError(
            f"the tests would run robojam from {imported}, not this checkout's {checkout}, and "
            f"{len(differ)} module(s) differ ({', '.join(differ[:3])}{', ...' if len(differ) > 3 else ''}): "
            "pip install -e . to develop, reinstall, or set ROBOJAM_TEST_INSTALLED=1 to test the installed copy")


# The quick lane (`pytest -m quick`, docs/development.md): the tests that need only the light install's
# code (the numpy core, the live server, its web app), about a minute on two cores for the edit-test loop.
# What needs TensorFlow, scikit-learn, Chromium, JACK or fluidsynth stays out of it; .ci/run runs all.
QUICK_FILES = {
    "test_performance.py", "test_performance_mutants.py", "test_session.py", "test_session_mutants.py",
    "test_mixture.py", "test_mixture_mutants.py", "test_encoding.py", "test_encoding_mutants.py",
    "test_engine_mutants.py", "test_registry.py", "test_protocol_handlers.py", "test_server.py",
    "test_adapters.py", "test_http_api.py", "test_web.py", "test_touchlog.py", "test_corpus.py",
    "test_config_keys.py", "test_model_swap.py", "test_knobs.py", "test_install_script.py", "test_modelfile.py",
    "test_echo.py", "test_temperatures.py", "test_import.py", "test_hardening.py", "test_console_gate.py",
    "test_hostile_files.py", "test_bounded_lines.py", "test_import_questions.py", "test_shown.py",
    "test_plan.py", "test_mutation_pragmas.py",
}
NOT_QUICK = {"test_the_page_plays_in_a_real_browser", "test_eval_realism_reports_and_takes_temperatures"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in QUICK_FILES and item.originalname not in NOT_QUICK:
            item.add_marker(pytest.mark.quick)

"""The soak, as CI runs it: 8 performers for one minute against a real robojam serve."""

import json
import subprocess
import sys


def test_a_minute_of_eight_performers_answers_every_call_and_drops_nothing():
    result = subprocess.run([sys.executable, "-m", "robojam", "bench", "--soak", "1", "--performers", "8", "--json"],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    [minute] = report["minutes"]
    assert minute["calls_answered"] >= 8 * 15  # a cycle takes about 2 s: every performer kept playing
    assert report["calls_unanswered"] == 0  # every call's answer came back, told apart by session id
    assert report["drops"] == {}  # valid input: nothing dropped, for any reason
    assert minute["responses"] >= minute["calls_answered"] and minute["response_touches"] > 20 * minute["responses"]
    assert 10 < minute["rss_mb"] < 500 and minute["first_response_ms_p99"] > 0

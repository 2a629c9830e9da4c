"""`python -m bench.run --quick` end to end: it measures every scenario and stops by itself.

The runner starts its own mock upstream and gateway on a temporary SQLite data
dir (placed under this test's tmp_path through TMPDIR), so this test needs no
test database.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bench.scenarios import LOG_BODY_VARIANTS, SCENARIOS

ROOT = Path(__file__).resolve().parent.parent
#: The whole quick run, startup and shutdown included.
TIME_LIMIT_S = 120
#: After SIGTERM at the time limit, how long the runner has to stop its children.
STOP_GRACE_S = 30


def run_quick_benchmark(tmp_path: Path, results: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TMPDIR": str(tmp_path),
        "SWITCHBOARD_DATA_DIR": str(tmp_path / "data"),
    }
    env.pop("DATABASE_URL", None)
    command = [sys.executable, "-m", "bench.run", "--quick", "--json", str(results)]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=TIME_LIMIT_S)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)  # the runner stops what it started
        try:
            stdout, stderr = process.communicate(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
        pytest.fail(f"bench.run --quick took over {TIME_LIMIT_S}s:\n{stdout}\n{stderr}")
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def test_it_measures_every_scenario_without_errors_in_quick_mode(tmp_path: Path) -> None:
    results = tmp_path / "results.json"

    done = run_quick_benchmark(tmp_path, results)

    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert "gateway rps" in done.stdout
    assert "gateway peak RSS" in done.stdout
    for scenario in SCENARIOS:
        assert scenario.name in done.stdout
    document = json.loads(results.read_text())
    assert [s["name"] for s in document["scenarios"]] == [s.name for s in SCENARIOS]
    for scenario in document["scenarios"]:
        for side in ("direct", "gateway"):
            assert scenario[side]["errors"] == 0, (scenario["name"], side, scenario[side])
            assert scenario[side]["ok"] > 0, (scenario["name"], side)
    assert [v["name"] for v in document["gateway_variants"]] == [v.name for v in LOG_BODY_VARIANTS]
    for variant in document["gateway_variants"]:
        assert variant["gateway"]["errors"] == 0, variant
        assert variant["gateway"]["ok"] > 0, variant["name"]
    assert document["errors"] == 0
    assert document["gateway_peak_rss_kib"] > 0

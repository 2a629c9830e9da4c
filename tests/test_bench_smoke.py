"""`python -m bench.run --quick` end to end: it measures every section and stops by itself.

The runner starts its own mock upstream and gateway on a temporary SQLite data
dir (placed under a tmp path through TMPDIR), so these tests need no test
database. One quick run (module fixture) serves every test here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bench.measure import uvicorn_missing
from bench.scenarios import (
    LOG_BODY_VARIANTS,
    MEMORY_ROUNDS,
    SCENARIOS,
    SERVER_SCENARIOS,
    TRANSLATED_SCENARIOS,
    WORKER_COUNTS,
)

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


@dataclass(frozen=True)
class QuickRun:
    done: subprocess.CompletedProcess[str]
    document: dict[str, Any]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> QuickRun:
    tmp_path = tmp_path_factory.mktemp("bench")
    results = tmp_path / "results.json"
    done = run_quick_benchmark(tmp_path, results)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    return QuickRun(done=done, document=json.loads(results.read_text()))


def test_it_measures_every_scenario_without_errors_in_quick_mode(quick_run: QuickRun) -> None:
    done, document = quick_run.done, quick_run.document

    assert "gateway rps" in done.stdout
    assert "gateway peak RSS" in done.stdout
    for scenario in SCENARIOS:
        assert scenario.name in done.stdout
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


def test_quick_mode_also_covers_translation_servers_workers_and_memory(
    quick_run: QuickRun,
) -> None:
    done, document = quick_run.done, quick_run.document

    translated = [s for s in document["scenarios"] if s["translated"]]
    assert [s["name"] for s in translated] == [s.name for s in TRANSLATED_SCENARIOS]
    assert all(s["upstream_wire"] == "openai" for s in translated)
    assert len(document["translation"]) == len(TRANSLATED_SCENARIOS)
    assert [w["workers"] for w in document["workers"]] == list(WORKER_COUNTS)
    two = document["workers"][-1]
    assert len(two["gateway"]["worker_cpu_s"]) == 2
    assert all(seconds is not None for seconds in two["gateway"]["worker_cpu_s"]), two
    servers = {(r["server"], r["scenario"]) for r in document["servers"]}
    expected = ["daphne"] + ([] if uvicorn_missing() else ["uvicorn"])
    assert servers == {(s, name) for s in expected for name in SERVER_SCENARIOS}
    rounds = document["memory"]["rounds"]
    assert len(rounds) == MEMORY_ROUNDS
    assert all(r["errors"] == 0 and r["ok"] > 0 and r["rss_kib"] > 0 for r in rounds)
    assert document["peer"] is None
    assert {t["name"] for t in document["targets"]} >= {"json c=1: added p50 latency"}
    for section in ("translation (", "ASGI servers", "workers:", "memory:", "issue #6 targets"):
        assert section in done.stdout

"""The system under test, started and stopped as one: mock upstream, data dir, gateway.

`BenchStack` starts the mock (pinned to one core), runs `manage.py migrate`
for a fresh temporary data dir (which seeds the `anthropic` provider at the
mock's URL), then starts the gateway with the README's `daphne` command
(pinned to the other core). `stop()` ends every child it started and removes
the temporary directory; use it as a context manager so that happens on
errors and Ctrl-C too.

The children get a clean environment: inherited SWITCHBOARD_*, DATABASE_URL
and REDIS_URL are dropped so a developer's settings cannot skew the numbers
or touch a real database.

To measure OpenAI translation later: after `migrate`, create an `openai`-format
provider at `mock_url` and a model alias routed to it (e.g. with
`manage.py shell -c`), then add a Scenario with `upstream_wire="openai"` and
that alias as `model` (see bench/scenarios.py).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from bench.mock_upstream import DEFAULT_CHUNK_DELAY_MS, DEFAULT_CHUNKS, HEALTH_PATH
from bench.processes import (
    ROOT,
    CorePlan,
    ManagedProcess,
    free_port,
    spawn,
    stop_all,
    wait_until_ready,
)

GATEWAY_HEALTH_PATH = "/healthz"
MOCK_START_TIMEOUT_S = 15.0
GATEWAY_START_TIMEOUT_S = 60.0
MIGRATE_TIMEOUT_S = 120.0
#: Variables of the caller's environment that never reach the children.
DROPPED_ENV_PREFIXES = ("SWITCHBOARD_",)
DROPPED_ENV_NAMES = frozenset({"DATABASE_URL", "REDIS_URL"})


@dataclass(frozen=True)
class StackOptions:
    chunks: int = DEFAULT_CHUNKS
    chunk_delay_ms: float = DEFAULT_CHUNK_DELAY_MS
    cores: CorePlan | None = None
    #: The Switchboard checkout to run (manage.py and proxysite/ in it).
    gateway_root: Path = ROOT
    #: Extra SWITCHBOARD_* settings for the gateway.
    gateway_env: Mapping[str, str] = field(default_factory=dict)


def add_gateway_root_argument(parser: argparse.ArgumentParser) -> None:
    """`--gateway-root`: measure another checkout, e.g. a `git archive` of an older commit."""
    parser.add_argument(
        "--gateway-root",
        type=Path,
        default=ROOT,
        help="Switchboard checkout to run (default: this one)",
    )


def clean_environment() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if name not in DROPPED_ENV_NAMES and not name.startswith(DROPPED_ENV_PREFIXES)
    }


class BenchStack:
    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.workdir = Path(tempfile.mkdtemp(prefix="switchboard-bench-"))
        self.data_dir = self.workdir / "data"
        self.mock_port = free_port()
        self.gateway_port = free_port()
        self.mock: ManagedProcess | None = None
        self.gateway: ManagedProcess | None = None
        self._gateway_starts = 0

    @property
    def mock_url(self) -> str:
        return f"http://127.0.0.1:{self.mock_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def gateway_env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {
            **clean_environment(),
            "SWITCHBOARD_DATA_DIR": str(self.data_dir),
            "SWITCHBOARD_UPSTREAM_URL": self.mock_url,
            "PYTHONUNBUFFERED": "1",
            **self.options.gateway_env,
            **(extra or {}),
        }

    # --- starting ------------------------------------------------------------------
    def start(self) -> BenchStack:
        """Mock, migrate, gateway; stops whatever started if a later step fails."""
        try:
            self._start_mock()
            self.migrate()
            self.start_gateway()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_mock(self) -> None:
        cores = self.options.cores
        command = [
            sys.executable,
            "-m",
            "bench.mock_upstream",
            "--port",
            str(self.mock_port),
            "--chunks",
            str(self.options.chunks),
            "--chunk-delay-ms",
            str(self.options.chunk_delay_ms),
        ]
        self.mock = spawn(
            "mock",
            command,
            env=clean_environment(),
            log_dir=self.workdir,
            core=cores.mock if cores else None,
        )
        wait_until_ready(self.mock, self.mock_port, HEALTH_PATH, MOCK_START_TIMEOUT_S)

    def migrate(self) -> None:
        """`manage.py migrate` for the data dir; seeds the `anthropic` provider at the mock."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=self.options.gateway_root,
            env=self.gateway_env(),
            capture_output=True,
            timeout=MIGRATE_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace")[-4000:]
            raise RuntimeError(f"migrate failed:\n{output}")

    def start_gateway(self, extra_env: Mapping[str, str] | None = None) -> ManagedProcess:
        """(Re)start the gateway on the same port, with `extra_env` on top of the options."""
        if self.gateway is not None:
            self.gateway.stop()
        cores = self.options.cores
        self._gateway_starts += 1
        command = [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(self.gateway_port),
            "proxysite.asgi:application",
        ]
        self.gateway = spawn(
            f"gateway-{self._gateway_starts}",
            command,
            env=self.gateway_env(extra_env),
            log_dir=self.workdir,
            core=cores.gateway if cores else None,
            cwd=self.options.gateway_root,
        )
        wait_until_ready(
            self.gateway, self.gateway_port, GATEWAY_HEALTH_PATH, GATEWAY_START_TIMEOUT_S
        )
        return self.gateway

    # --- stopping ------------------------------------------------------------------
    def stop(self) -> None:
        """Stop the gateway, then the mock, then remove the temporary directory."""
        started = [p for p in (self.gateway, self.mock) if p is not None]
        self.gateway = self.mock = None
        try:
            stop_all(started)
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> BenchStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

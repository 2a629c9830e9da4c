"""The system under test, started and stopped as one: mock upstream, data dir, gateway, peer.

`BenchStack` starts the mock (pinned to one core), then prepares a fresh
temporary data dir in one `manage.py shell` run: `migrate` (which seeds the
`anthropic` provider at the mock's URL) and the OpenAI-format side of the
benchmark, an `openai` provider (preset `generic`) at the mock's URL + `/v1`
with one stored credential, and the alias `bench-openai` routed to it. Then
it starts the gateway with the README's `daphne` command, pinned to the
other core.

`start_gateway()` restarts the gateway on the same port with other settings,
under uvicorn instead of Daphne, or as several Daphne workers: the runner
binds one listening socket and each worker adopts it with `daphne --fd N`
(the README's "let Daphne share a socket"); the kernel hands each new
connection to whichever worker accepts first. Worker i is pinned to core
i of `CorePlan.worker_cores` (the gateway's core first, then the mock's).
`start_peer()` starts a peer gateway (LiteLLM, see bench/peer.py) pinned to
the gateway's core. `stop()` ends every child it started and removes the
temporary directory; use it as a context manager so that happens on errors
and Ctrl-C too.

The children get a clean environment: inherited SWITCHBOARD_*, DATABASE_URL
and REDIS_URL are dropped so a developer's settings cannot skew the numbers
or touch a real database.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from bench.loadgen import BENCH_GATEWAY_KEY
from bench.mock_upstream import DEFAULT_CHUNK_DELAY_MS, DEFAULT_CHUNKS, HEALTH_PATH
from bench.processes import (
    ROOT,
    CorePlan,
    ManagedProcess,
    ProcessGroup,
    free_port,
    listening_socket,
    spawn,
    stop_all,
    wait_until_ready,
)
from bench.scenarios import TRANSLATED_MODEL
from bench.wire import openai

GATEWAY_HEALTH_PATH = "/healthz"
MOCK_START_TIMEOUT_S = 15.0
GATEWAY_START_TIMEOUT_S = 60.0
PEER_START_TIMEOUT_S = 180.0
MIGRATE_TIMEOUT_S = 120.0
#: The OpenAI-format provider and the alias that routes to it (translation scenarios).
OPENAI_PROVIDER = "bench-openai"
TRANSLATED_ALIAS = TRANSLATED_MODEL
OPENAI_BASE_PATH = "/v1"
#: Sent upstream as `authorization: Bearer ...`: the gateway uses a stored credential here.
OPENAI_BENCH_KEY = "sk-bench-not-a-real-key"
#: ASGI servers the gateway can be started under.
DAPHNE = "daphne"
UVICORN = "uvicorn"
#: What a Daphne worker prints once it accepts connections.
DAPHNE_LISTENING = "Listening on"
ASGI_APP = "proxysite.asgi:application"
#: Run by `manage.py shell -c` with the gateway's environment (see `configure_script`).
CONFIGURE_SCRIPT = """
from django.core.management import call_command
from routing.models import Credential, ModelAlias, Provider
call_command("migrate", interactive=False, verbosity=0)
provider = Provider(name={provider!r}, wire_format="openai", preset="generic", base_url={url!r})
provider.full_clean()
provider.save()
credential = Credential(provider=provider, label="bench")
credential.set_secret({key!r})
credential.save()
alias = ModelAlias(alias={alias!r}, provider=provider, target_model={model!r})
alias.full_clean()
alias.save()
"""
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


def configure_script(mock_url: str) -> str:
    """The Python `manage.py shell -c` runs to migrate and add the OpenAI-format route."""
    return CONFIGURE_SCRIPT.format(
        provider=OPENAI_PROVIDER,
        url=mock_url + OPENAI_BASE_PATH,
        key=OPENAI_BENCH_KEY,
        alias=TRANSLATED_ALIAS,
        model=openai.MODEL,
    )


def gateway_command(server: str, *, port: int | None = None, fd: int | None = None) -> list[str]:
    """The server's plain command for the gateway app: on `port`, or on an inherited socket."""
    if server == DAPHNE:
        where = ["--fd", str(fd)] if fd is not None else ["-b", "127.0.0.1", "-p", str(port)]
        return [sys.executable, "-m", "daphne", *where, ASGI_APP]
    if server == UVICORN and fd is None:
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            ASGI_APP,
        ]
    raise ValueError(f"cannot start {server!r} that way")


@dataclass(frozen=True)
class PeerLaunch:
    """How to start a peer gateway: its command, environment and where it says it is up."""

    name: str
    command: tuple[str, ...]
    env: Mapping[str, str]
    port: int
    health_path: str
    cwd: Path


class BenchStack:
    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.workdir = Path(tempfile.mkdtemp(prefix="switchboard-bench-"))
        self.data_dir = self.workdir / "data"
        self.mock_port = free_port()
        self.gateway_port = free_port()
        self.mock: ManagedProcess | None = None
        self.gateway: ProcessGroup | None = None
        self.peer: ManagedProcess | None = None
        self._gateway_socket: socket.socket | None = None
        self._peer_launch: PeerLaunch | None = None
        self._gateway_starts = 0

    @property
    def mock_url(self) -> str:
        return f"http://127.0.0.1:{self.mock_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def peer_url(self) -> str | None:
        if self.peer is None or self._peer_launch is None:
            return None
        return f"http://127.0.0.1:{self._peer_launch.port}"

    def gateway_env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {
            **clean_environment(),
            "SWITCHBOARD_DATA_DIR": str(self.data_dir),
            "SWITCHBOARD_UPSTREAM_URL": self.mock_url,
            "SWITCHBOARD_API_KEYS": BENCH_GATEWAY_KEY,
            "PYTHONUNBUFFERED": "1",
            **self.options.gateway_env,
            **(extra or {}),
        }

    # --- starting ------------------------------------------------------------------
    def start(self) -> BenchStack:
        """Mock, migrate and configure, gateway; stops whatever started if a later step fails."""
        try:
            self._start_mock()
            self.migrate_and_configure()
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

    def migrate_and_configure(self) -> None:
        """`migrate` the data dir, add the OpenAI-format provider and alias: one Django start."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", configure_script(self.mock_url)],
            cwd=self.options.gateway_root,
            env=self.gateway_env(),
            capture_output=True,
            timeout=MIGRATE_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace")[-4000:]
            raise RuntimeError(f"migrate and configure failed:\n{output}")

    def start_gateway(
        self,
        extra_env: Mapping[str, str] | None = None,
        *,
        server: str = DAPHNE,
        workers: int = 1,
    ) -> ProcessGroup:
        """(Re)start the gateway on the same port, with `extra_env` on top of the options.

        One worker runs the server's own command on the port; several are
        Daphne processes adopting one socket the runner binds (`--fd`).
        """
        if workers < 1 or (workers > 1 and server != DAPHNE):
            raise ValueError("several workers are Daphne processes sharing a socket")
        self._stop_gateway()
        self._gateway_starts += 1
        name = f"{server}-{self._gateway_starts}"
        cores = self.options.cores
        worker_cores = cores.worker_cores(workers) if cores else [None] * workers
        env = self.gateway_env(extra_env)
        members: list[ManagedProcess] = []
        if workers == 1:
            command = gateway_command(server, port=self.gateway_port)
            members.append(self._spawn_gateway(name, command, env, worker_cores[0]))
        else:
            self._gateway_socket = listening_socket(self.gateway_port)
            fd = self._gateway_socket.fileno()
            for index, core in enumerate(worker_cores):
                command = gateway_command(server, fd=fd)
                members.append(
                    self._spawn_gateway(f"{name}-w{index}", command, env, core, pass_fds=(fd,))
                )
        self.gateway = ProcessGroup(name=name, members=tuple(members))
        if workers > 1:  # every worker accepting, so none is left out of the load
            for member in members:
                member.wait_for_output(DAPHNE_LISTENING, GATEWAY_START_TIMEOUT_S)
        wait_until_ready(
            self.gateway, self.gateway_port, GATEWAY_HEALTH_PATH, GATEWAY_START_TIMEOUT_S
        )
        return self.gateway

    def _spawn_gateway(
        self,
        name: str,
        command: list[str],
        env: Mapping[str, str],
        core: int | None,
        pass_fds: tuple[int, ...] = (),
    ) -> ManagedProcess:
        return spawn(
            name,
            command,
            env=env,
            log_dir=self.workdir,
            core=core,
            cwd=self.options.gateway_root,
            pass_fds=pass_fds,
        )

    def start_peer(self, launch: PeerLaunch, *, wait: bool = True) -> ManagedProcess:
        """Start a peer gateway pinned to the gateway's core; wait until it answers unless told not.

        With `wait=False` it starts in the background; call `wait_for_peer()` before loading it.
        """
        if self.peer is not None:
            self.peer.stop()
        cores = self.options.cores
        self._peer_launch = launch
        self.peer = spawn(
            launch.name,
            launch.command,
            env=launch.env,
            log_dir=self.workdir,
            core=cores.gateway if cores else None,
            cwd=launch.cwd,
        )
        if wait:
            self.wait_for_peer()
        return self.peer

    def wait_for_peer(self) -> None:
        if self.peer is None or self._peer_launch is None:
            raise RuntimeError("no peer was started")
        launch = self._peer_launch
        wait_until_ready(self.peer, launch.port, launch.health_path, PEER_START_TIMEOUT_S)

    def stop_peer(self) -> None:
        peer, self.peer = self.peer, None
        if peer is not None:
            peer.stop()

    # --- stopping ------------------------------------------------------------------
    def _stop_gateway(self) -> None:
        gateway, self.gateway = self.gateway, None
        listening, self._gateway_socket = self._gateway_socket, None
        try:
            if gateway is not None:
                gateway.stop()
        finally:
            if listening is not None:
                listening.close()

    def stop(self) -> None:
        """Stop the peer, the gateway, then the mock, then remove the temporary directory."""
        started = [p for p in (self.peer, self.mock) if p is not None]
        self.peer = self.mock = None
        try:
            self._stop_gateway()
        finally:
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

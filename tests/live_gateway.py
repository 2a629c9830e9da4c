"""The gateway served by a real Daphne process, sharing the test database.

Started with `daphne proxysite.asgi:application` (or the README's `python
manage.py serve`, or uvicorn) after the test has written its routing
config, and stopped with SIGTERM, so every test that reads log rows also
checks that the writer flushes on shutdown.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

import httpx
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
ASGI_APP = "proxysite.asgi:application"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    """A DATABASE_URL that points a subprocess at the database this test run uses."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = quote(db.get("USER") or "", safe="")
    password = quote(db.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = db.get("HOST") or "localhost"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgresql://{auth}{host}{port}/{db['NAME']}"


class LiveGateway:
    """One gateway process; `server` picks the command that starts it.

    - "daphne": `daphne proxysite.asgi:application` (the default; no drain);
    - "serve": the README's `python manage.py serve` (limits, graceful drain);
    - "uvicorn": `uvicorn proxysite.asgi:application`.
    `args` are added to the command line.
    """

    def __init__(
        self,
        env: dict[str, str] | None = None,
        log_dir: Path | None = None,
        server: str = "daphne",
        args: Sequence[str] = (),
    ) -> None:
        self.server = server
        self.args = list(args)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "SWITCHBOARD_LOG_FLUSH_MS": "50",
            "SWITCHBOARD_CONFIG_POLL_SECONDS": "0.2",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.log_path = (log_dir or Path("/tmp")) / f"{server}-{self.port}.log"
        self.process: subprocess.Popen | None = None
        self.returncode: int | None = None  # the exit status, once stopped

    def command(self) -> list[str]:
        port = str(self.port)
        commands = {
            "daphne": ["-m", "daphne", "-b", "127.0.0.1", "-p", port, ASGI_APP],
            "serve": ["manage.py", "serve", "--host", "127.0.0.1", "--port", port],
            "uvicorn": ["-m", "uvicorn", ASGI_APP, "--host", "127.0.0.1", "--port", port],
        }
        return [sys.executable, *commands[self.server], *self.args]

    def start(self) -> LiveGateway:
        log = open(self.log_path, "wb")
        self._log = log
        self.process = subprocess.Popen(
            self.command(),
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.server} exited at start:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"{self.server} did not answer within {START_TIMEOUT}s:\n{self.output()}"
        )

    def stop(self) -> None:
        """SIGTERM, as a service manager would; waits until the process is gone."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise RuntimeError(f"{self.server} ignored SIGTERM:\n{self.output()}") from None
        self.returncode = self.process.returncode
        self.process = None
        self._log.close()

    def wait_for_config(self, version: int, timeout: float = 10.0) -> None:
        """Block until the gateway runs config `version` (or newer) — hot reload at work."""
        deadline = time.monotonic() + timeout
        seen = None
        while time.monotonic() < deadline:
            seen = httpx.get(f"{self.url}/readyz", timeout=2).json().get("config_version")
            if seen is not None and seen >= version:
                return
            time.sleep(0.05)
        raise AssertionError(f"gateway still on config {seen}, wanted {version}")

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except OSError:
            return ""

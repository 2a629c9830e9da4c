"""Child processes of the benchmark: started pinned to a core, measured through /proc, stopped.

Each child gets PR_SET_PDEATHSIG (Linux), so it is sent SIGTERM even if the
runner dies without running its `finally` blocks (SIGKILL, OOM). A server
made of several processes (workers sharing one listening socket) is a
`ProcessGroup`: its CPU time is the sum of its members', its peak RSS the
largest member's.
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

#: The Switchboard checkout (bench/ lives in it); children run from here.
ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
#: Seconds a child has to exit after SIGTERM before it is killed.
STOP_TIMEOUT_S = 15.0
#: Seconds between readiness polls.
POLL_INTERVAL_S = 0.05
PR_SET_PDEATHSIG = 1
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: CPU share under which a process counts as idle (work after the load, e.g. log writes).
IDLE_CPU_SHARE = 0.05
IDLE_SAMPLE_S = 0.1
#: How much of a child's output `wait_for_output` searches (its start is enough).
OUTPUT_SCAN_CHARS = 64 * 1024
#: Pending connections a socket bound here for workers keeps (as the mock's).
LISTEN_BACKLOG = 4096


@dataclass(frozen=True)
class CorePlan:
    """Which core each party runs on: the gateway gets one to itself."""

    mock: int
    gateway: int
    #: The load generator (this process) shares the mock's core.
    load: int

    def worker_cores(self, workers: int) -> list[int]:
        """One core per gateway worker: the gateway's first, then the mock's, then round again."""
        order = [self.gateway, self.mock]
        return [order[i % len(order)] for i in range(workers)]


def core_plan() -> CorePlan | None:
    """Cores for mock/gateway/load when there are two and `taskset` exists; else None."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2 or shutil.which("taskset") is None:
        return None
    return CorePlan(mock=cores[0], gateway=cores[1], load=cores[0])


def pin_this_process(core: int) -> None:
    os.sched_setaffinity(0, {core})


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def interrupt_on_signals() -> None:
    """SIGINT and SIGTERM both raise KeyboardInterrupt, so `finally` blocks stop the children.

    SIGINT is re-armed because a shell starts background jobs with it ignored.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """Runs in the child before exec: ask the kernel for SIGTERM when the runner dies."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class ManagedProcess:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def output_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def _status_kib(self, field_name: str) -> int | None:
        """One `NAME:  123 kB` field of /proc/PID/status, in KiB."""
        prefix = field_name + ":"
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith(prefix):
                    return int(line.split()[1])
        except (OSError, ValueError, IndexError):
            return None
        return None

    def peak_rss_kib(self) -> int | None:
        """VmHWM: the most resident memory the process has had, in KiB."""
        return self._status_kib("VmHWM")

    def rss_kib(self) -> int | None:
        """VmRSS: the resident memory of the process now, in KiB."""
        return self._status_kib("VmRSS")

    def wait_for_output(self, marker: str, timeout_s: float) -> None:
        """Return once `marker` is in the process's output; raise if it exits or times out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if marker in self.output_tail(chars=OUTPUT_SCAN_CHARS):
                return
            if not self.running():
                raise RuntimeError(f"{self.name} exited at start:\n{self.output_tail()}")
            time.sleep(POLL_INTERVAL_S)
        raise RuntimeError(
            f"{self.name} did not print {marker!r} within {timeout_s}s:\n{self.output_tail()}"
        )

    def cpu_seconds(self) -> float | None:
        """User + system CPU time used so far."""
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return None
        fields = stat.rsplit(")", 1)[1].split()
        utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
        return (utime + stime) / CLOCK_TICKS

    def member_cpu_seconds(self) -> list[float | None]:
        """As `ProcessGroup.member_cpu_seconds`: this one process's CPU time."""
        return [self.cpu_seconds()]

    def wait_until_idle(self, timeout_s: float) -> None:
        """Return once the process uses under IDLE_CPU_SHARE of a core, or after timeout_s."""
        deadline = time.monotonic() + timeout_s
        before = self.cpu_seconds()
        while before is not None and time.monotonic() < deadline:
            time.sleep(IDLE_SAMPLE_S)
            after = self.cpu_seconds()
            if after is None or after - before < IDLE_CPU_SHARE * IDLE_SAMPLE_S:
                return
            before = after

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT_S (or on Ctrl-C); waits until it is gone."""
        if self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pass
        finally:
            if self.popen.poll() is None:
                self.popen.kill()
                self.popen.wait()


@dataclass
class ProcessGroup:
    """Processes serving as one server (workers sharing a socket), measured as one."""

    name: str
    members: tuple[ManagedProcess, ...]

    @property
    def pid(self) -> int:
        """The first member's (for messages)."""
        return self.members[0].pid

    def running(self) -> bool:
        return all(member.running() for member in self.members)

    def output_tail(self, chars: int = 4000) -> str:
        return "\n".join(member.output_tail(chars) for member in self.members)

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of all members; None if any is unreadable."""
        seconds = [member.cpu_seconds() for member in self.members]
        return None if None in seconds else sum(s for s in seconds if s is not None)

    def member_cpu_seconds(self) -> list[float | None]:
        return [member.cpu_seconds() for member in self.members]

    def peak_rss_kib(self) -> int | None:
        """The largest member's VmHWM (the figure is per worker)."""
        peaks = [member.peak_rss_kib() for member in self.members]
        return None if None in peaks else max(p for p in peaks if p is not None)

    def member_peak_rss_kib(self) -> list[int | None]:
        return [member.peak_rss_kib() for member in self.members]

    def member_rss_kib(self) -> list[int | None]:
        return [member.rss_kib() for member in self.members]

    def wait_until_idle(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        for member in self.members:
            member.wait_until_idle(max(0.0, deadline - time.monotonic()))

    def stop(self) -> None:
        stop_all(self.members)


def listening_socket(port: int) -> socket.socket:
    """A TCP socket listening on 127.0.0.1:port that children may inherit (`daphne --fd`)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
        sock.listen(LISTEN_BACKLOG)
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


def stop_all(processes: Sequence[ManagedProcess]) -> None:
    """Stop each in turn; a failure (or Ctrl-C) while stopping one still stops the rest."""
    if not processes:
        return
    try:
        processes[0].stop()
    finally:
        stop_all(processes[1:])


def pinned(command: Sequence[str], core: int | None) -> list[str]:
    """`command` under `taskset -c core` (taskset execs it, so the pid stays the same)."""
    if core is None:
        return list(command)
    return ["taskset", "-c", str(core), *command]


def spawn(
    name: str,
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    log_dir: Path,
    core: int | None,
    cwd: Path = ROOT,
    pass_fds: Sequence[int] = (),
) -> ManagedProcess:
    """Start `command` in `cwd` (the checkout by default), output to `log_dir/name.log`.

    `pass_fds` stay open in the child (a listening socket shared by workers).
    """
    log_path = log_dir / f"{name}.log"
    with open(log_path, "ab") as log:
        popen = subprocess.Popen(
            pinned(command, core),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=tuple(pass_fds),
            # Safe here: the runner spawns from sync code, before or between event loops.
            preexec_fn=_die_with_parent,
        )
    return ManagedProcess(name=name, popen=popen, log_path=log_path)


def http_status(port: int, path: str, timeout_s: float = 1.0) -> int | None:
    """The status of `GET path` on 127.0.0.1:port, or None if nothing answers."""
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout_s)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


def wait_until_ready(
    process: ManagedProcess | ProcessGroup, port: int, path: str, timeout_s: float
) -> None:
    """Poll `GET path` until 200; raise with the process's output if it exits or times out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not process.running():
            raise RuntimeError(f"{process.name} exited at start:\n{process.output_tail()}")
        if http_status(port, path) == 200:
            return
        time.sleep(POLL_INTERVAL_S)
    raise RuntimeError(
        f"{process.name} did not answer {path} within {timeout_s}s:\n{process.output_tail()}"
    )

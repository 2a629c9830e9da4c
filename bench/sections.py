"""Results of the run's other sections: ASGI servers, worker scaling, memory rounds.

Each section has a result type (with `as_dict` for the JSON document) and a
text table; bench/run.py measures them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.loadgen import LoadResult
from bench.report import MISSING, Measurement, fmt, mib, render_table


@dataclass(frozen=True)
class ServerResult:
    """The gateway under one ASGI server, one worker, on one scenario."""

    server: str
    scenario: str
    measurement: Measurement
    peak_rss_kib: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "scenario": self.scenario,
            "gateway": self.measurement.as_dict(),
            "peak_rss_kib": self.peak_rss_kib,
        }


SERVER_HEADERS = (
    "scenario",
    "{a} rps",
    "{b} rps",
    "{b}/{a}",
    "p50 ms {a}/{b}",
    "p99 ms {a}/{b}",
    "CPU ms/req {a}/{b}",
    "errors",
)


def server_table(results: Sequence[ServerResult]) -> str:
    """One row per scenario: the first server listed against the second."""
    servers = list(dict.fromkeys(r.server for r in results))
    if len(servers) < 2:
        return render_table(
            ["scenario", "server", "rps"],
            [(r.scenario, r.server, f"{r.measurement.load.rps:,.0f}") for r in results],
        )
    first, second = servers[:2]
    headers = [h.format(a=first, b=second) for h in SERVER_HEADERS]
    by_key = {(r.server, r.scenario): r for r in results}
    rows = []
    for scenario in dict.fromkeys(r.scenario for r in results):
        a, b = by_key.get((first, scenario)), by_key.get((second, scenario))
        if a is None or b is None:
            continue
        la, lb = a.measurement.load, b.measurement.load
        ratio = lb.rps / la.rps if la.rps else None
        rows.append(
            (
                scenario,
                f"{la.rps:,.0f}",
                f"{lb.rps:,.0f}",
                fmt(ratio, ".2f"),
                _pair(
                    la.latency_ms.p50 if la.latency_ms else None,
                    lb.latency_ms.p50 if lb.latency_ms else None,
                ),
                _pair(
                    la.latency_ms.p99 if la.latency_ms else None,
                    lb.latency_ms.p99 if lb.latency_ms else None,
                ),
                _pair(a.measurement.cpu_ms_per_request, b.measurement.cpu_ms_per_request),
                f"{la.errors}/{lb.errors}",
            )
        )
    return render_table(headers, rows)


def _pair(first: float | None, second: float | None) -> str:
    return f"{fmt(first, '.2f')}/{fmt(second, '.2f')}"


@dataclass(frozen=True)
class WorkersResult:
    """The gateway as `workers` Daphne processes on one socket, on one scenario."""

    workers: int
    scenario: str
    measurement: Measurement
    #: Each worker's peak RSS (VmHWM), KiB.
    peak_rss_kib: tuple[int | None, ...]

    def cpu_split(self) -> str:
        """Each worker's share of the CPU the gateway used, e.g. "52/48" (percent)."""
        seconds = self.measurement.worker_cpu_s
        if len(seconds) < 2 or None in seconds:
            return MISSING
        total = sum(s for s in seconds if s is not None)
        if not total:
            return MISSING
        return "/".join(f"{100 * (s or 0) / total:.0f}" for s in seconds)

    def as_dict(self) -> dict[str, Any]:
        return {
            "workers": self.workers,
            "scenario": self.scenario,
            "gateway": self.measurement.as_dict(),
            "peak_rss_kib": list(self.peak_rss_kib),
        }


WORKERS_HEADERS = (
    "workers",
    "scenario",
    "rps",
    "vs 1 worker",
    "p50 ms",
    "p99 ms",
    "CPU ms/req",
    "CPU split %",
    "peak RSS MiB/worker",
    "errors",
)


def workers_table(results: Sequence[WorkersResult]) -> str:
    one = next((r.measurement.load.rps for r in results if r.workers == 1), None)
    rows = []
    for result in results:
        load = result.measurement.load
        lat = load.latency_ms
        rows.append(
            (
                str(result.workers),
                result.scenario,
                f"{load.rps:,.0f}",
                fmt(load.rps / one if one else None, ".2f"),
                fmt(lat.p50 if lat else None, ".2f"),
                fmt(lat.p99 if lat else None, ".2f"),
                fmt(result.measurement.cpu_ms_per_request, ".2f"),
                result.cpu_split(),
                "/".join(mib(kib) for kib in result.peak_rss_kib),
                str(load.errors),
            )
        )
    return render_table(WORKERS_HEADERS, rows)


@dataclass(frozen=True)
class MemoryRound:
    """One round of mixed requests, and the gateway's memory once it went idle after it."""

    number: int
    load: LoadResult
    #: VmRSS of the (one) gateway worker after the round, KiB.
    rss_kib: int | None
    #: VmHWM of the worker after the round: its peak so far, KiB.
    peak_rss_kib: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "round": self.number,
            **self.load.as_dict(),
            "rss_kib": self.rss_kib,
            "peak_rss_kib": self.peak_rss_kib,
        }


@dataclass(frozen=True)
class MemoryResult:
    rounds: tuple[MemoryRound, ...]
    #: What the rounds send, e.g. "json+stream, passthrough+translated".
    mix: str

    @property
    def peak_rss_kib(self) -> int | None:
        peaks = [r.peak_rss_kib for r in self.rounds if r.peak_rss_kib is not None]
        return max(peaks) if peaks else None

    @property
    def growth(self) -> float | None:
        """RSS after the last round over RSS after the first, minus one (0.03 = 3%)."""
        if len(self.rounds) < 2:
            return None
        first, last = self.rounds[0].rss_kib, self.rounds[-1].rss_kib
        return None if not first or last is None else last / first - 1

    @property
    def errors(self) -> int:
        return sum(r.load.errors for r in self.rounds)

    def as_dict(self) -> dict[str, Any]:
        growth = self.growth
        return {
            "mix": self.mix,
            "rounds": [r.as_dict() for r in self.rounds],
            "peak_rss_kib": self.peak_rss_kib,
            "growth": None if growth is None else round(growth, 4),
        }


MEMORY_HEADERS = (
    "memory round",
    "requests ok",
    "rps",
    "RSS after MiB",
    "vs round 1",
    "peak RSS MiB",
    "errors",
)


def memory_table(result: MemoryResult) -> str:
    first = result.rounds[0].rss_kib if result.rounds else None
    rows = []
    for r in result.rounds:
        change = None if not first or r.rss_kib is None else r.rss_kib / first - 1
        rows.append(
            (
                str(r.number),
                f"{r.load.ok:,}",
                f"{r.load.rps:,.0f}",
                mib(r.rss_kib),
                MISSING if change is None else f"{100 * change:+.1f}%",
                mib(r.peak_rss_kib),
                str(r.load.errors),
            )
        )
    return render_table(MEMORY_HEADERS, rows)

"""Results of a run: per-scenario comparisons, the text tables and the JSON document."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.loadgen import LoadResult
from bench.scenarios import GatewayVariant, Scenario

MISSING = "-"


@dataclass(frozen=True)
class Measurement:
    """One load run and the CPU time the server under load spent on it."""

    load: LoadResult
    server_cpu_s: float | None

    @property
    def cpu_ms_per_request(self) -> float | None:
        if self.server_cpu_s is None or self.load.ok == 0:
            return None
        return self.server_cpu_s * 1000 / self.load.ok

    def as_dict(self) -> dict[str, Any]:
        cpu = self.cpu_ms_per_request
        return {
            **self.load.as_dict(),
            "server_cpu_s": None if self.server_cpu_s is None else round(self.server_cpu_s, 3),
            "server_cpu_ms_per_request": None if cpu is None else round(cpu, 3),
        }


@dataclass(frozen=True)
class ScenarioResult:
    scenario: Scenario
    direct: Measurement
    gateway: Measurement

    @property
    def ratio(self) -> float | None:
        """Gateway throughput as a share of direct throughput."""
        direct = self.direct.load.rps
        return self.gateway.load.rps / direct if direct else None

    def added_ms(self, pct: str) -> float | None:
        """Latency the gateway adds at percentile `pct` ("p50", "p95", "p99")."""
        direct, gateway = self.direct.load.latency_ms, self.gateway.load.latency_ms
        if direct is None or gateway is None:
            return None
        return float(getattr(gateway, pct)) - float(getattr(direct, pct))

    @property
    def errors(self) -> int:
        return self.direct.load.errors + self.gateway.load.errors

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.scenario.name,
            "stream": self.scenario.stream,
            "concurrency": self.scenario.concurrency,
            "client_wire": self.scenario.client_wire,
            "upstream_wire": self.scenario.upstream_wire,
            "direct": self.direct.as_dict(),
            "gateway": self.gateway.as_dict(),
            "ratio": _round(self.ratio, 3),
            "added_p50_ms": _round(self.added_ms("p50"), 3),
            "added_p99_ms": _round(self.added_ms("p99"), 3),
        }


@dataclass(frozen=True)
class VariantResult:
    variant: GatewayVariant
    gateway: Measurement
    peak_rss_kib: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.variant.name,
            "scenario": self.variant.scenario,
            "env": dict(self.variant.env),
            "gateway": self.gateway.as_dict(),
            "peak_rss_kib": self.peak_rss_kib,
        }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _fmt(value: float | None, spec: str) -> str:
    return MISSING if value is None else format(value, spec)


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns aligned: the first to the left, the rest to the right."""
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest])

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


SCENARIO_HEADERS = (
    "scenario",
    "direct rps",
    "gateway rps",
    "ratio",
    "+p50 ms",
    "+p99 ms",
    "gw p99 ms",
    "ttfb p50 ms d/gw",
    "gw CPU ms/req",
    "errors",
)


def scenario_table(results: Sequence[ScenarioResult]) -> str:
    rows = []
    for result in results:
        direct, gateway = result.direct.load, result.gateway.load
        ttfb = MISSING
        if direct.ttfb_ms and gateway.ttfb_ms:
            ttfb = f"{direct.ttfb_ms.p50:.2f}/{gateway.ttfb_ms.p50:.2f}"
        rows.append(
            (
                result.scenario.name,
                f"{direct.rps:,.0f}",
                f"{gateway.rps:,.0f}",
                _fmt(result.ratio, ".2f"),
                _fmt(result.added_ms("p50"), ".2f"),
                _fmt(result.added_ms("p99"), ".2f"),
                _fmt(gateway.latency_ms.p99 if gateway.latency_ms else None, ".2f"),
                ttfb,
                _fmt(result.gateway.cpu_ms_per_request, ".2f"),
                str(result.errors),
            )
        )
    return render_table(SCENARIO_HEADERS, rows)


VARIANT_HEADERS = (
    "gateway variant",
    "scenario",
    "rps",
    "p50 ms",
    "p99 ms",
    "CPU ms/req",
    "peak RSS MiB",
    "errors",
)


def variant_table(results: Sequence[VariantResult]) -> str:
    rows = []
    for result in results:
        load = result.gateway.load
        lat = load.latency_ms
        rows.append(
            (
                result.variant.name,
                result.variant.scenario,
                f"{load.rps:,.0f}",
                _fmt(lat.p50 if lat else None, ".2f"),
                _fmt(lat.p99 if lat else None, ".2f"),
                _fmt(result.gateway.cpu_ms_per_request, ".2f"),
                _fmt(None if result.peak_rss_kib is None else result.peak_rss_kib / 1024, ".1f"),
                str(load.errors),
            )
        )
    return render_table(VARIANT_HEADERS, rows)


def error_lines(results: Sequence[ScenarioResult], variants: Sequence[VariantResult]) -> list[str]:
    """One line per distinct error sample, naming where it happened."""
    lines: list[str] = []
    for result in results:
        for target, measurement in (("direct", result.direct), ("gateway", result.gateway)):
            lines.extend(
                f"{result.scenario.name} {target}: {sample}"
                for sample in measurement.load.error_samples
            )
    for variant in variants:
        lines.extend(
            f"{variant.variant.name}: {sample}" for sample in variant.gateway.load.error_samples
        )
    return lines

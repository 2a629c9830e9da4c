"""Results of a run: per-scenario comparisons (direct, gateway, peer), their tables and JSON.

The other sections (servers, workers, memory) are in bench/sections.py, the
issue's targets in bench/targets.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.loadgen import LoadResult
from bench.scenarios import GatewayVariant, Scenario, passthrough_twin

MISSING = "-"


@dataclass(frozen=True)
class Measurement:
    """One load run and the CPU time the server under load spent on it."""

    load: LoadResult
    server_cpu_s: float | None
    #: CPU seconds of each process of the server (one entry unless it has several workers).
    worker_cpu_s: tuple[float | None, ...] = ()

    @property
    def cpu_ms_per_request(self) -> float | None:
        if self.server_cpu_s is None or self.load.ok == 0:
            return None
        return self.server_cpu_s * 1000 / self.load.ok

    def as_dict(self) -> dict[str, Any]:
        cpu = self.cpu_ms_per_request
        return {
            **self.load.as_dict(),
            "server_cpu_s": _round(self.server_cpu_s, 3),
            "server_cpu_ms_per_request": _round(cpu, 3),
            "worker_cpu_s": [_round(s, 3) for s in self.worker_cpu_s],
        }


@dataclass(frozen=True)
class ScenarioResult:
    scenario: Scenario
    direct: Measurement
    gateway: Measurement
    #: The peer gateway (LiteLLM) on the same scenario, when one was measured.
    peer: Measurement | None = None

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

    def added_ttfb_ms(self) -> float | None:
        """Median time to first byte the gateway adds (streams)."""
        direct, gateway = self.direct.load.ttfb_ms, self.gateway.load.ttfb_ms
        return None if direct is None or gateway is None else gateway.p50 - direct.p50

    @property
    def errors(self) -> int:
        """Failed requests direct and through the gateway (the peer's are `peer_errors`)."""
        return self.direct.load.errors + self.gateway.load.errors

    @property
    def peer_errors(self) -> int:
        return 0 if self.peer is None else self.peer.load.errors

    def peer_unavailable(self) -> str | None:
        """Why the peer has no figure for this scenario (no successful request), else None."""
        if self.peer is None or self.peer.load.ok > 0:
            return None
        samples = self.peer.load.error_samples
        return f"no successful request: {samples[0] if samples else 'no answer'}"

    @property
    def peer_ratio(self) -> float | None:
        """Gateway throughput over the peer's."""
        if self.peer is None or self.peer_unavailable() is not None:
            return None
        return self.gateway.load.rps / self.peer.load.rps

    @property
    def peer_cpu_ratio(self) -> float | None:
        """The peer's CPU per request over the gateway's: capacity per core, gateway vs peer."""
        if self.peer is None:
            return None
        peer, gateway = self.peer.cpu_ms_per_request, self.gateway.cpu_ms_per_request
        return None if peer is None or not gateway else peer / gateway

    def peer_added_ms(self, pct: str) -> float | None:
        """Latency the peer adds over direct at percentile `pct`."""
        if self.peer is None:
            return None
        direct, peer = self.direct.load.latency_ms, self.peer.load.latency_ms
        if direct is None or peer is None:
            return None
        return float(getattr(peer, pct)) - float(getattr(direct, pct))

    def peer_added_ttfb_ms(self) -> float | None:
        if self.peer is None:
            return None
        direct, peer = self.direct.load.ttfb_ms, self.peer.load.ttfb_ms
        return None if direct is None or peer is None else peer.p50 - direct.p50

    def as_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "name": self.scenario.name,
            "stream": self.scenario.stream,
            "concurrency": self.scenario.concurrency,
            "client_wire": self.scenario.client_wire,
            "upstream_wire": self.scenario.upstream_wire,
            "translated": self.scenario.translated,
            "direct": self.direct.as_dict(),
            "gateway": self.gateway.as_dict(),
            "ratio": _round(self.ratio, 3),
            "added_p50_ms": _round(self.added_ms("p50"), 3),
            "added_p99_ms": _round(self.added_ms("p99"), 3),
            "added_ttfb_p50_ms": _round(self.added_ttfb_ms(), 3),
        }
        if self.peer is not None:
            document["peer"] = {
                **self.peer.as_dict(),
                "unavailable": self.peer_unavailable(),
                "gateway_over_peer_rps": _round(self.peer_ratio, 3),
                "peer_over_gateway_cpu_per_request": _round(self.peer_cpu_ratio, 3),
                "added_p50_ms": _round(self.peer_added_ms("p50"), 3),
                "added_p99_ms": _round(self.peer_added_ms("p99"), 3),
                "added_ttfb_p50_ms": _round(self.peer_added_ttfb_ms(), 3),
            }
        return document


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


def fmt(value: float | None, spec: str) -> str:
    """`value` formatted, or MISSING."""
    return MISSING if value is None else format(value, spec)


def mib(kib: int | None) -> str:
    return fmt(None if kib is None else kib / 1024, ".1f")


def render_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, left_columns: int = 1
) -> str:
    """Columns aligned: the first `left_columns` to the left, the rest to the right."""
    widths = [
        max(len(row[i]) for row in [headers, *rows] if i < len(row)) for i in range(len(headers))
    ]

    def line(cells: Sequence[str]) -> str:
        padded = [
            cell.ljust(width) if i < left_columns else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=False))
        ]
        return "  ".join(padded).rstrip()

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
                fmt(result.ratio, ".2f"),
                fmt(result.added_ms("p50"), ".2f"),
                fmt(result.added_ms("p99"), ".2f"),
                fmt(gateway.latency_ms.p99 if gateway.latency_ms else None, ".2f"),
                ttfb,
                fmt(result.gateway.cpu_ms_per_request, ".2f"),
                str(result.errors),
            )
        )
    return render_table(SCENARIO_HEADERS, rows)


PEER_HEADERS = (
    "scenario",
    "gateway rps",
    "{peer} rps",
    "gw/{peer}",
    "gw +p50 ms",
    "{peer} +p50 ms",
    "+ttfb p50 ms gw/{peer}",
    "CPU ms/req gw/{peer}",
    "{peer} errors",
)


def peer_table(results: Sequence[ScenarioResult], peer: str) -> str:
    """Gateway vs the peer per scenario; "n/a" where the peer served nothing, why below."""
    headers = [h.format(peer=peer) for h in PEER_HEADERS]
    rows = []
    notes = []
    for result in results:
        if result.peer is None:
            continue
        gateway, other = result.gateway, result.peer
        unavailable = result.peer_unavailable()
        if unavailable is not None:
            notes.append(f"n/a {result.scenario.name}: {peer} {unavailable}")
        ttfb = MISSING
        if result.scenario.stream:
            ttfb = f"{fmt(result.added_ttfb_ms(), '.2f')}/{fmt(result.peer_added_ttfb_ms(), '.2f')}"
        rows.append(
            (
                result.scenario.name,
                f"{gateway.load.rps:,.0f}",
                "n/a" if unavailable else f"{other.load.rps:,.0f}",
                fmt(result.peer_ratio, ".1f"),
                fmt(result.added_ms("p50"), ".2f"),
                fmt(result.peer_added_ms("p50"), ".2f"),
                ttfb,
                f"{fmt(gateway.cpu_ms_per_request, '.2f')}/{fmt(other.cpu_ms_per_request, '.2f')}",
                str(result.peer_errors),
            )
        )
    return "\n".join([render_table(headers, rows), *notes])


@dataclass(frozen=True)
class TranslationComparison:
    """A translated scenario against its passthrough twin, both through the gateway."""

    passthrough: ScenarioResult
    translated: ScenarioResult

    @property
    def rps_ratio(self) -> float | None:
        """Translated throughput over passthrough throughput."""
        base = self.passthrough.gateway.load.rps
        return self.translated.gateway.load.rps / base if base else None

    @property
    def cpu_ratio(self) -> float | None:
        """Translated CPU per request over passthrough CPU per request."""
        base = self.passthrough.gateway.cpu_ms_per_request
        cpu = self.translated.gateway.cpu_ms_per_request
        return None if base is None or cpu is None or not base else cpu / base

    def as_dict(self) -> dict[str, Any]:
        return {
            "passthrough": self.passthrough.scenario.name,
            "translated": self.translated.scenario.name,
            "rps_ratio": _round(self.rps_ratio, 3),
            "cpu_per_request_ratio": _round(self.cpu_ratio, 3),
        }


def translation_comparisons(results: Sequence[ScenarioResult]) -> list[TranslationComparison]:
    by_name = {result.scenario.name: result for result in results}
    comparisons = []
    for result in results:
        if result.scenario.translated:
            twin = by_name.get(passthrough_twin(result.scenario).name)
            if twin is not None:
                comparisons.append(TranslationComparison(passthrough=twin, translated=result))
    return comparisons


TRANSLATION_HEADERS = (
    "translated scenario",
    "passthrough rps",
    "translated rps",
    "rps ratio",
    "CPU ms/req pass/transl",
    "CPU ratio",
    "+p50 ms pass/transl",
)


def translation_table(comparisons: Sequence[TranslationComparison]) -> str:
    rows = []
    for c in comparisons:
        passthrough, translated = c.passthrough, c.translated
        rows.append(
            (
                translated.scenario.name,
                f"{passthrough.gateway.load.rps:,.0f}",
                f"{translated.gateway.load.rps:,.0f}",
                fmt(c.rps_ratio, ".2f"),
                f"{fmt(passthrough.gateway.cpu_ms_per_request, '.2f')}/"
                f"{fmt(translated.gateway.cpu_ms_per_request, '.2f')}",
                fmt(c.cpu_ratio, ".2f"),
                f"{fmt(passthrough.added_ms('p50'), '.2f')}/"
                f"{fmt(translated.added_ms('p50'), '.2f')}",
            )
        )
    return render_table(TRANSLATION_HEADERS, rows)


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
                fmt(lat.p50 if lat else None, ".2f"),
                fmt(lat.p99 if lat else None, ".2f"),
                fmt(result.gateway.cpu_ms_per_request, ".2f"),
                mib(result.peak_rss_kib),
                str(load.errors),
            )
        )
    return render_table(VARIANT_HEADERS, rows)


def error_lines(measured: Sequence[tuple[str, LoadResult]]) -> list[str]:
    """One line per distinct error sample, named after where it happened."""
    return [f"{label}: {sample}" for label, load in measured for sample in load.error_samples]

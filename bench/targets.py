"""The performance issue's targets, checked against one run's figures.

Each `Target` says what was asked, what was measured and whether it is met
(None when the run has no figure for it, e.g. no `--peer`). Throughput
ratios are shown with the CPU-per-request ratio beside them: on a shared
machine the CPU each request costs the server is steadier than requests/s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.report import (
    ScenarioResult,
    TranslationComparison,
    VariantResult,
    fmt,
    render_table,
)
from bench.sections import MemoryResult, WorkersResult

#: Added median latency, non-streaming, concurrency 1.
MAX_ADDED_P50_MS = 1.5
#: Added median time to first byte, streaming, concurrency 1.
MAX_ADDED_TTFB_MS = 2.0
#: Gateway throughput over LiteLLM's at concurrency 32.
MIN_PEER_RATIO = 5.0
#: Translated throughput over passthrough throughput at concurrency 32 ("within 20%").
MIN_TRANSLATION_RATIO = 0.8
#: Throughput with body logging over throughput without ("costs <= 10%").
MIN_LOGGING_RATIO = 0.9
#: 120 MB per worker, in MiB (the tables print MiB).
MAX_PEAK_RSS_MIB = 120e6 / 2**20
MAX_RSS_GROWTH = 0.05
LOG_ON, LOG_OFF = "log bodies on", "log bodies off"


@dataclass(frozen=True)
class Target:
    name: str
    goal: str
    figure: str
    met: bool | None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "goal": self.goal, "figure": self.figure, "met": self.met}


def _at_most(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def _at_least(value: float | None, limit: float) -> bool | None:
    return None if value is None else value >= limit


def latency_targets(by_name: dict[str, ScenarioResult]) -> list[Target]:
    targets = []
    json_c1 = by_name.get("json c=1")
    if json_c1 is not None:
        added = json_c1.added_ms("p50")
        targets.append(
            Target(
                "json c=1: added p50 latency",
                f"<= {MAX_ADDED_P50_MS} ms",
                f"{fmt(added, '.2f')} ms",
                _at_most(added, MAX_ADDED_P50_MS),
            )
        )
    for name in ("stream c=1", "translated stream c=1"):
        result = by_name.get(name)
        if result is not None:
            added = result.added_ttfb_ms()
            targets.append(
                Target(
                    f"{name}: added p50 TTFB",
                    f"<= {MAX_ADDED_TTFB_MS} ms",
                    f"{fmt(added, '.2f')} ms",
                    _at_most(added, MAX_ADDED_TTFB_MS),
                )
            )
    return targets


def peer_targets(by_name: dict[str, ScenarioResult], peer: str) -> list[Target]:
    targets = []
    for name in ("json c=32", "stream c=32", "translated json c=32", "translated stream c=32"):
        result = by_name.get(name)
        if result is None or result.peer is None:
            continue
        unavailable = result.peer_unavailable()
        figure = (
            f"n/a ({unavailable})"
            if unavailable
            else f"{fmt(result.peer_ratio, '.1f')}x rps, "
            f"{fmt(result.peer_cpu_ratio, '.1f')}x less CPU/req"
        )
        targets.append(
            Target(
                f"{name}: gateway vs {peer}",
                f">= {MIN_PEER_RATIO:.0f}x throughput",
                figure,
                _at_least(result.peer_ratio, MIN_PEER_RATIO),
            )
        )
    return targets


def translation_targets(comparisons: Sequence[TranslationComparison]) -> list[Target]:
    targets = []
    for c in comparisons:
        if c.translated.scenario.concurrency != 32:
            continue
        capacity = None if not c.cpu_ratio else 1 / c.cpu_ratio
        targets.append(
            Target(
                f"{c.translated.scenario.name} vs passthrough",
                f">= {MIN_TRANSLATION_RATIO:.2f} of its throughput",
                f"{fmt(c.rps_ratio, '.2f')} rps, {fmt(capacity, '.2f')} by CPU/req",
                _at_least(c.rps_ratio, MIN_TRANSLATION_RATIO),
            )
        )
    return targets


def other_targets(
    by_name: dict[str, ScenarioResult],
    variants: Sequence[VariantResult],
    memory: MemoryResult | None,
    workers: Sequence[WorkersResult],
    overall_peak_rss_kib: int | None,
) -> list[Target]:
    targets = []
    streams = by_name.get("stream c=256")
    if streams is not None:
        load = streams.gateway.load
        targets.append(
            Target(
                "stream c=256: all complete and valid",
                "0 errors",
                f"{load.ok:,} ok, {load.errors} errors",
                load.errors == 0 and load.ok > 0,
            )
        )
    by_variant = {v.variant.name: v for v in variants}
    on, off = by_variant.get(LOG_ON), by_variant.get(LOG_OFF)
    if on is not None and off is not None and off.gateway.load.rps:
        ratio = on.gateway.load.rps / off.gateway.load.rps
        cpu_on, cpu_off = on.gateway.cpu_ms_per_request, off.gateway.cpu_ms_per_request
        cpu_ratio = cpu_off / cpu_on if cpu_on and cpu_off else None
        targets.append(
            Target(
                "body logging on vs off (json c=32)",
                f">= {MIN_LOGGING_RATIO:.2f} of its throughput",
                f"{ratio:.2f} rps, {fmt(cpu_ratio, '.2f')} by CPU/req",
                ratio >= MIN_LOGGING_RATIO,
            )
        )
    if memory is not None:
        peak = None if memory.peak_rss_kib is None else memory.peak_rss_kib / 1024
        rounds = len(memory.rounds)
        targets.append(
            Target(
                f"peak RSS per worker after {rounds} mixed rounds",
                f"<= {MAX_PEAK_RSS_MIB:.1f} MiB (120 MB)",
                f"{fmt(peak, '.1f')} MiB",
                _at_most(peak, MAX_PEAK_RSS_MIB),
            )
        )
        growth = memory.growth
        targets.append(
            Target(
                f"RSS growth, round 1 to round {rounds}",
                f"<= {100 * MAX_RSS_GROWTH:.0f}%",
                "-" if growth is None else f"{100 * growth:+.1f}%",
                _at_most(growth, MAX_RSS_GROWTH),
            )
        )
    if overall_peak_rss_kib is not None:
        peak = overall_peak_rss_kib / 1024
        targets.append(
            Target(
                "peak RSS over all scenarios (256 streams too)",
                f"<= {MAX_PEAK_RSS_MIB:.1f} MiB (120 MB)",
                f"{peak:.1f} MiB",
                peak <= MAX_PEAK_RSS_MIB,
            )
        )
    by_workers = {w.workers: w for w in workers}
    if 1 in by_workers and 2 in by_workers and by_workers[1].measurement.load.rps:
        one, two = by_workers[1].measurement.load.rps, by_workers[2].measurement.load.rps
        targets.append(
            Target(
                "2 workers vs 1 (json c=32)",
                "scales (no figure set)",
                f"{two / one:.2f}x rps",
                None,
            )
        )
    return targets


def format_met(met: bool | None) -> str:
    return "-" if met is None else ("yes" if met else "NO")


def targets_table(targets: Sequence[Target]) -> str:
    rows = [(t.name, t.goal, t.figure, format_met(t.met)) for t in targets]
    return render_table(("target", "goal", "measured", "met"), rows, left_columns=4)

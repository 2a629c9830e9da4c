"""The benchmark in one command: mock upstream, gateway, every scenario, a table and JSON.

    python -m bench.run [--quick] [--requests N] [--duration S] [--json OUT]

Starts the mock upstream and the gateway (`daphne`, after `migrate` for a
temporary data dir), the mock pinned to one core and the gateway to another
when `taskset` and two cores are there; this process, the load generator,
shares the mock's core so the gateway has its core to itself. Each scenario
runs once straight at the mock and once through the gateway, then the
gateway is restarted with body logging on and off for one scenario. Prints
the tables and the gateway's peak RSS, writes JSON (bench/results/latest.json
by default) and exits 1 if any request failed. Every child is stopped on
the way out, on errors, Ctrl-C and SIGTERM too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench.loadgen import LoadSpec, run_load
from bench.mock_upstream import DEFAULT_CHUNK_DELAY_MS, DEFAULT_CHUNKS
from bench.processes import ManagedProcess, core_plan, interrupt_on_signals, pin_this_process
from bench.report import (
    Measurement,
    ScenarioResult,
    VariantResult,
    error_lines,
    scenario_table,
    variant_table,
)
from bench.scenarios import LOG_BODY_VARIANTS, SCENARIOS, GatewayVariant, Scenario, scenario_named
from bench.stack import BenchStack, StackOptions, add_gateway_root_argument
from bench.wire import WIRES

RESULTS_PATH = Path(__file__).resolve().parent / "results" / "latest.json"
#: Time limit of one measurement (one scenario against one target).
DEFAULT_DURATION_S = 8.0
QUICK_DURATION_S = 3.0
#: Text deltas per stream with --quick (fewer: the smoke is about working, not numbers).
QUICK_CHUNKS = 5
#: Uncounted requests before a measurement (at least one per connection).
WARMUP_REQUESTS = 100
QUICK_WARMUP_REQUESTS = 5
#: Longest wait for the server to go idle after a measurement (its log writer catching up).
SETTLE_TIMEOUT_S = 5.0
QUICK_SETTLE_TIMEOUT_S = 0.3
EXIT_INTERRUPTED = 130  # as a shell reports Ctrl-C


@dataclass(frozen=True)
class RunPlan:
    quick: bool
    duration_s: float
    #: Overrides every scenario's request count.
    requests: int | None
    warmup_requests: int
    settle_timeout_s: float

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RunPlan:
        return cls(
            quick=args.quick,
            duration_s=args.duration or (QUICK_DURATION_S if args.quick else DEFAULT_DURATION_S),
            requests=args.requests,
            warmup_requests=QUICK_WARMUP_REQUESTS if args.quick else WARMUP_REQUESTS,
            settle_timeout_s=QUICK_SETTLE_TIMEOUT_S if args.quick else SETTLE_TIMEOUT_S,
        )

    def requests_for(self, scenario: Scenario) -> int:
        if self.requests is not None:
            return self.requests
        return scenario.quick_requests if self.quick else scenario.requests

    def warmup_for(self, scenario: Scenario) -> int:
        """Enough to open every connection first, except in quick mode (a smoke, not a number)."""
        if self.quick:
            return self.warmup_requests
        return max(scenario.concurrency, self.warmup_requests)


def measure(
    plan: RunPlan, scenario: Scenario, url: str, wire: str, server: ManagedProcess
) -> Measurement:
    """Load `url` as `scenario` says; charge `server` the CPU it used, log writes included."""
    spec = LoadSpec(
        url=url,
        stream=scenario.stream,
        concurrency=scenario.concurrency,
        requests=plan.requests_for(scenario),
        duration_s=plan.duration_s,
        wire=wire,
        model=scenario.model,
        warmup_requests=plan.warmup_for(scenario),
    )
    cpu_at_start: list[float | None] = []
    result = asyncio.run(
        run_load(spec, after_warmup=lambda: cpu_at_start.append(server.cpu_seconds()))
    )
    server.wait_until_idle(plan.settle_timeout_s)
    before, after = (cpu_at_start or [None])[0], server.cpu_seconds()
    cpu = after - before if before is not None and after is not None else None
    return Measurement(load=result, server_cpu_s=cpu)


def run_scenario(plan: RunPlan, stack: BenchStack, scenario: Scenario) -> ScenarioResult:
    assert stack.mock is not None and stack.gateway is not None
    upstream = WIRES[scenario.upstream_wire]
    client = WIRES[scenario.client_wire]
    direct = measure(
        plan, scenario, stack.mock_url + upstream.path, scenario.upstream_wire, stack.mock
    )
    gateway = measure(
        plan, scenario, stack.gateway_url + client.path, scenario.client_wire, stack.gateway
    )
    return ScenarioResult(scenario=scenario, direct=direct, gateway=gateway)


def run_variant(plan: RunPlan, stack: BenchStack, variant: GatewayVariant) -> VariantResult:
    scenario = scenario_named(variant.scenario)
    gateway = stack.start_gateway(variant.env)
    url = stack.gateway_url + WIRES[scenario.client_wire].path
    measured = measure(plan, scenario, url, scenario.client_wire, gateway)
    return VariantResult(variant=variant, gateway=measured, peak_rss_kib=gateway.peak_rss_kib())


_CLOCK_START = time.monotonic()


def progress(message: str) -> None:
    print(f"[{time.monotonic() - _CLOCK_START:6.1f}s] {message}", file=sys.stderr, flush=True)


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few requests per scenario (CI)")
    parser.add_argument("--requests", type=int, help="requests per measurement (all scenarios)")
    parser.add_argument("--duration", type=float, help="time limit per measurement, seconds")
    parser.add_argument("--json", type=Path, default=RESULTS_PATH, help="where to write results")
    parser.add_argument(
        "--chunks",
        type=int,
        help=f"text deltas per stream (default {DEFAULT_CHUNKS}, {QUICK_CHUNKS} with --quick)",
    )
    parser.add_argument("--chunk-delay-ms", type=float, default=DEFAULT_CHUNK_DELAY_MS)
    add_gateway_root_argument(parser)
    args = parser.parse_args(argv)
    if args.requests is not None and args.requests < 1:
        parser.error("--requests must be at least 1")
    if args.duration is not None and args.duration <= 0:
        parser.error("--duration must be positive")
    if args.chunks is None:
        args.chunks = QUICK_CHUNKS if args.quick else DEFAULT_CHUNKS
    if args.chunks < 1:
        parser.error("--chunks must be at least 1")
    interrupt_on_signals()
    try:
        return run(RunPlan.from_args(args), args)
    except KeyboardInterrupt:
        progress("interrupted; every process it started is stopped")
        return EXIT_INTERRUPTED


def run(plan: RunPlan, args: argparse.Namespace) -> int:
    started = time.monotonic()
    cores = core_plan()
    if cores is not None:
        pin_this_process(cores.load)
    meta: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": plan.quick,
        "duration_s_per_measurement": plan.duration_s,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "cores": None if cores is None else vars(cores),
        "mock": {"chunks": args.chunks, "chunk_delay_ms": args.chunk_delay_ms},
        "gateway_root": str(args.gateway_root),
        "load_average_before": load_average(),
    }
    options = StackOptions(
        chunks=args.chunks,
        chunk_delay_ms=args.chunk_delay_ms,
        cores=cores,
        gateway_root=args.gateway_root,
    )
    results: list[ScenarioResult] = []
    variants: list[VariantResult] = []
    progress("starting mock upstream and gateway ...")
    with BenchStack(options) as stack:
        for scenario in SCENARIOS:
            progress(f"measuring {scenario.name} ...")
            results.append(run_scenario(plan, stack, scenario))
        assert stack.gateway is not None
        gateway_rss = stack.gateway.peak_rss_kib()
        for variant in LOG_BODY_VARIANTS:
            progress(f"restarting the gateway: {variant.name} ...")
            variants.append(run_variant(plan, stack, variant))
    meta["load_average_after"] = load_average()
    meta["wall_s"] = round(time.monotonic() - started, 1)
    errors = sum(r.errors for r in results) + sum(v.gateway.load.errors for v in variants)
    document = {
        "meta": meta,
        "scenarios": [r.as_dict() for r in results],
        "gateway_variants": [v.as_dict() for v in variants],
        "gateway_peak_rss_kib": gateway_rss,
        "errors": errors,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    print(scenario_table(results))
    print()
    print(variant_table(variants))
    print()
    rss = "unknown" if gateway_rss is None else f"{gateway_rss / 1024:.1f} MiB"
    print(f"gateway peak RSS (VmHWM) over all scenarios: {rss}")
    print(
        f"load average before/after: {meta['load_average_before']} / "
        f"{meta['load_average_after']}; wall {meta['wall_s']}s; results in {args.json}"
    )
    for line in error_lines(results, variants):
        print(f"error: {line}")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""One measurement of each kind the runner makes, on a running `BenchStack`.

`measure()` loads one URL as a scenario says and charges the server under
load the CPU it used between the end of the warm-up and the moment it went
idle again (so the log writer's work counts). The `run_*` functions build
each section of a run from it: scenarios (direct, gateway, peer), gateway
variants, memory rounds, ASGI servers and worker counts.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
from dataclasses import dataclass
from typing import Protocol

from bench.loadgen import LoadSpec, run_load
from bench.report import Measurement, ScenarioResult, VariantResult
from bench.scenarios import (
    MEMORY_CONCURRENCY,
    MEMORY_MIX,
    MEMORY_ROUND_REQUESTS,
    MEMORY_ROUNDS,
    QUICK_MEMORY_ROUND_REQUESTS,
    SERVER_SCENARIOS,
    WORKER_COUNTS,
    WORKERS_SCENARIO,
    GatewayVariant,
    Scenario,
    scenario_named,
)
from bench.sections import MemoryResult, MemoryRound, ServerResult, WorkersResult
from bench.stack import DAPHNE, UVICORN, BenchStack
from bench.wire import WIRES

#: Time limit of one measurement (one scenario against one target).
DEFAULT_DURATION_S = 5.0
QUICK_DURATION_S = 3.0
#: Uncounted requests before a measurement (at least one per connection).
WARMUP_REQUESTS = 100
QUICK_WARMUP_REQUESTS = 5
#: Longest wait for the server to go idle after a measurement (its log writer catching up).
SETTLE_TIMEOUT_S = 5.0
QUICK_SETTLE_TIMEOUT_S = 0.3
#: Time limit of one memory round (it is meant to finish by count).
MEMORY_ROUND_TIME_LIMIT_S = 180.0
MEMORY_MIX_LABEL = "json+stream x passthrough+translated, in turn"


class MeasuredServer(Protocol):
    """A server whose CPU time can be read (one process or a group of workers)."""

    def cpu_seconds(self) -> float | None: ...

    def member_cpu_seconds(self) -> list[float | None]: ...

    def wait_until_idle(self, timeout_s: float) -> None: ...


@dataclass(frozen=True)
class RunPlan:
    quick: bool
    duration_s: float
    #: Overrides every scenario's request count.
    requests: int | None
    warmup_requests: int
    settle_timeout_s: float
    memory_round_requests: int

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RunPlan:
        default_memory = QUICK_MEMORY_ROUND_REQUESTS if args.quick else MEMORY_ROUND_REQUESTS
        return cls(
            quick=args.quick,
            duration_s=args.duration or (QUICK_DURATION_S if args.quick else DEFAULT_DURATION_S),
            requests=args.requests,
            warmup_requests=QUICK_WARMUP_REQUESTS if args.quick else WARMUP_REQUESTS,
            settle_timeout_s=QUICK_SETTLE_TIMEOUT_S if args.quick else SETTLE_TIMEOUT_S,
            memory_round_requests=args.memory_requests or default_memory,
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


def _difference(before: float | None, after: float | None) -> float | None:
    return after - before if before is not None and after is not None else None


def measure(
    plan: RunPlan, scenario: Scenario, url: str, wire: str, server: MeasuredServer
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
    at_start: list[list[float | None]] = []
    result = asyncio.run(
        run_load(spec, after_warmup=lambda: at_start.append(server.member_cpu_seconds()))
    )
    server.wait_until_idle(plan.settle_timeout_s)
    after = server.member_cpu_seconds()
    before = at_start[0] if at_start else [None] * len(after)
    per_worker = tuple(_difference(b, a) for b, a in zip(before, after, strict=True))
    total = None if None in per_worker else sum(s for s in per_worker if s is not None)
    return Measurement(load=result, server_cpu_s=total, worker_cpu_s=per_worker)


def run_scenario(plan: RunPlan, stack: BenchStack, scenario: Scenario) -> ScenarioResult:
    """The scenario straight at the mock, through the gateway, and at the peer if one runs."""
    assert stack.mock is not None and stack.gateway is not None
    upstream = WIRES[scenario.upstream_wire]
    client = WIRES[scenario.client_wire]
    direct = measure(
        plan, scenario, stack.mock_url + upstream.path, scenario.upstream_wire, stack.mock
    )
    gateway = measure(
        plan, scenario, stack.gateway_url + client.path, scenario.client_wire, stack.gateway
    )
    peer = None
    if stack.peer is not None and stack.peer_url is not None:
        peer = measure(
            plan, scenario, stack.peer_url + client.path, scenario.client_wire, stack.peer
        )
    return ScenarioResult(scenario=scenario, direct=direct, gateway=gateway, peer=peer)


def run_variant(plan: RunPlan, stack: BenchStack, variant: GatewayVariant) -> VariantResult:
    """The gateway restarted with the variant's settings, on the variant's scenario."""
    scenario = scenario_named(variant.scenario)
    gateway = stack.start_gateway(variant.env)
    url = stack.gateway_url + WIRES[scenario.client_wire].path
    measured = measure(plan, scenario, url, scenario.client_wire, gateway)
    return VariantResult(variant=variant, gateway=measured, peak_rss_kib=gateway.peak_rss_kib())


def run_memory(plan: RunPlan, stack: BenchStack) -> MemoryResult:
    """MEMORY_ROUNDS rounds of mixed requests; the gateway's RSS once idle after each."""
    gateway = stack.gateway
    assert gateway is not None
    client = "anthropic"
    rounds = []
    for number in range(1, MEMORY_ROUNDS + 1):
        spec = LoadSpec(
            url=stack.gateway_url + WIRES[client].path,
            stream=False,
            concurrency=MEMORY_CONCURRENCY,
            requests=plan.memory_round_requests,
            duration_s=MEMORY_ROUND_TIME_LIMIT_S,
            wire=client,
            mix=MEMORY_MIX,
        )
        load = asyncio.run(run_load(spec))
        gateway.wait_until_idle(plan.settle_timeout_s)
        rounds.append(
            MemoryRound(
                number=number,
                load=load,
                rss_kib=_largest(gateway.member_rss_kib()),
                peak_rss_kib=gateway.peak_rss_kib(),
            )
        )
    return MemoryResult(rounds=tuple(rounds), mix=MEMORY_MIX_LABEL)


def _largest(values: list[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def uvicorn_missing() -> str | None:
    """Why the gateway cannot run under uvicorn here, or None."""
    if importlib.util.find_spec("uvicorn") is None:
        return "uvicorn is not installed (pip install 'uvicorn[standard]')"
    return None


def run_servers_and_workers(
    plan: RunPlan, stack: BenchStack
) -> tuple[list[ServerResult], list[WorkersResult]]:
    """SERVER_SCENARIOS on the running one-worker Daphne gateway, then on more workers, uvicorn.

    The one-worker row of the workers section is that Daphne gateway's
    WORKERS_SCENARIO measurement; each other worker count and uvicorn get a
    freshly started gateway.
    """
    assert stack.gateway is not None and WORKERS_SCENARIO in SERVER_SCENARIOS
    servers: list[ServerResult] = []
    workers: list[WorkersResult] = []
    servers.extend(_server_results(plan, stack, DAPHNE))
    one_worker = next(r for r in servers if r.scenario == WORKERS_SCENARIO)
    workers.append(
        WorkersResult(
            workers=1,
            scenario=WORKERS_SCENARIO,
            measurement=one_worker.measurement,
            peak_rss_kib=tuple(stack.gateway.member_peak_rss_kib()),
        )
    )
    scenario = scenario_named(WORKERS_SCENARIO)
    url = stack.gateway_url + WIRES[scenario.client_wire].path
    for count in WORKER_COUNTS:
        if count == 1:
            continue
        gateway = stack.start_gateway(workers=count)
        measured = measure(plan, scenario, url, scenario.client_wire, gateway)
        workers.append(
            WorkersResult(
                workers=count,
                scenario=WORKERS_SCENARIO,
                measurement=measured,
                peak_rss_kib=tuple(gateway.member_peak_rss_kib()),
            )
        )
    if uvicorn_missing() is None:
        stack.start_gateway(server=UVICORN)
        servers.extend(_server_results(plan, stack, UVICORN))
    return servers, workers


def _server_results(plan: RunPlan, stack: BenchStack, server: str) -> list[ServerResult]:
    gateway = stack.gateway
    assert gateway is not None
    results = []
    for name in SERVER_SCENARIOS:
        scenario = scenario_named(name)
        url = stack.gateway_url + WIRES[scenario.client_wire].path
        measured = measure(plan, scenario, url, scenario.client_wire, gateway)
        results.append(
            ServerResult(
                server=server,
                scenario=name,
                measurement=measured,
                peak_rss_kib=gateway.peak_rss_kib(),
            )
        )
    return results

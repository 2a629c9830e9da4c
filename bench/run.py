"""The benchmark in one command: mock upstream, gateway, peer, every section, tables and JSON.

    python -m bench.run [--quick] [--peer litellm] [--gateway-root DIR] [--json OUT]

Starts the mock upstream and the gateway (`daphne`, after `migrate` and the
OpenAI-format provider and alias are set up in a temporary data dir), the
mock pinned to one core and the gateway to the other when `taskset` and two
cores are there; this process, the load generator, shares the mock's core
so the gateway has its core to itself. With `--peer litellm` it installs
LiteLLM proxy into bench/.peer-venv (first run only) and starts one LiteLLM
worker on the gateway's core, configured to the same mock.

In order: three memory rounds of mixed requests on the fresh gateway; each
scenario (passthrough and translated) straight at the mock, through the
gateway and at the peer; the ASGI servers and worker counts (the gateway
restarted under uvicorn and as two Daphne workers on one socket); the
gateway restarted with body logging on and off. Prints the tables and the
issue's targets, writes JSON (bench/results/latest.json by default) and
exits 1 if any request to the mock or the gateway failed (the peer's
failures are reported, not counted). Every child is stopped on the way
out, on errors, Ctrl-C and SIGTERM too. See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench.loadgen import LoadResult
from bench.measure import (
    RunPlan,
    run_memory,
    run_scenario,
    run_servers_and_workers,
    run_variant,
    uvicorn_missing,
)
from bench.mock_upstream import DEFAULT_CHUNK_DELAY_MS, DEFAULT_CHUNKS
from bench.peer import LITELLM_VERSION, PEERS, ensure_litellm, litellm_launch
from bench.processes import core_plan, interrupt_on_signals, pin_this_process
from bench.report import (
    ScenarioResult,
    VariantResult,
    error_lines,
    peer_table,
    scenario_table,
    translation_comparisons,
    translation_table,
    variant_table,
)
from bench.scenarios import LOG_BODY_VARIANTS, MEMORY_ROUNDS, SCENARIOS
from bench.sections import (
    MemoryResult,
    ServerResult,
    WorkersResult,
    memory_table,
    server_table,
    workers_table,
)
from bench.stack import BenchStack, StackOptions, add_gateway_root_argument, clean_environment
from bench.targets import (
    latency_targets,
    other_targets,
    peer_targets,
    targets_table,
    translation_targets,
)

RESULTS_PATH = Path(__file__).resolve().parent / "results" / "latest.json"
#: Text deltas per stream with --quick (fewer: the smoke is about working, not numbers).
QUICK_CHUNKS = 5
EXIT_INTERRUPTED = 130  # as a shell reports Ctrl-C
PEER_LABELS = {"litellm": "LiteLLM"}


_CLOCK_START = time.monotonic()


def progress(message: str) -> None:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"[{time.monotonic() - _CLOCK_START:6.1f}s load {load}] {message}",
        file=sys.stderr,
        flush=True,
    )


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few requests per scenario (CI)")
    parser.add_argument("--requests", type=int, help="requests per measurement (all scenarios)")
    parser.add_argument("--duration", type=float, help="time limit per measurement, seconds")
    parser.add_argument("--memory-requests", type=int, help="requests per memory round")
    parser.add_argument("--json", type=Path, default=RESULTS_PATH, help="where to write results")
    parser.add_argument(
        "--chunks",
        type=int,
        help=f"text deltas per stream (default {DEFAULT_CHUNKS}, {QUICK_CHUNKS} with --quick)",
    )
    parser.add_argument("--chunk-delay-ms", type=float, default=DEFAULT_CHUNK_DELAY_MS)
    parser.add_argument(
        "--peer",
        choices=PEERS,
        help=f"also measure this gateway (litellm: LiteLLM proxy {LITELLM_VERSION}, "
        "installed into bench/.peer-venv on first use)",
    )
    add_gateway_root_argument(parser)
    args = parser.parse_args(argv)
    for name in ("requests", "memory_requests"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
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


class Sections:
    """What one run measured, section by section."""

    def __init__(self) -> None:
        self.memory: MemoryResult | None = None
        self.scenarios: list[ScenarioResult] = []
        self.servers: list[ServerResult] = []
        self.workers: list[WorkersResult] = []
        self.variants: list[VariantResult] = []
        self.gateway_peak_rss_kib: int | None = None
        self.peer_peak_rss_kib: int | None = None
        #: Load average (1, 5, 15 min) when each section ended.
        self.load_averages: dict[str, list[float]] = {}

    def ended(self, section: str) -> None:
        self.load_averages[section] = load_average()

    def gateway_loads(self) -> list[tuple[str, LoadResult]]:
        """Every load against the mock or the gateway, labelled: these decide the exit code."""
        loads: list[tuple[str, LoadResult]] = []
        if self.memory is not None:
            loads += [(f"memory round {r.number}", r.load) for r in self.memory.rounds]
        for result in self.scenarios:
            loads += [
                (f"{result.scenario.name} direct", result.direct.load),
                (f"{result.scenario.name} gateway", result.gateway.load),
            ]
        loads += [(f"{r.server} {r.scenario}", r.measurement.load) for r in self.servers]
        loads += [(f"{w.workers} workers {w.scenario}", w.measurement.load) for w in self.workers]
        loads += [(v.variant.name, v.gateway.load) for v in self.variants]
        return loads

    def peer_loads(self, peer: str) -> list[tuple[str, LoadResult]]:
        return [
            (f"{result.scenario.name} {peer}", result.peer.load)
            for result in self.scenarios
            if result.peer is not None
        ]


def measure_all(plan: RunPlan, options: StackOptions, peer: str | None) -> Sections:
    """Every section of a run, on one stack; see the module docstring for the order."""
    done = Sections()
    progress("starting mock upstream and gateway ...")
    with BenchStack(options) as stack:
        if peer == "litellm":
            progress("starting LiteLLM (in the background, on the gateway's core) ...")
            launch = litellm_launch(stack.workdir, stack.mock_url, clean_environment())
            stack.start_peer(launch, wait=False)
        requests = plan.memory_round_requests
        progress(f"memory: {MEMORY_ROUNDS} rounds of {requests:,} mixed requests ...")
        done.memory = run_memory(plan, stack)
        done.ended("memory")
        if stack.peer is not None:
            stack.wait_for_peer()
        for scenario in SCENARIOS:
            progress(f"measuring {scenario.name} ...")
            done.scenarios.append(run_scenario(plan, stack, scenario))
        done.ended("scenarios")
        assert stack.gateway is not None
        done.gateway_peak_rss_kib = stack.gateway.peak_rss_kib()
        if stack.peer is not None:
            done.peer_peak_rss_kib = stack.peer.peak_rss_kib()
            stack.stop_peer()
        progress("servers and workers: Daphne, 2 Daphne workers on one socket, uvicorn ...")
        done.servers, done.workers = run_servers_and_workers(plan, stack)
        done.ended("servers and workers")
        for variant in LOG_BODY_VARIANTS:
            progress(f"restarting the gateway: {variant.name} ...")
            done.variants.append(run_variant(plan, stack, variant))
        done.ended("body logging")
    return done


def run(plan: RunPlan, args: argparse.Namespace) -> int:
    started = time.monotonic()
    cores = core_plan()
    if cores is not None:
        pin_this_process(cores.load)
    peer_version = None
    if args.peer == "litellm":
        peer_version = ensure_litellm(progress)
        progress(f"LiteLLM {peer_version} in bench/.peer-venv")
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
    done = measure_all(plan, options, args.peer)
    meta["load_average_after"] = load_average()
    meta["load_average_by_section"] = done.load_averages
    meta["wall_s"] = round(time.monotonic() - started, 1)
    peer_label = PEER_LABELS.get(args.peer or "", args.peer or "")
    comparisons = translation_comparisons(done.scenarios)
    by_name = {result.scenario.name: result for result in done.scenarios}
    targets = [
        *latency_targets(by_name),
        *peer_targets(by_name, peer_label),
        *translation_targets(comparisons),
        *other_targets(
            by_name, done.variants, done.memory, done.workers, done.gateway_peak_rss_kib
        ),
    ]
    gateway_loads = done.gateway_loads()
    errors = sum(load.errors for _, load in gateway_loads)
    peer_loads = done.peer_loads(peer_label)
    document = {
        "meta": meta,
        "scenarios": [r.as_dict() for r in done.scenarios],
        "translation": [c.as_dict() for c in comparisons],
        "peer": None
        if args.peer is None
        else {
            "name": args.peer,
            "version": peer_version,
            "peak_rss_kib": done.peer_peak_rss_kib,
            "errors": sum(load.errors for _, load in peer_loads),
        },
        "servers": [r.as_dict() for r in done.servers],
        "servers_missing": uvicorn_missing(),
        "workers": [w.as_dict() for w in done.workers],
        "memory": None if done.memory is None else done.memory.as_dict(),
        "gateway_variants": [v.as_dict() for v in done.variants],
        "gateway_peak_rss_kib": done.gateway_peak_rss_kib,
        "targets": [t.as_dict() for t in targets],
        "errors": errors,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    print_tables(done, targets, meta, args, peer_label, peer_version)
    for line in error_lines(gateway_loads):
        print(f"error: {line}")
    for line in error_lines(peer_loads):
        print(f"peer error (not counted in the exit code): {line}")
    return 1 if errors else 0


def print_tables(
    done: Sections,
    targets: Sequence[Any],
    meta: dict[str, Any],
    args: argparse.Namespace,
    peer_label: str,
    peer_version: str | None,
) -> None:
    def section(title: str, table: str) -> None:
        print(f"== {title} ==")
        print(table)
        print()

    section("gateway vs direct (the mock called straight)", scenario_table(done.scenarios))
    section(
        "translation (Anthropic in, OpenAI upstream) vs passthrough, through the gateway",
        translation_table(translation_comparisons(done.scenarios)),
    )
    if args.peer is not None:
        section(
            f"gateway vs {peer_label} {peer_version} (one worker each, same core; +ms over direct)",
            peer_table(done.scenarios, peer_label),
        )
    missing = uvicorn_missing()
    servers = server_table(done.servers) + (f"\nuvicorn: n/a, {missing}" if missing else "")
    section("ASGI servers, one worker, same app", servers)
    section("workers: Daphne processes sharing one listening socket", workers_table(done.workers))
    if done.memory is not None:
        section(
            f"memory: mixed rounds ({done.memory.mix}) on the fresh gateway",
            memory_table(done.memory),
        )
    section("body logging, each on a freshly started gateway", variant_table(done.variants))
    section("issue #6 targets", targets_table(targets))
    rss = done.gateway_peak_rss_kib
    print(
        "gateway peak RSS (VmHWM) over memory rounds and all scenarios: "
        + ("unknown" if rss is None else f"{rss / 1024:.1f} MiB")
    )
    if done.peer_peak_rss_kib is not None:
        print(f"{peer_label} peak RSS (VmHWM): {done.peer_peak_rss_kib / 1024:.1f} MiB")
    by_section = "; ".join(f"{k} {v}" for k, v in meta["load_average_by_section"].items())
    print(f"load average before {meta['load_average_before']}, after each section: {by_section}")
    print(f"wall {meta['wall_s']}s; results in {args.json}")


if __name__ == "__main__":
    raise SystemExit(main())

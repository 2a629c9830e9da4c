"""The latency the gateway adds to one request: median through the gateway minus direct.

    python -m bench.latency [--requests 2000] [--rounds 4] [--stream] [--translated]

Sends requests one at a time (concurrency 1, keep-alive), straight to the
mock and through the gateway, in alternating blocks so a slow moment on the
machine lands on both sides; each side is warmed up first. Non-streaming,
it compares whole-request latency; with `--stream`, time to first byte.
With `--translated` the gateway translates (alias `bench-openai`, an
OpenAI-format provider) and the direct side calls the mock's Chat
Completions endpoint. Uses the runner's stack (same pinning, same temporary
data dir).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
from collections.abc import Sequence

from bench.loadgen import LoadSpec, run_load
from bench.processes import core_plan, interrupt_on_signals, pin_this_process
from bench.scenarios import TRANSLATED_MODEL
from bench.stack import BenchStack, StackOptions, add_gateway_root_argument
from bench.wire import WIRES

DEFAULT_REQUESTS = 2_000
DEFAULT_ROUNDS = 4
WARMUP_REQUESTS = 200
#: Time limit of one block of sequential requests.
BLOCK_TIME_LIMIT_S = 60.0
WIRE = "anthropic"
TRANSLATED_UPSTREAM_WIRE = "openai"
EXIT_INTERRUPTED = 130  # as a shell reports Ctrl-C


def sequential_latencies(
    url: str, requests: int, warmup: int, *, wire: str, stream: bool, model: str | None
) -> tuple[list[float], int]:
    """Latencies (ms; time to first byte when streaming) of one-at-a-time requests, and errors."""
    spec = LoadSpec(
        url=url,
        stream=stream,
        concurrency=1,
        requests=requests,
        duration_s=BLOCK_TIME_LIMIT_S,
        wire=wire,
        model=model,
        warmup_requests=warmup,
    )
    result = asyncio.run(run_load(spec))
    for sample in result.error_samples:
        print(f"error: {sample}", file=sys.stderr)
    samples = result.ttfbs_ms if stream else result.latencies_ms
    return list(samples), result.errors


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=DEFAULT_REQUESTS, help="per side")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="alternating blocks")
    parser.add_argument("--stream", action="store_true", help="compare time to first byte")
    parser.add_argument("--translated", action="store_true", help="via the OpenAI-format alias")
    add_gateway_root_argument(parser)
    args = parser.parse_args(argv)
    if args.requests < 1 or args.rounds < 1:
        parser.error("--requests and --rounds must be at least 1")
    interrupt_on_signals()
    cores = core_plan()
    if cores is not None:
        pin_this_process(cores.load)
    upstream_wire = TRANSLATED_UPSTREAM_WIRE if args.translated else WIRE
    model = TRANSLATED_MODEL if args.translated else None
    block = max(1, args.requests // args.rounds)
    direct: list[float] = []
    gateway: list[float] = []
    errors = 0
    try:
        with BenchStack(StackOptions(cores=cores, gateway_root=args.gateway_root)) as stack:
            for round_number in range(args.rounds):
                warmup = WARMUP_REQUESTS if round_number == 0 else 0
                sides = (
                    (stack.mock_url + WIRES[upstream_wire].path, upstream_wire, None, direct),
                    (stack.gateway_url + WIRES[WIRE].path, WIRE, model, gateway),
                )
                for url, wire, side_model, samples in sides:
                    latencies, failed = sequential_latencies(
                        url, block, warmup, wire=wire, stream=args.stream, model=side_model
                    )
                    samples.extend(latencies)
                    errors += failed
    except KeyboardInterrupt:
        print("interrupted; every process it started is stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    if not direct or not gateway:
        print("no successful requests", file=sys.stderr)
        return 1
    direct_ms, gateway_ms = statistics.median(direct), statistics.median(gateway)
    what = "time to first byte" if args.stream else "latency"
    how = "translated" if args.translated else "passthrough"
    print(f"median {what}, {how}, concurrency 1, load average {os.getloadavg()[0]:.2f}")
    print(f"requests per side: {len(direct)} direct, {len(gateway)} gateway")
    print(f"median direct : {direct_ms:8.3f} ms")
    print(f"median gateway: {gateway_ms:8.3f} ms")
    print(f"added         : {gateway_ms - direct_ms:8.3f} ms")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())

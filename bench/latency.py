"""The latency the gateway adds to one request: median through the gateway minus direct.

    python -m bench.latency [--requests 2000] [--rounds 4]

Sends non-streaming requests one at a time (concurrency 1, keep-alive),
straight to the mock and through the gateway, in alternating blocks so a
slow moment on the machine lands on both sides; each side is warmed up
first. Uses the runner's stack (same pinning, same temporary data dir).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from collections.abc import Sequence

from bench.loadgen import LoadSpec, run_load
from bench.processes import core_plan, interrupt_on_signals, pin_this_process
from bench.stack import BenchStack, StackOptions, add_gateway_root_argument
from bench.wire import WIRES

DEFAULT_REQUESTS = 2_000
DEFAULT_ROUNDS = 4
WARMUP_REQUESTS = 200
#: Time limit of one block of sequential requests.
BLOCK_TIME_LIMIT_S = 60.0
WIRE = "anthropic"
EXIT_INTERRUPTED = 130  # as a shell reports Ctrl-C


def sequential_latencies(url: str, requests: int, warmup: int) -> tuple[list[float], int]:
    """Latencies (ms) of `requests` one-at-a-time requests, and the error count."""
    spec = LoadSpec(
        url=url,
        stream=False,
        concurrency=1,
        requests=requests,
        duration_s=BLOCK_TIME_LIMIT_S,
        wire=WIRE,
        warmup_requests=warmup,
    )
    result = asyncio.run(run_load(spec))
    for sample in result.error_samples:
        print(f"error: {sample}", file=sys.stderr)
    return list(result.latencies_ms), result.errors


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=DEFAULT_REQUESTS, help="per side")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="alternating blocks")
    add_gateway_root_argument(parser)
    args = parser.parse_args(argv)
    if args.requests < 1 or args.rounds < 1:
        parser.error("--requests and --rounds must be at least 1")
    interrupt_on_signals()
    cores = core_plan()
    if cores is not None:
        pin_this_process(cores.load)
    path = WIRES[WIRE].path
    block = max(1, args.requests // args.rounds)
    direct: list[float] = []
    gateway: list[float] = []
    errors = 0
    try:
        with BenchStack(StackOptions(cores=cores, gateway_root=args.gateway_root)) as stack:
            for round_number in range(args.rounds):
                warmup = WARMUP_REQUESTS if round_number == 0 else 0
                for url, samples in ((stack.mock_url, direct), (stack.gateway_url, gateway)):
                    latencies, failed = sequential_latencies(url + path, block, warmup)
                    samples.extend(latencies)
                    errors += failed
    except KeyboardInterrupt:
        print("interrupted; every process it started is stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    if not direct or not gateway:
        print("no successful requests", file=sys.stderr)
        return 1
    direct_ms, gateway_ms = statistics.median(direct), statistics.median(gateway)
    print(f"requests per side: {len(direct)} direct, {len(gateway)} gateway (concurrency 1)")
    print(f"median direct : {direct_ms:8.3f} ms")
    print(f"median gateway: {gateway_ms:8.3f} ms")
    print(f"added         : {gateway_ms - direct_ms:8.3f} ms")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())

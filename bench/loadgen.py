"""An asyncio load generator: N keep-alive clients, bounded by request count AND time.

`run_load(spec)` sends `spec.requests` requests from `spec.concurrency`
workers sharing one aiohttp session whose connector holds exactly that many
connections, and stops early at `spec.duration_s`; requests still in flight
get `IN_FLIGHT_GRACE_S` more, then count as errors. Every answer is checked
(status 200, and complete for its wire format: JSON with `content`, or a
stream whose last event is `message_stop`), whether the server passed it
through or translated it. Warm-up requests go first on the same connections
and are not counted; the warm-up sends no new request after
`WARMUP_TIME_LIMIT_S`, though every connection gets its first. A spec with a
`mix` cycles through several kinds of request (stream or not, model).

    python -m bench.loadgen http://127.0.0.1:9100/v1/messages --stream -c 32 -n 2000 -d 10
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bench.stats import Percentiles, summarize
from bench.wire import WIRES, Wire

#: Seconds requests still in flight at the time limit may take to finish.
IN_FLIGHT_GRACE_S = 5.0
#: Seconds after which the warm-up sends no new request (each connection still gets one).
WARMUP_TIME_LIMIT_S = 2.0
#: Seconds one request may take before it counts as an error.
REQUEST_TIMEOUT_S = 30.0
#: The only hosts this tool will load: it is for measuring on this machine.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
#: Distinct error messages kept in a result.
MAX_ERROR_SAMPLES = 5
#: The gateway key the bench's gateway requires: its stored (bench) credentials are
#: only attached to requests that carry one. The mock and the peers ignore it.
BENCH_GATEWAY_KEY = "sb-bench-gateway-key"
DEFAULT_HEADERS: Mapping[str, str] = {
    "content-type": "application/json",
    "anthropic-version": "2023-06-01",
    "x-api-key": "sk-ant-bench-not-a-real-key",
    "x-switchboard-key": BENCH_GATEWAY_KEY,
    "user-agent": "switchboard-bench/1",
}


@dataclass(frozen=True)
class RequestKind:
    """One kind of request in a mixed load: streamed or not, and the model it names."""

    stream: bool
    #: Sent as `model` (None: the wire's default).
    model: str | None = None


@dataclass(frozen=True)
class LoadSpec:
    url: str
    stream: bool
    concurrency: int
    requests: int
    duration_s: float
    wire: str = "anthropic"
    #: Sent as `model`; the gateway routes on it.
    model: str | None = None
    warmup_requests: int = 0
    headers: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_HEADERS))
    #: When set, request i is of kind `mix[i % len(mix)]`; `stream` and `model` are unused.
    mix: tuple[RequestKind, ...] = ()

    def kinds(self) -> tuple[RequestKind, ...]:
        return self.mix or (RequestKind(stream=self.stream, model=self.model),)


@dataclass(frozen=True)
class LoadResult:
    ok: int
    errors: int
    error_samples: tuple[str, ...]
    elapsed_s: float
    #: "count" when every request was sent, "time" when the time limit stopped it.
    stopped_by: str
    latency_ms: Percentiles | None
    #: Time to the first body byte, streams only.
    ttfb_ms: Percentiles | None
    latencies_ms: tuple[float, ...] = field(repr=False, default=())
    ttfbs_ms: tuple[float, ...] = field(repr=False, default=())

    @property
    def rps(self) -> float:
        """Successful requests per second."""
        return self.ok / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """Everything but the raw samples, for JSON."""
        return {
            "ok": self.ok,
            "errors": self.errors,
            "error_samples": list(self.error_samples),
            "elapsed_s": round(self.elapsed_s, 3),
            "stopped_by": self.stopped_by,
            "rps": round(self.rps, 1),
            "latency_ms": self.latency_ms.as_dict() if self.latency_ms else None,
            "ttfb_ms": self.ttfb_ms.as_dict() if self.ttfb_ms else None,
        }


@dataclass
class _Tally:
    """What the workers of one run share (one event loop, so no locks)."""

    remaining: int
    deadline: float
    claimed: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    ttfbs_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)

    def claim(self) -> int | None:
        """The number of the next request to send (0, 1, ...), or None when done."""
        if self.remaining <= 0 or time.perf_counter() >= self.deadline:
            return None
        self.remaining -= 1
        self.claimed += 1
        return self.claimed - 1

    def fail(self, reason: str) -> None:
        self.errors += 1
        if reason not in self.error_samples and len(self.error_samples) < MAX_ERROR_SAMPLES:
            self.error_samples.append(reason)


@dataclass(frozen=True)
class _Prepared:
    """A request kind encoded once: whether it streams and its body."""

    stream: bool
    body: bytes


def _prepare(spec: LoadSpec, wire: Wire) -> tuple[_Prepared, ...]:
    prepared = []
    for kind in spec.kinds():
        body = (
            wire.request_body(stream=kind.stream, model=kind.model)
            if kind.model
            else wire.request_body(stream=kind.stream)
        )
        prepared.append(_Prepared(stream=kind.stream, body=body))
    return tuple(prepared)


async def _one_request(
    session: aiohttp.ClientSession, spec: LoadSpec, wire: Wire, request: _Prepared, tally: _Tally
) -> None:
    started = time.perf_counter()
    try:
        async with session.post(spec.url, data=request.body, headers=spec.headers) as response:
            if request.stream:
                first = await response.content.readany()
                first_byte = time.perf_counter()
                parts = [first]
                async for piece in response.content.iter_any():
                    parts.append(piece)
                payload = b"".join(parts)
            else:
                payload = await response.read()
                first_byte = None
            status = response.status
    except (TimeoutError, OSError, aiohttp.ClientError) as exc:
        tally.fail(f"{type(exc).__name__}: {exc}"[:200])
        return
    done = time.perf_counter()
    if status != 200:
        tally.fail(f"HTTP {status}: {payload[:120]!r}")
        return
    problem = wire.check_stream(payload) if request.stream else wire.check_message(payload)
    if problem is not None:
        tally.fail(problem)
        return
    tally.latencies_ms.append((done - started) * 1000)
    if first_byte is not None:
        tally.ttfbs_ms.append((first_byte - started) * 1000)


async def _worker(
    session: aiohttp.ClientSession,
    spec: LoadSpec,
    wire: Wire,
    requests: tuple[_Prepared, ...],
    tally: _Tally,
) -> None:
    while (number := tally.claim()) is not None:
        await _one_request(session, spec, wire, requests[number % len(requests)], tally)


async def _drive(
    session: aiohttp.ClientSession,
    spec: LoadSpec,
    wire: Wire,
    requests: tuple[_Prepared, ...],
    tally: _Tally,
) -> float:
    """Run the workers until done or past the deadline plus grace; the seconds it took."""
    started = time.perf_counter()
    workers = [
        asyncio.create_task(_worker(session, spec, wire, requests, tally))
        for _ in range(spec.concurrency)
    ]
    try:
        _, pending = await asyncio.wait(workers, timeout=spec.duration_s + IN_FLIGHT_GRACE_S)
    finally:  # also when this run is cancelled (Ctrl-C): no worker outlives the session
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    for _ in pending:
        tally.fail(f"still in flight {IN_FLIGHT_GRACE_S}s after the time limit")
    return time.perf_counter() - started


async def run_load(
    spec: LoadSpec, *, after_warmup: Callable[[], object] | None = None
) -> LoadResult:
    """Measure one scenario against one URL; see the module docstring.

    `after_warmup` is called once the warm-up is done, just before the clock
    starts (the runner reads the server's CPU time there).
    """
    if spec.concurrency < 1 or spec.requests < 1:
        raise ValueError("concurrency and requests must be at least 1")
    if urlsplit(spec.url).hostname not in LOOPBACK_HOSTS:
        raise ValueError(
            f"{spec.url} is not on this machine; the load generator only loads loopback"
        )
    wire = WIRES[spec.wire]
    requests = _prepare(spec, wire)
    connector = aiohttp.TCPConnector(limit=spec.concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, auto_decompress=False, trust_env=False
    ) as session:
        if spec.warmup_requests:
            limit = min(spec.duration_s, WARMUP_TIME_LIMIT_S)
            warmup = _Tally(spec.warmup_requests, time.perf_counter() + limit)
            await _drive(session, spec, wire, requests, warmup)
        if after_warmup is not None:
            after_warmup()
        tally = _Tally(spec.requests, time.perf_counter() + spec.duration_s)
        elapsed = await _drive(session, spec, wire, requests, tally)
    sent_all = tally.remaining == 0
    return LoadResult(
        ok=len(tally.latencies_ms),
        errors=tally.errors,
        error_samples=tuple(tally.error_samples),
        elapsed_s=elapsed,
        stopped_by="count" if sent_all else "time",
        latency_ms=summarize(tally.latencies_ms),
        ttfb_ms=summarize(tally.ttfbs_ms),
        latencies_ms=tuple(tally.latencies_ms),
        ttfbs_ms=tuple(tally.ttfbs_ms),
    )


def format_result(result: LoadResult) -> str:
    lines = [
        f"ok {result.ok}  errors {result.errors}  {result.elapsed_s:.2f}s "
        f"(stopped by {result.stopped_by})  {result.rps:,.0f} req/s"
    ]
    if result.latency_ms:
        lat = result.latency_ms
        lines.append(f"latency ms  p50 {lat.p50:.2f}  p95 {lat.p95:.2f}  p99 {lat.p99:.2f}")
    if result.ttfb_ms:
        ttfb = result.ttfb_ms
        lines.append(f"ttfb ms     p50 {ttfb.p50:.2f}  p95 {ttfb.p95:.2f}  p99 {ttfb.p99:.2f}")
    lines.extend(f"error: {sample}" for sample in result.error_samples)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="e.g. http://127.0.0.1:9100/v1/messages (127.0.0.1 only)")
    parser.add_argument("--wire", choices=sorted(WIRES), default="anthropic")
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--model", help="sent as `model` (default: the wire's)")
    parser.add_argument("-c", "--concurrency", type=int, default=1)
    parser.add_argument("-n", "--requests", type=int, default=1000)
    parser.add_argument("-d", "--duration", type=float, default=10.0, help="time limit, seconds")
    parser.add_argument("--warmup", type=int, default=0, help="uncounted requests first")
    args = parser.parse_args(argv)
    spec = LoadSpec(
        url=args.url,
        stream=args.stream,
        concurrency=args.concurrency,
        requests=args.requests,
        duration_s=args.duration,
        wire=args.wire,
        model=args.model,
        warmup_requests=args.warmup,
    )
    result = asyncio.run(run_load(spec))
    print(format_result(result))
    raise SystemExit(1 if result.errors else 0)


if __name__ == "__main__":
    main()

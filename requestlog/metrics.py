"""Prometheus metrics for /metrics, updated by the log writer (off the request path).

Figures per worker process: scrape each worker, or sum them in Prometheus.
They lag the requests by at most one log flush (SWITCHBOARD_LOG_FLUSH_MS).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

registry = CollectorRegistry(auto_describe=True)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

requests_total = Counter(
    "switchboard_requests_total",
    "Client requests, by outcome.",
    ["endpoint", "provider", "route", "status", "outcome"],
    registry=registry,
)
attempts_total = Counter(
    "switchboard_upstream_attempts_total",
    "Upstream attempts (fallbacks and retries included).",
    ["provider", "account", "status"],
    registry=registry,
)
tokens_total = Counter(
    "switchboard_tokens_total",
    "Tokens, by kind.",
    ["provider", "model", "kind"],
    registry=registry,
)
latency_seconds = Histogram(
    "switchboard_request_duration_seconds",
    "Whole request time.",
    ["endpoint", "provider", "stream"],
    buckets=LATENCY_BUCKETS,
    registry=registry,
)
ttfb_seconds = Histogram(
    "switchboard_time_to_first_byte_seconds",
    "Time until the first byte reached the client.",
    ["provider", "stream"],
    buckets=LATENCY_BUCKETS,
    registry=registry,
)
log_rows_spilled_total = Counter(
    "switchboard_log_rows_spilled_total",
    "Log rows written to the spill file for `manage.py replaylogs` instead of the database, "
    "by reason: queue_full (past SWITCHBOARD_LOG_QUEUE_MAX), refused (the database refused "
    "the row), database_unavailable.",
    ["reason"],
    registry=registry,
)
TOKEN_KINDS = {
    "input_tokens": "input",
    "output_tokens": "output",
    "cache_read_input_tokens": "cache_read",
    "cache_creation_input_tokens": "cache_write",
}


def observe(rows: Iterable[dict[str, Any]]) -> None:
    """Count rows the writer has just stored."""
    for row in rows:
        provider = row.get("provider") or "-"
        stream = "true" if row.get("stream") else "false"
        requests_total.labels(
            row.get("endpoint", ""),
            provider,
            row.get("route") or "-",
            str(row.get("status", 0)),
            row.get("outcome", ""),
        ).inc()
        latency_seconds.labels(row.get("endpoint", ""), provider, stream).observe(
            row.get("latency_ms", 0) / 1000
        )
        if row.get("ttfb_ms") is not None:
            ttfb_seconds.labels(provider, stream).observe(row["ttfb_ms"] / 1000)
        for attempt in row.get("attempts") or ():
            attempts_total.labels(
                attempt.get("provider", ""),
                attempt.get("account", ""),
                str(attempt.get("status") or "error"),
            ).inc()
        model = row.get("target_model") or "-"
        for field, kind in TOKEN_KINDS.items():
            count = row.get(field) or 0
            if count:
                tokens_total.labels(provider, model, kind).inc(count)


def exposition() -> tuple[bytes, str]:
    return generate_latest(registry), CONTENT_TYPE_LATEST

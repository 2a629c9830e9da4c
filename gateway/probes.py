"""Probes outside /v1/*: Claude Code's preflight, liveness, readiness, Prometheus.

Served by the gateway's middleware-free handler, like /v1/* (proxysite/asgi.py).
"""

from __future__ import annotations

import orjson
from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse

from providers.accounts import accounts
from requestlog import metrics
from routing import snapshot


async def preflight(request: HttpRequest) -> HttpResponse:
    """Claude Code's `HEAD /` or `HEAD /api/hello` reachability check."""
    return HttpResponse(status=200)


async def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers."""
    return HttpResponse(orjson.dumps({"status": "ok"}), content_type="application/json")


async def readyz(request: HttpRequest) -> HttpResponse:
    """Readiness: the database answers and the routing config is loaded."""
    checks: dict[str, str] = {}
    try:
        await sync_to_async(snapshot.stored_version)()
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    version = None
    try:
        config = snapshot.current() or await sync_to_async(snapshot.load)()
        version = config.version
        checks["routing_config"] = "ok"
    except Exception as exc:
        checks["routing_config"] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    body = {
        "status": "ok" if ok else "unavailable",
        "checks": checks,
        "config_version": version,
        "cooling_accounts": sorted(f"{p}/{label}" for p, label in accounts.cooling()),
    }
    return HttpResponse(
        orjson.dumps(body),
        status=200 if ok else 503,
        content_type="application/json",
    )


async def prometheus_metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition of this worker's counters (requestlog.metrics)."""
    body, content_type = metrics.exposition()
    return HttpResponse(body, content_type=content_type)

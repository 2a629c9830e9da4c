"""Probes outside /v1/*: Claude Code's preflight, liveness, readiness, Prometheus.

Served by the gateway's middleware-free handler, like /v1/* (proxysite/asgi.py),
so each probe checks `Host` itself (gateway/host_check.py).

Who may see what: /healthz and /readyz's status are public (load balancers
need them). /readyz's details (checks, config version, cooling accounts,
unreadable credentials) and /metrics (providers, account labels) are for
observers only: with SWITCHBOARD_METRICS_TOKEN set, clients sending it as
`Authorization: Bearer`; and local clients (a loopback address, not relayed by
a proxy). /metrics with the token set requires the token, even locally.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from functools import wraps

import orjson
from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from gateway.host_check import host_allowed, host_refusal_message
from gateway.keys import idle_credentials_warning, idle_stored_credentials
from providers.accounts import accounts
from requestlog import metrics
from routing import snapshot

#: Headers a reverse proxy adds: a request carrying one was relayed, so its
#: loopback address is the proxy's, not the client's.
PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip", "x-forwarded-proto")
BEARER_PREFIX = "bearer "

Probe = Callable[[HttpRequest], Awaitable[HttpResponse]]


def error_response(status: int, error_type: str, message: str) -> HttpResponse:
    """An Anthropic-shaped error, as every gateway path answers."""
    body = {"type": "error", "error": {"type": error_type, "message": message}}
    return HttpResponse(orjson.dumps(body), status=status, content_type="application/json")


def checks_host(view: Probe) -> Probe:
    """Answer 400 instead of running `view` when the request's Host is not allowed."""

    @wraps(view)
    async def wrapper(request: HttpRequest) -> HttpResponse:
        host = request.headers.get("host")
        if not host_allowed(host):
            return error_response(400, "invalid_request_error", host_refusal_message(host or ""))
        return await view(request)

    return wrapper


def is_local_client(request: HttpRequest) -> bool:
    """A loopback client address, on a request no proxy relayed."""
    if any(name in request.headers for name in PROXY_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR") or "")
    except ValueError:  # absent (e.g. a unix socket) or not an address
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def has_metrics_token(request: HttpRequest) -> bool:
    """The request carries SWITCHBOARD_METRICS_TOKEN as a Bearer token (constant-time)."""
    token = settings.SWITCHBOARD_METRICS_TOKEN
    header = request.headers.get("authorization", "")
    if not token or not header.lower().startswith(BEARER_PREFIX):
        return False
    sent = header[len(BEARER_PREFIX) :].strip()
    return hmac.compare_digest(sent.encode(), token.encode())


def is_observer(request: HttpRequest) -> bool:
    """May see /readyz's details: a local client, or one with the metrics token."""
    return is_local_client(request) or has_metrics_token(request)


@checks_host
async def preflight(request: HttpRequest) -> HttpResponse:
    """Claude Code's `HEAD /` or `HEAD /api/hello` reachability check."""
    return HttpResponse(status=200)


@checks_host
async def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers."""
    return HttpResponse(orjson.dumps({"status": "ok"}), content_type="application/json")


@checks_host
async def readyz(request: HttpRequest) -> HttpResponse:
    """Readiness: the database answers, the routing config is loaded, every credential reads.

    The status is public; the details only for observers (see the module docstring).
    """
    checks: dict[str, str] = {}
    try:
        await sync_to_async(snapshot.stored_version)()
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    version = None
    unreadable: tuple[str, ...] = ()
    try:
        config = snapshot.current() or await sync_to_async(snapshot.load)()
        version = config.version
        checks["routing_config"] = "ok"
        unreadable = snapshot.unreadable_credentials()
        checks["credentials"] = (
            "ok"
            if not unreadable
            else "error: not decryptable with SWITCHBOARD_ENCRYPTION_KEY: " + ", ".join(unreadable)
        )
    except Exception as exc:
        checks["routing_config"] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    body: dict[str, object] = {"status": "ok" if ok else "unavailable"}
    if is_observer(request):
        current = snapshot.current()
        idle = idle_stored_credentials(current.providers.values()) if current else []
        body["warnings"] = [idle_credentials_warning(idle)] if idle else []
        body |= {
            "checks": checks,
            "config_version": version,
            "cooling_accounts": sorted(f"{p}/{label}" for p, label in accounts.cooling()),
            "unreadable_credentials": list(unreadable),
        }
    return HttpResponse(
        orjson.dumps(body),
        status=200 if ok else 503,
        content_type="application/json",
    )


@checks_host
async def prometheus_metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition of this worker's counters (requestlog.metrics).

    With SWITCHBOARD_METRICS_TOKEN set, only for its bearers (401 otherwise);
    without it, only for local clients (403 otherwise).
    """
    if settings.SWITCHBOARD_METRICS_TOKEN:
        if not has_metrics_token(request):
            response = error_response(
                401,
                "authentication_error",
                "/metrics requires SWITCHBOARD_METRICS_TOKEN as Authorization: Bearer",
            )
            response["WWW-Authenticate"] = "Bearer"
            return response
    elif not is_local_client(request):
        return error_response(
            403,
            "permission_error",
            "/metrics is only served to local clients; set SWITCHBOARD_METRICS_TOKEN "
            "to scrape it from elsewhere",
        )
    body, content_type = metrics.exposition()
    return HttpResponse(body, content_type=content_type)

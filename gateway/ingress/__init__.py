"""Ingress: a request becomes an `Exchange`, its body is read under the cap.

What every wire format shares lives here; each format's own parsing and
validation is a module beside this one (`anthropic.py`).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from gateway.exchange import Exchange
from providers.errors import RequestTooLarge

#: Set by the gateway's ASGI handler when a body went over the cap (its real size).
BODY_TOO_LARGE_SCOPE_KEY = "switchboard.body_too_large"


def client_headers(request: HttpRequest) -> list[tuple[str, str]]:
    """The client's headers as sent (ASGI scope), names lower-cased."""
    scope = getattr(request, "scope", None)
    if scope is not None:
        return [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
    return [(k.lower(), v) for k, v in request.headers.items()]


def client_ip(request: HttpRequest) -> str | None:
    scope = getattr(request, "scope", None)
    client = scope.get("client") if scope else None
    if client:
        return str(client[0])
    return request.META.get("REMOTE_ADDR") or None


def start_exchange(request: HttpRequest, endpoint: str) -> Exchange:
    """The exchange of a request that just arrived (never raises on odd input)."""
    return Exchange(
        endpoint=endpoint,
        method=request.method or "",
        path=request.path,
        query=request.META.get("QUERY_STRING", ""),
        headers=client_headers(request),
        client_ip=client_ip(request),
        scope=getattr(request, "scope", None) or {},
        http=request,
    )


def too_large(size: int) -> RequestTooLarge:
    limit = settings.SWITCHBOARD_MAX_BODY_BYTES
    return RequestTooLarge(
        f"request body is {size} bytes; this gateway accepts at most {limit} "
        "(SWITCHBOARD_MAX_BODY_BYTES)"
    )


def read_body(exchange: Exchange) -> bytes:
    """The request body, refused with 413 past SWITCHBOARD_MAX_BODY_BYTES."""
    request = exchange.http
    assert request is not None
    limit = settings.SWITCHBOARD_MAX_BODY_BYTES
    scope = getattr(request, "scope", None) or {}
    over = scope.get(BODY_TOO_LARGE_SCOPE_KEY)
    if over is None:
        declared = request.META.get("CONTENT_LENGTH") or ""
        if declared.isdigit() and int(declared) > limit:
            over = int(declared)
    if over is not None:
        raise too_large(over)
    body = request.body
    if len(body) > limit:
        raise too_large(len(body))
    exchange.body_read(body)
    return body

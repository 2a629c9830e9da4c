"""HTTP plumbing shared by the /v1/* views: headers in, errors out, one helper each."""

from __future__ import annotations

import hmac
from typing import Any

import orjson
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from providers.errors import AuthenticationFailed, GatewayError, RequestTooLarge, error_body
from requestlog.exchange import Exchange

#: Headers that may carry a gateway key (SWITCHBOARD_API_KEYS).
GATEWAY_KEY_HEADERS = frozenset({"x-switchboard-key", "x-api-key", "authorization"})
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
        return client[0]
    return request.META.get("REMOTE_ADDR") or None


def start_exchange(request: HttpRequest, endpoint: str) -> Exchange:
    query = request.META.get("QUERY_STRING", "")
    return Exchange(
        endpoint=endpoint,
        method=request.method or "",
        path=request.path + (f"?{query}" if query else ""),
        headers=client_headers(request),
        client_ip=client_ip(request),
    )


def authenticate(exchange: Exchange) -> None:
    """Require one of SWITCHBOARD_API_KEYS when any is configured.

    The key may come in `x-switchboard-key` (so the client's own Anthropic
    credentials still pass through), or in `x-api-key` / `Authorization:
    Bearer`; a header that carried the gateway key is not forwarded upstream.
    """
    keys = settings.SWITCHBOARD_API_KEYS
    if not keys:
        return
    for name, value in exchange.headers:
        candidate = (
            value[7:].strip()
            if name == "authorization" and value[:7].lower() == ("bearer ")
            else value.strip()
        )
        if name in GATEWAY_KEY_HEADERS and any(
            hmac.compare_digest(candidate.encode(), key.encode()) for key in keys
        ):
            exchange.headers = [(n, v) for n, v in exchange.headers if n != name]
            return
    raise AuthenticationFailed(
        "this gateway requires a key: send it in x-switchboard-key "
        "(or x-api-key / Authorization: Bearer)"
    )


def read_body(request: HttpRequest, exchange: Exchange) -> bytes:
    """The request body, refused with 413 past SWITCHBOARD_MAX_BODY_BYTES."""
    limit = settings.SWITCHBOARD_MAX_BODY_BYTES
    scope = getattr(request, "scope", None) or {}
    too_large = scope.get(BODY_TOO_LARGE_SCOPE_KEY)
    if too_large is None:
        declared = request.META.get("CONTENT_LENGTH") or ""
        if declared.isdigit() and int(declared) > limit:
            too_large = int(declared)
    if too_large is not None:
        raise RequestTooLarge(
            f"request body is {too_large} bytes; this gateway accepts at most {limit} "
            "(SWITCHBOARD_MAX_BODY_BYTES)"
        )
    body = request.body
    if len(body) > limit:
        raise RequestTooLarge(
            f"request body is {len(body)} bytes; this gateway accepts at most {limit} "
            "(SWITCHBOARD_MAX_BODY_BYTES)"
        )
    exchange.raw_body = body
    return body


def gateway_headers(exchange: Exchange) -> dict[str, str]:
    """The x-switchboard-* headers that tell the client what happened."""
    headers = {"x-switchboard-request-id": exchange.request_id}
    if exchange.provider:
        headers["x-switchboard-provider"] = exchange.provider
    if exchange.target_model:
        headers["x-switchboard-model"] = _header_safe(exchange.target_model)
    if exchange.route:
        headers["x-switchboard-route"] = exchange.route
    return headers


def json_response(
    body: Any, *, status: int, exchange: Exchange, extra: list[tuple[str, str]] = ()
) -> HttpResponse:
    response = HttpResponse(orjson.dumps(body), status=status, content_type="application/json")
    apply_headers(response, exchange, extra)
    return response


def apply_headers(
    response: HttpResponse, exchange: Exchange, extra: list[tuple[str, str]] = ()
) -> None:
    for name, value in extra:
        response[name] = value
    for name, value in gateway_headers(exchange).items():
        response[name] = value


def error_response(exc: GatewayError, exchange: Exchange) -> HttpResponse:
    """An Anthropic-shaped error answer for one of our own exceptions."""
    return json_response(
        error_body(exc.error_type, exc.message), status=exc.status, exchange=exchange
    )


def _header_safe(value: str) -> str:
    return value.encode("latin-1", "replace").decode("latin-1").replace("\n", " ")[:200]

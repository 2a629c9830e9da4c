"""Requests refused before their body is read: too large by Content-Length, or no gateway key.

Two places ask: the HTTP parser of `manage.py serve` (proxysite/server.py), as
soon as a request's headers are in, so the body is never received; and the
gateway's ASGI handler, before it reads the body, so the same holds under any
server (plain Daphne has received the body by then, uvicorn has not). A
refused /v1/* request gets its log row here, built like every other row
(`gateway.exchange.Exchange`, `gateway.record.finish`).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

import orjson
from django.conf import settings

from gateway.exchange import Exchange
from gateway.keys import keys_required, raw_headers_carry_key
from gateway.record import finish
from providers.errors import AuthenticationFailed, GatewayError, RequestTooLarge, error_body

#: Paths whose requests are logged, answered in the Anthropic wire format and key-checked.
GATEWAY_PATH_PREFIX = "/v1/"
#: The log's endpoint name of each /v1/* path (any other is a passthrough).
ENDPOINTS = {
    "/v1/messages": "messages",
    "/v1/messages/count_tokens": "count_tokens",
    "/v1/models": "models",
}
PASSTHROUGH_ENDPOINT = "passthrough"
MISSING_KEY_MESSAGE = (
    "this gateway requires a key: send it in x-switchboard-key "
    "(or x-api-key / Authorization: Bearer)"
)

RawHeaders = Iterable[tuple[bytes, bytes]]


def is_gateway_path(path: str) -> bool:
    return path.startswith(GATEWAY_PATH_PREFIX)


def endpoint_of(path: str) -> str:
    return ENDPOINTS.get(path, PASSTHROUGH_ENDPOINT)


def declared_length(headers: RawHeaders) -> int | None:
    """The request's Content-Length, or None when it sends none (or chunked)."""
    for name, value in headers:
        if name.lower() == b"content-length" and value.strip().isdigit():
            return int(value)
    return None


def body_over_cap(size: int | None = None) -> RequestTooLarge:
    """The 413 for a body of `size` bytes, or for one still arriving past the cap."""
    limit = settings.SWITCHBOARD_MAX_BODY_BYTES
    said = f"{size} bytes" if size is not None else f"more than {limit} bytes"
    return RequestTooLarge(
        f"request body is {said}; this gateway accepts at most {limit} (SWITCHBOARD_MAX_BODY_BYTES)"
    )


def refusal_before_body(
    path: str, headers: list[tuple[bytes, bytes]], content_length: int | None
) -> GatewayError | None:
    """Why this request is refused from its head alone, or None to read on.

    The key check comes first, as on the request path: a client without a
    key learns nothing about the size limit.
    """
    if is_gateway_path(path) and keys_required() and not raw_headers_carry_key(headers):
        return AuthenticationFailed(MISSING_KEY_MESSAGE)
    if content_length is not None and content_length > settings.SWITCHBOARD_MAX_BODY_BYTES:
        return body_over_cap(content_length)
    return None


def split_target(target: bytes) -> tuple[str, str]:
    """(decoded path, raw query) of an HTTP request target, as Daphne would put in a scope."""
    parts = urlsplit(target.decode("latin-1"))
    return unquote(parts.path), parts.query


def log_refusal(
    exc: GatewayError,
    *,
    method: str,
    path: str,
    query: str,
    headers: list[tuple[bytes, bytes]],
    client_ip: str | None,
) -> str:
    """Write the log row of a /v1/* request refused before its body; its request id."""
    exchange = Exchange(
        endpoint=endpoint_of(path),
        method=method,
        path=path,
        query=query,
        headers=[(n.decode("latin-1").lower(), v.decode("latin-1")) for n, v in headers],
        client_ip=client_ip,
    )
    exchange.rejected(exc)
    finish(exchange)
    return exchange.request_id


def error_json(exc: GatewayError) -> bytes:
    return orjson.dumps(error_body(exc.error_type, exc.message))


def response_headers(body: bytes, request_id: str | None) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if request_id is not None:
        headers.append((b"x-switchboard-request-id", request_id.encode()))
    return headers

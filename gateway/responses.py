"""Answers in the client's wire format (Anthropic here), with the x-switchboard-* headers."""

from __future__ import annotations

import re
from collections.abc import Iterable

import orjson
from django.http import HttpResponse

from gateway.exchange import Exchange
from providers.errors import GatewayError, error_body

#: Longest value of one of our own response headers.
MAX_HEADER_VALUE_CHARS = 200
#: Every control character (C0, DEL, C1): none may reach a response header.
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def header_safe(value: str) -> str:
    """A value that can go in a response header: latin-1, no control characters."""
    cleaned = _CONTROL_CHARS.sub(" ", value)
    return cleaned.encode("latin-1", "replace").decode("latin-1")[:MAX_HEADER_VALUE_CHARS]


def gateway_headers(exchange: Exchange) -> dict[str, str]:
    """The x-switchboard-* headers that tell the client what happened."""
    headers = {"x-switchboard-request-id": exchange.request_id}
    if exchange.provider:
        headers["x-switchboard-provider"] = header_safe(exchange.provider)
    if exchange.target_model:
        headers["x-switchboard-model"] = header_safe(exchange.target_model)
    if exchange.route:
        headers["x-switchboard-route"] = header_safe(exchange.route)
    return headers


def apply_headers(
    response: HttpResponse, exchange: Exchange, extra: Iterable[tuple[str, str]] = ()
) -> None:
    for name, value in extra:
        response[name] = _CONTROL_CHARS.sub(" ", value)
    for name, value in gateway_headers(exchange).items():
        response[name] = value


def json_response(
    body: object, *, status: int, exchange: Exchange, extra: Iterable[tuple[str, str]] = ()
) -> HttpResponse:
    response = HttpResponse(orjson.dumps(body), status=status, content_type="application/json")
    apply_headers(response, exchange, extra)
    return response


def error_response(exc: GatewayError, exchange: Exchange) -> HttpResponse:
    """An Anthropic-shaped error answer for one of our own exceptions."""
    return json_response(
        error_body(exc.error_type, exc.message), status=exc.status, exchange=exchange
    )


def bare_error_response(
    status: int, error_type: str, message: str, request_id: str
) -> HttpResponse:
    """The last-resort answer: built from plain values, nothing that could raise again."""
    response = HttpResponse(
        orjson.dumps(error_body(error_type, message)),
        status=status,
        content_type="application/json",
    )
    response["x-switchboard-request-id"] = header_safe(request_id)
    return response

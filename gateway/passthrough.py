"""Any other /v1/* path (files, batches, future endpoints): to the default Anthropic provider.

The body and the answer are relayed as they are. The path must stay under
the provider's base path: `..` segments, encoded slashes, and encoded `?` or
`#` are refused, since they would let a client reach another path (or add a
query) with the gateway's stored credential.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

from django.http import HttpResponse, StreamingHttpResponse

from gateway.credentials import account_label, pick_credential
from gateway.exchange import Exchange
from gateway.ingress import read_body
from gateway.record import finish
from gateway.relay import upstream_error_response
from gateway.responses import apply_headers
from gateway.route import routing_config
from providers.accounts import AccountsCoolingDown
from providers.anthropic import adapter as anthropic
from providers.errors import InvalidRequest, NotFound, UpstreamError, UpstreamOverloaded
from providers.headers import relayable
from providers.registry import adapter_for
from providers.transport import UpstreamResponse, get_transport

#: What may not appear in a passthrough path, raw or percent-encoded (any case).
_ESCAPES = re.compile(r"%2f|%5c|%3f|%23|%2e|\\", re.IGNORECASE)
#: Control characters, which no URL path may carry.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
ROUTE = "passthrough"


def check_path(exchange: Exchange) -> None:
    """Refuse a path that could leave the provider's base path or carry a hidden query."""
    raw_path = exchange.scope.get("raw_path")
    raw = raw_path.decode("latin-1") if isinstance(raw_path, bytes) else exchange.path
    segments = exchange.path.split("/")
    escapes = _ESCAPES.search(raw) or _CONTROL.search(exchange.path)
    if ".." in segments or "." in segments or escapes:
        raise InvalidRequest(
            f"path {raw[:200]!r} is refused: no '..' or '.' segments, backslashes, "
            "control characters, or percent-encoded slash, backslash, dot, '?' or '#'"
        )


async def forward(exchange: Exchange) -> HttpResponse | None:
    """The passthrough's one stage after authentication: send it on, relay what comes."""
    check_path(exchange)
    body = read_body(exchange)
    config = await routing_config()
    provider = config.provider(config.default_provider)
    if provider is None or provider.wire_format != "anthropic":
        raise NotFound(
            f"{exchange.path} is only available through an Anthropic-format "
            "default provider, and none is configured"
        )
    exchange.routed(None, ROUTE, f"default provider {provider.name!r}")
    try:
        credential = pick_credential(exchange, provider)
    except AccountsCoolingDown as exc:
        raise UpstreamOverloaded(str(exc)) from None
    attempt = exchange.attempt_started(provider.name, account_label(credential), "")
    try:
        upstream = await get_transport().send(
            anthropic.build_request(
                method=exchange.method or "GET",
                path=exchange.path,
                query=exchange.query,
                body=body,
                client_headers=exchange.headers,
                provider=provider,
                credential=credential,
            )
        )
    except UpstreamError as exc:
        exchange.attempt_ended(attempt, status=None, error=exc.message)
        raise
    exchange.attempt_ended(attempt, status=upstream.status)
    if upstream.status >= 400:
        return await upstream_error_response(upstream, adapter_for("anthropic"), exchange)
    exchange.streaming(upstream.status)
    response = StreamingHttpResponse(raw_chunks(upstream, exchange), status=upstream.status)
    apply_headers(response, exchange, relayable(upstream.headers))
    return response


async def raw_chunks(upstream: UpstreamResponse, exchange: Exchange) -> AsyncIterator[bytes]:
    """The upstream's bytes as they come; finishes the exchange at the end."""
    try:
        async for chunk in upstream.aiter_raw():
            exchange.first_byte()
            yield chunk
    except UpstreamError as exc:
        exchange.stream_failed(exc.error_type, exc.message)
    except (asyncio.CancelledError, GeneratorExit):
        exchange.cancelled()
        raise
    finally:
        try:
            await upstream.aclose()
        finally:
            finish(exchange)

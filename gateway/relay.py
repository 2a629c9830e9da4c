"""The relay stage: the opened upstream answer goes to the client as it arrives.

Streams are sent chunk by chunk (relayed as is, or translated by the
adapter, which also assembles a copy of the message for the log). A stream
owns the end of its exchange: its generator finishes the exchange in
`finally`, whatever happens (end, upstream failure, client disconnect, a
bug), so the boundary does not. After the first byte, a failure can only be
told to the client as an `event: error`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import orjson
from django.http import HttpResponse, StreamingHttpResponse

from gateway.exchange import Exchange, Opened
from gateway.record import finish
from gateway.responses import apply_headers, json_response
from providers.base import Adapter
from providers.errors import GatewayError, UpstreamError, UpstreamProtocolError
from providers.headers import relayable
from providers.sse import encode_event
from providers.transport import UpstreamResponse

logger = logging.getLogger(__name__)

#: An upstream error body larger than this is cut before it is relayed.
MAX_ERROR_BODY_BYTES = 64 * 1024
#: Content types a non-streaming Messages answer may have.
JSON_CONTENT_TYPES = ("application/json", "application/problem+json")


async def send_answer(exchange: Exchange) -> HttpResponse | None:
    """The last stage of /v1/messages: the opened answer, streamed or whole."""
    opened = exchange.opened
    assert opened is not None, "the attempts stage opened an upstream answer"
    if opened.stream is not None:
        return relay_stream(opened, exchange)
    return await relay_message(opened, exchange)


def relay_stream(opened: Opened, exchange: Exchange) -> StreamingHttpResponse:
    """Send the (relayed or translated) Anthropic SSE to the client as it comes."""
    exchange.streaming(opened.upstream.status)
    response = StreamingHttpResponse(
        stream_chunks(opened, exchange), status=200, content_type="text/event-stream"
    )
    upstream_headers = (
        relayable(opened.upstream.headers)
        if opened.call.provider.wire_format == "anthropic"
        else []
    )
    apply_headers(response, exchange, upstream_headers)
    response["content-type"] = "text/event-stream"
    response["cache-control"] = "no-cache"
    response["x-accel-buffering"] = "no"
    return response


async def stream_chunks(opened: Opened, exchange: Exchange) -> AsyncIterator[bytes]:
    message = opened.call.message
    assert opened.stream is not None
    try:
        async for chunk in opened.stream:
            exchange.first_byte()
            yield chunk
        if message.error is not None:
            exchange.stream_failed(
                str(message.error.get("type", "api_error")), str(message.error.get("message", ""))
            )
        elif not message.stopped:
            cut = UpstreamProtocolError("the provider ended the stream before message_stop")
            exchange.stream_failed(cut.error_type, cut.message)
            yield encode_event("error", cut.body())
    except GatewayError as exc:
        # Headers are sent already: the failure becomes an `event: error`.
        exchange.stream_failed(exc.error_type, exc.message)
        yield encode_event("error", exc.body())
    except (asyncio.CancelledError, GeneratorExit):
        exchange.cancelled()
        raise
    except Exception:
        logger.exception("request %s: the stream failed inside the gateway", exchange.request_id)
        bug = GatewayError(f"internal gateway error (request id {exchange.request_id})")
        exchange.crashed(bug.message)
        yield encode_event("error", bug.body())
    finally:
        try:
            exchange.stream_ended(
                message.usage, message.final_message(), bytes(opened.call.upstream_body)
            )
        except Exception:
            logger.exception("request %s: the streamed message was lost", exchange.request_id)
        try:
            await opened.stream.aclose()  # type: ignore[attr-defined]
            await opened.upstream.aclose()
        finally:
            finish(exchange)


async def relay_message(opened: Opened, exchange: Exchange) -> HttpResponse:
    """A non-streaming answer: relayed as it came, or translated."""
    try:
        raw = await opened.upstream.aread()
    finally:
        await opened.upstream.aclose()
    exchange.first_byte()
    content_type = header(opened.upstream, "content-type")
    if not _is_json(content_type, raw):
        # An HTML page or plain text with a 200 is not an answer: say what came.
        raise _not_an_answer(
            opened, exchange, raw, f"{content_type or 'no content type'} instead of JSON"
        )
    try:
        content, message = opened.adapter.message_body(raw, opened.call)
    except UpstreamProtocolError as exc:  # a translating adapter could not read it
        what = _json_problem(raw) or f"an answer that could not be translated ({exc.message})"
        raise _not_an_answer(opened, exchange, raw, what) from None
    if message is None:
        # Relayed as is, a cut or garbled body would reach the client as a 200.
        raise _not_an_answer(opened, exchange, raw, _json_problem(raw) or "no message")
    exchange.answered(opened.upstream.status, content, message, raw if content is not raw else None)
    response = HttpResponse(content, status=opened.upstream.status, content_type="application/json")
    upstream_headers = (
        []
        if content is not raw
        else [(n, v) for n, v in relayable(opened.upstream.headers) if n.lower() != "content-type"]
    )
    apply_headers(response, exchange, upstream_headers)
    return response


def _not_an_answer(
    opened: Opened, exchange: Exchange, raw: bytes, what: str
) -> UpstreamProtocolError:
    """A 2xx body that is no Messages answer: a 502 naming what came; the body is logged."""
    text = raw[:500].decode("utf-8", "replace").strip()
    exchange.upstream_refused(502, {"type": "api_error"}, raw)
    return UpstreamProtocolError(
        f"provider {opened.call.provider.name!r} answered HTTP {opened.upstream.status} "
        f"with {what}" + (f": {text}" if text else "")
    )


def _json_problem(body: bytes) -> str:
    """Why a body is not a JSON object (not JSON: where it breaks); "" when it is one."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return f"a body that is not JSON ({exc})"
    return "" if isinstance(parsed, dict) else "a JSON body that is not an object"


def _is_json(content_type: str, body: bytes) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind in JSON_CONTENT_TYPES or kind.endswith("+json"):
        return True
    # No content type: accept what looks like JSON (some local servers send none).
    return not kind and body.lstrip()[:1] in (b"{", b"[")


async def upstream_error_response(
    upstream: UpstreamResponse, adapter: Adapter, exchange: Exchange
) -> HttpResponse:
    """An upstream 4xx/5xx in Anthropic shape; noted on the exchange."""
    try:
        body = await upstream.aread()
    except UpstreamError:
        body = b""
    finally:
        await upstream.aclose()
    body = body[:MAX_ERROR_BODY_BYTES]
    status, error = adapter.error_body(upstream.status, body, header(upstream, "content-type"))
    exchange.upstream_refused(status, error["error"], body)
    extra = [(n, v) for n, v in relayable(upstream.headers) if n.lower() != "content-type"]
    return json_response(error, status=status, exchange=exchange, extra=extra)


def header(upstream: UpstreamResponse, name: str) -> str:
    for key, value in upstream.headers:
        if key.lower() == name:
            return value
    return ""

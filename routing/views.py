"""The /v1/* endpoints: the gateway's request path, top to bottom.

POST /v1/messages
  1. `start_exchange`   the log record of this request starts (requestlog.exchange)
  2. `read_body`        size cap (413), then JSON and structure checks (400)
  3. `routing_config`   the in-memory config snapshot (no database query)
  4. `decide`           provider + model + reason (routing.router, a pure function)
  5. `build_request`    the upstream request for the provider's wire format
  6. `send_upstream`    one pooled HTTP client; transport errors -> 502/504/529
  7. relay              SSE relayed chunk by chunk as it arrives, or the JSON body;
                        upstream errors relayed in Anthropic shape
  8. `exchange.finish`  the row goes to the background writer (in `finally`, so
                        failures and client disconnects are logged too)

Nothing on this path queries the database or blocks: these views are served
by a Django handler without middleware (proxysite/asgi.py), so there is no
thread hop either.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from providers.anthropic import adapter as anthropic
from providers.anthropic.stream_log import MessageAccumulator
from providers.anthropic.validate import parse_json_object, validate_messages_request
from providers.credentials import pick_credential
from providers.errors import (
    GatewayError,
    InvalidRequest,
    NoRouteAvailable,
    NotFound,
    UpstreamError,
    UpstreamProtocolError,
    error_body,
    error_type_for_status,
)
from providers.headers import relayable
from providers.sse import SSEDecoder, SSELineTooLong, encode_event
from providers.transport import UpstreamRequest, UpstreamResponse, get_transport
from requestlog.exchange import Exchange, cap_text, to_json_text
from requestlog.models import Outcome
from routing import snapshot
from routing.config import RoutingConfig
from routing.http import (
    apply_headers,
    client_headers,
    error_response,
    json_response,
    read_body,
    start_exchange,
)
from routing.router import NoRoute, RequestSummary, RouteDecision, decide

logger = logging.getLogger(__name__)

#: An upstream error body larger than this is cut before it is relayed.
MAX_ERROR_BODY_BYTES = 64 * 1024
#: HTTP status logged for a request whose client went away before the end.
CLIENT_CLOSED_REQUEST = 499


# --- POST /v1/messages ---------------------------------------------------------
@csrf_exempt
async def messages(request: HttpRequest) -> HttpResponse:
    exchange = start_exchange(request, "messages")
    handed_off = False  # True once a streaming body owns exchange.finish()
    try:
        if request.method != "POST":
            raise InvalidRequest(f"{request.method} is not allowed here; use POST")
        body = read_body(request, exchange)
        payload = parse_json_object(body)
        exchange.note_request(payload)
        validate_messages_request(payload)
        decision = await route(payload, request, exchange)
        upstream_request = build_upstream_request(request, exchange, payload, body, decision)
        upstream = await send_upstream(upstream_request, exchange)
        if upstream.status >= 400:
            return await relay_upstream_error(upstream, exchange)
        if is_event_stream(upstream):
            handed_off = True
            return relay_stream(upstream, exchange)
        return await relay_message(upstream, exchange)
    except GatewayError as exc:
        return reject(exc, exchange)
    except Exception:
        return internal_error(exchange)
    finally:
        if not handed_off:
            exchange.finish()


async def route(payload: dict[str, Any], request: HttpRequest, exchange: Exchange) -> RouteDecision:
    """Ask the router; note the decision on the exchange."""
    config = await routing_config()
    summary = RequestSummary(model=payload["model"], headers=dict(client_headers(request)))
    try:
        decision = decide(summary, config)
    except NoRoute as exc:
        raise NoRouteAvailable(str(exc)) from None
    exchange.route = decision.route
    exchange.route_reason = decision.reason
    if decision.target.provider.wire_format != "anthropic":
        raise InvalidRequest(
            f"provider {decision.target.provider.name!r} uses the "
            f"{decision.target.provider.wire_format!r} format, which this gateway "
            "cannot serve yet"
        )
    return decision


async def routing_config() -> RoutingConfig:
    """The in-memory snapshot; only the very first request of a process loads it."""
    config = snapshot.current()
    if config is None:
        config = await sync_to_async(snapshot.load)()
    return config


def build_upstream_request(
    request: HttpRequest,
    exchange: Exchange,
    payload: dict[str, Any],
    body: bytes,
    decision: RouteDecision,
) -> UpstreamRequest:
    target = decision.target
    credential = pick_credential(target.provider)
    exchange.begin_attempt(
        target.provider.name, credential.label if credential else "client", target.model
    )
    return anthropic.build_request(
        method="POST",
        path=request.path,
        query=request.META.get("QUERY_STRING", ""),
        body=anthropic.body_for_model(body, payload, exchange.requested_model, target.model),
        client_headers=exchange.headers,
        provider=target.provider,
        credential=credential,
    )


async def send_upstream(upstream_request: UpstreamRequest, exchange: Exchange) -> UpstreamResponse:
    """Open the upstream request; the current attempt records its status or error."""
    attempt = exchange.attempts[-1]
    try:
        upstream = await get_transport().send(upstream_request)
    except UpstreamError as exc:
        exchange.end_attempt(attempt, status=None, error=exc.message)
        raise
    exchange.end_attempt(attempt, status=upstream.status)
    return upstream


def is_event_stream(upstream: UpstreamResponse) -> bool:
    for name, value in upstream.headers:
        if name.lower() == "content-type":
            return value.startswith("text/event-stream")
    return False


# --- relaying the answer --------------------------------------------------------
def relay_stream(upstream: UpstreamResponse, exchange: Exchange) -> StreamingHttpResponse:
    """Relay the upstream SSE byte for byte as it arrives, reading a copy for the log."""
    exchange.status = upstream.status
    response = StreamingHttpResponse(
        stream_chunks(upstream, exchange),
        status=upstream.status,
        content_type="text/event-stream",
    )
    apply_headers(response, exchange, relayable(upstream.headers))
    response["cache-control"] = "no-cache"
    response["x-accel-buffering"] = "no"
    return response


async def stream_chunks(upstream: UpstreamResponse, exchange: Exchange) -> AsyncIterator[bytes]:
    decoder: SSEDecoder | None = SSEDecoder()
    message = MessageAccumulator()
    try:
        async for chunk in upstream.aiter_raw():
            if not chunk:
                continue
            exchange.mark_first_byte()
            yield chunk
            if decoder is not None:
                try:
                    for event in decoder.feed(chunk):
                        message.feed(event)
                except SSELineTooLong:
                    decoder = None  # keep relaying; the log keeps what it has
        if decoder is not None:
            for event in decoder.flush():
                message.feed(event)
        if message.error is not None:
            exchange.outcome = Outcome.UPSTREAM_ERROR
            exchange.error_type = str(message.error.get("type", "api_error"))
            exchange.error_message = str(message.error.get("message", ""))
        elif not message.stopped:
            raise UpstreamProtocolError("the provider ended the stream before message_stop")
    except UpstreamError as exc:
        # Headers are sent already: the failure becomes an `event: error`.
        exchange.outcome = Outcome.UPSTREAM_ERROR
        exchange.error_type, exchange.error_message = exc.error_type, exc.message
        yield encode_event("error", exc.body())
    except (asyncio.CancelledError, GeneratorExit):
        exchange.status = CLIENT_CLOSED_REQUEST
        exchange.outcome = Outcome.CANCELLED
        exchange.error_message = "the client disconnected before the end of the stream"
        raise
    finally:
        exchange.usage = message.usage
        exchange.response_message = message.final_message()
        exchange.response_body = to_json_text(exchange.response_message)
        await upstream.aclose()
        exchange.finish()


async def relay_message(upstream: UpstreamResponse, exchange: Exchange) -> HttpResponse:
    """Relay a non-streaming answer as it came, reading its usage for the log."""
    try:
        body = await upstream.aread()
    finally:
        await upstream.aclose()
    exchange.mark_first_byte()
    exchange.status = upstream.status
    exchange.response_body = cap_text(body)
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict):
        exchange.response_message = parsed
        usage = parsed.get("usage")
        exchange.usage = usage if isinstance(usage, dict) else {}
    response = HttpResponse(body, status=upstream.status)
    apply_headers(response, exchange, relayable(upstream.headers))
    return response


async def relay_upstream_error(upstream: UpstreamResponse, exchange: Exchange) -> HttpResponse:
    """An upstream 4xx/5xx, passed on in Anthropic shape with its status."""
    try:
        body = await upstream.aread()
    except UpstreamError:
        body = b""
    finally:
        await upstream.aclose()
    body = body[:MAX_ERROR_BODY_BYTES]
    error = anthropic_error_from(upstream.status, body)
    exchange.status = upstream.status
    exchange.outcome = Outcome.UPSTREAM_ERROR
    exchange.error_type = error["error"]["type"]
    exchange.error_message = error["error"]["message"]
    exchange.response_body = cap_text(body)
    extra = [(n, v) for n, v in relayable(upstream.headers) if n.lower() != "content-type"]
    return json_response(error, status=upstream.status, exchange=exchange, extra=extra)


def anthropic_error_from(status: int, body: bytes) -> dict[str, Any]:
    """The upstream's error if it is Anthropic-shaped, else one made from its text."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    if (
        isinstance(parsed, dict)
        and parsed.get("type") == "error"
        and isinstance(parsed.get("error"), dict)
        and isinstance(parsed["error"].get("type"), str)
    ):
        parsed["error"].setdefault("message", "")
        return parsed
    text = body.decode("utf-8", "replace").strip()
    message = f"upstream answered HTTP {status}" + (f": {text[:500]}" if text else "")
    return error_body(error_type_for_status(status), message)


def reject(exc: GatewayError, exchange: Exchange) -> HttpResponse:
    """Our own error, Anthropic-shaped; client errors are never forwarded."""
    outcome = Outcome.CLIENT_ERROR if exc.status < 500 else Outcome.GATEWAY_ERROR
    if isinstance(exc, UpstreamError):
        outcome = Outcome.UPSTREAM_ERROR
    exchange.fail(exc, outcome)
    return error_response(exc, exchange)


def internal_error(exchange: Exchange) -> HttpResponse:
    logger.exception("request %s failed inside the gateway", exchange.request_id)
    exc = GatewayError(f"internal gateway error (request id {exchange.request_id})")
    return reject(exc, exchange)


# --- POST /v1/messages/count_tokens -------------------------------------------------
@csrf_exempt
async def count_tokens(request: HttpRequest) -> HttpResponse:
    exchange = start_exchange(request, "count_tokens")
    try:
        if request.method != "POST":
            raise InvalidRequest(f"{request.method} is not allowed here; use POST")
        body = read_body(request, exchange)
        payload = parse_json_object(body)
        exchange.note_request(payload)
        exchange.stream = False
        validate_messages_request(payload, need_max_tokens=False)
        decision = await route(payload, request, exchange)
        upstream = await send_upstream(
            build_upstream_request(request, exchange, payload, body, decision), exchange
        )
        if upstream.status >= 400:
            return await relay_upstream_error(upstream, exchange)
        return await relay_message(upstream, exchange)
    except GatewayError as exc:
        return reject(exc, exchange)
    except Exception:
        return internal_error(exchange)
    finally:
        exchange.usage = {}  # a count is not usage: nothing was generated
        exchange.finish()


# --- GET /v1/models ------------------------------------------------------------------
async def models(request: HttpRequest) -> HttpResponse:
    """Routable model names: aliases first, then the default provider's own list."""
    exchange = start_exchange(request, "models")
    try:
        config = await routing_config()
        listed = [
            model_entry(alias, f"{a.provider}:{a.model}")
            for alias, a in sorted(config.aliases.items())
        ]
        listed.extend(await default_provider_models(request, exchange, config))
        seen: set[str] = set()
        data = [m for m in listed if not (m["id"] in seen or seen.add(m["id"]))]
        body = {
            "data": data,
            "has_more": False,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        }
        exchange.status = 200
        return json_response(body, status=200, exchange=exchange)
    except GatewayError as exc:
        return reject(exc, exchange)
    except Exception:
        return internal_error(exchange)
    finally:
        exchange.finish()


def model_entry(model_id: str, display_name: str) -> dict[str, Any]:
    return {
        "type": "model",
        "id": model_id,
        "display_name": display_name,
        "created_at": "1970-01-01T00:00:00Z",
    }


async def default_provider_models(
    request: HttpRequest, exchange: Exchange, config: RoutingConfig
) -> list[dict[str, Any]]:
    """The default Anthropic-format provider's /v1/models, or nothing if it fails."""
    provider = config.provider(config.default_provider)
    if provider is None or provider.wire_format != "anthropic":
        return []
    credential = pick_credential(provider)
    exchange.begin_attempt(provider.name, credential.label if credential else "client", "")
    upstream_request = anthropic.build_request(
        method="GET",
        path="/v1/models",
        query=request.META.get("QUERY_STRING", ""),
        body=b"",
        client_headers=exchange.headers,
        provider=provider,
        credential=credential,
    )
    try:
        upstream = await send_upstream(upstream_request, exchange)
        try:
            body = await upstream.aread()
        finally:
            await upstream.aclose()
    except UpstreamError:
        return []
    if upstream.status != 200:
        return []
    try:
        data = orjson.loads(body).get("data")
    except (orjson.JSONDecodeError, AttributeError):
        return []
    return (
        [m for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]
        if isinstance(data, list)
        else []
    )


# --- any other /v1/* path: passed through to the default Anthropic provider --------------
@csrf_exempt
async def passthrough(request: HttpRequest, rest: str = "") -> HttpResponse:
    exchange = start_exchange(request, "passthrough")
    handed_off = False
    try:
        body = read_body(request, exchange)
        config = await routing_config()
        provider = config.provider(config.default_provider)
        if provider is None or provider.wire_format != "anthropic":
            raise NotFound(
                f"{request.path} is only available through an Anthropic-format "
                "default provider, and none is configured"
            )
        exchange.route, exchange.route_reason = "passthrough", f"default provider {provider.name!r}"
        credential = pick_credential(provider)
        exchange.begin_attempt(provider.name, credential.label if credential else "client", "")
        upstream = await send_upstream(
            anthropic.build_request(
                method=request.method or "GET",
                path=request.path,
                query=request.META.get("QUERY_STRING", ""),
                body=body,
                client_headers=exchange.headers,
                provider=provider,
                credential=credential,
            ),
            exchange,
        )
        exchange.status = upstream.status
        if upstream.status >= 400:
            return await relay_upstream_error(upstream, exchange)
        handed_off = True
        response = StreamingHttpResponse(raw_chunks(upstream, exchange), status=upstream.status)
        apply_headers(response, exchange, relayable(upstream.headers))
        return response
    except GatewayError as exc:
        return reject(exc, exchange)
    except Exception:
        return internal_error(exchange)
    finally:
        if not handed_off:
            exchange.finish()


async def raw_chunks(upstream: UpstreamResponse, exchange: Exchange) -> AsyncIterator[bytes]:
    try:
        async for chunk in upstream.aiter_raw():
            exchange.mark_first_byte()
            yield chunk
    except UpstreamError as exc:
        exchange.outcome = Outcome.UPSTREAM_ERROR
        exchange.error_type, exchange.error_message = exc.error_type, exc.message
    except (asyncio.CancelledError, GeneratorExit):
        exchange.status, exchange.outcome = CLIENT_CLOSED_REQUEST, Outcome.CANCELLED
        raise
    finally:
        await upstream.aclose()
        exchange.finish()


# --- preflight and health ------------------------------------------------------------
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
    try:
        await routing_config()
        checks["routing_config"] = "ok"
    except Exception as exc:
        checks["routing_config"] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return HttpResponse(
        orjson.dumps({"status": "ok" if ok else "unavailable", "checks": checks}),
        status=200 if ok else 503,
        content_type="application/json",
    )

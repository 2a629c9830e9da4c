"""The /v1/* endpoints: the gateway's request path, top to bottom.

POST /v1/messages
  1. `start_exchange`   the log record of this request starts (requestlog.exchange)
  2. `read_body`        size cap (413), then JSON and structure checks (400)
  3. `route`            config snapshot (in memory) -> subagent match -> sticky
                        lane or `decide` (routing.router, a pure function)
  4. `open_upstream`    each target in turn (fallbacks), each account in turn
                        (rotation, cooldown): the adapter of the target's wire
                        format builds the request, one pooled client sends it;
                        connect errors, timeouts, 429, 5xx and 529 move on to
                        the next, as long as nothing reached the client yet
  5. relay              Anthropic SSE chunk by chunk as it arrives (relayed as
                        is, or translated), or the JSON message; upstream
                        errors in Anthropic shape
  6. `exchange.finish`  the row goes to the background writer (in `finally`, so
                        failures and client disconnects are logged too)

Nothing on this path queries the database or blocks: these views are served
by a Django handler without middleware (proxysite/asgi.py), so there is no
thread hop either.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from providers.accounts import ACCOUNT_STATUSES, AccountsCoolingDown, accounts
from providers.anthropic import adapter as anthropic
from providers.anthropic.validate import parse_json_object, validate_messages_request
from providers.base import Adapter, Call
from providers.errors import (
    GatewayError,
    InvalidRequest,
    NoRouteAvailable,
    NotFound,
    UpstreamError,
    UpstreamOverloaded,
)
from providers.headers import relayable
from providers.registry import adapter_for
from providers.sse import encode_event
from providers.token_estimate import estimate_input_tokens
from providers.transport import UpstreamResponse, get_transport
from requestlog.conversation import conversation_key
from requestlog.exchange import Exchange, cap_text, to_json_text
from requestlog.models import Outcome
from routing import snapshot
from routing.config import RoutingConfig
from routing.http import (
    apply_headers,
    authenticate,
    error_response,
    json_response,
    read_body,
    start_exchange,
)
from routing.router import NoRoute, RouteDecision, Target, decide
from routing.sticky import is_turn_continuation, lane_key, sticky_lanes
from routing.summary import subagent_label, summarize

logger = logging.getLogger(__name__)

#: An upstream error body larger than this is cut before it is relayed.
MAX_ERROR_BODY_BYTES = 64 * 1024
#: HTTP status logged for a request whose client went away before the end.
CLIENT_CLOSED_REQUEST = 499
#: Upstream statuses after which the next target (or account) is tried.
RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


# --- POST /v1/messages ---------------------------------------------------------
@csrf_exempt
async def messages(request: HttpRequest) -> HttpResponse:
    exchange = start_exchange(request, "messages")
    handed_off = False  # True once a streaming body owns exchange.finish()
    try:
        authenticate(exchange)
        if request.method != "POST":
            raise InvalidRequest(f"{request.method} is not allowed here; use POST")
        body = read_body(request, exchange)
        payload = parse_json_object(body)
        exchange.note_request(payload)
        validate_messages_request(payload)
        decision = await route(payload, exchange)
        opened = await open_upstream(request, exchange, payload, body, decision, "messages")
        if isinstance(opened, HttpResponse):
            return opened  # every target failed; this is the last error
        if opened.stream is not None:
            handed_off = True
            return relay_stream(opened, exchange)
        return await relay_message(opened, exchange)
    except GatewayError as exc:
        return reject(exc, exchange)
    except Exception:
        return internal_error(exchange)
    finally:
        if not handed_off:
            exchange.finish()


async def route(payload: dict[str, Any], exchange: Exchange) -> RouteDecision:
    """Match the subagent, then reuse the lane's pinned target or ask the router."""
    config = await routing_config()
    headers = exchange.header_map
    summary, _ = summarize(payload, headers, config)
    exchange.subagent = subagent_label(summary)
    lane = lane_key(
        conversation_key(headers, payload),
        headers.get("x-claude-code-agent-id") or summary.subagent or "main",
        summary.model,
    )
    decision = None
    if is_turn_continuation(payload):
        decision = sticky_lanes.get(lane, config.version)
    if decision is None:
        try:
            decision = decide(summary, config)
        except NoRoute as exc:
            raise NoRouteAvailable(str(exc)) from None
        if decision.sticky:
            sticky_lanes.pin(lane, decision, config.version)
        exchange.route, exchange.route_reason = decision.route, decision.reason
    else:
        exchange.route = "sticky"
        exchange.route_reason = f"same turn as before, kept on {decision.target}: {decision.reason}"
    return decision


async def routing_config() -> RoutingConfig:
    """The in-memory snapshot; only the very first request of a process loads it."""
    config = snapshot.current()
    if config is None:
        config = await sync_to_async(snapshot.load)()
    return config


@dataclass
class Opened:
    """An upstream answer that is being relayed, and how to relay it."""

    upstream: UpstreamResponse
    adapter: Adapter
    call: Call
    #: For streams: the relay, with its first chunk already read (see open_upstream).
    stream: AsyncIterator[bytes] | None = None


async def open_upstream(
    request: HttpRequest,
    exchange: Exchange,
    payload: dict[str, Any],
    body: bytes,
    decision: RouteDecision,
    endpoint: str,
) -> Opened | HttpResponse:
    """Try each target and account until one answers; else the last error as a response."""
    last: HttpResponse | GatewayError | None = None
    for target in decision.targets:
        adapter = adapter_for(target.provider.wire_format)
        tried: set[str] = set()
        while True:
            try:
                credential = accounts.pick(target.provider, frozenset(tried))
            except AccountsCoolingDown as exc:
                if not tried:
                    _skipped_attempt(exchange, target, str(exc))
                    last = last or UpstreamOverloaded(str(exc))
                break
            label = credential.label if credential else "client"
            tried.add(label)
            call = Call(
                payload=payload,
                raw_body=body,
                requested_model=exchange.requested_model,
                provider=target.provider,
                target_model=target.model,
                credential=credential,
                client_headers=exchange.headers,
                path=request.path,
                query=request.META.get("QUERY_STRING", ""),
            )
            prepared = (
                adapter.messages_request(call)
                if endpoint == "messages"
                else adapter.count_tokens_request(call)
            )
            if prepared is None:
                return Opened(upstream=None, adapter=adapter, call=call)  # type: ignore[arg-type]
            if prepared.translated:
                exchange.upstream_request_body = cap_text(prepared.request.body)
            exchange.notes = call.notes
            attempt = exchange.begin_attempt(target.provider.name, label, target.model)
            try:
                upstream = await get_transport().send(prepared.request)
            except UpstreamError as exc:
                exchange.end_attempt(attempt, status=None, error=exc.message)
                last = exc
                break  # the provider is unreachable: next target
            exchange.end_attempt(attempt, status=upstream.status)
            if upstream.status >= 400:
                response = await upstream_error_response(upstream, adapter, exchange)
                attempt.error = exchange.error_message
                last = response
                if (
                    credential is not None
                    and len(target.provider.credentials) > 1
                    and upstream.status in ACCOUNT_STATUSES
                ):
                    accounts.cool_down(
                        target.provider.name,
                        label,
                        upstream.status,
                        _header(upstream, "retry-after"),
                    )
                    continue  # the next account of the same provider
                if upstream.status in RETRYABLE_STATUSES:
                    break  # next target
                return response  # the request itself is wrong: no fallback
            opened = Opened(upstream=upstream, adapter=adapter, call=call)
            if not _is_event_stream(upstream):
                exchange.clear_error()  # an earlier attempt's failure is in its attempt row
                return opened
            failure = await _start_stream(opened, exchange)
            if failure is None:
                exchange.clear_error()
                return opened
            attempt.error = failure.message
            last = failure
            break  # the stream failed before its first byte reached the client
    if isinstance(last, HttpResponse):
        return last
    raise last or NoRouteAvailable("no target could be tried")


def _skipped_attempt(exchange: Exchange, target: Target, why: str) -> None:
    attempt = exchange.begin_attempt(target.provider.name, "", target.model)
    exchange.end_attempt(attempt, status=None, error=why)


async def _start_stream(opened: Opened, exchange: Exchange) -> UpstreamError | None:
    """Read the stream's first chunk; an error there (or no chunk) allows a fallback."""
    relay = opened.adapter.relay_stream(opened.upstream, opened.call)
    try:
        first = await relay.__anext__()
    except StopAsyncIteration:
        first = b""
    except UpstreamError as exc:
        await relay.aclose()
        await opened.upstream.aclose()
        return exc
    if not first or first.startswith(b"event: error"):
        await relay.aclose()
        await opened.upstream.aclose()
        message = (opened.call.message.error or {}).get("message") or "the stream ended at once"
        return UpstreamError(f"provider {opened.call.provider.name!r} failed: {message}")
    opened.stream = _prepend(first, relay)
    return None


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        yield first
        async for chunk in rest:
            yield chunk
    finally:
        await rest.aclose()  # type: ignore[attr-defined]


def _is_event_stream(upstream: UpstreamResponse) -> bool:
    return _header(upstream, "content-type").startswith("text/event-stream")


def _header(upstream: UpstreamResponse, name: str) -> str:
    for key, value in upstream.headers:
        if key.lower() == name:
            return value
    return ""


# --- relaying the answer --------------------------------------------------------
def relay_stream(opened: Opened, exchange: Exchange) -> StreamingHttpResponse:
    """Send the (relayed or translated) Anthropic SSE to the client as it comes."""
    exchange.status = opened.upstream.status
    response = StreamingHttpResponse(
        stream_chunks(opened, exchange), status=200, content_type="text/event-stream"
    )
    upstream_headers = (
        []
        if opened.call.provider.wire_format != "anthropic"
        else relayable(opened.upstream.headers)
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
            exchange.mark_first_byte()
            yield chunk
        if message.error is not None:
            exchange.outcome = Outcome.UPSTREAM_ERROR
            exchange.error_type = str(message.error.get("type", "api_error"))
            exchange.error_message = str(message.error.get("message", ""))
        elif not message.stopped:
            exc = UpstreamError("the provider ended the stream before message_stop")
            exchange.outcome = Outcome.UPSTREAM_ERROR
            exchange.error_type, exchange.error_message = exc.error_type, exc.message
            yield encode_event("error", exc.body())
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
        exchange.upstream_response_body = cap_text(bytes(opened.call.upstream_body))
        await opened.stream.aclose()  # type: ignore[attr-defined]
        await opened.upstream.aclose()
        exchange.finish()


async def relay_message(opened: Opened, exchange: Exchange) -> HttpResponse:
    """A non-streaming answer: relayed as it came, or translated."""
    try:
        raw = await opened.upstream.aread()
    finally:
        await opened.upstream.aclose()
    exchange.mark_first_byte()
    content, message = opened.adapter.message_body(raw, opened.call)
    exchange.status = opened.upstream.status
    exchange.response_body = cap_text(content)
    if content is not raw:
        exchange.upstream_response_body = cap_text(raw)
    if message is not None:
        exchange.response_message = message
        usage = message.get("usage")
        exchange.usage = usage if isinstance(usage, dict) else {}
    response = HttpResponse(content, status=opened.upstream.status, content_type="application/json")
    upstream_headers = (
        []
        if content is not raw
        else [(n, v) for n, v in relayable(opened.upstream.headers) if n.lower() != "content-type"]
    )
    apply_headers(response, exchange, upstream_headers)
    return response


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
    status, error = adapter.error_body(upstream.status, body, _header(upstream, "content-type"))
    exchange.status = status
    exchange.outcome = Outcome.UPSTREAM_ERROR
    exchange.error_type = error["error"]["type"]
    exchange.error_message = error["error"]["message"]
    exchange.upstream_response_body = cap_text(body)
    extra = [(n, v) for n, v in relayable(upstream.headers) if n.lower() != "content-type"]
    return json_response(error, status=status, exchange=exchange, extra=extra)


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
        authenticate(exchange)
        if request.method != "POST":
            raise InvalidRequest(f"{request.method} is not allowed here; use POST")
        body = read_body(request, exchange)
        payload = parse_json_object(body)
        exchange.note_request(payload)
        exchange.stream = False
        validate_messages_request(payload, need_max_tokens=False)
        decision = await route(payload, exchange)
        opened = await open_upstream(request, exchange, payload, body, decision, "count_tokens")
        if isinstance(opened, HttpResponse):
            return opened
        if opened.upstream is None:  # the target cannot count: estimate here
            exchange.provider, exchange.target_model = (
                opened.call.provider.name,
                opened.call.target_model,
            )
            exchange.status = 200
            response = json_response(
                {"input_tokens": estimate_input_tokens(payload)},
                status=200,
                exchange=exchange,
                extra=[("x-switchboard-token-count", "estimated")],
            )
            return response
        return await relay_message(opened, exchange)
    except GatewayError as exc:
        return reject(exc, exchange)
    except Exception:
        return internal_error(exchange)
    finally:
        exchange.usage = {}  # a count is not usage: nothing was generated
        exchange.finish()


# --- GET /v1/models ------------------------------------------------------------------
async def models(request: HttpRequest) -> HttpResponse:
    """Routable model names: aliases, mapped and rule targets, then the default's own list."""
    exchange = start_exchange(request, "models")
    try:
        authenticate(exchange)
        config = await routing_config()
        listed = [
            model_entry(alias, f"{a.provider}:{a.model}")
            for alias, a in sorted(config.aliases.items())
        ]
        for name, provider in sorted(config.providers.items()):
            if provider.wire_format != "anthropic":
                for model in _models_routed_to(config, name):
                    listed.append(model_entry(f"{name},{model}", f"{name}:{model}"))
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


def _models_routed_to(config: RoutingConfig, provider: str) -> list[str]:
    """Every model some alias, mapping, rule or fallback sends to `provider`."""
    refs = [(a.provider, a.model) for a in config.aliases.values()]
    refs += [(m.provider, m.model) for m in config.mappings.values()]
    refs += [(r.provider, r.model) for r in config.rules if r.model]
    for owner in (*config.aliases.values(), *config.mappings.values(), *config.rules):
        refs += [(f.provider, f.model) for f in owner.fallbacks]
    return sorted({model for name, model in refs if name == provider})


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
    try:
        credential = accounts.pick(provider)
    except AccountsCoolingDown:
        return []
    attempt = exchange.begin_attempt(
        provider.name, credential.label if credential else "client", ""
    )
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
        upstream = await get_transport().send(upstream_request)
        try:
            body = await upstream.aread()
        finally:
            await upstream.aclose()
    except UpstreamError as exc:
        exchange.end_attempt(attempt, status=None, error=exc.message)
        return []
    exchange.end_attempt(attempt, status=upstream.status)
    if upstream.status != 200:
        return []
    try:
        data = orjson.loads(body).get("data")
    except (orjson.JSONDecodeError, AttributeError):
        return []
    if not isinstance(data, list):
        return []
    return [m for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]


# --- any other /v1/* path: passed through to the default Anthropic provider --------------
@csrf_exempt
async def passthrough(request: HttpRequest, rest: str = "") -> HttpResponse:
    exchange = start_exchange(request, "passthrough")
    handed_off = False
    try:
        authenticate(exchange)
        body = read_body(request, exchange)
        config = await routing_config()
        provider = config.provider(config.default_provider)
        if provider is None or provider.wire_format != "anthropic":
            raise NotFound(
                f"{request.path} is only available through an Anthropic-format "
                "default provider, and none is configured"
            )
        exchange.route = "passthrough"
        exchange.route_reason = f"default provider {provider.name!r}"
        try:
            credential = accounts.pick(provider)
        except AccountsCoolingDown as exc:
            raise UpstreamOverloaded(str(exc)) from None
        attempt = exchange.begin_attempt(
            provider.name, credential.label if credential else "client", ""
        )
        try:
            upstream = await get_transport().send(
                anthropic.build_request(
                    method=request.method or "GET",
                    path=request.path,
                    query=request.META.get("QUERY_STRING", ""),
                    body=body,
                    client_headers=exchange.headers,
                    provider=provider,
                    credential=credential,
                )
            )
        except UpstreamError as exc:
            exchange.end_attempt(attempt, status=None, error=exc.message)
            raise
        exchange.end_attempt(attempt, status=upstream.status)
        exchange.status = upstream.status
        if upstream.status >= 400:
            return await upstream_error_response(upstream, adapter_for("anthropic"), exchange)
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

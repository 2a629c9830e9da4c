"""The finish stage: an exchange becomes one log row, whatever happened before.

`finish()` cannot fail the request and cannot lose the row. Each derived
field is computed on its own (`_derived`): one that raises gets its empty
value and a note, the rest of the row is kept. If building the row fails
anyway, a minimal row (time, endpoint, status, outcome, error) goes to the
writer instead. Text is cut to the widths of the log model's fields.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from django.conf import settings

from gateway.conversation_key import conversation_key
from gateway.exchange import Exchange
from providers.headers import REDACTED, SECRET_HEADERS, SECRET_HINTS, is_secret_header, redact
from requestlog.models import Outcome, RequestLog
from requestlog.writer import log_writer

logger = logging.getLogger(__name__)

TRUNCATION_MARKER = "…[truncated {n} bytes]"
#: Longest error message kept (a TextField, but one error needs no more).
ERROR_MESSAGE_MAX_CHARS = 4000
#: Largest count the log's integer columns hold (PositiveIntegerField).
MAX_COUNT = 2**31 - 1


def _width(name: str) -> int:
    width = RequestLog._meta.get_field(name).max_length
    assert width is not None, name
    return width


#: Character widths of the log's text columns, read from the model.
FIELD_WIDTHS: dict[str, int] = {
    name: _width(name)
    for name in (
        "request_id",
        "endpoint",
        "method",
        "path",
        "user_agent",
        "requested_model",
        "provider",
        "account",
        "target_model",
        "route",
        "route_reason",
        "subagent",
        "outcome",
        "error_type",
        "conversation_key",
    )
}


def cap_text(data: bytes | str | None) -> str:
    """Body text for the log, cut at SWITCHBOARD_LOG_BODY_MAX_BYTES with a marker."""
    if not data or not settings.SWITCHBOARD_LOG_BODIES:
        return ""
    raw = data.encode("utf-8", "replace") if isinstance(data, str) else bytes(data)
    limit = settings.SWITCHBOARD_LOG_BODY_MAX_BYTES
    if len(raw) <= limit:
        return raw.decode("utf-8", "replace")
    return raw[:limit].decode("utf-8", "ignore") + TRUNCATION_MARKER.format(n=len(raw) - limit)


#: A query string without any of these (nor an escape) names no credential.
_SECRET_WORDS = (*SECRET_HINTS, *SECRET_HEADERS)


def logged_path(path: str, query: str) -> str:
    """The path with its query string, values of credential-like names redacted."""
    if not query:
        return path
    lowered = query.lower()
    if "%" not in query and not any(word in lowered for word in _SECRET_WORDS):
        return f"{path}?{query}"  # no name can be a credential's (the usual `beta=true`)
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(is_secret_header(name) for name, _ in pairs):
        query = urlencode(
            [(name, REDACTED if is_secret_header(name) else value) for name, value in pairs]
        )
    return f"{path}?{query}"


def finish(exchange: Exchange) -> None:
    """Hand the exchange's row to the log writer, once; never raises."""
    try:
        if not exchange.finishing():
            return
        try:
            row = build_row(exchange)
        except Exception:
            logger.exception(
                "request %s: the log row could not be built; a minimal row is kept",
                exchange.request_id,
            )
            row = minimal_row(exchange)
        log_writer.enqueue(row)
    except Exception:
        logger.exception("request %s: the log row was not handed over", exchange.request_id)


def minimal_row(exchange: Exchange) -> dict[str, Any]:
    """The fallback row: what is known for sure, nothing derived."""
    now = datetime.now(UTC)
    status = exchange.status if isinstance(exchange.status, int) else 0
    return {
        "request_id": str(exchange.request_id)[: FIELD_WIDTHS["request_id"]],
        "started_at": exchange.started_at if isinstance(exchange.started_at, datetime) else now,
        "finished_at": now,
        "endpoint": str(exchange.endpoint)[: FIELD_WIDTHS["endpoint"]],
        "method": str(exchange.method)[: FIELD_WIDTHS["method"]],
        "path": "",
        "status": status if 0 <= status < 1000 else 0,
        "outcome": exchange.outcome
        if exchange.outcome in Outcome.values
        else Outcome.GATEWAY_ERROR,
        "error_type": str(exchange.error_type)[: FIELD_WIDTHS["error_type"]],
        "error_message": (
            str(exchange.error_message)[:ERROR_MESSAGE_MAX_CHARS]
            or "the log row was reduced to its minimum (see the process log)"
        ),
        "notes": ["the full log row could not be built; see the process log"],
    }


def build_row(exchange: Exchange) -> dict[str, Any]:
    notes: list[str] = []

    def derived(name: str, compute: Callable[[], Any], empty: Any) -> Any:
        try:
            return compute()
        except Exception:
            logger.exception("request %s: log field %s failed", exchange.request_id, name)
            notes.append(f"log field {name} could not be computed")
            return empty

    headers = exchange.header_map
    payload = exchange.payload if exchange.payload is not None else _parsed_body(exchange)
    message = exchange.response_message if isinstance(exchange.response_message, dict) else {}
    usage = exchange.usage if isinstance(exchange.usage, dict) else {}
    row = {
        "request_id": exchange.request_id,
        "started_at": exchange.started_at,
        "finished_at": datetime.now(UTC),
        "endpoint": exchange.endpoint,
        "method": exchange.method,
        "path": derived("path", lambda: logged_path(exchange.path, exchange.query), ""),
        "client_ip": exchange.client_ip,
        "user_agent": headers.get("user-agent", ""),
        "requested_model": exchange.requested_model
        or derived("requested_model", lambda: _requested_model(payload), ""),
        "provider": exchange.provider,
        "account": exchange.account,
        "target_model": exchange.target_model,
        "route": exchange.route,
        "route_reason": exchange.route_reason,
        "subagent": exchange.subagent,
        "stream": exchange.stream if exchange.request is not None else _stream(payload),
        "status": exchange.status,
        "outcome": exchange.outcome,
        "error_type": exchange.error_type,
        "error_message": exchange.error_message[:ERROR_MESSAGE_MAX_CHARS],
        "attempts": derived("attempts", lambda: [a.as_dict() for a in exchange.attempts], []),
        "latency_ms": exchange.latency_ms(),
        "ttfb_ms": exchange.ttfb_ms(),
        "input_tokens": _count(usage.get("input_tokens")),
        "output_tokens": _count(usage.get("output_tokens")),
        "cache_creation_input_tokens": _count(usage.get("cache_creation_input_tokens")),
        "cache_read_input_tokens": _count(usage.get("cache_read_input_tokens")),
        "tools_offered": derived("tools_offered", lambda: _tools_offered(payload), []),
        "tool_calls": derived("tool_calls", lambda: _tool_calls(message), []),
        "request_headers": derived("request_headers", lambda: redact(exchange.headers), {}),
        "request_body": derived("request_body", lambda: cap_text(exchange.raw_body), ""),
        "response_body": derived("response_body", lambda: _response_body(exchange), ""),
        "upstream_request_body": derived(
            "upstream_request_body", lambda: cap_text(exchange.upstream_request_body), ""
        ),
        "upstream_response_body": derived(
            "upstream_response_body", lambda: cap_text(exchange.upstream_response_body), ""
        ),
        "conversation_key": (
            exchange.request.conversation_key
            if exchange.request is not None
            else derived("conversation_key", lambda: conversation_key(headers, payload), "")
        ),
        "notes": [*exchange.notes, *notes],
    }
    for name, width in FIELD_WIDTHS.items():
        value = row[name]
        row[name] = value[:width] if isinstance(value, str) else ""
    return row


def _parsed_body(exchange: Exchange) -> Any:
    """The body as JSON for a request that never got past ingress (None if it is not)."""
    if not exchange.raw_body:
        return None
    try:
        return orjson.loads(exchange.raw_body)
    except orjson.JSONDecodeError:
        return None


def _requested_model(payload: Any) -> str:
    model = payload.get("model") if isinstance(payload, dict) else None
    return model if isinstance(model, str) else ""


def _stream(payload: Any) -> bool:
    return isinstance(payload, dict) and payload.get("stream") is True


def _tools_offered(payload: Any) -> list[str]:
    tools = payload.get("tools") if isinstance(payload, dict) else None
    if not isinstance(tools, list):
        return []
    return [
        str(tool.get("name") or tool.get("type") or "") for tool in tools if isinstance(tool, dict)
    ]


def _tool_calls(message: dict[str, Any]) -> list[str]:
    content = message.get("content")
    if not isinstance(content, list):
        return []
    return [
        str(block.get("name", ""))
        for block in content
        if isinstance(block, dict) and block.get("type") in ("tool_use", "server_tool_use")
    ]


def _response_body(exchange: Exchange) -> str:
    if exchange.response_body:
        return cap_text(exchange.response_body)
    if exchange.response_message is not None:
        return cap_text(orjson.dumps(exchange.response_message, default=str))
    return ""


def _count(value: Any) -> int:
    """A token count as the log stores it: a non-negative int that fits the column."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return 0
    return min(value, MAX_COUNT)

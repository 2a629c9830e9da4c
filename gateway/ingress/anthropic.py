"""Ingress for the Anthropic Messages API: read, parse and validate, once.

The stage turns the body into a `ParsedRequest` holding the fields the
router and the log need, each coerced here and nowhere else.
"""

from __future__ import annotations

from django.http import HttpResponse

from gateway.conversation_key import conversation_key
from gateway.exchange import Exchange, ParsedRequest
from gateway.ingress import read_body
from providers.anthropic.validate import parse_json_object, validate_messages_request
from providers.errors import InvalidRequest


def require_post(exchange: Exchange) -> None:
    if exchange.method != "POST":
        raise InvalidRequest(f"{exchange.method} is not allowed here; use POST")


def parse_messages_request(exchange: Exchange, *, need_max_tokens: bool) -> ParsedRequest:
    require_post(exchange)
    body = read_body(exchange)
    payload = parse_json_object(body)
    validate_messages_request(payload, need_max_tokens=need_max_tokens)
    return ParsedRequest(
        body=body,
        payload=payload,
        model=payload["model"],  # validated: a non-empty string
        stream=payload.get("stream") is True,
        conversation_key=conversation_key(exchange.header_map, payload),
    )


async def read_messages_request(exchange: Exchange) -> HttpResponse | None:
    """POST /v1/messages: the request, parsed and validated."""
    exchange.accepted(parse_messages_request(exchange, need_max_tokens=True))
    return None


async def read_count_tokens_request(exchange: Exchange) -> HttpResponse | None:
    """POST /v1/messages/count_tokens: as messages, without max_tokens, never a stream."""
    parsed = parse_messages_request(exchange, need_max_tokens=False)
    exchange.accepted(
        ParsedRequest(
            body=parsed.body,
            payload=parsed.payload,
            model=parsed.model,
            stream=False,
            conversation_key=parsed.conversation_key,
        )
    )
    return None

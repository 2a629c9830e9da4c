"""OpenAI Chat Completions: the request, the mock's answers (JSON, SSE ending `[DONE]`), checks.

Served by the mock so a later scenario can measure the gateway translating
Anthropic requests for an `openai`-format provider.
"""

from __future__ import annotations

from typing import Any

import orjson

from bench.wire.anthropic import SYSTEM_PROMPT, words
from bench.wire.stream import StreamParts, event_blocks, field_value, sse_event

PATH = "/v1/chat/completions"
MODEL = "gpt-4.1-mini"
COMPLETION_ID = "chatcmpl-bench000000000000000001"
CREATED = 1_700_000_000
PROMPT_TOKENS = 412
DONE = "[DONE]"


def request_body(*, stream: bool, model: str = MODEL) -> bytes:
    payload: dict[str, Any] = {
        "model": model,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": "Which file defines the router?"},
        ],
        "stream": stream,
    }
    if stream:
        payload["stream_options"] = {"include_usage": True}
    return orjson.dumps(payload)


def _usage(completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": completion_tokens,
        "total_tokens": PROMPT_TOKENS + completion_tokens,
    }


def message(chunks: int) -> bytes:
    return orjson.dumps(
        {
            "id": COMPLETION_ID,
            "object": "chat.completion",
            "created": CREATED,
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "".join(words(chunks))},
                    "finish_reason": "stop",
                }
            ],
            "usage": _usage(chunks),
        }
    )


def _chunk(delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> bytes:
    return sse_event(
        None,
        {
            "id": COMPLETION_ID,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            **extra,
        },
    )


def stream(chunks: int) -> StreamParts:
    head = _chunk({"role": "assistant", "content": ""})
    deltas = tuple(_chunk({"content": w}) for w in words(chunks))
    usage_chunk = sse_event(
        None,
        {
            "id": COMPLETION_ID,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": MODEL,
            "choices": [],
            "usage": _usage(chunks),
        },
    )
    tail = _chunk({}, "stop") + usage_chunk + sse_event(None, DONE)
    return StreamParts(head=head, deltas=deltas, tail=tail)


def check_message(body: bytes) -> str | None:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return f"not JSON: {body[:80]!r}"
    if not isinstance(parsed, dict) or not isinstance(parsed.get("choices"), list):
        return f"no choices list: {body[:80]!r}"
    return None


def check_stream(body: bytes) -> str | None:
    events = event_blocks(body)
    if not events:
        return "empty stream"
    last = field_value(events[-1], b"data")
    if last != DONE.encode():
        return f"last data is {last!r}, not {DONE}"
    return None

"""Anthropic Messages API: the request the load generator sends, the mock's answers, checks.

The mock's answers are fixed (one id, one model, text made of numbered words)
and encoded once at start, so answering costs the mock next to nothing.
"""

from __future__ import annotations

from typing import Any

import orjson

from bench.wire.stream import StreamParts, event_blocks, field_value, sse_event

PATH = "/v1/messages"
MODEL = "claude-sonnet-4-5"
MESSAGE_ID = "msg_bench0000000000000000000001"
MAX_TOKENS = 1024
INPUT_TOKENS = 412
SYSTEM_PROMPT = (
    "You are a careful coding assistant working in a repository. "
    "Answer briefly, cite file paths, and prefer small, tested changes. " * 8
)
TOOLS = [
    {
        "name": "read_file",
        "description": "Read a file of the repository and return its text.",
        "input_schema": {
            "type": "object",
            "properties": {"path": {"type": "string", "description": "Relative path."}},
            "required": ["path"],
        },
    }
]


def words(chunks: int) -> list[str]:
    """The text pieces of an answer: `chunks` numbered words."""
    return [f"word{i} " for i in range(chunks)]


def request_body(*, stream: bool, model: str = MODEL) -> bytes:
    """A small Claude Code-like request: a system prompt, one tool, two turns (~1.5 KB)."""
    payload: dict[str, Any] = {
        "model": model,
        "max_tokens": MAX_TOKENS,
        "system": SYSTEM_PROMPT,
        "tools": TOOLS,
        "messages": [
            {"role": "user", "content": "Which file defines the router?"},
            {"role": "assistant", "content": "routing/router.py defines it."},
            {"role": "user", "content": [{"type": "text", "text": "Summarise it in one line."}]},
        ],
        "stream": stream,
    }
    return orjson.dumps(payload)


def _usage(output_tokens: int) -> dict[str, int]:
    return {
        "input_tokens": INPUT_TOKENS,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def message(chunks: int) -> bytes:
    """The JSON Message for a non-streaming request."""
    return orjson.dumps(
        {
            "id": MESSAGE_ID,
            "type": "message",
            "role": "assistant",
            "model": MODEL,
            "content": [{"type": "text", "text": "".join(words(chunks))}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": _usage(chunks),
        }
    )


def stream(chunks: int) -> StreamParts:
    """The event sequence Anthropic sends for one text block, as `StreamParts`."""
    start = {
        "type": "message_start",
        "message": {
            "id": MESSAGE_ID,
            "type": "message",
            "role": "assistant",
            "model": MODEL,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": _usage(1),
        },
    }
    head = (
        sse_event("message_start", start)
        + sse_event(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        )
        + sse_event("ping", {"type": "ping"})
    )
    deltas = tuple(
        sse_event(
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}},
        )
        for w in words(chunks)
    )
    tail = (
        sse_event("content_block_stop", {"type": "content_block_stop", "index": 0})
        + sse_event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": chunks},
            },
        )
        + sse_event("message_stop", {"type": "message_stop"})
    )
    return StreamParts(head=head, deltas=deltas, tail=tail)


def check_message(body: bytes) -> str | None:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return f"not JSON: {body[:80]!r}"
    if not isinstance(parsed, dict) or not isinstance(parsed.get("content"), list):
        return f"no content list: {body[:80]!r}"
    if not parsed["content"]:
        return f"empty content: {body[:80]!r}"
    return None


def check_stream(body: bytes) -> str | None:
    events = event_blocks(body)
    if not events:
        return "empty stream"
    first, last = field_value(events[0], b"event"), field_value(events[-1], b"event")
    if first != b"message_start":
        return f"first event is {first!r}, not message_start"
    if last != b"message_stop":
        return f"last event is {last!r}, not message_stop"
    if not any(field_value(e, b"event") == b"content_block_delta" for e in events):
        return "no content_block_delta event"
    return None

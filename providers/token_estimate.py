"""A local estimate of a Messages request's input tokens (no tokenizer, no I/O).

Used by routing rules on long context and by count_tokens for providers that
cannot count. About four characters a token for text and JSON, a fixed cost
per image and per message; good to within tens of percent, which is what a
routing threshold needs.
"""

from __future__ import annotations

from typing import Any

import orjson

from providers.errors import InvalidRequest

CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4
#: Anthropic bills an image by its size, at most about 1,600 tokens.
TOKENS_PER_IMAGE = 1600
TOKENS_PER_DOCUMENT_PAGE_GUESS = 1500


def estimate_input_tokens(payload: dict[str, Any]) -> int:
    chars = 0
    fixed = 0
    system = payload.get("system")
    chars += _blocks(system, "system")[0] if system is not None else 0
    messages = payload.get("messages")
    for i, message in enumerate(messages if isinstance(messages, list) else ()):
        if isinstance(message, dict):
            fixed += TOKENS_PER_MESSAGE
            chars_, fixed_ = _blocks(message.get("content"), f"messages.{i}.content")
            chars += chars_
            fixed += fixed_
    tools = payload.get("tools")
    if isinstance(tools, list) and tools:
        chars += _json_chars(tools, "tools")
    return fixed + -(-chars // CHARS_PER_TOKEN)


def _json_chars(value: Any, where: str) -> int:
    """Characters of `value` as JSON; a value nested too deep to encode is refused."""
    try:
        return len(orjson.dumps(value))
    except orjson.JSONEncodeError as exc:
        raise InvalidRequest(f"{where}: cannot be read ({exc}); nest it less deeply") from None


def _blocks(content: Any, where: str) -> tuple[int, int]:
    if isinstance(content, str):
        return len(content), 0
    if not isinstance(content, list):
        return 0, 0
    chars = fixed = 0
    for j, block in enumerate(content):
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            chars += _len(block.get("text"))
        elif kind == "image":
            fixed += TOKENS_PER_IMAGE
        elif kind == "document":
            fixed += TOKENS_PER_DOCUMENT_PAGE_GUESS
        elif kind == "tool_use":
            chars += _json_chars(block.get("input") or {}, f"{where}.{j}.input")
            chars += _len(block.get("name"))
        elif kind == "tool_result":
            inner_chars, inner_fixed = _blocks(block.get("content"), f"{where}.{j}.content")
            chars += inner_chars
            fixed += inner_fixed
        elif kind == "thinking":
            chars += _len(block.get("thinking"))
        else:
            chars += _json_chars(block, f"{where}.{j}")
    return chars, fixed


def _len(value: Any) -> int:
    """Length of a string field; anything else (validation lets odd shapes through) is 0."""
    return len(value) if isinstance(value, str) else 0

"""Thinking blocks another provider produced, removed before a request goes to Anthropic.

A conversation that was served by an OpenAI-format provider for a while
carries thinking blocks the gateway made from `reasoning_content`; they have
no Anthropic signature (the gateway leaves it empty), and Anthropic refuses a
thinking block whose signature it did not issue. Removing them keeps such a
conversation working when it moves back to an Anthropic model; everything
else in the request is kept as sent. Anthropic's own blocks (signed, or
`redacted_thinking`) are left alone.
"""

from __future__ import annotations

from typing import Any

#: Stands in for an assistant turn that held nothing but foreign thinking
#: (Anthropic refuses empty content and empty text blocks).
PLACEHOLDER = "(reasoning from another model omitted)"


def is_foreign_thinking(block: Any) -> bool:
    return (
        isinstance(block, dict) and block.get("type") == "thinking" and not block.get("signature")
    )


def strip_foreign_thinking(payload: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """(payload without unsigned thinking blocks, how many were removed).

    Returns the same payload object when there is nothing to remove, so the
    caller can keep forwarding the raw body untouched.
    """
    messages = payload.get("messages")
    if not isinstance(messages, list) or not any(
        isinstance(m, dict)
        and m.get("role") == "assistant"
        and isinstance(m.get("content"), list)
        and any(is_foreign_thinking(b) for b in m["content"])
        for m in messages
    ):
        return payload, 0
    removed = 0
    cleaned = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if message.get("role") == "assistant" and isinstance(content, list):
            kept = [b for b in content if not is_foreign_thinking(b)]
            removed += len(content) - len(kept)
            message = {**message, "content": kept or [{"type": "text", "text": PLACEHOLDER}]}
        cleaned.append(message)
    return {**payload, "messages": cleaned}, removed

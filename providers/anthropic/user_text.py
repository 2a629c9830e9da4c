"""The first thing the user wrote in a Messages request (pure).

Used for the conversation key's fingerprint (gateway) and for the first
prompt a conversation listing shows (requestlog). Validation may not have
run (a rejected request is logged too), so any shape is tolerated.
"""

from __future__ import annotations

from typing import Any

#: Claude Code wraps context it injects into the user's turn in these tags.
INJECTED_PREFIXES = ("<system-reminder>", "<command-", "<local-command-", "Caveat:")


def first_user_text(payload: Any, *, skip_injected: bool = False) -> str:
    """The text blocks of the first user message, joined; "" for any odd shape.

    With `skip_injected`, text blocks Claude Code injected are left out,
    unless the message has nothing else.
    """
    messages = payload.get("messages") if isinstance(payload, dict) else None
    if not isinstance(messages, list):
        return ""
    for message in messages:
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if not isinstance(content, list):
            continue
        texts = [
            text
            for block in content
            if isinstance(block, dict) and block.get("type") == "text"
            for text in (block.get("text"),)
            if isinstance(text, str)
        ]
        if skip_injected:
            own = [t for t in texts if not is_injected(t)]
            texts = own or texts
        return "\n".join(texts)
    return ""


def is_injected(text: str) -> bool:
    return text.lstrip().startswith(INJECTED_PREFIXES)

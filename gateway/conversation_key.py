"""The conversation key that groups a client's requests into one conversation.

Claude Code's session id from `x-claude-code-session-id`, else from
`metadata.user_id` (a JSON string with `session_id` in current versions,
`user_<hash>_account_<uuid>_session_<uuid>` in older ones), else a
fingerprint of the first user message.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson

from providers.anthropic.user_text import first_user_text

_LEGACY_SESSION = re.compile(r"_session_([0-9a-fA-F-]{8,})$")
MAX_KEY_LENGTH = 100


def session_from_user_id(user_id: object) -> str | None:
    if not isinstance(user_id, str) or not user_id:
        return None
    if user_id.startswith("{"):
        try:
            parsed = orjson.loads(user_id)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("session_id"), str):
            return parsed["session_id"] or None
    match = _LEGACY_SESSION.search(user_id)
    return match.group(1) if match else None


def conversation_key(headers: dict[str, str], payload: Any) -> str:
    """The key that groups this request with the rest of its conversation ("" if none)."""
    session = headers.get("x-claude-code-session-id", "").strip()
    if session:
        return session[:MAX_KEY_LENGTH]
    if not isinstance(payload, dict):
        return ""
    metadata = payload.get("metadata")
    if isinstance(metadata, dict):
        session = session_from_user_id(metadata.get("user_id")) or ""
        if session:
            return session[:MAX_KEY_LENGTH]
    text = first_user_text(payload)
    if not text:
        return ""
    return "fp-" + hashlib.sha256(text.encode()).hexdigest()[:16]

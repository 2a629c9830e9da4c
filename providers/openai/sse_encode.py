"""Encode Anthropic stream events as Server-Sent Events.

One event is `event: NAME\\ndata: {compact JSON}\\n\\n`, exactly what the
Messages API sends. Nothing is lost: the data dict is serialised as is
(orjson: UTF-8, no spaces, non-ASCII kept).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson


def encode_event(name: str, data: dict[str, Any]) -> bytes:
    """One SSE event carrying `data` as compact JSON."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def encode_events(events: Iterable[tuple[str, dict[str, Any]]]) -> bytes:
    """Several events, concatenated (a translator call may yield many)."""
    return b"".join(encode_event(name, data) for name, data in events)

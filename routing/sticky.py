"""Cache-aware stickiness: a conversation keeps its model for the rest of a turn.

Prompt caches live with one model at one provider; a conversation that hops
between models mid-turn pays for its whole prompt again. So once a real user
turn has been routed, the requests that continue it — tool results, Claude
Code's `<system-reminder>` envelopes, assistant prefill — go to the same
target. Only the next real user message may be routed anew.

A "lane" keeps the conversation's parties apart: the main agent, each
subagent and the background (small model) requests share a session id but
are routed independently. State is per process and bounded (LRU, TTL).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from routing.router import RouteDecision

SYSTEM_REMINDER_PREFIX = "<system-reminder>"
#: Conversations remembered per process, and for how long after their last request.
MAX_LANES = 20_000
LANE_TTL_SECONDS = 6 * 3600


def is_turn_continuation(payload: dict[str, Any]) -> bool:
    """True when the last message carries no new words from the user."""
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        return False
    last = messages[-1]
    if not isinstance(last, dict):
        return False
    if last.get("role") == "assistant":
        return True  # prefill: the same answer goes on
    if last.get("role") != "user":
        return False
    content = last.get("content")
    if isinstance(content, str):
        return content.lstrip().startswith(SYSTEM_REMINDER_PREFIX)
    if not isinstance(content, list) or not content:
        return False
    for block in content:
        if not isinstance(block, dict):
            return False
        kind = block.get("type")
        if kind == "tool_result":
            continue
        if kind == "text" and str(block.get("text", "")).lstrip().startswith(
            SYSTEM_REMINDER_PREFIX
        ):
            continue
        return False
    return True


def lane_key(conversation: str, party: str, requested_model: str) -> str:
    return f"{conversation}\x1f{party}\x1f{requested_model}"


@dataclass(frozen=True)
class Pinned:
    decision: RouteDecision
    config_version: int
    at: float


class StickyLanes:
    def __init__(self, max_lanes: int = MAX_LANES, ttl: float = LANE_TTL_SECONDS) -> None:
        self._lanes: OrderedDict[str, Pinned] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_lanes
        self._ttl = ttl

    def get(self, key: str, config_version: int) -> RouteDecision | None:
        """The decision pinned for this lane, if any and made with the current config."""
        now = time.monotonic()
        with self._lock:
            pinned = self._lanes.get(key)
            if pinned is None:
                return None
            if now - pinned.at > self._ttl or pinned.config_version != config_version:
                del self._lanes[key]
                return None
            self._lanes.move_to_end(key)
            self._lanes[key] = Pinned(pinned.decision, pinned.config_version, now)
            return pinned.decision

    def pin(self, key: str, decision: RouteDecision, config_version: int) -> None:
        with self._lock:
            self._lanes[key] = Pinned(decision, config_version, time.monotonic())
            self._lanes.move_to_end(key)
            while len(self._lanes) > self._max:
                self._lanes.popitem(last=False)

    def forget(self, key: str) -> None:
        with self._lock:
            self._lanes.pop(key, None)

    def __len__(self) -> int:
        return len(self._lanes)


sticky_lanes = StickyLanes()

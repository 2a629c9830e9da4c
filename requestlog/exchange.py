"""What the gateway learns about one request as it serves it, turned into a log row.

An `Exchange` is created when the request arrives, filled in along the request
path (route, attempts, first byte, usage, bodies), and `finish()`ed exactly
once, which hands a plain dict to the background writer. Building the row
costs a few dict operations; nothing here touches the database.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from django.conf import settings

from providers.errors import GatewayError
from providers.headers import redact
from requestlog.conversation import conversation_key
from requestlog.models import Outcome
from requestlog.writer import log_writer

TRUNCATION_MARKER = "…[truncated {n} bytes]"


def new_request_id() -> str:
    return "sbreq_" + uuid.uuid4().hex


def cap_text(data: bytes | str | None) -> str:
    """Body text for the log, cut at SWITCHBOARD_LOG_BODY_MAX_BYTES with a marker."""
    if data is None or not settings.SWITCHBOARD_LOG_BODIES:
        return ""
    raw = data.encode() if isinstance(data, str) else data
    limit = settings.SWITCHBOARD_LOG_BODY_MAX_BYTES
    if len(raw) <= limit:
        return raw.decode("utf-8", "replace")
    return raw[:limit].decode("utf-8", "ignore") + TRUNCATION_MARKER.format(n=len(raw) - limit)


def to_json_text(value: Any) -> str:
    return cap_text(orjson.dumps(value, default=str))


@dataclass
class Attempt:
    provider: str
    account: str
    model: str
    status: int | None = None
    error: str = ""
    ms: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "account": self.account,
            "model": self.model,
            "status": self.status,
            "error": self.error,
            "ms": self.ms,
        }


@dataclass
class Exchange:
    endpoint: str
    method: str
    path: str
    headers: list[tuple[str, str]]
    client_ip: str | None
    request_id: str = field(default_factory=new_request_id)
    started: float = field(default_factory=time.monotonic)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    payload: dict[str, Any] | None = None
    raw_body: bytes = b""
    requested_model: str = ""
    provider: str = ""
    account: str = ""
    target_model: str = ""
    route: str = ""
    route_reason: str = ""
    subagent: str = ""
    stream: bool = False
    status: int = 0
    outcome: str = Outcome.COMPLETED
    error_type: str = ""
    error_message: str = ""
    attempts: list[Attempt] = field(default_factory=list)
    first_byte: float | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    response_body: str = ""
    response_message: dict[str, Any] | None = None
    upstream_request_body: str = ""
    upstream_response_body: str = ""
    finished: bool = False
    #: What translation had to drop or change (stored with the log row).
    notes: list[str] = field(default_factory=list)

    @property
    def header_map(self) -> dict[str, str]:
        """The client's headers by lower-case name (last one wins)."""
        return {name.lower(): value for name, value in self.headers}

    # --- filled in along the request path ------------------------------------
    def note_request(self, payload: dict[str, Any]) -> None:
        self.payload = payload
        model = payload.get("model")
        self.requested_model = model if isinstance(model, str) else ""
        self.stream = payload.get("stream") is True

    def begin_attempt(self, provider: str, account: str, model: str) -> Attempt:
        attempt = Attempt(provider=provider, account=account, model=model)
        attempt.ms = int(time.monotonic() * 1000)  # start time until end_attempt
        self.attempts.append(attempt)
        self.provider, self.account, self.target_model = provider, account, model
        return attempt

    @staticmethod
    def end_attempt(attempt: Attempt, *, status: int | None, error: str = "") -> None:
        attempt.status = status
        attempt.error = error
        attempt.ms = int(time.monotonic() * 1000) - attempt.ms

    def mark_first_byte(self) -> None:
        if self.first_byte is None:
            self.first_byte = time.monotonic()

    def fail(self, exc: GatewayError, outcome: str) -> None:
        self.status = exc.status
        self.outcome = outcome
        self.error_type = exc.error_type
        self.error_message = exc.message

    def clear_error(self) -> None:
        """A later attempt succeeded: the request's own outcome is not an error."""
        self.status = 0
        self.outcome = Outcome.COMPLETED
        self.error_type = self.error_message = ""

    # --- the end ---------------------------------------------------------------
    def finish(self) -> None:
        """Hand the row to the background writer; later calls do nothing."""
        if self.finished:
            return
        self.finished = True
        log_writer.enqueue(self.to_row())

    def to_row(self) -> dict[str, Any]:
        end = time.monotonic()
        header_map = self.header_map
        payload = self.payload or {}
        tools = payload.get("tools") if isinstance(payload.get("tools"), list) else []
        message = self.response_message or {}
        content = message.get("content") if isinstance(message.get("content"), list) else []
        usage = self.usage
        return {
            "request_id": self.request_id,
            "started_at": self.started_at,
            "finished_at": datetime.now(UTC),
            "endpoint": self.endpoint,
            "method": self.method,
            "path": self.path[:500],
            "client_ip": self.client_ip,
            "user_agent": header_map.get("user-agent", "")[:300],
            "requested_model": self.requested_model[:200],
            "provider": self.provider,
            "account": self.account,
            "target_model": self.target_model[:200],
            "route": self.route,
            "route_reason": self.route_reason[:500],
            "subagent": self.subagent,
            "stream": self.stream,
            "status": self.status,
            "outcome": self.outcome,
            "error_type": self.error_type[:64],
            "error_message": self.error_message[:4000],
            "attempts": [a.as_dict() for a in self.attempts],
            "latency_ms": int((end - self.started) * 1000),
            "ttfb_ms": (int((self.first_byte - self.started) * 1000) if self.first_byte else None),
            "input_tokens": _count(usage.get("input_tokens")),
            "output_tokens": _count(usage.get("output_tokens")),
            "cache_creation_input_tokens": _count(usage.get("cache_creation_input_tokens")),
            "cache_read_input_tokens": _count(usage.get("cache_read_input_tokens")),
            "tools_offered": [
                t.get("name") or t.get("type", "") for t in tools if isinstance(t, dict)
            ],
            "tool_calls": [
                b.get("name", "")
                for b in content
                if isinstance(b, dict) and b.get("type") in ("tool_use", "server_tool_use")
            ],
            "request_headers": redact(self.headers),
            "request_body": cap_text(self.raw_body),
            "response_body": self.response_body,
            "upstream_request_body": self.upstream_request_body,
            "upstream_response_body": self.upstream_response_body,
            "conversation_key": conversation_key(header_map, self.payload),
            "notes": list(self.notes),
        }


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0

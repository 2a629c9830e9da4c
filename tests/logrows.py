"""Helpers for tests of the request log API, statistics and commands.

- `make_row(**fields)`: one saved RequestLog row with plausible defaults.
- `writer_row(request_id, **fields)`: the dict a log writer takes (nothing saved).
- `staff_client()` / `user_client()`: DRF API clients logged in as staff / not staff.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from requestlog.models import RequestLog

#: A fixed moment the rows of a test are placed around.
T0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def request_body(prompt: str = "hello there", model: str = "claude-sonnet-4-5") -> str:
    return orjson.dumps(
        {"model": model, "max_tokens": 100, "messages": [{"role": "user", "content": prompt}]}
    ).decode()


def response_body(text: str = "general kenobi") -> str:
    return orjson.dumps(
        {"type": "message", "role": "assistant", "content": [{"type": "text", "text": text}]}
    ).decode()


def writer_row(request_id: str, **fields: Any) -> dict[str, Any]:
    """The smallest row the log writer accepts (a completed request, now); `fields` add to it."""
    now = datetime.now(UTC)
    return {
        "request_id": request_id,
        "started_at": now,
        "finished_at": now,
        "endpoint": "messages",
        "method": "POST",
        "path": "/v1/messages",
        "status": 200,
        "outcome": "completed",
        **fields,
    }


def make_row(**fields: Any) -> RequestLog:
    """Save one log row; `fields` override the defaults (a completed Sonnet request at T0)."""
    started_at = fields.pop("started_at", T0)
    latency_ms = fields.pop("latency_ms", 1000)
    values: dict[str, Any] = {
        "request_id": "sbreq_" + uuid.uuid4().hex,
        "started_at": started_at,
        "finished_at": started_at + timedelta(milliseconds=latency_ms),
        "latency_ms": latency_ms,
        "endpoint": "messages",
        "method": "POST",
        "path": "/v1/messages",
        "requested_model": "claude-sonnet-4-5",
        "provider": "anthropic",
        "account": "main",
        "target_model": "claude-sonnet-4-5",
        "route": "default",
        "status": 200,
        "outcome": "completed",
        "request_body": request_body(),
        "response_body": response_body(),
    }
    values.update(fields)
    return RequestLog.objects.create(**values)


def staff_client() -> APIClient:
    user = User.objects.create_user("staff", "staff@example.com", "pw", is_staff=True)
    client = APIClient()
    client.force_login(user)
    return client


def user_client() -> APIClient:
    user = User.objects.create_user("plain", "plain@example.com", "pw")
    client = APIClient()
    client.force_login(user)
    return client

"""What the request log keeps, and that the writer loses nothing at shutdown."""

from __future__ import annotations

import orjson

from requestlog.models import RequestLog
from tests.clients import anthropic_client

HELLO = [{"role": "user", "content": "Hello there"}]


def test_rows_queued_for_a_late_batch_are_written_when_the_gateway_stops(
    anthropic_provider, start_gateway
):
    # A flush interval far longer than the test: only the shutdown flush can write these.
    gateway = start_gateway(SWITCHBOARD_LOG_FLUSH_MS="600000", SWITCHBOARD_LOG_BATCH_SIZE="1000")
    client = anthropic_client(gateway.url, api_key="k", max_retries=0)
    for _ in range(3):
        client.messages.create(model="m", max_tokens=5, messages=HELLO)
    assert RequestLog.objects.count() == 0

    gateway.stop()

    assert RequestLog.objects.count() == 3


def test_the_conversation_key_is_claude_codes_session_id(gateway, log_rows):
    client = anthropic_client(gateway.url, api_key="k", max_retries=0)
    client.messages.create(
        model="m",
        max_tokens=5,
        messages=HELLO,
        extra_headers={"x-claude-code-session-id": "3f1c-session"},
    )
    user_id = orjson.dumps(
        {"device_id": "d", "account_uuid": "a", "session_id": "from-metadata"}
    ).decode()
    client.messages.create(model="m", max_tokens=5, messages=HELLO, metadata={"user_id": user_id})
    client.messages.create(model="m", max_tokens=5, messages=HELLO)

    keys = [row.conversation_key for row in log_rows()]
    assert keys[0] == "3f1c-session"
    assert keys[1] == "from-metadata"
    assert keys[2].startswith("fp-") and len(keys[2]) == 19


def test_times_are_stored_in_utc_and_bodies_are_kept(gateway, log_rows):
    client = anthropic_client(gateway.url, api_key="k", max_retries=0)
    client.messages.create(model="m", max_tokens=5, messages=HELLO)

    [row] = log_rows()
    assert row.started_at.utcoffset().total_seconds() == 0
    assert row.finished_at >= row.started_at
    assert orjson.loads(row.request_body)["messages"] == HELLO
    assert row.user_agent.startswith("Anthropic/Python")

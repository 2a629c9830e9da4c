"""One client's characters the database refuses never keep other clients' rows out of the log.

Found by a security probe on PostgreSQL: a NUL in `metadata.user_id` failed
the whole batch (0 of 10 other rows written). Runs on SQLite and on
PostgreSQL (CI runs the suite on both).
"""

from __future__ import annotations

import httpx
import orjson
import pytest

from requestlog.models import RequestLog
from requestlog.row_clean import REPLACEMENT
from requestlog.writer import SPILL_FILE_NAME, LogWriter
from tests.logrows import writer_row

R = REPLACEMENT


def clean_row(request_id: str) -> dict:
    return writer_row(
        request_id,
        conversation_key="session-ok",
        request_headers={"user-agent": "claude-cli"},
        request_body='{"model": "m"}',
        attempts=[{"provider": "anthropic", "status": 200}],
        tools_offered=["Read"],
    )


@pytest.fixture
def one_batch_writer(transactional_db, settings, tmp_path):
    """A real writer that writes everything in one batch, at flush()."""
    settings.DATA_DIR = tmp_path
    settings.SWITCHBOARD_LOG_FLUSH_MS = 600_000
    settings.SWITCHBOARD_LOG_BATCH_SIZE = 1000
    instance = LogWriter()
    yield instance
    instance.shutdown()


def test_a_row_with_nul_in_many_fields_lands_cleaned_with_the_ten_others(
    one_batch_writer, tmp_path
):
    for i in range(10):
        one_batch_writer.enqueue(clean_row(f"clean-{i}"))
    poisoned = clean_row("poisoned")
    poisoned.update(
        conversation_key="s\x00",
        requested_model="claude\x00",
        request_body='{"metadata": {"user_id": "s\x00"}}',
        request_headers={"x-claude-code-session-id": "s\x00", "x-evil\x00": "v"},
        attempts=[{"provider": "anthropic", "error": "bad \x00 byte", "status": None}],
        tools_offered=["t\x00"],
        notes=["n\x00"],
    )
    one_batch_writer.enqueue(poisoned)

    assert one_batch_writer.flush(30)

    assert RequestLog.objects.count() == 11
    assert not (tmp_path / SPILL_FILE_NAME).exists() and one_batch_writer.spilled == 0
    row = RequestLog.objects.get(request_id="poisoned")
    assert row.conversation_key == "s" + R
    assert row.requested_model == "claude" + R
    assert row.request_body == '{"metadata": {"user_id": "s' + R + '"}}'
    assert row.request_headers == {"x-claude-code-session-id": "s" + R, "x-evil" + R: "v"}
    assert row.attempts == [{"provider": "anthropic", "error": f"bad {R} byte", "status": None}]
    assert row.tools_offered == ["t" + R]
    assert row.notes == ["n" + R]


def test_a_row_with_lone_surrogates_lands_cleaned_with_the_others(one_batch_writer, tmp_path):
    for i in range(3):
        one_batch_writer.enqueue(clean_row(f"clean-{i}"))
    poisoned = clean_row("surrogates")
    poisoned.update(
        conversation_key="s\ud800",
        response_body="text \udfff end",
        request_headers={"h\udc00": "v\ud83d"},
        tools_offered=["t\udc80"],
    )
    one_batch_writer.enqueue(poisoned)

    assert one_batch_writer.flush(30)

    assert RequestLog.objects.count() == 4
    assert not (tmp_path / SPILL_FILE_NAME).exists()
    row = RequestLog.objects.get(request_id="surrogates")
    assert row.conversation_key == "s" + R
    assert row.response_body == f"text {R} end"
    assert row.request_headers == {"h" + R: "v" + R}
    assert row.tools_offered == ["t" + R]


def test_a_request_with_nul_in_its_session_id_and_tools_is_logged_with_the_others(
    anthropic_provider, start_gateway, log_rows_for_stopped
):
    # One batch for all of them: only the shutdown flush writes.
    gateway = start_gateway(SWITCHBOARD_LOG_FLUSH_MS="600000", SWITCHBOARD_LOG_BATCH_SIZE="1000")
    hello = [{"role": "user", "content": "Hello"}]
    url = gateway.url + "/v1/messages"
    for _ in range(10):
        httpx.post(url, json={"model": "m", "max_tokens": 5, "messages": hello}, timeout=20)
    # What the probe sent: a JSON escape of NUL inside metadata.user_id, and in a tool name.
    user_id = '{"device_id": "d", "session_id": "s\\u0000"}'
    poisoned = {
        "model": "m",
        "max_tokens": 5,
        "messages": hello,
        "metadata": {"user_id": user_id},
        "tools": [{"name": "t\x00", "input_schema": {"type": "object"}}],
    }
    answer = httpx.post(url, content=orjson.dumps(poisoned), timeout=20)

    rows = log_rows_for_stopped(gateway)

    assert len(rows) == 11
    poisoned_row = rows[-1]
    assert poisoned_row.request_id == answer.headers["x-switchboard-request-id"]
    assert poisoned_row.conversation_key == "s" + R
    assert poisoned_row.tools_offered == ["t" + R]

"""The background log writer: batches, flush, shutdown, and nothing lost on failure."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.management import call_command

from requestlog import writer as writer_module
from requestlog.models import RequestLog
from requestlog.writer import SPILL_FILE_NAME, LogWriter


def row(request_id: str) -> dict:
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
    }


@pytest.fixture
def writer(transactional_db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.SWITCHBOARD_LOG_FLUSH_MS = 20
    settings.SWITCHBOARD_LOG_BATCH_SIZE = 3
    instance = LogWriter()
    yield instance
    instance.shutdown()


def test_it_writes_enqueued_rows_once_flushed(writer):
    for i in range(7):
        writer.enqueue(row(f"r{i}"))

    assert writer.flush(10)

    assert sorted(RequestLog.objects.values_list("request_id", flat=True)) == [
        f"r{i}" for i in range(7)
    ]
    assert writer.written == 7


def test_shutdown_writes_what_is_still_queued_and_stops_the_thread(writer, settings):
    settings.SWITCHBOARD_LOG_FLUSH_MS = 600_000  # only shutdown can write these in time
    settings.SWITCHBOARD_LOG_BATCH_SIZE = 1000
    for i in range(5):
        writer.enqueue(row(f"s{i}"))

    writer.shutdown()

    assert RequestLog.objects.count() == 5
    assert not writer.is_alive()


def test_a_batch_the_database_refuses_is_kept_on_disk_and_replayed(writer, monkeypatch, tmp_path):
    monkeypatch.setattr(writer_module, "RETRY_DELAY", 0.0)
    RequestLog.objects.create(**row("taken"))
    writer.enqueue(row("taken"))  # unique request_id: the database refuses the batch
    writer.enqueue(row("innocent"))

    assert writer.flush(10)

    spill = tmp_path / SPILL_FILE_NAME
    assert spill.exists() and writer.spilled == 2
    assert not RequestLog.objects.filter(request_id="innocent").exists()

    call_command("replaylogs", verbosity=0)

    assert RequestLog.objects.filter(request_id="innocent").count() == 1
    assert RequestLog.objects.filter(request_id="taken").count() == 1
    assert not spill.exists()

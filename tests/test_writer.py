"""The background log writer: batches, flush, shutdown, and nothing lost on failure."""

from __future__ import annotations

import orjson
import pytest
from django.core.management import call_command

from requestlog import writer as writer_module
from requestlog.models import RequestLog
from requestlog.writer import SPILL_FILE_NAME, LogWriter
from tests.logrows import writer_row

row = writer_row


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


def test_a_row_the_database_refuses_is_kept_on_disk_and_the_others_are_written(
    writer, monkeypatch, tmp_path, caplog
):
    monkeypatch.setattr(writer_module, "RETRY_DELAY", 0.0)
    RequestLog.objects.create(**row("taken"))
    writer.enqueue(row("taken"))  # unique request_id: the database refuses this row
    writer.enqueue(row("innocent"))

    assert writer.flush(10)

    assert RequestLog.objects.filter(request_id="innocent").count() == 1
    spill = tmp_path / SPILL_FILE_NAME
    assert [orjson.loads(line)["request_id"] for line in spill.read_bytes().splitlines()] == [
        "taken"
    ]
    assert writer.spilled == 1
    [refusal] = [r.getMessage() for r in caplog.records if "not written" in r.getMessage()]
    assert "IntegrityError" in refusal and "taken" in refusal


def test_a_row_refused_for_any_reason_is_set_aside_alone(writer, monkeypatch, tmp_path):
    from requestlog.fast_insert import RowInserter

    real_insert = RowInserter.insert

    def refuse_bad(self, rows):
        if any(r["request_id"] == "bad" for r in rows):
            raise ValueError("refused for the test")
        real_insert(self, rows)

    monkeypatch.setattr(RowInserter, "insert", refuse_bad)
    for request_id in ("a", "bad", "b"):
        writer.enqueue(row(request_id))

    assert writer.flush(10)

    assert sorted(RequestLog.objects.values_list("request_id", flat=True)) == ["a", "b"]
    spilled = [orjson.loads(line) for line in (tmp_path / SPILL_FILE_NAME).read_bytes().split()]
    assert [r["request_id"] for r in spilled] == ["bad"]


def test_a_batch_is_retried_while_the_database_is_unavailable_then_kept_on_disk(
    writer, monkeypatch, tmp_path
):
    from django.db import OperationalError

    from requestlog.fast_insert import RowInserter

    monkeypatch.setattr(writer_module, "RETRY_DELAY", 0.0)
    calls = []

    def locked(self, rows):
        calls.append(len(rows))
        raise OperationalError("database is locked")

    monkeypatch.setattr(RowInserter, "insert", locked)
    for request_id in ("a", "b"):
        writer.enqueue(row(request_id))

    assert writer.flush(10)

    # Tried as a batch WRITE_ATTEMPTS times, never row by row against a locked database.
    assert calls == [2] * writer_module.WRITE_ATTEMPTS
    spill = tmp_path / SPILL_FILE_NAME
    assert [orjson.loads(line)["request_id"] for line in spill.read_bytes().split()] == ["a", "b"]
    monkeypatch.undo()

    call_command("replaylogs", verbosity=0)

    assert sorted(RequestLog.objects.values_list("request_id", flat=True)) == ["a", "b"]
    assert not spill.exists()


def test_after_batch_hooks_get_the_written_rows_and_their_failures_are_swallowed(writer, caplog):
    seen: list[list[str]] = []

    def broken(rows):
        raise RuntimeError("hook bug")

    writer.add_after_batch(broken)
    writer.add_after_batch(lambda rows: seen.append([r["request_id"] for r in rows]))
    writer.add_after_batch(broken)  # twice: still run once

    writer.enqueue(row("h1"))
    assert writer.flush(10)
    writer.enqueue(row("h2"))
    assert writer.flush(10)

    assert seen == [["h1"], ["h2"]]
    assert RequestLog.objects.count() == 2
    assert len(writer.after_batch_hooks) == 2
    assert sum("hook bug" in (r.exc_text or str(r.exc_info)) for r in caplog.records) == 2


def test_the_gateway_app_wires_the_agents_last_match_into_the_log_writer():
    from requestlog.writer import log_writer
    from routing.agent_matches import note_agent_matches

    assert note_agent_matches in log_writer.after_batch_hooks


def spilled_count(reason: str) -> float:
    from requestlog.metrics import registry

    value = registry.get_sample_value("switchboard_log_rows_spilled_total", {"reason": reason})
    return value or 0.0


def test_rows_past_the_queue_bound_go_to_the_spill_file_and_are_replayed(
    writer, settings, monkeypatch, tmp_path, caplog
):
    import threading

    settings.SWITCHBOARD_LOG_QUEUE_MAX = 3
    settings.SWITCHBOARD_LOG_BATCH_SIZE = 1
    entered, release = threading.Event(), threading.Event()
    real_write = writer._write

    def stalled_write(batch):  # the database is stuck on the first batch
        entered.set()
        release.wait(10)
        real_write(batch)

    monkeypatch.setattr(writer, "_write", stalled_write)
    before = spilled_count("queue_full")
    writer.enqueue(row("q0"))
    assert entered.wait(10)  # q0 is out of the queue, in the stuck write

    for i in range(1, 10):
        writer.enqueue(row(f"q{i}"))  # q1-q3 fill the queue; q4-q9 are past its bound

    spill = tmp_path / SPILL_FILE_NAME
    assert [orjson.loads(line)["request_id"] for line in spill.read_bytes().split()] == [
        f"q{i}" for i in range(4, 10)
    ]
    assert spilled_count("queue_full") - before == 6
    full = [r.getMessage() for r in caplog.records if "log queue full" in r.getMessage()]
    assert len(full) == 1  # at most once a minute, not once per row
    release.set()
    assert writer.flush(10)
    assert sorted(RequestLog.objects.values_list("request_id", flat=True)) == [
        f"q{i}" for i in range(4)
    ]

    call_command("replaylogs", verbosity=0)

    assert RequestLog.objects.count() == 10
    assert not spill.exists()


def test_enqueue_below_the_bound_never_touches_the_spill_file(writer, settings, tmp_path):
    settings.SWITCHBOARD_LOG_QUEUE_MAX = 1000
    for i in range(20):
        writer.enqueue(row(f"n{i}"))

    assert writer.flush(10)

    assert RequestLog.objects.count() == 20
    assert not (tmp_path / SPILL_FILE_NAME).exists()


def test_rows_written_while_the_writer_shuts_down_are_not_pushed_to_dashboards(
    transactional_db, settings, tmp_path, monkeypatch
):
    """At interpreter exit asgiref cannot run the channel layer's send; nobody listens anyway."""
    settings.DATA_DIR = tmp_path
    pushed: list[int] = []
    monkeypatch.setattr("requestlog.live.publish_rows", lambda rows: pushed.append(len(rows)))
    writer = LogWriter()
    writer.enqueue(row("before"))
    assert writer.flush()
    writer.enqueue(row("during"))
    writer.shutdown()

    assert pushed == [1]
    assert RequestLog.objects.filter(request_id__in=["before", "during"]).count() == 2
    writer.enqueue(row("after a restart"))
    assert writer.flush()
    assert pushed == [1, 1]
    writer.shutdown()

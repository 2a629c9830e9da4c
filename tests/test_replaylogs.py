"""manage.py replaylogs: rows written one by one; what cannot be written is reported and kept."""

from __future__ import annotations

from io import StringIO

import orjson
import pytest
from django.core.management import CommandError, call_command

from requestlog import spill
from requestlog.models import RequestLog
from requestlog.row_clean import REPLACEMENT
from requestlog.writer import SPILL_FILE_NAME
from tests.logrows import writer_row


def line(request_id: str, **fields) -> bytes:
    return orjson.dumps(writer_row(request_id, **fields), default=str) + b"\n"


@pytest.fixture
def spill_file(transactional_db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    return tmp_path / SPILL_FILE_NAME


def replay() -> tuple[str, str, CommandError | None]:
    out, err = StringIO(), StringIO()
    try:
        call_command("replaylogs", stdout=out, stderr=err)
    except CommandError as error:
        return out.getvalue(), err.getvalue(), error
    return out.getvalue(), err.getvalue(), None


def test_good_rows_are_written_and_bad_lines_are_reported_and_kept(spill_file):
    bad_lines = [
        b'{"request_id": "half a line',  # cut short (disk full, crash)
        line("unknown-field", no_such_column=1).rstrip(),  # refused by the inserter
        b'{"started_at": "2026-01-01T00:00:00Z"}',  # JSON, but not a log row
    ]
    spill_file.write_bytes(
        line("good-1")
        + bad_lines[0]
        + b"\n"
        + bad_lines[1]
        + b"\n"
        + line("good-2", conversation_key="s\x00")  # spilled before cleaning: cleaned now
        + bad_lines[2]
        + b"\n\n"
    )

    out, err, error = replay()

    assert sorted(RequestLog.objects.values_list("request_id", flat=True)) == ["good-1", "good-2"]
    assert RequestLog.objects.get(request_id="good-2").conversation_key == "s" + REPLACEMENT
    assert "wrote 2 log rows (0 were there); 3 could not be written" in out
    assert "unknown-field" in err and "(line 2)" in err and "(line 5)" in err
    assert error is not None and "3 log rows could not be written" in str(error)
    assert spill_file.read_bytes().splitlines() == bad_lines  # only the bad ones are kept
    assert not spill_file.with_name(SPILL_FILE_NAME + ".replaying").exists()


def test_rows_already_in_the_log_are_counted_and_dropped_from_the_file(spill_file):
    spill_file.write_bytes(line("twice") + line("twice") + line("fresh"))
    call_command("replaylogs", stdout=StringIO())
    RequestLog.objects.filter(request_id="fresh").delete()
    spill_file.write_bytes(line("twice") + line("fresh"))

    out, _, error = replay()

    assert error is None
    assert "wrote 1 log rows (1 were there); 0 could not be written" in out
    assert RequestLog.objects.filter(request_id="twice").count() == 1
    assert not spill_file.exists()


def test_it_says_so_when_there_is_nothing_to_replay(spill_file):
    out, _, error = replay()

    assert error is None and out.strip() == "no unwritten log rows"


def test_rows_left_by_an_interrupted_replay_are_replayed_with_new_ones(spill_file):
    spill_file.with_name(SPILL_FILE_NAME + ".replaying").write_bytes(line("interrupted"))
    spill_file.write_bytes(line("new"))

    replay()

    assert sorted(RequestLog.objects.values_list("request_id", flat=True)) == [
        "interrupted",
        "new",
    ]


def test_an_append_after_the_file_was_taken_goes_to_a_new_file(tmp_path):
    path, work = tmp_path / SPILL_FILE_NAME, tmp_path / "work"
    spill.append_lines(path, [b"one\n"])

    assert spill.take(path, work)
    spill.append_lines(path, [b"two\n"])

    assert work.read_bytes() == b"one\n"
    assert path.read_bytes() == b"two\n"
    assert not spill.take(tmp_path / "absent", work)

"""Write the log rows the background writer kept in its spill file, one row at a time.

The spill file (DATA_DIR/unwritten-log-rows.jsonl) holds rows the database
refused or could not take, and rows past the writer's queue bound. Each row
is inserted on its own, so a row the database still refuses (or a line that
is not a JSON row at all) is reported and kept, and never keeps the others out.
"""

from __future__ import annotations

from typing import Any

import orjson
from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from requestlog import spill
from requestlog.fast_insert import RowInserter
from requestlog.models import RequestLog
from requestlog.writer import clean_rows, describe_error, name_ids, price_rows, spill_path

DATETIME_FIELDS = ("started_at", "finished_at")
#: Suffix of the work file a replay moves the spill file to (kept if the replay is cut short).
WORK_SUFFIX = ".replaying"
#: Request ids looked up in one query for rows already in the log.
LOOKUP_CHUNK = 500


class Command(BaseCommand):
    help = (
        "Insert the log rows kept in DATA_DIR/unwritten-log-rows.jsonl, one by one. "
        "Rows written (or already in the log) are removed from the file; lines that "
        "cannot be written (not a JSON row, or refused by the database) are reported "
        "with their request ids and KEPT in the same file, for another try once fixed. "
        "Safe while the gateway runs: the file is moved aside first, and rows the "
        "gateway spills meanwhile go to a new file. Exits with an error if any row "
        "could not be written."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        path = spill_path()
        work = path.with_name(path.name + WORK_SUFFIX)
        spill.take(path, work)
        if not work.exists():
            self.stdout.write("no unwritten log rows")
            return
        written, present, kept, failures = replay(work.read_bytes().splitlines())
        if kept:
            spill.append_lines(path, kept)
        work.unlink()
        self.stdout.write(
            f"wrote {written} log rows ({present} were there); {len(kept)} could not be written"
        )
        if failures:
            for kind, request_ids in failures.items():
                self.stderr.write(f"  {len(request_ids)} x {kind}: {name_ids(request_ids)}")
            raise CommandError(f"{len(kept)} log rows could not be written; kept in {path}")


def replay(lines: list[bytes]) -> tuple[int, int, list[bytes], dict[str, list[str]]]:
    """Insert each line's row. Returns (written, already there, lines kept, failures by kind)."""
    inserter = RowInserter(RequestLog)
    kept: list[tuple[int, bytes]] = []  # (line number, line): kept in the file's order
    failures: dict[str, list[str]] = {}
    parsed: list[tuple[int, bytes, dict[str, Any]]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = parse_row(line)
        except ValueError as error:
            kept.append((number, line + b"\n"))
            failures.setdefault(describe_error(error), []).append(f"(line {number})")
            continue
        parsed.append((number, line, row))
    known = already_logged([row["request_id"] for _, _, row in parsed])
    written = present = 0
    for number, line, row in parsed:
        if row["request_id"] in known:
            present += 1
            continue
        clean_rows([row])
        price_rows([row])
        try:
            inserter.insert([row])
        except Exception as error:
            kept.append((number, line + b"\n"))
            failures.setdefault(describe_error(error), []).append(str(row["request_id"]))
            continue
        known.add(row["request_id"])  # a second copy of it in the file is "already there"
        written += 1
    return written, present, [line for _, line in sorted(kept)], failures


def parse_row(line: bytes) -> dict[str, Any]:
    """A spilled row with its times parsed; ValueError if the line is not one."""
    row = orjson.loads(line)  # orjson.JSONDecodeError is a ValueError
    if not isinstance(row, dict) or not isinstance(row.get("request_id"), str):
        raise ValueError("not a log row (no request_id)")
    for name in DATETIME_FIELDS:
        value = row.get(name)
        when = parse_datetime(value) if isinstance(value, str) else None
        if when is None:
            raise ValueError(f"not a log row ({name} is not a time)")
        row[name] = when
    return row


def already_logged(request_ids: list[str]) -> set[str]:
    known: set[str] = set()
    for start in range(0, len(request_ids), LOOKUP_CHUNK):
        chunk = request_ids[start : start + LOOKUP_CHUNK]
        known.update(
            RequestLog.objects.filter(request_id__in=chunk).values_list("request_id", flat=True)
        )
    return known

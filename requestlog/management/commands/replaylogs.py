"""Write log rows that the background writer had to keep in a file (database down)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils.dateparse import parse_datetime

from requestlog.models import RequestLog
from requestlog.writer import SPILL_FILE_NAME

DATETIME_FIELDS = ("started_at", "finished_at")


class Command(BaseCommand):
    help = "Insert the rows kept in DATA_DIR/unwritten-log-rows.jsonl, then remove the file."

    def handle(self, *args, **options) -> None:
        import orjson

        path = settings.DATA_DIR / SPILL_FILE_NAME
        if not path.exists():
            self.stdout.write("no unwritten log rows")
            return
        rows = []
        for line in path.read_bytes().splitlines():
            if not line.strip():
                continue
            row = orjson.loads(line)
            for name in DATETIME_FIELDS:
                row[name] = parse_datetime(row[name])
            rows.append(RequestLog(**row))
        with transaction.atomic():
            known = set(
                RequestLog.objects.filter(request_id__in=[r.request_id for r in rows]).values_list(
                    "request_id", flat=True
                )
            )
            RequestLog.objects.bulk_create([r for r in rows if r.request_id not in known])
        path.unlink()
        self.stdout.write(f"wrote {len(rows) - len(known)} log rows ({len(known)} were there)")

"""Delete request log rows older than the retention period, in small batches.

Each batch is a short transaction over an id range, so the log writer (and,
on SQLite, every other writer) waits at most one batch, never the whole prune.
This is the only way rows leave the log: the API and the dashboard have no
"delete everything".
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone

from requestlog.models import RequestLog

DEFAULT_BATCH = 5000


class Command(BaseCommand):
    help = (
        "Delete request log rows older than N days (default SWITCHBOARD_LOG_RETENTION_DAYS; "
        "0 keeps everything), in batches."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="Keep this many days (default: SWITCHBOARD_LOG_RETENTION_DAYS; 0 = keep all).",
        )
        parser.add_argument(
            "--batch", type=int, default=DEFAULT_BATCH, help="Rows per delete (default 5000)."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would go; delete nothing."
        )

    def handle(self, *args, **options) -> None:
        days = options["days"]
        if days is None:
            days = settings.SWITCHBOARD_LOG_RETENTION_DAYS
        batch = options["batch"]
        if days < 0:
            raise CommandError("--days must be 0 (keep everything) or more")
        if batch < 1:
            raise CommandError("--batch must be at least 1")
        if days == 0:
            self.stdout.write("retention is 0 days: keeping everything")
            return

        cutoff = timezone.now() - timedelta(days=days)
        old = RequestLog.objects.filter(started_at__lt=cutoff)
        if options["dry_run"]:
            self.stdout.write(
                f"would delete {old.count()} rows started before {cutoff:%Y-%m-%d %H:%M} UTC"
            )
            return

        deleted = 0
        after = 0
        while True:
            ids = list(old.filter(id__gt=after).order_by("id").values_list("id", flat=True)[:batch])
            if not ids:
                break
            with transaction.atomic():
                count, _ = old.filter(id__gte=ids[0], id__lte=ids[-1]).delete()
            deleted += count
            after = ids[-1]
            self.stdout.write(f"deleted {deleted} rows (ids up to {after})")
        self.stdout.write(
            f"done: deleted {deleted} rows started before {cutoff:%Y-%m-%d %H:%M} UTC"
        )
        refresh_planner_statistics(self.stdout)


def refresh_planner_statistics(out) -> None:
    """On SQLite, ANALYZE: the filter, conversation and stats queries need its statistics.

    Without them SQLite's planner reads a common model's rows through an index
    and sorts them all, and cannot skip-scan the percentile indexes; a few
    seconds at a million rows, so it runs here, where the log shrinks, and
    after seedlogs. PostgreSQL's autovacuum analyzes on its own.
    """
    if connection.vendor != "sqlite":
        return
    began = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    out.write(f"refreshed the query planner's statistics in {time.monotonic() - began:.1f} s")

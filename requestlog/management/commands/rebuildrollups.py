"""Recompute the hourly rollups from the request log, reinstalling their triggers.

The rollups (`UsageHour`, `LatencyHour`) are kept by database triggers, so
this is only needed when something bypassed or removed them: a database
restored without triggers, a migration that remade the log table on SQLite
(SQLite drops a table's triggers with it), or rows changed with the triggers
disabled. Runs in one transaction; writers wait for it (seconds per million
rows).
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from requestlog import rollup_sql
from requestlog.models import LatencyDay, LatencyHour, UsageDay, UsageHour


class Command(BaseCommand):
    help = "Reinstall the request log's rollup triggers and recompute the hourly rollups."

    def handle(self, *args, **options) -> None:
        began = time.monotonic()
        had_triggers = rollup_sql.triggers_installed(connection)
        with transaction.atomic():
            rollup_sql.drop_triggers(connection)
            rollup_sql.install_triggers(connection)
            rollup_sql.rebuild(connection)
        if not had_triggers:
            self.stdout.write("the rollup triggers were missing: installed them")
        counts = ", ".join(
            f"{model.objects.count()} {model._meta.verbose_name} rows"
            for model in (UsageHour, UsageDay, LatencyHour, LatencyDay)
        )
        self.stdout.write(f"rebuilt {counts} in {time.monotonic() - began:.1f} s")

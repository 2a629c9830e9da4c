"""System checks of the request log's database (`manage.py check --database default`)."""

from __future__ import annotations

from typing import Any

from django.core.checks import Warning
from django.db import DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor

from requestlog import rollup_sql


def rollup_triggers(databases: Any = None, **kwargs: Any) -> list[Warning]:
    """Warn when a migrated log table has lost the triggers that keep the rollups."""
    warnings = []
    for alias in databases or ():
        connection = connections[alias]
        try:
            applied = MigrationExecutor(connection).loader.applied_migrations
            if ("requestlog", "0006_usage_rollups") not in applied:
                continue
            installed = rollup_sql.triggers_installed(connection)
        except DatabaseError:
            continue  # no database to check yet
        if not installed:
            warnings.append(
                Warning(
                    "The request log's rollup triggers are missing: statistics will not "
                    "count new rows.",
                    hint="Run `python manage.py rebuildrollups`.",
                    id="requestlog.W001",
                )
            )
    return warnings

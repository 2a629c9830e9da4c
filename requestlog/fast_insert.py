"""Insert log rows with one prepared statement, skipping the ORM's per-row work.

`bulk_create` builds a model instance per row and compiles SQL for every
batch; under load that cost lands on the gateway's CPU (the writer thread
shares the process, and the GIL, with the request path). This builds the
INSERT once per connection vendor and converts each value with the field's
own `get_db_prep_save`, so what is stored is exactly what the ORM would store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction
from django.db.models import Field, Model


class RowInserter:
    def __init__(self, model: type[Model]) -> None:
        self.model = model
        self.fields: list[Field] = [f for f in model._meta.concrete_fields if not f.primary_key]
        self._defaults = {f.attname: f.get_default() for f in self.fields}
        self._sql: dict[str, str] = {}

    def _statement(self) -> str:
        vendor = connection.vendor
        if vendor not in self._sql:
            quote = connection.ops.quote_name
            columns = ", ".join(quote(f.column) for f in self.fields)
            marks = ", ".join(["%s"] * len(self.fields))
            self._sql[vendor] = (
                f"INSERT INTO {quote(self.model._meta.db_table)} ({columns}) VALUES ({marks})"
            )
        return self._sql[vendor]

    def insert(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert every row in one transaction; raises like the ORM on bad values."""
        unknown = set().union(*rows) - self._defaults.keys() if rows else set()
        if unknown:
            raise TypeError(f"unknown log fields: {sorted(unknown)}")
        params = [
            tuple(
                f.get_db_prep_save(
                    row[f.attname] if f.attname in row else self._default(f), connection
                )
                for f in self.fields
            )
            for row in rows
        ]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(self._statement(), params)

    def _default(self, field: Field) -> Any:
        value = self._defaults[field.attname]
        # Mutable defaults (list/dict for JSON fields) come fresh from the callable.
        return field.get_default() if isinstance(value, list | dict) else value

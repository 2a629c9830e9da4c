"""Saving one row from a file: create it, update it, or leave it alone, and say which."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Model

from routing.config_io.report import KindReport


def upsert(
    report: KindReport,
    label: str,
    row: Model | None,
    create: Callable[..., Model],
    wanted: dict[str, Any],
) -> Model:
    """Save `row` only when a field differs, so unchanged rows don't bump the config version."""
    if row is None:
        row = create(**wanted)
        row.save()
        report.created.append(label)
        return row
    if any(getattr(row, key) != value for key, value in wanted.items()):
        for key, value in wanted.items():
            setattr(row, key, value)
        row.save()
        report.updated.append(label)
    else:
        report.unchanged.append(label)
    return row

"""manage.py prunelogs: old rows go in batches, recent ones stay, 0 keeps everything."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from requestlog.models import RequestLog
from tests.logrows import make_row

pytestmark = pytest.mark.django_db


def prune(*args: str) -> str:
    out = StringIO()
    call_command("prunelogs", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def aged_rows() -> dict[str, list[str]]:
    """Rows 1, 5, 10 and 40 days old (ids not in time order, as after a replay)."""
    now = timezone.now()
    ages = [40, 1, 10, 40, 5, 40, 10]
    rows = [make_row(started_at=now - timedelta(days=age)) for age in ages]
    return {
        "older_than_7": [r.request_id for r, age in zip(rows, ages, strict=True) if age > 7],
        "within_7": [r.request_id for r, age in zip(rows, ages, strict=True) if age <= 7],
    }


def remaining() -> set[str]:
    return set(RequestLog.objects.values_list("request_id", flat=True))


def test_it_deletes_rows_older_than_the_days_given(aged_rows):
    output = prune("--days", "7")

    assert remaining() == set(aged_rows["within_7"])
    assert "done: deleted 5 rows" in output


def test_it_deletes_in_batches_and_says_how_far_it_got(aged_rows):
    output = prune("--days", "7", "--batch", "2")

    assert remaining() == set(aged_rows["within_7"])
    progress = [line for line in output.splitlines() if line.startswith("deleted ")]
    assert [line.split(" rows")[0] for line in progress] == [
        "deleted 2",
        "deleted 4",
        "deleted 5",
    ]


def test_it_defaults_to_the_retention_setting(aged_rows, settings):
    settings.SWITCHBOARD_LOG_RETENTION_DAYS = 30

    prune()

    assert len(remaining()) == 4  # the three 40-day-old rows are gone


def test_a_retention_of_zero_keeps_everything(aged_rows, settings):
    settings.SWITCHBOARD_LOG_RETENTION_DAYS = 0

    output = prune()

    assert len(remaining()) == 7
    assert "keeping everything" in output


def test_a_dry_run_only_counts(aged_rows):
    output = prune("--days", "7", "--dry-run")

    assert len(remaining()) == 7
    assert "would delete 5 rows" in output


@pytest.mark.parametrize("args", [("--days", "-1"), ("--batch", "0")])
def test_it_refuses_nonsense_arguments(args):
    with pytest.raises(CommandError):
        prune(*args)

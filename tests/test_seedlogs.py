"""manage.py seedlogs: realistic fake rows for scale tests, and the API timings on them."""

from __future__ import annotations

import importlib
from datetime import timedelta
from io import StringIO

import orjson
import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, Q, Sum
from django.utils import timezone

from requestlog import pricing, rollup_sql
from requestlog.management.commands.seedlogs import MEASURE_USER, SEED_PREFIX
from requestlog.models import LatencyDay, RequestLog, UsageDay, UsageHour

pytestmark = pytest.mark.django_db

seed_migration = importlib.import_module("requestlog.migrations.0004_seed_model_prices")

ROWS = 2000


@pytest.fixture
def seeded() -> str:
    # A transactional test elsewhere may have flushed the prices the migration seeded.
    seed_migration.seed_prices(apps, None)
    pricing.price_table.invalidate()
    out = StringIO()
    call_command(
        "seedlogs", "--rows", str(ROWS), "--days", "2", "--batch", "500", "--seed", "7", stdout=out
    )
    return out.getvalue()


def test_it_inserts_the_rows_asked_for_within_the_days_asked_for(seeded):
    rows = RequestLog.objects.all()
    now = timezone.now()

    assert rows.count() == ROWS
    assert not rows.exclude(request_id__startswith=SEED_PREFIX).exists()
    assert not rows.filter(started_at__lt=now - timedelta(days=2, minutes=1)).exists()
    assert not rows.filter(started_at__gt=now).exists()
    assert f"inserted {ROWS} rows" in seeded


def test_the_rollups_count_the_seeded_rows_and_keep_counting(seeded):
    assert rollup_sql.triggers_installed(connection)
    assert UsageDay.objects.aggregate(n=Sum("requests"))["n"] == ROWS
    assert UsageHour.objects.aggregate(n=Sum("requests"))["n"] == ROWS
    assert LatencyDay.objects.aggregate(n=Sum("count"))["n"] == ROWS
    RequestLog.objects.filter(id__in=RequestLog.objects.values("id")[:10]).delete()
    assert UsageDay.objects.aggregate(n=Sum("requests"))["n"] == ROWS - 10


def test_the_rows_look_like_real_traffic(seeded):
    rows = RequestLog.objects.all()
    counts = rows.aggregate(
        providers=Count("provider", distinct=True),
        models=Count("target_model", distinct=True),
        subagents=Count("subagent", distinct=True),
        routes=Count("route", distinct=True),
        conversations=Count("conversation_key", distinct=True),
        errors=Count("id", filter=Q(status__gte=400)),
        streams=Count("id", filter=Q(stream=True)),
        priced=Count("cost_usd"),
    )

    assert counts["providers"] >= 4
    assert counts["models"] >= 8
    assert counts["subagents"] >= 4
    assert counts["routes"] >= 4
    assert 20 <= counts["conversations"] < ROWS / 2
    assert 0.02 * ROWS < counts["errors"] < 0.15 * ROWS
    assert 0.5 * ROWS < counts["streams"] < ROWS
    assert counts["priced"] > 0.5 * ROWS  # the seeded prices cover most models
    row = rows.filter(status=200, endpoint="messages").first()
    assert orjson.loads(row.request_body)["messages"][0]["role"] == "user"
    assert row.latency_ms > 0 and row.input_tokens > 0


def test_it_times_the_api_and_cleans_up_its_user(seeded):
    out = StringIO()

    call_command("seedlogs", "--rows", "0", "--measure", "--runs", "1", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0] == f"{ROWS} rows; median of 1 runs:"
    timed = [line for line in lines[1:] if " ms  " in line]
    labels = " ".join(timed)
    for label in ("requests list", "request detail", "conversations", "stats 7d (default)"):
        assert label in labels
    assert not User.objects.filter(username=MEASURE_USER).exists()

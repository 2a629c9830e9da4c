"""/api/stats/ (numbers are in test_stats.py) and the OpenAPI schema."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.logrows import T0, make_row
from tests.operators import log_reader_client as staff_client

pytestmark = pytest.mark.django_db

WINDOW = "since=2026-01-10T00:00:00Z&until=2026-01-11T00:00:00Z"


@pytest.fixture
def api():
    return staff_client()


@pytest.fixture
def rows():
    make_row(
        started_at=T0,
        provider="anthropic",
        latency_ms=100,
        ttfb_ms=10,
        input_tokens=5,
        cost_usd=Decimal("0.5"),
    )
    make_row(
        started_at=T0 + timedelta(hours=1),
        provider="openai",
        latency_ms=300,
        status=529,
        outcome="upstream_error",
        cost_usd=Decimal("0.25"),
    )
    make_row(started_at=T0 + timedelta(days=2), provider="openai")  # outside the window


def test_it_returns_totals_percentiles_and_an_hourly_series(api, rows):
    body = api.get(f"/api/stats/?{WINDOW}").json()

    assert body["bucket"] == "hour"  # a day: hourly by default
    assert body["group_by"] is None
    assert body["totals"]["requests"] == 2
    assert body["totals"]["errors"] == 1
    assert body["totals"]["error_rate"] == 0.5
    assert body["totals"]["input_tokens"] == 5
    assert body["totals"]["cost_usd"] == "0.75000000"
    assert body["totals"]["latency_ms"] == {"p50": 200.0, "p95": 290.0, "p99": 298.0}
    assert body["totals"]["ttfb_ms"] == {"p50": 10.0, "p95": 10.0, "p99": 10.0}
    assert len(body["series"]) == 24
    assert body["series"][12] == {
        "start": "2026-01-10T12:00:00Z",
        "requests": 1,
        "errors": 0,
        "cancelled": 0,
        "error_rate": 0.0,
        "input_tokens": 5,
        "output_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation_input_tokens": 0,
        "cost_usd": "0.50000000",
    }
    assert body["groups"] == []


def test_it_breaks_down_by_the_group_asked_for(api, rows):
    body = api.get(f"/api/stats/?{WINDOW}&bucket=day&group_by=provider").json()

    assert body["bucket"] == "day"
    assert [(g["key"], g["totals"]["requests"]) for g in body["groups"]] == [
        ("anthropic", 1),
        ("openai", 1),
    ]
    assert body["groups"][1]["series"] == [
        {
            "start": "2026-01-10T00:00:00Z",
            "requests": 1,
            "errors": 1,
            "cancelled": 0,
            "error_rate": 1.0,
            "input_tokens": 0,
            "output_tokens": 0,
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
            "cost_usd": "0.25000000",
        }
    ]


def test_it_applies_the_request_filters(api, rows):
    body = api.get(f"/api/stats/?{WINDOW}&provider=openai&has_error=true").json()

    assert body["totals"]["requests"] == 1
    assert body["totals"]["latency_ms"]["p50"] == 300.0


def test_provider_model_subagent_and_route_filters_read_the_rollups(api, rows):
    make_row(
        started_at=T0 + timedelta(minutes=30),
        provider="openai",
        requested_model="gpt-4.1",
        target_model="gpt-4.1-mini",
        latency_ms=1000,
        ttfb_ms=100,
    )

    with CaptureQueriesContext(connection) as queries:
        by_provider = api.get(f"/api/stats/?{WINDOW}&provider=openai").json()
    # A window of whole hours is read from the rollups alone, never from the log.
    assert queries.captured_queries
    assert not [q["sql"] for q in queries if "requestlog_requestlog" in q["sql"]]
    by_requested_model = api.get(f"/api/stats/?{WINDOW}&model=gpt-4.1").json()
    by_target_model = api.get(f"/api/stats/?{WINDOW}&model=gpt-4.1-mini&route=default").json()

    assert by_provider["totals"]["requests"] == 2
    assert by_provider["totals"]["errors"] == 1
    assert by_provider["totals"]["cost_usd"] == "0.25000000"
    # From histograms: within a bin (9%) of the exact 650 and 993 ms.
    latency = by_provider["totals"]["latency_ms"]
    assert latency["p50"] == pytest.approx(650, rel=0.1)
    assert latency["p99"] == pytest.approx(993, rel=0.1)
    assert by_provider["totals"]["ttfb_ms"]["p50"] == pytest.approx(100, rel=0.1)
    assert by_requested_model["totals"]["requests"] == 1
    assert by_target_model["totals"]["requests"] == 1
    assert api.get(f"/api/stats/?{WINDOW}&subagent=nobody").json()["totals"]["requests"] == 0


def test_it_defaults_to_the_last_seven_days_by_day(api):
    make_row(started_at=timezone.now() - timedelta(days=6))
    make_row(started_at=timezone.now() - timedelta(days=8))

    body = api.get("/api/stats/").json()

    assert body["bucket"] == "day"
    assert body["totals"]["requests"] == 1
    assert len(body["series"]) == 8  # 7 days from mid-day: 8 calendar days touched


@pytest.mark.parametrize(
    "query",
    [
        "bucket=week",
        "group_by=colour",
        "since=2026-01-11T00:00:00Z&until=2026-01-10T00:00:00Z",
        "since=soon",
        "since=2025-01-01T00:00:00Z&until=2026-01-01T00:00:00Z&bucket=hour",
        "status=9xx",
    ],
)
def test_it_refuses_bad_parameters(api, query):
    assert api.get(f"/api/stats/?{query}").status_code == 400


def test_the_openapi_schema_generates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))

    schema = out.read_text()
    for path in ("/api/requests/", "/api/conversations/", "/api/stats/", "/api/prices/"):
        assert f"{path}:" in schema
    assert "encrypted_secret" not in schema

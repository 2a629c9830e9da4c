"""requestlog.stats against numbers worked out by hand (runs on SQLite and PostgreSQL)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from requestlog import stats
from requestlog.models import RequestLog
from tests.logrows import make_row

pytestmark = pytest.mark.django_db

DAY = datetime(2026, 1, 10, tzinfo=UTC)
SINCE, UNTIL = DAY, DAY + timedelta(days=1)


def at(hours: float) -> datetime:
    return DAY + timedelta(hours=hours)


@pytest.fixture
def day_of_rows() -> None:
    """Five rows in the window, two just outside it."""
    make_row(  # 00:10
        started_at=at(1 / 6),
        provider="anthropic",
        target_model="claude-sonnet-4-5",
        subagent="",
        route="default",
        latency_ms=100,
        ttfb_ms=50,
        input_tokens=10,
        output_tokens=20,
        cache_read_input_tokens=100,
        cache_creation_input_tokens=5,
        cost_usd=Decimal("0.00100000"),
    )
    make_row(  # 00:50, rate limited
        started_at=at(5 / 6),
        provider="anthropic",
        target_model="claude-sonnet-4-5",
        route="default",
        status=429,
        outcome="upstream_error",
        latency_ms=200,
        ttfb_ms=None,
    )
    make_row(  # 01:05
        started_at=at(1 + 1 / 12),
        provider="openai",
        requested_model="claude-sonnet-4-5",
        target_model="gpt-5",
        subagent="code-reviewer",
        route="subagent",
        latency_ms=300,
        ttfb_ms=80,
        input_tokens=30,
        output_tokens=40,
        cost_usd=Decimal("0.00200000"),
    )
    make_row(  # 03:30, cancelled by the client
        started_at=at(3.5),
        provider="openai",
        target_model="gpt-5",
        route="rule",
        status=499,
        outcome="cancelled",
        latency_ms=400,
        ttfb_ms=120,
        input_tokens=7,
    )
    make_row(  # 03:59:59.999999, failed before any provider
        started_at=at(4) - timedelta(microseconds=1),
        provider="",
        requested_model="claude-opus-4-5",
        target_model="",
        route="",
        status=500,
        outcome="gateway_error",
        latency_ms=1000,
        ttfb_ms=None,
    )
    make_row(started_at=UNTIL, latency_ms=5, input_tokens=1000)  # until is exclusive
    make_row(started_at=SINCE - timedelta(microseconds=1), latency_ms=5, input_tokens=1000)


def test_it_totals_the_window(day_of_rows):
    result = stats.compute_stats(since=SINCE, until=UNTIL, bucket="hour")
    totals = result.totals

    assert (totals.requests, totals.errors, totals.cancelled) == (5, 2, 1)
    assert totals.error_rate == pytest.approx(0.4)
    assert (totals.input_tokens, totals.output_tokens) == (47, 60)
    assert (totals.cache_read_input_tokens, totals.cache_creation_input_tokens) == (100, 5)
    assert totals.cost_usd == Decimal("0.00300000")


def test_it_interpolates_latency_and_ttfb_percentiles(day_of_rows):
    result = stats.compute_stats(since=SINCE, until=UNTIL, bucket="hour")

    # latency 100 200 300 400 1000: p95 at position 3.8 -> 400 + 0.8 * 600
    assert result.latency_ms.as_dict() == {"p50": 300.0, "p95": 880.0, "p99": 976.0}
    # ttfb 50 80 120 (nulls ignored): p95 at 1.9 -> 80 + 0.9 * 40
    assert result.ttfb_ms.as_dict() == {
        "p50": 80.0,
        "p95": pytest.approx(116.0),
        "p99": pytest.approx(119.2),
    }


def test_it_fills_every_hour_of_the_series(day_of_rows):
    result = stats.compute_stats(since=SINCE, until=UNTIL, bucket="hour")
    by_hour = {point.start.hour: point.counts for point in result.series}

    assert [point.start for point in result.series] == [at(h) for h in range(24)]
    assert (by_hour[0].requests, by_hour[0].errors, by_hour[0].cost_usd) == (
        2,
        1,
        Decimal("0.00100000"),
    )
    assert (by_hour[1].requests, by_hour[1].output_tokens) == (1, 40)
    assert (by_hour[3].requests, by_hour[3].errors, by_hour[3].cancelled) == (2, 1, 1)
    assert by_hour[2].requests == 0
    assert sum(c.requests for c in by_hour.values()) == 5


def test_it_buckets_by_utc_day(day_of_rows):
    result = stats.compute_stats(since=SINCE - timedelta(days=1), until=UNTIL, bucket="day")

    assert [(p.start, p.counts.requests) for p in result.series] == [
        (SINCE - timedelta(days=1), 1),  # the row one microsecond before midnight
        (SINCE, 5),
    ]


def test_a_window_that_starts_mid_hour_counts_only_from_there(day_of_rows):
    result = stats.compute_stats(since=at(0.5), until=at(3.75), bucket="hour")

    assert result.series[0].start == at(0)  # the bucket holding `since`
    assert [p.counts.requests for p in result.series] == [1, 1, 0, 1]
    assert result.totals.requests == 3
    assert result.latency_ms.as_dict() == {"p50": 300.0, "p95": 390.0, "p99": 398.0}


@pytest.mark.parametrize(
    ("group_by", "expected"),
    [
        ("provider", {"anthropic": 2, "openai": 2, "": 1}),
        ("model", {"claude-sonnet-4-5": 2, "gpt-5": 2, "claude-opus-4-5": 1}),
        ("subagent", {"": 4, "code-reviewer": 1}),
        ("route", {"default": 2, "subagent": 1, "rule": 1, "": 1}),
    ],
)
def test_it_breaks_totals_and_series_down(day_of_rows, group_by, expected):
    result = stats.compute_stats(since=SINCE, until=UNTIL, bucket="hour", group_by=group_by)

    assert {g.key: g.totals.requests for g in result.groups} == expected
    for group in result.groups:
        assert len(group.series) == 24
        assert sum(p.counts.requests for p in group.series) == group.totals.requests
    assert result.totals.requests == 5


def test_a_provider_breakdown_keeps_errors_and_cost_apart(day_of_rows):
    result = stats.compute_stats(since=SINCE, until=UNTIL, bucket="day", group_by="provider")
    groups = {g.key: g.totals for g in result.groups}

    assert (groups["anthropic"].errors, groups["anthropic"].cost_usd) == (1, Decimal("0.001"))
    assert (groups["openai"].cancelled, groups["openai"].cost_usd) == (1, Decimal("0.002"))
    assert groups[""].errors == 1


def test_filtered_rows_give_filtered_stats(day_of_rows):
    rows = RequestLog.objects.filter(provider="openai")

    result = stats.compute_stats(rows, since=SINCE, until=UNTIL, bucket="hour")

    assert (result.totals.requests, result.totals.input_tokens) == (2, 37)
    assert result.latency_ms.as_dict() == {"p50": 350.0, "p95": 395.0, "p99": 399.0}
    assert result.ttfb_ms.as_dict() == {"p50": 100.0, "p95": 118.0, "p99": 119.6}


def test_an_empty_window_gives_zeros_and_no_percentiles():
    result = stats.compute_stats(since=SINCE, until=UNTIL, bucket="hour")

    assert result.totals.requests == 0
    assert result.totals.cost_usd == Decimal(0)
    assert result.totals.error_rate == 0.0
    assert result.latency_ms.as_dict() == {"p50": None, "p95": None, "p99": None}
    assert len(result.series) == 24


def test_it_refuses_too_many_buckets():
    with pytest.raises(ValueError, match="buckets"):
        stats.compute_stats(since=SINCE, until=SINCE + timedelta(days=400), bucket="hour")


def reference_percentile(values: list[int], quantile: float) -> float:
    """PostgreSQL's percentile_cont, in Python."""
    ordered = sorted(values)
    position = quantile * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@pytest.mark.parametrize("size", [1, 2, 7, 100, 101])
def test_percentiles_match_percentile_cont_from_either_end(size):
    rng = random.Random(size)
    values = [rng.choice([rng.randint(0, 50), rng.randint(0, 5000)]) for _ in range(size)]
    for index, value in enumerate(values):
        make_row(started_at=at(index / 1000), latency_ms=value)
    make_row(started_at=UNTIL + timedelta(hours=1), latency_ms=999_999)  # outside
    quantiles = (0.0, 0.1, 0.25, 0.5, 0.9, 0.95, 0.99, 1.0)
    expected = {q: pytest.approx(reference_percentile(values, q), abs=1e-3) for q in quantiles}

    whole = stats.window_percentiles("latency_ms", SINCE, UNTIL, quantiles)
    via_rows = stats.percentiles(
        stats.in_window(RequestLog.objects.all(), SINCE, UNTIL), "latency_ms", quantiles
    )

    assert whole.values == expected
    assert via_rows.values == expected


def test_aggregate_series_counts_only_the_given_window(day_of_rows):
    by_key = stats.aggregate_series(
        RequestLog.objects.all(), "day", "provider", since=at(1), until=UNTIL
    )

    assert {key: counts.requests for key, counts in by_key.items()} == {
        (SINCE, "openai"): 2,
        (SINCE, ""): 1,
    }

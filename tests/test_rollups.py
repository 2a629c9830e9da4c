"""The rollups (UsageHour/Day, LatencyHour/Day) stay equal to sums over the log.

They are kept by database triggers (requestlog/rollup_sql.py), so these tests
write the log the ways the gateway and operators do (ORM saves, bulk inserts,
updates, prunelogs, raw SQL) and compare the rollups with sums computed here
from the rows themselves. They run on SQLite and on PostgreSQL (CI runs both).
"""

from __future__ import annotations

import io
import math
import random
import threading
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from requestlog import checks, histograms, rollup_sql, stats
from requestlog.models import LatencyDay, LatencyHour, RequestLog, UsageDay, UsageHour
from tests.logrows import T0, make_row

pytestmark = pytest.mark.django_db(transaction=True)

PROVIDERS = ("anthropic", "openai", "")
MODELS = ("claude-sonnet-4-5", "gpt-4.1", "")
SUBAGENTS = ("", "code-reviewer", "planner")
OUTCOMES = ("completed", "completed", "client_error", "upstream_error", "cancelled")


def random_rows(count: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    for _ in range(count):
        make_row(
            started_at=T0 + timedelta(minutes=rng.randrange(0, 3 * 24 * 60), seconds=rng.random()),
            provider=rng.choice(PROVIDERS),
            requested_model=rng.choice(MODELS[:2]),
            target_model=rng.choice(MODELS),
            subagent=rng.choice(SUBAGENTS),
            route=rng.choice(("default", "rule", "subagent")),
            outcome=rng.choice(OUTCOMES),
            latency_ms=rng.choice((0, 1, 3, 70, 250, 999, 1000, 12_345, rng.randrange(1, 90_000))),
            ttfb_ms=rng.choice((None, 5, 40, 800)),
            input_tokens=rng.randrange(0, 5000),
            output_tokens=rng.randrange(0, 900),
            cache_read_input_tokens=rng.randrange(0, 20_000),
            cache_creation_input_tokens=rng.randrange(0, 300),
            cost_usd=rng.choice((None, Decimal("0.00012345"), Decimal("1.5"))),
        )


PERIODS = {"hour": (UsageHour, LatencyHour), "day": (UsageDay, LatencyDay)}
SUMMED = (
    "requests",
    "errors",
    "cancelled",
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "cost_usd",
    "ttfb_count",
    "latency_bins",
    "ttfb_bins",
)


def period_start(row: RequestLog, period: str) -> datetime:
    start = row.started_at.replace(minute=0, second=0, microsecond=0)
    return start.replace(hour=0) if period == "day" else start


def usage_from_log(period: str) -> dict[tuple, dict[str, object]]:
    """What the usage rollup of `period` should hold, computed here from the log rows."""
    expected: dict[tuple, dict[str, object]] = defaultdict(Counter)
    for row in RequestLog.objects.all():
        key = (
            period_start(row, period),
            row.provider,
            row.requested_model,
            row.target_model,
            row.subagent,
            row.route,
        )
        sums = expected[key]
        sums["requests"] += 1
        sums["errors"] += row.outcome in ("client_error", "upstream_error", "gateway_error")
        sums["cancelled"] += row.outcome == "cancelled"
        sums["input_tokens"] += row.input_tokens
        sums["output_tokens"] += row.output_tokens
        sums["cache_read_input_tokens"] += row.cache_read_input_tokens
        sums["cache_creation_input_tokens"] += row.cache_creation_input_tokens
        sums["cost_usd"] += row.cost_usd or Decimal(0)
        sums["ttfb_count"] += row.ttfb_ms is not None
        sums.setdefault("latency_bins", Counter())[str(histograms.bin_of(row.latency_ms))] += 1
        if row.ttfb_ms is not None:
            sums.setdefault("ttfb_bins", Counter())[str(histograms.bin_of(row.ttfb_ms))] += 1
    return {
        key: {name: dict(sums.get(name) or {}) if "bins" in name else sums[name] for name in SUMMED}
        for key, sums in expected.items()
    }


def usage_in_rollup(period: str) -> dict[tuple, dict[str, object]]:
    model = PERIODS[period][0]
    return {
        (row.start, row.provider, row.requested_model, row.target_model, row.subagent, row.route): {
            name: getattr(row, name) for name in SUMMED
        }
        for row in model.objects.all()
    }


def latency_from_log(period: str) -> Counter:
    return Counter(
        (period_start(row, period), histograms.bin_of(row.latency_ms))
        for row in RequestLog.objects.all()
    )


def latency_in_rollup(period: str) -> Counter:
    model = PERIODS[period][1]
    return Counter({(row.start, row.bin): row.count for row in model.objects.all()})


def assert_rollups_match_the_log() -> None:
    for period in PERIODS:
        expected = usage_from_log(period)
        found = usage_in_rollup(period)
        assert set(found) == set(expected), period
        for key, sums in expected.items():
            # SQLite sums decimals as floats: compare cost to the stored 8 places.
            assert found[key]["cost_usd"] == pytest.approx(sums["cost_usd"], abs=Decimal("1e-8"))
            assert {k: v for k, v in found[key].items() if k != "cost_usd"} == {
                k: v for k, v in sums.items() if k != "cost_usd"
            }
        assert latency_in_rollup(period) == latency_from_log(period), period


def all_rollups() -> tuple:
    return tuple((usage_in_rollup(p), latency_in_rollup(p)) for p in PERIODS)


def test_inserted_rows_are_summed_per_hour_and_key():
    random_rows(150)
    assert UsageHour.objects.count() > 10  # the rows spread over many keys
    assert UsageDay.objects.count() < UsageHour.objects.count()
    assert_rollups_match_the_log()


def test_updates_move_rows_between_keys_and_deletes_take_them_away():
    random_rows(120, seed=2)
    RequestLog.objects.filter(provider="openai").update(provider="groq", latency_ms=5)
    RequestLog.objects.filter(outcome="cancelled").update(
        started_at=T0 + timedelta(days=1), outcome="completed"
    )
    RequestLog.objects.filter(subagent="planner").delete()
    assert_rollups_match_the_log()

    RequestLog.objects.all().delete()
    # Keys whose last row went are removed, not left at zero.
    for usage, latency in PERIODS.values():
        assert usage.objects.count() == 0
        assert latency.objects.count() == 0


def test_bulk_and_raw_sql_inserts_are_counted():
    make_row()
    template = RequestLog.objects.get()
    template.pk = None
    copies = []
    for index in range(40):
        copy = RequestLog(
            **{f.attname: getattr(template, f.attname) for f in RequestLog._meta.fields}
        )
        copy.pk = None
        copy.request_id = f"sbreq_bulk{index}"
        copy.started_at = T0 + timedelta(minutes=index * 7)
        copy.latency_ms = index * 100
        copies.append(copy)
    RequestLog.objects.bulk_create(copies)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {RequestLog._meta.db_table} SET output_tokens = output_tokens + 3 "
            "WHERE latency_ms > 1000"
        )
    assert_rollups_match_the_log()


def test_prunelogs_takes_pruned_rows_out_of_the_rollups():
    now = timezone.now()
    for days in (1, 2, 40, 41, 60):
        make_row(started_at=now - timedelta(days=days), latency_ms=days * 10)
    call_command("prunelogs", days=30, batch=2, stdout=io.StringIO())

    assert RequestLog.objects.count() == 2
    assert_rollups_match_the_log()
    assert sum(UsageHour.objects.values_list("requests", flat=True)) == 2


def test_a_rolled_back_insert_leaves_no_trace():
    make_row()
    with pytest.raises(RuntimeError), transaction.atomic():
        make_row(started_at=T0 + timedelta(hours=3))
        raise RuntimeError("the writer's batch failed")
    assert_rollups_match_the_log()
    assert UsageHour.objects.get().requests == 1


def test_rebuild_recomputes_what_the_triggers_keep():
    random_rows(60, seed=3)
    kept = all_rollups()
    UsageHour.objects.all().delete()
    UsageDay.objects.update(requests=7)
    LatencyHour.objects.create(start=T0, bin=3, count=99)  # drift the rebuild must correct

    call_command("rebuildrollups", stdout=io.StringIO())

    assert all_rollups() == kept


def test_rebuildrollups_reinstalls_lost_triggers():
    """SQLite drops a table's triggers when a migration remakes the table."""
    assert checks.rollup_triggers(databases=["default"]) == []
    rollup_sql.drop_triggers(connection)
    make_row()
    assert UsageHour.objects.count() == 0
    assert not rollup_sql.triggers_installed(connection)
    assert [w.id for w in checks.rollup_triggers(databases=["default"])] == ["requestlog.W001"]

    call_command("rebuildrollups", stdout=io.StringIO())

    assert rollup_sql.triggers_installed(connection)
    assert checks.rollup_triggers(databases=["default"]) == []
    make_row(started_at=T0 + timedelta(hours=1))
    assert_rollups_match_the_log()


def test_the_migrations_leave_the_triggers_installed():
    assert rollup_sql.triggers_installed(connection)


# --- reading them ----------------------------------------------------------------------------
@pytest.mark.parametrize("group_by", [None, *stats.GROUP_BY_CHOICES])
@pytest.mark.parametrize("bucket", ["hour", "day"])
def test_stats_from_the_rollup_equal_stats_from_the_log(group_by, bucket):
    random_rows(300, seed=4)
    # Noon on day 1 to the early hours of day 3, with mid-hour edges: daily
    # buckets read a whole day, hours either side of it and minutes from the log.
    since, until = T0 + timedelta(minutes=17), T0 + timedelta(days=1, hours=17, minutes=41)

    for dimensions in ({}, {"provider": "openai"}, {"model": "gpt-4.1"}, {"subagent": ""}):
        from_rollup = stats.compute_stats(
            since=since, until=until, bucket=bucket, group_by=group_by, dimensions=dimensions
        )
        log = RequestLog.objects.filter(stats.dimension_filter(dimensions))
        from_log = stats.compute_stats(
            log, since=since, until=until, bucket=bucket, group_by=group_by
        )
        assert from_rollup.totals.requests > 0
        assert from_rollup.totals == from_log.totals
        assert from_rollup.series == from_log.series
        assert from_rollup.groups == from_log.groups
        if dimensions:  # from the rollups' histograms
            window = stats.in_window(log, since, until)
            latencies = sorted(window.values_list("latency_ms", flat=True))
            ttfbs = sorted(window.exclude(ttfb_ms=None).values_list("ttfb_ms", flat=True))
            assert_within_bins(from_rollup.latency_ms, latencies)
            assert_within_bins(from_rollup.ttfb_ms, ttfbs)
        else:  # exact
            assert from_rollup.latency_ms == from_log.latency_ms
            assert from_rollup.ttfb_ms == from_log.ttfb_ms


def test_a_window_is_read_as_whole_days_whole_hours_and_minutes():
    day1 = datetime(2026, 1, 1, tzinfo=UTC)
    at = lambda days, hours, minutes=0: day1 + timedelta(days=days, hours=hours, minutes=minutes)  # noqa: E731

    assert stats.window_pieces(at(0, 10, 20), at(3, 5, 40), ("day", "hour")) == [
        (None, at(0, 10, 20), at(0, 11)),
        ("hour", at(0, 11), at(1, 0)),
        ("day", at(1, 0), at(3, 0)),
        ("hour", at(3, 0), at(3, 5)),
        (None, at(3, 5), at(3, 5, 40)),
    ]
    assert stats.window_pieces(at(0, 10, 20), at(3, 5, 40), ("hour",))[1] == (
        "hour",
        at(0, 11),
        at(3, 5),
    )
    assert stats.window_pieces(at(0, 10), at(0, 12), ("day", "hour")) == [
        ("hour", at(0, 10), at(0, 12))
    ]
    assert stats.window_pieces(at(0, 10, 5), at(0, 10, 50), ("day", "hour")) == [
        (None, at(0, 10, 5), at(0, 10, 50))
    ]
    assert stats.window_pieces(at(1, 0), at(1, 0), ("day", "hour")) == []


def assert_within_bins(found: histograms.Percentiles, values: list[int]) -> None:
    """Each percentile lies within the bins of the two values percentile_cont interpolates."""
    for quantile in stats.DEFAULT_QUANTILES:
        position = quantile * (len(values) - 1)
        below, above = values[math.floor(position)], values[math.ceil(position)]
        low, _ = histograms.bin_bounds(histograms.bin_of(below))
        _, high = histograms.bin_bounds(histograms.bin_of(above))
        assert low <= found[quantile] <= high, (quantile, below, above)
        exact = below + (above - below) * (position - math.floor(position))
        assert found[quantile] == pytest.approx(exact, rel=0.1, abs=1)  # one bin


@pytest.mark.parametrize("seed", range(5))
def test_histogram_percentiles_are_within_the_bins_of_the_exact_ones(seed):
    rng = random.Random(seed)
    values = sorted(int(rng.lognormvariate(7, 1.2)) for _ in range(rng.randrange(1, 400)))
    histogram = Counter(histograms.bin_of(value) for value in values)

    assert_within_bins(histograms.histogram_percentiles(histogram), values)


def test_an_empty_histogram_has_no_percentiles():
    assert histograms.histogram_percentiles({}).as_dict() == {"p50": None, "p95": None, "p99": None}


def test_latency_series_reads_each_buckets_histogram():
    for minute, latency in ((5, 100), (10, 200), (20, 400), (70, 5000)):
        make_row(started_at=T0 + timedelta(minutes=minute), latency_ms=latency)

    series = stats.latency_percentile_series(T0, T0 + timedelta(hours=3), "hour")

    assert set(series) == {T0, T0 + timedelta(hours=1)}
    first, second = series[T0], series[T0 + timedelta(hours=1)]
    assert first[0.5] == pytest.approx(200, rel=0.05)
    assert first[0.99] == pytest.approx(400, rel=0.05)
    assert second[0.5] == pytest.approx(5000, rel=0.05)
    daily = stats.latency_percentile_series(
        T0 - timedelta(hours=12), T0 + timedelta(hours=12), "day"
    )
    assert list(daily) == [T0.replace(hour=0)]
    assert daily[T0.replace(hour=0)][0.5] == pytest.approx(300, rel=0.35)  # between 200 and 400


# --- concurrent writers ----------------------------------------------------------------------
def test_concurrent_writers_keep_the_rollups_exact():
    """Two log writers (two gateway workers) insert batches for the same keys at once.

    On PostgreSQL their statement triggers update the same rollup rows; taking
    them in key order must neither deadlock nor lose a count.
    """
    from django.db import close_old_connections

    from requestlog.fast_insert import RowInserter

    template = {
        "finished_at": T0,
        "endpoint": "messages",
        "method": "POST",
        "path": "/v1/messages",
        "status": 200,
        "outcome": "completed",
        "route": "default",
    }
    failures: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            inserter = RowInserter(RequestLog)
            rng = random.Random(worker)
            for batch in range(15):
                rows = [
                    {
                        **template,
                        "request_id": f"sbreq_w{worker}_{batch}_{index}",
                        "started_at": T0 + timedelta(minutes=rng.randrange(0, 180)),
                        "provider": rng.choice(PROVIDERS),
                        "requested_model": rng.choice(MODELS[:2]),
                        "subagent": rng.choice(SUBAGENTS),
                        "latency_ms": rng.randrange(1, 5000),
                        "input_tokens": rng.randrange(0, 100),
                    }
                    for index in range(40)
                ]
                inserter.insert(rows)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    assert RequestLog.objects.count() == 3 * 15 * 40
    assert_rollups_match_the_log()

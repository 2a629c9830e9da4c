"""Usage statistics of the request log, computed in the database.

The API (`/api/stats/`) and the dashboard call `compute_stats()`; its parts
are public too:

- `aggregate_series(rows, bucket, group_by, since=, until=, dimensions=)`:
  per time bucket (and group), requests, errors, tokens and cost. Totals are
  the sums of its points. For the whole log, or the log narrowed to a
  provider, model, subagent or route (`dimensions`), the whole hours of the
  window are read from the hourly and daily rollups (`UsageHour`,
  `UsageDay`, kept by database triggers: thousands of rows where the log has
  a million) and only the minutes outside whole hours from the log itself;
  other filters (`rows`) read the log.
- `window_percentiles(field, since, until)`: exact p50/p95/p99 of latency or
  time to first byte over the whole log in a window; `percentiles(rows,
  field)` over any rows. Both interpolate linearly, like PostgreSQL's
  `percentile_cont`, which computes them there. SQLite has none, so each
  percentile is read with ORDER BY + LIMIT 2 OFFSET k from the nearer end,
  never loading rows.
- `rollup_percentiles(since, until, dimensions)`: the same for a window
  narrowed to a provider, model, subagent or route, from the rollups'
  histograms (`requestlog.histograms`, within one bin); and
  `latency_percentile_series(since, until, bucket)`: per bucket, for charts.

On SQLite the percentiles stay fast at a million rows only with the indexes
of migration 0005 and fresh planner statistics (ANALYZE, which `prunelogs`
and `seedlogs` run). An error is a request whose outcome is a client, upstream or
gateway error (`ERROR_OUTCOMES`); a request the client cancelled counts as
`cancelled`, not as an error.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from django.db import OperationalError, connections
from django.db.models import Count, DecimalField, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, NullIf, TruncDay

from requestlog.histograms import (
    DEFAULT_QUANTILES,
    PERCENTILE_DIGITS,
    Percentiles,
    add_counts,
    bin_of,
    histogram_percentiles,
)
from requestlog.models import (
    HourBucket,
    LatencyDay,
    LatencyHour,
    Outcome,
    RequestLog,
    UsageDay,
    UsageHour,
)

Bucket = Literal["hour", "day"]
BUCKETS: tuple[Bucket, ...] = ("hour", "day")
BUCKET_STEP: dict[str, timedelta] = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
#: Dimensions a breakdown can be grouped by, and the expression for each.
GROUP_BY_CHOICES = ("provider", "model", "subagent", "route")
#: Outcomes counted as errors (a client's cancellation is not one).
ERROR_OUTCOMES = (Outcome.CLIENT_ERROR, Outcome.UPSTREAM_ERROR, Outcome.GATEWAY_ERROR)
#: The most buckets one series may have (about 93 days of hours).
MAX_BUCKETS = 24 * 93
#: The (value, started_at) index `window_percentiles` walks for each column.
PERCENTILE_INDEXES = {"latency_ms": "log_latency_time", "ttfb_ms": "log_ttfb_time"}
#: Sums of cost over many rows need more digits than one row's cost_usd.
COST_SUM_FIELD = DecimalField(max_digits=24, decimal_places=8)
COST_PLACES = Decimal("1e-8")


class DayBucket(TruncDay):
    """The UTC day a time falls in; on SQLite with the native strftime (see HourBucket)."""

    def __init__(self, expression: Any, **extra: Any) -> None:
        extra.setdefault("tzinfo", UTC)
        super().__init__(expression, **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        sql, params = compiler.compile(self.lhs)
        return f"strftime('%%Y-%%m-%%d 00:00:00', {sql})", params


def bucket_expression(column: str, bucket: Bucket) -> Any:
    """The start of the UTC hour or day of a datetime column, computed by the database."""
    return HourBucket(column) if bucket == "hour" else DayBucket(column)


def dimension_filter(dimensions: dict[str, str] | None) -> Q:
    """Exact-match filters on provider, model, subagent and route, for the log or the rollup.

    "model" matches the requested or the served model, like the request filters.
    """
    where = Q()
    for name, value in (dimensions or {}).items():
        if name == "model":
            where &= Q(requested_model=value) | Q(target_model=value)
        elif name in GROUP_BY_CHOICES:
            where &= Q(**{name: value})
        else:
            raise ValueError(f"dimensions are {', '.join(GROUP_BY_CHOICES)}, not {name}")
    return where


def group_expression(group_by: str) -> Any:
    """The value a row is grouped under; "model" is the served model, else the requested one."""
    if group_by == "model":
        return Coalesce(NullIf(F("target_model"), Value("")), F("requested_model"))
    if group_by in GROUP_BY_CHOICES:
        return F(group_by)
    raise ValueError(f"group_by must be one of {', '.join(GROUP_BY_CHOICES)}")


def bucket_start(moment: datetime, bucket: Bucket) -> datetime:
    """The start of the UTC bucket that holds `moment`."""
    moment = moment.astimezone(UTC)
    if bucket == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def bucket_starts(since: datetime, until: datetime, bucket: Bucket) -> list[datetime]:
    """Every bucket start from the one holding `since` to the one before `until`."""
    step = BUCKET_STEP[bucket]
    start = bucket_start(since, bucket)
    starts = []
    while start < until:
        starts.append(start)
        start += step
    return starts


@dataclass
class Counts:
    """Sums over a set of log rows."""

    requests: int = 0
    errors: int = 0
    cancelled: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    #: Rows with a time to first byte (its percentiles' population).
    ttfb_count: int = 0

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def add(self, other: Counts) -> None:
        for name in _COUNT_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Counts:
        """From a row of `count_aggregates()` (sums over no rows are NULL)."""
        cost = row["cost_usd"]
        return cls(
            requests=row["requests"],
            errors=row["errors"],
            cancelled=row["cancelled"],
            input_tokens=row["input_tokens"] or 0,
            output_tokens=row["output_tokens"] or 0,
            cache_read_input_tokens=row["cache_read_input_tokens"] or 0,
            cache_creation_input_tokens=row["cache_creation_input_tokens"] or 0,
            # Each row's cost has 8 places; SQLite sums them as floats.
            cost_usd=Decimal(0) if cost is None else Decimal(cost).quantize(COST_PLACES),
            ttfb_count=row["ttfb_count"],
        )


_COUNT_FIELDS = tuple(f.name for f in fields(Counts))


def count_aggregates() -> dict[str, Any]:
    """The aggregates behind `Counts` over log rows, for `.annotate()` or `.aggregate()`."""
    return {
        "requests": Count("id"),
        "errors": Count("id", filter=Q(outcome__in=ERROR_OUTCOMES)),
        "cancelled": Count("id", filter=Q(outcome=Outcome.CANCELLED)),
        "input_tokens": Sum("input_tokens"),
        "output_tokens": Sum("output_tokens"),
        "cache_read_input_tokens": Sum("cache_read_input_tokens"),
        "cache_creation_input_tokens": Sum("cache_creation_input_tokens"),
        "cost_usd": Sum("cost_usd", output_field=COST_SUM_FIELD),
        "ttfb_count": Count("ttfb_ms"),
    }


def rollup_aggregates() -> dict[str, Any]:
    """The same sums as `count_aggregates`, over `UsageHour` or `UsageDay` rows."""
    summed = {name: Sum(name) for name in _COUNT_FIELDS}
    summed["cost_usd"] = Sum("cost_usd", output_field=COST_SUM_FIELD)
    return summed


@dataclass
class Point:
    """One bucket of a series."""

    start: datetime
    counts: Counts


@dataclass
class Group:
    """One value of the group_by dimension, with its totals and aligned series."""

    key: str
    totals: Counts
    series: list[Point]


@dataclass
class Stats:
    since: datetime
    until: datetime
    bucket: Bucket
    group_by: str | None
    totals: Counts
    latency_ms: Percentiles
    ttfb_ms: Percentiles
    series: list[Point]
    groups: list[Group] = field(default_factory=list)


def in_window(rows: QuerySet[RequestLog], since: datetime, until: datetime) -> QuerySet:
    """Rows started in [since, until)."""
    return rows.filter(started_at__gte=since, started_at__lt=until)


Sums = dict[tuple[datetime, str | None], Counts]


def aggregate_series(
    rows: QuerySet[RequestLog] | None,
    bucket: Bucket,
    group_by: str | None = None,
    *,
    since: datetime,
    until: datetime,
    dimensions: dict[str, str] | None = None,
) -> Sums:
    """Counts per (bucket start, group) for the non-empty buckets of [since, until).

    `rows` narrows the log by filters the rollups cannot answer (None: the
    whole log); `dimensions` by provider, model, subagent or route. Without
    `rows`, the window is read in pieces (`window_pieces`): whole days from
    `UsageDay` (for daily buckets), whole hours from `UsageHour`, and only
    the minutes before the first and after the last whole hour from the log.
    """
    where = dimension_filter(dimensions)
    if rows is not None:
        return log_sums(rows.filter(where), bucket, group_by, since=since, until=until)
    periods = ROLLUP_PERIODS[bucket]
    result: Sums = {}
    for period, start, end in window_pieces(since, until, periods):
        if period is None:
            piece = log_sums(
                RequestLog.objects.filter(where), bucket, group_by, since=start, until=end
            )
        else:
            piece = rollup_sums(period, bucket, group_by, since=start, until=end, where=where)
        _add_sums(result, piece)
    return result


#: The rollups a bucket size can read, coarsest first: an hourly series needs hours.
ROLLUP_PERIODS: dict[str, tuple[Bucket, ...]] = {"hour": ("hour",), "day": ("day", "hour")}
ROLLUP_MODELS = {"hour": UsageHour, "day": UsageDay}


def window_pieces(
    since: datetime, until: datetime, periods: Sequence[Bucket]
) -> list[tuple[Bucket | None, datetime, datetime]]:
    """[since, until) as (period, start, end) pieces: whole periods, coarsest first, then the rest.

    A period of None is a piece to read from the log. For example 10:20 on
    day 1 to 05:40 on day 4, with days and hours: 10:20-11:00 (log),
    11:00-24:00 (hours), days 2-3 (days), 00:00-05:00 (hours), 05:00-05:40 (log).
    """
    if since >= until:
        return []
    if not periods:
        return [(None, since, until)]
    period, finer = periods[0], periods[1:]
    first = bucket_start(since, period)
    if first < since:
        first += BUCKET_STEP[period]
    end = bucket_start(until, period)
    if first >= end:
        return window_pieces(since, until, finer)
    return [
        *window_pieces(since, first, finer),
        (period, first, end),
        *window_pieces(end, until, finer),
    ]


def log_sums(
    rows: QuerySet[RequestLog],
    bucket: Bucket,
    group_by: str | None,
    *,
    since: datetime,
    until: datetime,
) -> Sums:
    """Counts per (bucket, group) of the log rows started in [since, until), summed by the DB."""
    keys = {"bucket_start": bucket_expression("started_at", bucket)}
    if group_by:
        keys["group_key"] = group_expression(group_by)
    query = in_window(rows.order_by(), since, until).annotate(**keys).values(*keys)
    return _collect(query.annotate(**count_aggregates()), bucket)


def rollup_sums(
    period: Bucket,
    bucket: Bucket,
    group_by: str | None,
    *,
    since: datetime,
    until: datetime,
    where: Q | None = None,
) -> Sums:
    """Counts per (bucket, group) of the rollup rows of the `period`s starting in [since, until)."""
    keys = {"bucket_start": bucket_expression("start", bucket)}
    if group_by:
        keys["group_key"] = group_expression(group_by)
    sums = ROLLUP_MODELS[period].objects.filter(start__gte=since, start__lt=until)
    if where:
        sums = sums.filter(where)
    query = sums.order_by().annotate(**keys).values(*keys).annotate(**rollup_aggregates())
    return _collect(query, bucket)


def _collect(query: Iterable[dict[str, Any]], bucket: Bucket) -> Sums:
    result: Sums = {}
    for row in query:
        key = (bucket_start(row["bucket_start"], bucket), row.get("group_key"))
        result.setdefault(key, Counts()).add(Counts.from_row(row))
    return result


def _add_sums(into: Sums, more: Sums) -> None:
    for key, counts in more.items():
        into.setdefault(key, Counts()).add(counts)


def percentiles(
    rows: QuerySet[RequestLog],
    field_name: str,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    *,
    count: int | None = None,
) -> Percentiles:
    """Percentiles of a numeric column over any `rows`, ignoring nulls, interpolated linearly.

    `count` (the number of non-null values) saves a COUNT query when the
    caller knows it already. For all rows of a time window, `window_percentiles`
    is much faster on SQLite.
    """
    values = rows.order_by().filter(**{f"{field_name}__isnull": False})
    if connections[rows.db].vendor == "postgresql":
        return _postgres_percentiles(values, field_name, quantiles)
    if count is None:
        count = values.count()
    column = values.values_list(field_name, flat=True)

    def read_pair(offset: int, descending: bool) -> list[float]:
        ordered = column.order_by(f"-{field_name}" if descending else field_name)
        return list(ordered[offset : offset + 2])

    return Percentiles({q: _offset_percentile(read_pair, q, count) for q in quantiles})


def window_percentiles(
    field_name: str,
    since: datetime,
    until: datetime,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    *,
    count: int | None = None,
    using: str = "default",
) -> Percentiles:
    """Percentiles of `latency_ms` or `ttfb_ms` over every row started in [since, until).

    Each value is read by walking the (value, started_at) index from the
    nearer end and skipping rows outside the window (SQLite skip-scans it once
    ANALYZE has run; it is told which index to use): a few ms to a few tens of
    ms per percentile whatever the window. Sorting the window instead, as
    letting SQLite's planner choose or PostgreSQL's percentile_cont do, takes
    0.1-0.2 s per column for a month of a million rows. Without the index (a
    SQLite database not migrated yet) it falls back to `percentiles()`.
    """
    index = PERCENTILE_INDEXES[field_name]
    rows = in_window(RequestLog.objects.using(using).all(), since, until)
    connection = connections[using]
    if count is None:
        count = rows.filter(**{f"{field_name}__isnull": False}).count()
    quote = connection.ops.quote_name
    column = quote(field_name)
    hint = f"INDEXED BY {quote(index)} " if connection.vendor == "sqlite" else ""
    sql = (
        f"SELECT {column} FROM {quote(RequestLog._meta.db_table)} {hint}"
        f"WHERE {quote('started_at')} >= %s AND {quote('started_at')} < %s "
        f"AND {column} IS NOT NULL ORDER BY {column} {{direction}} LIMIT 2 OFFSET %s"
    )
    bounds = [
        connection.ops.adapt_datetimefield_value(since),
        connection.ops.adapt_datetimefield_value(until),
    ]

    def read_pair(offset: int, descending: bool) -> list[float]:
        with connection.cursor() as cursor:
            cursor.execute(sql.format(direction="DESC" if descending else "ASC"), [*bounds, offset])
            return [row[0] for row in cursor.fetchall()]

    try:
        return Percentiles({q: _offset_percentile(read_pair, q, count) for q in quantiles})
    except OperationalError as exc:
        if "no such index" not in str(exc):
            raise
        return percentiles(rows, field_name, quantiles, count=count)


def _postgres_percentiles(
    values: QuerySet[RequestLog], field_name: str, quantiles: Sequence[float]
) -> Percentiles:
    connection = connections[values.db]
    column = connection.ops.quote_name(field_name)
    inner_sql, inner_params = values.values(field_name).query.sql_with_params()
    sql = (
        f"SELECT percentile_cont(%s::double precision[]) WITHIN GROUP (ORDER BY sub.{column}) "
        f"FROM ({inner_sql}) AS sub"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(quantiles), *inner_params])
        (result,) = cursor.fetchone()
    found = (
        [None] * len(quantiles)
        if result is None
        else [round(float(v), PERCENTILE_DIGITS) for v in result]
    )
    return Percentiles(dict(zip(quantiles, found, strict=True)))


def _offset_percentile(
    read_pair: Callable[[int, bool], list[float]], quantile: float, count: int
) -> float | None:
    """percentile_cont from the two values around its position, read from the nearer end.

    `read_pair(offset, descending)` returns the (up to) two values at `offset`
    in ascending or descending order.
    """
    if count == 0:
        return None
    position = quantile * (count - 1)
    low = math.floor(position)
    high = min(low + 1, count - 1)
    if low < count / 2:
        pair = read_pair(low, False)
        low_value, high_value = pair[0], pair[-1] if high > low else pair[0]
    else:
        pair = read_pair(count - 1 - high, True)
        high_value, low_value = pair[0], pair[-1] if high > low else pair[0]
    return round(float(low_value + (high_value - low_value) * (position - low)), PERCENTILE_DIGITS)


def compute_stats(
    rows: QuerySet[RequestLog] | None = None,
    *,
    since: datetime,
    until: datetime,
    bucket: Bucket = "hour",
    group_by: str | None = None,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    dimensions: dict[str, str] | None = None,
) -> Stats:
    """Totals, a zero-filled series, percentiles and an optional breakdown for [since, until).

    `rows` narrows the log by filters the rollup cannot answer (default: all
    rows); `dimensions` by exact provider, model, subagent or route.
    Raises ValueError for an unknown bucket or group_by, or too many buckets.
    """
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {', '.join(BUCKETS)}")
    starts = bucket_starts(since, until, bucket)
    if len(starts) > MAX_BUCKETS:
        raise ValueError(f"at most {MAX_BUCKETS} buckets; use a shorter range or bucket=day")
    if group_by is not None:
        group_expression(group_by)  # validates
    by_key = aggregate_series(
        rows, bucket, group_by, since=since, until=until, dimensions=dimensions
    )
    series = _fill(starts, _merge_groups(by_key))
    totals = _sum(point.counts for point in series)
    groups = []
    if group_by:
        for key in sorted({key for _, key in by_key}, key=lambda k: (k is None, k or "")):
            group_series = _fill(starts, {s: c for (s, k), c in by_key.items() if k == key})
            groups.append(
                Group(
                    key=key or "",
                    totals=_sum(point.counts for point in group_series),
                    series=group_series,
                )
            )
        groups.sort(key=lambda group: -group.totals.requests)

    if rows is not None:  # filters only the log can answer: exact, read from the rows
        window = in_window(rows.filter(dimension_filter(dimensions)), since, until)
        latency_ms = percentiles(window, "latency_ms", quantiles, count=totals.requests)
        ttfb_ms = percentiles(window, "ttfb_ms", quantiles, count=totals.ttfb_count)
    elif dimensions:  # one provider, model, ...: from the rollups' histograms
        latency_ms, ttfb_ms = rollup_percentiles(since, until, dimensions, quantiles)
    else:  # the whole log: exact, each value found by walking an index
        latency_ms, ttfb_ms = (
            window_percentiles(name, since, until, quantiles, count=count)
            for name, count in (("latency_ms", totals.requests), ("ttfb_ms", totals.ttfb_count))
        )
    return Stats(
        since=since,
        until=until,
        bucket=bucket,
        group_by=group_by,
        totals=totals,
        latency_ms=latency_ms,
        ttfb_ms=ttfb_ms,
        series=series,
        groups=groups,
    )


def latency_percentile_series(
    since: datetime,
    until: datetime,
    bucket: Bucket,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
) -> dict[datetime, Percentiles]:
    """Latency percentiles per bucket of [since, until), for non-empty buckets.

    Reads `LatencyHour` for hourly buckets and `LatencyDay` for daily ones, in
    one query; a bucket counts whole (give bucket-aligned windows).
    """
    model = LatencyHour if bucket == "hour" else LatencyDay
    rows = model.objects.filter(start__gte=bucket_start(since, bucket), start__lt=until)
    histograms: dict[datetime, dict[int, int]] = {}
    for start, index, count in rows.order_by().values_list("start", "bin", "count"):
        histograms.setdefault(start, {})[index] = count
    return {
        start: histogram_percentiles(histogram, quantiles)
        for start, histogram in histograms.items()
    }


def rollup_percentiles(
    since: datetime,
    until: datetime,
    dimensions: dict[str, str] | None,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
) -> tuple[Percentiles, Percentiles]:
    """Latency and TTFB percentiles of a narrowed window, from the rollups' histograms.

    Whole days and hours add up the `latency_bins` and `ttfb_bins` of their
    `UsageDay` / `UsageHour` rows that match `dimensions`; the minutes outside
    whole hours bin the log rows' values here.
    """
    where = dimension_filter(dimensions)
    latency: dict[int, int] = {}
    ttfb: dict[int, int] = {}
    for period, start, end in window_pieces(since, until, ("day", "hour")):
        if period is None:
            rows = in_window(RequestLog.objects.filter(where), start, end)
            for latency_ms, ttfb_ms in rows.order_by().values_list("latency_ms", "ttfb_ms"):
                add_counts(latency, {bin_of(latency_ms): 1})
                if ttfb_ms is not None:
                    add_counts(ttfb, {bin_of(ttfb_ms): 1})
            continue
        sums = ROLLUP_MODELS[period].objects.filter(where, start__gte=start, start__lt=end)
        for latency_bins, ttfb_bins in sums.order_by().values_list("latency_bins", "ttfb_bins"):
            add_counts(latency, latency_bins)
            add_counts(ttfb, ttfb_bins)
    return histogram_percentiles(latency, quantiles), histogram_percentiles(ttfb, quantiles)


def _merge_groups(
    by_key: dict[tuple[datetime, str | None], Counts],
) -> dict[datetime, Counts]:
    merged: dict[datetime, Counts] = {}
    for (start, _), counts in by_key.items():
        merged.setdefault(start, Counts()).add(counts)
    return merged


def _fill(starts: list[datetime], by_start: dict[datetime, Counts]) -> list[Point]:
    return [Point(start=start, counts=by_start.get(start) or Counts()) for start in starts]


def _sum(counts: Iterable[Counts]) -> Counts:
    total = Counts()
    for item in counts:
        total.add(item)
    return total
